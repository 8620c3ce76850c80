"""Consumer-style evaluation questions shipped with medqa.

Two hand-written sets live in ``medqa/resources`` (written for this project, never copied from
MedQuAD or TREC LiveQA):

- ``consumer_questions.csv``: questions phrased the way patients and caregivers type them (plain
  words, typos, symptoms described without naming the condition, "my dad ...", long e-mails, short
  searches), each with the topic whose MedQuAD pages answer it. Columns:

  ===================  ==============================================================================
  ``id``               stable question id (``consumer-001`` ...)
  ``question``         the question text
  ``expected_focus``   names of the topic joined by ``" | "`` (MedQuAD focus strings or their
                       synonyms; the first is the primary one)
  ``expected_cui``     the topic's UMLS CUIs joined by spaces (reviewed; may be empty)
  ``accept``           other focus names a reviewer judged to answer it, ``" | "``-joined (may be
                       empty): see :mod:`medqa.evaluation.relevance`
  ``qtype_hint``       a MedQuAD question type
  ``style``            space-separated tags from :data:`STYLES`
  ``origin``           ``v1`` (the first 95), ``confirmation`` (44 written after the recipe was
                       fixed), ``issue-12`` (written for the fair yardstick) or ``long-messages``
                       (60 e-mail-like messages of 60-120 words on topics no earlier question had,
                       written 2026-11-30 by a helper from a list of consumer-source focus names;
                       CUIs derived from the corpus, not reviewed)
  ``split``            ``dev`` (choose settings with it) or ``test`` (report once per release)
  ===================  ==============================================================================

  The split is by topic: :func:`topic_groups` joins questions that share a topic name or any
  relevant corpus pair, and :func:`assign_splits` (seed :data:`SPLIT_SEED`) deals whole groups to
  the smaller half, so no topic is in both halves. The column was generated once with these
  functions over the full corpus and is frozen: new questions get a half by the same rule, existing
  ones never move.
- ``consumer_urgency.csv``: the consumer questions that describe an emergency (``urgency``: the
  emergency kind of :mod:`medqa.safety.categories`, e.g. a curtain over the vision, the worst headache
  of one's life with a stiff neck) or a reason to see a doctor the same day (``soon``: a swollen calf
  after a flight, a yellow newborn), judged by the NHS and ACEP lists cited in
  :mod:`medqa.safety.bank`; every other question is everyday (:func:`load_consumer_urgency`).
  ``bench/bench_safety.py`` reads it to count emergency notices on everyday questions as false alarms
  (the safety model never fits on them).
- ``out_of_domain_questions.csv``: non-medical questions (column ``question``), used with held-out
  in-domain questions to calibrate the score below which the app abstains.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from importlib import resources

import numpy as np
import pandas as pd

from medqa.errors import EvaluationError

CONSUMER_QUESTIONS_FILE = "consumer_questions.csv"
OUT_OF_DOMAIN_QUESTIONS_FILE = "out_of_domain_questions.csv"
CONSUMER_URGENCY_FILE = "consumer_urgency.csv"
#: Urgency of a consumer question that is no emergency but a reason to see a doctor the same day.
SOON = "soon"
#: Urgency of every consumer question ``consumer_urgency.csv`` does not list.
EVERYDAY = "none"

#: Separator between several expected focus strings in one cell.
FOCUS_SEPARATOR = " | "

DEV = "dev"
TEST = "test"
SPLITS = (DEV, TEST)
#: Seed of :func:`assign_splits` (the shipped split column was generated with it).
SPLIT_SEED = 12
#: Style tags of the consumer questions.
STYLES: frozenset[str] = frozenset(
    {
        "plain",  # names the condition in everyday words
        "unnamed",  # describes symptoms or a situation without naming the condition
        "caregiver",  # asked for someone else ("my dad ...")
        "misspelled",  # spelling mistakes in the condition's name or elsewhere
        "long",  # a message of several sentences, like a patient's e-mail
        "short",  # a search-box query of a few words
    }
)
CONSUMER_COLUMNS = (
    "id",
    "question",
    "expected_focus",
    "expected_cui",
    "accept",
    "qtype_hint",
    "style",
    "origin",
    "split",
)
#: Columns that may be empty.
_OPTIONAL = frozenset({"expected_cui", "accept"})

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


def _read_resource_rows(
    name: str, columns: tuple[str, ...], optional: frozenset[str] = frozenset()
) -> list[dict[str, str]]:
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
        empty = [column for column, value in cells.items() if not value and column not in optional]
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


def _names(cell: str) -> list[str]:
    return [name.strip() for name in cell.split(FOCUS_SEPARATOR.strip())] if cell else []


def load_consumer_questions(split: str | None = None) -> pd.DataFrame:
    """Load the consumer-style questions with their expected topic.

    Args:
        split: ``dev`` or ``test`` for one half, ``None`` for all.

    Returns:
        One row per question with columns ``question`` (str), ``expected_focus`` (``list[str]``, at
        least one name), ``qtype_hint`` (a MedQuAD qtype), ``id``, ``expected_cui`` (``list[str]``),
        ``accept`` (``list[str]``), ``style`` (``list[str]``), ``origin`` and ``split``.

    Raises:
        EvaluationError: The file is missing, empty, malformed, has a duplicate question or id, an
            unknown qtype, style or split, or ``split`` is not ``dev``/``test``/``None``.
    """
    if split is not None and split not in SPLITS:
        raise EvaluationError(f"split must be 'dev' or 'test', not {split!r}.")
    rows = _read_resource_rows(CONSUMER_QUESTIONS_FILE, CONSUMER_COLUMNS, _OPTIONAL)
    records = []
    ids: set[str] = set()
    for line, row in enumerate(rows, start=2):
        where = f"{CONSUMER_QUESTIONS_FILE}, line {line}"
        foci = _names(row["expected_focus"])
        accept = _names(row["accept"])
        if any(not focus for focus in [*foci, *accept]):
            raise EvaluationError(f"{where}: empty focus in expected_focus or accept.")
        if len(set(foci)) != len(foci):
            raise EvaluationError(f"{where}: a focus is listed twice.")
        if row["qtype_hint"] not in MEDQUAD_QTYPES:
            raise EvaluationError(f"{where}: unknown qtype_hint {row['qtype_hint']!r}.")
        styles = row["style"].split()
        if not set(styles) <= STYLES:
            raise EvaluationError(f"{where}: unknown style {sorted(set(styles) - STYLES)}.")
        if row["split"] not in SPLITS:
            raise EvaluationError(f"{where}: split must be dev or test, not {row['split']!r}.")
        if row["id"] in ids:
            raise EvaluationError(f"{where}: duplicate id {row['id']!r}.")
        ids.add(row["id"])
        records.append(
            {
                "question": row["question"],
                "expected_focus": foci,
                "qtype_hint": row["qtype_hint"],
                "id": row["id"],
                "expected_cui": row["expected_cui"].split(),
                "accept": accept,
                "style": styles,
                "origin": row["origin"],
                "split": row["split"],
            }
        )
    frame = pd.DataFrame.from_records(records, columns=_FRAME_COLUMNS)
    if split is not None:
        frame = frame[frame["split"] == split].reset_index(drop=True)
    return frame


_FRAME_COLUMNS = [
    "question",
    "expected_focus",
    "qtype_hint",
    "id",
    "expected_cui",
    "accept",
    "style",
    "origin",
    "split",
]


def topic_groups(
    names: Sequence[Iterable[str]], relevant: Sequence[Iterable[str]] | None = None
) -> list[str]:
    """A topic group per question: questions sharing a topic name or a relevant pair share a group.

    Args:
        names: Per question, its topic names (expected focus and accept names); compared after
            :func:`medqa.evaluation.relevance.name_keys`.
        relevant: Per question, the corpus ids that answer it (optional): questions whose answers
            overlap are one topic even when named differently ("lupus" / "systemic lupus
            erythematosus").

    Returns:
        Per question, the group's label: the smallest normalised name in the group.
    """
    from medqa.evaluation.relevance import name_keys

    parent = list(range(len(names)))

    def find(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def join(keys: Sequence[Iterable[str]]) -> None:
        first_with: dict[str, int] = {}
        for question, question_keys in enumerate(keys):
            for key in question_keys:
                if key in first_with:
                    parent[find(question)] = find(first_with[key])
                else:
                    first_with[key] = question

    keys_of = [{key for name in question_names for key in name_keys(name)} for question_names in names]
    join(keys_of)
    if relevant is not None:
        join([set(ids) for ids in relevant])
    label: dict[int, str] = {}
    for question, keys in enumerate(keys_of):
        root = find(question)
        smallest = min(keys) if keys else f"#{question}"
        label[root] = min(label.get(root, smallest), smallest)
    return [label[find(question)] for question in range(len(names))]


def assign_splits(groups: Sequence[str], seed: int = SPLIT_SEED) -> list[str]:
    """Deal whole topic groups to the dev and test halves, seeded, keeping the halves' sizes even.

    Groups are visited in a seeded random order; each goes to the half with fewer questions so far
    (dev on a tie), so no group is split and the halves differ by at most the largest group.

    Returns:
        ``dev`` or ``test`` per question.
    """
    sizes: dict[str, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    ordered = sorted(sizes)
    counts = {DEV: 0, TEST: 0}
    half_of: dict[str, str] = {}
    for position in np.random.default_rng(seed).permutation(len(ordered)):
        group = ordered[position]
        half = DEV if counts[DEV] <= counts[TEST] else TEST
        half_of[group] = half
        counts[half] += sizes[group]
    return [half_of[group] for group in groups]


def load_consumer_urgency() -> dict[str, str]:
    """The urgency of the consumer questions that are not everyday ones, by id (see the module docstring).

    Returns:
        ``{id: urgency}``: an emergency kind (:mod:`medqa.safety.categories`) or :data:`SOON`; a question
        not listed is :data:`EVERYDAY`.

    Raises:
        EvaluationError: The file is missing, has other columns, an empty cell or an id twice.
    """
    try:
        text = (
            resources.files("medqa").joinpath("resources", CONSUMER_URGENCY_FILE).read_text(encoding="utf-8")
        )
    except FileNotFoundError as exc:
        raise EvaluationError(f"{CONSUMER_URGENCY_FILE} is missing from medqa/resources.") from exc
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != ("id", "urgency"):
        raise EvaluationError(f"{CONSUMER_URGENCY_FILE} must have the columns id, urgency.")
    urgency: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        question, level = (row.get("id") or "").strip(), (row.get("urgency") or "").strip()
        if not question or not level or question in urgency:
            raise EvaluationError(f"{CONSUMER_URGENCY_FILE}, line {line}: empty or repeated id or urgency.")
        urgency[question] = level
    return urgency


def load_out_of_domain_questions() -> list[str]:
    """Load the non-medical questions used to calibrate the abstain threshold.

    Returns:
        The questions, in file order.

    Raises:
        EvaluationError: The file is missing, empty, malformed or has a duplicate question.
    """
    return [row["question"] for row in _read_resource_rows(OUT_OF_DOMAIN_QUESTIONS_FILE, ("question",))]
