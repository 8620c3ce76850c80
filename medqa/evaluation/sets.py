"""Evaluation sets: queries, the corpus ids that count as correct for each, and grouping columns.

Three kinds of set, each tied to the corpus it is judged against (relevant ids are corpus ids):

* :func:`heldout`: the curated test split. A query's relevant ids are its own pair (when the corpus
  holds it) and every corpus pair whose answer text is exactly the same (MedQuAD repeats some
  answers word for word under different questions, and retrieving the twin is not a mistake).
* :func:`consumer`: plain-language questions kept in the repository, judged by concept
  (:mod:`medqa.evaluation.relevance`: same focus or synonym after normalisation, same UMLS concepts,
  or a reviewed accept list), so a metric such as accuracy@3 reads "a pair about the expected topic
  is in the top 3".
* :func:`from_csv`: an uploaded CSV with a query column and either a relevant answer column (matched
  to corpus answers by exact text, then by normalised text) or a focus column (optionally with
  ``expected_cui`` and ``accept`` columns), judged by concept like the consumer set.

Queries without any relevant id in the corpus are dropped when the set is built (with a note), so
every system is scored on exactly the same queries.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from medqa.data import schema as col
from medqa.data import store
from medqa.data.upload import decode_csv, guess_column, read_csv_text
from medqa.errors import CSVImportError, EvaluationError
from medqa.evaluation.relevance import Expectation, RelevanceJudge, expectation

HELDOUT = "heldout"
CONSUMER = "consumer"
CONSUMER_DEV = "consumer-dev"
CONSUMER_TEST = "consumer-test"
UPLOAD = "upload"

#: The named sets (``python -m medqa evaluate --set NAME``, the Compare page) and what each is for.
SET_DESCRIPTIONS: dict[str, str] = {
    HELDOUT: "Held-out questions (curated test split, judged by the answer)",
    CONSUMER_DEV: "Consumer questions, dev half (choose settings with it; judged by concept)",
    CONSUMER_TEST: "Consumer questions, test half (report once per release; judged by concept)",
    CONSUMER: "Consumer questions, both halves (judged by concept)",
}
_CONSUMER_SPLITS = {CONSUMER: None, CONSUMER_DEV: "dev", CONSUMER_TEST: "test"}

#: How a set decides what is correct: the exact answer, or any pair about the expected focus.
JUDGED_BY_ANSWER = "answer"
JUDGED_BY_FOCUS = "focus"

_QUERY_NAMES = ("query", "question", "questions", "queries", "prompt", "q", "anchor", "text", "input")
_ANSWER_NAMES = ("relevant_answer", "answer", "answers", "relevant", "expected_answer", "positive", "a")
_FOCUS_NAMES = ("focus", "expected_focus", "focus_area", "topic", "category", "condition", "disease")
_QTYPE_NAMES = ("qtype", "question_type", "type")
_CUI_NAMES = ("expected_cui", "cui", "cuis", "umls_cui")
_ACCEPT_NAMES = ("accept", "accepted", "also_accept")
#: How a topic-judged set decides, in one sentence (shown with results).
JUDGED_BY_CONCEPT_NOTE = (
    "Judged by concept: a pair counts when its focus or a synonym names the expected topic, its UMLS "
    "concepts are the topic's, or a reviewer accepted its focus (medqa.evaluation.relevance)."
)
#: Several expected focus areas in one CSV cell are separated by ``|`` or ``;`` (split, then strip: a
#: pattern with ``\s*`` around the separator backtracks quadratically on long runs of spaces).
_FOCUS_SEPARATOR = re.compile(r"[|;]")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class EvaluationSet:
    """Queries with the corpus ids that count as correct, plus focus / question type per query.

    Attributes:
        name: ``heldout``, ``consumer`` or ``upload``.
        label: What the set is called on screen (e.g. ``Held-out curated questions (120)``).
        corpus_name: The corpus the relevant ids belong to.
        query_ids: Unique id per query.
        queries: Query text.
        relevant: Per query, the corpus ids that count as correct (never empty).
        focus: Per query, the focus area used for per-area breakdowns.
        qtype: Per query, the question type (``""`` when unknown).
        judged_by: ``answer`` or ``focus``.
        notes: Plain sentences about what was dropped or assumed while building the set.
    """

    name: str
    label: str
    corpus_name: str
    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    relevant: tuple[frozenset[str], ...]
    focus: tuple[str, ...]
    qtype: tuple[str, ...]
    judged_by: str
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.query_ids)
        lengths = {len(self.queries), len(self.relevant), len(self.focus), len(self.qtype)}
        if lengths != {n}:
            raise EvaluationError("An evaluation set needs one query, relevant set, focus and type per id.")
        if n == 0:
            raise EvaluationError("The evaluation set has no query with a correct answer in this corpus.")
        if len(set(self.query_ids)) != n:
            raise EvaluationError("Query ids in an evaluation set must be unique.")
        if any(not ids for ids in self.relevant):
            raise EvaluationError("Every query of an evaluation set needs at least one relevant id.")
        if self.judged_by not in (JUDGED_BY_ANSWER, JUDGED_BY_FOCUS):
            raise EvaluationError(f"judged_by must be 'answer' or 'focus', not {self.judged_by!r}.")

    def __len__(self) -> int:
        return len(self.query_ids)

    def fingerprint(self) -> str:
        """A short hash of everything that changes scores: queries, relevance, grouping, judging."""
        payload = {
            "name": self.name,
            "judged_by": self.judged_by,
            "rows": [
                [query_id, query, sorted(relevant), focus, qtype]
                for query_id, query, relevant, focus, qtype in zip(
                    self.query_ids, self.queries, self.relevant, self.focus, self.qtype, strict=True
                )
            ],
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]

    def table(self) -> pd.DataFrame:
        """One row per query: ``query_id``, ``query``, ``focus``, ``qtype``, ``relevant`` (count)."""
        return pd.DataFrame(
            {
                "query_id": list(self.query_ids),
                "query": list(self.queries),
                col.FOCUS: list(self.focus),
                col.QTYPE: list(self.qtype),
                "relevant": [len(ids) for ids in self.relevant],
            }
        )


def normalise_text(text: str) -> str:
    """Text compared ignoring case, accents' composed forms, punctuation and spacing."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def _build(
    *,
    name: str,
    label: str,
    corpus_name: str,
    rows: Iterable[tuple[str, str, set[str], str, str]],
    judged_by: str,
    notes: list[str],
    what_is_missing: str,
) -> EvaluationSet:
    """Drop queries with no relevant id (with a note) and freeze the rest into a set."""
    kept = []
    missing = 0
    for query_id, query, relevant, focus, qtype in rows:
        if relevant:
            kept.append((query_id, query, frozenset(relevant), focus, qtype))
        else:
            missing += 1
    if missing:
        notes.append(f"{missing} queries were left out: {what_is_missing}")
    if not kept:
        raise EvaluationError(
            f"No query of this evaluation set has a correct answer in corpus {corpus_name!r} "
            f"({what_is_missing.rstrip('.')}). Choose another corpus or set."
        )
    query_ids, queries, relevant, focus, qtype = (tuple(values) for values in zip(*kept, strict=True))
    return EvaluationSet(
        name=name,
        label=f"{label} ({len(kept)})",
        corpus_name=corpus_name,
        query_ids=query_ids,
        queries=queries,
        relevant=relevant,
        focus=focus,
        qtype=qtype,
        judged_by=judged_by,
        notes=tuple(notes),
    )


