"""Turn what a user typed into a searchable question, or a readable :class:`QuestionError`."""

from __future__ import annotations

import re
import unicodedata

from medqa.errors import QuestionError

#: Longest question searched; longer input is cut at a word boundary and the user is told.
MAX_QUESTION_CHARS = 1000
#: Raw characters read before anything else is done: normalising first made a 10 MB question cost 2.2 s
#: and 219 MB (50 MB: 1.05 GB). Four times the cap leaves room for whitespace that collapses.
MAX_RAW_CHARS = 4 * MAX_QUESTION_CHARS

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]", re.UNICODE)


def clean_question(text: object) -> tuple[str, list[str]]:
    """Strip, normalise and cap a question.

    Returns:
        The cleaned question and notes for the user (e.g. that it was shortened).

    Raises:
        QuestionError: the question is empty or has no letters or digits (only emoji or punctuation).
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise QuestionError("A question must be text.")
    raw_cut = len(text) > MAX_RAW_CHARS
    text = text[:MAX_RAW_CHARS]  # cap first: everything below is linear in at most this much
    # NFKC folds full-width and compatibility characters; control characters become spaces.
    normalised = unicodedata.normalize("NFKC", text)
    normalised = "".join(" " if unicodedata.category(char).startswith("C") else char for char in normalised)
    question = _SPACE.sub(" ", normalised).strip()
    if not question:
        raise QuestionError("Please type a question.")
    if not _WORD.search(question):
        raise QuestionError(
            "I could not find any words in that question. Please ask in words, for example "
            "'What are the symptoms of asthma?'."
        )
    notes = []
    if len(question) > MAX_QUESTION_CHARS or raw_cut:
        cut = question[:MAX_QUESTION_CHARS]
        space = cut.rfind(" ")
        if len(question) > MAX_QUESTION_CHARS:
            question = (cut[:space] if space > MAX_QUESTION_CHARS // 2 else cut).rstrip()
        notes.append(
            f"Your question was longer than {MAX_QUESTION_CHARS:,} characters, so only its beginning was "
            "searched. Shorter, focused questions work best."
        )
    return question, notes
