"""Tests for medqa.consumer_questions: the shipped question sets and their loader."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from medqa import consumer_questions
from medqa.consumer_questions import (
    FOCUS_SEPARATOR,
    MEDQUAD_QTYPES,
    load_consumer_questions,
    load_out_of_domain_questions,
)
from medqa.errors import EvaluationError
from medqa.safety import detect_emergency


def test_consumer_questions_load_with_expected_columns() -> None:
    frame = load_consumer_questions()
    assert list(frame.columns) == ["question", "expected_focus", "qtype_hint"]
    assert len(frame) >= 60
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


def test_evaluation_questions_do_not_trigger_the_emergency_notice() -> None:
    # They measure retrieval; an emergency notice on one of them would be a detector false alarm.
    questions = [*load_consumer_questions()["question"], *load_out_of_domain_questions()]
    flagged = [(q, notice.kind) for q in questions if (notice := detect_emergency(q))]
    assert flagged == []


@pytest.fixture
def fake_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the loader at ``tmp_path/resources`` instead of the package data."""
    folder = tmp_path / "resources"
    folder.mkdir()
    monkeypatch.setattr(consumer_questions.resources, "files", lambda package: tmp_path)
    return folder


def test_loader_reads_a_well_formed_file(fake_resources: Path) -> None:
    (fake_resources / "consumer_questions.csv").write_text(
        "question,expected_focus,qtype_hint\n"
        'my knee hurts when it rains,"Arthritis | Osteoarthritis",symptoms\n',
        encoding="utf-8",
    )
    frame = load_consumer_questions()
    assert frame.loc[0, "expected_focus"] == ["Arthritis", "Osteoarthritis"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,expected_focus,qtype_hint\n", "no questions"),
        ("question,focus,qtype_hint\nq,A,symptoms\n", "columns"),
        ("question,expected_focus,qtype_hint\nq one,A,symptoms\nQ  One,B,causes\n", "duplicate"),
        ("question,expected_focus,qtype_hint\nq,,symptoms\n", "empty"),
        ("question,expected_focus,qtype_hint\nq,A | ,symptoms\n", "empty focus"),
        ("question,expected_focus,qtype_hint\nq,A | A,symptoms\n", "twice"),
        ("question,expected_focus,qtype_hint\nq,A,diagnosis\n", "qtype_hint"),
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
    unknown = sorted({focus for foci in frame["expected_focus"] for focus in foci if focus not in answered})
    assert unknown == []
    # The benchmark's confirmation set (bench/data), scored by `medqa evaluate --set PATH.csv`.
    confirmation = pd.read_csv(Path(__file__).parent.parent / "bench" / "data" / "consumer_confirmation.csv")
    expected = {focus for cell in confirmation["expected_focus"] for focus in cell.split(FOCUS_SEPARATOR)}
    assert sorted(expected - answered) == []
    asked = {question.casefold() for question in frame["question"]}
    assert not asked & {question.casefold() for question in confirmation["question"]}
