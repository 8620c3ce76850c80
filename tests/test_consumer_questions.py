"""Tests for medqa.consumer_questions: the shipped question sets and their loader."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from medqa import consumer_questions
from medqa.consumer_questions import (
    DEV,
    MEDQUAD_QTYPES,
    SPLIT_SEED,
    STYLES,
    TEST,
    assign_splits,
    load_consumer_questions,
    load_out_of_domain_questions,
    topic_groups,
)
from medqa.errors import EvaluationError
from medqa.evaluation.relevance import normalise_name
from medqa.safety import detect_emergency


def test_consumer_questions_load_with_expected_columns() -> None:
    frame = load_consumer_questions()
    assert list(frame.columns) == [
        "question", "expected_focus", "qtype_hint", "id", "expected_cui", "accept", "style", "origin", "split"
    ]  # fmt: skip
    assert len(frame) >= 250
    assert frame["id"].is_unique
    assert frame["question"].is_unique
    for foci in frame["expected_focus"]:
        assert isinstance(foci, list)
        assert foci
        assert all(isinstance(focus, str) and focus == focus.strip() and focus for focus in foci)
    assert set(frame["qtype_hint"]) <= MEDQUAD_QTYPES


def test_consumer_questions_have_no_near_duplicates() -> None:
    questions = load_consumer_questions()["question"]
    normalised = {" ".join(q.casefold().split()) for q in questions}
    assert len(normalised) == len(questions)


def test_consumer_questions_split_multiple_foci() -> None:
    frame = load_consumer_questions()
    multi = frame[frame["expected_focus"].map(len) > 1]
    assert not multi.empty
    assert all("|" not in focus for foci in frame["expected_focus"] for focus in foci)


def test_consumer_questions_spread_over_many_conditions() -> None:
    frame = load_consumer_questions()
    first_focus = {foci[0] for foci in frame["expected_focus"]}
    assert len(first_focus) >= 50
    assert len(set(frame["qtype_hint"])) >= 8


def test_out_of_domain_questions_load() -> None:
    questions = load_out_of_domain_questions()
    assert len(questions) >= 60
    assert all(isinstance(q, str) and q.strip() == q and q for q in questions)
    assert len({q.casefold() for q in questions}) == len(questions)


def test_sets_do_not_overlap() -> None:
    consumer = {q.casefold() for q in load_consumer_questions()["question"]}
    out_of_domain = {q.casefold() for q in load_out_of_domain_questions()}
    assert not consumer & out_of_domain


def test_evaluation_questions_do_not_trigger_the_emergency_rules() -> None:
    # They measure retrieval; a rule firing on one of them would be a rule false alarm. The learned
    # half is recall-first and flags a few symptom descriptions among them on purpose (#15): its
    # false alarms on these sets are measured by bench/bench_safety.py, not asserted here.
    # Except where the question does describe an emergency's warning signs: then the notice is right.
    # Known rule false alarms (#15): three long messages that narrate a past, treated emergency ("six
    # months ago ... I lost a lot of blood", "days after the funeral she had crushing chest pain ... the
    # catheter test showed", "last night he had sudden sharp pain ... at the ER"); recall first.
    questions = [*load_consumer_questions()["question"], *load_out_of_domain_questions()]
    flagged = [(q[:40], notice.kind) for q in questions if (notice := detect_emergency(q, learned=False))]
    assert flagged == [
        ("sudden severe headache, worst of my life", "meningitis"),  # a stiff neck with a sudden headache
        ("fever, stiff neck, headache and a purple", "meningitis"),
        ("Six months ago I had a tubal pregnancy a", "bleeding"),
        ("My 68 year old mother's husband of 45 ye", "cardiac"),
        ("Subject: sudden chest pain in my son. My", "cardiac"),
    ]


@pytest.fixture
def fake_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the loader at ``tmp_path/resources`` instead of the package data."""
    folder = tmp_path / "resources"
    folder.mkdir()
    monkeypatch.setattr(consumer_questions.resources, "files", lambda package: tmp_path)
    return folder


