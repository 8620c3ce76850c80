"""The retrieval engine: ranked, grounded answers for a question, with abstain and emergency flags.

``Engine(corpus, model=...)`` builds (or loads from its disk caches) a dense index and a BM25 index over
a corpus and answers :meth:`Engine.search`. Modes:

* ``"hybrid"`` (default): reciprocal-rank fusion of the two rankings below;
* ``"dense"``: cosine similarity of all-MiniLM-L6-v2 embeddings; a pair scores its best text among
  ``"<focus>: <question>"`` and its answer's first passage of about 100 words, ``"<focus>: <passage>"``
  (:class:`~medqa.retrieval.dense.DenseSettings`), and :attr:`Hit.passage` says which span matched;
* ``"bm25"``: BM25 over question + focus + synonyms + answer.

The defaults were chosen on the dev half of the consumer questions (166 questions in people's own
words, judged by concept: :mod:`medqa.evaluation.relevance`) over the full corpus (16,423 pairs) with
the base model, by the mean of Accuracy@1 and Accuracy@3 (the page shows three answers):
``bench/bench_fields.py --passages-only`` (``bench/results/passages.txt``). Embedding the first answer
passage besides ``"focus: question"`` lifts dense retrieval from 0.560 / 0.633 (Accuracy@1 / @3) to
0.699 / 0.831, and hybrid from 0.711 / 0.795 (the previous default: ``"focus: question"``, weights
1 / 1, ``rrf_k`` 60, 100 candidates) to 0.741 / 0.873 with the fusion chosen on the same grid (dense
weight 1.5, BM25 1, ``rrf_k`` 5, 50 candidates); hybrid over the passage alone, without the question
text, reached 0.711 / 0.873 at best. Scored once on the test half (170 other questions on other topics), the new default
reaches Accuracy@1 0.700, Accuracy@3 0.812, MRR@10 0.769 against 0.565 / 0.718 / 0.656 for the
previous one: +0.135 Accuracy@1 (95% paired-bootstrap CI 0.065 to 0.206, p = 0.001), +0.094
Accuracy@3 (0.035 to 0.153, p = 0.004), +0.113 MRR@10 (0.063 to 0.165, p < 0.001). On the curated
held-out questions (index the train split, ask the 120 test questions) it finds the right topic first
for all of them (previous default 0.983), and no focus area's mean rank got worse. Hybrid stays the
default mode: on the dev half it beats dense alone (0.699 / 0.831) and BM25 alone (0.518 / 0.693).

Specialist pages give way (:attr:`EngineSettings.specialist_penalty`): MedQuAD's genetics and
rare-disease sources (GHR, GARD: 10,819 of the 16,423 pairs) have pages whose names and words overlap the
common conditions people ask about ("Mollaret meningitis", "cryptogenic cirrhosis", "Diabetes insipidus"
for a question about diabetes), and none of the 336 consumer questions' topics is found only there. In
hybrid mode a pair from those sources keeps 70% of its fused score unless the question names its focus
(:class:`~medqa.retrieval.conditions.ConditionLexicon`), so a question naming a rare disease still finds
it. Chosen on the dev half (penalty 0 / 0.1 / 0.2 / 0.3 / 0.4 / 0.5: Accuracy@1 0.753 / 0.765 / 0.777 /
0.783 / 0.783 / 0.783; the smallest penalty at the best Accuracy@1) and checked on 300 questions naming a
random GHR/GARD focus in four lay phrasings ("is X inherited?", "X life expectancy" ...): Accuracy@1 0.910
-> 0.947, where the same penalty without the naming exemption costs them (0.890). Test half, scored once
(paired bootstrap 95% CIs): Accuracy@1 0.718 -> 0.724 (+0.006 [-0.012, +0.029]; 2 questions won, 1 lost),
Accuracy@3 0.824 -> 0.841 (+0.018 [-0.006, +0.047]), MRR@10 0.783 -> 0.789 (+0.006 [-0.008, +0.020]; 12 won,
3 lost): smaller than on the dev half (+0.030, +0.006, +0.018), not significant. The curated held-out
questions (judged by answer) stay at MRR@10 0.464: they name their condition, so its pages are exempt
(the 0.460 measured first came from an evaluation view that blanked every focus, so that no page was
ever exempt; fixed in :func:`medqa.evaluation.runner._document_view`).

Measured on the dev half and not taken (2026-11-30, seventh session; base model, Accuracy@1 / @3 against
0.761 / 0.883): pooling a concept's fused scores (each pair gains a tenth of the scores of the other pairs
with its normalised focus: 0.726 / 0.843; only a concept's best pair gains, at 0.05: 0.731 / 0.883), and
raising the pages of a condition the question names (x1.2 and x1.5: 0.756 / 0.883).
Also measured then and not taken: searching a long message (40 words or more, e-mail-like) by its
sentences as well as whole, each pair's cosine mixed with its best sentence's (weight 0.3 / 0.5: all
questions 0.766 / 0.893 and 0.756 / 0.888 against 0.756 / 0.883 from an fp32 index; the 35 long
messages 0.629 / 0.800 and 0.571 / 0.771 against 0.571 / 0.743), with the sentences' mean (0.3: no
change at @1; 0.5: 0.543 at @1 on the long ones), their centroid (0.486), pairs of sentences (0.600 /
0.714), or the best sentence alone (0.400 / 0.600): two long messages at best, and only at one weight.

A long message is fused flatter (twelfth session, :meth:`EngineSettings.fusion_k`): from 40 words on
(e-mail-like: context, history, then the question) the two rankings disagree more, and ``rrf_k`` 5 lets
one ranking's first row win alone; ``rrf_k`` 20 lets a row both rankings place well win instead.
Measured on the dev half's 35 long messages (base model): every constant from 10 to 60 beat 5 (right
topic first 0.571 -> 0.600-0.629, top 3 0.743 -> 0.800), while the 162 shorter questions lose with any
of them (0.796 -> 0.759-0.772), so only long messages change; 20 ties 15 on the first two and leads on
MRR@10 (0.729 against 0.724). Dev half: 0.756 / 0.883 -> 0.766 / 0.893, MRR@10 0.826 -> 0.835 (8
questions won, 1 lost). Test half, scored once: long messages 0.457 / 0.629 -> 0.514 / 0.743 (MRR@10
0.564 -> 0.644); all 199 questions 0.698 / 0.819 -> 0.709 / 0.839, MRR@10 0.770 -> 0.785 (+0.014, 95%
paired-bootstrap CI +0.002 to +0.028, p = 0.04; 10 won, 1 lost). The curated held-out questions are
short, so unchanged; abstention reads cosine similarities, so unchanged too. Measured then on the dev
half and not taken: the same constant for questions of 10-39 words (they lose at 10 and 20, like the
shorter ones), and dense pseudo-relevance feedback (the query vector plus a share of the centroid of
the first hybrid hits' best texts, ranked again): share 0.3 of 3 hits 0.772 / 0.888 against 0.766 /
0.893, shares 0.5 and 1.0 0.751 and 0.741 right topic first: no gain beyond one question.

The first three answers are about three topics (fourteenth session, :attr:`EngineSettings.distinct_topics`):
a question that names no condition ("the room spins when I roll over in bed") is a guess at its topic,
and three pages of one wrong guess ("What is X", "Symptoms of X", "Treatment of X") leave no second
guess on the page; so a further pair of a topic already among the first three waits until just after
them. A topic the question names (:class:`~medqa.retrieval.conditions.ConditionLexicon`) may fill them,
because then its pages are different answers about the condition asked about: without that exemption
the rule took the curated held-out questions ("What are the treatments for X?", judged by the answer)
from Accuracy@3 0.600 to 0.267. The first answer never changes, and a right topic can only move up.
Window chosen on the dev half (the page shows three answers; 2 / 3 / 5 places: Accuracy@3 0.909 /
0.914 / 0.914 against 0.893, base model; 4 won, none lost at 3; measured with topics compared by
casefolded focus, as the specialist rule reads them). Test half, scored once (base model; paired
bootstrap 95% CIs): Accuracy@3 0.839 -> 0.859 (+0.020 [+0.005, +0.040], 4 won, none lost), MRR@10
0.785 -> 0.790 (+0.005 [+0.001, +0.010], p = 0.03); with the recommended preset (``rec-mb8``) 0.864 ->
0.884 and 0.818 -> 0.824. The held-out questions name their condition, so they are unchanged
(``bench/results/quality_topics.txt``). The answers then say so (:data:`TOPICS_NOTE`: different
conditions that could match, not a diagnosis). Measured on the dev half then and not taken (base
model, before this rule; 0.766 / 0.893 / MRR@10 0.835): fusing three rankings (dense over the
questions, dense over the passages, BM25) instead of a pair's best text, at 27 weight and constant
settings (0.716-0.746 / 0.832-0.888); a pair's best text plus a share of its other text (0.1 / 0.2 /
0.3: 0.766 / 0.898, 0.777 / 0.883, 0.772 / 0.873); and, for a trained model, fusing the base model's
dense ranking beside its own (16 settings: at best 0.751 / 0.904 against the trained model's 0.751 /
0.909).

Fusing scores instead of ranks, measured on the dev half and not taken (fifteenth session, base
model, against RRF's 0.766 / 0.914 / MRR@10 0.840): each ranking's scores scaled to [0, 1] over its 50
candidates (min-max) or divided by its best score, then summed with the dense side weighted 0.5 to 3,
with and without RRF kept for long messages (20 settings): at best 0.751 / 0.914 / 0.831 (min-max,
weight 1.5, RRF for long messages) and 0.741 / 0.929 / 0.833 (best score, weight 2): RRF stays.
Also then: the focus's first three MedQuAD synonyms in each question text (``"Gout (also: ...):
question"``): dense 0.685 / 0.853 against 0.685 / 0.838, hybrid 0.756 / 0.909 / 0.833 against 0.766 /
0.914 / 0.840 (BM25 reads the synonyms already): not taken.

More passages for the symptom pages only, measured on the dev half and not taken (eighteenth session,
base model, ONNX Runtime fp32 index; against 0.766 / 0.914 / 0.840): people describe symptoms, and a
"What are the symptoms of X" answer often lists them after its first 100 words, so its 2nd to 4th
passages (5,001 texts more) or its 2nd (2,448) were embedded too, the best text scoring the pair as
ever: 0.766 / 0.898 / 0.834 and 0.766 / 0.904 / 0.836 (dense alone 0.680 / 0.822 and 0.680 / 0.832
against 0.685 / 0.838): like a second passage for every answer, more texts per page give other pages
more chances to outrank the right one.

Fusion weights by whether the question names a condition, measured on the dev half and not taken
(nineteenth session, base model; 136 of its 197 questions name one, as
:class:`~medqa.retrieval.conditions.ConditionLexicon` finds them): those read 0.801 / 0.926 / 0.867 at
the dense weight 1.5 of every question, 0.787 / 0.904 / 0.852 at 1.0, 0.801 / 0.912 / 0.860 at 2.0 and
0.809 / 0.904 / 0.862 at 3.0; the others (descriptions) read 0.689 / 0.885 / 0.780 at 1.5, 0.607 / 0.852 /
0.732 at 1.0, 0.639 / 0.852 / 0.752 at 2.0 and 0.639 / 0.820 / 0.744 at 3.0, and at ``rrf_k`` 2 and 10
instead of 5, 0.656 / 0.852 and 0.607 / 0.885. One weight, 1.5, is the best for both kinds.

A hubness correction, measured on the dev half and not taken (nineteenth session, base model): a few
pages come up for many unrelated questions, so each pair's dense similarity was lowered by a share
(0.05-0.5) of its mean similarity to its k (5-50) closest reference questions, as CSLS does for
cross-lingual retrieval. With MedQuAD's own questions as the reference (4,000 sampled, two seeds):
hybrid right topic first 0.766-0.792 at shares 0.05-0.15 against 0.766, top 3 0.904-0.914 against
0.914, falling below the default from 0.3 on; with all 16,423 (a page's siblings then fill its k
closest) 0.756-0.787, and with the emergency bank's questions as the reference 0.746-0.777. Gains of
at most five questions whose sign changes with the reference: no setting to take.

Two more measured on the dev half and not taken (twenty-first session, base model, against 0.766 /
0.914 / MRR@10 0.840). Conversational words dropped from the BM25 query only (family members:
0.772 / 0.914 / 0.842, one question won; with greetings and "worried", "please": the same; with hedges
and times as well: 0.756 / 0.898 / 0.829): at most one question. A static prior for concepts that
several MedQuAD sources cover (distinct sources sharing a pair's normalised focus or its exact CUI set;
"Diabetes" 2, "Diabetes insipidus" 1), each fused score times 1 + a share of its logarithm or of "two
or more" (shares 0.02-0.2): 0.761-0.726 right topic first, every share losing questions (1-8) and at
most one won: people also ask about conditions only one source covers.

Questions are searched with unknown words spelled as the corpus spells them
(:mod:`medqa.retrieval.spelling`; dev half 0.741 / 0.873 -> 0.753 / 0.892, test half 0.700 / 0.812 ->
0.718 / 0.824), and fusion always reads :attr:`EngineSettings.candidates` rows per ranking, however
many rows are asked for, so the evaluation (100 rows) ranks the top as the Ask page (20 rows) does.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medqa.data import schema as col
from medqa.data.store import load_corpus, table_fingerprint
from medqa.errors import DataNotFoundError
from medqa.retrieval.abstain import Calibration, calibrate, load_calibration, load_or_calibrate, uncalibrated
from medqa.retrieval.bm25 import DEFAULT_FIELDS as DEFAULT_BM25_FIELDS
from medqa.retrieval.bm25 import BM25Index
from medqa.retrieval.conditions import ConditionLexicon, ConditionMention
from medqa.retrieval.dense import DenseIndex, DenseSettings, index_key
from medqa.retrieval.encoder import QueryEncoder, load_query_encoder
from medqa.retrieval.follow_up import FollowUp, interpret
from medqa.retrieval.fusion import reciprocal_rank_fusion, top_rows
from medqa.retrieval.query import clean_question
from medqa.retrieval.quick import QuickScorer
from medqa.retrieval.spelling import QuerySpeller, SpellingCorrection
from medqa.safety import EmergencyNotice, detect_emergency

MODES = ("hybrid", "dense", "bm25")
#: Hybrid has the best mean of Accuracy@1 and @3 on the consumer dev half (module docstring).
DEFAULT_MODE = "hybrid"
DEFAULT_K = 5
MAX_K = 50

ProgressCallback = Callable[[int, int], None]

#: Said under a quick engine's answers (:mod:`medqa.retrieval.quick`) until its threshold is known.
QUICK_NOTE = (
    "Quick answer: the search index is still being built, so the model ranked only the best keyword "
    "matches, and whether the collection really answers this question was not checked."
)

#: Said above answers on different topics (:attr:`EngineSettings.distinct_topics`; module docstring).
TOPICS_NOTE = (
    "Your question does not name a condition, so the first answers are about different conditions that "
    "could match it. They are not a diagnosis."
)

#: Only these columns are kept in memory (the corpus is not duplicated).
_HIT_COLUMNS = (col.ID, col.QUESTION, col.ANSWER, col.FOCUS, col.QTYPE, col.SOURCE, col.URL)
_DEDUPE_SPACE = re.compile(r"\W+")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass(frozen=True)
class EngineSettings:
    """How the engine indexes and fuses (defaults chosen on the consumer dev half; module docstring).

    Attributes:
        dense: what the dense index embeds.
        bm25_fields: what the BM25 index holds.
        candidates: rows each ranking contributes to fusion.
        rrf_k: reciprocal-rank fusion constant.
        long_message_words: a question of at least this many words is a long message (e-mail-like).
        long_message_rrf_k: the fusion constant for a long message (module docstring: a flatter fusion,
            where the two rankings disagree more).
        dense_weight: weight of the dense ranking in fusion.
        bm25_weight: weight of the BM25 ranking in fusion.
        correct_spelling: search unknown words as the corpus spells them (:mod:`medqa.retrieval.spelling`).
        specialist_penalty: the share of its fused score a hybrid-ranked pair from a specialist source
            (:data:`medqa.data.schema.SPECIALIST_SOURCES`) loses unless the question names its focus
            (module docstring).
        distinct_topics: the first this many hybrid-ranked pairs are about as many different topics
            (focus), except a topic the question names (module docstring); 0 or 1 changes nothing.
    """

    dense: DenseSettings = field(default_factory=DenseSettings)
    bm25_fields: str = DEFAULT_BM25_FIELDS
    candidates: int = 50
    rrf_k: int = 5
    long_message_words: int = 40
    long_message_rrf_k: int = 20
    dense_weight: float = 1.5
    bm25_weight: float = 1.0
    correct_spelling: bool = True
    specialist_penalty: float = 0.3
    distinct_topics: int = 3

    def fusion_k(self, query: str) -> int:
        """The reciprocal-rank fusion constant for a query as searched: flatter for a long message."""
        return self.long_message_rrf_k if len(query.split()) >= self.long_message_words else self.rrf_k


@dataclass(frozen=True)
class MatchedPassage:
    """The part of a hit's answer that matched the question best (what the UI highlights).

    Attributes:
        start: offset of the passage's first character in :attr:`Hit.answer`.
        end: offset just past its last character (``hit.answer[start:end]`` is the passage).
        similarity: cosine similarity between the question and ``"<focus>: <passage>"``.
    """

    start: int
    end: int
    similarity: float


@dataclass(frozen=True)
class Hit:
    """One retrieved question-answer pair.

    Attributes:
        rank: 1 for the best hit.
        score: the ranking score of the mode used (fused RRF score, cosine or BM25).
        similarity: cosine similarity between the question and this pair (comparable across modes).
        part_ids: ids of every pair merged into this hit. Some sources split one answer over several
            pairs with the same question; they are shown as one answer, in corpus order. Only pairs from
            the same source page are merged, so ``answer``, ``source`` and ``url`` always belong together.
        passage: the answer passage that matched best, or ``None`` when the pair's question matched
            better than any passage (or the index embeds no passages).
    """

    rank: int
    id: str
    score: float
    similarity: float
    question: str
    answer: str
    focus: str
    qtype: str
    source: str
    url: str
    part_ids: tuple[str, ...] = ()
    passage: MatchedPassage | None = None

    @property
    def passage_text(self) -> str:
        """The matched passage's text (empty without one)."""
        return self.answer[self.passage.start : self.passage.end] if self.passage else ""


