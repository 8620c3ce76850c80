"""Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

Each ranking contributes ``weight / (k + rank)`` (rank 1 = best) to every row it ranks; rows are
ordered by the summed contributions. Ranks make BM25 scores (unbounded) and cosine similarities
([-1, 1]) comparable without calibrating either. ``k = 60`` is the value from the paper; the Ask
engine uses ``k = 5`` with the dense ranking weighted 1.5 and 50 candidates per ranking, chosen on the
consumer dev half (:mod:`medqa.retrieval.engine`): a small ``k`` lets a row both rankings put near
the top win clearly over one that only one of them likes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], *, weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Fuse rankings of row numbers into one.

    Args:
        rankings: each a sequence of row numbers, best first (rows may be missing from some rankings).
        weights: one weight per ranking (default 1 each).
        k: the damping constant; larger values flatten the difference between top ranks.

    Returns:
        ``(row, fused score)`` pairs, best first; ties keep the order in which rows were first seen.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking is needed")
    if k < 0:
        raise ValueError("k must not be negative")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, row in enumerate(ranking, start=1):
            fused[int(row)] = fused.get(int(row), 0.0) + weight / (k + rank)
    # sorted() is stable, so equal scores keep first-seen order (dict insertion order).
    return sorted(fused.items(), key=lambda item: -item[1])


def top_rows(scores: np.ndarray, k: int, *, positive_only: bool = False) -> np.ndarray:
    """Row numbers of the ``k`` highest scores, best first (optionally only scores above zero)."""
    if positive_only:
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) == 0:
            return candidates
        k = min(k, len(candidates))
        part = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    else:
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