HEADER = "id,question,expected_focus,expected_cui,accept,qtype_hint,style,origin,split\n"


def test_loader_reads_a_well_formed_file(fake_resources: Path) -> None:
    (fake_resources / "consumer_questions.csv").write_text(
        HEADER
        + 'c-1,my knee hurts when it rains,"Arthritis | Osteoarthritis",C0003864,,symptoms,plain short,v1,dev\n'
        + "c-2,sore toe,Gout,,Foot Health,symptoms,unnamed,v1,test\n",
        encoding="utf-8",
    )
    frame = load_consumer_questions()
    assert frame.loc[0, "expected_focus"] == ["Arthritis", "Osteoarthritis"]
    assert frame.loc[0, "expected_cui"] == ["C0003864"]
    assert frame.loc[0, "style"] == ["plain", "short"]
    assert frame.loc[1, "accept"] == ["Foot Health"]
    assert frame.loc[1, "expected_cui"] == []
    assert load_consumer_questions("dev")["id"].tolist() == ["c-1"]
    assert load_consumer_questions("test")["id"].tolist() == ["c-2"]
    with pytest.raises(EvaluationError, match="split must be"):
        load_consumer_questions("train")


def _row(**cells: str) -> str:
    values = {"id": "c-1", "question": "q", "expected_focus": "A", "expected_cui": "", "accept": "",
              "qtype_hint": "symptoms", "style": "plain", "origin": "v1", "split": "dev", **cells}  # fmt: skip
    return ",".join(values[column] for column in HEADER.strip().split(",")) + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER, "no questions"),
        ("question,focus,qtype_hint\nq,A,symptoms\n", "columns"),
        (HEADER + _row() + _row(id="c-2", question="Q  "), "duplicate question"),
        (HEADER + _row() + _row(question="other"), "duplicate id"),
        (HEADER + _row(expected_focus=""), "empty"),
        (HEADER + _row(expected_focus="A | "), "empty focus"),
        (HEADER + _row(expected_focus="A | A"), "twice"),
        (HEADER + _row(qtype_hint="diagnosis"), "qtype_hint"),
        (HEADER + _row(style="rude"), "unknown style"),
        (HEADER + _row(split="train"), "split must be"),
    ],
)
def test_loader_rejects_bad_files(fake_resources: Path, content: str, message: str) -> None:
    (fake_resources / "consumer_questions.csv").write_text(content, encoding="utf-8")
    with pytest.raises(EvaluationError, match=message):
        load_consumer_questions()


def test_missing_file_is_a_readable_error(fake_resources: Path) -> None:
    with pytest.raises(EvaluationError, match="missing"):
        load_out_of_domain_questions()


def _answered_foci(archive: Path) -> set[str]:
    """Focus strings of MedQuAD documents with at least one non-empty answer.

    Reads both schemas: ``Document``/``Focus``/``QAPair``/``Answer`` and the lowercase
    ``doc``/``doctitle-focus``/``pair``/``answer`` used by a few NINDS files.
    """
    foci: set[str] = set()
    with zipfile.ZipFile(archive) as zipped:
        for name in zipped.namelist():
            if not name.endswith(".xml"):
                continue
            root = ElementTree.fromstring(zipped.read(name))
            focus = (root.findtext("Focus") or root.findtext("doctitle-focus") or "").strip()
            for pair in root.iter():
                if pair.tag not in ("QAPair", "pair"):
                    continue
                answer = pair.findtext("Answer") or pair.findtext("answer") or ""
                if answer.strip():
                    foci.add(focus)
                    break
    return foci


