"""Recognise condition names (focus areas and their synonyms) in a question.

Only disorders count when the corpus says which foci are disorders (UMLS semantic group).

Used to tell a follow-up ("Is there treatment to slow progression?") from a question that names its
own subject ("Is there treatment for gout?"). Matching is on normalised word n-grams: case-folded,
apostrophes dropped, a plural/possessive ``s`` trimmed, so "Alzheimer's", "alzheimers" and
"Alzheimer" all match. Names ending in a generic word ("... Disease", "... Syndrome") also match
without it. Short all-capital synonyms (ALL, AIDS, CAT ...) often spell ordinary words, so they
match only when the question writes them in capitals too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from medqa.data import schema as col

_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_GENERIC_TAILS = ("disease", "diseases", "syndrome", "disorder", "disorders", "condition", "conditions")
#: Names that are too common as plain words to signal a condition.
_TOO_GENERIC = frozenset(
    {"disease", "diseases", "syndrome", "disorder", "condition", "health", "care", "help", "support", "other",
     "treatment", "medicine", "medicines", "pain relief", "tests", "test", "the", "and", "type", "types"}
)  # fmt: skip
#: Acronyms people type in lower case; other short acronyms must be in capitals to count.
_LOWERCASE_ACRONYMS = frozenset(
    {"copd", "adhd", "hiv", "ptsd", "ibs", "gerd", "sids", "hpv", "ocd", "uti", "als"}
)
#: Eponyms that are everyday words: "Still's disease", "Down's syndrome", "Job's syndrome" ...
_COMMON_WORDS = frozenset(
    {"still", "down", "best", "good", "worth", "will", "her", "job", "adult", "kid", "wolf"}
)
MAX_NAME_WORDS = 8
#: Single-word names at least this long also match with one typo ("diabetis", "alzhiemers").
_FUZZY_MIN_CHARS = 6


def _deletes(word: str) -> set[str]:
    """The word and every way to drop one character from it (symmetric-delete typo matching)."""
    return {word, *(word[:index] + word[index + 1 :] for index in range(len(word)))}


def _keeps_meaning(name: str, head: tuple[str, ...]) -> bool:
    """Whether a name still names the condition without its "disease"/"syndrome" tail.

    Multi-word heads and eponyms with a possessive ("Alzheimer's") do; short single words ("Best",
    "Down", "Still", "Job" syndromes) are ordinary English words, so they do not.
    """
    if len(head) > 1:
        return True
    if head[0] in _COMMON_WORDS:
        return False
    first = name.split()[0]
    return (first.endswith(("'s", "’s", "s'")) and len(head[0]) >= 5) or len(head[0]) >= 7


@lru_cache(maxsize=1 << 16)
def _normal_token(token: str) -> str:
    token = token.casefold().replace("'", "").replace("’", "")
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token


def normal_words(text: str) -> list[str]:
    """Tokens as the lexicon compares them."""
    return [_normal_token(token) for token in _TOKEN.findall(text)]


@dataclass(frozen=True)
class ConditionMention:
    """A condition name found in a question."""

    text: str
    focus: str


class ConditionLexicon:
    """Every focus name and synonym of a corpus, mapped to the focus it names."""

    def __init__(self, corpus: pd.DataFrame) -> None:
        sizes = Counter(corpus[col.FOCUS].astype(str))
        names: dict[tuple[str, ...], str] = {}
        acronyms: dict[str, str] = {}
        fuzzy: dict[str, str] = {}
        pairs = corpus[[col.FOCUS, col.SYNONYMS]]
        if col.SEMANTIC_GROUP in corpus and (corpus[col.SEMANTIC_GROUP] == "Disorders").any():
            # Topics such as "Medicines", "Caregivers" or "Nursing Homes" are not conditions: a follow-up
            # asking "what medication helps?" still refers to the condition discussed before.
            pairs = pairs[corpus[col.SEMANTIC_GROUP] == "Disorders"]
        pairs = pairs.drop_duplicates()
        # Foci with more pairs claim shared synonyms first (sorted by size, then name for stability).
        ordered = sorted(pairs.itertuples(index=False), key=lambda row: (-sizes[str(row[0])], str(row[0])))
        for focus, synonyms in ordered:
            focus = str(focus)
            candidates = [focus, *[name for name in str(synonyms or "").split(col.SYNONYM_SEPARATOR) if name]]
            for name in candidates:
                name = name.strip()
                if self._is_acronym(name):
                    if len(name) >= 2:
                        acronyms.setdefault(name, focus)
                    continue
                words = tuple(normal_words(name))
                if not words or len(words) > MAX_NAME_WORDS:
                    continue
                variants = [words]
                if len(words) > 1 and words[-1] in _GENERIC_TAILS and _keeps_meaning(name, words[:-1]):
                    variants.append(words[:-1])
                for variant in variants:
                    phrase = " ".join(variant)
                    if len(phrase) < 3 or phrase in _TOO_GENERIC:
                        continue
                    names.setdefault(variant, focus)
                    if len(variant) == 1 and len(phrase) >= _FUZZY_MIN_CHARS:
                        for deleted in _deletes(phrase):
                            fuzzy.setdefault(deleted, focus)
        self._names = names
        self._acronyms = acronyms
        self._fuzzy = fuzzy
        self._longest = max((len(words) for words in names), default=1)

    @staticmethod
    def _is_acronym(name: str) -> bool:
        return len(name) <= 5 and name.isupper() and " " not in name

    def __len__(self) -> int:
        return len(self._names) + len(self._acronyms)

    def find(self, question: str) -> list[ConditionMention]:
        """Condition names in a question, longest first, without overlaps."""
        raw_tokens = _TOKEN.findall(question)
        words = [_normal_token(token) for token in raw_tokens]
        found: list[ConditionMention] = []
        taken = [False] * len(words)
        for size in range(min(self._longest, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                if any(taken[start : start + size]):
                    continue
                focus = self._names.get(tuple(words[start : start + size]))
                if focus is not None:
                    found.append(ConditionMention(" ".join(raw_tokens[start : start + size]), focus))
                    taken[start : start + size] = [True] * size
        for index, word in enumerate(words):
            if taken[index] or len(word) < _FUZZY_MIN_CHARS:
                continue
            focus = next((self._fuzzy[key] for key in sorted(_deletes(word)) if key in self._fuzzy), None)
            if focus is not None:
                found.append(ConditionMention(raw_tokens[index], focus))
                taken[index] = True
        letters = [char for char in question if char.isalpha()]
        shouting = sum(char.isupper() for char in letters) > 0.6 * max(len(letters), 1)
        for index, token in enumerate(raw_tokens):
            if taken[index]:
                continue
            key = (
                token
                if token.isupper() and not shouting
                else token.upper()
                if token.casefold() in _LOWERCASE_ACRONYMS
                else None
            )
            if key is not None and key in self._acronyms:
                found.append(ConditionMention(token, self._acronyms[key]))
        return found
