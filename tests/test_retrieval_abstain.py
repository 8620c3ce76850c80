"""Choosing the abstention threshold."""

from __future__ import annotations

import numpy as np
import pytest

from medqa.consumer_questions import load_consumer_questions, load_out_of_domain_questions
from medqa.errors import EvaluationError
from medqa.retrieval.abstain import calibration_half, choose_threshold


def test_separable_sets_get_the_midpoint_of_the_gap() -> None:
    threshold = choose_threshold(np.array([0.7, 0.8, 0.9]), np.array([0.1, 0.2, 0.3]))
    assert threshold == pytest.approx(0.5)


def test_overlapping_sets_maximise_balanced_accuracy() -> None:
    inside = np.array([0.35, 0.6, 0.7, 0.8])
    outside = np.array([0.1, 0.2, 0.4])
    threshold = choose_threshold(inside, outside)
    # Answering 0.35 would also answer 0.4; abstaining below 0.5 loses one in-domain question only.
    assert 0.4 < threshold <= 0.6
    answered = np.mean(inside >= threshold)
    abstained = np.mean(outside < threshold)
    assert (answered, abstained) == (0.75, 1.0)


def test_weights_make_a_small_set_count_as_much_as_a_large_one() -> None:
    # 20 easy in-domain questions and 2 hard ones (0.45): unweighted, losing the hard ones is cheap.
    inside = np.concatenate([np.full(20, 0.9), [0.45, 0.45]])
    outside = np.array([0.1, 0.2, 0.5])
    unweighted = choose_threshold(inside, outside)
    assert unweighted > 0.5
    weights = np.concatenate([np.full(20, 1 / 20), [1 / 2, 1 / 2]])
    weighted = choose_threshold(inside, outside, in_domain_weights=weights)
    assert 0.2 < weighted <= 0.45


def test_empty_sets_are_an_error() -> None:
    with pytest.raises(EvaluationError):
        choose_threshold(np.array([]), np.array([0.1]))
    with pytest.raises(EvaluationError):
        choose_threshold(np.array([0.9]), np.array([]))


def test_calibration_halves_are_stable_and_both_used() -> None:
    consumer = load_consumer_questions()["question"].tolist()
    outside = load_out_of_domain_questions()
    for questions in (consumer, outside):
        fit = [question for question in questions if calibration_half(question)]
        assert 0.3 < len(fit) / len(questions) < 0.7
    assert calibration_half("What is gout?") == calibration_half("  what IS   gout?")
    assert [calibration_half(question) for question in consumer] == [
        calibration_half(question) for question in consumer
    ]


def test_consumer_questions_are_fitted_on_the_dev_half_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The threshold is chosen with the dev half; the test half is only checked against."""
    import pandas as pd

    from medqa.retrieval import abstain

    monkeypatch.setattr(abstain, "MIN_CONSUMER", 1)
    questions = load_consumer_questions()
    alzheimer = questions[questions["expected_focus"].map(lambda foci: "Alzheimer's Disease" in foci)]
    assert set(alzheimer["split"]) <= {"dev", "test"} and len(alzheimer)
    corpus = pd.DataFrame({"focus": ["ALZHEIMER DISEASE", "Gout"]})  # other case and no "'s": same name
    for split in ("dev", "test"):
        covered = abstain._consumer(corpus, split)
        half = set(questions.loc[questions["split"] == split, "question"])
        assert set(covered) <= half
        assert set(alzheimer.loc[alzheimer["split"] == split, "question"]) <= set(covered)


def test_a_stored_calibration_is_redone_when_the_questions_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key of a stored calibration covers the hand-written questions it was fitted on."""
    import types

    import medqa.consumer_questions as consumer_questions
    from medqa.retrieval import abstain

    engine = types.SimpleNamespace(dense=types.SimpleNamespace(key="index-1"), settings=types.SimpleNamespace(
        correct_spelling=True))  # fmt: skip
    before = abstain.calibration_key(engine)  # type: ignore[arg-type]
    assert before == abstain.calibration_key(engine)  # type: ignore[arg-type]
    grown = load_consumer_questions().iloc[:-1]
    monkeypatch.setattr(consumer_questions, "load_consumer_questions", lambda split=None: grown)
    abstain._questions_fingerprint.cache_clear()  # once per process: the files ship with the package
    try:
        assert abstain.calibration_key(engine) != before  # type: ignore[arg-type]
    finally:
        abstain._questions_fingerprint.cache_clear()