@pytest.mark.medquad
def test_every_expected_focus_is_an_answered_medquad_focus() -> None:
    source = os.environ.get("MEDQA_MEDQUAD_SOURCE")
    if not source:
        pytest.skip("MEDQA_MEDQUAD_SOURCE is not set")
    archive = Path(source)
    if not (archive.is_file() and zipfile.is_zipfile(archive)):
        pytest.skip("MEDQA_MEDQUAD_SOURCE is not a local zip archive")
    answered = _answered_foci(archive)
    assert len(answered) > 1000
    frame = load_consumer_questions()
    # Every expected name is an answered focus, or a synonym of one (judged by normalised name).
    keys = {normalise_name(focus) for focus in answered}
    unknown = sorted(
        {focus for foci in frame["expected_focus"] for focus in foci if normalise_name(focus) not in keys}
    )
    assert len(unknown) <= len(frame) // 10  # a few synonyms ("Influenza" for MedlinePlus "Flu")
    accepted = {name for names in frame["accept"] for name in names}
    assert sorted(name for name in accepted if normalise_name(name) not in keys) == []


def test_consumer_questions_cover_the_styles_people_write_in() -> None:
    frame = load_consumer_questions()
    styles = Counter(tag for tags in frame["style"] for tag in tags)
    assert set(styles) <= STYLES
    assert styles["unnamed"] >= len(frame) // 3  # symptoms described without naming the condition
    assert styles["caregiver"] >= 40
    assert styles["misspelled"] >= 10
    assert styles["long"] >= 60
    assert styles["short"] >= 20
    assert set(frame["origin"]) == {"v1", "confirmation", "issue-12", "long-messages"}
    assert (frame["origin"] == "issue-12").sum() >= 150


def test_consumer_halves_are_even_and_split_by_topic() -> None:
    frame = load_consumer_questions()
    counts = frame["split"].value_counts()
    assert set(counts.index) == {DEV, TEST}
    assert abs(counts[DEV] - counts[TEST]) <= len(frame) // 10
    groups = topic_groups(
        [[*focus, *accept] for focus, accept in zip(frame["expected_focus"], frame["accept"], strict=True)]
    )
    halves_per_group = pd.Series(list(frame["split"])).groupby(groups).nunique()
    assert (halves_per_group == 1).all(), halves_per_group[halves_per_group > 1]


def test_topic_groups_join_shared_names_and_shared_answers() -> None:
    names = [
        ["Alzheimer's Disease"],
        ["Alzheimer disease", "Dementia"],
        ["Dementia"],
        ["Lupus"],
        ["SLE"],
        ["Gout"],
    ]
    groups = topic_groups(names)
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[3], groups[4], groups[5], groups[0]}) == 4
    joined = topic_groups(names, relevant=[{"a"}, {"b"}, {"c"}, {"x", "y"}, {"y"}, {"z"}])
    assert joined[3] == joined[4] != joined[5]


def test_assign_splits_keeps_groups_whole_and_is_seeded() -> None:
    groups = [f"g{number % 40}" for number in range(200)]
    halves = assign_splits(groups)
    assert halves == assign_splits(groups)
    assert pd.Series(halves).groupby(groups).nunique().max() == 1
    assert abs(halves.count(DEV) - halves.count(TEST)) <= 5
    assert halves != assign_splits(groups, seed=SPLIT_SEED + 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,level\nconsumer-001,soon\n", "columns"),
        ("id,urgency\nconsumer-001,soon\nconsumer-001,stroke\n", "repeated"),
        ("id,urgency\nconsumer-001,\n", "empty"),
    ],
)
def test_urgency_loader_refuses_a_broken_file(fake_resources: Path, content: str, message: str) -> None:
    (fake_resources / "consumer_urgency.csv").write_text(content, encoding="utf-8")
    with pytest.raises(EvaluationError, match=message):
        consumer_questions.load_consumer_urgency()


def test_urgency_loader_reads_ids_and_levels(fake_resources: Path) -> None:
    (fake_resources / "consumer_urgency.csv").write_text(
        "id,urgency\nc-1,soon\nc-2,stroke\n", encoding="utf-8"
    )
    assert consumer_questions.load_consumer_urgency() == {"c-1": "soon", "c-2": "stroke"}
