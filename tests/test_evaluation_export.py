"""Export of evaluation results: CSV with formula cells neutralised, JSON, and the text report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from medqa.evaluation import export, runner, sets
from tests.test_evaluation_runner import ROWS, FakeRankers, fake  # noqa: F401 (fixture)
from tests.test_evaluation_sets import make_pairs


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("What is gout?", "What is gout?"),
        ("a=b", "a=b"),
        ("", ""),
        (-0.25, -0.25),
        (3, 3),
        (None, None),
    ],
)
def test_neutralise_cell(cell: object, expected: object) -> None:
    assert export.neutralise_cell(cell) == expected


def _read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_frame_to_csv_neutralises_text_cells_and_headers_but_not_numbers() -> None:
    table = pd.DataFrame(
        {
            "query": ["=cmd|' /C calc'!A0", "plain question", "@risk", "-negative text"],
            "difference": [-0.5, 0.25, 0.0, -1.0],
            "=header": ["+x", "y", "\tz", "w"],
        }
    )
    rows = _read_csv(export.frame_to_csv(table))
    assert rows[0] == ["query", "difference", "'=header"]
    assert [row[0] for row in rows[1:]] == [
        "'=cmd|' /C calc'!A0",
        "plain question",
        "'@risk",
        "'-negative text",
    ]
    assert [row[1] for row in rows[1:]] == ["-0.5", "0.25", "0.0", "-1.0"]
    assert [row[2] for row in rows[1:]] == ["'+x", "y", "'\tz", "w"]
    assert table.loc[0, "query"].startswith("=")  # the caller's table is left unchanged


def test_no_exported_text_cell_starts_a_formula(fake: type[FakeRankers], workdirs: Path) -> None:  # noqa: F811
    corpus = make_pairs(
        [
            ("x-1", "=Danger", "information", "=1+1 ?", "@SUM(A1) is not an answer", "test"),
            ("x-2", "Gout", "treatment", "+how ?", "-rest and ice", "test"),
        ]
    )
    evaluation = sets.heldout("mine", corpus=corpus)
    fake.plans = {"sys-a": [[0, 1], [0]], "sys-b": [[1], [1]]}
    result = runner.evaluate(["sys-a", "sys-b"], evaluation, corpus=corpus, n_resamples=100)
    for data in (export.per_query_csv(result), export.summary_csv(result)):
        rows = _read_csv(data)
        cells = [cell for row in rows for cell in row]
        for cell in cells:
            if cell.startswith(export.FORMULA_PREFIXES):
                float(cell)  # only numbers may start with "-"
    per_query = _read_csv(export.per_query_csv(result))
    header = per_query[0]
    answers = [row[header.index("top1_answer")] for row in per_query[1:]]
    assert "'@SUM(A1) is not an answer" in answers and "'-rest and ice" in answers


def test_json_holds_everything_and_parses(fake: type[FakeRankers], workdirs: Path) -> None:  # noqa: F811
    corpus = make_pairs(ROWS)
    evaluation = sets.heldout("mine", corpus=corpus)
    fake.plans = {"sys-a": [[1], [0, 4], [0]], "sys-b": [[1], [4], [7]]}
    result = runner.evaluate(["sys-a", "sys-b"], evaluation, corpus=corpus, n_resamples=100)
    payload = json.loads(export.result_to_json(result))
    assert payload["evaluation_set"]["queries"] == 3
    assert payload["evaluation_set"]["judged_by"] == "answer"
    assert payload["corpus"]["name"] == "mine"
    assert [system["label"] for system in payload["systems"]] == ["sys-a", "sys-b"]
    assert payload["summary"][1]["mrr@10"] == pytest.approx(1.0)
    assert payload["comparisons"][0]["metric"] == "mrr@10"
    assert "verdict" in payload["comparisons"][0] and "significant" in payload["comparisons"][0]
    assert len(payload["per_query"]) == 6
    assert payload["per_query"][2]["first_relevant_rank"] is None  # a miss: null, not NaN
    assert {row["group"] for row in payload["per_focus"]} == {"Gout", "Asthma", "Shingles"}
    assert payload["per_qtype"]


def test_summary_text_has_table_cis_and_verdicts(fake: type[FakeRankers], workdirs: Path) -> None:  # noqa: F811
    corpus = make_pairs(ROWS)
    evaluation = sets.heldout("mine", corpus=corpus)
    fake.plans = {"sys-a": [[1], [0, 4], [0]], "sys-b": [[1], [4], [7]]}
    result = runner.evaluate(["sys-a", "sys-b"], evaluation, corpus=corpus, n_resamples=100)
    text = export.summary_text(result)
    assert "Held-out questions (3)" in text
    assert "MRR@10" in text and "Accuracy@3" in text
    assert "0.500 [" in text  # mean with its CI
    assert "compared with sys-a" in text
    assert text.count("  - ") == 2
