"""Turn a training config and a dataset into (anchor, positive) pairs, plus the held-out evaluation.

What each ``data`` choice trains on:

* ``curated``: the curated subset's ``train`` split; held out: its ``test`` split.
* ``full``: every answered MedQuAD pair except the curated held-out ones. A pair is left out when it is
  a held-out pair (same id), or when its answer is word for word a held-out answer (MedQuAD repeats
  answers under different questions; training on the twin would leak the answer). The same question
  text with a *different* answer (another source's page on the same focus) is kept: it leaks nothing.
  Held out: the curated ``test`` split, judged against the curated corpus.
* a stored dataset's name (an uploaded CSV) or a path to a ``.csv`` file: its ``train`` split, with the
  same exclusions against its ``test`` split; held out: that ``test`` split.

Then, in this order: ``max_pairs_per_focus`` caps the source pairs of each focus area, ``max_pairs``
keeps a seeded sample spread round-robin over focus areas (both count source question-answer pairs,
before variants), and each kept pair gives one training pair per ``query_variants`` entry:

* ``question``: the question as written;
* ``keywords``: focus area plus question type, the way people type into a search box ("Gout
  treatment"; the focus alone for the ``information`` type);
* ``synonym``: the question with its focus replaced by one of the focus's XML synonyms (seeded);
* ``focus``: the focus name alone, paired with one answer per focus area (its ``information`` answer
  when there is one);
* ``description``: sentences of the answer (``descriptions_per_pair`` of them) with the focus and its
  synonyms masked ("this condition"); from the kept source pairs, or, when ``description_pairs`` is
  set, from a separate seeded sample of that many pool pairs spread over focus areas. Each is
  paired with the pair's search text ``"<focus>: <question>"`` (what the Ask engine indexes). People
  describe what they notice ("always thirsty and peeing a lot") more often than they name it; this
  teaches the model to go from a description to the condition's entry (an inverse cloze task). With
  ``description_sentences`` above 1 a query is a few consecutive sentences (up to
  :data:`JOINED_DESCRIPTION_WORDS` words), so it describes several signs at once, as people do.

A variant that cannot be built for a pair (no template match, no synonym) is skipped; identical
(anchor, positive) pairs are kept once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from medqa.data import schema as col
from medqa.data import store
from medqa.data.templates import match_template, normalise_focus
from medqa.errors import DataNotFoundError, TrainingError
from medqa.retrieval.dense import DenseSettings, passage_spans
from medqa.retrieval.texts import focus_prefixed
from medqa.training.arguments import TrainingConfig

if TYPE_CHECKING:
    from datasets import Dataset

ANCHOR = "anchor"
POSITIVE = "positive"
NEGATIVE = "negative"
#: A pair's concept: its normalised focus name and UMLS CUIs, space-separated (hard-negative mining
#: never takes a negative that shares one of them).
CONCEPT = "concept"
_INFORMATION = "information"
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
#: Words per description sentence: shorter ones are headings or fragments, longer ones lists.
_DESCRIPTION_WORDS = (8, 40)
#: Longest joined description query (``description_sentences`` above 1): about three such sentences.
JOINED_DESCRIPTION_WORDS = 60
_MASK = "this condition"


@dataclass(frozen=True)
class HeldOut:
    """Held-out questions and the corpus they are searched in (what ``InformationRetrievalEvaluator`` takes).

    Attributes:
        queries: query id to question.
        corpus: corpus id to answer text.
        relevant: query id to the corpus ids counted as correct (its own pair and exact-answer twins).
        description: where the questions and corpus come from, for logs and ``run.json``.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]
    description: str

    def __len__(self) -> int:
        return len(self.queries)


@dataclass(frozen=True)
class TrainingData:
    """The pairs a run trains on and everything ``run.json`` records about them.

    Attributes:
        pairs: ``anchor`` / ``positive`` columns, one row per training pair.
        heldout: the held-out evaluation, or ``None`` when the data has no test split.
        distill_texts: corpus texts for the anti-forgetting term (empty when it is off).
        fingerprint: hash of the pairs in order (changes whenever the training data changes).
        summary: counts and choices (source pairs, excluded, per variant...), JSON-ready.
    """

    pairs: pd.DataFrame
    heldout: HeldOut | None
    distill_texts: list[str]
    fingerprint: str
    summary: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def text_columns(self) -> list[str]:
        """The pairs' text columns in the order the loss reads them: anchor, positive (, negative)."""
        return [name for name in (ANCHOR, POSITIVE, NEGATIVE) if name in self.pairs]

    def to_dataset(self, row_labels: bool = False) -> Dataset:
        """The pairs as a ``datasets.Dataset`` (the form the sentence-transformers trainer takes).

        Args:
            row_labels: add each pair's row number as a ``label`` column (the trainer hands labels to
                the loss; batch distillation uses them to find the pair's precomputed targets).
        """
        from datasets import Dataset

        table = self.pairs[self.text_columns]
        if row_labels:
            table = table.assign(label=np.arange(len(table), dtype=np.int64))
        return Dataset.from_pandas(table, preserve_index=False)