def _ids_by(corpus: pd.DataFrame, keys: pd.Series) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for key, pair_id in zip(keys, corpus[col.ID], strict=True):
        if key:
            found[key].add(str(pair_id))
    return found


def _has_test_split(table: pd.DataFrame) -> bool:
    return col.SPLIT in table.columns and bool((table[col.SPLIT] == col.TEST).any())


def heldout(
    corpus_name: str = store.CURATED,
    *,
    corpus: pd.DataFrame | None = None,
    queries_from: str | pd.DataFrame | None = None,
) -> EvaluationSet:
    """The held-out questions of a train/test split, judged by their answers.

    Args:
        corpus_name: Corpus searched: ``curated`` (520 pairs), ``full`` (held-out pairs are in it by
            id) or an uploaded dataset.
        corpus: The corpus table when already loaded (skips loading ``corpus_name``).
        queries_from: Dataset whose ``test`` split gives the queries (a name or a table). By default
            the corpus itself when it has a test split (curated, uploads), else ``curated``.

    Raises:
        EvaluationError: There is no test split, or no held-out answer is in the corpus.
        DataNotFoundError: A dataset has not been built yet.
    """
    corpus = store.load_corpus(corpus_name) if corpus is None else corpus
    if isinstance(queries_from, pd.DataFrame):
        source, source_name = queries_from, "the given table"
    else:
        if queries_from is None:
            queries_from = corpus_name if _has_test_split(corpus) else store.CURATED
        source_name = queries_from
        source = corpus if queries_from == corpus_name else store.load_corpus(queries_from)
    if not _has_test_split(source):
        raise EvaluationError(
            f"Dataset {source_name!r} has no held-out (test) split to evaluate on; use curated or upload "
            "an evaluation CSV."
        )
    test = source[source[col.SPLIT] == col.TEST]
    same_answer = _ids_by(corpus, corpus[col.ANSWER].astype(str))
    question_of = dict(zip(corpus[col.ID].astype(str), corpus[col.QUESTION].astype(str), strict=True))
    rows = []
    for pair_id, question, answer, focus, qtype in zip(
        test[col.ID].astype(str), test[col.QUESTION].astype(str), test[col.ANSWER].astype(str),
        test[col.FOCUS].astype(str), test[col.QTYPE].astype(str), strict=True,
    ):  # fmt: skip
        relevant = set(same_answer.get(answer, ()))
        if question_of.get(pair_id) == question:
            # The same pair, even if its answer text differs (a corpus parsed from another version).
            relevant.add(pair_id)
        rows.append((pair_id, question, relevant, focus, qtype))
    notes = [f"Questions from the test split of {source_name!r}, never used for training."]
    duplicates = sum(1 for _, _, relevant, _, _ in rows if len(relevant) > 1)
    if duplicates:
        notes.append(
            f"{duplicates} queries have an answer that appears word for word in other pairs; "
            "those twins count as correct too."
        )
    return _build(
        name=HELDOUT,
        label="Held-out questions",
        corpus_name=corpus_name,
        rows=rows,
        judged_by=JUDGED_BY_ANSWER,
        notes=notes,
        what_is_missing="their answer is not in the corpus.",
    )


