"""Tests for medqa.training.teacher_cache: the starting model's embeddings kept for the next run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from medqa import models
from medqa.training import teacher_cache

TEXTS = ["gout: what is gout", "Gout is a form of arthritis.", "asthma: wheezing at night"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDQA_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def source() -> str:
    return str(models.resolve_model_source("base"))


def test_the_key_follows_model_texts_length_and_precision(data_dir: Path, source: str) -> None:
    path = teacher_cache.cache_path(source, TEXTS, 128, "fp32")
    assert path is not None and path.parent == teacher_cache.cache_folder()
    assert teacher_cache.cache_path(source, list(TEXTS), 128, "fp32") == path
    others = {
        teacher_cache.cache_path(source, TEXTS[::-1], 128, "fp32"),
        teacher_cache.cache_path(source, [*TEXTS[:2], TEXTS[2] + " "], 128, "fp32"),
        teacher_cache.cache_path(source, ["a\0b"], 128, "fp32"),
        teacher_cache.cache_path(source, ["a", "b"], 128, "fp32"),
        teacher_cache.cache_path(source, TEXTS, 256, "fp32"),
        teacher_cache.cache_path(source, TEXTS, 128, "bf16"),
    }
    assert path not in others and len(others) == 6
    assert teacher_cache.cache_path("sentence-transformers/all-MiniLM-L6-v2", TEXTS, 128, "fp32") is None
    assert teacher_cache.cache_path(None, TEXTS, 128, "fp32") is None


def test_a_stored_matrix_is_read_back_and_a_wrong_one_is_not(data_dir: Path, source: str) -> None:
    path = teacher_cache.cache_path(source, TEXTS, 128, "fp32")
    matrix = np.random.default_rng(0).standard_normal((3, 384)).astype(np.float32)
    teacher_cache.save(path, matrix)
    np.testing.assert_array_equal(teacher_cache.load(path, 3), matrix)
    assert teacher_cache.load(path, 4) is None  # another number of texts
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, no temporary left
    path.write_bytes(b"not a matrix")
    assert teacher_cache.load(path, 3) is None
    np.save(path, np.array([{"pickled": 1}], dtype=object), allow_pickle=True)
    assert teacher_cache.load(path, 1) is None  # never unpickled
    np.save(path, np.full((3, 384), np.nan, dtype=np.float32))
    assert teacher_cache.load(path, 3) is None
    np.save(path, matrix.astype(np.float64))
    assert teacher_cache.load(path, 3) is None


def test_only_the_most_recent_matrices_are_kept(data_dir: Path, source: str) -> None:
    paths = [
        teacher_cache.cache_path(source, [f"text {n}"], 128, "fp32") for n in range(teacher_cache.KEEP + 2)
    ]
    for age, path in enumerate(paths):
        teacher_cache.save(path, np.zeros((1, 4), dtype=np.float32))
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    teacher_cache.save(paths[0], np.zeros((1, 4), dtype=np.float32))  # used again: newest
    kept = set(teacher_cache.cache_folder().glob("*.npy"))
    assert len(kept) == teacher_cache.KEEP and paths[0] in kept and paths[1] not in kept


def test_a_cache_that_cannot_be_written_costs_nothing(
    data_dir: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = teacher_cache.cache_path(source, TEXTS, 128, "fp32")

    def full_disk(target: Path, write: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(teacher_cache.atomic, "write_file", full_disk)
    teacher_cache.save(path, np.zeros((3, 4), dtype=np.float32))  # no exception
    assert teacher_cache.load(path, 3) is None


@pytest.mark.model
def test_the_trainer_embeds_the_same_texts_once_across_runs(
    data_dir: Path, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medqa.training import trainer

    model = models.load_model("base")
    calls: list[int] = []
    real = trainer._embed_as_teacher

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "_embed_as_teacher", counted)
    first = trainer._teacher_embeddings(model, TEXTS, "fp32", source)
    again = trainer._teacher_embeddings(model, TEXTS, "fp32", source)
    assert len(calls) == 1
    assert np.array_equal(first.numpy(), again.numpy()) and first.shape == (3, 384)
    trainer._teacher_embeddings(model, TEXTS[:2], "fp32", source)
    assert len(calls) == 2  # other texts: embedded
