"""When a retrieved pair counts as a right answer to a question: same concept, not same focus string.

A question judged by topic carries an :class:`Expectation`: the names of the concept it is about
(``focus``; the first is the primary one, used for grouping and for the dev/test split), optionally the
UMLS CUIs of that concept (``cuis``), and optionally an accept list of other pages a reviewer judged to
answer it (``accept``). :class:`RelevanceJudge` turns an expectation into the corpus ids that count as
correct. A corpus pair is relevant when **one** of these holds:

1. **Name**: an expected name equals the pair's focus or one of its ``synonyms`` after
   :func:`normalise_name` (case, accents, apostrophes and "'s", punctuation and spacing, word order,
   regular plurals), with or without a bracketed part (:func:`name_keys`). So a question about "Alzheimer's Disease" (MedlinePlus) accepts GHR's "Alzheimer
   disease", and a lupus question accepts GHR's "systemic lupus erythematosus" (whose synonyms list
   "lupus"), which exact focus matching counted as misses (issue 12: ``bench/results/quality.txt``
   listed them).
2. **Concept (CUI)**: the pair is tagged with at least one CUI and *every* CUI it is tagged with is one
   of the question's CUIs. MedQuAD tags a document with every concept its title mentions, so "any
   shared CUI" would be far too loose: measured on the full corpus, the diabetes CUI C0011849 tags
   27 focus areas, including "Kidney disease of diabetes" and rare syndromes "... and diabetes
   mellitus", and GARD's generic "syndrome" CUI C0039082 tags 265. Requiring the pair's whole CUI set
   to be the question's concept keeps "Diabetes Type 2" (C0011860) relevant to a general diabetes
   question (MedlinePlus "Diabetes" is tagged C0011860 C0011847 C0011849) and "Alzheimer disease"
   (C0002395) to "Alzheimer's Disease" (C0002395 C1521724), but not "Diabetes, heart disease, and
   stroke". The question's CUIs are the explicit ``cuis`` when given (written in the question file and
   reviewed), else the CUIs of the pairs whose *focus* matches an expected name (rule 1). CUIs that
   tag more than :data:`GENERIC_CUI_FOCI` focus names of the corpus are word-level tags, not
   concepts, and are ignored on both sides: on the full corpus exactly two, "syndrome" (C0039082,
   262 names) and "disease" (C0012634, 59 names; the next CUI tags 32). Without this, MedlinePlus's
   "Eating Disorders" (tagged "disease") made every pair tagged only "disease" relevant.
3. **Accept list**: the pair's focus equals an ``accept`` name after :func:`normalise_name`. This is
   for human judgements that no rule can make, e.g. "Alzheimer's Caregiving" for "how do I look after
   my mother with Alzheimer's"; accepted names are matched by name only, never expanded by CUI or
   synonym. Every accept entry is in the reviewed question file (``medqa/resources``), not in code.

Relevance is binary and judged per pair, so a ranking's first relevant rank and every metric of
:mod:`medqa.evaluation.metrics` follow from it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from medqa.data import schema as col

#: Reasons :meth:`RelevanceJudge.reason` gives, strongest first.
BY_NAME = "name"
BY_SYNONYM = "synonym"
BY_CUI = "cui"
BY_ACCEPT = "accept"

_APOSTROPHES = re.compile(r"[\u2019\u2018\u02bc`']")
_POSSESSIVE = re.compile(r"[\u2019\u2018\u02bc`']s\b")
_NON_WORD = re.compile(r"[\W_]+")
_BRACKETS = re.compile(r"\([^()]*\)")
_CUI = re.compile(r"^C\d{7}$")
#: NIDDK's patient booklets are titled "What I need to know about <topic>" (one, "<topic>/<other name>").
_BOOKLET = re.compile(r"^\s*what i need to know about\s+", re.IGNORECASE)
#: A CUI tagging more focus names than this in a corpus is a generic word, not a concept.
GENERIC_CUI_FOCI = 40
#: Word endings that are not plurals ("illness", "virus", "arthritis").
_NOT_PLURAL = ("ss", "us", "is")


def _singular(word: str) -> str:
    """A regular plural's singular (``stones`` -> ``stone``, ``allergies`` -> ``allergy``); else ``word``.

    Only words of five letters or more that end in ``s`` and not in ``ss``/``us``/``is``, so short
    words and abbreviations (``aids``, ``ms``) are left alone. A key, not English: "diabetes" becomes
    "diabete" on both sides of a comparison, which is all that matters.
    """
    if len(word) < 5 or not word.endswith("s") or word.endswith(_NOT_PLURAL):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1]


def normalise_name(text: str) -> str:
    """The key two names of one concept share: ``"Alzheimer's Disease"`` -> ``"alzheimer disease"``.

    Folds Unicode compatibility forms, accents ("Sjögren" = "Sjogren") and case, drops "'s" and
    apostrophes, turns punctuation into
    spaces, makes regular plurals singular (see :func:`_singular`) and sorts the words, so
    "Lupus, systemic" and "Systemic lupus" agree. Returns ``""`` for a name with no word.
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    folded = _APOSTROPHES.sub("", _POSSESSIVE.sub("", folded))
    words = _NON_WORD.sub(" ", folded).split()
    return " ".join(sorted(_singular(word) for word in words))


