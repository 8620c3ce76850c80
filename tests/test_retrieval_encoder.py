"""The torch-free query encoder agrees with sentence-transformers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from medqa import models
from medqa.errors import ModelLoadError
from medqa.retrieval import encoder as encoder_module
from medqa.retrieval.encoder import NumpyBertEncoder, TorchEncoder, load_query_encoder, map_safetensors

pytestmark = pytest.mark.model

TEXTS = [
    "What are the early warning signs of Alzheimer's?",
    "is shingles contagious to my grandkids",
    "x",
    "Glaucoma is a group of eye diseases that damage the optic nerve. " * 30,  # past max_seq_length
]


def test_numpy_encoder_matches_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = load_query_encoder("base")
    assert isinstance(encoder, NumpyBertEncoder)
    assert load_query_encoder("base") is encoder
    fast = encoder.encode(TEXTS, batch_size=2)
    reference = models.encode(models.load_model("base"), TEXTS, precision="fp32")
    assert fast.shape == reference.shape == (len(TEXTS), 384)
    assert np.min(np.sum(fast * reference, axis=1)) >= 0.9999


def test_batches_in_parallel_give_the_same_rows_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = load_query_encoder("base")
    texts = [*TEXTS, *(f"question number {n} about {'gout ' * n}" for n in range(12))]
    seen: list[tuple[int, int]] = []
    parallel = encoder.encode(texts, batch_size=2, workers=3, progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_allclose(parallel, encoder.encode(texts, batch_size=2), atol=1e-6)
    assert seen[-1] == (len(texts), len(texts)) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_long_query_shares_its_pass_with_a_second_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """From SPLIT_MIN_TOKENS tokens on, token rows and attention heads are halved between two threads,
    giving the rows one thread gives; a short query, a corpus batch or a single core stays on one."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = load_query_encoder("base")
    long_question, short = TEXTS[-1][:600], TEXTS[1]  # about 110 tokens, and a dozen
    threshold = encoder_module.SPLIT_MIN_TOKENS
    monkeypatch.setattr(encoder_module, "SPLIT_MIN_TOKENS", 10**9)
    alone = np.stack([encoder.encode([long_question])[0], encoder.encode([short])[0]])
    monkeypatch.setattr(encoder_module, "SPLIT_MIN_TOKENS", threshold)
    real_second_thread = encoder_module._second_thread
    monkeypatch.setattr(encoder_module.system, "usable_cpus", lambda: 2)
    pool = real_second_thread()
    assert pool is not None
    submitted: list[object] = []

    class Spy:
        def submit(self, work, *args):  # type: ignore[no-untyped-def]
            submitted.append(work)
            return pool.submit(work, *args)

    monkeypatch.setattr(encoder_module, "_second_thread", lambda: Spy())
    shared = np.stack([encoder.encode([long_question])[0], encoder.encode([short])[0]])
    assert len(submitted) == 1 + 2 * 6  # the first projection, then heads and rows in each of 6 layers
    np.testing.assert_allclose(shared, alone, atol=1e-6)
    submitted.clear()
    encoder.encode([short])  # a dozen tokens: cheaper on one thread
    encoder.encode([long_question, short] * 3, batch_size=2, workers=2)  # batches run one per worker
    assert submitted == []
    monkeypatch.setattr(encoder_module.system, "usable_cpus", lambda: 1)
    assert real_second_thread() is None


def test_unsupported_folders_fall_back_to_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = shutil.copytree(models.resolve_model_source("base"), tmp_path / "no-tokenizer-json")
    (folder / "tokenizer.json").unlink()  # the numpy path needs the fast tokenizer file
    encoder = load_query_encoder(str(folder))
    assert isinstance(encoder, TorchEncoder)


def test_runs_saved_by_this_sentence_transformers_use_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained runs are saved by the installed sentence-transformers (its own Pooling config format)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "saved-run"
    models.load_model("base").save(str(folder))
    encoder = load_query_encoder(str(folder))
    assert isinstance(encoder, NumpyBertEncoder)
    reference = models.encode(models.load_model("base"), TEXTS, precision="fp32")
    assert np.min(np.sum(encoder.encode(TEXTS) * reference, axis=1)) >= 0.9999


def test_weights_are_mapped_from_the_file_not_copied(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    weights = Path(models.resolve_model_source("base")) / "model.safetensors"
    mapped = map_safetensors(weights)
    copied = load_file(str(weights))
    assert mapped.keys() == copied.keys()
    assert all(np.array_equal(mapped[name], copied[name]) for name in copied)
    assert not mapped["embeddings.word_embeddings.weight"].flags.owndata  # a view of the mapping
    truncated = tmp_path / "model.safetensors"
    truncated.write_bytes(weights.read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match="truncated"):
        map_safetensors(truncated)


def test_token_ids_are_the_same_tokenised_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Corpora are tokenised TOKENIZE_CHUNK texts at a time (memory); the ids do not depend on it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = NumpyBertEncoder(models.resolve_model_source("base"))
    whole = encoder.token_ids(TEXTS)
    monkeypatch.setattr(encoder_module, "TOKENIZE_CHUNK", 3)
    chunked = encoder.token_ids(TEXTS)
    assert len(chunked) == len(whole) == len(TEXTS) and encoder.token_ids([]) == []
    assert all(np.array_equal(a, b) for a, b in zip(chunked, whole, strict=True))
    assert len(whole[-1]) == encoder.max_length  # the long text is truncated
