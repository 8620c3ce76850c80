"""The labelled bank of emergency phrasings and look-alikes the learned recogniser is fitted on.

``medqa/resources/emergency_bank.csv`` is our own text (no MedQuAD content), written from these
authoritative red-flag lists and rephrased the way people describe what they see:

* American Heart Association / American Stroke Association: stroke warning signs, **BE FAST**
  (stroke.org), and heart-attack warning signs, including the symptoms women report more often
  (heart.org);
* American College of Emergency Physicians (ACEP), "Warning signs of a medical emergency"
  (emergencyphysicians.org);
* NHS, "When to call 999" and the condition pages for sepsis, meningitis (the glass test), head
  injury, testicular torsion, ectopic pregnancy and heat stroke (nhs.uk);
* CDC **Hear Her**, urgent maternal warning signs during and after pregnancy (cdc.gov/hearher);
* 988 Suicide & Crisis Lifeline (988lifeline.org) and America's Poison Centers / Poison Control
  1-800-222-1222 (poison.org);
* American Academy of Pediatrics (healthychildren.org): fever in babies under 3 months, dehydration
  signs, choking and drowning first aid.

Columns:

* ``text``: the question as typed (lower case, misspellings and slang kept on purpose);
* ``label``: ``emergency`` (a person at risk now), ``lookalike`` (history, "what is", prevention,
  recovery, mild or resolved symptoms, everyday complaints) or ``offtopic``;
* ``category``: the emergency kind (:mod:`medqa.safety.categories`) an emergency describes or a
  look-alike resembles (``general`` for everyday complaints, empty for off-topic);
* ``style``: how it is written. Emergencies: ``first`` (first person), ``carer`` (about someone
  else), ``indirect`` (what is seen, without the textbook words), ``hedged`` (with a distractor such as
  "probably nothing but" or "my labs were normal but"), ``asking`` (as a question: "should I wait",
  "is it normal"), ``texting`` (lower case, abbreviations, misspellings) and ``story`` (a few
  sentences of context first). Look-alikes: ``history``, ``whatis``, ``prevent``, ``mild``,
  ``recovery``, ``everyday``, ``routine`` (everyday questions people bring to a health Q&A site:
  chronic complaints, test results, "should I see a doctor about...", some as 2-4 sentence messages;
  fitted as look-alikes and, when the learned half's threshold is chosen, dealt into folds of their
  own: :mod:`medqa.safety.learned`), ``texting`` and ``story``;
  off-topic: ``own`` (140, and 199 more in 20 everyday domains written by a helper on 2026-11-30).
  Test only: ``symptom``, present-tense everyday complaints that share a body
  area or words with a category without any of its red flags (sunburn peeling, a tickly throat, an
  ingrown toenail; no calm or history words), three per category, written on 2026-11-30 by an author
  who saw neither the bank nor the consumer questions. Both: ``nearmiss``, minimal contrast pairs (an
  emergency and the same worried, present-tense situation with one detail that makes it safe by the same red-flag lists: a 6-month-old
  rather than a 6-week-old with 38.4, hives without swelling or breathing trouble; no calm words such as
  "a bit" or "went away"), three per category in dev and two in test;
* ``split``: ``dev`` or ``test``, fixed by style: the ``texting``, ``story`` and ``symptom`` styles are
  test only, so the test split measures phrasing styles the recogniser never saw. Every category is in
  both splits (5 texting + 5 story emergencies per category in test, 17 per category in dev). The
  ``routine`` rows and the ``story`` look-alikes (and 60 of the ``texting`` ones) were added on
  2026-11-29, written apart from the rest, with topics kept apart between dev and test. The
  ``nearmiss`` pairs (2026-11-30) are in both splits: the dev and the test pairs were written
  separately by two authors who did not see each other's rows.

Fitting and tuning use the dev rows only (:mod:`medqa.safety.learned`); ``bench/bench_safety.py``
reports the test rows, plus ``medqa/resources/out_of_domain_questions.csv`` (off-topic, never
trained on).

**Outside checks** (``medqa/resources/emergency_outside_checks.csv``, :func:`load_outside_checks`; the
bank's columns, split ``outside``, style ``author-a`` or ``author-b``): 210 emergencies (4 and 3 per
category of 30), 149 medical look-alikes (one that was also a bank row dropped) and 49 off-topic
questions, written on 2026-12-01 by two authors who saw neither the bank, the rules nor each other's
rows, from the issue's description of the outside sets (indirect descriptions, distractors,
caregivers, intent statements). They are never fitted; ``bench/bench_safety.py`` reports them. Read
first with the model and rules as they were, they missed 1 emergency and raised 4 false alarms; three
general fixes followed (a belly's state and "have been vomiting" place a dated question in the
present, :mod:`medqa.safety.rules` point 8; a baby not born yet is no infant with a fever; "now I feel
fine" is resolved, :mod:`medqa.safety.learned`), so those three rows are no longer unseen; so are the
two whose notice named suicide for a sepsis and a seizure (the rules' "going to die" after "feel like"
and "and won't wake up" without sleep).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

BANK_PATH = Path(__file__).resolve().parent.parent / "resources" / "emergency_bank.csv"
OUTSIDE_PATH = BANK_PATH.with_name("emergency_outside_checks.csv")
LABELS = ("emergency", "lookalike", "offtopic")
SPLITS = ("dev", "test")
OUTSIDE = "outside"


@dataclass(frozen=True)
class BankItem:
    """One labelled phrasing (see the module docstring for the columns)."""

    text: str
    label: str
    category: str
    style: str
    split: str

    @property
    def is_emergency(self) -> bool:
        return self.label == "emergency"


def load_bank(path: Path = BANK_PATH, splits: tuple[str, ...] = SPLITS) -> list[BankItem]:
    """The bank's rows, in file order.

    Args:
        path: the file.
        splits: the splits its rows may have.

    Raises:
        ValueError: a row has an unknown label or split, or an emergency has no category.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        items = [
            BankItem(
                text=row["text"].strip(),
                label=row["label"],
                category=row["category"] or "",
                style=row["style"],
                split=row["split"],
            )
            for row in csv.DictReader(handle)
        ]
    for number, item in enumerate(items, start=2):
        if item.label not in LABELS or item.split not in splits or not item.text:
            raise ValueError(f"{path.name} line {number}: bad label, split or empty text")
        if item.is_emergency and not item.category:
            raise ValueError(f"{path.name} line {number}: an emergency needs a category")
    return items


def load_outside_checks(path: Path = OUTSIDE_PATH) -> list[BankItem]:
    """The outside checks' rows (see the module docstring), in file order; validated as the bank is."""
    return load_bank(path, splits=(OUTSIDE,))


def bank_fingerprint(path: Path = BANK_PATH) -> str:
    """SHA-256 of the bank file: the fitted model records it, so a stale model is detected."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
