"""Ask: chat-style questions answered with NIH answers from MedQuAD (engine: medqa.retrieval.engine)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from medqa import models, presentation, safety
from medqa.conversation import Conversation
from medqa.data import store
from medqa.data.store import table_fingerprint
from medqa.errors import MedQAError, QuestionError
from medqa.retrieval.dense import DenseIndex
from medqa.retrieval.engine import DEFAULT_MODE, MODES, Engine, Hit, SearchResult
from medqa.training.registry import list_runs
from ui import common

st.set_page_config(page_title="Ask · medqa", page_icon=":material/chat:")

#: The caregiver scenario first: the second and third questions are follow-ups naming no condition.
EXAMPLES = (
    "What are the early warning signs of Alzheimer's?",
    "Is there treatment to slow progression?",
    "How can families provide support?",
    "what causes shingles and is it contagious",
    "how do i know if i have glaucoma",
)
MODE_LABELS = {"hybrid": "Hybrid (BM25 + embeddings)", "dense": "Embeddings only", "bm25": "BM25 only"}
BASE_LABEL = "Base model (all-MiniLM-L6-v2)"


@dataclass
class Turn:
    """One question and what each model answered (or why it could not)."""

    question: str
    results: dict[str, SearchResult]
    error: str | None = None
    topic_dropped: bool = False


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
    """The engine for a corpus and model; builds the embedding index first with a progress bar."""
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
            # Built outside the cached function so the progress bar is not replayed; the engine then
            # loads the index from its disk cache.
            DenseIndex.build_or_load(
                corpus, model, corpus_fingerprint=corpus_fingerprint, progress=progress, isolated=True
            )
        engine = _engine(info.name, info.fingerprint, model, fingerprint)
    if bar is not None:
        bar.empty()
    return engine


def conversation() -> Conversation:
    if "ask_conversation" not in st.session_state:
        st.session_state.ask_conversation = Conversation()
        st.session_state.ask_turns = []
    return st.session_state.ask_conversation


def forget_topic() -> None:
    conversation().forget_topic()
    if st.session_state.ask_turns:
        st.session_state.ask_turns[-1].topic_dropped = True


def new_conversation() -> None:
    conversation().reset()
    st.session_state.ask_turns = []


def ask_question(question: str, engines: dict[str, Engine], k: int, mode: str) -> None:
    """Search a question with every engine (the first one drives the conversation) and keep the turn."""
    chat = conversation()
    focus_before = chat.focus
    labels = list(engines)
    try:
        results = {labels[0]: chat.ask(engines[labels[0]], question, k, mode=mode)}
        for label in labels[1:]:
            results[label] = engines[label].search(question, k, mode=mode, context_focus=focus_before)
    except QuestionError as error:
        st.session_state.ask_turns.append(Turn(question=question, results={}, error=str(error)))
        return
    st.session_state.ask_turns.append(Turn(question=results[labels[0]].question, results=results))


def render_hit(hit: Hit, threshold: float) -> None:
    with st.container(border=True):
        st.markdown(f"**{hit.rank}. {presentation.escape_markdown(presentation.hit_title(hit))}**")
        caption = presentation.escape_markdown(presentation.hit_caption(hit, threshold))
        url = presentation.safe_url(hit.url)
        st.caption(f"{caption} · [NIH page]({url})" if url else caption)
        st.markdown(f"*Q: {presentation.escape_markdown(hit.question)}*")
        preview, cut = presentation.split_answer(hit.answer)
        if cut:
            st.markdown(presentation.answer_markdown(preview))
            with st.expander("Read the full answer"):
                st.markdown(presentation.answer_markdown(hit.answer))
        else:
            st.markdown(presentation.answer_markdown(hit.answer))


def render_result(result: SearchResult) -> None:
    for note in result.notes:
        st.caption(presentation.escape_markdown(note))
    if result.abstain:
        st.warning(presentation.ABSTAIN_MESSAGE, icon=":material/help:")
        if result.hits:
            with st.expander("Show the closest passages anyway (they may not answer your question)"):
                for hit in result.hits:
                    render_hit(hit, result.threshold)
        return
    for hit in result.hits:
        render_hit(hit, result.threshold)


def render_turn(turn: Turn, index: int, latest: bool) -> None:
    with st.chat_message("user"):
        st.markdown(presentation.escape_markdown(turn.question))
    with st.chat_message("assistant"):
        if turn.error is not None:
            st.warning(turn.error, icon=":material/edit_note:")
            return
        results = list(turn.results.items())
        first = results[0][1]
        if first.emergency is not None:  # before anything retrieved
            st.error(f"**Emergency.** {first.emergency.message}", icon=":material/emergency:")
        if first.follow_up is not None:
            st.info(f"{first.follow_up.note}.", icon=":material/forum:")
            if latest and not turn.topic_dropped:
                st.button(
                    f"Not about {first.follow_up.focus}? Start a new topic",
                    key=f"ask_forget_{index}",
                    on_click=forget_topic,
                )
        if len(results) == 1:
            render_result(first)
        else:
            for column, (label, result) in zip(st.columns(len(results)), results, strict=True):
                with column:
                    st.markdown(f"**{presentation.escape_markdown(label)}**")
                    render_result(result)
        st.caption(safety.DISCLAIMER)


# ---- page ------------------------------------------------------------------------------------------
st.title("Ask a question")
st.write(
    "Ask in plain words. Answers are passages written by NIH institutes (MedQuAD), each with its "
    "source and link. When nothing matches well, medqa says so rather than guess."
)
common.disclaimer()

runs = list_runs()
run_paths = {run.name: str(run.path) for run in runs}
with st.sidebar:
    st.header("Settings")
    info = common.dataset_picker("Corpus to search", key="ask_corpus")
    compare = st.toggle(
        "Compare models",
        key="ask_compare",
        help="Show the base model's and a fine-tuned model's answers side by side.",
        disabled=not runs,
    )
    if not runs:
        st.caption("No fine-tuned model yet: train one on the Train page to compare.")
    if compare and runs:
        model_label = st.selectbox("Fine-tuned model", list(run_paths), key="ask_compare_run")
    else:
        model_label = st.selectbox("Model", [BASE_LABEL, *run_paths], key="ask_model")
    mode = st.selectbox(
        "Ranking",
        MODES,
        index=MODES.index(DEFAULT_MODE),
        format_func=MODE_LABELS.get,
        key="ask_mode",
        help="Hybrid is the default: it found the expected topic among the first three answers most "
        "often on our plain-language test questions.",
    )
    k = st.slider("Answers shown", 1, 10, 3, key="ask_k")
    chat = conversation()
    if chat.focus:
        st.caption(f"Current topic: {presentation.escape_markdown(chat.focus)}")
        st.button("Forget the topic", key="ask_forget_topic", on_click=forget_topic)
    st.button("New conversation", key="ask_new", on_click=new_conversation)

if info is None:
    st.stop()

try:
    if compare and runs:
        engines = {
            BASE_LABEL: load_engine(info, models.BASE, "base model"),
            model_label: load_engine(info, run_paths[model_label], model_label),
        }
    else:
        model = models.BASE if model_label == BASE_LABEL else run_paths[model_label]
        engines = {model_label: load_engine(info, model, model_label)}
except MedQAError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()

with st.expander("Example questions", expanded=not st.session_state.ask_turns, icon=":material/lightbulb:"):
    st.caption(
        "A caregiver's questions, in order: the second and third name no disease, "
        "so they are read as being about the first one's topic."
    )
    clicked = None
    for number, example in enumerate(EXAMPLES):
        if st.button(example, key=f"ask_example_{number}"):
            clicked = example

typed = st.chat_input("Ask a health question, e.g. What are the symptoms of shingles?", key="ask_input")
question = clicked if clicked is not None else typed
if question is not None:
    with st.spinner("Searching…"):
        ask_question(question, engines, k, mode)

turns = st.session_state.ask_turns
for index, turn in enumerate(turns):
    render_turn(turn, index, latest=index == len(turns) - 1)
