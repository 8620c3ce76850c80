"""Information-retrieval metrics per query, defined exactly as sentence-transformers defines them.

The definitions follow ``InformationRetrievalEvaluator.compute_metrics`` of sentence-transformers
(checked against version 6.2), with binary relevance:

* ``accuracy@k``: 1 if at least one relevant id is in the top k, else 0.
* ``precision@k``: relevant ids in the top k, divided by k (even when fewer than k ids were ranked).
* ``recall@k``: relevant ids in the top k, divided by the number of relevant ids.
* ``mrr@k``: 1 / rank of the first relevant id in the top k (ranks start at 1), 0 if none.
* ``ndcg@k``: DCG / ideal DCG with ``DCG = sum(rel_i / log2(i + 1))`` over ranks ``i = 1..k``; the
  ideal ranking puts every relevant id first, so ``IDCG = sum(1 / log2(i + 1))`` for
  ``i = 1..min(k, number relevant)``.
* ``map@k``: sum of precision@i over the ranks i (<= k) holding a relevant id, divided by
  ``min(k, number relevant)``.

Two choices go beyond what sentence-transformers has to decide:

* Queries with no relevant id are left out, as sentence-transformers' evaluator drops them when it
  is built (recall, nDCG and MAP are undefined for them). They get no row; a warning is logged.
* A ranking that repeats an id keeps only its first occurrence, so the ranking is over distinct
  documents (sentence-transformers never sees repeats; counting them twice could push recall
  above 1).

This is medqa's one scoring path: the Compare page and CLI (:mod:`medqa.evaluation.runner`), the
trainer's in-run evaluation and every bench script score rankings with :func:`per_query_metrics`, or,
when only the first relevant rank matters (answers shown to a user, each possibly merging several
pairs), with :func:`first_relevant_rank` and :func:`rank_metrics`, which give the same ``accuracy@k``
and ``mrr@k`` values. Metric names are the column names here (``accuracy@k`` as sentence-transformers
and saved runs name it: "a right answer in the top k", called hit@k in the IR literature); labels on
screen and in reports come from :func:`display_name`. Which pairs are right for a question comes from
:mod:`medqa.evaluation.sets` (by answer) or :mod:`medqa.evaluation.relevance` (by concept).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import pandas as pd

from medqa.errors import EvaluationError

logger = logging.getLogger(__name__)

HEADLINE_METRICS: tuple[str, ...] = (
    "accuracy@1",
    "accuracy@3",
    "accuracy@5",
    "accuracy@10",
    "mrr@10",
    "ndcg@10",
    "map@100",
)

_DISPLAY_PREFIX = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "mrr": "MRR",
    "ndcg": "nDCG",
    "map": "MAP",
}


def metric_names() -> list[str]:
    """Headline metric column names, in display order.

    Returns:
        ``accuracy@1``, ``accuracy@3``, ``accuracy@5``, ``accuracy@10``, ``mrr@10``, ``ndcg@10``,
        ``map@100``.
    """
    return list(HEADLINE_METRICS)


def display_name(metric: str) -> str:
    """Human-readable label of a metric column, e.g. ``mrr@10`` -> ``MRR@10``.

    Args:
        metric: A column name such as ``ndcg@10``; unknown names are returned unchanged.
    """
    prefix, sep, k = metric.partition("@")
    if not sep or prefix not in _DISPLAY_PREFIX:
        return metric
    return f"{_DISPLAY_PREFIX[prefix]}@{k}"


#: The three figures every quality report leads with (right answer first, in the top 3, MRR@10).
REPORT_METRICS: tuple[str, ...] = ("accuracy@1", "accuracy@3", "mrr@10")


def first_relevant_rank(ranked: Sequence[str | Collection[str]], relevant: Collection[str]) -> int | None:
    """1-based rank of the first relevant item of a ranking, or ``None`` when none is relevant.

    Args:
        ranked: Best first. Each item is a corpus id, or a collection of ids for a result that merges
            several pairs (an Ask answer's ``part_ids``): it is relevant when any of its ids is.
        relevant: The ids that count as correct.

    Raises:
        EvaluationError: ``relevant`` is one bare string (a common slip: it would be read as letters).
    """
    if isinstance(relevant, str):
        raise EvaluationError("The relevant answers must be a collection of ids, not one string.")
    wanted = relevant if isinstance(relevant, (set, frozenset)) else set(relevant)
    for rank, item in enumerate(ranked, start=1):
        ids = (item,) if isinstance(item, str) else item
        if any(pair_id in wanted for pair_id in ids):
            return rank
    return None


def rank_metrics(
    ranks: Sequence[int | None],
    *,
    query_ids: Sequence[str] | None = None,
    accuracy_at: Iterable[int] = (1, 3, 5, 10),
    mrr_at: Iterable[int] = (10,),
) -> pd.DataFrame:
    """``accuracy@k`` and ``mrr@k`` per query from the rank of its first relevant item.

    The same definitions as :func:`per_query_metrics` (which calls this), for rankings whose items
    are not single ids. ``None`` (or a missing value) means nothing relevant was retrieved.

    Returns:
        One row per query (indexed by ``query_ids`` or positions) with float columns
        ``accuracy@k`` then ``mrr@k``.

    Raises:
        EvaluationError: A rank below 1, a bad cut-off, or as many ids as ranks not given.
    """
    acc_ks = _check_ks("accuracy_at", accuracy_at)
    mrr_ks = _check_ks("mrr_at", mrr_at)
    # 0 stands for "nothing relevant retrieved" below.
    values = np.array([0 if rank is None or pd.isna(rank) else int(rank) for rank in ranks], dtype=np.int64)
    if len(values) and (values == 0).sum() != sum(rank is None or pd.isna(rank) for rank in ranks):
        raise EvaluationError("Ranks start at 1 (None when nothing relevant was retrieved).")
    if (values < 0).any():
        raise EvaluationError("Ranks start at 1 (None when nothing relevant was retrieved).")
    if query_ids is None:
        index = pd.RangeIndex(len(values), name="query_id")
    else:
        if len(query_ids) != len(values):
            raise EvaluationError(f"Got {len(query_ids)} query ids for {len(values)} ranks; they must match.")
        index = pd.Index(list(query_ids), name="query_id")
    found = values > 0
    columns: dict[str, np.ndarray] = {}
    for k in acc_ks:
        columns[f"accuracy@{k}"] = (found & (values <= k)).astype(np.float64)
    for k in mrr_ks:
        columns[f"mrr@{k}"] = np.where(found & (values <= k), 1.0 / np.maximum(values, 1), 0.0)
    return pd.DataFrame(columns, index=index)


def _check_ks(name: str, ks: Iterable[int]) -> tuple[int, ...]:
    values = tuple(ks)
    for k in values:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise EvaluationError(f"{name} must hold whole numbers of 1 or more; got {k!r}.")
    return tuple(dict.fromkeys(int(k) for k in values))  # drop repeats, keep order


def per_query_metrics(
    ranked_ids: Sequence[Sequence[str]],
    relevant: Sequence[Iterable[str]],
    *,
    query_ids: Sequence[str] | None = None,
    accuracy_at: Iterable[int] = (1, 3, 5, 10),
    mrr_at: Iterable[int] = (10,),
    ndcg_at: Iterable[int] = (10,),
    map_at: Iterable[int] = (100,),
    precision_recall_at: Iterable[int] = (1, 3, 5, 10),
) -> pd.DataFrame:
    """Score each query's ranking against its relevant ids.

    Args:
        ranked_ids: Per query, the retrieved ids best first.
        relevant: Per query, the ids that count as correct answers.
        query_ids: Labels for the rows (e.g. question ids); positions 0..n-1 when omitted.
        accuracy_at: Cut-offs for ``accuracy@k``.
        mrr_at: Cut-offs for ``mrr@k``.
        ndcg_at: Cut-offs for ``ndcg@k``.
        map_at: Cut-offs for ``map@k``.
        precision_recall_at: Cut-offs for ``precision@k`` and ``recall@k``.

    Returns:
        One row per query that has at least one relevant id, indexed by query id, with float
        columns ``accuracy@k``, ``precision@k``, ``recall@k``, ``mrr@k``, ``ndcg@k``, ``map@k``.

    Raises:
        EvaluationError: The lengths disagree, a cut-off is not a positive whole number, or query
            ids repeat.
    """
    n = len(ranked_ids)
    if len(relevant) != n:
        raise EvaluationError(
            f"Got rankings for {n} queries but relevant answers for {len(relevant)}; they must match."
        )
    if query_ids is None:
        index = pd.RangeIndex(n, name="query_id")
    else:
        if len(query_ids) != n:
            raise EvaluationError(f"Got {len(query_ids)} query ids for {n} queries; they must match.")
        index = pd.Index(list(query_ids), name="query_id")
        if index.has_duplicates:
            raise EvaluationError("Query ids must be unique; some appear more than once.")

    acc_ks = _check_ks("accuracy_at", accuracy_at)
    pr_ks = _check_ks("precision_recall_at", precision_recall_at)
    mrr_ks = _check_ks("mrr_at", mrr_at)
    ndcg_ks = _check_ks("ndcg_at", ndcg_at)
    map_ks = _check_ks("map_at", map_at)
    all_ks = acc_ks + pr_ks + mrr_ks + ndcg_ks + map_ks
    max_k = max(all_ks) if all_ks else 1

    # A bare string is a sequence of characters: catch it before it silently becomes a set of letters.
    if any(isinstance(r, str) for r in ranked_ids) or any(isinstance(r, str) for r in relevant):
        raise EvaluationError(
            "Each query's ranking and relevant answers must be a list of ids, not one string."
        )
    relevant_sets = [set(r) for r in relevant]
    keep = np.array([len(r) > 0 for r in relevant_sets], dtype=bool)
    if not keep.all():
        logger.warning(
            "%d of %d queries have no relevant answer and are left out of the metrics.",
            int((~keep).sum()),
            n,
        )

    # hits[q, i] = 1 when the id at rank i + 1 is relevant; short rankings are padded with misses.
    kept = np.flatnonzero(keep)
    hits = np.zeros((len(kept), max_k), dtype=np.float64)
    for row, q in enumerate(kept):
        rel = relevant_sets[q]
        top = list(dict.fromkeys(ranked_ids[q]))[:max_k]
        hits[row, : len(top)] = [doc in rel for doc in top]
    n_relevant = np.array([len(relevant_sets[q]) for q in kept], dtype=np.float64)

    ranks = np.arange(1, max_k + 1, dtype=np.float64)
    cum_hits = np.cumsum(hits, axis=1)
    discounts = 1.0 / np.log2(ranks + 1.0)
    ideal_dcg = np.cumsum(discounts)  # ideal_dcg[m - 1] = DCG of m relevant ids ranked first
    has_hit = hits.any(axis=1)
    first_hit_rank = np.where(has_hit, hits.argmax(axis=1) + 1, 0)

    # accuracy@k and mrr@k depend only on the first relevant rank: one definition, in rank_metrics.
    by_rank = rank_metrics(
        [int(rank) if rank else None for rank in first_hit_rank], accuracy_at=acc_ks, mrr_at=mrr_ks
    )
    columns: dict[str, np.ndarray] = {}
    for k in acc_ks:
        columns[f"accuracy@{k}"] = by_rank[f"accuracy@{k}"].to_numpy()
    for k in pr_ks:
        columns[f"precision@{k}"] = cum_hits[:, k - 1] / k
    for k in pr_ks:
        columns[f"recall@{k}"] = cum_hits[:, k - 1] / n_relevant
    for k in mrr_ks:
        columns[f"mrr@{k}"] = by_rank[f"mrr@{k}"].to_numpy()
    for k in ndcg_ks:
        dcg = hits[:, :k] @ discounts[:k]
        ideal_count = np.minimum(n_relevant, k).astype(np.int64)
        columns[f"ndcg@{k}"] = dcg / ideal_dcg[ideal_count - 1]
    for k in map_ks:
        precision_at_hits = (hits[:, :k] * cum_hits[:, :k] / ranks[:k]).sum(axis=1)
        columns[f"map@{k}"] = precision_at_hits / np.minimum(n_relevant, k)

    return pd.DataFrame(columns, index=index[kept])


def aggregate(per_query: pd.DataFrame) -> dict[str, float]:
    """Mean of every metric column over queries (what sentence-transformers reports).

    Args:
        per_query: Output of :func:`per_query_metrics` (extra non-numeric columns are ignored).

    Returns:
        ``{column: mean}`` in column order.

    Raises:
        EvaluationError: There are no queries to average over.
    """
    if len(per_query) == 0:
        raise EvaluationError("No query with a relevant answer was scored, so there is nothing to average.")
    numeric = per_query.select_dtypes(include="number")
    return {str(column): float(value) for column, value in numeric.mean().items()}


def similarity_metrics(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    doc_ids: Sequence[str],
    relevant: Sequence[Iterable[str]],
    *,
    query_ids: Sequence[str] | None = None,
    depth: int = 100,
) -> pd.DataFrame:
    """Rank documents by dot product (cosine for normalised rows) and score with :func:`per_query_metrics`.

    What sentence-transformers' ``InformationRetrievalEvaluator`` does with cosine similarity, through
    medqa's one scoring path; used by the trainer's in-run evaluation and the recipe experiments.
    Several rows may share a document id (an answer's passages, as the Ask index embeds them): the
    ranking keeps each id at its best row, so the best passage scores the pair.

    Args:
        query_vectors: One row per query.
        doc_vectors: One row per document, same width.
        doc_ids: Id of each document row.
        relevant: Per query, the ids that count as correct.
        query_ids: Row labels of the result.
        depth: Documents ranked per query (``map@100`` needs 100).

    Raises:
        EvaluationError: The shapes or lengths disagree.
    """
    from medqa.retrieval.fusion import top_rows

    if query_vectors.ndim != 2 or doc_vectors.ndim != 2 or query_vectors.shape[1] != doc_vectors.shape[1]:
        raise EvaluationError("Query and document embeddings must be 2-D with the same width.")
    if len(doc_ids) != len(doc_vectors):
        raise EvaluationError(f"Got {len(doc_ids)} document ids for {len(doc_vectors)} embeddings.")
    ids = np.asarray([str(value) for value in doc_ids], dtype=object)
    # Rank rows deep enough that ``depth`` distinct ids survive when ids repeat (passages of one pair).
    rows = depth * max(1, round(len(ids) / max(len(set(ids)), 1)))
    ranked = [
        list(dict.fromkeys(ids[top_rows(scores, rows)].tolist()))[:depth]
        for scores in query_vectors @ doc_vectors.T
    ]
    return per_query_metrics(ranked, relevant, query_ids=query_ids)
