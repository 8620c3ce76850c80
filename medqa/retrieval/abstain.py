"""When to say "I don't have a reliable answer": a similarity threshold calibrated, never typed.

Confidence of a search is the cosine similarity between the question and the closest pair of the
corpus (dense embeddings, whatever the ranking mode): it is bounded and comparable across questions,
unlike BM25 or fused scores. The threshold separating answerable from unanswerable questions is computed
by :func:`calibrate` for one model and one corpus from three sets:

* **held-out MedQuAD questions** the corpus covers: the corpus's own ``test`` split when it has one,
  else the curated test split's pairs found in the corpus, else a seeded sample of 200 pairs. Each is
  scored with its own pair (and exact duplicates of its question) hidden, so it is a new question about
  a covered topic rather than a copy of a stored one;
* **consumer questions, dev half**: the hand-written plain-language questions of
  :func:`medqa.consumer_questions.load_consumer_questions` in its ``dev`` half whose topic the corpus
  names (the ``test`` half is only checked against, never fitted to). They are needed: MedQuAD's
  templated questions ("What are the symptoms of X ?") sit far closer to the stored pairs than what
  people type (measured on the full corpus with the base model: median cosine
  0.82 against 0.64), so a threshold fitted to them alone abstained on about half of the consumer
  questions;
* **out-of-domain questions, calibration half**: the hand-written non-medical questions (cooking,
  sports, programming ...) of :func:`medqa.consumer_questions.load_out_of_domain_questions`.

:func:`choose_threshold` picks the cut maximising balanced accuracy: the mean of the in-domain answer
rate (each in-domain set weighing the same) and the out-of-domain abstain rate; among equally good cuts
it takes the midpoint of the widest gap, so the threshold does not hug either set. The consumer test
half and the other half of the out-of-domain questions (by :func:`calibration_half`) are never used to
fit it: the calibration reports how it does on them (``check_answered``, ``check_abstained``), and ``bench/bench_quality.py`` prints them. Everything
is deterministic (hash-based halves, seeded sample), so the same model and corpus always give the same
threshold. The result is stored as JSON under ``data/calibration`` keyed by model, corpus and index
settings, and recomputed when missing, unreadable or outdated.

Measured with the Ask default (answer passages + ``"focus: question"``, base model, full corpus): the
threshold is cosine 0.418; it answers 98.2% of the 166 consumer dev questions and 98.8% of the 170
test-half questions it was not fitted on, and refuses 90% of the 39 out-of-domain questions it was not
fitted on (92.9% of all 70), against the targets of 95% answered and 90% refused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from medqa import atomic, settings
from medqa.data import schema as col
from medqa.errors import DataNotFoundError, EvaluationError

if TYPE_CHECKING:
    from medqa.retrieval.engine import Engine

#: Bump when the calibration procedure changes so stored thresholds are recomputed.
CALIBRATION_VERSION = 4
HELD_OUT_SAMPLE = 200
SEED = 13


@dataclass(frozen=True)
class Calibration:
    """A computed abstention threshold and how well it separated the calibration sets."""

    threshold: float
    in_domain: int
    out_of_domain: int
    in_domain_answered: float
    out_of_domain_abstained: float
    held_out_source: str
    key: str
    created: str
    check_questions: int = 0
    check_answered: float = float("nan")
    check_out_of_domain: int = 0
    check_abstained: float = float("nan")
    version: int = CALIBRATION_VERSION

    def summary(self) -> str:
        """One line for logs, the CLI and the bench scripts."""
        return (
            f"abstain below cosine {self.threshold:.3f} (fitted on {self.in_domain} in-domain questions "
            f"[held-out pairs from {self.held_out_source} + half of the consumer questions]: "
            f"{self.in_domain_answered:.0%} answered, {self.out_of_domain} out-of-domain: "
            f"{self.out_of_domain_abstained:.0%} abstained; unseen halves: {self.check_answered:.0%} of "
            f"{self.check_questions} consumer questions answered, {self.check_abstained:.0%} of "
            f"{self.check_out_of_domain} out-of-domain abstained)"
        )


def choose_threshold(
    in_domain: np.ndarray, out_of_domain: np.ndarray, *, in_domain_weights: np.ndarray | None = None
) -> float:
    """The cut on top similarity that best separates in-domain from out-of-domain questions.

    A question is answered when its score is >= the threshold. Maximises balanced accuracy; ties are
    broken by the widest gap between neighbouring scores, and the midpoint of that gap is returned.

    Args:
        in_domain: top similarities of questions that should be answered.
        out_of_domain: top similarities of questions that should not.
        in_domain_weights: one weight per in-domain question (default equal), so that several
            in-domain sets of different sizes can count the same.

    Raises:
        EvaluationError: either set is empty.
    """
    inside = np.asarray(in_domain, dtype=np.float64)
    outside = np.sort(np.asarray(out_of_domain, dtype=np.float64))
    if len(inside) == 0 or len(outside) == 0:
        raise EvaluationError("Calibration needs both in-domain and out-of-domain questions.")
    weights = np.ones(len(inside)) if in_domain_weights is None else np.asarray(in_domain_weights, float)
    order = np.argsort(inside, kind="stable")
    inside, weights = inside[order], weights[order] / weights.sum()
    values = np.unique(np.concatenate([inside, outside]))
    # Candidate cuts: below everything, between neighbours, above everything.
    lows = np.concatenate([[values[0] - 1e-3], values])
    highs = np.concatenate([values, [values[-1] + 1e-3]])
    cuts = (lows + highs) / 2
    gaps = highs - lows
    below = np.concatenate([[0.0], np.cumsum(weights)])  # weight of in-domain scores under each cut
    answered = 1.0 - below[np.searchsorted(inside, cuts, side="left")]
    abstained = np.searchsorted(outside, cuts, side="left") / len(outside)
    balanced = (answered + abstained) / 2
    best = np.flatnonzero(np.isclose(balanced, balanced.max(), rtol=0, atol=1e-9))
    chosen = best[np.argmax(gaps[best])]
    return float(cuts[chosen])


def calibration_half(question: str) -> bool:
    """Whether a hand-written question is in the calibration half (else it is kept for checking).

    Decided by the parity of the SHA-256 of the case-folded text: stable across runs and machines,
    and unaffected by adding or reordering questions.
    """
    digest = hashlib.sha256(" ".join(question.casefold().split()).encode()).digest()
    return digest[-1] % 2 == 0


def calibration_dir() -> Path:
    """Folder of the stored calibrations."""
    path = settings.data_dir() / "calibration"
    path.mkdir(parents=True, exist_ok=True)
    return path


def held_out_questions(corpus: pd.DataFrame) -> tuple[list[str], list[np.ndarray], str]:
    """In-domain questions the corpus covers, each with the rows to hide when scoring it.

    Returns:
        The questions, for each one the corpus rows to hide, and a description of where they came from.
    """
    rows: np.ndarray
    source: str
    if col.SPLIT in corpus and (corpus[col.SPLIT] == col.TEST).any():
        rows = np.flatnonzero((corpus[col.SPLIT] == col.TEST).to_numpy())
        source = "this corpus's test split"
    else:
        rows = np.zeros(0, dtype=np.int64)
        source = ""
        try:
            from medqa.data.store import CURATED, load_corpus

            curated = load_corpus(CURATED)
            test_ids = set(curated.loc[curated[col.SPLIT] == col.TEST, col.ID])
            rows = np.flatnonzero(corpus[col.ID].isin(test_ids).to_numpy())
            source = "the curated test split"
        except (DataNotFoundError, KeyError):
            pass
        if len(rows) < 20:
            generator = np.random.default_rng(SEED)
            rows = np.sort(
                generator.choice(len(corpus), size=min(HELD_OUT_SAMPLE, len(corpus)), replace=False)
            )
            source = f"a seeded sample of {len(rows)} pairs"
    questions = corpus[col.QUESTION].astype(str)
    normalised = questions.str.casefold().str.strip()
    positions: dict[str, list[int]] = {}
    for position, text in enumerate(normalised):
        positions.setdefault(text, []).append(position)
    hidden = [
        np.asarray(sorted({int(row), *positions[normalised.iloc[row]]}), dtype=np.int64) for row in rows
    ]
    return questions.iloc[rows].tolist(), hidden, source


def _out_of_domain() -> list[str]:
    from medqa.consumer_questions import load_out_of_domain_questions

    return list(load_out_of_domain_questions())


#: Fewer covered consumer questions than this and the consumer set is left out of calibration.
MIN_CONSUMER = 10


def _consumer(corpus: pd.DataFrame, split: str) -> list[str]:
    """The consumer questions of one half whose topic the corpus names (the others are unanswerable here).

    A topic counts as covered when an expected or accepted name equals a focus of the corpus after
    :func:`medqa.evaluation.relevance.normalise_name` (case, apostrophes, plurals, word order).
    """
    from medqa.consumer_questions import load_consumer_questions
    from medqa.evaluation.relevance import normalise_name

    foci = {normalise_name(focus) for focus in corpus[col.FOCUS].astype(str).unique()}
    questions = load_consumer_questions(split)
    accepted = questions["accept"] if "accept" in questions else [[]] * len(questions)
    covered = [
        question
        for question, expected, accept in zip(
            questions["question"], questions["expected_focus"], accepted, strict=True
        )
        if any(normalise_name(focus) in foci for focus in [*expected, *accept])
    ]
    return covered if len(covered) >= MIN_CONSUMER else []


def _halves(questions: list[str]) -> tuple[list[str], list[str]]:
    fit = [question for question in questions if calibration_half(question)]
    check = [question for question in questions if not calibration_half(question)]
    return fit, check


@functools.lru_cache(maxsize=1)
def _questions_fingerprint() -> str:
    """SHA-256 of the hand-written questions a calibration reads (consumer halves, out-of-domain), so a
    stored calibration is redone when they change (the consumer set grew by 60 long messages on
    2026-11-30 while calibrations stored before went on being read). Computed once per process (about
    6 ms): the files ship with the package and a quick engine looks its calibration up on every search."""
    from medqa.consumer_questions import load_consumer_questions

    consumer = load_consumer_questions()
    text = json.dumps(
        [list(zip(consumer["id"], consumer["question"], consumer["split"], strict=True)), _out_of_domain()]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def calibration_key(engine: Engine) -> str:
    """Identifies what a calibration depends on: model, corpus, index settings, questions and procedure."""
    payload = json.dumps(
        {
            "index": engine.dense.key,
            "questions": _questions_fingerprint(),
            "spelling": engine.settings.correct_spelling,
            "version": CALIBRATION_VERSION,
            "seed": SEED,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def calibrate(engine: Engine, *, save: bool = True) -> Calibration:
    """Compute the abstention threshold for an engine's model and corpus (and store it)."""
    questions, hidden, source = held_out_questions(engine.corpus)
    consumer_fit, consumer_check = _consumer(engine.corpus, "dev"), _consumer(engine.corpus, "test")
    outside_fit, outside_check = _halves(_out_of_domain())
    held_out = engine.top_similarities(questions, hidden=hidden)
    held_out = held_out[np.isfinite(held_out)]  # a one-pair corpus has nothing left once its pair is hidden
    consumer = engine.top_similarities(consumer_fit) if consumer_fit else np.zeros(0)
    inside = np.concatenate([held_out, consumer])
    # Each in-domain set weighs the same, whatever its size.
    weights = np.concatenate(
        [np.full(len(held_out), 1 / max(len(held_out), 1)), np.full(len(consumer), 1 / max(len(consumer), 1))]
    )
    outside = engine.top_similarities(outside_fit)
    threshold = choose_threshold(inside, outside, in_domain_weights=weights)
    check_inside = engine.top_similarities(consumer_check) if consumer_check else np.zeros(0)
    check_outside = engine.top_similarities(outside_check)
    calibration = Calibration(
        threshold=round(threshold, 6),
        in_domain=len(inside),
        out_of_domain=len(outside),
        in_domain_answered=float(np.mean(inside >= threshold)),
        out_of_domain_abstained=float(np.mean(outside < threshold)),
        held_out_source=source,
        key=calibration_key(engine),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        check_questions=len(check_inside),
        check_answered=float(np.mean(check_inside >= threshold)) if len(check_inside) else float("nan"),
        check_out_of_domain=len(check_outside),
        check_abstained=float(np.mean(check_outside < threshold)),
    )
    if save:
        target = calibration_dir() / f"{calibration.key}.json"
        with contextlib.suppress(OSError):  # read-only data folder: the threshold still applies here
            atomic.write_text(target, json.dumps(asdict(calibration), indent=2))
    return calibration


def load_calibration(engine: Engine) -> Calibration | None:
    """The stored calibration for an engine, or ``None`` when missing, unreadable or outdated."""
    path = calibration_dir() / f"{calibration_key(engine)}.json"
    try:
        calibration = Calibration(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if calibration.version != CALIBRATION_VERSION or not np.isfinite(calibration.threshold):
        return None
    return calibration


def uncalibrated(engine: Engine) -> Calibration:
    """No threshold (cosine -1: everything found is answered), for an engine that cannot be calibrated
    yet (a quick engine, :mod:`medqa.retrieval.quick`); its rates are NaN, so it is recognisable."""
    nan = float("nan")
    return Calibration(
        threshold=-1.0, in_domain=0, out_of_domain=0, in_domain_answered=nan, out_of_domain_abstained=nan,
        held_out_source="none (not calibrated)", key=calibration_key(engine), created="",
    )  # fmt: skip


def load_or_calibrate(engine: Engine) -> Calibration:
    """The stored calibration, computed (and stored) first when there is none."""
    return load_calibration(engine) or calibrate(engine)