def _focus_rows(
    queries: Sequence[str],
    expected: Sequence[Expectation],
    qtypes: Sequence[str],
    query_ids: Sequence[str],
    corpus: pd.DataFrame,
) -> list[tuple[str, str, set[str], str, str]]:
    """Rows judged by concept (:class:`medqa.evaluation.relevance.RelevanceJudge`)."""
    judge = RelevanceJudge(corpus)
    return [
        (query_id, query, set(judge.relevant_ids(expectation)), expectation.primary, qtype)
        for query_id, query, expectation, qtype in zip(query_ids, queries, expected, qtypes, strict=True)
    ]


def _expectations(table: pd.DataFrame, focus: str, cui: str | None, accept: str | None) -> list[Expectation]:
    """One :class:`Expectation` per row from a focus column and optional CUI / accept columns."""
    return [
        expectation(
            _as_focus_list(focus_value),
            _as_focus_list(table[cui].iloc[row]) if cui else (),
            _as_focus_list(table[accept].iloc[row]) if accept else (),
        )
        for row, focus_value in enumerate(table[focus])
    ]


def _as_focus_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [name.strip() for name in _FOCUS_SEPARATOR.split(value) if name.strip()]
    try:
        return [str(name).strip() for name in value if str(name).strip()]  # type: ignore[union-attr]
    except TypeError:
        return []