def name_keys(text: str) -> frozenset[str]:
    """The keys a name is known by: :func:`normalise_name` of it, and of it without parentheses.

    MedQuAD writes some names with an abbreviation or a synonym in brackets, "Tuberculosis (TB)",
    "Liver (Hepatocellular) Cancer". On the full corpus, the 9 focus names that equal another
    focus once the brackets are dropped are all the same concept ("Tuberculosis", "Liver Cancer",
    "Peripheral Arterial Disease" ...), so both forms are kept as keys.

    NIDDK's 20 patient booklets are titled "What I need to know about <topic>": the title is also known
    by its topic, and "Interstitial Cystitis/Painful Bladder Syndrome" by each of its two names. The
    question file lists a booklet beside its topic for 12 questions; for 5 others the CUI rule already
    found it, and one was missed (twenty-second session): a bladder-pain e-mail (dev half) whose eighth
    answer was the interstitial cystitis booklet, tagged with a third CUI besides the topic's two. This
    rule changes that question's judgement and no other.
    """
    names = [str(text)]
    booklet = _BOOKLET.match(names[0])
    if booklet:
        topic = names[0][booklet.end() :]
        names += [topic, *topic.split("/")]
    keys = {key for name in names for key in (normalise_name(name), normalise_name(_BRACKETS.sub(" ", name)))}
    return frozenset(keys - {""})


def split_cuis(text: object) -> tuple[str, ...]:
    """CUIs of a ``cui`` cell (space-, comma- or ``|``-separated), upper-cased, invalid tokens dropped."""
    if text is None or (isinstance(text, float) and text != text):
        return ()
    tokens = re.split(r"[\s,|;]+", str(text).strip().upper())
    return tuple(dict.fromkeys(token for token in tokens if _CUI.match(token)))


@dataclass(frozen=True)
class Expectation:
    """What a topic-judged question is about.

    Attributes:
        focus: Names of the concept (MedQuAD focus strings or synonyms); the first is the primary one.
        cuis: The concept's UMLS CUIs; when empty they are derived from the pairs whose focus matches.
        accept: Other focus names a reviewer accepted as answering the question (name match only).
    """

    focus: tuple[str, ...]
    cuis: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """The primary focus name (``""`` when none)."""
        return self.focus[0] if self.focus else ""


