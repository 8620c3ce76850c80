"""Follow-up questions: read a question that names no condition in the context of the previous one.

The caregiver scenario: "What are the early warning signs of Alzheimer's?" then "Is there treatment to
slow progression?" then "How can families provide support?". The second and third questions name no
condition, so on their own they would retrieve treatments and support for anything. A
:class:`Conversation` remembers the focus area of the last confident answer and the engine searches a
follow-up as ``"<focus>: <question>"``, telling the user ("Interpreting as about Alzheimer's Disease").

A question is a follow-up when all of these hold:

* the conversation has a focus (an earlier question was answered confidently);
* the question names no condition (:class:`medqa.retrieval.conditions.ConditionLexicon`);
* it reads like a follow-up: it refers back ("it", "this", "she", "the disease" ...) or asks a
  typical health question (treatment, symptoms, causes, support, outlook ...). A question with neither,
  such as "how long should I rest a steak?", is searched on its own (and most likely abstains); "how
  long" and "how many" alone are not cues, being as common outside health questions as in them.

The Streamlit page keeps one :class:`Conversation` in ``st.session_state``; the CLI is one-shot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medqa.retrieval.engine import Engine, SearchResult

_REFERS_BACK = re.compile(
    r"\b(it|its|it's|this|that|these|those|they|them|their|theirs|he|she|him|her|his|hers|"
    r"the (disease|condition|illness|disorder|diagnosis|problem|symptoms?))\b",
    re.IGNORECASE,
)
_HEALTH_CUES = re.compile(
    r"\b(treat\w*|therap\w*|medic\w*|drugs?|pills?|cure\w*|surgery|symptoms?|signs?|caus\w*|prevent\w*|"
    r"risks?|diagnos\w*|tests?|tested|screen\w*|inherit\w*|hereditary|genes?|genetic\w*|famil\w*|outlook|"
    r"prognosis|surviv\w*|life expectancy|support\w*|care\w*|cop(e|ing)|manag\w*|progress\w*|stages?|"
    r"complications?|side effects?|common|contagious|spread\w*|worse|better|help\w*|live|living|exercise|"
    r"diet|eat\w*|food|research|trials?|doctors?|specialists?|worr\w*|normal|dangerous|serious|fatal|"
    r"slow\w*|stop\w*|reverse|recover\w*|heal\w*|last|who gets|what happens)\b",
    re.IGNORECASE,
)


def reads_like_follow_up(question: str) -> bool:
    """Whether a question refers back or asks a typical health question (see the module docstring)."""
    return bool(_REFERS_BACK.search(question) or _HEALTH_CUES.search(question))


@dataclass(frozen=True)
class FollowUp:
    """How a follow-up question was interpreted."""

    focus: str
    searched: str

    @property
    def note(self) -> str:
        """The sentence the UI shows."""
        return f"Interpreting as about {self.focus}"


def interpret(question: str, names_condition: bool, context_focus: str | None) -> FollowUp | None:
    """The follow-up reading of a question, or ``None`` when it stands on its own."""
    if not context_focus or names_condition or not reads_like_follow_up(question):
        return None
    return FollowUp(focus=context_focus, searched=f"{context_focus}: {question}")


@dataclass
class Conversation:
    """One user's sequence of questions, remembering the focus area follow-ups refer to.

    Attributes:
        focus: the focus area follow-ups are read against (``None`` at the start and after a reset).
        turns: every result so far, oldest first.
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