def _clean(text: object) -> str:
    return _SPACES.sub(" ", str(text or "")).strip()


def _load_table(data: str) -> tuple[pd.DataFrame, str]:
    """The answered pairs of ``data`` and a name for it; CSV paths are imported on the fly."""
    path = Path(data).expanduser()
    if data.lower().endswith(".csv"):
        from medqa.data.upload import import_csv

        try:
            raw = path.read_bytes()
        except OSError as error:
            raise DataNotFoundError(
                f"Cannot read the training CSV {path}: {error.strerror or error}."
            ) from error
        table = import_csv(raw).pairs
        return table[table[col.HAS_ANSWER]].reset_index(drop=True), str(path)
    return store.load_corpus(data), data


def _ensure_columns(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    for column in (col.ID, col.FOCUS, col.QTYPE, col.SYNONYMS, col.CUI):
        if column not in table.columns:
            table[column] = ""
        table[column] = table[column].fillna("").astype(str)
    if not table[col.ID].astype(bool).all():
        table[col.ID] = [f"row-{n}" for n in range(len(table))]
    return table


def _heldout_from(test: pd.DataFrame, corpus: pd.DataFrame, description: str) -> HeldOut | None:
    if test.empty:
        return None
    corpus_ids = corpus[col.ID].astype(str).tolist()
    corpus_texts = {cid: _clean(answer) for cid, answer in zip(corpus_ids, corpus[col.ANSWER], strict=True)}
    by_answer: dict[str, set[str]] = defaultdict(set)
    for cid, answer in zip(corpus_ids, corpus[col.ANSWER].astype(str), strict=True):
        by_answer[answer].add(cid)
    queries, relevant = {}, {}
    for qid, question, answer in zip(
        test[col.ID].astype(str), test[col.QUESTION], test[col.ANSWER].astype(str), strict=True
    ):
        ids = set(by_answer.get(answer, ()))
        if qid in corpus_texts:
            ids.add(qid)
        if ids:
            queries[qid] = _clean(question)
            relevant[qid] = ids
    if not queries:
        return None
    return HeldOut(queries=queries, corpus=corpus_texts, relevant=relevant, description=description)


def _split(config: TrainingConfig) -> tuple[pd.DataFrame, pd.DataFrame, HeldOut | None, dict[str, Any]]:
    """Training rows, held-out rows, the held-out evaluation and facts about the split."""
    if config.data == store.FULL:
        full = _ensure_columns(store.load_corpus(store.FULL))
        try:
            curated = _ensure_columns(store.load_corpus(store.CURATED))
        except DataNotFoundError as error:
            raise TrainingError(
                "Training on full MedQuAD needs the curated held-out split to keep out of training: "
                "build the data first (Home page or `python -m medqa data build`)."
            ) from error
        test = curated[curated[col.SPLIT] == col.TEST]
        heldout = _heldout_from(test, curated, "curated test split, searched in the curated corpus")
        pool, origin = full, "full MedQuAD (answered pairs)"
    else:
        table, origin = _load_table(config.data)
        table = _ensure_columns(table)
        if col.SPLIT in table.columns and (table[col.SPLIT] == col.TEST).any():
            test = table[table[col.SPLIT] == col.TEST]
            pool = table[table[col.SPLIT] != col.TEST]
            heldout = _heldout_from(test, table, f"test split of {origin}, searched in its own corpus")
        else:
            test, pool, heldout = table.iloc[0:0], table, None
    held_ids = set(test[col.ID].astype(str))
    held_answers = set(test[col.ANSWER].astype(str))
    by_id = pool[col.ID].astype(str).isin(held_ids)
    by_answer = pool[col.ANSWER].astype(str).isin(held_answers) & ~by_id
    train = pool[~(by_id | by_answer)].reset_index(drop=True)
    facts = {
        "data": config.data,
        "origin": origin,
        "source_pairs": len(pool),
        "heldout_pairs": len(test),
        "excluded_heldout_id": int(by_id.sum()),
        "excluded_heldout_answer": int(by_answer.sum()),
        "heldout": heldout.description if heldout else "none (the data has no test split)",
        "heldout_queries": len(heldout) if heldout else 0,
        "heldout_corpus": len(heldout.corpus) if heldout else 0,
    }
    if train.empty:
        raise TrainingError(f"No training pairs left in {origin} once the held-out questions are removed.")
    return train, test, heldout, facts


def _round_robin(groups: dict[str, list[int]], limit: int, rng: np.random.Generator) -> list[int]:
    """Up to ``limit`` positions taken one per group in turn (groups and members in seeded order)."""
    order = list(groups)
    rng.shuffle(order)
    queues = [list(rng.permutation(groups[key])) for key in order]
    picked: list[int] = []
    depth = 0
    while len(picked) < limit:
        added = False
        for queue in queues:
            if depth < len(queue):
                picked.append(int(queue[depth]))
                added = True
                if len(picked) == limit:
                    break
        if not added:
            break
        depth += 1
    return picked


def _cap(train: pd.DataFrame, config: TrainingConfig, rng: np.random.Generator) -> pd.DataFrame:
    keys = train[col.FOCUS].map(normalise_focus)
    groups: dict[str, list[int]] = defaultdict(list)
    for position, key in enumerate(keys):
        groups[key].append(position)
    if config.max_pairs_per_focus:
        groups = {
            key: sorted(
                rng.choice(
                    members, size=min(len(members), config.max_pairs_per_focus), replace=False
                ).tolist()
            )
            for key, members in groups.items()
        }
    kept = sorted(position for members in groups.values() for position in members)
    if config.max_pairs and config.max_pairs < len(kept):
        kept = sorted(_round_robin(groups, config.max_pairs, rng))
    return train.iloc[kept].reset_index(drop=True)


def keywords_query(question: str, focus: str, qtype: str) -> str | None:
    """A search-box style query for a pair: focus plus question type ("Gout treatment")."""
    match = match_template(question)
    focus = _clean(match.focus if match else focus)
    qtype = _clean(qtype or (match.qtype if match else ""))
    if not focus:
        return None
    if not qtype or qtype == _INFORMATION:
        return focus
    return f"{focus} {qtype}"


def synonym_question(question: str, focus: str, synonyms: list[str], rng: np.random.Generator) -> str | None:
    """The question with its focus swapped for a synonym, or ``None`` when it cannot be done."""
    focus = _clean(focus)
    candidates = [s for s in (_clean(name) for name in synonyms) if s and s.casefold() != focus.casefold()]
    if not focus or not candidates:
        return None
    pattern = re.compile(re.escape(focus), re.IGNORECASE)
    if not pattern.search(question):
        return None
    synonym = candidates[int(rng.integers(len(candidates)))]
    return pattern.sub(lambda _: synonym, question, count=1)


def _names(focus: str, synonyms: list[str]) -> re.Pattern[str] | None:
    """A pattern matching the focus or any synonym (longest first), or ``None`` without names."""
    names = sorted(
        {name for name in (_clean(n) for n in [focus, *synonyms]) if len(name) >= 3}, key=len, reverse=True
    )
    if not names:
        return None
    # Whole words only: "ALMS1" is a gene, not "Alms" plus a digit.
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(name) for name in names) + r")(?!\w)", re.IGNORECASE)


