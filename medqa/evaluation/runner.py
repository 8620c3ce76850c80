"""Score several retrieval systems on one evaluation set, query by query, and compare them.

A *system* is written as a short spec:

==================  =====================  ===============================================
spec                shown as               ranking
==================  =====================  ===============================================
``bm25``            ``BM25``               BM25 only (no model)
``base``            ``base``               dense, all-MiniLM-L6-v2
``models/NAME``     ``NAME``               dense, a trained run (a name or any folder)
``hybrid:base``     ``hybrid (base)``      reciprocal-rank fusion of dense and BM25
``hybrid:NAME``     ``hybrid (NAME)``      the same with a trained run
==================  =====================  ===============================================

Ranking reuses :class:`medqa.retrieval.engine.Engine` (dense, hybrid) and its BM25 index, so the
numbers describe the engine the app runs. What each pair is represented by depends on how the set
is judged:

* **judged by answer** (held-out split, CSV with answers): pairs are represented by their *answer
  text only* (dense and BM25). The held-out questions themselves are in the corpus, so matching
  questions would be a lookup, not retrieval; this is also the task the models are trained on
  (question -> answer).
* **judged by topic** (consumer questions, CSV with focus; relevance by concept, see
  :mod:`medqa.evaluation.relevance`): pairs are represented exactly as the Ask
  engine indexes them (its default settings), so the scores describe what a user of the app gets.

Every system is ranked to depth 100 (``map@100``); metrics come from
:func:`medqa.evaluation.metrics.per_query_metrics`. Per-query results of each system are cached under
``data/evaluations`` keyed by model fingerprint, set fingerprint, corpus fingerprint, mode and
ranking settings: repeating an evaluation only recomputes the statistics (well under a second), and
a corrupt cache file is simply recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from medqa import models, settings
from medqa.data import schema as col
from medqa.data import store
from medqa.data.medquad import write_parquet_atomic
from medqa.data.parquet import read_parquet
from medqa.errors import EvaluationError
from medqa.evaluation.metrics import aggregate, metric_names, per_query_metrics
from medqa.evaluation.sets import JUDGED_BY_ANSWER, EvaluationSet
from medqa.evaluation.statistics import (
    PairedComparison,
    compare_systems,
    paired_bootstrap_ci,
    spread_by_group,
    spread_summary,
)

if TYPE_CHECKING:
    from medqa.retrieval.builds import IndexBuild
    from medqa.retrieval.dense import DenseSettings

logger = logging.getLogger(__name__)

BM25 = "bm25"
DENSE = "dense"
HYBRID = "hybrid"
#: Ranking depth: enough for map@100, the deepest metric.
DEPTH = 100
#: Metrics compared pairwise (with CI and p-value) against the reference system.
COMPARISON_METRICS: tuple[str, ...] = ("mrr@10", "accuracy@3")
#: Metrics shown in the summary chart.
CHART_METRICS: tuple[str, ...] = ("accuracy@1", "accuracy@3", "accuracy@10", "mrr@10", "ndcg@10")
#: Bump when ranking, metrics or the cached columns change, so older cache files are not reused.
CACHE_VERSION = 3

#: How pairs are represented: answer text only, or as the Ask engine indexes them.
DOCUMENTS_ANSWER = "answer"
DOCUMENTS_ENGINE = "engine"

ProgressCallback = Callable[[float, str], None]

_PER_QUERY_COLUMNS = (
    "query_id",
    "first_relevant_rank",
    "top1_id",
    "top1_question",
    "top1_answer",
    "top1_focus",
)


@dataclass(frozen=True)
class System:
    """One retrieval system to evaluate.

    Attributes:
        spec: What the user wrote (``bm25``, ``base``, ``models/NAME``, ``hybrid:base`` ...).
        label: Name shown to users (``BM25``, ``base``, ``NAME``, ``hybrid (base)``).
        mode: ``bm25``, ``dense`` or ``hybrid``.
        model: Model name for :mod:`medqa.models` (``None`` for BM25).
    """

    spec: str
    label: str
    mode: str
    model: str | None


def _model_label(model: str) -> str:
    if model == models.BASE:
        return models.BASE
    return Path(model.rstrip("/\\")).name or model


def parse_system(spec: str) -> System:
    """Turn a spec such as ``bm25``, ``base``, ``models/run-1`` or ``hybrid:base`` into a :class:`System`.

    Raises:
        EvaluationError: The spec is empty or names no model after ``hybrid:`` / ``dense:``.
    """
    text = str(spec).strip()
    if not text:
        raise EvaluationError("A system name is empty; use bm25, base, a trained run or hybrid:<model>.")
    lowered = text.casefold()
    if lowered == BM25:
        return System(spec=BM25, label="BM25", mode=BM25, model=None)
    for mode in (HYBRID, DENSE):
        if lowered.startswith(f"{mode}:"):
            model = text[len(mode) + 1 :].strip()
            if not model:
                raise EvaluationError(f"{text!r} names no model; write e.g. {mode}:base.")
            label = _model_label(model)
            return System(
                spec=f"{mode}:{model}" if mode == HYBRID else model,
                label=f"hybrid ({label})" if mode == HYBRID else label,
                mode=mode,
                model=model,
            )
    return System(spec=text, label=_model_label(text), mode=DENSE, model=text)


def parse_systems(specs: Sequence[str | System]) -> list[System]:
    """Parse specs, drop repeats, and make sure no two systems share a label.

    Raises:
        EvaluationError: No system is given, or two different systems would be shown under one name.
    """
    systems: list[System] = []
    for spec in specs:
        system = spec if isinstance(spec, System) else parse_system(spec)
        if any(other.spec == system.spec for other in systems):
            continue
        systems.append(system)
    if not systems:
        raise EvaluationError("Choose at least one system to evaluate.")
    labels = [system.label for system in systems]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise EvaluationError(
            f"Two systems would both be shown as {repeated[0]!r}; give the runs different names."
        )
    return systems


@dataclass
class SystemRun:
    """One system's per-query results on an evaluation set.

    ``per_query`` is indexed by query id, with ``first_relevant_rank`` (1-based, ``<NA>`` when no
    relevant pair is in the top 100), the top pair (``top1_id``, ``top1_question``, ``top1_answer``,
    ``top1_focus``) and every metric column.
    """

    system: System
    per_query: pd.DataFrame
    seconds: float
    cached: bool
    cache_key: str


@dataclass
class EvaluationResult:
    """Every system scored on the same queries, with summary, comparisons and breakdowns.

    Attributes:
        eval_set: The evaluation set.
        corpus_name: Corpus searched.
        corpus_fingerprint: Content hash of that corpus.
        documents: ``answer`` (pairs represented by their answers) or ``engine`` (as the Ask engine).
        systems: In display order; the reference system is ``systems[0]`` unless ``reference`` says.
        runs: Per-system results, keyed by label.
        summary: One row per system: ``system``, ``queries``, and per metric its mean plus
            ``<metric> low`` / ``<metric> high`` (95% bootstrap CI of the mean).
        comparisons: Each other system against the reference on :data:`COMPARISON_METRICS`.
        reference: Label of the system the others are compared with.
        seconds: Wall time of the whole evaluation.
    """

    eval_set: EvaluationSet
    corpus_name: str
    corpus_fingerprint: str
    documents: str
    systems: list[System]
    runs: dict[str, SystemRun]
    summary: pd.DataFrame
    comparisons: list[PairedComparison]
    reference: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """System labels in display order."""
        return [system.label for system in self.systems]

    @property
    def all_cached(self) -> bool:
        """True when no system had to be run (every result came from the disk cache)."""
        return all(run.cached for run in self.runs.values())

    def per_query_table(self) -> pd.DataFrame:
        """Long table: one row per (system, query) with the query, its groups, top answer and metrics."""
        queries = self.eval_set.table().set_index("query_id")
        frames = []
        for label in self.labels:
            frame = self.runs[label].per_query.join(queries, how="left")
            frame.insert(0, "system", label)
            frames.append(frame.reset_index())
        table = pd.concat(frames, ignore_index=True)
        first = ["system", "query_id", "query", col.FOCUS, col.QTYPE, "relevant"]
        return table[[*first, *[c for c in table.columns if c not in first]]]

    def metric_frame(self, metric: str) -> pd.DataFrame:
        """One column per system with a metric's per-query values, indexed by query id."""
        return pd.DataFrame({label: self.runs[label].per_query[metric] for label in self.labels})

    def comparison(self, label: str, metric: str) -> PairedComparison | None:
        """The comparison of one system with the reference on a metric, if computed."""
        return next(
            (item for item in self.comparisons if item.system_b == label and item.metric == metric), None
        )

    def verdicts(self) -> list[str]:
        """One plain sentence per comparison."""
        return [comparison.verdict() for comparison in self.comparisons]

    def spread_table(self, *, by: str = "focus", metric: str = "mrr@10") -> pd.DataFrame:
        """Mean of a metric per focus area (or question type) for every system, worst first.

        Returns:
            Columns ``group``, ``n`` and one per system, sorted by the reference system's mean.
        """
        if by not in (col.FOCUS, col.QTYPE):
            raise EvaluationError("Group by 'focus' or 'qtype'.")
        groups = self.eval_set.table().set_index("query_id")[by]
        table = None
        for label in self.labels:
            per_query = self.runs[label].per_query[[metric]].join(groups)
            spread = spread_by_group(per_query, by, metric).rename(columns={"mean": label})
            table = spread if table is None else table.merge(spread[["group", label]], on="group")
        assert table is not None
        return table.sort_values([self.reference, "group"], kind="stable").reset_index(drop=True)

    def balance(self, *, by: str = "focus", metric: str = "mrr@10", worst: int = 3) -> pd.DataFrame:
        """Per system: min / median / max of the group means and its worst groups."""
        spread = self.spread_table(by=by, metric=metric)
        rows = []
        for label in self.labels:
            summary = spread_summary(spread[["group", label]].rename(columns={label: "mean"}))
            worst_groups = spread.sort_values([label, "group"], kind="stable")["group"].head(worst)
            rows.append({"system": label, **summary, "worst": ", ".join(worst_groups)})
        return pd.DataFrame(rows)

    def category_comparison(
        self, label_a: str, label_b: str, *, by: str = "focus", metric: str = "mrr@10"
    ) -> pd.DataFrame:
        """Per group: both systems' means and ``difference = b - a``, sorted by difference."""
        spread = self.spread_table(by=by, metric=metric)
        table = spread[["group", "n", label_a, label_b]].copy()
        table["difference"] = table[label_b] - table[label_a]
        return table.sort_values(["difference", "group"], kind="stable").reset_index(drop=True)

    def disagreements(self, label_a: str, label_b: str, *, metric: str = "mrr@10") -> pd.DataFrame:
        """Queries where two systems score differently on a metric, with both top answers.

        ``outcome`` is ``win`` when ``label_b`` scores higher, ``loss`` when lower; biggest gaps first.
        """
        a = self.runs[label_a].per_query
        b = self.runs[label_b].per_query
        queries = self.eval_set.table().set_index("query_id")
        difference = (b[metric] - a[metric]).reindex(a.index)
        differ = ~np.isclose(difference.to_numpy(dtype=float), 0.0, rtol=0.0, atol=1e-12)
        ids = a.index[differ]
        table = pd.DataFrame(
            {
                "query": queries.loc[ids, "query"],
                col.FOCUS: queries.loc[ids, col.FOCUS],
                "outcome": np.where(difference[ids] > 0, "win", "loss"),
                "difference": difference[ids],
                f"rank ({label_a})": a.loc[ids, "first_relevant_rank"],
                f"rank ({label_b})": b.loc[ids, "first_relevant_rank"],
                f"top answer ({label_a})": a.loc[ids, "top1_answer"],
                f"top answer ({label_b})": b.loc[ids, "top1_answer"],
                f"top question ({label_a})": a.loc[ids, "top1_question"],
                f"top question ({label_b})": b.loc[ids, "top1_question"],
            },
            index=ids,
        )
        order = np.argsort(-np.abs(table["difference"].to_numpy(dtype=float)), kind="stable")
        return table.iloc[order]

    def outcome_counts(self, label_a: str, label_b: str, *, metric: str = "mrr@10") -> dict[str, int]:
        """Queries ``label_b`` wins, loses and ties against ``label_a`` on a metric."""
        a = self.runs[label_a].per_query[metric]
        b = self.runs[label_b].per_query[metric].reindex(a.index)
        tied = np.isclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), rtol=0.0, atol=1e-12)
        return {
            "wins": int(((b > a) & ~tied).sum()),
            "losses": int(((b < a) & ~tied).sum()),
            "ties": int(tied.sum()),
        }