@dataclass(frozen=True)
class SearchResult:
    """What a search returns: hits plus the flags the UI must act on first.

    Attributes:
        question: the question as searched after cleaning (trimmed, capped).
        searched: the text actually searched: spelling corrected (:meth:`Engine.spelling`), and
            ``"<focus>: <question>"`` for a follow-up.
        hits: best first, near-duplicate answers removed.
        abstain: no hit is reliable enough (``confidence`` below the calibrated ``threshold``).
        confidence: cosine similarity of the closest pair.
        threshold: the calibrated abstention threshold.
        emergency: an emergency notice to show before anything else, or ``None``. When the question
            describes an emergency but matches no answer reliably, ``hits`` hold the NIH information
            about the emergency's condition (``searched`` is its query) if the corpus has it, else
            nothing: an emergency is never followed by unreliable passages.
        follow_up: how a follow-up was interpreted, or ``None``.
        mentions: conditions the question names.
        notes: messages for the user (e.g. the question was shortened).
        mode: the ranking mode used.
        elapsed_ms: search time.
    """

    question: str
    searched: str
    hits: tuple[Hit, ...]
    abstain: bool
    confidence: float
    threshold: float
    emergency: EmergencyNotice | None
    follow_up: FollowUp | None
    mentions: tuple[ConditionMention, ...]
    notes: tuple[str, ...]
    mode: str
    elapsed_ms: float

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (the CLI's ``--json`` output)."""
        return {
            "question": self.question,
            "searched": self.searched,
            "mode": self.mode,
            "abstain": self.abstain,
            "emergency": {
                **asdict(self.emergency),
                "heading": self.emergency.heading,
                "title": self.emergency.title,
            }
            if self.emergency
            else None,
            "follow_up": {"focus": self.follow_up.focus, "note": self.follow_up.note}
            if self.follow_up
            else None,
            "confidence": round(self.confidence, 4),
            "threshold": round(self.threshold, 4),
            "mentions": [asdict(mention) for mention in self.mentions],
            "notes": list(self.notes),
            "hits": [asdict(hit) for hit in self.hits],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def load_search_corpus(spec: str) -> pd.DataFrame:
    """The answered pairs of a dataset named on the command line.

    Args:
        spec: ``full``, ``curated``, a stored upload's name, a ``.parquet`` file, or a question-answer
            ``.csv``/``.tsv`` file (imported on the fly, columns guessed as on the Home page).

    Raises:
        DataNotFoundError: the dataset or file does not exist.
        CSVImportError: a CSV file cannot be imported.
    """
    path = Path(spec).expanduser()
    if path.suffix.casefold() in _CSV_SUFFIXES:
        if not path.is_file():
            raise DataNotFoundError(f"No such file: {path}.")
        from medqa.data.upload import import_csv

        pairs = import_csv(path.read_bytes()).pairs
        return pairs[pairs[col.HAS_ANSWER]].reset_index(drop=True)
    if path.suffix.casefold() == ".parquet" and not path.is_file():
        raise DataNotFoundError(f"No such file: {path}.")
    return load_corpus(str(path) if path.suffix.casefold() == ".parquet" else spec)


class _CorpusParts:
    """What retrieval needs from a corpus besides embeddings: BM25, names, spelling, hit columns, groups.

    Shared by the engines over one corpus while any of them lives (one copy of the answers, not one
    per model, on a 1 GB server).
    """

    @classmethod
    def shared(
        cls, corpus: pd.DataFrame, fingerprint: str, bm25_fields: str, use_cache: bool
    ) -> _CorpusParts:
        """The parts of a corpus, built once while an engine holds them."""
        key = (fingerprint, bm25_fields, use_cache)
        with _live_parts_lock:
            parts = _live_parts.get(key)
            if parts is None:
                parts = cls(corpus, fingerprint, bm25_fields, use_cache)
                _live_parts[key] = parts
            return parts

    def __init__(self, corpus: pd.DataFrame, fingerprint: str, bm25_fields: str, use_cache: bool) -> None:
        self.bm25 = BM25Index(corpus, bm25_fields, use_cache=use_cache, corpus_fingerprint=fingerprint)
        self.lexicon = ConditionLexicon(corpus)
        self.speller = QuerySpeller.from_corpus(corpus, use_cache=use_cache, corpus_fingerprint=fingerprint)
        self.corpus = corpus[[name for name in (*_HIT_COLUMNS, col.SPLIT) if name in corpus]].reset_index(
            drop=True
        )
        # Arrow-backed arrays, read per hit: no Python string copy of every answer.
        self.columns = {name: self.corpus[name].astype(str).array for name in _HIT_COLUMNS}
        # Rows sharing focus, question, source and page are parts of one answer; group number per row.
        # (Rows of other sources are not merged in: a card shows one source's text with that source.)
        question_keys = (
            self.corpus[col.FOCUS].astype(str).str.casefold()
            + "\x1f"
            + self.corpus[col.SOURCE].astype(str)
            + "\x1f"
            + self.corpus[col.URL].astype(str)
            + "\x1f"
            + (
                self.corpus[col.QUESTION]
                .astype(str)
                .str.casefold()
                .str.replace(_DEDUPE_SPACE, " ", regex=True)
            )
        )
        self.group = pd.factorize(question_keys)[0]
        self.specialist = self.corpus[col.SOURCE].astype(str).isin(col.SPECIALIST_SOURCES).to_numpy()
        # Rows of each multi-row group, in corpus order (numpy: a pandas groupby-apply took ~1 s here).
        order = np.argsort(self.group, kind="stable")
        grouped = self.group[order]
        cuts = np.flatnonzero(np.diff(grouped)) + 1
        starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(order)]])
        self.group_rows: dict[int, np.ndarray] = {
            int(grouped[start]): order[start:end]
            for start, end in zip(starts, ends, strict=True)
            if end - start > 1
        }


