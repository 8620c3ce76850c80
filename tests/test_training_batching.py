"""Length-grouped, duplicate-free batches (medqa.training.batching)."""

from __future__ import annotations

import numpy as np
import pytest

from medqa.training.batching import LengthGroupedBatchSampler, batch_sampler_for

datasets = pytest.importorskip("datasets")


def _dataset(rows: int = 200, seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    anchors = [f"question {i} " + "word " * int(rng.integers(1, 30)) for i in range(rows)]
    positives = [("answer " * int(rng.integers(1, 200))) + str(i % 150) for i in range(rows)]  # some repeat
    return datasets.Dataset.from_dict({"anchor": anchors, "positive": positives, "label": list(range(rows))})


def _padded(dataset: object, batches: list[list[int]]) -> int:
    lengths = np.array([len(a) + len(p) for a, p in zip(dataset["anchor"], dataset["positive"], strict=True)])
    return int(sum(len(batch) * lengths[batch].max() for batch in batches))


def test_every_row_once_no_text_twice_in_a_batch_and_seeded() -> None:
    data = _dataset()
    sampler = LengthGroupedBatchSampler(
        data, batch_size=8, drop_last=False, valid_label_columns=["label"], seed=3
    )
    batches = list(sampler)
    assert len(batches) == len(sampler) == 25
    assert sorted(row for batch in batches for row in batch) == list(range(200))
    for batch in batches:
        texts = [data[row]["positive"] for row in batch] + [data[row]["anchor"] for row in batch]
        assert len(texts) == len(set(texts))
    assert batches == list(LengthGroupedBatchSampler(data, 8, False, ["label"], seed=3))
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch


def test_batches_pad_less_than_random_ones() -> None:
    data = _dataset()
    grouped = list(LengthGroupedBatchSampler(data, 8, False, ["label"], seed=0, group_batches=8))
    rng = np.random.default_rng(0)
    order = rng.permutation(200).tolist()
    random_batches = [order[i : i + 8] for i in range(0, 200, 8)]
    assert _padded(data, grouped) < 0.8 * _padded(data, random_batches)


def test_drop_last_and_names() -> None:
    data = _dataset(rows=50)
    sampler = LengthGroupedBatchSampler(data, 8, True, ["label"], seed=0)
    assert len(sampler) == 6 and all(len(batch) == 8 for batch in sampler)
    assert batch_sampler_for("no_duplicates", 128) == "no_duplicates"
    assert batch_sampler_for("length_grouped", 128).func is LengthGroupedBatchSampler
