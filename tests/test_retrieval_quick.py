"""The quick engine: the model re-ranks BM25's candidates while the index is built."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from medqa.data import store
from medqa.retrieval import abstain, quick
from medqa.retrieval.dense import DenseIndex, DenseSettings
from medqa.retrieval.engine import MODES, QUICK_NOTE, Engine, EngineSettings
from medqa.retrieval.fusion import top_rows

pytestmark = pytest.mark.model

#: fp32 on every CPU, so the quick scores (numpy encoder) and the index's agree closely.
SETTINGS = EngineSettings(dense=DenseSettings(precision="fp32"))


@pytest.fixture
def corpus(fixture_data_dir: Path, workdirs: Path):
    """The fixture's full corpus in a data folder of its own (no index, no calibration)."""
    for folder in ("datasets", "cache"):
        shutil.copytree(fixture_data_dir / folder, workdirs / "data" / folder)
    return store.load_corpus(store.FULL)


def test_candidates_score_as_in_the_index_and_the_rest_minus_one(corpus) -> None:
    engine = Engine(corpus, model="base", settings=SETTINGS, quick=True)
    index = DenseIndex.build_or_load(corpus, "base", SETTINGS.dense, use_cache=False)
    vector = engine.encode_queries(["how is gout treated"])[0]
    candidates = top_rows(engine.bm25.scores("how is gout treated"), 8, positive_only=True)
    scores = engine.dense.scores(vector, candidates)
    expected = index.scores(vector)
    np.testing.assert_allclose(scores[candidates], expected[candidates], atol=1e-4)
    others = np.setdiff1d(np.arange(len(corpus)), candidates)
    assert len(others) and np.all(scores[others] == -1.0)
    for row in candidates.tolist():
        mine, theirs = engine.dense.best_passage(row, vector), index.best_passage(row, vector)
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert mine[:2] == theirs[:2] and mine[2] == pytest.approx(theirs[2], abs=1e-4)
    assert len(engine.dense) == len(index) and engine.dense.texts == index.texts


@pytest.mark.parametrize("mode", MODES)
def test_quick_engine_answers_like_the_full_one_and_says_it_is_quick(corpus, mode: str) -> None:
    quick_engine = Engine(corpus, model="base", settings=SETTINGS, quick=True)
    full = Engine(corpus, model="base", settings=SETTINGS)
    question = "what are the symptoms of glaucoma"
    fast = quick_engine.search(question, 3, mode=mode)
    # No calibration of the index exists yet: nothing is withheld, and the answer says it was not checked.
    assert fast.threshold == -1.0 and not fast.abstain and QUICK_NOTE in fast.notes
    assert not list(abstain.calibration_dir().glob("*.json"))  # a quick engine stores none
    assert fast.hits[0].focus == full.search(question, 3, mode=mode).hits[0].focus == "Glaucoma"


def test_a_stored_calibration_of_the_index_makes_the_quick_engine_abstain(corpus) -> None:
    full = Engine(corpus, model="base", settings=SETTINGS)
    threshold = full.calibration.threshold  # computed and stored under the index's key
    quick_engine = Engine(corpus, model="base", settings=SETTINGS, quick=True)
    assert quick_engine.calibration.threshold == threshold
    result = quick_engine.search("how do I change the oil in my car", 3)
    assert result.abstain and QUICK_NOTE not in result.notes


def test_text_vectors_are_cached_and_bounded(corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quick, "CACHE_TEXTS", 6)
    engine = Engine(corpus, model="base", settings=SETTINGS, quick=True)
    encoded: list[int] = []
    workers: list[int] = []
    encode = engine.encoder.encode

    def counting(texts, **options):  # type: ignore[no-untyped-def]
        encoded.append(len(texts))
        workers.append(options.get("workers", 1))
        return encode(texts, **options)

    monkeypatch.setattr(engine.encoder, "encode", counting)
    monkeypatch.setattr(quick.system, "usable_cpus", lambda: 2)
    vector = engine.encode_queries(["gout"])[0]
    encoded.clear()
    engine.dense.scores(vector, np.array([0, 1]))
    first = encoded[-1]
    engine.dense.scores(vector, np.array([0, 1]))  # all cached: nothing embedded again
    assert len(encoded) == 1 and first >= 2
    assert workers[-1] == 2  # candidates are embedded a batch per core, as index builds are
    engine.dense.scores(vector, np.arange(10))
    assert len(engine.dense._cache) <= 6


def test_no_candidates_means_no_answer(corpus) -> None:
    engine = Engine(corpus, model="base", settings=SETTINGS, quick=True)
    result = engine.search("zzzz qqqq", 3, mode="bm25")
    assert result.hits == () and result.abstain
