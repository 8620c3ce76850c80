"""Import a user's question-answer CSV (the AutoTrain workflow: upload, map columns, go).

Every problem with a file becomes a :class:`~medqa.errors.CSVImportError` whose message names it, and
nothing is written until the whole file has been read and checked.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from medqa import settings
from medqa.data import schema as col
from medqa.data.templates import match_template, normalise_focus
from medqa.errors import CSVImportError

MAX_ROWS = 50_000
#: Most columns accepted. A question-answer CSV has two or three; a 200,000-column file once produced a
#: 1.3 MB error message listing them all.
MAX_COLUMNS = 200
#: Column names quoted in a message, at most (the rest are counted).
_NAMES_SHOWN = 12
UNASSIGNED_FOCUS = "(unassigned)"
UPLOAD_SOURCE = "upload"

_QUESTION_NAMES = ("question", "questions", "query", "prompt", "q", "input", "text1", "sentence1", "anchor")
_ANSWER_NAMES = ("answer", "answers", "response", "a", "output", "target", "text2", "sentence2", "positive")
_FOCUS_NAMES = ("focus", "focus_area", "category", "topic", "condition", "disease")


@dataclass(frozen=True)
class ImportReport:
    """What an import kept and dropped, for the user to read."""

    rows_read: int
    rows_kept: int
    dropped_empty: int
    dropped_duplicates: int
    focus_inferred: bool
    focus_areas: int
    unassigned: int
    columns: dict[str, str | None]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportedCSV:
    """An imported CSV as a pairs table, with its report."""

    pairs: pd.DataFrame
    report: ImportReport


def decode_csv(data: bytes, *, max_bytes: int = settings.MAX_UPLOAD_BYTES) -> str:
    """Check size and encoding of an uploaded file and return its text.

    Raises:
        CSVImportError: the file is empty, too large, binary or not UTF-8.
    """
    if not data or not data.strip():
        raise CSVImportError("The file is empty.")
    if len(data) > max_bytes:
        raise CSVImportError(
            f"The file is {len(data) / 1e6:.1f} MB; the largest accepted is {max_bytes / 1e6:.0f} MB."
        )
    if b"\x00" in data[:8192]:
        raise CSVImportError("This looks like a binary file, not a CSV text file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CSVImportError(
            f"The file is not UTF-8 text (byte 0x{data[error.start]:02x} at position {error.start}). "
            "Save it as 'CSV UTF-8' and upload it again."
        ) from error


def read_csv_text(text: str) -> pd.DataFrame:
    """Parse CSV text into string columns, with a clear error for malformed files."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        separator = dialect.delimiter
    except csv.Error:
        separator = ","
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=separator), [])  # the first record only
    except csv.Error:  # a huge or malformed header: pandas below says what is wrong
        header = []
    if len(header) > MAX_COLUMNS:
        raise CSVImportError(
            f"The file has {len(header):,} columns; a question-answer CSV needs two or three "
            f"(at most {MAX_COLUMNS} accepted)."
        )
    try:
        table = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as error:
        raise CSVImportError("The file has no columns: it is empty or not a CSV.") from error
    except (pd.errors.ParserError, ValueError) as error:
        raise CSVImportError(f"The file is not a well-formed CSV ({error}).") from error
    if table.empty:
        raise CSVImportError("The file has a header but no rows.")
    if len(table) > MAX_ROWS:
        raise CSVImportError(f"The file has {len(table):,} rows; the largest accepted is {MAX_ROWS:,}.")
    table.columns = [str(name).strip() for name in table.columns]
    return table


def column_names(columns: list[str]) -> str:
    """Column names for a message: the first few, quoted short, and how many more there are."""
    shown = ", ".join(name[:40] for name in columns[:_NAMES_SHOWN])
    more = len(columns) - _NAMES_SHOWN
    return shown + (f" and {more:,} more" if more > 0 else "")


def guess_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """The first column whose name matches a candidate, ignoring case and surrounding spaces."""
    by_name = {name.strip().casefold(): name for name in columns}
    return next((by_name[name] for name in candidates if name in by_name), None)


def guess_columns(columns: list[str]) -> dict[str, str | None]:
    """Best guesses for the question, answer and focus columns of a table."""
    return {
        "question": guess_column(columns, _QUESTION_NAMES),
        "answer": guess_column(columns, _ANSWER_NAMES),
        "focus": guess_column(columns, _FOCUS_NAMES),
    }


def _split_per_focus(focus: pd.Series, test_fraction: float, seed: int) -> np.ndarray:
    """Stratified split: about ``test_fraction`` of each focus area's rows go to test."""
    rng = np.random.default_rng(seed)
    split = np.full(len(focus), col.TRAIN, dtype=object)
    for positions in focus.groupby(focus.to_numpy()).indices.values():
        if len(positions) < 3:
            continue  # too few to hold any out
        n_test = max(1, round(len(positions) * test_fraction))
        split[rng.choice(positions, size=n_test, replace=False)] = col.TEST
    return split