def _synonym_list(synonyms: object) -> list[str]:
    return [name for name in str(synonyms).split(col.SYNONYM_SEPARATOR.strip()) if name.strip()]


def masked_sentences(answer: str, focus: str, synonyms: list[str]) -> list[str]:
    """The answer's sentences with the focus and its synonyms replaced by "this condition"."""
    pattern = _names(focus, synonyms)
    sentences = _SENTENCE_END.split(_clean(answer))
    return [pattern.sub(_MASK, sentence) for sentence in sentences] if pattern else []


def boilerplate_sentences(table: pd.DataFrame, min_answers: int = 3) -> set[str]:
    """Masked sentences found in at least ``min_answers`` different answers (source notes, stock phrases)."""
    counts: dict[str, int] = defaultdict(int)
    unique = table.drop_duplicates(col.ANSWER)
    for answer, focus, synonyms in zip(
        unique[col.ANSWER], unique[col.FOCUS], unique[col.SYNONYMS], strict=True
    ):
        for sentence in set(masked_sentences(answer, focus, _synonym_list(synonyms))):
            counts[sentence] += 1
    return {sentence for sentence, count in counts.items() if count >= min_answers}


def description_queries(
    answer: str,
    focus: str,
    synonyms: list[str],
    rng: np.random.Generator,
    boilerplate: set[str] | frozenset[str] = frozenset(),
    count: int = 1,
    sentences: int = 1,
) -> list[str]:
    """Up to ``count`` different sentences of ``answer`` with the focus and its synonyms masked.

    Sentences that are questions, in ``boilerplate`` (masked), or shorter or longer than
    :data:`_DESCRIPTION_WORDS` are skipped; the pick is seeded by ``rng``, in answer order. With
    ``sentences`` above 1, each picked sentence is followed by up to ``sentences - 1`` of the next
    kept ones while the query stays within :data:`JOINED_DESCRIPTION_WORDS` words.
    """
    shortest, longest = _DESCRIPTION_WORDS
    kept = list(
        dict.fromkeys(
            sentence
            for sentence in masked_sentences(answer, focus, synonyms)
            if shortest <= len(sentence.split()) <= longest
            and not sentence.endswith("?")
            and sentence not in boilerplate
        )
    )
    if not kept or (sentences == 1 and len(kept) <= count):
        return kept  # one sentence each: every kept sentence, without a draw (as before joining existed)
    queries = []
    for start in sorted(rng.choice(len(kept), size=min(count, len(kept)), replace=False)):
        query = kept[start]
        for following in kept[start + 1 : start + sentences]:
            if len(f"{query} {following}".split()) > JOINED_DESCRIPTION_WORDS:
                break
            query = f"{query} {following}"
        queries.append(query)
    return queries