class RelevanceJudge:
    """Decides which pairs of one corpus answer a topic-judged question (see the module docstring).

    Args:
        corpus: A pairs table with ``id``, ``focus`` and, when present, ``synonyms`` and ``cui``.
    """

    def __init__(self, corpus: pd.DataFrame) -> None:
        self._ids = corpus[col.ID].astype(str).tolist()
        foci = corpus[col.FOCUS].astype(str).tolist()
        synonyms = (
            corpus[col.SYNONYMS].fillna("").astype(str).tolist()
            if col.SYNONYMS in corpus
            else [""] * len(corpus)
        )
        cuis = corpus[col.CUI].tolist() if col.CUI in corpus else [""] * len(corpus)
        self._by_focus: dict[str, set[int]] = defaultdict(set)
        self._by_synonym: dict[str, set[int]] = defaultdict(set)
        self._by_cui: dict[str, set[int]] = defaultdict(set)
        self._cuis: list[frozenset[str]] = []
        self._focus_key: list[str] = []
        for row, (focus, synonym_cell, cui_cell) in enumerate(zip(foci, synonyms, cuis, strict=True)):
            self._focus_key.append(normalise_name(focus))
            for key in name_keys(focus):
                self._by_focus[key].add(row)
            for synonym in synonym_cell.split(col.SYNONYM_SEPARATOR.strip()):
                for key in name_keys(synonym):
                    self._by_synonym[key].add(row)
            row_cuis = frozenset(split_cuis(cui_cell))
            self._cuis.append(row_cuis)
            for cui in row_cuis:
                self._by_cui[cui].add(row)
        names_per_cui: dict[str, set[str]] = defaultdict(set)
        for cui, rows in self._by_cui.items():
            names_per_cui[cui] = {self._focus_key[row] for row in rows}
        #: CUIs too generic to identify a concept (see :data:`GENERIC_CUI_FOCI`).
        self.generic_cuis = frozenset(
            cui for cui, names in names_per_cui.items() if len(names) > GENERIC_CUI_FOCI
        )
        self._cuis = [cuis - self.generic_cuis for cuis in self._cuis]
        for cui in self.generic_cuis:
            del self._by_cui[cui]
        self._row_of = {pair_id: row for row, pair_id in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def concept_cuis(self, expectation: Expectation) -> frozenset[str]:
        """The question's CUIs (explicit, else those of the pairs whose focus matches), generic ones left out."""
        if expectation.cuis:
            return frozenset(split_cuis(" ".join(expectation.cuis))) - self.generic_cuis
        found: set[str] = set()
        for name in expectation.focus:
            for key in name_keys(name):
                for row in self._by_focus.get(key, ()):
                    found |= self._cuis[row]
        return frozenset(found)

    def _rows(self, expectation: Expectation) -> dict[int, str]:
        """Relevant row positions with the first rule that made each relevant."""
        reasons: dict[int, str] = {}
        keys = {key for name in expectation.focus for key in name_keys(name)}
        for key in keys:
            for row in self._by_focus.get(key, ()):
                reasons.setdefault(row, BY_NAME)
        for key in keys:
            for row in self._by_synonym.get(key, ()):
                reasons.setdefault(row, BY_SYNONYM)
        concept = self.concept_cuis(expectation)
        for cui in concept:
            for row in self._by_cui.get(cui, ()):
                if row not in reasons and self._cuis[row] <= concept:
                    reasons[row] = BY_CUI
        for key in {key for name in expectation.accept for key in name_keys(name)}:
            for row in self._by_focus.get(key, ()):
                reasons.setdefault(row, BY_ACCEPT)
        return reasons

    def relevant_ids(self, expectation: Expectation) -> frozenset[str]:
        """Ids of every corpus pair that answers the question (empty when the corpus lacks the topic)."""
        return frozenset(self._ids[row] for row in self._rows(expectation))

    def reasons(self, expectation: Expectation) -> dict[str, str]:
        """``{pair id: rule}`` for every relevant pair (``name``, ``synonym``, ``cui`` or ``accept``)."""
        return {self._ids[row]: reason for row, reason in self._rows(expectation).items()}

    def reason(self, pair_id: str, expectation: Expectation) -> str | None:
        """Why one pair is relevant (``name``, ``synonym``, ``cui``, ``accept``), or ``None`` if it is not."""
        row = self._row_of.get(str(pair_id))
        if row is None:
            return None
        return self._rows(expectation).get(row)

    def is_relevant(self, pair_id: str, expectation: Expectation) -> bool:
        """Whether one pair answers the question."""
        return self.reason(pair_id, expectation) is not None

    def relevant_for(self, expectations: Sequence[Expectation]) -> list[frozenset[str]]:
        """:meth:`relevant_ids` for many questions."""
        return [self.relevant_ids(expectation) for expectation in expectations]


def expectation(
    focus: str | Iterable[str], cuis: str | Iterable[str] = (), accept: str | Iterable[str] = ()
) -> Expectation:
    """Build an :class:`Expectation` from CSV cells (``|``- or ``;``-separated names, CUIs by spaces)."""

    def names(value: str | Iterable[str]) -> tuple[str, ...]:
        items = re.split(r"\s*[|;]\s*", value.strip()) if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))

    cui_values = split_cuis(cuis if isinstance(cuis, str) else " ".join(cuis))
    return Expectation(focus=names(focus), cuis=cui_values, accept=names(accept))
