"""Train: fine-tune the embedding model on CPU with a live loss chart, then keep or publish the run."""

from __future__ import annotations

import time

import streamlit as st

from medqa import models, system
from medqa.data import store
from medqa.errors import MedQAError
from medqa.runs import registry
from medqa.training import arguments, hub, job, summary
from medqa.training.chart import loss_chart
from medqa.training.progress import CANCELLED, FAILED, FINISHED, format_seconds
from ui import common, engines, train_settings

st.set_page_config(page_title="Train · medqa", page_icon=":material/model_training:", layout="wide")
st.title("Fine-tune the model")
st.write(
    "Adapt all-MiniLM-L6-v2 to MedQuAD on this computer's CPU with the sentence-transformers Trainer. "
    "Held-out questions are never trained on; their score is plotted as training goes."
)
common.disclaimer()
engines.build_status()

#: How often the live panel refreshes while a job runs, in seconds.
REFRESH_SECONDS = 1.5
#: Below this much memory a training is likely to be killed (Community Cloud gives 0.7-2.7 GB): started
#: from this page with two indexes loaded, server + training child peaked at 2.13-2.22 GB in bf16, whose
#: child peaks highest (both presets, seventeenth and eighteenth sessions; bench/results/memory.txt,
#: README, Deploy), so Community Cloud's largest apps may train.
TRAINING_MEMORY_HINT_MB = 2560


def _live_panel() -> None:
    """Progress bar, loss chart, log lines and Cancel for the current job (polled while it runs)."""
    current = job.current_job()
    if current is None:
        return
    snap = current.snapshot()
    st.subheader(f"Run {current.name}")
    if snap.state in (FINISHED, CANCELLED, FAILED):
        status = {FINISHED: "finished", CANCELLED: "cancelled", FAILED: "failed"}[snap.state]
        text = f"{status} · step {snap.step}/{snap.total_steps} · {format_seconds(snap.elapsed_seconds)}"
    elif snap.total_steps:
        text = (
            f"step {snap.step}/{snap.total_steps} · epoch {snap.epoch:.2f} · elapsed "
            f"{format_seconds(snap.elapsed_seconds)} · ETA {format_seconds(snap.eta_seconds)}"
        )
    else:
        text = f"setting up · {format_seconds(snap.elapsed_seconds)}"
    st.progress(snap.fraction, text=text)
    if snap.losses or snap.evals:
        st.plotly_chart(loss_chart(snap), key="loss_chart")
    with st.expander("Log", expanded=not snap.done):
        st.code("\n".join(snap.log[-40:]) or "starting...", language=None)
    if current.running:
        if snap.cancel_requested:
            st.caption("Cancelling after the current step...")
        elif st.button("Cancel", icon=":material/stop:", key="cancel_training"):
            current.cancel()
            st.caption("Cancelling after the current step...")
    elif st.session_state.get("drawn_running") == current.id:
        # The page was last drawn while this job ran, and it has ended: redraw the whole page to show the
        # result and the form. Asked again on every poll until the redraw happens (a rerun asked for
        # while another is starting can be lost; a one-shot flag then left the page stuck).
        st.rerun()


current = job.current_job()
running = current is not None and current.running
st.session_state.drawn_running = current.id if running else None
if running:
    st.info(
        f"A training ({current.name}) is running on this server; its progress is shown below. "
        "One training runs at a time.",
        icon=":material/hourglass:",
    )
st.fragment(run_every=REFRESH_SECONDS if running else None)(_live_panel)()

if current is not None and not running:
    snap = current.snapshot()
    if snap.state == FINISHED and current.run is not None:
        st.success(f"Saved {current.run.name} to {current.run.path}.", icon=":material/check_circle:")
        table = summary.before_after(current.run)
        if not table.empty:
            st.dataframe(table, hide_index=True)
        st.page_link("pages/4_Compare.py", label="Compare it with the base model", icon=":material/compare:")
    elif snap.state == CANCELLED:
        st.warning("The training was cancelled; nothing was saved.", icon=":material/cancel:")
    else:
        st.error(snap.error or current.error or "The training failed.", icon=":material/error:")

st.header("New training")
can_train = models.torch_available()
if not can_train:
    st.info(
        "Training is not installed on this server: it needs torch and sentence-transformers, which the lean "
        "server install (requirements.txt) leaves out. Install them with `pip install -r "
        "requirements-train.txt` and restart the app, or train on your own computer (`make run` installs "
        "them), publish the run to the Hugging Face Hub and import it below.",
        icon=":material/info:",
    )
memory_mb = system.memory_limit_mb()
if memory_mb is not None and memory_mb < TRAINING_MEMORY_HINT_MB:
    st.warning(
        f"This server has about {memory_mb / 1024:.1f} GB of memory, and a training needs more: it loads "
        "torch, the model and its optimizer state (measured figures in the README's Deploy section). Train "
        "on your own computer, publish the run to the Hugging Face Hub and import it below.",
        icon=":material/memory:",
    )
datasets = store.list_datasets()
if not datasets:
    st.warning("No data yet. Load MedQuAD or upload a CSV on the Home page.", icon=":material/database:")
    st.page_link("Home.py", label="Go to Home to set up data", icon=":material/home:")
    st.stop()

