from __future__ import annotations

import pytest

from medqa.data import schema as col
from medqa.data.upload import MAX_ROWS, UNASSIGNED_FOCUS, guess_columns, import_csv
from medqa.errors import CSVImportError

GOOD = (
    "Question,Answer\n"
    "what is (are) glaucoma ?,Glaucoma harms the nerve at the back of the eye.\n"
    "what are the symptoms of glaucoma ?,Often none at first; side vision fades slowly.\n"
    "how to prevent glaucoma ?,Regular eye exams catch it early.\n"
    "what causes gout ?,Too much uric acid in the blood.\n"
    "what are the treatments for gout ?,Medicines that calm the joint and lower uric acid.\n"
    "is gout inherited ?,It can run in families.\n"
    "how do I bake bread?,Mix flour and water and bake it.\n"
)


def test_good_csv_with_inferred_focus() -> None:
    imported = import_csv(GOOD.encode())
    pairs, report = imported.pairs, imported.report
    assert report.rows_read == report.rows_kept == 7
    assert report.focus_inferred
    assert set(pairs[col.FOCUS]) == {"glaucoma", "gout", UNASSIGNED_FOCUS}
    assert report.unassigned == 1
    assert pairs.loc[pairs[col.QUESTION] == "what causes gout ?", col.QTYPE].item() == "causes"
    assert pairs[col.ID].is_unique
    assert set(pairs[col.SPLIT]) <= {col.TRAIN, col.TEST}
    # Areas with 3 rows hold one out; the single unassigned row stays in training.
    assert pairs.groupby(col.FOCUS)[col.SPLIT].apply(lambda s: (s == col.TEST).sum()).to_dict() == {
        "glaucoma": 1,
        "gout": 1,
        UNASSIGNED_FOCUS: 0,
    }


def test_explicit_columns_and_focus_column() -> None:
    data = "topic;q;a;extra\nGout;What is gout?;A kind of arthritis.;x\nGout;Why me?;Uric acid.;y\n"
    imported = import_csv(data.encode(), question_column="q", answer_column="a", focus_column="topic")
    assert list(imported.pairs[col.FOCUS]) == ["Gout", "Gout"]
    assert not imported.report.focus_inferred


def test_guess_columns_is_case_insensitive() -> None:
    assert guess_columns(["QUESTION ", "Answer", "Category"]) == {
        "question": "QUESTION ",
        "answer": "Answer",
        "focus": "Category",
    }


def test_nans_and_duplicates_are_dropped_and_reported() -> None:
    data = "Question,Answer\nq1,a1\nq1,a1\nq2,\n,a3\nq4,a4\n"
    imported = import_csv(data.encode())
    assert imported.report.rows_kept == 2
    assert imported.report.dropped_empty == 2
    assert imported.report.dropped_duplicates == 1
    assert any("duplicate" in note for note in imported.report.notes)


def test_markup_is_kept_as_text() -> None:
    data = 'Question,Answer\n"<script>alert(1)</script>","<b>bold</b> &amp; =HYPERLINK(""x"")"\n'
    imported = import_csv(data.encode())
    assert imported.pairs[col.QUESTION].item() == "<script>alert(1)</script>"
    assert imported.pairs[col.ANSWER].item() == '<b>bold</b> &amp; =HYPERLINK("x")'


def test_utf8_bom_and_non_ascii_text() -> None:
    data = "\ufeffQuestion,Answer\nQu'est-ce que la goutte ?,Une arthrite — très douloureuse.\n"
    imported = import_csv(data.encode("utf-8"))
    assert imported.pairs[col.ANSWER].item() == "Une arthrite — très douloureuse."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"Question,Answer\n", "header but no rows"),
        (b"Name,Age\nAnn,3\n", "No question column found. The columns are: Name, Age"),
        (b"Question,Reply\nq,a\n", "No answer column found"),
        ("Question,Answer\nq,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Question,Answer\n,\n , \n", "No row has both"),
        (b'Question,Answer\n"unclosed,a\n', "not a well-formed CSV"),
    ],
)
def test_bad_files_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(CSVImportError, match=message):
        import_csv(data)


def test_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(CSVImportError, match=r"is 2\.1 MB; the largest accepted is 1 MB"):
        import_csv(b"Question,Answer\n" + b"q,a\n" * 525_000, max_bytes=1_000_000)


def test_too_many_rows_is_refused() -> None:
    rows = "".join(f"q{i},a{i}\n" for i in range(MAX_ROWS + 1))
    with pytest.raises(CSVImportError, match="rows; the largest accepted is"):
        import_csv(("Question,Answer\n" + rows).encode())


def test_mapping_errors() -> None:
    with pytest.raises(CSVImportError, match="must be different"):
        import_csv(b"Question,Answer\nq,a\n", question_column="Question", answer_column="Question")
    with pytest.raises(CSVImportError, match="'Nope' is not in the file"):
        import_csv(b"Question,Answer\nq,a\n", focus_column="Nope")
