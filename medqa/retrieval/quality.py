"""Focus-level retrieval quality: did the top hits come from a page about the expected condition?

Used by ``bench/bench_quality.py`` and ``bench/bench_fields.py``. A question counts as a hit at k when
one of its top-k pairs has one of its expected focus areas (ignoring case and spacing, as
:func:`medqa.evaluation.sets.consumer` does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalise_focus(text: str) -> str:
    """Case- and space-insensitive focus key."""
    return " ".join(str(text).casefold().split())


def first_relevant_rank(ranked_foci: Sequence[str], expected: Sequence[str]) -> int | None:
    """1-based rank of the first hit whose focus is expected, or ``None``."""
    wanted = {normalise_focus(focus) for focus in expected}
    return next((rank for rank, focus in enumerate(ranked_foci, 1) if normalise_focus(focus) in wanted), None)


def focus_metrics(ranks: Sequence[int | None], ks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """hit@k for each k and MRR@10 over questions, from :func:`first_relevant_rank` values."""
    values = np.array([rank if rank is not None else 10**9 for rank in ranks], dtype=np.int64)
    if len(values) == 0:
        return {**{f"hit@{k}": float("nan") for k in ks}, "mrr@10": float("nan")}
    metrics = {f"hit@{k}": float(np.mean(values <= k)) for k in ks}
    metrics["mrr@10"] = float(np.mean(np.where(values <= 10, 1.0 / values, 0.0)))
    return metrics