def evaluations_dir() -> Path:
    """Folder of cached per-system evaluation results."""
    path = settings.data_dir() / "evaluations"
    path.mkdir(parents=True, exist_ok=True)
    return path


def documents_for(eval_set: EvaluationSet) -> str:
    """How pairs are represented for a set: answer text for answer-judged sets, else as the engine does."""
    return DOCUMENTS_ANSWER if eval_set.judged_by == JUDGED_BY_ANSWER else DOCUMENTS_ENGINE


def _engine_settings(documents: str, correct_spelling: bool = True):
    from medqa.retrieval.dense import DenseSettings
    from medqa.retrieval.engine import EngineSettings

    if documents == DOCUMENTS_ANSWER:
        # BM25 indexes the "question" field of the answer view, which holds the answer text.
        return EngineSettings(
            dense=DenseSettings(fields="answer"), bm25_fields="question", correct_spelling=correct_spelling
        )
    return EngineSettings(correct_spelling=correct_spelling)


def _document_view(corpus: pd.DataFrame, documents: str) -> pd.DataFrame:
    """The corpus as the engine should index it: for ``answer``, nothing but the answer text is indexed.

    The focus stays (not embedded, not in BM25's field), so what the Ask page reads from it works as
    there: the specialist re-ranking exempts the pages of the condition a question names. Blanked (until
    2026-11-30), it penalised every GHR/GARD page of the curated held-out split, named or not, and
    showed the recommended preset losing there (hybrid MRR@10 0.428 vs 0.460, p = 0.033) where the
    Ask page's ranking is level (0.455 vs 0.464, p = 0.55).
    """
    if documents != DOCUMENTS_ANSWER:
        return corpus
    return corpus.assign(**{col.QUESTION: corpus[col.ANSWER]})


