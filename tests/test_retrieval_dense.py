"""Building the dense index: the torch-free corpus encoder and the isolated (child process) build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from medqa import models, settings
from medqa.errors import ModelLoadError
from medqa.retrieval import dense
from medqa.retrieval.dense import DenseIndex, DenseSettings, document_texts, embed_corpus, indexes_dir
from medqa.retrieval.engine import load_search_corpus

pytestmark = pytest.mark.model


@pytest.fixture
def curated(fixture_data_dir: Path, workdirs: Path, monkeypatch: pytest.MonkeyPatch):
    """The fixture's curated corpus in a data folder of its own (no cached index yet)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copytree(fixture_data_dir / "datasets", workdirs / "data" / "datasets")
    shutil.copytree(fixture_data_dir / "cache", workdirs / "data" / "cache")
    return load_search_corpus("curated")


def test_corpus_embeddings_without_torch_match_torch(curated) -> None:
    texts = document_texts(curated, "focus_question")
    done: list[tuple[int, int]] = []
    fast, precision = embed_corpus(
        texts, "base", DenseSettings(precision="fp32"), lambda d, t: done.append((d, t))
    )
    reference = models.encode(models.load_model("base"), texts, precision="fp32")
    assert precision == "fp32"
    assert np.min(np.sum(fast * reference, axis=1)) >= 0.9999
    assert done[-1] == (len(texts), len(texts))
    assert [d for d, _ in done] == sorted(d for d, _ in done)


def test_a_bf16_cpu_builds_with_torch(curated, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real_load = models.load_model
    monkeypatch.setattr(models, "cpu_flags_bf16", lambda: True)
    monkeypatch.setattr(models, "load_model", lambda name: loaded.append(name) or real_load(name))
    monkeypatch.setattr(models, "choose_precision", lambda model, precision="auto": "fp32")
    embed_corpus(document_texts(curated, "focus_question")[:4], "base", DenseSettings())
    assert loaded == ["base"]


def test_isolated_build_writes_the_cache_in_a_child(curated) -> None:
    seen: list[tuple[int, int]] = []
    built = DenseIndex.build_or_load(
        curated, "base", progress=lambda done, total: seen.append((done, total)), isolated=True
    )
    assert not built.from_cache and DenseIndex.is_cached(curated, "base")
    assert seen[-1] == (len(curated), len(curated))
    inline = DenseIndex.build_or_load(curated, "base", use_cache=False)
    np.testing.assert_allclose(built.embeddings, inline.embeddings, atol=1e-5)
    assert DenseIndex.build_or_load(curated, "base", isolated=True).from_cache
    assert not list(indexes_dir().glob(".corpus-*")), "the child's scratch folder was left behind"


def test_concurrent_sessions_share_one_child_build(curated, monkeypatch: pytest.MonkeyPatch) -> None:
    children: list[int] = []
    real_build = dense.build_in_child

    def counted(*args, **kwargs) -> bool:
        children.append(threading.active_count())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(dense, "build_in_child", counted)
    with ThreadPoolExecutor(3) as pool:
        indexes = list(pool.map(lambda _: DenseIndex.build_or_load(curated, "base", isolated=True), range(3)))
    assert len(children) == 1  # the sessions that waited loaded the first one's index
    assert sum(not index.from_cache for index in indexes) == 1
    assert all(np.array_equal(index.embeddings, indexes[0].embeddings) for index in indexes)


def test_isolated_build_raises_the_childs_typed_error(curated, tmp_path: Path) -> None:
    broken = shutil.copytree(models.resolve_model_source("base"), tmp_path / "broken-run")
    # Complete files (the parent's checks pass) but an unusable config: only loading it fails.
    (broken / "config.json").write_text('{"model_type": "bert", "hidden_size": "wide"}')
    with pytest.raises(ModelLoadError):
        DenseIndex.build_or_load(curated, str(broken), isolated=True)
    assert not DenseIndex.is_cached(curated, str(broken))
    assert not [p for p in indexes_dir().iterdir() if p.name.startswith(".")]


def test_a_read_only_index_folder_builds_in_memory(curated, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child process was started for an unwritable index folder")

    monkeypatch.setattr(dense, "_writable", lambda folder: False)
    monkeypatch.setattr(dense, "run_medqa", no_child)
    index = DenseIndex.build_or_load(curated, "base", isolated=True)
    assert len(index) == len(curated) and not index.from_cache


def test_the_server_side_never_imports_torch(curated, workdirs: Path) -> None:
    """What the app does on a cold start: build isolated, search with the numpy query encoder."""
    script = (
        "import sys\n"
        "from medqa.retrieval.engine import Engine\n"
        "engine = Engine.from_dataset('curated', isolated=True)\n"
        "hit = engine.search('what are the symptoms of shingles', 1, mode='dense').hits[0]\n"
        "print(hit.focus, engine.dense.from_cache, 'torch' in sys.modules)\n"
    )
    environment = {**os.environ, "MEDQA_DATA_DIR": str(workdirs / "data"), "HF_HUB_OFFLINE": "1"}
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment,
        cwd=settings.PROJECT_ROOT, timeout=600, check=True,
    ).stdout.split()  # fmt: skip
    assert output == ["Shingles", "False", "False"]
