"""Streamlit pieces shared by the pages: cached loaders, the disclaimer and the data set-up panels.

This package is the only place besides ``Home.py`` and ``pages/`` that imports ``streamlit``; the logic
it calls lives in :mod:`medqa`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from medqa import access, models, safety, settings
from medqa.data import store
from medqa.data.medquad import display_source, is_url
from medqa.data.upload import decode_csv, guess_columns, import_csv, read_csv_text
from medqa.errors import MedQAError
from medqa.retrieval import builds


def disclaimer() -> None:
    """The educational-use notice shown on every page that shows answers."""
    st.info(safety.DISCLAIMER, icon=":material/info:")


_ADMIN_KEY = "medqa_admin_unlocked"


def _secrets() -> object | None:
    try:
        return st.secrets
    except Exception:  # no secrets file: nothing configured there
        return None


def admin_unlocked() -> bool:
    """Whether this session may take admin actions (policy in :mod:`medqa.access`)."""
    password = access.admin_password(_secrets())  # type: ignore[arg-type]
    if access.open_without_password(st.get_option("server.address"), password):
        return True
    return bool(st.session_state.get(_ADMIN_KEY))


def admin_gate(action: str, *, key: str) -> bool:
    """``True`` when this session may take an admin action; otherwise say why, with an unlock form.

    The password is compared in constant time and unlocks this browser session only; it is never shown.
    """
    if admin_unlocked():
        return True
    password = access.admin_password(_secrets())  # type: ignore[arg-type]
    if password is None:
        st.caption(
            f"{action} changes what every visitor of this server sees, so it is an admin action. The "
            f"deployer enables it by setting {access.ADMIN_PASSWORD_VARIABLE} in the app's secrets."
        )
        return False
    st.caption(f"{action} changes what every visitor of this server sees: admin password needed.")
    with st.form(f"admin_{key}", clear_on_submit=True):
        given = st.text_input("Admin password", type="password", key=f"admin_password_{key}")
        submitted = st.form_submit_button("Unlock admin actions", icon=":material/lock_open:")
    if submitted:
        if access.password_matches(given, password):
            st.session_state[_ADMIN_KEY] = True
            st.rerun()
        st.error("Wrong admin password.", icon=":material/lock:")
    return False


def server_hub_token() -> str | None:
    """The deployer's Hugging Face token (secrets, ``HF_TOKEN``, ``hf auth login``), for admins only."""
    if not admin_unlocked():
        return None
    from medqa import hub

    secrets = _secrets()
    try:
        secret = secrets.get("HF_TOKEN") if secrets is not None else None  # type: ignore[attr-defined]
    except Exception:
        secret = None
    return hub.resolve_token(secret if isinstance(secret, str) else None)


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


#: How the untrained model is named on every page.
BASE_MODEL_LABEL = "Base model (all-MiniLM-L6-v2)"


def index_label(info: store.DatasetInfo, model_label: str) -> str:
    """What a search index is of, for people: ``"Full MedQuAD · Base model (all-MiniLM-L6-v2)"``."""
    return f"{dataset_name(info)} · {model_label}"


def dataset_name(info: store.DatasetInfo) -> str:
    """A dataset's short name for people."""
    labels = {store.FULL: "Full MedQuAD", store.CURATED: "Curated (balanced subset)"}
    return labels.get(info.name, f"Uploaded: {info.name}")


def dataset_label(info: store.DatasetInfo) -> str:
    """How a dataset is named in pickers."""
    return f"{dataset_name(info)} — {info.answered:,} answered pairs, {info.focus_areas:,} focus areas"


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
        f"**Load MedQuAD** ({'download from ' if online else 'read from '}`{display_source(where)}`). "
        + ("This needs internet access; offline, upload the archive instead." if online else "")
    )
    # A fresh deployment has no corpus: anyone may load the configured source. Once loaded, replacing
    # the shared corpus (again, or from an uploaded archive) is an admin action (medqa.access).
    loaded = any(info.name == store.FULL for info in store.list_datasets())
    admin = admin_unlocked()
    if (admin or not loaded) and st.button("Load MedQuAD", type="primary", key="load_medquad"):
        _build(where)
    if not admin:
        admin_gate(
            "Replacing the MedQuAD corpus" if loaded else "Building from an uploaded archive", key="medquad"
        )
        return
    archive = st.file_uploader(
        "…or upload the MedQuAD archive (MedQuAD-master.zip)", type=["zip"], key="medquad_zip"
    )
    if archive is not None and st.button("Build from the uploaded archive", key="build_zip"):
        try:
            with store.uploaded_archive(archive.getvalue()) as path:
                _build(str(path))
        except MedQAError as error:
            st.error(str(error), icon=":material/error:")


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
    # The search index of the full corpus is built at once, in the background (Ask answers meanwhile).
    builds.start(
        corpus(full.name, full.fingerprint), models.BASE, label=f"{dataset_name(full)} with the base model"
    )
    flash(
        f"MedQuAD loaded: {full.rows:,} pairs ({full.answered:,} with answers). "
        f"Curated subset: {curated.rows} pairs in {curated.focus_areas} focus areas. The search index is "
        "being built in the background; questions get quick answers until it is ready."
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
        flash(
            f"Imported {report.rows_kept:,} of {report.rows_read:,} rows as **{info.name}** "
            f"with {report.focus_areas} focus areas.",
            notes=report.notes,
        )


_FLASH_KEY = "medqa_flash"


def flash(message: str, *, notes: Sequence[str] = ()) -> None:
    """Keep a success message for the next run and rerun now, so everything the page shows (the data
    status above the panel that did the work, the pickers) is read after the change."""
    st.session_state[_FLASH_KEY] = (message, tuple(notes))
    st.rerun()


def show_flash() -> None:
    """Show (once) the message kept by :func:`flash`."""
    kept = st.session_state.pop(_FLASH_KEY, None)
    if kept is not None:
        message, notes = kept
        st.success(message, icon=":material/check_circle:")
        for note in notes:
            st.caption(note)


def _index(options: list[str], wanted: str | None, fallback: int = 0) -> int:
    if wanted in options:
        return options.index(wanted)
    return min(fallback, len(options) - 1)