def consumer(
    corpus_name: str = store.FULL, *, corpus: pd.DataFrame | None = None, split: str | None = None
) -> EvaluationSet:
    """Plain-language consumer questions, judged by concept (:mod:`medqa.evaluation.relevance`).

    Relevant ids are the corpus pairs about the question's topic: same focus or synonym after
    normalisation, the topic's UMLS concepts, or a reviewed accept list. Ranking stays at the pair
    level, so ``accuracy@k`` means "a pair about the topic is in the top k" and ``mrr@10`` uses the
    first such pair.

    Args:
        corpus_name: Corpus searched (``full`` by default: most topics are not in curated).
        corpus: The corpus table when already loaded.
        split: ``dev`` (choose settings with it), ``test`` (report once) or ``None`` for both halves
            (see :mod:`medqa.consumer_questions` for how the halves were drawn).

    Raises:
        EvaluationError: The question set cannot be loaded, ``split`` is unknown, or no topic is
            in the corpus.
    """
    from medqa.consumer_questions import load_consumer_questions

    corpus = store.load_corpus(corpus_name) if corpus is None else corpus
    questions = load_consumer_questions(split)
    if questions.empty:
        raise EvaluationError("The consumer question set is empty.")
    query_ids = (
        [str(value) for value in questions["id"]]
        if "id" in questions.columns
        else [f"consumer-{number:03d}" for number in range(1, len(questions) + 1)]
    )
    qtypes = (
        [str(value or "") for value in questions["qtype_hint"]]
        if "qtype_hint" in questions.columns
        else [""] * len(questions)
    )
    rows = _focus_rows(
        [str(q) for q in questions["question"]],
        _expectations(
            questions,
            "expected_focus",
            "expected_cui" if "expected_cui" in questions.columns else None,
            "accept" if "accept" in questions.columns else None,
        ),
        qtypes,
        query_ids,
        corpus,
    )
    name = {None: CONSUMER, "dev": CONSUMER_DEV, "test": CONSUMER_TEST}[split]
    halves = {CONSUMER: "", CONSUMER_DEV: ", dev half", CONSUMER_TEST: ", test half"}
    return _build(
        name=name,
        label=f"Consumer questions{halves[name]}",
        corpus_name=corpus_name,
        rows=rows,
        judged_by=JUDGED_BY_FOCUS,
        notes=[JUDGED_BY_CONCEPT_NOTE],
        what_is_missing="no pair in the corpus is about their expected focus area.",
    )


def default_corpus(name: str) -> str:
    """The corpus a named set is judged against unless told otherwise: curated for held-out, else full."""
    return store.CURATED if name == HELDOUT else store.FULL


def default_set(corpus_name: str) -> str:
    """The set the Compare page starts with for a corpus: the fast one.

    Over the full corpus the consumer questions (both halves) are ranked as the Ask page ranks them, in
    the indexes Ask has already built (base model and fine-tuned runs against a cached index: 11 s for
    396 questions, ``bench/results/compare_timing.txt``), whereas the held-out questions, judged by the
    answer, need an index of the corpus's answer texts for every model (16,423 answers: minutes per
    model on 2 cores). On any other corpus the held-out questions, whose answer index of a few hundred
    pairs builds in seconds.
    """
    return CONSUMER if corpus_name == store.FULL else HELDOUT


def load_set(
    name: str, corpus_name: str | None = None, *, corpus: pd.DataFrame | None = None
) -> EvaluationSet:
    """A named evaluation set: ``heldout``, ``consumer``, ``consumer-dev`` or ``consumer-test``.

    Args:
        name: One of :data:`SET_DESCRIPTIONS`.
        corpus_name: Corpus to judge against (default: :func:`default_corpus`).
        corpus: The corpus table when already loaded.

    Raises:
        EvaluationError: The name is not a known set (or the set cannot be built for the corpus).
    """
    corpus_name = corpus_name or default_corpus(name)
    if name == HELDOUT:
        return heldout(corpus_name, corpus=corpus)
    if name in _CONSUMER_SPLITS:
        return consumer(corpus_name, corpus=corpus, split=_CONSUMER_SPLITS[name])
    raise EvaluationError(f"Unknown evaluation set {name!r}; choose one of {', '.join(SET_DESCRIPTIONS)}.")


def _column(table: pd.DataFrame, chosen: str | None, candidates: tuple[str, ...], role: str) -> str | None:
    if chosen is None:
        return guess_column(list(table.columns), candidates)
    if chosen not in table.columns:
        raise EvaluationError(f"Column {chosen!r} ({role}) is not in the file ({', '.join(table.columns)}).")
    return chosen


