"""One engine cache for the pages that search (Ask and Compare): a corpus + model pair is indexed once
per server and shared by every session and page.

The embedding index is built before the cached engine is created, in a ``python -m medqa index``
child process (the server never imports torch), with a progress bar in the page that asked first; the
engine then loads it from the disk cache.
"""

from __future__ import annotations

import streamlit as st

from medqa import models
from medqa.data import store
from medqa.data.store import table_fingerprint
from medqa.retrieval.dense import DenseIndex
from medqa.retrieval.engine import Engine
from ui import common


@st.cache_data(show_spinner=False, max_entries=4)
def _corpus_fingerprint(name: str, fingerprint: str) -> str:
    return table_fingerprint(common.corpus(name, fingerprint))


@st.cache_resource(show_spinner=False, max_entries=3)
def _engine(corpus_name: str, corpus_fingerprint: str, model: str, model_fingerprint: str) -> Engine:
    corpus = common.corpus(corpus_name, corpus_fingerprint)
    engine = Engine(corpus, model=model, corpus_name=corpus_name, isolated=True)
    _ = engine.calibration  # computed (or read) once here rather than on the first question
    return engine


def load_engine(info: store.DatasetInfo, model: str, label: str) -> Engine:
    """The shared engine for a dataset and model (``"base"``, a run's folder or name).

    Builds the embedding index first, with a progress bar, when it is not cached yet.

    Raises:
        MedQAError: the corpus is empty, or the model or index cannot be loaded.
    """
    fingerprint = models.model_fingerprint(model)
    corpus = common.corpus(info.name, info.fingerprint)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        bar.progress(done / max(total, 1), text=f"{label}: embedding {done:,} of {total:,} answers (once)")

    with st.spinner(f"Loading {label}…"):
        corpus_fingerprint = _corpus_fingerprint(info.name, info.fingerprint)
        if not DenseIndex.is_cached(corpus, model, corpus_fingerprint=corpus_fingerprint):
            # Built outside the cached function so the progress bar is not replayed.
            DenseIndex.build_or_load(
                corpus, model, corpus_fingerprint=corpus_fingerprint, progress=progress, isolated=True
            )
        engine = _engine(info.name, info.fingerprint, model, fingerprint)
    if bar is not None:
        bar.empty()
    return engine