def _description_rows(
    question: str,
    answer: str,
    focus: str,
    synonyms: object,
    config: TrainingConfig,
    rng: np.random.Generator,
    boilerplate: set[str],
    target: str | None = None,
) -> list[tuple[str, str, str]]:
    if not _clean(focus):
        return []
    return [
        (described, target or focus_prefixed(_clean(focus), question), "description")
        for described in description_queries(
            answer,
            focus,
            _synonym_list(synonyms),
            rng,
            boilerplate,
            config.descriptions_per_pair,
            config.description_sentences,
        )
    ]


def index_passage(answer: str, focus: object) -> str:
    """An answer's first passage as the Ask index embeds it (``"<focus>: <passage>"``); the answer when
    it has no words or no focus."""
    spans = passage_spans(answer, DenseSettings().passage_words, 1)
    if not spans or not _clean(focus):
        return answer
    start, end = spans[0]
    return focus_prefixed(_clean(focus), answer[start:end])


def _overviews(pool: pd.DataFrame) -> dict[str, str]:
    """Per focus area, the first passage of its overview ("information") answer, as the index embeds it."""
    overview = pool[pool[col.QTYPE] == _INFORMATION]
    found: dict[str, str] = {}
    for focus, answer in zip(overview[col.FOCUS], overview[col.ANSWER], strict=True):
        found.setdefault(normalise_focus(focus), index_passage(_clean(answer), focus))
    return found


def _concept(focus: object, cui: object) -> str:
    return " ".join(filter(None, [normalise_focus(focus).replace(" ", "_"), *str(cui or "").split()]))


