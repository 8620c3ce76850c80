"""Tests for medqa.safety.learned: fitting, the framing veto, the committed model and its use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medqa.safety import learned
from medqa.safety.bank import bank_fingerprint
from medqa.safety.learned import (
    EmergencyModel,
    calm_framing,
    char_features,
    fit_weights,
    get_model,
    word_features,
)


def test_committed_model_was_fitted_on_the_committed_bank() -> None:
    model = get_model()
    assert model is not None, "run python -m medqa.safety.learned"
    assert model.fingerprint == bank_fingerprint(), "bank changed: run python -m medqa.safety.learned"
    assert model.classes[0] == learned.NONE and len(model.classes) >= 31
    assert 0.0 < model.threshold < 1.0


def test_fit_weights_separates_toy_classes() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 3
    targets = np.repeat(np.arange(3), 20)
    vectors = centres[targets] + rng.normal(scale=0.3, size=(60, 8))
    weights = fit_weights(vectors, targets, 3, penalty=1e-3)
    predicted = np.argmax(np.hstack([vectors, np.ones((60, 1))]) @ weights, axis=1)
    assert (predicted == targets).mean() == 1.0


@pytest.mark.parametrize(
    "question",
    [
        "my heart attack was years ago, what diet should I follow",
        "what is a pulmonary embolism",
        "I bumped my head and have a small lump but feel fine",
        "how can I prevent heat stroke",
        "my son vomited once after a car ride and is fine now",
        "she bumped her head on the table and cried, now playing normally",
        "I had a nosebleed at lunch but I'm better now",
        # "now" before a statement of feeling well resolves, as "fine now" does (an outside check's row)
        "got a bit dizzy gardening in the sun, sat in the shade and drank some water and now I feel fine",
    ],
)
def test_calm_framing(question: str) -> None:
    assert calm_framing(question)


@pytest.mark.parametrize(
    "question",
    [
        "my dad suddenly can't lift his arm",
        "had a fit and now another one started, what do I do",
        "is it serious that my baby is floppy and has a fever",
        "tearing pain through to my back",
        "he was fine at lunch but now he can't speak properly",
        "got a bit dizzy in the sun and now I feel faint and confused",
        # A date in the past is no alibi when the question also says what is happening now.
        "had a heart attack 5 years ago, my chest feels crushed and my arm is numb",
        "my mum had sepsis last year and she has the same shivering and confusion again",
        # "all at once" is sudden, not "once"; "will it go away" asks and "won't go away" persists.
        "sharp ripping pain between my shoulder blades came on all at once",
        "one of my testicles is swollen and really painful, will it go away on its own",
        "terrible headache that won't go away with painkillers",
    ],
)
def test_urgency_or_plain_descriptions_are_not_calm(question: str) -> None:
    assert not calm_framing(question)


@pytest.mark.parametrize(
    "question",
    [
        "I had a heart attack 3 years ago, what diet should I follow",
        "my son had a febrile seizure as a baby, is he more likely to have epilepsy",
        "could it happen again, she had a fever after her shots last month",
        "the rash went away",
    ],
)
def test_dates_and_resolved_symptoms_stay_calm(question: str) -> None:
    assert calm_framing(question)


@pytest.mark.parametrize(
    "question",
    [
        # someone well at present, beside a weak urgency cue only
        "my toddler had one loose stool today but is drinking and playing normally",
        "my son swallowed some pool water yesterday and hes totally fine today",
        "got shampoo in my eye, rinsed it out, still pink but i can see fine",
        "my 7 yo bumped his head, he is acting totally like himself, I'm worried about a concussion",
        "bit of a headache after being in the sun all day, drank water and its going away",
        # imagined for nobody in particular
        "what should you do if someone has a seizure",
        # care already given is no urgency cue
        "I was in the hospital with DKA when I was diagnosed, how do I avoid it again",
        "my son had a fever at 6 weeks and was tested in hospital, he's fine now, why did they do a spinal tap",
    ],
)
def test_reassured_now_and_imagined_situations_are_calm(question: str) -> None:
    assert calm_framing(question)


@pytest.mark.parametrize(
    "question",
    [
        # hearsay, guesses, the past and "but" do not reassure: the hedges of real emergencies
        "he says he's fine but my diabetic grandpa is sweating buckets and slurring",
        "he's probably fine, it was just a bump, but he's vomited three times and is very sleepy",
        "my mom was talking fine at dinner and now her words are jumbled",
        "I'm fine mostly, but i keep cutting deeper each time and last night it wouldn't stop",
        "Our son was born three weeks ago. Today he's not feeding well and his temperature is 38.",
        # a strong urgency cue outweighs a reassurance
        "she is breathing fine but cannot feel her legs after the fall",
        "my son is acting normally but swallowed a button battery an hour ago",
        "a bit dizzy since his fall, should we go to the hospital",
    ],
)
def test_hedged_or_urgent_reassurance_is_not_calm(question: str) -> None:
    assert not calm_framing(question)


def test_a_confident_reading_outranks_calm_framing_and_an_unsure_one_does_not() -> None:
    probability = np.array([0.95, learned.CONFIDENT, 0.5, 0.5, 0.1])
    calm = np.array([True, True, True, False, False])
    flags = learned.learned_flags(probability, calm, threshold=0.15)
    assert flags.tolist() == [True, True, False, True, False]
    # never below the threshold, whatever the framing
    assert not learned.learned_flags(np.array([0.95]), np.array([False]), threshold=0.96).any()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = get_model()
    assert model is not None
    path = tmp_path / "model.npz"
    model.save(path)
    again = EmergencyModel.load(path)
    assert again.classes == model.classes and again.threshold == model.threshold
    assert again.shape == model.shape
    vector = model.exemplars[:1]
    texts = ["he is not breathing"]
    assert np.allclose(again.probabilities(texts, vector), model.probabilities(texts, vector), atol=1e-3)


def test_a_model_file_from_before_the_letter_features_reads_without_them(tmp_path: Path) -> None:
    with np.load(learned.MODEL_PATH) as data:
        old = {name: data[name] for name in data.files if not name.startswith("char_")}
    path = tmp_path / "old.npz"
    np.savez(path, **old)
    shape = EmergencyModel.load(path).shape
    assert (shape.char_dimensions, shape.char_weight) == (0, 0.0)
    assert shape.word_dimensions == get_model().shape.word_dimensions


def test_word_features_are_hashed_words_and_pairs_of_unit_length() -> None:
    rows = word_features(["Not breathing!", "not  BREATHING", "breathing not", ""], dimensions=64)
    assert rows.shape == (4, 64)
    assert np.array_equal(rows[0], rows[1])  # the same words after normalisation
    assert not np.array_equal(rows[0], rows[2])  # same words, another pair
    assert np.allclose(np.linalg.norm(rows[:3], axis=1), 1.0) and not rows[3].any()
    assert np.count_nonzero(rows[0]) <= 3  # "not", "breathing", "not breathing" (collisions merge)
    assert np.array_equal(word_features(["Not breathing!"], 64), rows[:1])  # no state: the same every call


def test_the_committed_model_reads_words_as_well_as_the_embedding() -> None:
    model = get_model()
    assert model is not None and model.shape.word_dimensions > 0 and model.shape.char_dimensions > 0
    vector = model.exemplars[:1]
    urgent = model.probabilities(["he is not breathing and wont wake up"], vector)
    calm = model.probabilities(["what is a healthy diet"], vector)
    assert not np.allclose(urgent, calm)


def test_assess_explains_with_a_bank_phrasing_of_the_same_category() -> None:
    model = get_model()
    assert model is not None
    vector = model.exemplars[0]
    assessment = model.assess("some text", vector)
    assert assessment.kind in model.classes[1:]
    assert assessment.nearest
    assert abs(sum(assessment.probabilities.values()) - assessment.probability) < 1e-4


def test_missing_model_means_rules_only(tmp_path: Path) -> None:
    assert get_model(tmp_path / "absent.npz") is None


def test_char_features_read_misspelt_words_by_their_pieces() -> None:
    rows = char_features(["not brething", "Not breathing!", "what is a diet", ""], dimensions=512)
    assert rows.shape == (4, 512)
    assert np.allclose(np.linalg.norm(rows[:3], axis=1), 1.0) and not rows[3].any()
    assert rows[0] @ rows[1] > 0.5 > rows[0] @ rows[2]  # a misspelling shares most of its 4-grams
    assert np.array_equal(char_features(["Not breathing!"], 512), rows[1:2])


def test_near_miss_pairs_are_held_out_together_by_category() -> None:
    from medqa.safety.bank import BankItem

    kinds = ("stroke", "seizure", "sepsis", "burn", "eye", "choking", "stroke")
    items = [
        BankItem(f"{kind} {label} {n}", label, kind, "nearmiss", "dev")
        for n, kind in enumerate(kinds)
        for label in ("emergency", "lookalike")
    ]
    folds = learned.validation_folds(items)
    for first in range(0, len(items), 2):
        assert folds[first] == folds[first + 1]  # an emergency and its near miss
    assert folds[0] == folds[-1]  # the same category, the same fold
    assert len(set(folds)) == learned.ROUTINE_FOLDS
    assert all(fold.startswith("nearmiss-") for fold in folds)


def test_routine_questions_are_fitted_and_dealt_into_folds_of_their_own() -> None:
    from medqa.safety.bank import BankItem

    rng = np.random.default_rng(0)
    items: list[BankItem] = []
    rows: list[np.ndarray] = []
    for n in range(24):
        style = ("first", "carer", "history", "routine")[n % 4]
        emergency = style in ("first", "carer")
        label = "emergency" if emergency else "lookalike"
        items.append(BankItem(f"question {n}", label, "stroke" if emergency else "general", style, "dev"))
        rows.append(np.eye(8)[0 if emergency else 1] + rng.normal(scale=0.2, size=8))
    vectors = np.array(rows) / np.linalg.norm(rows, axis=1, keepdims=True)
    folds = learned.validation_folds(items)
    routine = sorted({fold for fold, item in zip(folds, items, strict=True) if item.style == "routine"})
    assert routine == [f"routine-{n}" for n in range(learned.ROUTINE_FOLDS)]
    assert set(folds[[item.style == "first" for item in items]]) == {"first"}
    with_routine, _ = learned.fit(vectors, items, "f")
    kept = [n for n, item in enumerate(items) if item.style != "routine"]
    without, _ = learned.fit(vectors[kept], [items[n] for n in kept], "f")
    assert not np.allclose(with_routine.weights, without.weights, atol=1e-5)


def _toy_model(threshold: float, critical_threshold: float | None) -> EmergencyModel:
    """Classes none / suicide / cardiac read from a 3-dimensional embedding alone (no word features):
    the weights are the identity, so a vector's entries are the classes' logits."""
    return EmergencyModel(
        classes=(learned.NONE, "suicide", "cardiac"),
        weights=np.vstack([np.eye(3), np.zeros((1, 3))]),
        threshold=threshold,
        critical_threshold=critical_threshold,
        penalty=0.0,
        exemplars=np.zeros((0, 3)),
        exemplar_rows=np.zeros(0, dtype=np.int64),
        fingerprint="toy",
        shape=learned.FeatureShape(0, 0.0, 0, 0.0),
    )


def _logits(p_none: float, kind: int) -> np.ndarray:
    """An embedding whose reading is P(none) = ``p_none``, the rest on class ``kind``."""
    probabilities = np.full(3, 1e-6)
    probabilities[0], probabilities[kind] = p_none, 1.0 - p_none
    return np.log(probabilities)


def test_self_harm_and_overdose_are_read_at_the_recall_first_threshold() -> None:
    model = _toy_model(threshold=0.25, critical_threshold=0.15)
    question = "my friend is talking strangely"  # not calmly framed
    assert model.assess(question, _logits(0.8, 1)).flagged  # suicide at P 0.20: over 0.15
    assert not model.assess(question, _logits(0.8, 2)).flagged  # cardiac at P 0.20: under 0.25
    assert model.assess(question, _logits(0.7, 2)).flagged  # cardiac at P 0.30
    assert not model.assess(question, _logits(0.9, 1)).flagged  # suicide at P 0.10
    probabilities = model.probabilities(["a", "b"], np.vstack([_logits(0.8, 1), _logits(0.8, 2)]))
    assert model.thresholds(probabilities).tolist() == [0.15, 0.25]
    assert learned.CRITICAL_KINDS == ("suicide", "overdose_poisoning")
    assert set(learned.CRITICAL_KINDS) <= set(get_model().classes)


def test_the_critical_threshold_never_exceeds_the_threshold() -> None:
    probabilities = np.array([[0.5, 0.4, 0.1]])
    classes = (learned.NONE, "suicide", "cardiac")
    assert learned.question_thresholds(probabilities, classes, 0.1, 0.15).tolist() == [0.1]
    assert learned.question_thresholds(probabilities, classes, 0.3, 0.15).tolist() == [0.15]


def test_the_critical_threshold_survives_a_round_trip_and_an_old_file_reads_one_threshold(
    tmp_path: Path,
) -> None:
    model = _toy_model(threshold=0.25, critical_threshold=0.15)
    model.save(tmp_path / "model.npz")
    assert EmergencyModel.load(tmp_path / "model.npz").critical_threshold == 0.15
    with np.load(tmp_path / "model.npz") as data:
        old = {name: data[name] for name in data.files if name != "critical_threshold"}
    np.savez(tmp_path / "old.npz", **old)
    again = EmergencyModel.load(tmp_path / "old.npz")
    assert again.critical_threshold == again.threshold == 0.25


def test_the_committed_model_reads_self_harm_and_overdose_at_a_lower_threshold() -> None:
    model = get_model()
    assert model is not None
    assert model.critical_threshold <= model.threshold


def test_the_choice_caps_false_alarms_and_reads_the_critical_kinds_at_their_own_threshold() -> None:
    classes = (learned.NONE, "suicide", "cardiac")
    # held-out P(emergency) of four emergencies and four non-emergencies, and the kind each leans to
    p_emergency = np.array([0.9, 0.4, 0.2, 0.2, 0.3, 0.12, 0.05, 0.05])
    kinds = np.array([2, 2, 1, 2, 2, 1, 2, 2])
    held_out = np.zeros((8, 3))
    held_out[:, 0] = 1.0 - p_emergency
    held_out[np.arange(8), kinds] = p_emergency
    emergency = np.array([True] * 4 + [False] * 4)
    rows = (np.zeros(8, bool), np.zeros(8, bool), emergency, np.ones(8, bool))
    # one threshold, at most one false alarm in four: 0.15 keeps every emergency (0.20 ties, later)
    _, critical, recall, false_alarms = learned._choose(held_out, classes, rows, 0.25, None)
    assert (critical, recall, false_alarms) == (0.15, 1.0, 0.25)
    # no false alarm allowed: over 0.30 two emergencies are kept, three with suicide read at 0.15
    assert learned._choose(held_out, classes, rows, 0.0, None)[1:] == (0.35, 0.5, 0.0)
    assert learned._choose(held_out, classes, rows, 0.0, 0.15)[1:] == (0.35, 0.75, 0.0)
