"""Streamlit pieces shared by the pages: cached loaders, the disclaimer and the data set-up panels.

This package is the only place besides ``Home.py`` and ``pages/`` that imports ``streamlit``; the logic
it calls lives in :mod:`medqa`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medqa import safety, settings
from medqa.data import store
from medqa.data.medquad import is_url
from medqa.data.upload import decode_csv, guess_columns, import_csv, read_csv_text
from medqa.errors import MedQAError


def disclaimer() -> None:
    """The educational-use notice shown on every page that shows answers."""
    st.info(safety.DISCLAIMER, icon=":material/info:")


# Tables are shared resources, not st.cache_data: that hands every rerun its own unpickled copy (about
# 40 MB for full MedQuAD) on a 1 GB box. Callers treat them as read-only.
@st.cache_resource(show_spinner=False, max_entries=2)
def _pairs(name: str, fingerprint: str) -> pd.DataFrame:
    return store.load_pairs(name)


@st.cache_resource(show_spinner=False, max_entries=2)
def corpus(name: str, fingerprint: str) -> pd.DataFrame:
    """The answered pairs of a dataset (shared by sessions: do not modify), keyed by its fingerprint."""
    return store.load_corpus(name)


def load_pairs(info: store.DatasetInfo) -> pd.DataFrame:
    """A dataset's table (shared by sessions: do not modify), keyed by its content fingerprint."""
    return _pairs(info.name, info.fingerprint)


def load_corpus(info: store.DatasetInfo) -> pd.DataFrame:
    """The answered pairs of a dataset (shared by sessions: do not modify)."""
    return corpus(info.name, info.fingerprint)


def dataset_label(info: store.DatasetInfo) -> str:
    """How a dataset is named in pickers."""
    labels = {store.FULL: "Full MedQuAD", store.CURATED: "Curated (balanced subset)"}
    base = labels.get(info.name, f"Uploaded: {info.name}")
    return f"{base} — {info.answered:,} answered pairs, {info.focus_areas:,} focus areas"


def dataset_picker(label: str = "Dataset", *, key: str = "dataset") -> store.DatasetInfo | None:
    """A select box over the stored datasets; ``None`` (with a hint) when there are none."""
    datasets = store.list_datasets()
    if not datasets:
        st.warning("No data yet. Load MedQuAD or upload a CSV on the Home page.", icon=":material/database:")
        st.page_link("Home.py", label="Go to Home to set up data", icon=":material/home:")
        return None
    return st.selectbox(label, datasets, format_func=dataset_label, key=key)


def medquad_setup_panel() -> None:
    """Load MedQuAD from the configured source or the internet, or from an uploaded archive."""
    source = settings.medquad_source()
    where = source or settings.DEFAULT_MEDQUAD_URL
    online = is_url(where)
    st.write(
        f"**Load MedQuAD** ({'download from ' if online else 'read from '}`{where}`). "
        + ("This needs internet access; offline, upload the archive instead." if online else "")
    )
    if st.button("Load MedQuAD", type="primary", key="load_medquad"):
        _build(where)
    archive = st.file_uploader(
        "…or upload the MedQuAD archive (MedQuAD-master.zip)", type=["zip"], key="medquad_zip"
    )
    if archive is not None and st.button("Build from the uploaded archive", key="build_zip"):
        try:
            path = store.save_upload_archive(archive.getvalue())
        except MedQAError as error:
            st.error(str(error), icon=":material/error:")
        else:
            _build(str(path))


def _build(source: str) -> None:
    bar = st.progress(0.0, text="Reading MedQuAD…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Parsing MedQuAD: {done:,} of {total:,} files")

    try:
        full, curated = store.build_datasets(source, progress=progress)
    except MedQAError as error:
        bar.empty()
        st.error(str(error), icon=":material/error:")
        return
    bar.empty()
    st.cache_data.clear()
    st.success(
        f"MedQuAD loaded: {full.rows:,} pairs ({full.answered:,} with answers). "
        f"Curated subset: {curated.rows} pairs in {curated.focus_areas} focus areas."
    )


def csv_upload_panel() -> None:
    """Upload a question-answer CSV, map its columns and store it as a dataset."""
    uploaded = st.file_uploader(
        f"Upload a CSV with questions and answers (UTF-8, up to {settings.MAX_UPLOAD_BYTES // 1_000_000} MB)",
        type=["csv", "tsv", "txt"],
        key="csv_upload",
    )
    if uploaded is None:
        return
    data = uploaded.getvalue()
    try:
        preview = read_csv_text(decode_csv(data))
    except MedQAError as error:
        st.error(f"{uploaded.name}: {error}", icon=":material/error:")
        return
    columns = list(preview.columns)
    guessed = guess_columns(columns)
    left, middle, right = st.columns(3)
    question = left.selectbox("Question column", columns, index=_index(columns, guessed["question"]))
    answer = middle.selectbox("Answer column", columns, index=_index(columns, guessed["answer"], 1))
    focus_options = ["(infer from the question)", *columns]
    focus = right.selectbox(
        "Focus column", focus_options, index=_index(focus_options, guessed["focus"] or focus_options[0])
    )
    st.dataframe(preview.head(5), hide_index=True)
    name = st.text_input("Dataset name", value=store.slugify(f"upload-{uploaded.name.rsplit('.', 1)[0]}"))
    if st.button("Import", type="primary", key="import_csv"):
        try:
            imported = import_csv(
                data,
                question_column=question,
                answer_column=answer,
                focus_column=None if focus == focus_options[0] else focus,
            )
            info = store.save_dataset(
                imported.pairs, store.slugify(name), kind="upload", origin=uploaded.name
            )
        except (MedQAError, ValueError) as error:
            st.error(f"{uploaded.name}: {error}", icon=":material/error:")
            return
        st.cache_data.clear()
        report = imported.report
        st.success(
            f"Imported {report.rows_kept:,} of {report.rows_read:,} rows as **{info.name}** "
            f"with {report.focus_areas} focus areas."
        )
        for note in report.notes:
            st.caption(note)


def _index(options: list[str], wanted: str | None, fallback: int = 0) -> int:
    if wanted in options:
        return options.index(wanted)
    return min(fallback, len(options) - 1)
