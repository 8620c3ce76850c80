"""Ask: chat-style questions answered with NIH answers from MedQuAD (engine: medqa.retrieval.engine)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from medqa import models, presentation
from medqa.conversation import MAX_TURNS, Conversation
from medqa.errors import MedQAError, QuestionError
from medqa.retrieval.engine import DEFAULT_MODE, MODES, Engine, SearchResult
from medqa.runs.registry import list_runs
from ui import answers, common
from ui.engines import build_status, load_engine

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
BASE_LABEL = common.BASE_MODEL_LABEL


@dataclass
class Turn:
    """One question and what each model answered (or why it could not)."""

    question: str
    results: dict[str, SearchResult]
    error: str | None = None
    topic_dropped: bool = False


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
        del st.session_state.ask_turns[:-MAX_TURNS]
        return
    st.session_state.ask_turns.append(Turn(question=results[labels[0]].question, results=results))
    del st.session_state.ask_turns[:-MAX_TURNS]  # bounded memory per session, like the conversation


def render_turn(turn: Turn, index: int, latest: bool, upload: bool) -> None:
    with st.chat_message("user"):
        st.markdown(presentation.escape_markdown(turn.question))
    with st.chat_message("assistant"):
        if turn.error is not None:
            st.warning(turn.error, icon=":material/edit_note:")
            return
        first = next(iter(turn.results.values()))

        def follow_up_note() -> None:  # after the emergency notice, before the answers
            if first.follow_up is None:
                return
            st.info(presentation.escape_markdown(f"{first.follow_up.note}."), icon=":material/forum:")
            if latest and not turn.topic_dropped:
                st.button(
                    f"Not about {presentation.escape_markdown(first.follow_up.focus)}? Start a new topic",
                    key=f"ask_forget_{index}",
                    on_click=forget_topic,
                )

        answers.render_results(turn.results, key=f"ask_{index}", upload=upload, after_notice=follow_up_note)


# ---- page ------------------------------------------------------------------------------------------
st.title("Ask a question")
intro = st.empty()
common.disclaimer()
build_status()

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

upload = info is not None and info.kind == "upload"
intro.write(f"Ask in plain words. {answers.corpus_description(upload)}")
if info is None:
    st.stop()

try:
    if compare and runs:
        engines = {
            BASE_LABEL: load_engine(info, models.BASE, BASE_LABEL, quick=True),
            model_label: load_engine(info, run_paths[model_label], model_label, quick=True),
        }
    else:
        model = models.BASE if model_label == BASE_LABEL else run_paths[model_label]
        engines = {model_label: load_engine(info, model, model_label, quick=True)}
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
    render_turn(turn, index, latest=index == len(turns) - 1, upload=upload)