names = [info.name for info in datasets]
data_labels = {info.name: common.dataset_label(info) for info in datasets}
left, right = st.columns(2)
with left:
    preset_name = st.radio(
        "Recipe",
        list(arguments.PRESETS),
        format_func=str.capitalize,
        captions=[arguments.PRESET_DESCRIPTIONS[name] for name in arguments.PRESETS],
        key="preset",
        disabled=running,
    )
    defaults = arguments.PRESETS[preset_name]
    default_data = defaults.data if defaults.data in names else names[0]
    data_name = st.selectbox(
        "Training data",
        names,
        index=names.index(default_data),
        format_func=lambda name: data_labels[name],
        key=f"data_{preset_name}",
        disabled=running,
        help="Curated: its 400-pair train split. Full: all answered MedQuAD pairs minus the curated held-out "
        "ones. Uploaded CSVs: their train split.",
    )
    base_options = ["base", *[run.name for run in registry.list_runs()]]
    base_model = st.selectbox(
        "Start from",
        base_options,
        format_func=lambda name: "all-MiniLM-L6-v2 (base)" if name == "base" else f"trained run {name}",
        key="base_model",
        disabled=running,
    )
with right:
    settings = train_settings.render(train_settings.MAIN, st, defaults, preset_name, running)

with st.expander("More settings", icon=":material/tune:"):
    more_left, more_right = st.columns(2)
    settings |= train_settings.render(train_settings.MORE_LEFT, more_left, defaults, preset_name, running)
    settings |= train_settings.render(train_settings.MORE_RIGHT, more_right, defaults, preset_name, running)

# The run name follows the recipe and data chosen until the visitor edits it. It is written only when
# the suggestion changes: a value written by the script replaces what the browser shows, so writing it
# on every rerun could replace a name typed while that rerun was running (seen once in CI).
suggested = f"{preset_name}-{data_name}-{time.strftime('%Y%m%d-%H%M')}"
previous, typed = st.session_state.get("run_name_suggested"), st.session_state.get("run_name")
if typed is None or (suggested != previous and typed == previous):
    st.session_state["run_name"] = suggested
st.session_state["run_name_suggested"] = suggested
run_name = st.text_input("Run name", key="run_name", disabled=running)
if st.button(
    "Start training",
    type="primary",
    icon=":material/play_arrow:",
    key="start_training",
    disabled=running or not can_train,
):
    try:
        # Distilling against a sample of corpus texts needs some; on the batch's own texts it needs none.
        distilling = settings["distill_weight"] > 0 and defaults.distill_on == "sample"
        config = defaults.with_overrides(
            data=data_name,
            base_model=base_model,
            distill_texts=max(defaults.distill_texts, 1000) if distilling else defaults.distill_texts,
            **settings,
        )
        started = job.start_job(config, run_name)
    except MedQAError as error:
        st.error(str(error), icon=":material/error:")
    else:
        st.session_state.drawn_running = started.id
        st.rerun()

st.header("Trained runs")
# The deployer's token (secrets, HF_TOKEN, hf auth login) only for an admin session (medqa.access);
# a visitor acts with the token they type, or none.
admin = common.admin_unlocked()
secret_token = common.server_hub_token()
if not admin:
    with st.expander("Admin: use this server's Hugging Face token", icon=":material/lock:"):
        common.admin_gate("Publishing or importing with the server's token", key="train")
with st.expander("Import a run from the Hugging Face Hub", icon=":material/cloud_download:"):
    st.caption(
        "A run published from another computer (or any sentence-transformers model): the Ask and Compare "
        "pages then list it like a run trained here."
    )
    with st.form("import", clear_on_submit=True):
        import_repo = st.text_input("Repository id", placeholder="your-name/medqa-minilm", key="import_repo")
        import_name = st.text_input("Run name (default: the repository's name)", key="import_name")
        import_token = st.text_input(
            "Hugging Face token (only for a private repository)", type="password", key="import_token"
        )
        import_submitted = st.form_submit_button("Import", icon=":material/cloud_download:")
    if import_submitted:
        try:
            with st.spinner("Downloading..."):
                imported = hub.import_run(
                    import_repo,
                    name=import_name or None,
                    token=import_token or secret_token,
                    server_token=False,
                )
        except MedQAError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.success(f"Imported {imported.name}.", icon=":material/cloud_done:")
runs = registry.list_runs()
for problem in registry.list_problems():
    st.warning(f"Skipped models/{problem.name}: {problem.reason}.", icon=":material/warning:")
if not runs:
    st.caption("No trained run yet.")
else:
    st.dataframe(summary.runs_table(runs), hide_index=True)

    st.header("Publish to the Hugging Face Hub")
    with st.form("publish", clear_on_submit=True):  # the token field never outlives the submit
        chosen = st.selectbox("Run", [run.name for run in runs], key="publish_run")
        repo_id = st.text_input("Repository id", placeholder="your-name/medqa-minilm", key="publish_repo")
        private = st.checkbox("Private repository", value=True, key="publish_private")
        token = st.text_input(
            "Hugging Face token (write access)",
            type="password",
            key="publish_token",
            help="Used for this upload only; never stored or shown."
            + (" Leave empty to use the server's token." if admin else ""),
        )
        if secret_token:
            st.caption("Admin session: the server's token (HF_TOKEN) is used when the field is empty.")
        submitted = st.form_submit_button("Publish", icon=":material/cloud_upload:")
    if submitted:
        try:
            with st.spinner("Uploading..."):
                result = hub.publish_run(
                    chosen, repo_id, token=token or secret_token, private=private, server_token=False
                )
        except MedQAError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.success(f"Published to {result.url}", icon=":material/cloud_done:")
