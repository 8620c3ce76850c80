"""Tests for medqa.evaluation.statistics on synthetic data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from medqa.errors import EvaluationError
from medqa.evaluation.statistics import (
    PairedComparison,
    compare_systems,
    paired_bootstrap_ci,
    paired_randomisation_test,
    paired_wilcoxon_p,
    spread_by_group,
    spread_summary,
)


def series(values, ids=None) -> pd.Series:
    values = np.asarray(values, dtype=float)
    ids = [f"q{i}" for i in range(len(values))] if ids is None else ids
    return pd.Series(values, index=pd.Index(ids, name="query_id"))


# --- bootstrap and randomisation test ----------------------------------------------------------


def test_identical_systems_show_no_difference():
    a = np.random.default_rng(1).random(50)
    diff, low, high = paired_bootstrap_ci(a, a.copy())
    assert diff == 0.0
    assert low <= 0.0 <= high
    assert paired_randomisation_test(a, a.copy()) == pytest.approx(1.0)
    assert paired_wilcoxon_p(a, a.copy()) == 1.0

    cmp = compare_systems(series(a), series(a), "mrr@10", "base", "fine-tuned")
    assert (cmp.wins, cmp.losses, cmp.ties) == (0, 0, 50)
    assert cmp.verdict().startswith("no significant difference between base and fine-tuned")


def test_constant_shift_gives_a_tight_interval_and_the_smallest_p():
    n_resamples = 10_000
    a = np.random.default_rng(2).random(100)
    b = a + 0.1
    diff, low, high = paired_bootstrap_ci(a, b, n_resamples=n_resamples)
    assert diff == pytest.approx(0.1)
    assert low == pytest.approx(0.1, abs=1e-12)
    assert high == pytest.approx(0.1, abs=1e-12)
    p = paired_randomisation_test(a, b, n_resamples=n_resamples)
    # Only the observed sign pattern (and the all-flipped one, drawn with chance 2**-100) is as
    # extreme; the observed statistic counts as a resample, so p = 1 / (n_resamples + 1).
    assert p == pytest.approx(1 / (n_resamples + 1))

    cmp = compare_systems(series(a), series(b), "mrr@10", "base", "fine-tuned")
    assert cmp.wins == 100
    assert cmp.verdict() == "fine-tuned is better than base by 0.10 MRR@10 (95% CI 0.10 to 0.10, p < 0.001)"


def test_noisy_true_shift_is_found():
    rng = np.random.default_rng(3)
    a = rng.random(200)
    b = a + 0.3 + rng.normal(0.0, 0.5, 200)
    _, low, high = paired_bootstrap_ci(a, b)
    assert low < 0.3 < high
    assert low > 0.0
    assert paired_randomisation_test(a, b) < 0.001
    assert paired_wilcoxon_p(a, b) < 0.001


def test_noise_without_shift_is_not_significant():
    rng = np.random.default_rng(4)
    a = rng.random(200)
    b = a + rng.normal(0.0, 0.5, 200)
    _, low, high = paired_bootstrap_ci(a, b)
    assert low < 0.0 < high
    assert paired_randomisation_test(a, b) > 0.05


def test_bootstrap_interval_matches_normal_theory():
    # Differences ~ N(0.2, 1) on 400 queries: the 95% interval is about 0.2 +- 1.96 * sd / sqrt(400).
    rng = np.random.default_rng(5)
    a = np.zeros(400)
    b = rng.normal(0.2, 1.0, 400)
    diff, low, high = paired_bootstrap_ci(a, b)
    half_width = 1.96 * b.std(ddof=1) / math.sqrt(400)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)
    assert (low + high) / 2 == pytest.approx(diff, abs=0.02)


def test_randomisation_test_is_exact_for_few_queries():
    # 4 positive differences: 2**4 = 16 sign patterns <= n_resamples, so all are enumerated. Only
    # the observed pattern (mean 2.5) and its mirror (mean -2.5) are as extreme: p = 2/16 = 0.125.
    a = np.zeros(4)
    b = np.array([1.0, 2.0, 3.0, 4.0])
    assert paired_randomisation_test(a, b) == pytest.approx(0.125)


def test_exact_test_counts_ties_with_the_observed_mean():
    # Differences (1, -1, 2), observed |sum| = 2. The 8 sign patterns by hand:
    # |+1 -1 +2| = 2, |-1 -1 +2| = 0, |+1 +1 +2| = 4, |-1 +1 +2| = 2, and their 4 mirrors.
    # Those with |sum| >= 2 (ties included): 2, 4, 2 and mirrors = 6 of 8.
    a = np.zeros(3)
    b = np.array([1.0, -1.0, 2.0])
    assert paired_randomisation_test(a, b) == pytest.approx(6 / 8)


def test_randomisation_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(10)
    a = rng.random(150)
    b = a + 0.05 + rng.normal(0.0, 0.3, 150)
    ours = paired_randomisation_test(a, b, n_resamples=40_000)
    theirs = stats.permutation_test(
        (b - a,),
        np.mean,
        permutation_type="samples",
        vectorized=True,
        n_resamples=40_000,
        rng=np.random.default_rng(0),
    ).pvalue
    # Both are Monte Carlo estimates of the same p-value (about 0.53 here); with 40k draws each
    # their standard errors are near 0.0025, so 0.01 apart would be a real disagreement.
    assert 0.1 < theirs < 0.9
    assert ours == pytest.approx(theirs, abs=0.01)


def test_same_seed_same_answer_other_seed_other_resamples():
    rng = np.random.default_rng(6)
    a, b = rng.random(60), rng.random(60)
    assert paired_bootstrap_ci(a, b, seed=11) == paired_bootstrap_ci(a, b, seed=11)
    assert paired_randomisation_test(a, b, seed=11) == paired_randomisation_test(a, b, seed=11)
    assert paired_bootstrap_ci(a, b, seed=11) != paired_bootstrap_ci(a, b, seed=12)


def test_wider_confidence_gives_wider_interval():
    rng = np.random.default_rng(8)
    a, b = rng.random(80), rng.random(80)
    _, low90, high90 = paired_bootstrap_ci(a, b, confidence=0.90)
    _, low99, high99 = paired_bootstrap_ci(a, b, confidence=0.99)
    assert low99 < low90 < high90 < high99


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.zeros(3), np.zeros(4)),
        (np.zeros(1), np.zeros(1)),
        (np.array([0.0, np.nan]), np.zeros(2)),
        (np.zeros((2, 2)), np.zeros((2, 2))),
    ],
)
def test_bad_score_arrays_raise(a, b):
    with pytest.raises(EvaluationError):
        paired_bootstrap_ci(a, b)
    with pytest.raises(EvaluationError):
        paired_randomisation_test(a, b)


def test_confidence_out_of_range_raises():
    with pytest.raises(EvaluationError):
        paired_bootstrap_ci(np.zeros(3), np.ones(3), confidence=95)


# --- compare_systems ---------------------------------------------------------------------------


def test_wins_losses_ties_counted_from_b_side():
    a = series([0.0, 1.0, 0.5, 0.2, 1 / 3])
    b = series([1.0, 0.0, 0.5, 0.3, 1 - 2 / 3])  # last pair differs only by float rounding: a tie
    cmp = compare_systems(a, b, "accuracy@1", "base", "tuned")
    assert (cmp.wins, cmp.losses, cmp.ties) == (2, 1, 2)
    assert cmp.n_queries == 5
    assert cmp.mean_a == pytest.approx(a.mean())
    assert cmp.mean_b == pytest.approx(b.mean())
    assert cmp.difference == pytest.approx(b.mean() - a.mean())
    assert (cmp.metric, cmp.system_a, cmp.system_b) == ("accuracy@1", "base", "tuned")


def test_compare_aligns_by_query_id():
    rng = np.random.default_rng(9)
    a = series(rng.random(30))
    b = series(rng.random(30))
    shuffled = b.sample(frac=1.0, random_state=0)
    assert list(shuffled.index) != list(b.index)
    assert compare_systems(a, shuffled, "mrr@10", "A", "B") == compare_systems(a, b, "mrr@10", "A", "B")


@pytest.mark.parametrize(
    "b",
    [
        series([0.1, 0.2, 0.3], ids=["q0", "q1", "q9"]),  # one query differs
        series([0.1, 0.2], ids=["q0", "q1"]),  # one query missing
        series([0.1, 0.2, 0.3, 0.4], ids=["q0", "q1", "q2", "q2"]),  # repeated query
        series([0.1, np.nan, 0.3]),  # missing score
    ],
)
def test_compare_rejects_different_queries(b):
    a = series([0.5, 0.6, 0.7])
    with pytest.raises(EvaluationError):
        compare_systems(a, b, "mrr@10", "A", "B")


def test_compare_is_significant_for_a_clear_loss():
    a = series(np.linspace(0.5, 1.0, 100))
    b = a - 0.2
    cmp = compare_systems(a, b, "ndcg@10", "base", "fine-tuned")
    assert cmp.losses == 100
    assert cmp.is_significant()
    assert cmp.verdict() == "base is better than fine-tuned by 0.20 nDCG@10 (95% CI 0.20 to 0.20, p < 0.001)"


# --- verdict wording ---------------------------------------------------------------------------


def comparison(difference, low, high, p, **kw) -> PairedComparison:
    fields = {
        "metric": "mrr@10",
        "system_a": "base",
        "system_b": "fine-tuned",
        "mean_a": 0.5,
        "mean_b": 0.5 + difference,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "n_queries": 200,
        "wins": 0,
        "losses": 0,
        "ties": 0,
    }
    fields.update(kw)
    return PairedComparison(**fields)


def test_verdict_better():
    cmp = comparison(0.06, 0.02, 0.10, 0.004)
    assert cmp.verdict() == "fine-tuned is better than base by 0.06 MRR@10 (95% CI 0.02 to 0.10, p = 0.004)"


def test_verdict_worse_restates_from_the_winner_side():
    cmp = comparison(-0.06, -0.10, -0.02, 0.004)
    assert cmp.verdict() == "base is better than fine-tuned by 0.06 MRR@10 (95% CI 0.02 to 0.10, p = 0.004)"


def test_verdict_no_difference():
    cmp = comparison(0.01, -0.03, 0.05, 0.61)
    assert cmp.verdict() == (
        "no significant difference between base and fine-tuned on MRR@10 "
        "(difference 0.01, 95% CI -0.03 to 0.05, p = 0.61)"
    )


def test_verdict_needs_both_small_p_and_interval_excluding_zero():
    assert not comparison(0.04, -0.01, 0.09, 0.03).is_significant()
    assert comparison(0.04, -0.01, 0.09, 0.03).verdict().startswith("no significant difference")
    assert not comparison(0.04, 0.01, 0.09, 0.08).is_significant()
    assert comparison(0.04, 0.01, 0.09, 0.08).is_significant(alpha=0.10)


def test_verdict_number_formatting():
    text = comparison(-0.001, -0.004, 0.002, 0.0004, confidence=0.9).verdict()
    assert "difference 0.00," in text  # never "-0.00"
    assert "90% CI 0.00 to 0.00" in text
    assert "p < 0.001" in text


def test_comparison_is_frozen():
    cmp = comparison(0.06, 0.02, 0.10, 0.004)
    with pytest.raises(AttributeError):
        cmp.p_value = 0.5


# --- spread across groups ----------------------------------------------------------------------


def test_spread_by_group_by_hand():
    per_query = pd.DataFrame(
        {
            "focus": ["asthma", "asthma", "gout", "flu", "flu", "flu", None],
            "mrr@10": [1.0, 0.0, 0.2, 1.0, 1.0, 0.5, 0.4],
        }
    )
    spread = spread_by_group(per_query, "focus", "mrr@10")
    # Means: gout 0.2 (1 query), (unknown) 0.4 (1), asthma 0.5 (2), flu 2.5/3 = 0.8333 (3).
    assert list(spread.columns) == ["group", "n", "mean"]
    assert list(spread["group"]) == ["gout", "(unknown)", "asthma", "flu"]
    assert list(spread["n"]) == [1, 1, 2, 3]
    assert spread["mean"].tolist() == pytest.approx([0.2, 0.4, 0.5, 2.5 / 3])

    summary = spread_summary(spread)
    assert summary == pytest.approx({"min": 0.2, "median": (0.4 + 0.5) / 2, "max": 2.5 / 3})


def test_spread_ties_are_ordered_by_name():
    per_query = pd.DataFrame({"qtype": ["b", "a", "c"], "ndcg@10": [0.5, 0.5, 0.1]})
    spread = spread_by_group(per_query, "qtype", "ndcg@10")
    assert list(spread["group"]) == ["c", "a", "b"]


def test_spread_bad_input_raises():
    per_query = pd.DataFrame({"focus": ["a"], "mrr@10": [1.0]})
    with pytest.raises(EvaluationError):
        spread_by_group(per_query, "qtype", "mrr@10")
    with pytest.raises(EvaluationError):
        spread_by_group(per_query, "focus", "ndcg@10")
    with pytest.raises(EvaluationError):
        spread_by_group(per_query.iloc[:0], "focus", "mrr@10")
    with pytest.raises(EvaluationError):
        spread_summary(pd.DataFrame({"group": [], "n": [], "mean": []}))
