"""Evaluation sets: held-out split, consumer questions judged by focus, uploaded CSVs.

The small corpus below is written for these tests (plain made-up sentences), not taken from MedQuAD.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.data import store
from medqa.errors import EvaluationError
from medqa.evaluation import sets

#: (id, focus, qtype, question, answer, split)
ROWS = [
    ("a-1", "Gout", "information", "What is gout ?", "Gout is a painful swelling of a joint.", "train"),
    (
        "a-2",
        "Gout",
        "treatment",
        "How is gout treated ?",
        "Rest, ice and medicine calm a gout attack.",
        "test",
    ),
    ("a-3", "Gout", "causes", "What causes gout ?", "Too much uric acid in the blood.", "train"),
    ("b-1", "Asthma", "information", "What is asthma ?", "Asthma narrows the airways.", "train"),
    ("b-2", "Asthma", "symptoms", "What are the symptoms of asthma ?", "Wheezing and a tight chest.", "test"),
    # b-3 repeats a-2's answer word for word under another focus: both count as correct for a-2.
    (
        "b-3",
        "Asthma",
        "treatment",
        "How is asthma treated ?",
        "Rest, ice and medicine calm a gout attack.",
        "train",
    ),
    (
        "c-1",
        "Shingles",
        "information",
        "What is shingles ?",
        "A rash caused by an old virus waking up.",
        "train",
    ),
    (
        "c-2",
        "Shingles",
        "symptoms",
        "What are the signs of shingles ?",
        "A band of blisters on one side.",
        "test",
    ),
]


def make_pairs(rows: list[tuple[str, ...]] = ROWS) -> pd.DataFrame:
    """A pairs table in the shared schema from short tuples."""
    table = pd.DataFrame(rows, columns=[col.ID, col.FOCUS, col.QTYPE, col.QUESTION, col.ANSWER, col.SPLIT])
    for column in col.TEXT_COLUMNS:
        if column not in table:
            table[column] = ""
    table[col.SOURCE] = "test"
    table[col.HAS_ANSWER] = True
    return table[[*col.PAIR_COLUMNS, col.SPLIT]]


@pytest.fixture
def corpus() -> pd.DataFrame:
    return make_pairs()


def test_heldout_queries_are_the_test_split_with_duplicate_answers(corpus: pd.DataFrame) -> None:
    evaluation = sets.heldout("mine", corpus=corpus)
    assert evaluation.query_ids == ("a-2", "b-2", "c-2")
    assert evaluation.queries[1] == "What are the symptoms of asthma ?"
    assert evaluation.relevant == (frozenset({"a-2", "b-3"}), frozenset({"b-2"}), frozenset({"c-2"}))
    assert evaluation.focus == ("Gout", "Asthma", "Shingles")
    assert evaluation.qtype == ("treatment", "symptoms", "symptoms")
    assert evaluation.judged_by == sets.JUDGED_BY_ANSWER
    assert evaluation.label == "Held-out questions (3)"
    assert any("word for word" in note for note in evaluation.notes)


def test_heldout_over_a_bigger_corpus_finds_pairs_by_id(corpus: pd.DataFrame) -> None:
    """The full corpus has no split column: queries come from curated, relevant ids from full."""
    full = make_pairs(
        [*ROWS, ("d-1", "Acne", "information", "What is acne ?", "Blocked pores in the skin.", "")]
    ).drop(columns=col.SPLIT)
    evaluation = sets.heldout("full", corpus=full, queries_from=corpus)
    assert evaluation.query_ids == ("a-2", "b-2", "c-2")
    assert evaluation.relevant[0] == {"a-2", "b-3"}


def test_heldout_keeps_a_pair_found_by_id_when_its_text_changed(corpus: pd.DataFrame) -> None:
    full = corpus.drop(columns=col.SPLIT).copy()
    full.loc[full[col.ID] == "c-2", col.ANSWER] = "A band of blisters, reworded in a newer release."
    evaluation = sets.heldout("full", corpus=full, queries_from=corpus)
    assert evaluation.relevant[2] == {"c-2"}


def test_heldout_drops_queries_whose_answer_is_not_in_the_corpus(corpus: pd.DataFrame) -> None:
    smaller = corpus[corpus[col.ID] != "c-2"].drop(columns=col.SPLIT)
    evaluation = sets.heldout("small", corpus=smaller, queries_from=corpus)
    assert evaluation.query_ids == ("a-2", "b-2")
    assert any("1 queries were left out" in note for note in evaluation.notes)


def test_heldout_without_a_test_split_is_a_clear_error(corpus: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="no held-out"):
        sets.heldout("mine", corpus=corpus, queries_from=corpus.assign(split="train"))


def test_heldout_with_no_matching_answer_is_a_clear_error(corpus: pd.DataFrame) -> None:
    other = make_pairs([("z-1", "Acne", "information", "What is acne ?", "Blocked pores.", "train")])
    with pytest.raises(EvaluationError, match=r"No query .* has a correct answer in corpus 'other'"):
        sets.heldout("other", corpus=other.drop(columns=col.SPLIT), queries_from=corpus)


def test_heldout_loads_stored_datasets(workdirs: Path, corpus: pd.DataFrame) -> None:
    store.save_dataset(corpus, "curated", kind="curated", origin="test")
    evaluation = sets.heldout("curated")
    assert len(evaluation) == 3
    assert evaluation.corpus_name == "curated"


def test_consumer_is_judged_by_expected_focus_ignoring_case(
    corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = pd.DataFrame(
        {
            "question": ["my big toe is red and hot", "cant stop wheezing at night", "itchy eyes in spring"],
            "expected_focus": [["GOUT"], ["asthma", "Shingles"], ["Hay Fever"]],
            "qtype_hint": ["symptoms", "symptoms", "treatment"],
        }
    )
    monkeypatch.setattr("medqa.consumer_questions.load_consumer_questions", lambda split=None: questions)
    evaluation = sets.consumer("mine", corpus=corpus)
    assert evaluation.query_ids == ("consumer-001", "consumer-002")  # hay fever has no pair: dropped
    assert evaluation.relevant[0] == {"a-1", "a-2", "a-3"}
    assert evaluation.relevant[1] == {"b-1", "b-2", "b-3", "c-1", "c-2"}
    assert evaluation.focus == ("GOUT", "asthma")
    assert evaluation.qtype == ("symptoms", "symptoms")
    assert evaluation.judged_by == sets.JUDGED_BY_FOCUS
    assert any("1 queries were left out" in note for note in evaluation.notes)


def test_consumer_uses_the_shipped_questions(corpus: pd.DataFrame) -> None:
    from medqa.consumer_questions import load_consumer_questions

    shipped = load_consumer_questions()
    gout_rows = shipped["expected_focus"].map(lambda names: "gout" in [n.casefold() for n in names])
    if not gout_rows.any():
        pytest.skip("the shipped set has no gout question")
    evaluation = sets.consumer("mine", corpus=corpus)
    assert all(
        relevant <= {"a-1", "a-2", "a-3", "b-1", "b-2", "b-3", "c-1", "c-2"}
        for relevant in evaluation.relevant
    )
    assert len(evaluation) >= int(gout_rows.sum())


def test_fingerprint_changes_with_relevance_and_is_stable(corpus: pd.DataFrame) -> None:
    first = sets.heldout("mine", corpus=corpus)
    again = sets.heldout("mine", corpus=corpus)
    assert first.fingerprint() == again.fingerprint()
    fewer = sets.heldout("mine", corpus=corpus[corpus[col.ID] != "b-3"])
    assert fewer.fingerprint() != first.fingerprint()


def test_set_table_lists_queries(corpus: pd.DataFrame) -> None:
    table = sets.heldout("mine", corpus=corpus).table()
    assert list(table.columns) == ["query_id", "query", "focus", "qtype", "relevant"]
    assert table["relevant"].tolist() == [2, 1, 1]


def test_csv_with_answers_matches_exact_then_normalised_text(corpus: pd.DataFrame) -> None:
    data = (
        b"query,relevant_answer\n"
        b'"my toe hurts, what helps?","Rest, ice and medicine calm a gout attack."\n'
        b"is wheezing asthma,WHEEZING and a tight   chest\n"
        b"what is eczema,Dry itchy skin that is not in the corpus.\n"
    )
    evaluation = sets.from_csv(data, "mine", corpus=corpus, file_name="mine.csv")
    assert evaluation.query_ids == ("row-1", "row-2")
    assert evaluation.relevant == (frozenset({"a-2", "b-3"}), frozenset({"b-2"}))
    assert evaluation.focus == ("Gout", "Asthma")  # from the matched answer
    assert evaluation.judged_by == sets.JUDGED_BY_ANSWER
    assert evaluation.label == "Uploaded: mine.csv (2)"
    notes = " ".join(evaluation.notes)
    assert "1 answers matched the corpus only after ignoring case" in notes
    assert "1 queries were left out" in notes


def test_csv_with_focus_column_is_judged_by_focus(corpus: pd.DataFrame) -> None:
    data = b"Question;Focus;qtype\nred swollen toe;gout;symptoms\nrash on one side;Shingles | Acne;symptoms\n"
    evaluation = sets.from_csv(data, "mine", corpus=corpus)
    assert evaluation.relevant == (frozenset({"a-1", "a-2", "a-3"}), frozenset({"c-1", "c-2"}))
    assert evaluation.qtype == ("symptoms", "symptoms")
    assert evaluation.judged_by == sets.JUDGED_BY_FOCUS


def test_csv_with_answer_and_focus_groups_by_the_given_focus(corpus: pd.DataFrame) -> None:
    data = b"query,answer,focus\nwheeze,Wheezing and a tight chest.,Breathing\n"
    evaluation = sets.from_csv(data, "mine", corpus=corpus)
    assert evaluation.focus == ("Breathing",)
    assert evaluation.judged_by == sets.JUDGED_BY_ANSWER


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00q\x00", "binary"),
        ("query,answer\ncaf\u00e9,x\n".encode("latin-1"), "not UTF-8"),
        (b"query,answer\n", "no rows"),
        (b"query,notes\nhello,world\n", "no 'answer' or 'focus' column"),
        (b"notes,answer\nhello,world\n", "no query column"),
        (b"query,answer\n ,x\n", "no row has both a query and an answer"),
        (b"query,answer\nhello,nothing like this is in the corpus\n", "No query .* has a correct answer"),
        (b"query,focus\nhello,Made-up Area\n", "No query .* has a correct answer"),
    ],
)
def test_bad_csv_files_raise_clear_errors(corpus: pd.DataFrame, data: bytes, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        sets.from_csv(data, "mine", corpus=corpus, file_name="bad.csv")


def test_csv_column_named_by_the_user_must_exist(corpus: pd.DataFrame) -> None:
    with pytest.raises(EvaluationError, match="Column 'missing'"):
        sets.from_csv(b"query,answer\nq,a\n", "mine", corpus=corpus, answer_column="missing")


def test_normalise_text_ignores_case_punctuation_and_spacing() -> None:
    assert sets.normalise_text("  Rest, ICE and\tmedicine! ") == sets.normalise_text("rest ice and medicine")


def test_set_rejects_inconsistent_input() -> None:
    with pytest.raises(EvaluationError, match="unique"):
        sets.EvaluationSet(
            name="x", label="x", corpus_name="c", query_ids=("q", "q"), queries=("a", "b"),
            relevant=(frozenset({"1"}), frozenset({"2"})), focus=("f", "f"), qtype=("", ""),
            judged_by=sets.JUDGED_BY_ANSWER,
        )  # fmt: skip
    with pytest.raises(EvaluationError, match="at least one relevant"):
        sets.EvaluationSet(
            name="x", label="x", corpus_name="c", query_ids=("q",), queries=("a",), relevant=(frozenset(),),
            focus=("f",), qtype=("",), judged_by=sets.JUDGED_BY_ANSWER,
        )  # fmt: skip


def test_consumer_halves_are_disjoint_and_make_up_the_whole(corpus: pd.DataFrame) -> None:
    whole = sets.load_set(sets.CONSUMER, "mine", corpus=corpus)
    dev = sets.load_set(sets.CONSUMER_DEV, "mine", corpus=corpus)
    test = sets.load_set(sets.CONSUMER_TEST, "mine", corpus=corpus)
    assert not set(dev.query_ids) & set(test.query_ids)
    assert set(dev.query_ids) | set(test.query_ids) == set(whole.query_ids)
    assert (whole.name, dev.name, test.name) == ("consumer", "consumer-dev", "consumer-test")
    assert dev.label.startswith("Consumer questions, dev half")
    assert dev.fingerprint() != test.fingerprint()


def test_load_set_by_name(corpus: pd.DataFrame) -> None:
    assert sets.load_set(sets.HELDOUT, "mine", corpus=corpus).name == sets.HELDOUT
    assert sets.default_corpus(sets.HELDOUT) == store.CURATED
    assert sets.default_corpus(sets.CONSUMER_TEST) == store.FULL
    # The Compare page starts with the fast set: consumer questions in Ask's index of the full corpus.
    assert sets.default_set(store.FULL) == sets.CONSUMER
    assert sets.default_set(store.CURATED) == sets.default_set("my-upload") == sets.HELDOUT
    with pytest.raises(EvaluationError, match="Unknown evaluation set 'consumer-train'"):
        sets.load_set("consumer-train", "mine", corpus=corpus)
    with pytest.raises(EvaluationError, match="split must be"):
        sets.consumer("mine", corpus=corpus, split="train")
