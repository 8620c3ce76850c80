"""Finding condition names in questions."""

from __future__ import annotations

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.retrieval.conditions import ConditionLexicon

FOCI = [
    ("Alzheimer's Disease", "Alzheimer disease | senile dementia", "Disorders"),
    ("Chronic Obstructive Pulmonary Disease", "COPD", "Disorders"),
    ("Acute Lymphoblastic Leukemia", "ALL", "Disorders"),
    ("Down syndrome", "trisomy 21", "Disorders"),
    ("Diabetes", "", "Disorders"),
    ("Caregivers", "", "Living Beings"),
]


@pytest.fixture(scope="module")
def lexicon() -> ConditionLexicon:
    table = pd.DataFrame(
        [
            {col.FOCUS: focus, col.SYNONYMS: synonyms, col.SEMANTIC_GROUP: group}
            for focus, synonyms, group in FOCI
        ]
    )
    return ConditionLexicon(table)


def _foci(lexicon: ConditionLexicon, question: str) -> list[str]:
    return [mention.focus for mention in lexicon.find(question)]


@pytest.mark.parametrize(
    "question",
    [
        "What are the early warning signs of Alzheimer's?",
        "early signs of alzheimers",
        "is alzheimer disease inherited",
        "my mum has senile dementia",
        "what are the first signs of alzhiemers",  # one typo
    ],
)
def test_alzheimers_is_found_however_it_is_written(lexicon: ConditionLexicon, question: str) -> None:
    assert _foci(lexicon, question) == ["Alzheimer's Disease"]


def test_acronyms_need_capitals_unless_people_type_them_lower_case(lexicon: ConditionLexicon) -> None:
    assert _foci(lexicon, "is ALL curable in children?") == ["Acute Lymphoblastic Leukemia"]
    assert _foci(lexicon, "is all of this normal?") == []
    assert _foci(lexicon, "does copd get worse") == ["Chronic Obstructive Pulmonary Disease"]


def test_everyday_words_and_non_disorders_do_not_count(lexicon: ConditionLexicon) -> None:
    assert _foci(lexicon, "I feel down today, what can help?") == []
    assert _foci(lexicon, "How can families provide support?") == []
    assert _foci(lexicon, "support for caregivers") == []  # a topic, not a condition
    assert _foci(lexicon, "what is down syndrome") == ["Down syndrome"]


def test_longest_name_wins_without_overlaps(lexicon: ConditionLexicon) -> None:
    mentions = lexicon.find("diabetes and chronic obstructive pulmonary disease")
    assert [mention.focus for mention in mentions] == ["Chronic Obstructive Pulmonary Disease", "Diabetes"]
