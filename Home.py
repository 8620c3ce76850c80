"""medqa home: what the app is for, the state of its data and models, and where to start."""

from __future__ import annotations

import streamlit as st

from medqa.data import store
from medqa.runs.registry import list_runs
from ui import common, engines

st.set_page_config(page_title="medqa · grounded health answers", page_icon=":material/medical_services:")

st.title("medqa")
st.subheader("Answers to health questions, grounded in NIH sources")
st.write(
    "medqa finds answers to plain-language health questions in **MedQuAD**, 16,000+ question-answer "
    "pairs written by NIH institutes (NIH Senior Health, MedlinePlus, NIDDK, NHLBI, GARD, Genetics Home "
    "Reference and others). Every answer shows its source and link. When nothing reliable matches, it "
    "says so instead of guessing, and questions that describe an emergency get an emergency notice first."
)
st.write(
    "It is built for **caregivers and patients** asking questions, **clinicians and educators** giving "
    "demos, and **students** learning how a small general embedding model "
    "(all-MiniLM-L6-v2) can be adapted to the medical domain — and how to measure honestly whether that helped."
)
common.disclaimer()
engines.build_status()

st.header("Where things stand")
common.show_flash()
datasets = store.list_datasets()
runs = list_runs()
data_column, model_column = st.columns(2)
with data_column:
    st.markdown("**Data**")
    if datasets:
        for info in datasets:
            st.write(f"✓ {common.dataset_label(info)}")
        st.page_link("pages/2_Ask.py", label="Ask a question ->", icon=":material/chat:")
    else:
        st.write("No data loaded yet — set it up below.")
with model_column:
    st.markdown("**Models**")
    st.write("✓ Base model: all-MiniLM-L6-v2")
    for run in runs:
        st.write(f"✓ Fine-tuned: {run.name}")
    if not runs:
        st.caption("No fine-tuned model yet: train one on the Train page.")

st.header("Set up data" if not datasets else "Add data")
with st.expander("Load MedQuAD", expanded=not datasets, icon=":material/download:"):
    common.medquad_setup_panel()
with st.expander("Upload your own question-answer CSV", icon=":material/upload_file:"):
    common.csv_upload_panel()

st.header("Start here")
st.markdown(
    "**A caregiver's questions.** Maria's father was just diagnosed with Alzheimer's disease. She asks: "
    "*What are the early warning signs of Alzheimer's?*, then *Is there treatment to slow progression?*, "
    "then *How can families provide support?* — the follow-ups name no disease, and medqa keeps the "
    "conversation's topic."
)
st.page_link("pages/2_Ask.py", label="Ask a question", icon=":material/chat:")
st.page_link("pages/1_Explore.py", label="Explore the data", icon=":material/bar_chart:")
st.page_link("pages/3_Train.py", label="Fine-tune the model", icon=":material/model_training:")
st.page_link("pages/4_Compare.py", label="Compare models honestly", icon=":material/compare:")

st.divider()
st.caption(
    "Data: MedQuAD, Ben Abacha A. and Demner-Fushman D., *A question-entailment approach to question "
    "answering*, BMC Bioinformatics 20, 511 (2019), CC BY 4.0. Model: sentence-transformers/all-MiniLM-L6-v2 "
    "(Apache 2.0)."
)
