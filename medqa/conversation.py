"""Follow-up questions: read a question that names no condition in the context of the previous one.

The caregiver scenario: "What are the early warning signs of Alzheimer's?" then "Is there treatment to
slow progression?" then "How can families provide support?". The second and third questions name no
condition, so on their own they would retrieve treatments and support for anything. A
:class:`Conversation` remembers the focus area of the last confident answer and the engine searches a
follow-up as ``"<focus>: <question>"``, telling the user ("Interpreting as about Alzheimer's Disease").

The rule deciding what counts as a follow-up lives in :mod:`medqa.retrieval.follow_up` (the engine
applies it); this module keeps the conversation's state.

The Streamlit page keeps one :class:`Conversation` in ``st.session_state``; the CLI is one-shot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medqa.retrieval.engine import Engine, SearchResult

#: Turns kept per conversation (the oldest are dropped). A turn holds up to ``k`` answers (tens of KB,
#: twice when comparing models); without a cap a long or scripted session grew the server's memory
#: without limit. Fifty is more than any conversation a page shows usefully.
MAX_TURNS = 50


@dataclass
class Conversation:
    """One user's sequence of questions, remembering the focus area follow-ups refer to.

    Attributes:
        focus: the focus area follow-ups are read against (``None`` at the start and after a reset).
        turns: the last :data:`MAX_TURNS` results, oldest first.
    """

    focus: str | None = None
    turns: list[SearchResult] = field(default_factory=list)

    def ask(self, engine: Engine, question: str, k: int = 5, *, mode: str | None = None) -> SearchResult:
        """Search a question in this conversation's context and remember what it was about.

        Raises:
            QuestionError: the question is empty or has no words (the conversation is unchanged).
        """
        result = engine.search(question, k, mode=mode, context_focus=self.focus)
        self.turns.append(result)
        del self.turns[:-MAX_TURNS]
        if result.follow_up is None and not result.abstain and result.hits:
            # A new subject answered confidently: later follow-ups refer to it.
            self.focus = result.hits[0].focus
        elif result.follow_up is None and result.mentions:
            self.focus = result.mentions[0].focus  # named, though not answered well: still the subject
        return result

    def forget_topic(self) -> None:
        """Stop reading follow-ups against the current focus (the history is kept)."""
        self.focus = None

    def reset(self) -> None:
        """Forget the context and the history."""
        self.focus = None
        self.turns.clear()
