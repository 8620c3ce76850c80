"""The ONNX Runtime encoder agrees with sentence-transformers, and int8 is used only where it agrees."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from medqa import models
from medqa.errors import ModelLoadError
from medqa.retrieval import dense, onnx_encoder
from medqa.retrieval.encoder import NumpyBertEncoder, length_batches
from medqa.retrieval.onnx_encoder import OnnxBertEncoder
from tests.test_retrieval_encoder import TEXTS as ENCODER_TEXTS

pytestmark = pytest.mark.model

#: The numpy encoder's test texts (a question, a lower-case one, one letter, one past max_seq_length)
#: and a passage as the index embeds it.
TEXTS = [
    *ENCODER_TEXTS,
    "Gout: a form of arthritis with sudden, severe pain, swelling and redness in a joint.",
]


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return str(models.resolve_model_source("base"))


def test_fp32_graph_matches_sentence_transformers(base: str) -> None:
    encoder = OnnxBertEncoder(base)  # the folder's max_seq_length, as the shared model below (not changed)
    seen: list[tuple[int, int]] = []
    fast = encoder.encode(TEXTS, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    reference = models.encode(models.load_model("base"), TEXTS, precision="fp32")
    assert encoder.precision == "fp32" and fast.shape == (len(TEXTS), 384)
    assert np.min(np.sum(fast * reference, axis=1)) >= 0.9999
    assert seen[-1] == (len(TEXTS), len(TEXTS)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert encoder.encode([]).shape == (0, 384)


def test_int8_graph_is_close_to_fp32_but_not_equal(base: str) -> None:
    """Loose on purpose: CPUs without VNNI compute int8 products differently (the 0.99 gate is checked on
    each machine at build time, below); here it must be int8 that ran, and still the same meaning."""
    int8 = OnnxBertEncoder(base, precision="int8")
    vectors = int8.encode(TEXTS)
    cosines = np.sum(vectors * NumpyBertEncoder(base).encode(TEXTS), axis=1)
    assert int8.precision == "int8"
    assert np.all(cosines >= 0.95) and np.any(cosines < 0.99999)
    assert int8.check_int8(TEXTS) == pytest.approx(float(cosines.min()), abs=1e-4)
    assert int8.check_int8([]) == 1.0


def test_int8_is_used_only_where_the_sample_agrees_with_fp32(
    base: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The gate is forced both ways, so the test passes whatever this CPU's int8 products give."""
    monkeypatch.setattr(dense, "INT8_MIN_COSINE", -1.0)
    vectors, precision = dense.embed_without_torch(TEXTS, base, 128, int8=True)
    assert precision == "int8"
    monkeypatch.setattr(dense, "INT8_MIN_COSINE", 1.01)  # no CPU reaches it
    with caplog.at_level(logging.WARNING, logger="medqa.retrieval.dense"):
        fallback, precision = dense.embed_without_torch(TEXTS, base, 128, int8=True)
    assert precision == "fp32" and "embedding in fp32" in caplog.text
    np.testing.assert_allclose(fallback, OnnxBertEncoder(base, max_length=128).encode(TEXTS), atol=1e-5)
    assert not np.allclose(vectors, fallback, atol=1e-5)


def test_without_onnx_runtime_the_numpy_encoder_embeds_in_fp32(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_onnx, _ = dense.embed_without_torch(TEXTS, base, 128)
    monkeypatch.setattr(dense, "onnx_available", lambda: False)
    without, precision = dense.embed_without_torch(TEXTS, base, 128, int8=True)
    assert precision == "fp32"
    np.testing.assert_allclose(without, with_onnx, atol=1e-5)


def test_a_graph_onnx_runtime_refuses_falls_back_to_numpy(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    def refuse(*args: object, **kwargs: object) -> None:
        raise onnxruntime.capi.onnxruntime_pybind11_state.Fail("no kernel for DynamicQuantizeMatMul")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot run"):
        OnnxBertEncoder(base)
    vectors, precision = dense.embed_without_torch(TEXTS[:2], base, 128, int8=True)
    assert precision == "fp32" and vectors.shape == (2, 384)


def test_unsupported_folders_and_precisions_are_refused(base: str, tmp_path: Path) -> None:
    folder = tmp_path / "no-weights"
    shutil.copytree(base, folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError):
        OnnxBertEncoder(folder)
    assert dense.embed_without_torch(TEXTS, folder, 128) is None  # the caller then embeds with torch
    assert dense.embed_without_torch(TEXTS, "sentence-transformers/all-MiniLM-L6-v2", 128) is None
    with pytest.raises(ValueError, match="precision"):
        OnnxBertEncoder(base, precision="fp16")


@pytest.mark.parametrize(
    ("asked", "onnx", "native_bf16", "expected"),
    [
        ("auto", True, False, "fp32"),
        ("auto", True, True, "fp32"),  # as fast as torch bf16 on AVX512-BF16, and no torch (dense)
        ("auto", False, False, "fp32"),
        ("fp32", True, True, "fp32"),
        ("int8", True, False, "int8"),
    ],
)
def test_build_precision_policy(
    base: str, monkeypatch: pytest.MonkeyPatch, asked: str, onnx: bool, native_bf16: bool, expected: str
) -> None:
    asked_for: list[bool] = []

    def record(texts, source, max_seq_length, progress=None, *, int8=False):
        asked_for.append(int8)
        return np.zeros((len(texts), 384), dtype=np.float32), "int8" if int8 else "fp32"

    monkeypatch.setattr(dense, "onnx_available", lambda: onnx)
    monkeypatch.setattr(models, "cpu_flags_bf16", lambda: native_bf16)
    monkeypatch.setattr(dense, "embed_without_torch", record)
    _, precision = dense.embed_corpus(TEXTS[:2], "base", dense.DenseSettings(precision=asked))
    assert precision == expected and asked_for == [expected == "int8"]


def test_length_batches_put_similar_lengths_together_within_the_token_cap() -> None:
    token_ids = [np.zeros(length, dtype=np.int64) for length in (3, 40, 5, 40, 12, 1)]
    batches = length_batches(token_ids, batch_size=2, tokens_per_batch=64)
    assert [list(rows) for rows in batches] == [[1], [3], [4, 2], [0, 5]]  # 40 x 2 > 64 tokens
    assert length_batches([], 32, 64) == []


def test_onnx_runtime_is_reported_available() -> None:
    onnx_encoder.onnx_available.cache_clear()
    assert onnx_encoder.onnx_available()  # both are in requirements.txt
