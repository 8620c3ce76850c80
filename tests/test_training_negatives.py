"""Hard-negative mining: the highest-ranked passage about another concept, never a likely answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medqa.training.data import ANCHOR, CONCEPT, NEGATIVE, POSITIVE, TrainingData
from medqa.training.negatives import mine_hard_negatives, with_hard_negatives


def _unit(*rows: list[float]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _case() -> tuple[list[str], list[str], list[str], np.ndarray, dict[str, int]]:
    anchors = ["shingles rash", "chickenpox spots", "zoster pain", "gout toe"]
    positives = ["P shingles", "P chickenpox", "P zoster", "P gout"]
    concepts = ["shingles C1", "chickenpox C2", "herpes_zoster C1", "gout C3"]
    texts = anchors + positives
    vectors = _unit(
        [1.0, 0.2, 0.0],  # shingles rash
        [0.2, 1.0, 0.0],  # chickenpox spots
        [1.0, 0.1, 0.1],  # zoster pain
        [0.0, 0.0, 1.0],  # gout toe
        [1.0, 0.0, 0.0],  # P shingles
        [0.5, 1.0, 0.0],  # P chickenpox
        [1.0, 0.5, 0.0],  # P zoster (same CUI as shingles: never its negative)
        [0.1, 0.0, 1.0],  # P gout
    )
    return anchors, positives, concepts, vectors, {text: n for n, text in enumerate(texts)}


def test_the_negative_is_the_best_ranked_passage_about_another_concept() -> None:
    anchors, positives, concepts, vectors, where = _case()
    negatives = mine_hard_negatives(anchors, positives, concepts, vectors, where)
    assert negatives[0] == "P chickenpox"  # "P zoster" ranks higher but shares the CUI C1
    assert negatives[2] == "P chickenpox"
    assert negatives[1] == "P zoster"
    assert all(negative != positive for negative, positive in zip(negatives, positives, strict=True))


def test_a_candidate_scoring_almost_like_the_positive_is_skipped_as_a_likely_answer() -> None:
    anchors, positives, concepts, vectors, where = _case()
    concepts = ["shingles", "chickenpox", "herpes_zoster", "gout"]  # no CUIs: zoster is now "another concept"
    strict = mine_hard_negatives(anchors, positives, concepts, vectors, where, relative_margin=0.05)
    assert strict[0] == "P chickenpox"  # "P zoster" scores within 5 % of the positive: skipped
    loose = mine_hard_negatives(anchors, positives, concepts, vectors, where, relative_margin=0.0)
    assert loose[0] == "P zoster"


def test_mining_needs_another_concept_and_aligned_lists() -> None:
    anchors, positives, _, vectors, where = _case()
    with pytest.raises(ValueError, match="same length"):
        mine_hard_negatives(anchors, positives, ["a"], vectors, where)
    with pytest.raises(ValueError, match="shares a concept"):
        mine_hard_negatives(anchors, positives, ["same"] * 4, vectors, where)


def test_with_hard_negatives_adds_the_column_the_dataset_trains_on() -> None:
    anchors, positives, concepts, vectors, where = _case()
    pairs = pd.DataFrame({ANCHOR: anchors, POSITIVE: positives, "variant": "question", CONCEPT: concepts})
    data = TrainingData(
        pairs=pairs, heldout=None, distill_texts=[], fingerprint="f", summary={"train_pairs": 4}
    )
    mined = with_hard_negatives(data, vectors, where)
    assert mined.pairs[NEGATIVE].tolist()[0] == "P chickenpox"
    assert mined.summary == {"train_pairs": 4, "hard_negatives": 4}
    assert mined.to_dataset().column_names == [ANCHOR, POSITIVE, NEGATIVE]
    assert data.to_dataset().column_names == [ANCHOR, POSITIVE]
