"""Cleaning what a user typed before searching."""

from __future__ import annotations

import pytest

from medqa.errors import QuestionError
from medqa.retrieval.query import MAX_QUESTION_CHARS, clean_question


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_questions_ask_for_a_question(text: object) -> None:
    with pytest.raises(QuestionError, match="Please type a question"):
        clean_question(text)


@pytest.mark.parametrize("text", ["???", "🙂🙂", "... !!"])
def test_questions_without_words_are_explained(text: str) -> None:
    with pytest.raises(QuestionError, match="could not find any words"):
        clean_question(text)


def test_non_text_is_rejected() -> None:
    with pytest.raises(QuestionError, match="must be text"):
        clean_question(42)


def test_spaces_and_control_characters_are_normalised() -> None:
    question, notes = clean_question("  what\x00 causes\n\n gout？ ")
    assert question == "what causes gout?"
    assert notes == []


def test_a_10000_character_question_is_cut_at_a_word_and_the_user_told() -> None:
    question, notes = clean_question("what causes gout " * 600)
    assert len(question) <= MAX_QUESTION_CHARS
    assert question.endswith(("what", "causes", "gout"))
    assert len(notes) == 1 and "longer than" in notes[0]
