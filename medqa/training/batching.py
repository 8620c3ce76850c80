"""Length-grouped, duplicate-free batches for in-batch-negative losses on CPU.

Policy: a batch is padded to its longest text, so a batch that mixes a 20-token description pair with
a 128-token answer pair pays for 128 tokens on every row. The recommended preset's pairs are 65 %
short ("description" queries -> ``"<focus>: <question>"``: 25 tokens median) and 35 % long (answers,
cut at 128 tokens); duplicate-free random batches of 32 pad to 2.40x the tokens actually present
(728k padded for 303k real per epoch, the preset's 3,973 pairs with the base tokenizer), these
batches to 1.37x (416k). This
sampler shuffles the pairs (seeded per epoch), cuts the shuffled list into groups of
``group_batches`` batches, sorts each group by text length and fills batches from it, so rows of a
batch have similar lengths while batches still come from all over the data; the batch order is then
shuffled, so the learning-rate schedule does not see short batches first.

Like sentence-transformers' ``NoDuplicatesBatchSampler``, a text never appears twice in one batch (a
duplicate would be a false in-batch negative); a row that would repeat a text waits for the next batch.
Label columns (the row index used by batch distillation) are ignored for the duplicate check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler

if TYPE_CHECKING:
    from collections.abc import Iterator

    import torch
    from datasets import Dataset

#: Batches per sorted group: large enough that neighbours in length fill a batch, small enough that a
#: batch's rows come from 512 random pairs (batch 32) rather than from one end of the data.
GROUP_BATCHES = 16


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """Duplicate-free batches of rows of similar length (see the module docstring).

    Args:
        dataset: the training pairs (text columns, plus optional label columns).
        batch_size: rows per batch.
        drop_last: drop a final incomplete batch.
        valid_label_columns: columns that are labels, not texts (left out of lengths and duplicate checks).
        generator: unused (the order is seeded by ``seed`` and the epoch, as in sentence-transformers).
        seed: seed of the shuffles.
        max_chars: a text counts at most this many characters (texts longer than the token limit are
            cut anyway, so their order among themselves stays random).
        group_batches: batches per sorted group.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        max_chars: int = 1024,
        group_batches: int = GROUP_BATCHES,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        labels = set(valid_label_columns or [])
        columns = [name for name in dataset.column_names if name not in labels]
        texts = [[str(value) for value in dataset[name]] for name in columns]
        self.values = [frozenset(row) for row in zip(*texts, strict=True)] if texts else []
        self.lengths = np.array(
            [sum(min(len(text), max_chars) for text in row) for row in zip(*texts, strict=True)]
            if texts
            else [],
            dtype=np.int64,
        )
        self.group_batches = max(1, group_batches)

    def __len__(self) -> int:
        rows = len(self.values)
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def _fill(self, rows: list[int]) -> tuple[list[list[int]], list[int]]:
        """Full batches from ``rows`` (in order, skipping a row that repeats a text) and the rows left."""
        batches: list[list[int]] = []
        remaining = rows
        while len(remaining) >= self.batch_size:
            batch: list[int] = []
            seen: set[str] = set()
            waiting: list[int] = []
            for row in remaining:
                if len(batch) < self.batch_size and self.values[row].isdisjoint(seen):
                    batch.append(row)
                    seen.update(self.values[row])
                else:
                    waiting.append(row)
            if len(batch) < self.batch_size:
                return batches, batch + waiting
            batches.append(batch)
            remaining = waiting
        return batches, remaining

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(len(self.values)).tolist()
        size = self.batch_size * self.group_batches
        batches: list[list[int]] = []
        carried: list[int] = []
        for start in range(0, len(order), size):
            group = carried + order[start : start + size]
            group.sort(key=lambda row: int(self.lengths[row]))  # stable: equal lengths stay shuffled
            full, carried = self._fill(group)
            batches.extend(full)
        if carried and not self.drop_last:
            # The rest, in batches that may repeat a text only when nothing else is left.
            batches.extend(carried[i : i + self.batch_size] for i in range(0, len(carried), self.batch_size))
        rng.shuffle(batches)
        yield from batches[: len(self)]


def batch_sampler_for(name: str, max_seq_length: int) -> Any:
    """The ``batch_sampler`` argument of the trainer for a config's sampler name."""
    if name != "length_grouped":
        return name
    from functools import partial

    # ~4 characters per word-piece token: texts beyond the token limit all count as equally long.
    return partial(LengthGroupedBatchSampler, max_chars=4 * max_seq_length)
