"""Explore a dataset: category balance, question types, sources, answer lengths and quality."""

from __future__ import annotations

import streamlit as st

from medqa import charts
from medqa.data import schema as col
from medqa.data import stats, store
from medqa.errors import MedQAError
from ui import common, engines

st.set_page_config(page_title="Explore · medqa", page_icon=":material/bar_chart:", layout="wide")
st.title("Explore the data")
engines.build_status()

info = common.dataset_picker("Dataset to explore")
if info is None:
    st.stop()
try:
    table = common.load_pairs(info)
except MedQAError as error:  # damaged or deleted since it was listed: say so, like Compare does
    st.error(str(error), icon=":material/error:")
    st.stop()
summary = stats.summarise(table)

columns = st.columns(5)
columns[0].metric("Pairs", f"{summary.pairs:,}")
columns[1].metric("With an answer", f"{summary.answered:,}")
columns[2].metric("Focus areas", f"{summary.focus_areas:,}")
columns[3].metric("Question types", summary.question_types)
columns[4].metric(
    "Pairs per area",
    f"{summary.pairs_per_focus_min}–{summary.pairs_per_focus_max}",
    help=f"Fewest to most question-answer pairs in one focus area (median {summary.pairs_per_focus_median:g}).",
)

st.header("Category balance")
top = st.slider("Focus areas shown", 10, 100, 40, step=5)
st.plotly_chart(charts.category_balance(table, top=top), key="balance")
if info.name == store.CURATED and any(other.name == store.FULL for other in store.list_datasets()):
    full = common.load_pairs(next(other for other in store.list_datasets() if other.name == store.FULL))
    st.plotly_chart(charts.curated_vs_full(table, full), key="curated_vs_full")

st.header("Question types per focus area")
st.plotly_chart(charts.qtype_heatmap(table, top_focus=top), key="heatmap")

left, right = st.columns(2)
with left:
    st.plotly_chart(charts.source_bars(table), key="sources")
with right:
    st.plotly_chart(charts.answer_length_histogram(table), key="lengths")

st.header("Duplicates and quality")
st.dataframe(stats.quality_report(table), hide_index=True)

st.header("Browse the pairs")
query = st.text_input("Search questions, answers and focus areas", key="table_search")
focus_filter = st.multiselect("Focus areas", sorted(table[col.FOCUS].unique()), key="focus_filter")
qtype_filter = st.multiselect("Question types", sorted(table[col.QTYPE].unique()), key="qtype_filter")
shown = stats.filter_pairs(table, text=query, focus=focus_filter, qtypes=qtype_filter)
st.caption(f"{len(shown):,} of {len(table):,} pairs")
st.dataframe(
    shown[
        [
            c
            for c in (col.FOCUS, col.QTYPE, col.QUESTION, col.ANSWER, col.SOURCE, col.URL, col.SPLIT)
            if c in shown
        ]
    ],
    hide_index=True,
    column_config={col.URL: st.column_config.LinkColumn("source link")},
)
