"""Building the dense index: the torch-free corpus encoder and the isolated (child process) build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from medqa import models, settings
from medqa.errors import IndexCacheError, ModelLoadError
from medqa.retrieval import dense
from medqa.retrieval.dense import (
    DenseIndex,
    DenseSettings,
    document_texts,
    document_units,
    embed_corpus,
    indexes_dir,
    load_cached,
    passage_spans,
)
from medqa.retrieval.engine import load_search_corpus

pytestmark = [pytest.mark.model, pytest.mark.precision]


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


def test_a_bf16_cpu_without_onnx_runtime_builds_with_torch(curated, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ONNX Runtime, auto builds with it in fp32 on any CPU (tests/test_retrieval_onnx_encoder.py)."""
    loaded: list[str] = []
    real_load = models.load_model
    monkeypatch.setattr(dense, "onnx_available", lambda: False)
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
    assert len(built) == len(curated) and built.texts > len(curated)  # answer passages + questions
    assert seen[-1] == (built.embedded, built.embedded) and built.embedded > len(curated)
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


def test_passages_cut_at_words_and_a_short_tail_joins_the_last() -> None:
    answer = " ".join(f"w{i}" for i in range(24)) + "  "
    spans = passage_spans(answer, 10)
    assert [answer[start:end].split()[0] for start, end in spans] == ["w0", "w10"]
    assert answer[spans[-1][0] : spans[-1][1]].split()[-1] == "w23"  # 4 words < half a passage: joined
    assert len(passage_spans(" ".join(["w"] * 25), 10)) == 3  # 5 words: a passage of its own
    assert passage_spans(answer, 10, max_passages=1) == spans[:1]
    assert passage_spans("   ", 10) == [] and passage_spans("one", 10) == [(0, 3)]
    with pytest.raises(ValueError):
        passage_spans(answer, 0)


def test_units_are_the_question_then_the_answer_passages_of_each_pair(curated) -> None:
    units = document_units(curated, DenseSettings(passage_words=40))
    assert np.array_equal(np.unique(units.rows), np.arange(len(curated)))
    assert np.all(np.diff(units.rows) >= 0)
    for text, row, (start, end) in zip(units.texts, units.rows, units.spans, strict=True):
        focus, question, answer = curated.iloc[row][["focus", "question", "answer"]]
        assert text == (f"{focus}: {question}" if start < 0 else f"{focus}: {answer[start:end]}")
    one_each = document_units(curated, DenseSettings(fields="focus_question"))
    assert one_each.texts == document_texts(curated, "focus_question") and (one_each.spans == -1).all()


def test_a_pair_scores_its_best_text_and_says_which_passage(curated) -> None:
    index = DenseIndex.build_or_load(curated, "base", DenseSettings(passage_words=40), use_cache=False)
    vector = models.encode(models.load_model("base"), ["how is glaucoma treated"], precision="fp32")[0]
    text_scores = index.text_scores(vector)
    pair_scores = index.scores(vector)
    assert len(pair_scores) == len(curated)
    for row in range(len(curated)):
        assert pair_scores[row] == pytest.approx(text_scores[index.rows == row].max(), abs=1e-6)
    row = int(np.argmax(pair_scores))
    best = index.best_passage(row, vector)
    own = np.flatnonzero(index.rows == row)
    if best is None:  # the question text was the pair's best
        assert index.spans[own[np.argmax(text_scores[own])]][0] == -1
    else:
        start, end, similarity = best
        assert similarity == pytest.approx(pair_scores[row], abs=1e-5)
        assert 0 <= start < end <= len(curated.iloc[row]["answer"])


def test_a_build_reuses_the_embeddings_other_indexes_hold(curated) -> None:
    short = DenseSettings(precision="fp32", passage_words=20, max_passages=0)
    full = DenseIndex.build_or_load(curated, "base", short)
    assert full.reused == 0 and full.embedded > 0
    capped = DenseIndex.build_or_load(curated, "base", replace(short, max_passages=1))
    assert capped.embedded == 0 and capped.reused > 0 and capped.texts < full.texts
    edited = curated.copy()
    edited.loc[0, "answer"] = "A brand new answer about eye drops for glaucoma."
    changed = DenseIndex.build_or_load(edited, "base", short)
    assert changed.embedded == 1  # only the new passage; the unchanged texts come from the first index
    np.testing.assert_array_equal(changed.embeddings[changed.rows > 0], full.embeddings[full.rows > 0])


def test_a_tampered_unit_table_is_refused_and_rebuilt(curated) -> None:
    built = DenseIndex.build_or_load(curated, "base")
    units_file = indexes_dir() / built.key / "units.npy"
    units = np.load(units_file)
    units[1, 1] += 1
    np.save(units_file, units)
    with pytest.raises(IndexCacheError):
        load_cached(indexes_dir() / built.key, curated["id"])
    again = DenseIndex.build_or_load(curated, "base")
    assert not again.from_cache and np.array_equal(again.spans, built.spans)


def test_a_build_records_its_work_and_time_and_sets_the_rate(
    curated, monkeypatch: pytest.MonkeyPatch
) -> None:
    dense_settings = DenseSettings(precision="fp32")
    texts = list(dict.fromkeys(document_units(curated, dense_settings).texts))
    expected = dense.approximate_tokens(texts, dense_settings.max_seq_length)
    assert dense.pending_tokens(curated, "base", dense_settings) == expected > 0
    assert dense.tokens_per_second() is None  # no build timed yet
    built = DenseIndex.build_or_load(curated, "base", dense_settings)
    meta = json.loads((indexes_dir() / built.key / "meta.json").read_text(encoding="utf-8"))
    assert meta["embedded_tokens"] == expected and meta["embed_seconds"] > 0
    assert dense.pending_tokens(curated, "base", dense_settings) == 0  # cached: nothing to embed
    # A build this small does not set the rate (loading the model dominates it) ...
    assert expected < dense.RATE_MIN_TOKENS and dense.tokens_per_second() is None
    # ... a large one does, and the most recent large one wins; an unreadable record is skipped.
    monkeypatch.setattr(dense, "RATE_MIN_TOKENS", expected)
    assert dense.tokens_per_second() == pytest.approx(expected / meta["embed_seconds"])
    for name, tokens, seconds, age in (("older", 90_000, 9.0, 200), ("newer", 60_000, 30.0, 100)):
        folder = indexes_dir() / name
        folder.mkdir()
        (folder / "meta.json").write_text(json.dumps({"embedded_tokens": tokens, "embed_seconds": seconds}))
        stamp = time.time() + 1000 - age
        os.utime(folder / "meta.json", (stamp, stamp))
    (indexes_dir() / "broken").mkdir()
    (indexes_dir() / "broken" / "meta.json").write_text("{not json")
    assert dense.tokens_per_second() == pytest.approx(2_000.0)


def test_approximate_tokens_count_words_and_cap_each_text() -> None:
    assert dense.approximate_tokens(["one two three four"], 256) == int(4 * dense.TOKENS_PER_WORD) + 2
    assert dense.approximate_tokens(["word " * 1000, ""], 128) == 128 + 2