_live_parts: weakref.WeakValueDictionary[tuple[str, str, bool], _CorpusParts] = weakref.WeakValueDictionary()
_live_parts_lock = threading.Lock()


class Engine:
    """Dense + BM25 retrieval over one corpus with one model."""

    def __init__(
        self,
        corpus: pd.DataFrame,
        *,
        model: str = "base",
        corpus_name: str = "custom",
        settings: EngineSettings | None = None,
        progress: ProgressCallback | None = None,
        use_cache: bool = True,
        isolated: bool = False,
        quick: bool = False,
    ) -> None:
        """Index a corpus (answered pairs) with a model.

        Args:
            corpus: a pairs table restricted to answered pairs (:func:`medqa.data.store.load_corpus`).
            model: ``"base"``, a trained run, a folder or a Hub id (:mod:`medqa.models`).
            corpus_name: shown in results and logs.
            settings: index and fusion settings.
            progress: called as ``progress(done, total)`` while the dense index is built.
            use_cache: read and write the on-disk embedding cache.
            isolated: build a missing embedding index in a child process (what the app does, so the
                server never imports torch; see :mod:`medqa.retrieval.dense`).
            quick: build no index: rank with the model over BM25's candidates only, embedded per
                question (:mod:`medqa.retrieval.quick`), while the index is built elsewhere.

        Raises:
            DataNotFoundError: the corpus is empty.
            ModelLoadError: the model cannot be loaded.
        """
        if len(corpus) == 0:
            raise DataNotFoundError(f"The corpus {corpus_name!r} has no answered questions to search.")
        started = time.perf_counter()
        self.settings = settings or EngineSettings()
        self.model_name = model
        self.corpus_name = corpus_name
        self.corpus_fingerprint = table_fingerprint(corpus)
        # Before the index: a model only torch can run is refused in the (isolated, torch-free) server.
        self.encoder: QueryEncoder = load_query_encoder(model, allow_torch=not isolated)
        self.quick = quick
        self.dense: DenseIndex | QuickScorer
        if quick:
            key = index_key(model, self.corpus_fingerprint, self.settings.dense)
            self.dense = QuickScorer(corpus, self.encoder, self.settings.dense, key=key)
        else:
            self.dense = DenseIndex.build_or_load(
                corpus, model, self.settings.dense, corpus_fingerprint=self.corpus_fingerprint,
                progress=progress, use_cache=use_cache, isolated=isolated,
            )  # fmt: skip
        # Engines over one corpus (the Ask page's side-by-side models) share what only the corpus decides.
        parts = _CorpusParts.shared(corpus, self.corpus_fingerprint, self.settings.bm25_fields, use_cache)
        self._parts = parts
        self.bm25, self.lexicon, self.corpus = parts.bm25, parts.lexicon, parts.corpus
        self.speller = parts.speller
        self._columns, self._group, self._group_rows = parts.columns, parts.group, parts.group_rows
        self._specialist = parts.specialist
        self._calibration: Calibration | None = None
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_dataset(cls, corpus_name: str = "full", model: str = "base", **kwargs: object) -> Engine:
        """An engine over a dataset: ``full``, ``curated``, an upload's name, or a parquet or CSV path."""
        return cls(load_search_corpus(corpus_name), model=model, corpus_name=corpus_name, **kwargs)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.corpus)

    @property
    def calibration(self) -> Calibration:
        """The abstention calibration for this model and corpus (computed once, then stored).

        A quick engine uses the stored calibration of the index being built when there is one; else it
        answers with what it found, and says so (:data:`QUICK_NOTE`): it cannot calibrate on candidates.
        """
        if self._calibration is None:
            if self.quick:
                found = load_calibration(self)  # looked for again until the index's calibration exists
                if found is None:
                    return uncalibrated(self)
                self._calibration = found
            else:
                self._calibration = load_or_calibrate(self)
        return self._calibration

    def recalibrate(self) -> Calibration:
        """Recompute (and store) the abstention threshold, e.g. after the question sets changed."""
        self._calibration = calibrate(self)
        return self._calibration

    def spelling(self, question: str) -> SpellingCorrection:
        """The question as this engine searches it: unknown words spelled as the corpus spells them."""
        if not self.settings.correct_spelling:
            return SpellingCorrection(question)
        return self.speller.correct(question)

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of queries."""
        return self.encoder.encode(list(queries))

    def top_similarities(
        self, queries: Sequence[str], *, hidden: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """For each query as searched (:meth:`spelling`), the cosine similarity of its closest pair
        (optionally hiding some rows): what the abstention threshold is calibrated on."""
        queries = [self.spelling(query).text for query in queries]
        vectors = self.encode_queries(queries)
        result = np.empty(len(vectors), dtype=np.float64)
        for index, vector in enumerate(vectors):
            scores = self._similarities(queries[index], vector)
            if hidden is not None and len(hidden[index]):
                scores[hidden[index]] = -np.inf
            result[index] = float(scores.max())
        return result

    def rank(
        self, query: str, *, mode: str = DEFAULT_MODE, limit: int = 50, query_vector: np.ndarray | None = None
    ) -> tuple[list[int], list[float], np.ndarray]:
        """Rows ranked for a query, their ranking scores, and the cosine similarity of every row.

        Args:
            query: the text to search.
            mode: ``"hybrid"``, ``"dense"`` or ``"bm25"``.
            limit: how many rows to return.
            query_vector: the query's embedding when already computed.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        vector = query_vector if query_vector is not None else self.encode_queries([query])[0]
        lexical = self.bm25.scores(query) if mode != "dense" or self.quick else None
        similarities = self._similarities(query, vector, lexical)
        if mode == "dense":
            rows = top_rows(similarities, limit)
            return rows.tolist(), similarities[rows].astype(float).tolist(), similarities
        assert lexical is not None
        if mode == "bm25":
            rows = top_rows(lexical, limit, positive_only=True)
            return rows.tolist(), lexical[rows].astype(float).tolist(), similarities
        # Fusion always reads the same candidates, so the top ranks do not depend on how many rows are
        # asked for (the evaluation asks for 100, the Ask page for 20); more rows follow by similarity.
        candidates = self.settings.candidates
        fused = reciprocal_rank_fusion(
            [top_rows(similarities, candidates), top_rows(lexical, candidates, positive_only=True)],
            weights=[self.settings.dense_weight, self.settings.bm25_weight],
            k=self.settings.fusion_k(query),
        )
        named = {mention.focus.casefold() for mention in self.lexicon.find(query)}
        fused = self._distinct_topics(self._prefer_consumer_pages(named, fused), named)[:limit]
        if len(fused) < limit:
            taken = {row for row, _ in fused}
            extra = [int(row) for row in top_rows(similarities, limit + len(taken)) if int(row) not in taken]
            fused += [(row, 0.0) for row in extra[: limit - len(fused)]]
        return [row for row, _ in fused], [score for _, score in fused], similarities

    def _prefer_consumer_pages(
        self, named: set[str], fused: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """Fused rows re-ordered after specialist pages whose focus the question does not name (``named``:
        casefolded foci) lose :attr:`EngineSettings.specialist_penalty` of their score (module docstring)."""
        penalty = self.settings.specialist_penalty
        if not penalty or not any(self._specialist[row] for row, _ in fused):
            return fused
        focus = self._columns[col.FOCUS]
        kept = 1.0 - penalty
        adjusted = [
            (row, score * kept if self._specialist[row] and focus[row].casefold() not in named else score)
            for row, score in fused
        ]
        return sorted(adjusted, key=lambda item: -item[1])

    def _distinct_topics(self, fused: list[tuple[int, float]], named: set[str]) -> list[tuple[int, float]]:
        """Fused rows with the first :attr:`EngineSettings.distinct_topics` about different topics: a
        further pair of a topic already among them, unless the question names it (``named``: casefolded
        foci), waits until just after them, in its order (module docstring). A waiting pair's score is
        lowered to the last of them, so scores still fall down the list and a card's match label
        (:func:`medqa.presentation.match_label`) is never better than one above it."""
        window = self.settings.distinct_topics
        if window <= 1:
            return fused
        focus = self._columns[col.FOCUS]
        first: list[tuple[int, float]] = []
        waiting: list[tuple[int, float]] = []
        shown: set[str] = set()
        rest: list[tuple[int, float]] = []
        for position, item in enumerate(fused):
            if len(first) == window:
                rest = fused[position:]
                break
            topic = focus[item[0]].casefold()
            if topic in shown and topic not in named:
                waiting.append(item)
                continue
            shown.add(topic)
            first.append(item)
        if not waiting:
            return fused
        floor = first[-1][1]  # a pair waits only behind its topic's first pair, so ``first`` has rows
        return first + [(row, min(score, floor)) for row, score in waiting] + rest

    def _similarities(self, query: str, vector: np.ndarray, lexical: np.ndarray | None = None) -> np.ndarray:
        """Cosine of the query with every pair: from the index, or (quick) for BM25's candidates only."""
        if isinstance(self.dense, QuickScorer):
            lexical = self.bm25.scores(query) if lexical is None else lexical
            return self.dense.scores(vector, top_rows(lexical, self.settings.candidates, positive_only=True))
        return self.dense.scores(vector)

    def _hit(self, rank: int, row: int, score: float, similarity: float, vector: np.ndarray) -> Hit:
        values = {name: self._columns[name][row] for name in _HIT_COLUMNS}
        parts = self._group_rows.get(int(self._group[row]))
        part_ids: tuple[str, ...] = (values[col.ID],)
        offset = 0  # where this row's answer starts in the merged answer
        if parts is not None:
            answers: list[str] = []
            for part in parts:
                if self._columns[col.ANSWER][part] not in answers:
                    answers.append(self._columns[col.ANSWER][part])
            own = answers.index(values[col.ANSWER])
            offset = sum(len(answer) + 2 for answer in answers[:own])
            values[col.ANSWER] = "\n\n".join(answers)
            part_ids = tuple(self._columns[col.ID][part] for part in parts)
        best = self.dense.best_passage(row, vector)
        passage = MatchedPassage(best[0] + offset, best[1] + offset, best[2]) if best else None
        return Hit(
            rank=rank, score=float(score), similarity=float(similarity), part_ids=part_ids, passage=passage,
            **values,
        )  # fmt: skip

    def _answer_key(self, row: int) -> str:
        return _DEDUPE_SPACE.sub(" ", self._columns[col.ANSWER][row][:400].casefold()).strip()

    def search(
        self, question: str, k: int = DEFAULT_K, *, mode: str | None = None, context_focus: str | None = None
    ) -> SearchResult:
        """Answer a question with the ``k`` best pairs and the abstain and emergency flags.

        Args:
            question: what the user typed (trimmed and capped here).
            k: number of hits (1 to 50).
            mode: ``"hybrid"``, ``"dense"`` or ``"bm25"`` (default :data:`DEFAULT_MODE`).
            context_focus: the focus of the conversation so far; a follow-up naming no condition is
                searched about it (see :mod:`medqa.retrieval.follow_up`).

        Raises:
            QuestionError: the question is empty or has no words.
        """
        started = time.perf_counter()
        mode = mode or DEFAULT_MODE
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        k = max(1, min(int(k), MAX_K))
        cleaned, notes = clean_question(question)
        spelling = self.spelling(cleaned)
        corrected = spelling.text
        # The learned emergency check reads the base model's embedding of what was typed.
        base = self.model_name == "base"
        vectors = self.encode_queries([cleaned, corrected] if spelling.changes and base else [corrected])
        vector = vectors[-1]
        if spelling.changes:
            notes = [*notes, spelling.note]
        emergency = detect_emergency(cleaned, embedding=vectors[0] if base else None)
        mentions = tuple(self.lexicon.find(corrected))
        follow_up = interpret(corrected, bool(mentions), context_focus)
        hits, confidence = self._ranked_hits(
            follow_up.searched if follow_up else corrected, mode, k, None if follow_up else vector
        )
        threshold = self.calibration.threshold
        if follow_up is not None and confidence < threshold:
            # Read in context, the question matches nothing well: it may be a new subject; try it alone.
            follow_up = None
            hits, confidence = self._ranked_hits(corrected, mode, k, vector)
        searched = follow_up.searched if follow_up else corrected
        unchecked = self.quick and not np.isfinite(self.calibration.in_domain_answered)
        if unchecked:
            notes = [*notes, QUICK_NOTE]
        if emergency is not None and (confidence < threshold or not hits or unchecked):
            # Never leave an emergency with "no reliable answer": show the condition's NIH information
            # after the notice when the corpus has it, else the notice alone (no unreliable passages).
            info_hits, info_confidence = self._ranked_hits(emergency.category.info_query, mode, k)
            if info_hits and info_confidence >= threshold:
                hits, confidence, searched = info_hits, info_confidence, emergency.category.info_query
                label = emergency.label.lower()
                notes = [*notes, f"NIH information about {label}, after the emergency notice."]
            else:
                hits = []
        abstain = confidence < threshold or not hits
        window = self.settings.distinct_topics
        unnamed = mode == "hybrid" and not abstain and searched == corrected and not mentions
        if unnamed and len({hit.focus.casefold() for hit in hits[:window]}) > 1:
            notes = [*notes, TOPICS_NOTE]
        return SearchResult(
            question=cleaned,
            searched=searched,
            hits=tuple(hits),
            abstain=abstain,
            confidence=confidence,
            threshold=threshold,
            emergency=emergency,
            follow_up=follow_up,
            mentions=mentions,
            notes=tuple(notes),
            mode=mode,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def _ranked_hits(
        self, text: str, mode: str, k: int, vector: np.ndarray | None = None
    ) -> tuple[list[Hit], float]:
        """The k best hits for a text (answer parts merged, repeated answers dropped) and the confidence."""
        vector = self.encode_queries([text])[0] if vector is None else vector
        rows, scores, similarities = self.rank(text, mode=mode, limit=k * 4, query_vector=vector)
        hits: list[Hit] = []
        seen_groups: set[int] = set()
        seen_answers: set[str] = set()
        for row, score in zip(rows, scores, strict=True):
            group, answer_key = int(self._group[row]), self._answer_key(row)
            if group in seen_groups or answer_key in seen_answers:
                continue  # another part of an answer already shown, or the same text from another source
            seen_groups.add(group)
            seen_answers.add(answer_key)
            hits.append(self._hit(len(hits) + 1, row, score, similarities[row], vector))
            if len(hits) == k:
                break
        confidence = float(similarities.max()) if len(similarities) else 0.0
        return hits, confidence
