"""The one answer renderer: how the Ask and Compare pages show a search result.

Policy (written once, in :func:`medqa.presentation.answer_view`, and only drawn here): the emergency
notice comes first and is never followed by "I don't have a reliable answer"; reliable answers come in
ranking order with one confidence label from that ranking; weaker hits are set apart as "closest
passages"; every card names where its text comes from; the disclaimer ends every answer view.

Every data-derived string goes through :func:`medqa.presentation.escape_markdown` (answers come from
MedQuAD or a visitor's CSV): Markdown here only draws structure (headings, bullets, highlights), never
links or images written by the data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from medqa import presentation
from medqa.retrieval.engine import Hit, SearchResult

CLOSEST_LABEL = "Closest passages (may not answer your question)"
#: How each ranking mode is named under an answer (the Ask page says which mode answered).
MODE_WORDS = {
    "hybrid": "meaning and keywords together (hybrid)",
    "dense": "meaning (embeddings)",
    "bm25": "keywords (BM25)",
}


def _toggle(state_key: str) -> None:
    st.session_state[state_key] = not st.session_state.get(state_key, False)


def matched_passage(hit: Hit) -> str | None:
    """The passage of the answer the retriever matched (:attr:`Hit.passage`), when there is one."""
    return hit.passage_text.strip() or None


def render_hit(hit: Hit, result: SearchResult, *, number: int, key: str, reliable: bool = True) -> None:
    """One answer card: title, confidence, source, question, formatted answer with matched sentences."""
    with st.container(border=True):
        st.markdown(f"**{number}. {presentation.escape_markdown(presentation.hit_title(hit))}**")
        source = presentation.source_line(hit)
        if reliable:
            st.caption(f"{presentation.match_label(hit, result).capitalize()} · {source}")
        else:
            st.caption(source)
        st.markdown(f"*Q: {presentation.escape_markdown(hit.question)}*")
        render_answer_text(hit.answer, key=key, question=result.searched, passage=matched_passage(hit))


def render_answer_text(answer: str, *, key: str, question: str = "", passage: str | None = None) -> None:
    """An answer's text, formatted (headings, bullets), its matching sentences highlighted, shortened to a
    preview with "Read the full answer" (which replaces the preview, and "Show less" brings it back)."""
    blocks = presentation.answer_blocks(answer)
    highlighted = presentation.matched_parts(blocks, question, passage) if question or passage else set()
    state_key = f"{key}_full"
    full = st.session_state.get(state_key, False)
    shown, marks, cut = presentation.preview_blocks(blocks, highlighted)
    if full or not cut:
        shown, marks = blocks, highlighted
    st.markdown(presentation.blocks_markdown(shown, marks))
    if cut:
        st.button(
            "Show less" if full else "Read the full answer",
            key=f"{key}_more",
            on_click=_toggle,
            args=(state_key,),
            icon=":material/unfold_less:" if full else ":material/unfold_more:",
        )
    if marks:
        st.caption("Highlighted: the part that matches your question.")


def render_result(result: SearchResult, *, key: str, upload: bool = False) -> None:
    """A result without its emergency notice (shown once, first, by :func:`render_results`)."""
    view = presentation.answer_view(result, upload=upload)
    for note in result.notes:
        st.caption(presentation.escape_markdown(note))
    if view.abstain_message is not None:
        st.warning(view.abstain_message, icon=":material/help:")
    for number, hit in enumerate(view.answers, start=1):
        render_hit(hit, result, number=number, key=f"{key}_{hit.id}")
    if view.closest:
        with st.expander(CLOSEST_LABEL, expanded=False, icon=":material/manage_search:"):
            for number, hit in enumerate(view.closest, start=len(view.answers) + 1):
                render_hit(hit, result, number=number, key=f"{key}_{hit.id}", reliable=False)


def render_emergency(result: SearchResult) -> None:
    """The emergency notice, if the question describes one."""
    if result.emergency is not None:
        notice = result.emergency
        st.error(f"**{notice.title}.** {notice.message}", icon=":material/emergency:")


def render_results(
    results: Mapping[str, SearchResult],
    *,
    key: str,
    upload: bool = False,
    after_notice: Callable[[], None] | None = None,
) -> None:
    """One question's results from one or more systems: the emergency notice first (once), then
    ``after_notice`` (e.g. how a follow-up was read), then each system's answers (side by side when
    several, under their labels), then the disclaimer."""
    items = list(results.items())
    if not items:
        return
    render_emergency(items[0][1])
    if after_notice is not None:
        after_notice()
    if len(items) == 1:
        render_result(items[0][1], key=f"{key}_0", upload=upload)
    else:
        for index, (column, (label, result)) in enumerate(zip(st.columns(len(items)), items, strict=True)):
            with column:
                st.markdown(f"**{presentation.escape_markdown(label)}**")
                render_result(result, key=f"{key}_{index}", upload=upload)
    modes = sorted({result.mode for _, result in items})
    st.caption("Ranked by " + " and ".join(MODE_WORDS.get(mode, mode) for mode in modes) + ".")
    st.caption(presentation.disclaimer(upload=upload))


def corpus_description(upload: bool) -> str:
    """What the answers are, in the words that fit the corpus searched."""
    if upload:
        return (
            "Answers are passages from the uploaded dataset you chose (not reviewed by NIH). When "
            "nothing matches well, medqa says so rather than guess."
        )
    return (
        "Answers are passages written by NIH institutes (MedQuAD), each with its source and link. When "
        "nothing matches well, medqa says so rather than guess."
    )
