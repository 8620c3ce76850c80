"""Emergency recognition and the medical disclaimer shown with every answer.

:func:`detect_emergency` tells whether a question describes an emergency happening now or a person at
risk, names the category (:mod:`medqa.safety.categories`, 32 of them) and says what to do.

Policy
------
* **Rules first** (:mod:`medqa.safety.rules`): precise, auditable patterns ("can't breathe", "face is
  drooping", "took a whole bottle of pills"). Their policy holds: condition names and educational
  questions do not flag on their own; suicide and self-harm lean towards flagging.
* **Then the learned recogniser** (:mod:`medqa.safety.learned`): logistic regression over the MiniLM
  embedding of the question, fitted on a labelled bank of emergency phrasings and look-alikes
  (:mod:`medqa.safety.bank`), catches emergencies described without the textbook words ("vomit like
  coffee grounds", "headaches in the whole house that ease outdoors"). It flags when its probability
  of an emergency reaches the threshold chosen on the bank's dev split (at most 5% false alarms there;
  a lower, recall-first one when the most probable emergency is suicide/self-harm or
  overdose/poisoning), unless the question is framed calmly (history, "what is", prevention, mild and
  resolved) with no urgency cue.
* **A question flags when either half flags** (recall first: a false alarm costs a sentence, a miss
  can cost a life). The rules' kind wins, except that the learned half may name a more specific
  category of the same family when it is sure of it (``breathing`` → ``choking``; ``bleeding`` →
  ``gi_bleeding``...).
* **Crisis and poisoning lines are never lost**: suicide and overdose found by the rules win over
  everything; when another category is shown but the learned half gives suicide or poisoning a
  probability of at least :data:`SIDE_LINE_PROBABILITY`, the 988 or Poison Control line is added.
* **Sure or tentative, never silent**: a notice raised by the learned half alone at a probability
  under :data:`TENTATIVE_BELOW` is *tentative*: it keeps its message (the emergency number first) and
  is still shown first, under the heading "In case this is an emergency" instead of "Emergency",
  each followed by the category's name (:attr:`EmergencyNotice.title`). Recall is untouched; what
  changes is how a likely false alarm reads. Measured on 2026-12-01 (thirteenth session, ``bench/bench_safety.py``): the learned half's
  own notices split sharply. On the everyday consumer questions of the dev half (never fitted) 15 of
  its 25 notices there read under 0.5 and none of the half's emergencies does (median 0.35 against
  0.71); the bank's dev emergencies it flags read 0.98 at the median. Reported once on the test
  split: 30 of the 35 look-alike notices it alone raised read under 0.5 (median 0.24), against 18 of
  the 243 emergencies it alone recognised (median 0.90); on the outside checks 9 of 118. A dyslexia
  question told "Emergency. Serious trouble breathing..." was the case that showed it.
* **Speed**: the engine passes the embedding it computed for retrieval, so the check costs well under
  a millisecond; a caller without one (the CLI, other pages) has it computed by the torch-free numpy
  encoder (``bench/bench_safety.py`` measures both).

Measured on the bank's test split (phrasing styles never used for fitting) and the off-topic set by
``bench/bench_safety.py`` (``bench/results/safety.txt``, figures in the README's "Emergency
recognition" section).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from medqa.safety.categories import (
    BY_KIND,
    CATEGORIES,
    EMERGENCY_KINDS,
    LIFELINE_988,
    POISON_CONTROL,
    Category,
)
from medqa.safety.rules import MAX_CHARS, match_rules, normalize_question

__all__ = [
    "CATEGORIES",
    "DISCLAIMER",
    "EMERGENCY_KINDS",
    "HEADING",
    "MAX_CHARS",
    "TENTATIVE_BELOW",
    "TENTATIVE_HEADING",
    "Category",
    "EmergencyNotice",
    "detect_emergency",
    "normalize_question",
]

logger = logging.getLogger(__name__)

DISCLAIMER: str = (
    "This is general educational information from NIH sources, not medical advice or a diagnosis. "
    "Talk to a doctor or other health professional about your own situation. "
    "In an emergency, call 911 (or your local emergency number)."
)

#: A learned probability of suicide or poisoning at least this high adds the 988 or Poison Control
#: line to another category's notice.
SIDE_LINE_PROBABILITY = 0.2

#: A notice raised by the learned half alone below this probability is tentative (package docstring).
TENTATIVE_BELOW = 0.5

#: The headings of a notice, sure and tentative (:attr:`EmergencyNotice.heading`).
HEADING = "Emergency"
TENTATIVE_HEADING = "In case this is an emergency"

#: The learned category probability needed to replace the rules' kind by a more specific one.
REFINE_PROBABILITY = 0.5

#: More specific categories the learned half may name when the rules found the general one.
REFINEMENTS: dict[str, frozenset[str]] = {
    "breathing": frozenset({"choking", "drowning", "pulmonary_embolism", "anaphylaxis", "carbon_monoxide"}),
    "bleeding": frozenset({"gi_bleeding", "pregnancy", "ectopic_pregnancy", "major_trauma", "head_injury"}),
    "unconscious": frozenset(
        {"seizure", "diabetic", "head_injury", "heat_stroke", "hypothermia", "drowning", "carbon_monoxide"}
    ),
    "stroke": frozenset({"thunderclap_headache", "confusion", "eye"}),
    "burn": frozenset({"eye"}),
}


@dataclass(frozen=True)
class EmergencyNotice:
    """An emergency the question seems to describe, and what to do about it.

    Attributes:
        kind: Category (:data:`EMERGENCY_KINDS`), e.g. ``stroke``, ``suicide``, ``gi_bleeding``.
        message: What to do (emergency numbers first), fit to show as is.
        matched: Why: the rule's normalised phrase(s), or the closest phrasing of the bank.
        label: The category's name for people ("Stroke").
        source: ``rules`` or ``learned``.
        probability: The learned probability of an emergency, when the learned half was consulted.
    """

    kind: str
    message: str
    matched: str
    label: str = ""
    source: str = "rules"
    probability: float | None = None

    @property
    def category(self) -> Category:
        return BY_KIND[self.kind]

    @property
    def tentative(self) -> bool:
        """Raised by the learned half alone below :data:`TENTATIVE_BELOW`: shown all the same, under
        :data:`TENTATIVE_HEADING`."""
        return (
            self.source == "learned" and self.probability is not None and self.probability < TENTATIVE_BELOW
        )

    @property
    def heading(self) -> str:
        """What the notice is called where it is shown: "Emergency", or the tentative heading."""
        return TENTATIVE_HEADING if self.tentative else HEADING

    @property
    def title(self) -> str:
        """The heading with the category's name, as the notice is shown: "Emergency (Stroke)"."""
        return f"{self.heading} ({self.label})" if self.label else self.heading


