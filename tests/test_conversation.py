"""Follow-up questions read in the context of the conversation's focus (engine-free parts)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from medqa.conversation import Conversation
from medqa.errors import QuestionError
from medqa.retrieval.conditions import ConditionMention
from medqa.retrieval.follow_up import FollowUp, interpret, reads_like_follow_up


@pytest.mark.parametrize(
    "question",
    [
        "Is there treatment to slow progression?",
        "How can families provide support?",
        "is it inherited",
        "what causes it?",
        "How long do people live with this?",
        "are there any clinical trials",
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert reads_like_follow_up(question)
    reading = interpret(question, names_condition=False, context_focus="Alzheimer's Disease")
    assert reading == FollowUp("Alzheimer's Disease", f"Alzheimer's Disease: {question}")
    assert reading.note == "Interpreting as about Alzheimer's Disease"


@pytest.mark.parametrize("question", ["how long should I rest a steak?", "who won the world cup in 1998"])
def test_unrelated_questions_stand_alone(question: str) -> None:
    assert not reads_like_follow_up(question)
    assert interpret(question, names_condition=False, context_focus="Gout") is None


def test_no_context_or_a_named_condition_means_no_follow_up() -> None:
    assert interpret("what causes it?", names_condition=False, context_focus=None) is None
    assert interpret("what causes gout?", names_condition=True, context_focus="Asthma") is None


@dataclass
class _Hit:
    focus: str


@dataclass
class _Result:
    follow_up: FollowUp | None
    abstain: bool
    hits: tuple[_Hit, ...]
    mentions: tuple[ConditionMention, ...] = ()


class _Engine:
    """Answers with a fixed focus, reading follow-ups the way the real engine does."""

    def __init__(self) -> None:
        self.answer_focus = "Alzheimer's Disease"
        self.abstain = False
        self.seen_context: list[str | None] = []

    def search(self, question: str, k: int, *, mode: str | None, context_focus: str | None) -> _Result:
        if not question.strip():
            raise QuestionError("Please type a question.")
        self.seen_context.append(context_focus)
        mentions = (ConditionMention("gout", "Gout"),) if "gout" in question else ()
        follow_up = interpret(question, bool(mentions), context_focus)
        return _Result(follow_up, self.abstain, (_Hit(self.answer_focus),), mentions)


def test_conversation_keeps_the_focus_of_confident_answers_until_reset() -> None:
    engine, chat = _Engine(), Conversation()
    first = chat.ask(engine, "What are the early warning signs of Alzheimer's?")  # type: ignore[arg-type]
    assert first.follow_up is None and chat.focus == "Alzheimer's Disease"
    second = chat.ask(engine, "Is there treatment to slow progression?")  # type: ignore[arg-type]
    assert second.follow_up is not None and second.follow_up.focus == "Alzheimer's Disease"
    assert engine.seen_context == [None, "Alzheimer's Disease"]
    chat.forget_topic()
    assert chat.focus is None and len(chat.turns) == 2
    third = chat.ask(engine, "How can families provide support?")  # type: ignore[arg-type]
    assert third.follow_up is None
    chat.reset()
    assert chat.focus is None and chat.turns == []


def test_a_named_condition_becomes_the_topic_even_when_not_answered_well() -> None:
    engine, chat = _Engine(), Conversation(focus="Asthma")
    engine.abstain = True
    chat.ask(engine, "is gout inherited")  # type: ignore[arg-type]
    assert chat.focus == "Gout"


def test_an_abstained_question_without_a_condition_keeps_the_topic() -> None:
    engine, chat = _Engine(), Conversation(focus="Asthma")
    engine.abstain = True
    chat.ask(engine, "how long should I rest a steak?")  # type: ignore[arg-type]
    assert chat.focus == "Asthma"


def test_an_empty_question_leaves_the_conversation_unchanged() -> None:
    engine, chat = _Engine(), Conversation(focus="Gout")
    with pytest.raises(QuestionError):
        chat.ask(engine, "   ")  # type: ignore[arg-type]
    assert chat.focus == "Gout" and chat.turns == []
