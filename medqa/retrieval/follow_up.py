"""The follow-up rule: when a question that names no condition is read as about the previous topic.

A question is a follow-up when all of these hold:

* the conversation has a focus (an earlier question was answered confidently);
* the question names no condition (:class:`medqa.retrieval.conditions.ConditionLexicon`);
* it reads like a follow-up: it refers back ("it", "this", "she", "the disease" ...) or asks a
  typical health question (treatment, symptoms, causes, support, outlook ...). A question with neither,
  such as "how long should I rest a steak?", is searched on its own (and most likely abstains); "how
  long" and "how many" alone are not cues, being as common outside health questions as in them.

A follow-up is searched as ``"<focus>: <question>"`` (:func:`medqa.retrieval.texts.focus_prefixed`), the
shape the dense index embeds. The engine applies the rule; :class:`medqa.conversation.Conversation`
keeps the focus between questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medqa.retrieval.texts import focus_prefixed

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
    return FollowUp(focus=context_focus, searched=focus_prefixed(context_focus, question))