def _embed(question: str, encoder: object | None) -> np.ndarray | None:
    try:
        if encoder is None:
            from medqa.retrieval.encoder import load_query_encoder
            from medqa.safety.learned import ENCODER

            encoder = load_query_encoder(ENCODER)
        return encoder.encode([question[:MAX_CHARS]])[0]  # type: ignore[attr-defined]
    except Exception as error:  # the rules still run; never lose the notice to a model problem
        logger.warning("emergency check without the learned half: %s", error)
        return None


def _with_side_lines(message: str, kind: str, probabilities: dict[str, float]) -> str:
    if kind != "suicide" and probabilities.get("suicide", 0.0) >= SIDE_LINE_PROBABILITY:
        message += f" If this involves thoughts of suicide or self-harm, {LIFELINE_988}."
    if kind != "overdose_poisoning" and probabilities.get("overdose_poisoning", 0.0) >= SIDE_LINE_PROBABILITY:
        message += f" If anything may have been swallowed or taken: {POISON_CONTROL}"
    return message


def detect_emergency(
    question: str,
    *,
    embedding: np.ndarray | None = None,
    encoder: object | None = None,
    learned: bool = True,
) -> EmergencyNotice | None:
    """Tell whether a question describes an emergency happening now or a person at risk.

    See the package docstring for the policy.

    Args:
        question: The user's question, any case and spelling.
        embedding: Its normalised all-MiniLM-L6-v2 (base model) embedding, when already computed.
            Do not pass a fine-tuned model's embedding: the learned half was fitted on the base model's.
        encoder: The query encoder to embed with when no embedding is given (default: the base
            model's numpy encoder, loaded once per process).
        learned: Consult the learned half (``False``: rules only, no model needed).

    Returns:
        An :class:`EmergencyNotice`, or ``None`` when no emergency is described (including blank
        input).
    """
    if not question or not question.strip():
        return None
    rule = match_rules(question)
    if rule is not None and rule[0] in ("suicide", "overdose_poisoning"):
        category = BY_KIND[rule[0]]
        return EmergencyNotice(
            kind=category.kind, message=category.message, matched=rule[1], label=category.label
        )
    assessment = None
    if learned:
        from medqa.safety.learned import get_model

        model = get_model()
        vector = embedding if embedding is not None or model is None else _embed(question, encoder)
        if model is not None and vector is not None:
            assessment = model.assess(question, vector)
    if rule is not None:
        kind, matched, source = rule[0], rule[1], "rules"
        if (
            assessment is not None
            and assessment.kind_probability >= REFINE_PROBABILITY
            and assessment.kind in REFINEMENTS.get(kind, ())
        ):
            kind = assessment.kind
    elif assessment is not None and assessment.flagged:
        kind, source = assessment.kind, "learned"
        matched = f'reads like "{assessment.nearest}" (probability {assessment.probability:.2f})'
    else:
        return None
    category = BY_KIND[kind]
    message = category.message
    if assessment is not None:
        message = _with_side_lines(message, kind, assessment.probabilities)
    return EmergencyNotice(
        kind=kind,
        message=message,
        matched=matched,
        label=category.label,
        source=source,
        probability=assessment.probability if assessment is not None else None,
    )