def _variants(
    train: pd.DataFrame, config: TrainingConfig, rng: np.random.Generator, pool: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    rows: list[tuple[str, str, str, str]] = []
    variants = config.query_variants
    boilerplate = boilerplate_sentences(pool) if "description" in variants else set()
    overviews = _overviews(pool) if config.description_target == "overview" else {}
    for question, answer, focus, qtype, synonyms, cui in zip(
        train[col.QUESTION],
        train[col.ANSWER],
        train[col.FOCUS],
        train[col.QTYPE],
        train[col.SYNONYMS],
        train[col.CUI],
        strict=True,
    ):
        question, answer = _clean(question), _clean(answer)
        positive = index_passage(answer, focus) if config.positives == "passage" else answer
        concept = _concept(focus, cui)
        if "question" in variants:
            rows.append((question, positive, "question", concept))
        if "keywords" in variants:
            keywords = keywords_query(question, focus, qtype)
            if keywords:
                rows.append((keywords, positive, "keywords", concept))
        if "synonym" in variants:
            swapped = synonym_question(question, focus, _synonym_list(synonyms), rng)
            if swapped:
                rows.append((swapped, positive, "synonym", concept))
        if "description" in variants and not config.description_pairs:
            target = overviews.get(normalise_focus(focus))
            rows.extend(
                (*row, concept)
                for row in _description_rows(
                    question, answer, focus, synonyms, config, rng, boilerplate, target
                )
            )
    if "description" in variants and config.description_pairs:
        # Short pairs, cheap to train on: drawn from a wider sample of the pool than the other variants.
        groups: dict[str, list[int]] = defaultdict(list)
        for position, key in enumerate(pool[col.FOCUS].map(normalise_focus)):
            groups[key].append(position)
        source = pool.iloc[sorted(_round_robin(groups, config.description_pairs, rng))]
        for question, answer, focus, synonyms, cui in zip(
            source[col.QUESTION],
            source[col.ANSWER],
            source[col.FOCUS],
            source[col.SYNONYMS],
            source[col.CUI],
            strict=True,
        ):
            target = overviews.get(normalise_focus(focus))
            rows.extend(
                (*row, _concept(focus, cui))
                for row in _description_rows(
                    _clean(question), _clean(answer), focus, synonyms, config, rng, boilerplate, target
                )
            )
    if "focus" in variants:
        # One answer per focus area: the overview ("information") answer when there is one.
        ranked = train.assign(
            _rank=(train[col.QTYPE] != _INFORMATION).astype(int), _key=train[col.FOCUS].map(normalise_focus)
        )
        ranked = ranked[ranked["_key"] != ""].sort_values(["_key", "_rank"], kind="stable")
        for focus, answer, cui in zip(
            *ranked.drop_duplicates("_key")[[col.FOCUS, col.ANSWER, col.CUI]].T.values, strict=True
        ):
            rows.append((_clean(focus), _clean(answer), "focus", _concept(focus, cui)))
    pairs = pd.DataFrame(rows, columns=[ANCHOR, POSITIVE, "variant", CONCEPT])
    pairs = pairs[(pairs[ANCHOR] != "") & (pairs[POSITIVE] != "")]
    pairs = pairs.drop_duplicates([ANCHOR, POSITIVE]).reset_index(drop=True)
    counts = {name: int((pairs["variant"] == name).sum()) for name in variants}
    return pairs, counts


def fingerprint(pairs: pd.DataFrame) -> str:
    """A short hash of the training pairs, in order."""
    digest = hashlib.sha256()
    for anchor, positive in zip(pairs[ANCHOR], pairs[POSITIVE], strict=True):
        digest.update(json.dumps([anchor, positive], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def _distill_sample(train: pd.DataFrame, count: int, rng: np.random.Generator) -> list[str]:
    """Questions and answers of the training pool (never held-out text), sampled without repeats."""
    texts = list(
        dict.fromkeys([_clean(t) for t in train[col.QUESTION]] + [_clean(t) for t in train[col.ANSWER]])
    )
    texts = [text for text in texts if text]
    if count >= len(texts):
        return texts
    return [texts[i] for i in sorted(rng.choice(len(texts), size=count, replace=False))]


def build_training_data(config: TrainingConfig) -> TrainingData:
    """Everything a run trains and evaluates on, as the config describes (see the module docstring).

    Raises:
        DataNotFoundError: the dataset has not been built or uploaded, or the CSV cannot be read.
        CSVImportError: the CSV file cannot be imported.
        TrainingError: no training pair is left.
    """
    rng = np.random.default_rng(config.seed)
    train, _, heldout, facts = _split(config)
    if config.sources and col.SOURCE in train.columns:
        train = train[train[col.SOURCE].astype(str).isin(config.sources)].reset_index(drop=True)
    pool = train
    train = _cap(train, config, rng)
    pairs, counts = _variants(train, config, rng, pool)
    if len(pairs) < 2:
        raise TrainingError(
            "At least 2 training pairs are needed (the other pairs of a batch are the negatives)."
        )
    distill = _distill_sample(pool, config.distill_texts, rng) if config.distill_weight > 0 else []
    facts.update(
        {
            "train_source_pairs": len(train),
            "train_focus_areas": int(train[col.FOCUS].map(normalise_focus).nunique()),
            "train_pairs": len(pairs),
            "pairs_per_variant": counts,
            "distill_texts": len(distill),
        }
    )
    pairs = pairs.reset_index(drop=True)
    return TrainingData(
        pairs=pairs, heldout=heldout, distill_texts=distill, fingerprint=fingerprint(pairs), summary=facts
    )
