"""Spelling correction of questions: only unknown words change, to the corpus's spelling."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.retrieval.spelling import QuerySpeller, SpellingCorrection, english_words, vocabulary_cache

ANSWERS = (
    "Cirrhosis is scarring of the liver. Cirrhosis has many causes, such as alcohol and hepatitis.",
    "Epilepsy is a brain disorder that causes seizures. Epilepsy can run in families.",
    "Eczema makes skin itchy and red. Eczema is common in babies.",
    "Metoprolol is a beta blocker.",  # a word seen once: known, but never a correction
)


def _corpus() -> pd.DataFrame:
    return pd.DataFrame(
        {
            col.QUESTION: ["What is cirrhosis?", "Is epilepsy inherited?", "What is eczema?", "What is it?"],
            col.ANSWER: list(ANSWERS),
            col.FOCUS: ["Cirrhosis", "Epilepsy", "Eczema", "Metoprolol"],
            col.SYNONYMS: ["liver scarring", "seizure disorder", None, ""],
        }
    )


@pytest.fixture(scope="module")
def speller() -> QuerySpeller:
    return QuerySpeller.from_corpus(_corpus())


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("cirosis life expectancy", "cirrhosis life expectancy"),  # two edits in a long word
        ("is epilepsey inherited", "is epilepsy inherited"),
        ("Exzema in babies", "Eczema in babies"),  # the capital is kept
    ],
)
def test_unknown_words_take_the_corpus_spelling(speller: QuerySpeller, typed: str, searched: str) -> None:
    correction = speller.correct(typed)
    assert correction.text == searched
    assert len(correction.changes) == 1 and correction.note.startswith("Searched “")


@pytest.mark.parametrize(
    "question",
    [
        "is the seizure medicine safe in pregnancy",  # English words the corpus lacks stay as typed
        "metoprolol dose",  # a corpus word seen once is still known
        "EPILEPSEY",  # capitals: an acronym, never corrected
        "alzheimer's and epilepsy",  # apostrophes are left alone
        "is cirr bad",  # shorter than four letters is left alone ("cirr" has four: no neighbour in one edit)
        "zzqxw",  # nothing close
    ],
)
def test_known_short_acronym_and_hopeless_words_stay(speller: QuerySpeller, question: str) -> None:
    assert speller.correct(question) == SpellingCorrection(question)
    assert speller.correct(question).note == ""


def test_short_words_get_one_edit_only(speller: QuerySpeller) -> None:
    assert speller.correct_word("ezcma") == "ezcma"  # two edits from "eczema" at five letters: left
    assert speller.correct_word("lievr") == "liver"  # a transposition is one edit


def test_the_english_list_is_bundled_and_large() -> None:
    words = english_words()
    assert len(words) > 80_000 and {"peeing", "dear", "gassy"} <= words


def test_the_note_lists_every_change_in_order(speller: QuerySpeller) -> None:
    correction = speller.correct("cirosis or epilepsey")
    assert correction.changes == (("cirosis", "cirrhosis"), ("epilepsey", "epilepsy"))
    assert (
        correction.note
        == "Searched “cirosis” as “cirrhosis”, “epilepsey” as “epilepsy” (the spelling of the collection)."
    )


def test_a_long_question_is_corrected_quickly(speller: QuerySpeller) -> None:
    correction = speller.correct("cirosis " * 125)  # the question cap is 1,000 characters
    assert correction.text == "cirrhosis " * 125 and len(correction.changes) == 125


def test_word_counts_are_cached_and_a_corrupt_cache_is_counted_again(workdirs) -> None:
    corpus, fingerprint = _corpus(), "0123456789abcdef-fixture"
    path = vocabulary_cache(fingerprint)

    def cached() -> QuerySpeller:
        return QuerySpeller.from_corpus(corpus, use_cache=True, corpus_fingerprint=fingerprint)

    assert cached().correct("cirosis").text == "cirrhosis"
    counts = json.loads(path.read_text(encoding="utf-8"))
    assert counts["cirrhosis"] == 4 and counts["metoprolol"] == 2
    # The cached counts are what the next speller reads: change one and it shows.
    path.write_text(json.dumps({**counts, "cirrhosis": 1}), encoding="utf-8")
    assert cached().correct("cirosis").text == "cirosis"
    for broken in ("{not json", '["a list"]', '{"cirrhosis": "five"}', '{"cirrhosis": true}'):
        path.write_text(broken, encoding="utf-8")
        assert cached().correct("cirosis").text == "cirrhosis"
        assert json.loads(path.read_text(encoding="utf-8"))["cirrhosis"] == 4  # written again
