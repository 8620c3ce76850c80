"""Tests for medqa.safety.categories: every category has a correct, conservative message."""

from __future__ import annotations

import pytest

from medqa.safety.categories import BY_KIND, CATEGORIES, EMERGENCY_KINDS

REQUIRED = {
    "stroke", "cardiac", "suicide", "overdose_poisoning", "anaphylaxis", "bleeding", "sepsis", "meningitis",
    "breathing", "seizure", "head_injury", "diabetic", "pregnancy", "infant_fever", "choking", "drowning",
    "burn", "testicular_torsion", "heat_stroke", "carbon_monoxide", "confusion", "unconscious",
    "major_trauma", "thunderclap_headache", "aortic_dissection", "gi_bleeding", "pulmonary_embolism",
    "ectopic_pregnancy", "acute_abdomen", "child_dehydration", "hypothermia", "eye",
}  # fmt: skip


def test_at_least_thirty_categories_including_the_issue_list() -> None:
    assert len(CATEGORIES) >= 30
    assert set(EMERGENCY_KINDS) >= REQUIRED
    assert len(set(EMERGENCY_KINDS)) == len(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.kind)
def test_every_message_gives_an_emergency_number(category) -> None:
    assert "911" in category.message
    assert "local emergency number" in category.message
    assert category.label and category.info_query.endswith("?")


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c.kind != "suicide"], ids=lambda c: c.kind)
def test_only_the_crisis_message_gives_988(category) -> None:
    assert "988" not in category.message


def test_crisis_and_poison_lines() -> None:
    assert "call or text 988" in BY_KIND["suicide"].message
    assert "1-800-222-1222" in BY_KIND["overdose_poisoning"].message
    assert "EpiPen" in BY_KIND["anaphylaxis"].message
    assert "38 °C" in BY_KIND["infant_fever"].message
    assert "15 minutes" in BY_KIND["eye"].message
