from __future__ import annotations

import pandas as pd

from medqa.data import schema as col
from medqa.data import stats


def _table() -> pd.DataFrame:
    rows = [
        ("a1", "GARD", "Gout", "causes", "What causes Gout ?", "Uric acid.", True),
        (
            "a2",
            "GARD",
            "Gout",
            "treatment",
            "What are the treatments for Gout ?",
            "Medicine <b>and</b> rest.",
            True,
        ),
        (
            "a3",
            "GARD",
            "Gout",
            "treatment",
            "What are the treatments for Gout ?",
            "Medicine <b>and</b> rest.",
            True,
        ),
        (
            "b1",
            "NIDDK",
            "Diabetes",
            "symptoms",
            "why am I always thirsty",
            "High blood sugar can do that.",
            True,
        ),
        ("c1", "ADAM", "Cough", "information", "What is (are) Cough ?", "", False),
    ]
    table = pd.DataFrame(
        rows, columns=[col.ID, col.SOURCE, col.FOCUS, col.QTYPE, col.QUESTION, col.ANSWER, col.HAS_ANSWER]
    )
    table[col.SPLIT] = [col.TRAIN, col.TEST, col.TRAIN, col.TRAIN, col.TRAIN]
    return table


def test_summary_counts() -> None:
    summary = stats.summarise(_table())
    assert (summary.pairs, summary.answered, summary.unanswered) == (5, 4, 1)
    assert (summary.focus_areas, summary.question_types, summary.sources) == (2, 3, 3)
    assert (summary.pairs_per_focus_min, summary.pairs_per_focus_median, summary.pairs_per_focus_max) == (
        1,
        2.0,
        3,
    )


def test_focus_and_split_counts() -> None:
    assert stats.focus_counts(_table()).values.tolist() == [["Gout", 3], ["Diabetes", 1]]
    splits = stats.split_counts(_table()).set_index([col.FOCUS, col.SPLIT])["pairs"].to_dict()
    assert splits == {("Diabetes", col.TRAIN): 1, ("Gout", col.TEST): 1, ("Gout", col.TRAIN): 2}


def test_qtype_matrix_and_sources() -> None:
    matrix = stats.qtype_by_focus(_table())
    assert matrix.loc["Gout", "treatment"] == 2
    assert matrix.loc["Diabetes", "symptoms"] == 1
    sources = stats.source_breakdown(_table()).set_index(col.SOURCE)
    assert sources.loc["ADAM"].tolist() == [0, 1]
    assert sources.loc["GARD"].tolist() == [3, 0]


def test_quality_report_counts() -> None:
    report = stats.quality_report(_table()).set_index("check")["rows"]
    assert report["pairs without an answer"] == 1
    assert report["repeated question text"] == 1
    assert report["repeated question-answer pairs"] == 1
    assert report["questions written from a MedQuAD template"] == 3
    assert report["answers containing markup (<, >)"] == 2
    assert report["answers under 40 characters"] == 4


def test_answer_lengths_and_filter() -> None:
    lengths = stats.answer_lengths(_table())
    assert lengths["words"].tolist() == [2, 3, 3, 6]
    assert stats.filter_pairs(_table(), text="THIRSTY")[col.ID].tolist() == ["b1"]
    assert stats.filter_pairs(_table(), focus=["Gout"], qtypes=["causes"])[col.ID].tolist() == ["a1"]
    assert len(stats.filter_pairs(_table(), text="  ")) == 5


def test_curated_vs_full_matches_areas_ignoring_case() -> None:
    curated = _table()[_table()[col.HAS_ANSWER]].head(2)
    full = _table().assign(**{col.FOCUS: ["gout", "GOUT", "Gout", "Diabetes", "Cough"]})
    counts = stats.curated_vs_full(curated, full).set_index(["dataset"])["pairs"].to_dict()
    assert counts == {"curated": 2, "full MedQuAD": 3}
