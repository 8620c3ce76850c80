"""Correct misspelt words of a question to the collection's spelling before it is searched.

People type "cirosis life expectancy", "is epilepsey inherited" or "how to know if u have anemea". The
model's word pieces and BM25's stems of a misspelt word match nothing about the condition, so such
questions were answered about something else (all three above were misses of the Ask default).

Policy: a word is corrected only when it is unknown, that is neither a word of the corpus (its
questions, answers, focus names and synonyms) nor a word of English (the 82,765-word frequency list
that ships with ``symspellpy``, from Google Books n-grams intersected with SCOWL), and is at least four
letters long and not written in capitals (an acronym). It becomes the corpus word closest to it (at most
one edit for words of four or five letters, two from six on; ties go to the word the corpus uses most),
among words the corpus uses at least twice (a word seen once may itself be a typo). Known words, even
rare ones, are never changed, and words with an apostrophe ("alzheimer's", "don't") are left alone.
The search uses the corrected text; the user is told what was corrected; the emergency check still
reads what was typed. The corpus's word counts take about a second to count on the full corpus, so the
engine keeps them in the data folder (:func:`vocabulary_cache`) and a warm start only reads them.

Measured with ``bench/bench_spelling.py`` on the consumer dev half (166 questions, full corpus, judged
by concept), the only set the policy was chosen on: 9 questions corrected, all rightly ("diabetis",
"cholestrol", "kidny", "anemea", "migranes", "epilepsey", "cirosis", "wilsons", "bulgy" -> "bulge"); the
Ask default (hybrid, base model) goes from Accuracy@1 0.741 / Accuracy@3 0.873 to 0.753 / 0.892.
Correcting every word the corpus does not use (no English list) scored about the same (0.759 / 0.886,
measured before the engine's fusion fix of the same day)
but rewrote 36 questions, most of them wrongly ("peeing" -> "seeing", "gassy" -> "glassy", "Dear" ->
"ear"), and the user would be told so. On the test half, reported once: 10 of 170 corrected, 2 of them
wrongly ("excema" -> "excess", "sist" -> "list"); 0.700 / 0.812 -> 0.718 / 0.824. The figures on every
set are in ``bench/results/spelling.txt``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
from symspellpy import SymSpell, Verbosity

from medqa import atomic, settings
from medqa.data import schema as col
from medqa.data.store import table_fingerprint

#: Words shorter than this are never corrected (too many near neighbours: "pian" could be "pain" or "plan").
MIN_LETTERS = 4
#: From this length on, two edits are allowed; below it, one.
TWO_EDITS_FROM = 6
#: A corpus word must occur this often to be a correction (a word seen once may be a typo itself).
MIN_CORPUS_COUNT = 2
#: Deletes are indexed on the first five letters: 13 MB for the full corpus instead of 55 MB at seven,
#: with the same corrections on the dev half.
_PREFIX_LENGTH = 5
_CORPUS_COLUMNS = (col.QUESTION, col.ANSWER, col.FOCUS, col.SYNONYMS)
#: Bump when how words are counted changes, so older cached counts are not reused.
_CACHE_VERSION = 1
_WORD = re.compile(r"[a-z]+")
#: Words as the question is read: letters, possibly joined by apostrophes (those are left alone).
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The English words that are never corrected (symspellpy's bundled frequency list)."""
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text("utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


@dataclass(frozen=True)
class SpellingCorrection:
    """A question as searched after spelling correction.

    Attributes:
        text: the question with its unknown words replaced (the same text when nothing changed).
        changes: ``(typed, corrected)`` per changed word, in the order they appear.
    """

    text: str
    changes: tuple[tuple[str, str], ...] = ()

    @property
    def note(self) -> str:
        """A sentence telling the user what was corrected (empty when nothing was)."""
        if not self.changes:
            return ""
        words = ", ".join(f"“{typed}” as “{corrected}”" for typed, corrected in self.changes)
        return f"Searched {words} (the spelling of the collection)."


def count_words(texts: Iterable[str]) -> Counter[str]:
    """How often each lower-case word occurs in some texts."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text.casefold()))
    return counts


def vocabulary_cache(corpus_fingerprint: str) -> Path:
    """Where a corpus's word counts are kept (counting the full corpus takes about a second)."""
    folder = settings.data_dir() / "spelling"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{corpus_fingerprint[:16]}-v{_CACHE_VERSION}.json"


def _read_counts(path: Path) -> Counter[str] | None:
    """Cached word counts, or ``None`` when missing or unreadable (the caller counts again)."""
    try:
        counts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(counts, dict) or not all(
        isinstance(word, str) and type(count) is int for word, count in counts.items()
    ):
        return None
    return Counter(counts)


class QuerySpeller:
    """The vocabulary of one corpus, ready to correct questions against it."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        """Index a corpus's words for correction.

        Args:
            counts: how often each lower-case word occurs in the corpus (:func:`count_words`).
        """
        self._known = frozenset(counts)
        self._english = english_words()
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=_PREFIX_LENGTH)
        for word, count in counts.items():
            if count >= MIN_CORPUS_COUNT and len(word) >= MIN_LETTERS:
                self._symspell.create_dictionary_entry(word, count)

    @classmethod
    def from_corpus(
        cls, corpus: pd.DataFrame, *, use_cache: bool = False, corpus_fingerprint: str | None = None
    ) -> QuerySpeller:
        """The speller of a pairs table (the columns it lacks are skipped).

        Args:
            corpus: the pairs whose questions, answers, focus names and synonyms are the vocabulary.
            use_cache: read and write the word counts on disk (a corrupt file is counted again).
            corpus_fingerprint: the corpus's :func:`~medqa.data.store.table_fingerprint`, if known.
        """
        path = None
        if use_cache:
            path = vocabulary_cache(corpus_fingerprint or table_fingerprint(corpus))
            counts = _read_counts(path)
            if counts is not None:
                return cls(counts)
        columns = [name for name in _CORPUS_COLUMNS if name in corpus]
        counts = count_words(text for name in columns for text in corpus[name].dropna().astype(str))
        if path is not None:
            with contextlib.suppress(OSError):  # read-only or full disk: the speller still works
                atomic.write_text(path, json.dumps(counts, ensure_ascii=False))
        return cls(counts)

    def is_known(self, word: str) -> bool:
        """Whether a word is left as typed: a corpus or English word (case-insensitive)."""
        folded = word.casefold()
        return folded in self._known or folded in self._english

    def correct_word(self, word: str) -> str:
        """The word as searched: itself, or the closest corpus word when it is unknown (module policy)."""
        if len(word) < MIN_LETTERS or word.isupper() or not word.isalpha() or self.is_known(word):
            return word
        folded = word.casefold()
        distance = 2 if len(folded) >= TWO_EDITS_FROM else 1
        suggestions = self._symspell.lookup(folded, Verbosity.TOP, max_edit_distance=distance)
        if not suggestions or suggestions[0].term == folded:
            return word
        corrected = suggestions[0].term
        return corrected.capitalize() if word[0].isupper() else corrected

    def correct(self, question: str) -> SpellingCorrection:
        """A question with its unknown words corrected, and what changed."""
        changes: list[tuple[str, str]] = []

        def replace(match: re.Match[str]) -> str:
            word = match.group(0)
            corrected = self.correct_word(word)
            if corrected != word:
                changes.append((word, corrected))
            return corrected

        text = _TOKEN.sub(replace, question)
        return SpellingCorrection(text, tuple(changes))
