"""Tests for medqa.safety.bank: the labelled bank's size, coverage and fixed split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medqa.safety.bank import BANK_PATH, bank_fingerprint, load_bank, load_outside_checks
from medqa.safety.categories import EMERGENCY_KINDS

ITEMS = load_bank()
EMERGENCIES = [item for item in ITEMS if item.is_emergency]
LOOKALIKES = [item for item in ITEMS if item.label == "lookalike"]


def test_bank_is_large_enough() -> None:
    assert len(EMERGENCIES) >= 600
    assert len(LOOKALIKES) >= 400
    assert any(item.label == "offtopic" for item in ITEMS)


def test_every_category_has_emergencies_in_both_splits() -> None:
    counts = Counter((item.category, item.split) for item in EMERGENCIES)
    assert {item.category for item in EMERGENCIES} == set(EMERGENCY_KINDS)
    for kind in EMERGENCY_KINDS:
        assert counts[(kind, "dev")] >= 10, kind
        assert counts[(kind, "test")] >= 10, kind  # one miss still leaves 90%


def test_split_is_by_style_so_test_styles_are_unseen() -> None:
    """Only the near-miss pairs are in both splits (written apart by two authors)."""
    dev_styles = {item.style for item in ITEMS if item.split == "dev"}
    test_styles = {item.style for item in ITEMS if item.split == "test"}
    assert dev_styles & test_styles == {"nearmiss"}
    assert {"texting", "story", "symptom"} <= test_styles


def test_near_misses_are_pairs_in_every_category() -> None:
    pairs = Counter((item.category, item.label, item.split) for item in ITEMS if item.style == "nearmiss")
    for kind in EMERGENCY_KINDS:
        for split, count in (("dev", 3), ("test", 2)):
            assert pairs[(kind, "emergency", split)] == pairs[(kind, "lookalike", split)] == count, kind


def test_no_phrasing_is_repeated() -> None:
    texts = Counter(item.text.casefold() for item in ITEMS)
    assert [text for text, count in texts.items() if count > 1] == []


def test_issue_lookalikes_are_in_the_bank() -> None:
    texts = {item.text.casefold(): item for item in LOOKALIKES}
    assert "my heart attack was years ago, what diet should i follow now" in texts
    assert any("costochondritis" in text for text in texts)


def test_bad_rows_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bank.csv"
    bad.write_text("text,label,category,style,split\nhelp,emergency,,first,dev\n", encoding="utf-8")
    with pytest.raises(ValueError, match="category"):
        load_bank(bad)
    bad.write_text("text,label,category,style,split\nhelp,maybe,stroke,first,dev\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        load_bank(bad)


def test_fingerprint_follows_the_content(tmp_path: Path) -> None:
    copy = tmp_path / "bank.csv"
    copy.write_bytes(BANK_PATH.read_bytes())
    assert bank_fingerprint(copy) == bank_fingerprint()
    copy.write_bytes(BANK_PATH.read_bytes() + b"x,offtopic,,own,dev\n")
    assert bank_fingerprint(copy) != bank_fingerprint()


def test_everyday_symptoms_are_test_lookalikes_in_every_category() -> None:
    counts = Counter((item.category, item.split) for item in ITEMS if item.style == "symptom")
    assert all(item.label == "lookalike" for item in ITEMS if item.style == "symptom")
    for kind in EMERGENCY_KINDS:
        assert counts[(kind, "dev")] == 0 and counts[(kind, "test")] >= 3, kind


def test_consumer_urgency_labels_name_consumer_questions_and_known_kinds() -> None:
    from medqa.consumer_questions import SOON, load_consumer_questions, load_consumer_urgency

    urgency = load_consumer_urgency()
    assert urgency and set(urgency) <= set(load_consumer_questions()["id"])
    assert set(urgency.values()) <= {SOON, *EMERGENCY_KINDS}
    assert any(level in EMERGENCY_KINDS for level in urgency.values())


def test_outside_checks_cover_every_category_and_share_no_medical_row_with_the_bank() -> None:
    outside = load_outside_checks()
    counts = Counter(item.category for item in outside if item.is_emergency)
    assert set(counts) == set(EMERGENCY_KINDS) - {"eye", "hypothermia"}  # the issue's 30 categories
    assert min(counts.values()) >= 7 and sum(counts.values()) >= 200
    assert sum(item.label == "lookalike" for item in outside) >= 140
    assert {item.split for item in outside} == {"outside"}
    bank = {item.text.casefold() for item in ITEMS}
    assert not [item.text for item in outside if item.label != "offtopic" and item.text.casefold() in bank]


def test_bank_rows_of_another_split_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text(
        "text,label,category,style,split\nhelp,emergency,stroke,first,outside\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="line 2"):
        load_bank(path)
    assert load_bank(path, splits=("outside",))[0].split == "outside"
