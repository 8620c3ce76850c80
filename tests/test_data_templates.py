from __future__ import annotations

import pytest

from medqa.data.templates import QUESTION_TEMPLATES, match_template, normalise_focus


@pytest.mark.parametrize(
    ("question", "focus", "qtype"),
    [
        ("What is (are) Alzheimer's Disease ?", "Alzheimer's Disease", "information"),
        ("what are the symptoms of copd ?", "copd", "symptoms"),
        (
            "who is at risk for age-related macular degeneration? ?",
            "age-related macular degeneration",
            "susceptibility",
        ),
        ("What research (or clinical trials) is being done for Gout ?", "Gout", "research"),
        (
            "what are the brand names of combination products of Aspirin ?",
            "Aspirin",
            "brand names of combination products",
        ),
        ("how to diagnose  Shingles?", "Shingles", "exams and tests"),
        ("is hemochromatosis inherited ?", "hemochromatosis", "inheritance"),
        ("What causes causes of diabetes ?", "causes of diabetes", "causes"),
    ],
)
def test_templates_recover_focus_and_type(question: str, focus: str, qtype: str) -> None:
    match = match_template(question)
    assert match is not None
    assert (match.focus, match.qtype) == (focus, qtype)


@pytest.mark.parametrize("question", ["my knee hurts when I run", "", "what is ?", "symptoms?"])
def test_free_text_matches_no_template(question: str) -> None:
    assert match_template(question) is None


def test_every_template_has_one_placeholder() -> None:
    assert all(template.count("{X}") == 1 for template, _ in QUESTION_TEMPLATES)


def test_normalise_focus() -> None:
    assert normalise_focus("  Alzheimer's   Disease ?") == "alzheimer's disease"