def import_csv(
    data: bytes,
    *,
    question_column: str | None = None,
    answer_column: str | None = None,
    focus_column: str | None = None,
    test_fraction: float = 0.25,
    seed: int = 42,
    max_bytes: int = settings.MAX_UPLOAD_BYTES,
) -> ImportedCSV:
    """Turn an uploaded CSV into a pairs table with focus areas and a train/test split.

    Args:
        data: the file's bytes.
        question_column: column holding questions; guessed from the header when ``None``.
        answer_column: column holding answers; guessed when ``None``.
        focus_column: column holding focus areas; guessed, and when absent the focus is read from
            MedQuAD's question templates ("what are the symptoms of X ?").
        test_fraction: share of each focus area held out for evaluation.
        seed: makes the split reproducible.
        max_bytes: largest accepted file.

    Raises:
        CSVImportError: the file cannot be used; the message says why.
    """
    table = read_csv_text(decode_csv(data, max_bytes=max_bytes))
    columns = list(table.columns)
    guessed = guess_columns(columns)
    mapping = {
        "question": question_column or guessed["question"],
        "answer": answer_column or guessed["answer"],
        "focus": focus_column if focus_column is not None else guessed["focus"],
    }
    for role in ("question", "answer"):
        if mapping[role] is None:
            raise CSVImportError(
                f"No {role} column found. The columns are: {column_names(columns)}. "
                f"Choose which one holds the {role}s."
            )
        if mapping[role] not in table.columns:
            raise CSVImportError(f"Column {mapping[role]!r} is not in the file ({column_names(columns)}).")
    if mapping["focus"] and mapping["focus"] not in table.columns:
        raise CSVImportError(f"Column {mapping['focus']!r} is not in the file ({column_names(columns)}).")
    if mapping["question"] == mapping["answer"]:
        raise CSVImportError("The question and answer columns must be different columns.")

    questions = table[mapping["question"]].str.strip()
    answers = table[mapping["answer"]].str.strip()
    keep = (questions != "") & (answers != "")
    dropped_empty = int((~keep).sum())
    pairs = pd.DataFrame({col.QUESTION: questions[keep], col.ANSWER: answers[keep]})
    if mapping["focus"]:
        pairs[col.FOCUS] = table.loc[keep, mapping["focus"]].str.strip()
    duplicated = pairs.duplicated([col.QUESTION, col.ANSWER])
    dropped_duplicates = int(duplicated.sum())
    pairs = pairs[~duplicated].reset_index(drop=True)
    if pairs.empty:
        raise CSVImportError("No row has both a question and an answer.")

    matches = [match_template(question) for question in pairs[col.QUESTION]]
    pairs[col.QTYPE] = [match.qtype if match else "" for match in matches]
    focus_inferred = not mapping["focus"]
    if focus_inferred:
        raw_focus = pd.Series([match.focus if match else "" for match in matches])
        keys = raw_focus.map(normalise_focus)
        # One display name per focus key: the spelling seen most often.
        display = raw_focus[keys != ""].groupby(keys[keys != ""]).agg(lambda names: names.mode().iloc[0])
        pairs[col.FOCUS] = keys.map(display).fillna("").to_numpy()
    pairs[col.FOCUS] = pairs[col.FOCUS].replace("", UNASSIGNED_FOCUS)

    pairs[col.ID] = [f"csv-{index}" for index in range(len(pairs))]
    pairs[col.SOURCE] = UPLOAD_SOURCE
    for column in (
        col.DOC_ID,
        col.URL,
        col.SYNONYMS,
        col.CUI,
        col.SEMANTIC_TYPE,
        col.SEMANTIC_GROUP,
        col.CATEGORY,
    ):
        pairs[column] = ""
    pairs[col.HAS_ANSWER] = True
    pairs[col.SPLIT] = _split_per_focus(pairs[col.FOCUS], test_fraction, seed)

    unassigned = int((pairs[col.FOCUS] == UNASSIGNED_FOCUS).sum())
    notes = []
    if dropped_empty:
        notes.append(f"{dropped_empty} rows without a question or an answer were skipped.")
    if dropped_duplicates:
        notes.append(f"{dropped_duplicates} duplicate rows were skipped.")
    if focus_inferred:
        notes.append(
            "No focus column: focus areas were read from the questions' MedQuAD templates"
            + (f"; {unassigned} questions matched no template." if unassigned else ".")
        )
    report = ImportReport(
        rows_read=len(table),
        rows_kept=len(pairs),
        dropped_empty=dropped_empty,
        dropped_duplicates=dropped_duplicates,
        focus_inferred=focus_inferred,
        focus_areas=int(pairs[col.FOCUS].nunique()),
        unassigned=unassigned,
        columns=mapping,
        notes=notes,
    )
    return ImportedCSV(pairs[[*col.PAIR_COLUMNS, col.SPLIT]], report)
