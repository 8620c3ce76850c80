"""Background index builds: one per index, shared, with progress, ETA and a clear failure."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from medqa.data import store
from medqa.errors import IndexBuildError
from medqa.retrieval import builds
from medqa.retrieval.dense import DenseIndex


@pytest.fixture(autouse=True)
def no_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builds, "_builds", {})


@pytest.fixture
def curated(fixture_data_dir: Path, workdirs: Path):
    shutil.copytree(fixture_data_dir / "datasets", workdirs / "data" / "datasets")
    return store.load_corpus(store.CURATED)


def test_eta_from_the_measured_rate() -> None:
    build = builds.IndexBuild(key="k", label="x")
    assert build.eta_seconds() is None and build.fraction == 0.0
    build.report(0, 100)
    assert build.eta_seconds() is None  # one report: no rate yet
    build._reports = [(1000.0, 0), (1010.0, 20)]  # 2 texts/s
    build.done, build.total = 20, 100
    assert build.eta_seconds(now=1010.0) == pytest.approx(40.0)
    assert build.eta_seconds(now=1015.0) == pytest.approx(35.0)
    assert build.fraction == pytest.approx(0.2)


def test_one_build_per_index_shared_and_forgotten_once_on_disk(
    curated, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[str] = []

    def fake_build(corpus, model, dense_settings, *, corpus_fingerprint, progress, isolated):
        calls.append(model)
        progress(1, 4)
        release.wait(20)
        progress(4, 4)

    monkeypatch.setattr(DenseIndex, "build_or_load", staticmethod(fake_build))
    first = builds.start(curated, "base", label="curated with the base model")
    second = builds.start(curated, "base", label="again")
    assert first is second and first.running and builds.active() == [first]
    assert builds.find(first.key) is first and first.total == 4
    release.set()
    assert first.wait(20) and not first.running and first.error is None
    assert builds.active() == [] and builds.find(first.key) is None and calls == ["base"]


def test_a_failed_build_is_reported_and_started_again(curated, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    def failing(*args, **kwargs):
        attempts.append(1)
        raise IndexBuildError("Embedding the corpus failed (stopped by SIGKILL)")

    monkeypatch.setattr(DenseIndex, "build_or_load", staticmethod(failing))
    failed = builds.start(curated, "base", label="x")
    assert failed.wait(20) and "SIGKILL" in (failed.error or "")
    assert builds.find(failed.key) is failed and builds.active() == []
    assert builds.start(curated, "base", label="x") is failed and len(attempts) == 1  # not on every view
    failed.finished -= builds.RETRY_AFTER_SECONDS
    again = builds.start(curated, "base", label="x")
    assert again is not failed and again.wait(20) and len(attempts) == 2


@pytest.mark.model
def test_a_real_build_in_the_background_then_cached(curated) -> None:
    build = builds.start(curated, "base", label="curated")
    assert build.wait(600) and build.error is None, build.error
    assert build.total > 0 and build.done == build.total
    assert DenseIndex.is_cached(curated, "base")
    cached = builds.start(curated, "base", label="curated")
    assert not cached.running and cached.error is None and builds.active() == []
