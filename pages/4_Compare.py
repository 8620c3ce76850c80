"""Compare retrieval systems on the same questions: metrics with CIs, verdicts, per-area balance."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from medqa import charts, presentation
from medqa.data import schema as col
from medqa.errors import MedQAError, QuestionError
from medqa.evaluation import export, runner, sets
from medqa.evaluation.metrics import display_name, metric_names
from ui import answers, common
from ui.engines import build_status, load_engine, wait_for_builds

st.set_page_config(page_title="Compare · medqa", page_icon=":material/compare_arrows:", layout="wide")
st.title("Compare systems")
build_status()
st.write(
    "Score BM25, the base model, fine-tuned runs and hybrids on **the same questions**, then see whether "
    "the differences are real: every difference comes with a 95% confidence interval and a paired "
    "significance test."
)

#: Per-category charts keep this many categories at each end (biggest gains, biggest losses).
CATEGORY_LIMIT = 10
SET_LABELS = {**sets.SET_DESCRIPTIONS, sets.UPLOAD: "Upload an evaluation CSV"}


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation_set(kind: str, corpus_name: str, fingerprint: str, upload: bytes | None, file_name: str):
    corpus = common.corpus(corpus_name, fingerprint)
    if kind in sets.SET_DESCRIPTIONS:
        return sets.load_set(kind, corpus_name, corpus=corpus)
    return sets.from_csv(upload or b"", corpus_name, corpus=corpus, file_name=file_name)


def _with_ci(mean: float, low: float, high: float) -> str:
    """``0.512 (0.44–0.58)``; just the mean when there are too few queries for an interval."""
    if pd.isna(low) or pd.isna(high):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({low:.2f}–{high:.2f})"


def _system_label(spec: str) -> str:
    return runner.parse_system(spec).label


# ---- choices -------------------------------------------------------------------------------------
info = common.dataset_picker("Corpus to search", key="compare_corpus")
if info is None:
    st.stop()

left, right = st.columns(2)
with left:
    set_kind = st.radio(
        "Evaluation set",
        list(SET_LABELS),
        index=list(SET_LABELS).index(sets.default_set(info.name)),
        format_func=SET_LABELS.get,
        key="compare_set",
    )
    upload_bytes: bytes | None = None
    upload_name = ""
    if set_kind == sets.UPLOAD:
        uploaded = st.file_uploader(
            "Evaluation CSV: a query column plus a relevant answer column or a focus column",
            type=["csv", "tsv", "txt"],
            key="compare_upload",
        )
        if uploaded is None:
            st.info("Upload a CSV with columns such as `query,answer` or `query,focus`.")
            st.stop()
        upload_bytes, upload_name = uploaded.getvalue(), uploaded.name
with right:
    runs = runner.trained_runs()
    options = runner.available_systems(runs)
    chosen = st.multiselect(
        "Systems (the first one is the reference the others are compared with)",
        options,
        default=runner.default_systems(runs),
        format_func=_system_label,
        key="compare_systems",
    )
    if not runs:
        st.caption("No fine-tuned model yet: train one on the Train page to compare it with the base model.")

if len(chosen) < 2:
    st.info("Choose at least two systems to compare.")
    st.stop()

try:
    evaluation_set = _evaluation_set(set_kind, info.name, info.fingerprint, upload_bytes, upload_name)
except MedQAError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
st.caption(f"{evaluation_set.label} over {common.dataset_label(info)}.")
for note in evaluation_set.notes:
    st.caption(note)

# ---- evaluation ----------------------------------------------------------------------------------
corpus = common.corpus(info.name, info.fingerprint)
signature = hashlib.sha256(
    repr((tuple(chosen), evaluation_set.fingerprint(), info.name, info.fingerprint)).encode()
).hexdigest()
stored = st.session_state.get("compare_result")
result = stored[1] if stored and stored[0] == signature else None
if result is None:
    try:
        plan = runner.estimate(chosen, evaluation_set, corpus=corpus)
    except MedQAError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    waiting = st.session_state.get("compare_waiting") == signature  # Evaluate was pressed for this choice
    if not (plan.cached or waiting or st.button("Evaluate", type="primary", key="compare_run")):
        st.caption(f"Results not computed yet for this choice. {plan.describe()}")
        st.stop()
    if plan.to_embed:  # the indexes are built in the background first (runner.start_index_builds)
        started = runner.start_index_builds(plan)
        failed = [build.error for build in started if build.error]
        if failed:
            st.session_state.pop("compare_waiting", None)
            st.error(f"The search index could not be built: {failed[0]}", icon=":material/error:")
            st.stop()
        st.session_state["compare_waiting"] = signature
        st.info(
            f"{plan.describe()} The search indexes are being built in the background; the comparison starts "
            "when they are ready. You can use other pages meanwhile and come back.",
            icon=":material/hourglass_top:",
        )
        wait_for_builds(started)
        st.stop()
    st.session_state.pop("compare_waiting", None)
    bar = st.progress(0.0, text="Starting…")
    try:
        result = runner.evaluate(
            chosen,
            evaluation_set,
            info.name,
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
            corpus=corpus,
            isolated=True,
        )
    except MedQAError as error:
        bar.empty()
        st.error(str(error), icon=":material/error:")
        st.stop()
    bar.empty()
    st.session_state["compare_result"] = (signature, result)

st.success(
    "Loaded from the cache." if result.all_cached else f"Evaluated in {result.seconds:.1f} s.",
    icon=":material/check_circle:",
)
for note in result.notes[len(evaluation_set.notes) :]:
    st.caption(note)

judged_by = "answer" if set_kind in (sets.HELDOUT, sets.UPLOAD) else "topic"
for label in result.labels:
    if label != result.reference:
        st.markdown(
            presentation.comparison_headline(result.summary, result.reference, label, judged_by=judged_by)
        )

st.header("Metrics")
# One row per metric (with what it means), one column per system: fits a page and a phone.
table = pd.DataFrame(
    {
        "metric": [display_name(metric) for metric in metric_names()],
        "what it means": [presentation.metric_help(metric) for metric in metric_names()],
        **{
            row["system"]: [
                _with_ci(row[metric], row[f"{metric} low"], row[f"{metric} high"])
                for metric in metric_names()
            ]
            for _, row in result.summary.iterrows()
        },
    }
)
st.dataframe(
    table,
    hide_index=True,
    column_config={"what it means": st.column_config.TextColumn(width="large")},
)
st.caption(
    f"Mean over {int(result.summary['queries'].iloc[0]):,} questions, with the 95% bootstrap confidence "
    "interval in brackets. Every score runs from 0 to 1; higher is better."
)

st.subheader("Verdicts")
st.caption(
    f"Each system against **{result.reference}**, query by query (paired bootstrap and randomisation test)."
)
for comparison in result.comparisons:
    sentence = comparison.verdict()
    if comparison.is_significant() and comparison.difference > 0:
        st.success(sentence)
    elif comparison.is_significant():
        st.warning(sentence)
    else:
        st.info(sentence)

st.plotly_chart(charts.metric_bars(result.summary, runner.CHART_METRICS), key="compare_bars")

# ---- per category --------------------------------------------------------------------------------
st.header("Balance across topics")
others = [label for label in result.labels if label != result.reference]
c1, c2, c3 = st.columns(3)
other = c1.selectbox(f"Compare with {result.reference}", others, key="compare_other")
group_by = c2.radio(
    "Group by", [col.FOCUS, col.QTYPE], format_func={col.FOCUS: "focus area", col.QTYPE: "question type"}.get,
    horizontal=True, key="compare_group",
)  # fmt: skip
metric = c3.selectbox(
    "Metric",
    list(runner.COMPARISON_METRICS),
    format_func=display_name,
    key="compare_metric",
    help=" ".join(
        f"{display_name(name)}: {presentation.metric_help(name)}" for name in runner.COMPARISON_METRICS
    ),
)
categories = result.category_comparison(result.reference, other, by=group_by, metric=metric)
st.plotly_chart(
    charts.category_comparison(
        categories, result.reference, other, display_name(metric), limit=CATEGORY_LIMIT
    ),
    key="compare_categories",
)
kept = f"the {CATEGORY_LIMIT} where it gains most and the {CATEGORY_LIMIT} where it loses most, of {len(categories)}"
st.caption(
    f"{display_name(metric)} per category for {other} and {result.reference}: the categories where "
    f"{other} does better than {result.reference} are at the top, where it does worse at the bottom"
    + (f" ({kept})." if len(categories) > 2 * CATEGORY_LIMIT else ".")
)
balance = result.balance(by=group_by, metric=metric)
st.dataframe(
    balance.rename(
        columns={"min": "worst area", "median": "median area", "max": "best area", "worst": "weakest"}
    ),
    hide_index=True,
)

# ---- wins and losses -----------------------------------------------------------------------------
st.header(f"Where {other} and {result.reference} disagree")
common.disclaimer()
counts = result.outcome_counts(result.reference, other, metric=metric)
wins_column, losses_column, ties_column = st.columns(3)
wins_column.metric(f"{other} better", counts["wins"])
losses_column.metric(f"{result.reference} better", counts["losses"])
ties_column.metric("Ties", counts["ties"])
disagreements = result.disagreements(result.reference, other, metric=metric)
if disagreements.empty:
    st.write("The two systems score the same on every query.")
else:
    shown = disagreements[
        ["query", col.FOCUS, "outcome", f"rank ({result.reference})", f"rank ({other})",
         f"top answer ({result.reference})", f"top answer ({other})"]
    ].replace({"outcome": {"win": f"{other} better", "loss": f"{result.reference} better"}})  # fmt: skip
    for label in (result.reference, other):
        shown[f"rank ({label})"] = shown[f"rank ({label})"].map(presentation.rank_text)
    st.dataframe(shown, hide_index=True)
    st.caption(
        "Rank = position of the first correct answer in each system's list. Answers are shown as text."
    )
    picked = st.selectbox(
        "Read both top answers for",
        list(disagreements.index),
        format_func=lambda query_id: str(disagreements.loc[query_id, "query"]),
        key="compare_pick",
    )
    row = disagreements.loc[picked]
    st.text(f"Question: {row['query']}")
    for column, label in zip(st.columns(2), (result.reference, other), strict=True):
        with column:
            rank = row[f"rank ({label})"]
            st.text(f"{label}: first correct pair at rank {presentation.rank_text(rank)}")
            st.text(f"Top question: {row[f'top question ({label})'] or '(nothing found)'}")
            if row[f"top answer ({label})"]:
                answers.render_answer_text(
                    row[f"top answer ({label})"],
                    key=f"compare_read_{picked}_{label}",
                    question=str(row["query"]),
                )
            else:
                st.text("(nothing found)")

# ---- export --------------------------------------------------------------------------------------
st.header("Download")
d1, d2, d3 = st.columns(3)
d1.download_button(
    "Summary (CSV)", export.summary_csv(result), "medqa-compare-summary.csv", "text/csv", key="dl_summary"
)
d2.download_button(
    "Per-query results (CSV)", export.per_query_csv(result), "medqa-compare-queries.csv", "text/csv",
    key="dl_queries",
)  # fmt: skip
d3.download_button(
    "Everything (JSON)",
    export.result_to_json(result),
    "medqa-compare.json",
    "application/json",
    key="dl_json",
)

# ---- ask both ------------------------------------------------------------------------------------
st.header("Ask both systems")
question = st.text_input(
    f"One question, answered by {result.reference} and {other}",
    placeholder="e.g. is there a treatment that slows alzheimer's down?",
    key="compare_question",
)
if question:
    found = {}
    try:
        for label in (result.reference, other):
            system = next(s for s in result.systems if s.label == label)
            engine = load_engine(info, system.model or "base", label)
            with st.spinner(f"Searching with {label}…"):
                found[label] = engine.search(question, k=3, mode=system.mode)
    except QuestionError as error:
        st.warning(str(error))
    except MedQAError as error:
        st.error(str(error), icon=":material/error:")
    else:
        answers.render_results(found, key="compare_ask", upload=info.kind == "upload")
