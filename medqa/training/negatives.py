"""Hard negatives for the ranking loss: mined with the starting model, filtered by concept.

Policy: in-batch negatives are mostly easy (a batch of 32 random pairs rarely holds two conditions a
reader could confuse), so the ranking loss learns little about the near misses that cost "right topic
first" on consumer questions (a question about shingles ranking chickenpox first). For every pair, the
negative is the training positive the *starting* model ranks highest for the anchor among those about
another concept:

* **another concept**: no shared normalised focus name and no shared UMLS CUI (MedQuAD gives CUIs per
  document), so GHR's "Alzheimer disease" is never a negative for MedlinePlus's "Alzheimer's Disease";
* **not too close**: a candidate scoring at least ``(1 - relative_margin)`` times the pair's own positive
  is skipped (as ``relative_margin`` in sentence-transformers' ``mine_hard_negatives``): such a passage
  is more likely an unlabelled answer than a wrong one.

Mining reuses the starting-model embeddings the batch distillation computes anyway, so it costs one
matrix product (a few seconds for the recommended preset's ~4,000 pairs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from medqa.training.data import ANCHOR, CONCEPT, NEGATIVE, POSITIVE, TrainingData

#: Candidates scoring at least (1 - this) x the own positive's score are skipped (possible false negatives).
RELATIVE_MARGIN = 0.05
#: Anchors scored per matrix product (bounds memory: block x candidates floats).
_BLOCK = 1024


def mine_hard_negatives(
    anchors: list[str],
    positives: list[str],
    concepts: list[str],
    vectors: np.ndarray,
    where: dict[str, int],
    relative_margin: float = RELATIVE_MARGIN,
) -> list[str]:
    """One hard negative per pair, chosen among the pairs' positives.

    Args:
        anchors: the pairs' anchors.
        positives: the pairs' positives (also the candidate negatives).
        concepts: per pair, its concept tokens joined by spaces (focus name and CUIs).
        vectors: normalised starting-model embeddings, one row per text.
        where: row of ``vectors`` for every anchor and positive text.
        relative_margin: see :data:`RELATIVE_MARGIN`.

    Returns:
        Per pair, the highest-scoring candidate that shares no concept token with the pair and scores
        below ``(1 - relative_margin)`` x the pair's own positive; when every candidate is excluded, the
        highest-scoring one about another concept regardless of the margin.

    Raises:
        ValueError: the lists differ in length, or no candidate is about another concept.
    """
    if not len(anchors) == len(positives) == len(concepts):
        raise ValueError("anchors, positives and concepts must have the same length")
    candidates = list(dict.fromkeys(positives))
    index = {text: n for n, text in enumerate(candidates)}
    owners: dict[str, set[int]] = defaultdict(set)  # concept token -> candidates about it
    for positive, concept in zip(positives, concepts, strict=True):
        for token in concept.split():
            owners[token].add(index[positive])
    matrix = vectors[[where[text] for text in candidates]]
    chosen: list[str] = []
    for start in range(0, len(anchors), _BLOCK):
        block = slice(start, start + _BLOCK)
        scores = vectors[[where[text] for text in anchors[block]]] @ matrix.T
        for row, (positive, concept) in enumerate(zip(positives[block], concepts[block], strict=True)):
            own = scores[row].copy()
            blocked = {index[positive]}
            for token in concept.split():
                blocked |= owners[token]
            own[list(blocked)] = -np.inf
            if np.isneginf(own).all():
                raise ValueError("every candidate negative shares a concept with the pair")
            ceiling = (1 - relative_margin) * scores[row, index[positive]]
            allowed = np.where(own < ceiling, own, -np.inf)
            best = int(np.argmax(allowed if not np.isneginf(allowed).all() else own))
            chosen.append(candidates[best])
    return chosen


def with_hard_negatives(data: TrainingData, vectors: np.ndarray, where: dict[str, int]) -> TrainingData:
    """``data`` with a ``negative`` column mined by :func:`mine_hard_negatives` (and counted in its summary)."""
    pairs = data.pairs
    negatives = mine_hard_negatives(
        pairs[ANCHOR].tolist(), pairs[POSITIVE].tolist(), pairs[CONCEPT].tolist(), vectors, where
    )
    summary = {**data.summary, "hard_negatives": len(negatives)}
    return replace(data, pairs=pairs.assign(**{NEGATIVE: negatives}), summary=summary)