def model_key(system: System) -> str:
    """What identifies a system's model: its weights' fingerprint (``bm25`` for BM25)."""
    if system.model is None:
        return BM25
    return models.model_fingerprint(system.model)


def cache_key(
    system: System,
    eval_set: EvaluationSet,
    corpus_fingerprint: str,
    documents: str,
    correct_spelling: bool = True,
) -> str:
    """Cache file name of one system's results on one set and corpus."""
    engine_settings = _engine_settings(documents, correct_spelling)
    payload = json.dumps(
        {
            "model": model_key(system),
            "mode": system.mode,
            "set": eval_set.fingerprint(),
            "corpus": corpus_fingerprint,
            "documents": documents,
            "engine": asdict(engine_settings)
            if system.mode != BM25
            else [engine_settings.bm25_fields, engine_settings.correct_spelling],
            "depth": DEPTH,
            "version": CACHE_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return f"{system.mode}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"


def _load_cached(path: Path, eval_set: EvaluationSet) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = read_parquet(path)
    except Exception as error:  # pyarrow raises many types for truncated or foreign files
        logger.warning("Evaluation cache %s is unreadable (%s); recomputing.", path.name, error)
        return None
    expected = {*_PER_QUERY_COLUMNS, *metric_names()}
    if not expected <= set(table.columns) or list(table["query_id"]) != list(eval_set.query_ids):
        logger.warning("Evaluation cache %s does not match the set; recomputing.", path.name)
        return None
    table = table.set_index("query_id")
    table["first_relevant_rank"] = table["first_relevant_rank"].astype("Int64")
    return table


def _save_cache(path: Path, per_query: pd.DataFrame) -> None:
    try:
        write_parquet_atomic(per_query.reset_index(), path)
    except OSError as error:  # read-only data folder: results still work for this run
        logger.warning("Could not cache evaluation results (%s).", error)


class _Rankers:
    """Builds each ranking component once per evaluation and shares it between systems."""

    def __init__(
        self,
        corpus: pd.DataFrame,
        documents: str,
        progress: ProgressCallback,
        *,
        isolated: bool = False,
        correct_spelling: bool = True,
    ) -> None:
        self.isolated = isolated
        self.view = _document_view(corpus, documents)
        self.settings = _engine_settings(documents, correct_spelling)
        self.progress = progress
        self._engines: dict[str, object] = {}
        self._bm25 = None
        self._speller = None

    def bm25(self):
        if self._bm25 is None:
            from medqa.retrieval.bm25 import BM25Index

            self._bm25 = BM25Index(self.view, self.settings.bm25_fields)
        return self._bm25

    def engine(self, model: str, label: str):
        if model not in self._engines:
            from medqa.retrieval.engine import Engine

            def index_progress(done: int, total: int) -> None:
                self.progress(done / max(total, 1), f"{label}: embedding the corpus ({done:,} of {total:,})")

            self._engines[model] = Engine(
                self.view,
                model=model,
                corpus_name="evaluation",
                settings=self.settings,
                progress=index_progress,
                isolated=self.isolated,
            )
        return self._engines[model]

    def bm25_spelling(self, query: str) -> str:
        """A query as the Ask page would search it in BM25 mode (:meth:`Engine.spelling`), with no engine."""
        if not self.settings.correct_spelling:
            return query
        if self._speller is None:
            from medqa.retrieval.spelling import QuerySpeller

            self._speller = QuerySpeller.from_corpus(self.view)
        return self._speller.correct(query).text

    def rank(self, system: System, queries: Sequence[str]) -> list[list[int]]:
        """Row numbers ranked for each query, best first, to :data:`DEPTH`, as the Ask page searches."""
        from medqa.retrieval.fusion import top_rows

        if system.mode == BM25:
            index = self.bm25()
            return [
                top_rows(index.scores(self.bm25_spelling(query)), DEPTH, positive_only=True).tolist()
                for query in queries
            ]
        assert system.model is not None
        engine = self.engine(system.model, system.label)
        queries = [engine.spelling(query).text for query in queries]
        vectors = engine.encode_queries(list(queries))
        return [
            engine.rank(query, mode=system.mode, limit=DEPTH, query_vector=vector)[0]
            for query, vector in zip(queries, vectors, strict=True)
        ]


def _score_rankings(rankings: list[list[int]], corpus: pd.DataFrame, eval_set: EvaluationSet) -> pd.DataFrame:
    ids = corpus[col.ID].astype(str).to_numpy()
    ranked_ids = [[ids[row] for row in rows] for rows in rankings]
    metrics = per_query_metrics(ranked_ids, list(eval_set.relevant), query_ids=list(eval_set.query_ids))
    first_rank = [
        next((rank for rank, pair_id in enumerate(ranked, start=1) if pair_id in relevant), None)
        for ranked, relevant in zip(ranked_ids, eval_set.relevant, strict=True)
    ]
    tops = [rows[0] if rows else None for rows in rankings]

    def column(name: str) -> list[str]:
        values = corpus[name].astype(str).to_numpy()
        return ["" if row is None else str(values[row]) for row in tops]

    info = pd.DataFrame(
        {
            "first_relevant_rank": pd.array(first_rank, dtype="Int64"),
            "top1_id": column(col.ID),
            "top1_question": column(col.QUESTION),
            "top1_answer": column(col.ANSWER),
            "top1_focus": column(col.FOCUS),
        },
        index=pd.Index(list(eval_set.query_ids), name="query_id"),
    )
    return info.join(metrics[metric_names()])


def _summary(runs: dict[str, SystemRun], labels: list[str], n_resamples: int) -> pd.DataFrame:
    rows = []
    for label in labels:
        per_query = runs[label].per_query
        row: dict[str, object] = {"system": label, "queries": len(per_query)}
        means = aggregate(per_query[metric_names()])
        for metric in metric_names():
            values = per_query[metric].to_numpy(dtype=float)
            row[metric] = means[metric]
            if len(values) >= 2:
                # The CI of one system's mean: the paired bootstrap against a zero baseline.
                _, low, high = paired_bootstrap_ci(np.zeros_like(values), values, n_resamples=n_resamples)
            else:
                low = high = float("nan")
            row[f"{metric} low"] = low
            row[f"{metric} high"] = high
        rows.append(row)
    return pd.DataFrame(rows)


def trained_runs() -> list[str]:
    """Names of the complete trained runs in the model registry, newest first."""
    from medqa.runs.registry import list_runs

    return [run.name for run in list_runs()]


def available_systems(runs: Sequence[str] | None = None) -> list[str]:
    """Specs of every system that can be evaluated: BM25, base, trained runs, and their hybrids."""
    runs = trained_runs() if runs is None else list(runs)
    dense = [models.BASE, *runs]
    return [BM25, *dense, *(f"{HYBRID}:{name}" for name in dense)]


def default_systems(runs: Sequence[str] | None = None) -> list[str]:
    """What the Compare page starts with: the Ask page's pipeline (hybrid) with the base model against
    the newest trained run, as a user of Ask would get them; BM25 against the base model without a run."""
    runs = trained_runs() if runs is None else list(runs)
    return [f"{HYBRID}:{models.BASE}", f"{HYBRID}:{runs[0]}"] if runs else [BM25, models.BASE]


def is_cached(
    systems: Sequence[str | System],
    eval_set: EvaluationSet,
    *,
    corpus: pd.DataFrame | None = None,
    corpus_fingerprint: str | None = None,
) -> bool:
    """Whether every system's results on this set and corpus are already cached (evaluation is instant)."""
    if corpus_fingerprint is None:
        table = store.load_corpus(eval_set.corpus_name) if corpus is None else corpus
        corpus_fingerprint = store.table_fingerprint(table.reset_index(drop=True))
    try:
        return not _uncached(parse_systems(systems), eval_set, corpus_fingerprint)
    except Exception:  # a model that cannot be fingerprinted is simply not cached
        return False


def _uncached(parsed: list[System], eval_set: EvaluationSet, corpus_fingerprint: str) -> list[System]:
    """The systems whose results on this set and corpus are not cached."""
    documents = documents_for(eval_set)
    return [
        system
        for system in parsed
        if _load_cached(evaluations_dir() / f"{cache_key(system, eval_set, corpus_fingerprint, documents)}.parquet",
                        eval_set) is None
    ]  # fmt: skip


#: Seconds to rank one question with one system: a fixed part (embedding the question) plus a part per
#: pair of the corpus (scoring it), as measured on 2026-12-01 (AMD Zen 5, 2 cores, cached indexes,
#: questions embedded in batches as :func:`evaluate` does): base and a trained run, dense and hybrid,
#: 11-12 ms per question over the full corpus (16,423 pairs) and 4.6 ms over the curated one (520);
#: BM25 6.2 ms over the full corpus. Then seconds to load one model's engine.
RANK_SECONDS = {BM25: 0.001, DENSE: 0.004}
RANK_SECONDS_PER_PAIR = {BM25: 3e-7, DENSE: 5e-7}
ENGINE_LOAD_SECONDS = 1.0


@dataclass(frozen=True)
class EvaluationEstimate:
    """What :func:`evaluate` will cost before it starts (:func:`estimate`).

    Attributes:
        seconds: Estimated wall time (0 when every result is cached).
        to_embed: For each model whose index of the corpus is not cached, the approximate tokens its
            build embeds (at most: texts other cached indexes of the model hold are reused).
        systems_to_run: Labels of the systems whose results are not cached.
        tokens_per_second: The embedding rate the estimate assumes: this machine's last index build
            (:func:`medqa.retrieval.dense.tokens_per_second`), or the 2-core fp32 rate before any.
        rate_measured: Whether that rate was measured here.
        _work: What the estimate counted, for :func:`start_index_builds` to start without counting it
            again (about 0.2 s per press on the full corpus: the corpus view and its fingerprint).
    """

    seconds: float
    to_embed: dict[str, int]
    systems_to_run: tuple[str, ...]
    tokens_per_second: float
    rate_measured: bool = True
    _work: _Work | None = field(default=None, repr=False, compare=False)

    @property
    def cached(self) -> bool:
        """Every result is cached: evaluating only recomputes the statistics."""
        return not self.systems_to_run

    def describe(self) -> str:
        """One sentence for the page: how long, and why."""
        if self.cached:
            return "Every result is cached: the comparison is instant."
        minutes = self.seconds / 60
        when = (
            "a few seconds"
            if self.seconds < 10
            else f"about {self.seconds:.0f} s"
            if self.seconds < 90
            else f"about {minutes:.0f} min"
        )
        if not self.to_embed:
            return f"This takes {when}: the search indexes are cached, only the questions are ranked."
        names = " and ".join(self.to_embed)
        verb = "needs" if len(self.to_embed) == 1 else "need"
        tokens = sum(self.to_embed.values())
        rate = "this machine's last build" if self.rate_measured else "assumed until this machine builds one"
        return (
            f"This takes {when}: {names} {verb} a search index of this corpus first (about {tokens / 1e6:.1f} "
            f"million tokens to embed at {self.tokens_per_second:,.0f} tokens/s, {rate})."
            if tokens >= 50_000
            else f"This takes {when}: {names} {verb} a search index of this corpus first."
        )


def estimate(
    systems: Sequence[str | System], eval_set: EvaluationSet, *, corpus: pd.DataFrame | None = None
) -> EvaluationEstimate:
    """How long :func:`evaluate` will take for these systems, set and corpus, before starting it.

    Policy: count the work that dominates. Cached results cost nothing; an index that is not cached costs
    its approximate tokens at the rate of this machine's last index build (a new machine assumes the
    2-core fp32 rate); ranking costs :data:`RANK_SECONDS` per question plus
    :data:`RANK_SECONDS_PER_PAIR` per question and pair, and :data:`ENGINE_LOAD_SECONDS` per model.
    ``bench/bench_compare.py --timing`` prints the estimate beside the measured time.
    """
    from medqa.retrieval import dense

    work = _Work.of(systems, eval_set, corpus)
    measured = dense.tokens_per_second()
    rate = measured or dense.DEFAULT_TOKENS_PER_SECOND
    to_embed: dict[str, int] = {}
    seconds = 0.0
    for model in work.models:
        tokens = dense.pending_tokens(
            work.view, model, work.dense_settings, corpus_fingerprint=work.view_fingerprint
        )
        if tokens:
            to_embed[_model_label(model)] = tokens
        seconds += tokens / rate + ENGINE_LOAD_SECONDS
    for system in work.to_run:
        kind = BM25 if system.model is None else DENSE
        seconds += len(eval_set) * (RANK_SECONDS[kind] + RANK_SECONDS_PER_PAIR[kind] * len(work.view))
    return EvaluationEstimate(
        seconds=seconds,
        to_embed=to_embed,
        systems_to_run=tuple(system.label for system in work.to_run),
        tokens_per_second=rate,
        rate_measured=measured is not None,
        _work=work,
    )


@dataclass(frozen=True)
class _Work:
    """What an evaluation still has to do: the systems whose results are not cached, and the corpus as
    their indexes represent it (:func:`estimate`, :func:`start_index_builds`)."""

    eval_set: EvaluationSet
    to_run: list[System]
    view: pd.DataFrame
    view_fingerprint: str
    dense_settings: DenseSettings

    @classmethod
    def of(
        cls, systems: Sequence[str | System], eval_set: EvaluationSet, corpus: pd.DataFrame | None
    ) -> _Work:
        table = (store.load_corpus(eval_set.corpus_name) if corpus is None else corpus).reset_index(drop=True)
        documents = documents_for(eval_set)
        view = _document_view(table, documents)
        return cls(
            eval_set=eval_set,
            to_run=_uncached(parse_systems(systems), eval_set, store.table_fingerprint(table)),
            view=view,
            view_fingerprint=store.table_fingerprint(view),
            dense_settings=_engine_settings(documents).dense,
        )

    @property
    def models(self) -> list[str]:
        """The distinct models to run (a model's dense and hybrid systems share its index)."""
        return list(dict.fromkeys(system.model for system in self.to_run if system.model is not None))


def start_index_builds(plan: EvaluationEstimate) -> list[IndexBuild]:
    """Start the index builds an evaluation needs in the background (as :func:`estimate` counted them in
    ``plan``) and return them.

    Policy: the Compare page does not embed a corpus inside its script run, where a page change would
    throw the work away. The models whose results are not cached and whose index of the corpus (as the
    set represents it) is missing are built by :func:`medqa.retrieval.builds.start`, shared by every
    session, shown in every page's sidebar, and the page evaluates once they are done (ranking alone
    takes seconds: :func:`estimate`). A build already running, or failed within the last minutes, is
    returned as it is.

    Returns:
        One :class:`~medqa.retrieval.builds.IndexBuild` per missing index (none when all are cached).
    """
    from medqa.retrieval import builds
    from medqa.retrieval.dense import DenseIndex

    work = plan._work
    if work is None:
        raise ValueError("start_index_builds needs the plan runner.estimate returned")
    eval_set = work.eval_set
    what = "'s answers" if documents_for(eval_set) == DOCUMENTS_ANSWER else ""
    return [
        builds.start(
            work.view,
            model,
            label=f"the {eval_set.corpus_name} corpus{what} · {_model_label(model)} (for Compare)",
            corpus_fingerprint=work.view_fingerprint,
            dense_settings=work.dense_settings,
        )
        for model in work.models
        if not DenseIndex.is_cached(
            work.view, model, work.dense_settings, corpus_fingerprint=work.view_fingerprint
        )
    ]


def evaluate(
    systems: Sequence[str | System],
    eval_set: EvaluationSet,
    corpus_name: str | None = None,
    progress: ProgressCallback | None = None,
    *,
    corpus: pd.DataFrame | None = None,
    reference: str | None = None,
    use_cache: bool = True,
    n_resamples: int = 10_000,
    isolated: bool = False,
    correct_spelling: bool = True,
) -> EvaluationResult:
    """Score every system on the same queries and compare each with the reference system.

    Args:
        systems: Specs (``bm25``, ``base``, ``models/NAME``, ``hybrid:base`` ...) or :class:`System`.
        eval_set: Queries and relevant ids (built for ``corpus_name``).
        corpus_name: Corpus to search; defaults to the set's corpus and must match it.
        progress: Called as ``progress(fraction, message)`` while systems run.
        corpus: The corpus table when already loaded.
        reference: Label or spec of the system the others are compared with (default: the first).
        use_cache: Read and write cached per-system results.
        n_resamples: Resamples of the bootstrap CIs and randomisation tests.
        isolated: Build missing embedding indexes in a child process (the app does, to keep torch
            out of the server; see :mod:`medqa.retrieval.dense`).
        correct_spelling: Correct the queries' spelling as the Ask page does (off only to measure it).

    Raises:
        EvaluationError: No system, duplicate labels, a corpus that does not match the set, or an
            unknown reference.
        ModelLoadError: A model cannot be loaded.
        DataNotFoundError: The corpus has not been built.
    """
    started = time.perf_counter()
    corpus_name = corpus_name or eval_set.corpus_name
    if corpus_name != eval_set.corpus_name:
        raise EvaluationError(
            f"The evaluation set was built for corpus {eval_set.corpus_name!r}, not {corpus_name!r}; "
            "build it again for this corpus."
        )
    parsed = parse_systems(systems)
    reference_system = parsed[0]
    if reference is not None:
        reference_system = next(
            (s for s in parsed if reference in (s.label, s.spec)),
            None,  # type: ignore[arg-type]
        )
        if reference_system is None:
            raise EvaluationError(f"The reference system {reference!r} is not among the systems evaluated.")
    corpus = store.load_corpus(corpus_name) if corpus is None else corpus
    corpus = corpus.reset_index(drop=True)
    corpus_fingerprint = store.table_fingerprint(corpus)
    documents = documents_for(eval_set)
    report = progress or (lambda fraction, message: None)

    runs: dict[str, SystemRun] = {}
    rankers = _Rankers(corpus, documents, report, isolated=isolated, correct_spelling=correct_spelling)
    for number, system in enumerate(parsed):
        key = cache_key(system, eval_set, corpus_fingerprint, documents, correct_spelling)
        path = evaluations_dir() / f"{key}.parquet"
        per_query = _load_cached(path, eval_set) if use_cache else None
        if per_query is not None:
            runs[system.label] = SystemRun(system, per_query, 0.0, True, key)
            continue
        report(number / len(parsed), f"Running {system.label} on {len(eval_set)} queries…")

        def within_system(fraction: float, message: str, number: int = number) -> None:
            # Index building reports 0..1 for this system; keep the overall bar moving forward.
            report((number + min(max(fraction, 0.0), 1.0)) / len(parsed), message)

        rankers.progress = within_system
        began = time.perf_counter()
        rankings = rankers.rank(system, eval_set.queries)
        per_query = _score_rankings(rankings, corpus, eval_set)
        seconds = time.perf_counter() - began
        if use_cache:
            _save_cache(path, per_query)
        runs[system.label] = SystemRun(system, per_query, seconds, False, key)
    report(1.0, "Computing confidence intervals…")

    comparisons = [
        compare_systems(
            runs[reference_system.label].per_query[metric],
            runs[system.label].per_query[metric],
            metric,
            reference_system.label,
            system.label,
            n_resamples=n_resamples,
        )
        for system in parsed
        if system.label != reference_system.label and len(eval_set) >= 2
        for metric in COMPARISON_METRICS
    ]
    notes = list(eval_set.notes)
    if documents == DOCUMENTS_ANSWER:
        notes.append("Pairs are matched by their answer text only (the questions are in the corpus).")
    else:
        notes.append(
            "Pairs are indexed as the Ask page indexes them; any pair about the expected topic counts."
        )
    return EvaluationResult(
        eval_set=eval_set,
        corpus_name=corpus_name,
        corpus_fingerprint=corpus_fingerprint,
        documents=documents,
        systems=parsed,
        runs=runs,
        summary=_summary(runs, [system.label for system in parsed], n_resamples),
        comparisons=comparisons,
        reference=reference_system.label,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
