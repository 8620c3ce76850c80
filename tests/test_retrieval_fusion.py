"""Reciprocal-rank fusion and top-k selection."""

from __future__ import annotations

import numpy as np
import pytest

from medqa.retrieval.fusion import reciprocal_rank_fusion, top_rows


def test_scores_are_summed_reciprocal_ranks() -> None:
    fused = dict(reciprocal_rank_fusion([[7, 3], [3, 9]], k=60))
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[7] == pytest.approx(1 / 61)
    assert fused[9] == pytest.approx(1 / 62)


def test_a_row_both_rankings_like_beats_a_row_one_ranking_loves() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [4, 2, 5]])
    assert fused[0][0] == 2
    assert [row for row, _ in fused] == [2, 1, 4, 3, 5]  # ties keep first-seen order


def test_weights_tilt_the_fusion() -> None:
    rankings = [[1, 2], [2, 1]]
    assert reciprocal_rank_fusion(rankings, weights=[2.0, 1.0])[0][0] == 1
    assert reciprocal_rank_fusion(rankings, weights=[1.0, 2.0])[0][0] == 2


def test_small_k_favours_top_ranks() -> None:
    # Row 1 is first in one ranking and absent from the other; row 2 is second in both.
    rankings = [[1, 2], [3, 2]]
    assert reciprocal_rank_fusion(rankings, k=0)[0][0] == 1
    assert reciprocal_rank_fusion(rankings, k=60)[0][0] == 2


def test_empty_rankings_and_bad_arguments() -> None:
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([[1], [2]], weights=[1.0])
    with pytest.raises(ValueError, match="negative"):
        reciprocal_rank_fusion([[1]], k=-1)


def test_top_rows_orders_best_first_and_can_drop_zeros() -> None:
    scores = np.array([0.0, 3.0, 1.0, 0.0, 2.0])
    assert top_rows(scores, 3).tolist() == [1, 4, 2]
    assert top_rows(scores, 10, positive_only=True).tolist() == [1, 4, 2]
    assert top_rows(np.zeros(4), 3, positive_only=True).tolist() == []
    assert top_rows(scores, 0).tolist() == []
