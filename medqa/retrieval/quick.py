"""Quick answers while the embedding index is built: the model re-ranks BM25's best candidates.

A fresh server needs minutes to embed a whole corpus (the full MedQuAD's question and first-passage
texts took 360-490 s on 2 cores: ``bench/results/ask_build.txt``), and a visitor should not wait for it.
Until the index exists, :class:`QuickScorer` stands in for :class:`~medqa.retrieval.dense.DenseIndex`:
for each question it embeds only the texts of the pairs BM25 ranks best (the same ``"<focus>: <question>"``
and answer-passage texts the index will hold, :func:`~medqa.retrieval.dense.document_units`) with the
server's torch-free query encoder, and scores those pairs; every other pair gets cosine -1. The hybrid
fusion then runs as usual over these candidates, so the answer is the index's answer whenever the right
pair is among BM25's candidates (``bench/bench_ask.py`` prints how often the quick and the full engine
agree, and the time to the first answer). Each text's vector is kept (a bounded cache), so follow-up
questions on a topic cost little. The candidates' texts (about a hundred) are embedded a batch per core,
as index builds embed: measured over 80 consumer dev questions with nothing cached (AMD Zen 5, 2 cores),
a quick search took p50 1.4 s / p95 2.2 s on one thread and 0.77 s / 1.3 s on two, and 2.8 s against
2.0 s at p50 with two busy processes beside it, as a background build would be.

What it cannot do is judge that the collection has no answer: the abstention threshold is calibrated on
the full index (:mod:`medqa.retrieval.abstain`), and a candidate-only cosine is never above the full
one. The engine therefore uses a stored calibration of the index being built when there is one, and
otherwise shows the quick answers with a note saying they were not checked (:attr:`Engine.quick`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from medqa import system
from medqa.retrieval.dense import DenseSettings, document_units
from medqa.retrieval.encoder import QueryEncoder, single_thread_blas

#: Text vectors kept between questions (384 floats each: about 6 MB).
CACHE_TEXTS = 4096


class QuickScorer:
    """Dense scores for a few candidate pairs at a time, embedded on demand (same interface as the index
    where the engine reads it: ``key``, ``len``, ``texts``, ``best_passage``; ``scores`` takes the rows)."""

    def __init__(
        self, corpus: pd.DataFrame, encoder: QueryEncoder, dense_settings: DenseSettings, *, key: str
    ) -> None:
        """Args:
        corpus: the pairs table the index is being built for.
        encoder: the query encoder of the index's model.
        dense_settings: the index's settings (what it embeds for each pair).
        key: the cache key of the index being built (calibrations are stored under it).
        """
        units = document_units(corpus, dense_settings)
        self.key = key
        self.encoder = encoder
        self._texts = units.texts
        self._spans = units.spans
        self._pairs = len(corpus)
        self._starts = np.searchsorted(units.rows, np.arange(self._pairs + 1))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of pairs."""
        return self._pairs

    @property
    def texts(self) -> int:
        """Number of texts the full index embeds."""
        return len(self._texts)

    def _text_range(self, row: int) -> range:
        return range(int(self._starts[row]), int(self._starts[row + 1]))

    def _vectors(self, positions: list[int]) -> np.ndarray:
        """Vectors of these texts: cached ones looked up, the rest embedded in one batch."""
        with self._lock:
            found = {position: self._cache[position] for position in positions if position in self._cache}
            for position in found:
                self._cache.move_to_end(position)
        missing = [position for position in dict.fromkeys(positions) if position not in found]
        if missing:
            # Two batches at once on two cores, as index builds embed (module docstring).
            fresh = self.encoder.encode(
                [self._texts[position] for position in missing], workers=system.usable_cpus()
            )
            with self._lock:
                for position, vector in zip(missing, fresh, strict=True):
                    found[position] = self._cache[position] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > CACHE_TEXTS:
                    self._cache.popitem(last=False)
        if not positions:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[position] for position in positions])

    def scores(self, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the query with every pair: each candidate's best text, -1 for all other pairs."""
        result = np.full(self._pairs, -1.0, dtype=np.float32)
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return result
        ranges = [self._text_range(int(row)) for row in rows]
        vectors = self._vectors([position for span in ranges for position in span])
        with single_thread_blas():
            text_scores = vectors @ query_vector.astype(np.float32, copy=False)
        offset = 0
        for row, span in zip(rows.tolist(), ranges, strict=True):
            result[row] = float(text_scores[offset : offset + len(span)].max())
            offset += len(span)
        return result

    def best_passage(self, row: int, query_vector: np.ndarray) -> tuple[int, int, float] | None:
        """As :meth:`DenseIndex.best_passage <medqa.retrieval.dense.DenseIndex.best_passage>`."""
        span = self._text_range(row)
        scores = self._vectors(list(span)) @ query_vector.astype(np.float32, copy=False)
        best = int(np.argmax(scores))
        start, end = (int(value) for value in self._spans[span.start + best])
        if start < 0:
            return None
        return start, end, float(scores[best])
