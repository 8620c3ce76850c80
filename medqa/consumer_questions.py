"""Consumer-style evaluation questions shipped with medqa.

Two hand-written sets live in ``medqa/resources`` (written for this project, not taken from
MedQuAD):

- ``consumer_questions.csv``: questions phrased the way a patient or caregiver types them (plain
  words, lower case, typos, long or short), each with the MedQuAD focus area(s) whose pages answer
  it. Columns ``question``, ``expected_focus`` (exact MedQuAD ``<Focus>`` strings joined by
  ``" | "`` when several sources cover the same condition) and ``qtype_hint`` (a MedQuAD qtype).
  Used to measure hit@k of the expected focus over the whole corpus.
- ``out_of_domain_questions.csv``: non-medical questions (column ``question``), used with held-out
  in-domain questions to calibrate the score below which the app abstains.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import pandas as pd

from medqa.errors import EvaluationError

CONSUMER_QUESTIONS_FILE = "consumer_questions.csv"
OUT_OF_DOMAIN_QUESTIONS_FILE = "out_of_domain_questions.csv"

#: Separator between several expected focus strings in one cell.
FOCUS_SEPARATOR = " | "

#: MedQuAD question types a ``qtype_hint`` may take.
MEDQUAD_QTYPES: frozenset[str] = frozenset(
    {
        "causes",
        "complications",
        "considerations",
        "exams and tests",
        "frequency",
        "genetic changes",
        "information",
        "inheritance",
        "outlook",
        "prevention",
        "research",
        "stages",
        "support groups",
        "susceptibility",
        "symptoms",
        "treatment",
    }
)


def _read_resource_rows(name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Read a CSV shipped in ``medqa/resources`` and check its header and cells."""
    try:
        text = resources.files("medqa").joinpath("resources", name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EvaluationError(f"The question set {name} is missing from medqa/resources.") from exc
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != columns:
        raise EvaluationError(
            f"{name} must have the columns {', '.join(columns)}; found {', '.join(reader.fieldnames or [])}."
        )
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        cells = {column: (row.get(column) or "").strip() for column in columns}
        empty = [column for column, value in cells.items() if not value]
        if empty:
            raise EvaluationError(f"{name}, line {line}: empty {', '.join(empty)}.")
        # Compare case- and space-insensitively so near-identical copies count as duplicates.
        key = " ".join(cells["question"].casefold().split())
        if key in seen:
            raise EvaluationError(f"{name}, line {line}: duplicate question {cells['question']!r}.")
        seen.add(key)
        rows.append(cells)
    if not rows:
        raise EvaluationError(f"{name} has no questions.")
    return rows


def load_consumer_questions() -> pd.DataFrame:
    """Load the consumer-style questions with their expected MedQuAD focus areas.

    Returns:
        One row per question with columns ``question`` (str), ``expected_focus`` (``list[str]``,
        at least one exact MedQuAD focus string) and ``qtype_hint`` (str, a MedQuAD qtype).

    Raises:
        EvaluationError: The file is missing, empty, malformed, has a duplicate question or an
            unknown qtype.
    """
    rows = _read_resource_rows(CONSUMER_QUESTIONS_FILE, ("question", "expected_focus", "qtype_hint"))
    records = []
    for line, row in enumerate(rows, start=2):
        foci = [focus.strip() for focus in row["expected_focus"].split(FOCUS_SEPARATOR.strip())]
        if any(not focus for focus in foci):
            raise EvaluationError(f"{CONSUMER_QUESTIONS_FILE}, line {line}: empty focus in expected_focus.")
        if len(set(foci)) != len(foci):
            raise EvaluationError(f"{CONSUMER_QUESTIONS_FILE}, line {line}: a focus is listed twice.")
        if row["qtype_hint"] not in MEDQUAD_QTYPES:
            raise EvaluationError(
                f"{CONSUMER_QUESTIONS_FILE}, line {line}: unknown qtype_hint {row['qtype_hint']!r}."
            )
        records.append({"question": row["question"], "expected_focus": foci, "qtype_hint": row["qtype_hint"]})
    return pd.DataFrame.from_records(records, columns=["question", "expected_focus", "qtype_hint"])


def load_out_of_domain_questions() -> list[str]:
    """Load the non-medical questions used to calibrate the abstain threshold.

    Returns:
        The questions, in file order.

    Raises:
        EvaluationError: The file is missing, empty, malformed or has a duplicate question.
    """
    return [row["question"] for row in _read_resource_rows(OUT_OF_DOMAIN_QUESTIONS_FILE, ("question",))]
