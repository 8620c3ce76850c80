"""One engine cache for the pages that search (Ask and Compare): a corpus + model pair is indexed once
per server and shared by every session and page.

The embedding index is built in a ``python -m medqa index`` child process (the server never imports
torch). Ask does not wait for it: the build runs in the background (:mod:`medqa.retrieval.builds`,
started by Home right after Load MedQuAD, or by the first question) while a quick engine answers
(:mod:`medqa.retrieval.quick`); every page shows the build's progress and ETA
(:func:`build_status`). Compare needs the real indexes: it starts their builds the same way and
evaluates once they are done (:func:`wait_for_builds`).
"""

from __future__ import annotations

import streamlit as st

from medqa import models
from medqa.data import store
from medqa.data.store import table_fingerprint
from medqa.errors import IndexBuildError
from medqa.retrieval import builds
from medqa.retrieval.dense import DenseIndex, index_key
from medqa.retrieval.engine import Engine
from medqa.training.progress import format_seconds
from ui import common

#: How often the build status refreshes while a build runs, in seconds.
BUILD_REFRESH_SECONDS = 3.0


@st.cache_data(show_spinner=False, max_entries=4)
def _corpus_fingerprint(name: str, fingerprint: str) -> str:
    return table_fingerprint(common.corpus(name, fingerprint))


@st.cache_resource(show_spinner=False, max_entries=3)
def _engine(corpus_name: str, corpus_fingerprint: str, model: str, model_fingerprint: str) -> Engine:
    corpus = common.corpus(corpus_name, corpus_fingerprint)
    engine = Engine(corpus, model=model, corpus_name=corpus_name, isolated=True)
    _ = engine.calibration  # computed (or read) once here rather than on the first question
    return engine


@st.cache_resource(show_spinner=False, max_entries=2)
def _quick_engine(corpus_name: str, corpus_fingerprint: str, model: str, model_fingerprint: str) -> Engine:
    corpus = common.corpus(corpus_name, corpus_fingerprint)
    return Engine(corpus, model=model, corpus_name=corpus_name, isolated=True, quick=True)


def load_engine(info: store.DatasetInfo, model: str, label: str, *, quick: bool = False) -> Engine:
    """The shared engine for a dataset and model (``"base"``, a run's folder or name).

    When the embedding index is not cached yet: with ``quick``, starts building it in the background
    (if nobody has) and returns a quick engine until it is ready; else builds it first, with a
    progress bar (or follows the background build of it).

    Raises:
        MedQAError: the corpus is empty, or the model or index cannot be loaded.
    """
    fingerprint = models.model_fingerprint(model)
    corpus = common.corpus(info.name, info.fingerprint)
    if quick:
        corpus_fingerprint = _corpus_fingerprint(info.name, info.fingerprint)
        if not DenseIndex.is_cached(corpus, model, corpus_fingerprint=corpus_fingerprint):
            build = builds.start(
                corpus, model, label=common.index_label(info, label),
                corpus_fingerprint=corpus_fingerprint,
            )  # fmt: skip
            if build.running:
                return _quick_engine(info.name, info.fingerprint, model, fingerprint)
            if build.error is not None:
                raise IndexBuildError(build.error)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        bar.progress(done / max(total, 1), text=f"{label}: embedding {done:,} of {total:,} answers (once)")

    with st.spinner(f"Loading {label}…"):
        corpus_fingerprint = _corpus_fingerprint(info.name, info.fingerprint)
        if not DenseIndex.is_cached(corpus, model, corpus_fingerprint=corpus_fingerprint):
            background = builds.find(index_key(model, corpus_fingerprint))
            while background is not None and not background.wait(1.0):  # being built: follow it
                progress(background.done, background.total)
            # Built outside the cached function so the progress bar is not replayed.
            DenseIndex.build_or_load(
                corpus, model, corpus_fingerprint=corpus_fingerprint, progress=progress, isolated=True
            )
        engine = _engine(info.name, info.fingerprint, model, fingerprint)
    if bar is not None:
        bar.empty()
    return engine


def build_status() -> None:
    """In the sidebar of every page: the index builds running on this server, with progress and ETA,
    refreshed every few seconds while one runs; the page is redrawn once they end."""
    running = builds.active()
    st.session_state.drawn_builds = bool(running)
    if not running:
        return

    def panel() -> None:
        now_running = builds.active()
        if not now_running and st.session_state.get("drawn_builds"):
            st.rerun()  # asked again on every poll until the redraw happens (see pages/3_Train.py)
        for build in now_running:
            _build_progress(build)
        if now_running:
            st.caption("Questions are answered in quick mode until it is ready.")

    with st.sidebar:
        st.fragment(run_every=BUILD_REFRESH_SECONDS)(panel)()


def _build_progress(build: builds.IndexBuild) -> None:
    """One build's progress bar: texts embedded and the time left."""
    eta = build.eta_seconds()
    when = f"about {format_seconds(eta)} left" if eta is not None else "estimating the time left"
    text = f"{build.done:,} of {build.total:,} texts · {when}" if build.total else "starting…"
    st.progress(build.fraction, text=f"Building the search index of {build.label}: {text}")


def wait_for_builds(waiting: list[builds.IndexBuild]) -> None:
    """Where a page waits for background index builds (Compare): their progress, refreshed every few
    seconds, and the page redrawn once they have all ended (then it finds the indexes cached, or the
    build's error)."""
    keys = [build.key for build in waiting]

    def panel() -> None:
        running = [build for key in keys if (build := builds.find(key)) is not None and build.running]
        if not running:
            st.rerun()
        for build in running:
            _build_progress(build)

    st.fragment(run_every=BUILD_REFRESH_SECONDS)(panel)()
