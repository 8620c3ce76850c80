"""BM25 over the pairs: stemming, stopwords, fields and the on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.data.store import table_fingerprint
from medqa.retrieval.bm25 import BM25Index, bm25_cache_folder, bm25_texts

ROWS = [
    ("a-1", "Gout", "What causes gout ?", "Uric acid crystals build up in a joint.", "podagra"),
    ("a-2", "Asthma", "How is asthma treated ?", "Inhalers open the airways.", ""),
    (
        "a-3",
        "Shingles",
        "What are the symptoms of shingles ?",
        "A painful rash with blisters.",
        "herpes zoster",
    ),
    ("a-4", "Glaucoma", "Who is at risk for glaucoma ?", "Older adults and people with diabetes.", ""),
]


@pytest.fixture
def corpus() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=[col.ID, col.FOCUS, col.QUESTION, col.ANSWER, col.SYNONYMS])


def test_stemming_and_stopwords(corpus: pd.DataFrame) -> None:
    index = BM25Index(corpus)
    assert index.query_tokens("Treating the ASTHMAS") == ["treat", "asthma"]  # stemmed, "the" dropped
    scores = index.scores("treating asthmas")
    assert int(np.argmax(scores)) == 1
    assert not index.scores("the of and").any()  # only stopwords: nothing matches


def test_synonyms_and_answers_are_indexed_by_default(corpus: pd.DataFrame) -> None:
    index = BM25Index(corpus)
    assert int(np.argmax(index.scores("herpes zoster"))) == 2
    assert int(np.argmax(index.scores("inhalers"))) == 1  # an answer word (bench/results/fields.txt)
    assert not BM25Index(corpus, "question_focus_synonyms").scores("inhalers").any()
    with pytest.raises(ValueError, match="fields"):
        bm25_texts(corpus, "everything")


def test_cache_is_reused_and_rebuilt_when_damaged(corpus: pd.DataFrame, workdirs: Path) -> None:
    built = BM25Index(corpus, use_cache=True)
    assert not built.from_cache
    loaded = BM25Index(corpus, use_cache=True)
    assert loaded.from_cache
    np.testing.assert_allclose(loaded.scores("gout crystals"), built.scores("gout crystals"))
    folder = bm25_cache_folder(table_fingerprint(corpus), "all")
    for path in folder.glob("*.npy"):
        path.write_bytes(b"broken")
    rebuilt = BM25Index(corpus, use_cache=True)
    assert not rebuilt.from_cache
    np.testing.assert_allclose(rebuilt.scores("gout crystals"), built.scores("gout crystals"))
    smaller = BM25Index(corpus.iloc[:3], use_cache=True)  # another corpus: another cache entry
    assert not smaller.from_cache and len(smaller) == 3