def from_csv(
    data: bytes,
    corpus_name: str = store.FULL,
    *,
    corpus: pd.DataFrame | None = None,
    query_column: str | None = None,
    answer_column: str | None = None,
    focus_column: str | None = None,
    file_name: str = "uploaded file",
) -> EvaluationSet:
    """An uploaded evaluation CSV: a query column plus a relevant answer column or a focus column.

    Answers are matched to corpus answers by exact text first, then ignoring case, punctuation and
    spacing; every corpus pair with a matching answer is relevant. Without an answer column, a
    focus column (several areas separated by ``|`` or ``;``) judges the queries by focus area.
    Columns are found by name (``query``/``question``, ``answer``/``relevant_answer``,
    ``focus``/``expected_focus``, optional ``qtype``) unless given.

    Raises:
        EvaluationError: The file is not a usable CSV (empty, binary, not UTF-8, malformed, too big),
            lacks the needed columns, or none of its rows matches the corpus.
    """
    try:
        table = read_csv_text(decode_csv(data))
    except CSVImportError as error:
        raise EvaluationError(f"{file_name}: {error}") from error
    columns = ", ".join(table.columns)
    query = _column(table, query_column, _QUERY_NAMES, "query")
    if query is None:
        raise EvaluationError(
            f"{file_name}: no query column found (expected one named 'query' or 'question'). "
            f"The columns are: {columns}."
        )
    answer = _column(table, answer_column, _ANSWER_NAMES, "answer")
    focus = _column(table, focus_column, _FOCUS_NAMES, "focus")
    if answer == query or focus == query:
        raise EvaluationError(f"{file_name}: the query column cannot also be the answer or focus column.")
    if answer is None and focus is None:
        raise EvaluationError(
            f"{file_name}: no 'answer' or 'focus' column found, so there is no way to tell which "
            f"results are correct. The columns are: {columns}."
        )
    qtype = guess_column(list(table.columns), _QTYPE_NAMES)

    queries = table[query].str.strip()
    keep = queries != ""
    judge_column = answer if answer is not None else focus
    keep &= table[judge_column].str.strip() != ""
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} rows without a query or a {'answer' if answer else 'focus'}.")
    table = table[keep].reset_index(drop=True)
    if table.empty:
        raise EvaluationError(
            f"{file_name}: no row has both a query and a{'n answer' if answer else ' focus'}."
        )
    corpus = store.load_corpus(corpus_name) if corpus is None else corpus
    query_ids = [f"row-{number}" for number in range(1, len(table) + 1)]
    qtypes = [str(value) for value in table[qtype]] if qtype else [""] * len(table)
    query_texts = [str(value).strip() for value in table[query]]

    if answer is not None:
        exact = _ids_by(corpus, corpus[col.ANSWER].astype(str).str.strip())
        loose = _ids_by(corpus, corpus[col.ANSWER].astype(str).map(normalise_text))
        focus_of = dict(zip(corpus[col.ID].astype(str), corpus[col.FOCUS].astype(str), strict=True))
        given_focus = [str(value).strip() for value in table[focus]] if focus else [""] * len(table)
        rows = []
        loose_matches = 0
        for query_id, text, expected, named_focus, qt in zip(
            query_ids, query_texts, table[answer], given_focus, qtypes, strict=True
        ):
            relevant = set(exact.get(expected.strip(), ()))
            if not relevant:
                relevant = set(loose.get(normalise_text(expected), ()))
                loose_matches += bool(relevant)
            # Group by the matched answer's focus unless the file names one.
            group = named_focus or (focus_of[min(relevant)] if relevant else "")
            rows.append((query_id, text, relevant, group, qt))
        if loose_matches:
            notes.append(
                f"{loose_matches} answers matched the corpus only after ignoring case and punctuation."
            )
        return _build(
            name=UPLOAD,
            label=f"Uploaded: {file_name}",
            corpus_name=corpus_name,
            rows=rows,
            judged_by=JUDGED_BY_ANSWER,
            notes=notes,
            what_is_missing=f"their answer text is not in corpus {corpus_name!r}.",
        )

    assert focus is not None
    cui = guess_column(list(table.columns), _CUI_NAMES)
    accept = guess_column(list(table.columns), _ACCEPT_NAMES)
    rows = _focus_rows(query_texts, _expectations(table, focus, cui, accept), qtypes, query_ids, corpus)
    notes.append(JUDGED_BY_CONCEPT_NOTE)
    return _build(
        name=UPLOAD,
        label=f"Uploaded: {file_name}",
        corpus_name=corpus_name,
        rows=rows,
        judged_by=JUDGED_BY_FOCUS,
        notes=notes,
        what_is_missing=f"no pair in corpus {corpus_name!r} is about their focus area.",
    )
