"""Paired comparison of two retrieval systems scored on the same queries.

Every metric here is "higher is better" and scored per query, so two systems are compared on the
per-query differences ``b - a``: a percentile bootstrap over queries (``scipy.stats.bootstrap``)
gives the confidence interval of the mean difference, and a sign-flip randomisation test gives its
p-value. Both are deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medqa.errors import EvaluationError
from medqa.evaluation.metrics import display_name

# Resamples are drawn in batches of about this many numbers, so memory stays bounded (~16 MB)
# however many queries the evaluation set has.
_MAX_BATCH_ELEMENTS = 2_000_000
# Up to this many queries the randomisation test enumerates all 2**n sign patterns (65,536 x 16).
_MAX_EXACT_QUERIES = 16


def _differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise EvaluationError(
            f"The two systems must be scored on the same queries; got {a.shape} and {b.shape} scores."
        )
    if len(a) < 2:
        raise EvaluationError("At least 2 queries are needed to compare two systems.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise EvaluationError("Per-query scores contain missing or infinite values.")
    return b - a


def _batch(n: int) -> int:
    return max(1, _MAX_BATCH_ELEMENTS // n)


def paired_bootstrap_ci(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean difference ``b - a`` and its percentile-bootstrap confidence interval over queries.

    Queries are resampled with replacement, keeping each query's pair of scores together.

    Args:
        a: Per-query scores of the reference system.
        b: Per-query scores of the other system, same queries in the same order.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the interval, e.g. 0.95.
        seed: Seed of the random generator (same seed, same interval).

    Returns:
        ``(mean difference, low, high)``.

    Raises:
        EvaluationError: Shapes differ, fewer than 2 queries, or non-finite scores.
    """
    if not 0.0 < confidence < 1.0:
        raise EvaluationError(f"confidence must be between 0 and 1; got {confidence}.")
    diff = _differences(a, b)
    from scipy import stats  # imported on use: ~60 MB that the CLI's other commands do not need

    result = stats.bootstrap(
        (diff,),
        np.mean,
        n_resamples=n_resamples,
        batch=_batch(len(diff)),
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return float(diff.mean()), float(low), float(high)


def paired_randomisation_test(
    a: np.ndarray, b: np.ndarray, *, n_resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value of the mean difference ``b - a`` by random sign flips.

    Approximate randomisation (Noreen 1989; Smucker et al. 2007 for retrieval): under the null
    hypothesis the two systems are exchangeable on each query, so the sign of each per-query
    difference is flipped at random and the p-value is the share of sign patterns whose mean
    difference is at least as far from zero as the observed one. The observed pattern counts as
    one of them, so ``p >= 1 / (n_resamples + 1)``. With few queries (at most 16 and
    ``2**n <= n_resamples``) every pattern is enumerated and the test is exact.

    Written with numpy rather than ``scipy.stats.permutation_test`` (which estimates the same
    p-value; a test checks they agree) because scipy takes seconds for a few thousand queries;
    here each batch of resamples is one matrix product.

    Args:
        a: Per-query scores of the reference system.
        b: Per-query scores of the other system, same queries in the same order.
        n_resamples: Random sign patterns to draw.
        seed: Seed of the random generator (same seed, same p-value).

    Returns:
        The p-value, in ``(0, 1]``.

    Raises:
        EvaluationError: Shapes differ, fewer than 2 queries, or non-finite scores.
    """
    if n_resamples < 1:
        raise EvaluationError(f"n_resamples must be 1 or more; got {n_resamples}.")
    diff = _differences(a, b)
    n = len(diff)
    # Work with sums (same ranking as means). Flipping the signs in a set F turns the sum S into
    # S - 2 * sum(diff[F]), so each resample is one product of a 0/1 flip row with diff.
    total = float(diff.sum())
    observed = abs(total)
    # The same numbers summed with other signs can differ in the last bits; without this slack a
    # null sum equal to the observed one could be missed and the p-value come out too small.
    slack = 1e-9 * float(np.abs(diff).sum())

    if n <= _MAX_EXACT_QUERIES and 2**n <= n_resamples:
        flips = (np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n)) & 1
        null = np.abs(total - 2.0 * (flips.astype(np.float64) @ diff))
        return float(np.count_nonzero(null >= observed - slack) / 2**n)

    rng = np.random.default_rng(seed)
    batch = _batch(n)
    n_bytes = (n + 7) // 8
    as_extreme = 0
    drawn = 0
    while drawn < n_resamples:
        size = min(batch, n_resamples - drawn)
        # Random bytes unpacked to bits: 8 fair coin flips per random number drawn.
        flips = np.unpackbits(rng.integers(0, 256, (size, n_bytes), dtype=np.uint8), axis=1, count=n)
        null = np.abs(total - 2.0 * (flips.astype(np.float64) @ diff))
        as_extreme += int(np.count_nonzero(null >= observed - slack))
        drawn += size
    return (as_extreme + 1) / (n_resamples + 1)


def paired_wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test on ``b - a`` (a rank-based cross-check).

    Queries with equal scores are dropped, as the classic test does; when every query ties the
    systems are indistinguishable and the p-value is 1.

    Raises:
        EvaluationError: Shapes differ, fewer than 2 queries, or non-finite scores.
    """
    diff = _differences(a, b)
    if not np.any(diff):
        return 1.0
    from scipy import stats

    return float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)


def _fmt(x: float) -> str:
    return f"{round(x, 2) + 0.0:.2f}"  # + 0.0 turns -0.0 into 0.0, so "-0.00" is never printed


def _fmt_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


@dataclass(frozen=True)
class PairedComparison:
    """Outcome of comparing ``system_b`` against ``system_a`` on one metric, query by query.

    ``difference``, ``ci_low`` and ``ci_high`` are for ``mean_b - mean_a``. ``wins`` counts the
    queries where ``system_b`` scores higher, ``losses`` where it scores lower, ``ties`` the rest.
    """

    metric: str
    system_a: str
    system_b: str
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_queries: int
    wins: int
    losses: int
    ties: int
    confidence: float = 0.95

    def is_significant(self, alpha: float = 0.05) -> bool:
        """True when the p-value is below ``alpha`` and the interval excludes zero.

        Both are required so the verdict never contradicts the interval printed next to it.
        """
        return self.p_value < alpha and (self.ci_low > 0 or self.ci_high < 0)

    def verdict(self, alpha: float = 0.05) -> str:
        """One plain sentence for a clinician audience.

        Example: ``"fine-tuned is better than base by 0.06 MRR@10 (95% CI 0.02 to 0.10, p = 0.004)"``.
        """
        ci = f"{round(self.confidence * 100):g}% CI {_fmt(self.ci_low)} to {_fmt(self.ci_high)}"
        p = _fmt_p(self.p_value)
        label = display_name(self.metric)
        if not self.is_significant(alpha):
            return (
                f"no significant difference between {self.system_a} and {self.system_b} on {label} "
                f"(difference {_fmt(self.difference)}, {ci}, {p})"
            )
        if self.difference > 0:
            better, worse, ci_text = self.system_b, self.system_a, ci
        else:
            # Restate the interval from the winner's side so both numbers read as "better by".
            better, worse = self.system_a, self.system_b
            ci_text = f"{round(self.confidence * 100):g}% CI {_fmt(-self.ci_high)} to {_fmt(-self.ci_low)}"
        return f"{better} is better than {worse} by {_fmt(abs(self.difference))} {label} ({ci_text}, {p})"


def compare_systems(
    per_query_a: pd.Series,
    per_query_b: pd.Series,
    metric: str,
    name_a: str,
    name_b: str,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare two systems' per-query scores on one metric, aligned by query id.

    Args:
        per_query_a: Scores of system A indexed by query id (e.g. a column of
            :func:`medqa.evaluation.metrics.per_query_metrics`).
        per_query_b: Scores of system B over the same query ids, in any order.
        metric: Metric name, e.g. ``mrr@10`` (used for labels only).
        name_a: Display name of system A (the reference).
        name_b: Display name of system B.
        n_resamples: Resamples for both the bootstrap and the randomisation test.
        confidence: Coverage of the confidence interval.
        seed: Seed for both resampling procedures.

    Raises:
        EvaluationError: The two series are not over the same unique query ids, have fewer than 2
            queries, or hold missing values.
    """
    for name, series in ((name_a, per_query_a), (name_b, per_query_b)):
        if series.index.has_duplicates:
            raise EvaluationError(f"The scores of {name} list some queries more than once.")
    if set(per_query_a.index) != set(per_query_b.index):
        only_a = len(per_query_a.index.difference(per_query_b.index))
        only_b = len(per_query_b.index.difference(per_query_a.index))
        raise EvaluationError(
            f"{name_a} and {name_b} were not scored on the same queries "
            f"({only_a} only in {name_a}, {only_b} only in {name_b}); evaluate both on one set."
        )
    a = per_query_a.to_numpy(dtype=np.float64)
    b = per_query_b.reindex(per_query_a.index).to_numpy(dtype=np.float64)

    difference, low, high = paired_bootstrap_ci(
        a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    p_value = paired_randomisation_test(a, b, n_resamples=n_resamples, seed=seed)
    # Exact float comparison would call 1/3 computed two ways a win; scores this close are a tie.
    tied = np.isclose(a, b, rtol=0.0, atol=1e-12)
    return PairedComparison(
        metric=metric,
        system_a=name_a,
        system_b=name_b,
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=difference,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        n_queries=len(a),
        wins=int(np.count_nonzero((b > a) & ~tied)),
        losses=int(np.count_nonzero((b < a) & ~tied)),
        ties=int(np.count_nonzero(tied)),
        confidence=confidence,
    )


def spread_by_group(per_query: pd.DataFrame, group_column: str, metric: str) -> pd.DataFrame:
    """Mean of one metric per group (e.g. per focus area or question type), worst group first.

    Args:
        per_query: One row per query with a group column and a metric column.
        group_column: Column naming each query's group; missing values form the group ``(unknown)``.
        metric: Metric column to average.

    Returns:
        Columns ``group``, ``n``, ``mean``, sorted by ascending mean, then by group name.

    Raises:
        EvaluationError: A column is missing or the table is empty.
    """
    for column in (group_column, metric):
        if column not in per_query.columns:
            raise EvaluationError(f"Column {column!r} is not in the per-query results.")
    if len(per_query) == 0:
        raise EvaluationError("There are no per-query results to group.")
    groups = per_query[group_column].astype(object).where(per_query[group_column].notna(), "(unknown)")
    table = (
        pd.DataFrame(
            {"group": groups.astype(str).to_numpy(), "value": per_query[metric].to_numpy(dtype=float)}
        )
        .groupby("group", sort=False)["value"]
        .agg(n="size", mean="mean")
        .reset_index()
    )
    table["n"] = table["n"].astype(np.int64)
    return table.sort_values(["mean", "group"], kind="stable").reset_index(drop=True)


def spread_summary(spread: pd.DataFrame) -> dict[str, float]:
    """Minimum, median and maximum of the group means from :func:`spread_by_group`.

    Raises:
        EvaluationError: The table has no ``mean`` column or no rows.
    """
    if "mean" not in spread.columns or len(spread) == 0:
        raise EvaluationError("The group table is empty or has no 'mean' column.")
    means = spread["mean"].to_numpy(dtype=float)
    return {"min": float(means.min()), "median": float(np.median(means)), "max": float(means.max())}
