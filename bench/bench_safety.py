"""Emergency recognition: recall per category, false alarms, latency (``bench/results/safety.txt``).

Run ``python bench/bench_safety.py`` (about a minute on 2 cores: the bank is embedded once with the
base model's numpy encoder, as the server does).

* **Recall** per category and overall on the bank's dev and test splits
  (``medqa/resources/emergency_bank.csv``; test = the ``texting`` and ``story`` styles, never used for
  fitting or tuning), for the rules alone, the learned half alone and the combination the app uses
  (:func:`medqa.safety.detect_emergency`); plus how often the notice names the bank's category.
* **False alarms** on the look-alikes (dev and test), on off-topic questions (the bank's own, dev;
  ``medqa/resources/out_of_domain_questions.csv``, never trained on) and on the consumer health
  questions the retrieval benchmarks use (``consumer_questions.csv``, never trained on), read with their
  urgency (``consumer_urgency.csv``): notices on the everyday ones are false alarms, the emergencies
  among them must get one, and the "see a doctor soon" ones are reported apart.
* **Outside checks** (``emergency_outside_checks.csv``, :func:`medqa.safety.bank.load_outside_checks`:
  two authors who saw neither the bank nor the rules, never fitted): recall, false alarms, what was
  missed; and how the bank's test split and the outside checks would read at higher thresholds of the
  learned half (the threshold itself is chosen on dev by :mod:`medqa.safety.learned`).
* **Latency** per question in the server process: with the embedding the engine already computed
  (what :meth:`medqa.retrieval.engine.Engine.search` does) and with the embedding computed here
  (what a caller without one pays), p50 and p95 over the test questions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from medqa.consumer_questions import (
    EVERYDAY,
    SOON,
    load_consumer_questions,
    load_consumer_urgency,
    load_out_of_domain_questions,
)
from medqa.retrieval.encoder import load_query_encoder
from medqa.safety import TENTATIVE_BELOW, EmergencyNotice, detect_emergency
from medqa.safety.bank import BankItem, load_bank, load_outside_checks
from medqa.safety.learned import (
    CRITICAL_KINDS,
    ENCODER,
    EmergencyModel,
    calm_framing,
    get_model,
    learned_flags,
    question_thresholds,
)
from medqa.safety.rules import match_rules

RESULTS = ROOT / "bench" / "results" / "safety.txt"


def _consumer_urgency() -> list[tuple[str, str, str]]:
    """(question, split, urgency) of every consumer question: an emergency kind, ``soon`` or ``none``."""
    urgency = load_consumer_urgency()
    questions = load_consumer_questions()
    return [
        (question, split, urgency.get(qid, EVERYDAY))
        for qid, question, split in zip(
            questions["id"], questions["question"], questions["split"], strict=True
        )
    ]


def _rate(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} ({100 * sum(flags) / max(len(flags), 1):.1f}%)"


def _tentative(notices: list[EmergencyNotice | None]) -> str:
    """How many of the notices raised are tentative ("In case this is an emergency")."""
    raised = [notice for notice in notices if notice is not None]
    return f"{sum(notice.tentative for notice in raised)} of {len(raised)} tentative"


def _percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.2f} ms, p95 {np.percentile(values, 95):.2f} ms"


def _readings(model: EmergencyModel, texts: list[str], vectors: np.ndarray) -> tuple[np.ndarray, ...]:
    """What :func:`detect_emergency` decides from, thresholds aside: class probabilities, calm framing,
    rules."""
    probabilities = model.probabilities(texts, vectors)
    calm = np.array([calm_framing(text) for text in texts])
    rules = np.array([match_rules(text) is not None for text in texts])
    return probabilities, calm, rules


def _outside_lines(
    model: EmergencyModel, encoder: object, items: list[BankItem], vectors: np.ndarray
) -> list[str]:
    """The outside checks' figures, and both test sets read at higher thresholds."""
    outside = load_outside_checks()
    outside_vectors = encoder.encode([item.text for item in outside])  # type: ignore[attr-defined]
    notices = [
        detect_emergency(item.text, embedding=v) for item, v in zip(outside, outside_vectors, strict=True)
    ]
    lines = [
        "== outside checks (emergency_outside_checks.csv: two authors who saw neither bank nor rules) =="
    ]
    for author in sorted({item.style for item in outside}):
        rows = [i for i, item in enumerate(outside) if item.style == author]
        lines.append(
            f"{author}: emergencies {_rate([notices[i] is not None for i in rows if outside[i].is_emergency])} "
            f"({_tentative([notices[i] for i in rows if outside[i].is_emergency])}); "
            "false alarms on look-alikes "
            + _rate([notices[i] is not None for i in rows if outside[i].label == "lookalike"])
            + f" ({_tentative([notices[i] for i in rows if outside[i].label == 'lookalike'])})"
            + f", off-topic {_rate([notices[i] is not None for i in rows if outside[i].label == 'offtopic'])}"
        )
    lines += [
        f"  MISSED [{item.category}] {item.text}"
        for item, notice in zip(outside, notices, strict=True)
        if item.is_emergency and notice is None
    ]
    lines += [
        f"  FALSE ALARM [{notice.kind}] {item.text}"
        for item, notice in zip(outside, notices, strict=True)
        if not item.is_emergency and notice is not None
    ]
    test = [i for i, item in enumerate(items) if item.split == "test"]
    sets = {
        "bank test split": ([items[i] for i in test], vectors[test]),
        "outside checks": (outside, outside_vectors),
    }
    readings = {
        name: (
            _readings(model, [item.text for item in rows], row_vectors),
            np.array([item.is_emergency for item in rows]),
            np.array([item.label == "lookalike" for item in rows]),
        )
        for name, (rows, row_vectors) in sets.items()
    }
    lines.append(
        "the learned half at other thresholds (emergencies recognised; look-alike false alarms), "
        f"{' and '.join(CRITICAL_KINDS)} at {model.critical_threshold:.2f} or the threshold if lower:"
    )
    for threshold in sorted({model.threshold, 0.15, 0.2, 0.25, 0.3}):
        read = []
        for name, ((probabilities, calm, rules), emergency, lookalike) in readings.items():
            at = question_thresholds(probabilities, model.classes, threshold, model.critical_threshold)
            flags = learned_flags(1.0 - probabilities[:, 0], calm, at) | rules  # as detect_emergency decides
            read.append(f"{name} {_rate(list(flags[emergency]))}; {_rate(list(flags[lookalike]))}")
        chosen = " (chosen)" if threshold == model.threshold else ""
        lines.append(f"  {threshold:.2f}{chosen}: " + " | ".join(read))
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    model = get_model()
    if model is None:
        print("no emergency model: run python -m medqa.safety.learned", file=sys.stderr)
        return 1
    encoder = load_query_encoder(ENCODER)
    items = load_bank()
    started = time.perf_counter()
    vectors = encoder.encode([item.text for item in items])
    off_topic = load_out_of_domain_questions()
    consumer_rows = _consumer_urgency()
    consumer = [question for question, _, _ in consumer_rows]
    off_vectors, consumer_vectors = encoder.encode(off_topic), encoder.encode(consumer)
    embed_seconds = time.perf_counter() - started

    notices = [detect_emergency(item.text, embedding=v) for item, v in zip(items, vectors, strict=True)]
    rules = [match_rules(item.text) is not None for item in items]
    learned = [model.assess(item.text, v).flagged for item, v in zip(items, vectors, strict=True)]
    lines = [
        "Emergency recognition (python bench/bench_safety.py)",
        f"bank: {len(items)} rows; model: penalty {model.penalty:g}, threshold {model.threshold:.2f} "
        f"({' and '.join(CRITICAL_KINDS)}: {model.critical_threshold:.2f}), "
        f"{model.shape.word_dimensions} hashed word features (weight {model.shape.word_weight:g}), "
        f"{model.shape.char_dimensions} character 4-gram features (weight {model.shape.char_weight:g}); "
        f"embedding {len(items) + len(off_topic) + len(consumer)} questions took {embed_seconds:.0f} s",
        "",
    ]
    for split in ("dev", "test"):
        rows = [i for i, item in enumerate(items) if item.split == split]
        emergencies = [i for i in rows if items[i].is_emergency]
        lookalikes = [i for i in rows if items[i].label == "lookalike"]
        own_off = [i for i in rows if items[i].label == "offtopic"]
        styles = sorted({items[i].style for i in emergencies})
        lines += [
            f"== {split} split (emergency styles: {', '.join(styles)}) ==",
            f"emergency recall, combined: {_rate([notices[i] is not None for i in emergencies])}",
            f"  rules alone: {_rate([rules[i] for i in emergencies])}; "
            f"learned alone: {_rate([learned[i] for i in emergencies])}",
            "  notice names the bank's category: "
            + _rate([notices[i] is not None and notices[i].kind == items[i].category for i in emergencies]),
            f"  {_tentative([notices[i] for i in emergencies])} (learned half alone, under "
            f"{TENTATIVE_BELOW:g}: 'In case this is an emergency')",
            f"false alarms on look-alikes: {_rate([notices[i] is not None for i in lookalikes])} "
            f"({_tentative([notices[i] for i in lookalikes])})",
            "  by style: "
            + "; ".join(
                f"{style} {_rate([notices[i] is not None for i in lookalikes if items[i].style == style])}"
                for style in sorted({items[i].style for i in lookalikes})
            ),
        ]
        if own_off:
            lines.append(
                f"false alarms on the bank's off-topic questions: {_rate([notices[i] is not None for i in own_off])}"
            )
        by_category: dict[str, list[bool]] = defaultdict(list)
        for i in emergencies:
            by_category[items[i].category].append(notices[i] is not None)
        worst = min(by_category, key=lambda c: sum(by_category[c]) / len(by_category[c]))
        lines.append(
            f"recall per category (lowest: {worst} "
            f"{100 * sum(by_category[worst]) / len(by_category[worst]):.0f}%):"
        )
        lines += [f"  {category:22s} {_rate(flags)}" for category, flags in sorted(by_category.items())]
        missed = [items[i] for i in emergencies if notices[i] is None]
        lines.append(f"missed ({len(missed)}):")
        lines += [f"  [{item.category}] {item.text}" for item in missed]
        alarms: list[BankItem] = [items[i] for i in lookalikes if notices[i] is not None]
        lines.append(f"look-alike false alarms ({len(alarms)}):")
        lines += [f"  [{item.category}] {item.text}" for item in alarms]
        lines.append("")

    off_flags = [
        detect_emergency(q, embedding=v) is not None for q, v in zip(off_topic, off_vectors, strict=True)
    ]
    consumer_notices = [
        detect_emergency(q, embedding=v) for q, v in zip(consumer, consumer_vectors, strict=True)
    ]
    groups = {
        "everyday (a notice is a false alarm)": lambda urgency: urgency == EVERYDAY,
        "see a doctor soon (a notice is defensible)": lambda urgency: urgency == SOON,
        "emergencies (a notice is needed)": lambda urgency: urgency not in (EVERYDAY, SOON),
    }
    lines += [
        "== outside the bank ==",
        f"false alarms on out_of_domain_questions.csv (off-topic, never trained on): {_rate(off_flags)}",
        "notices on consumer_questions.csv (health questions written for retrieval, never trained on; "
        "urgency from consumer_urgency.csv):",
    ]
    for group, member in groups.items():
        for split in ("dev", "test"):
            chosen = [
                notice
                for notice, (_, in_split, urgency) in zip(consumer_notices, consumer_rows, strict=True)
                if in_split == split and member(urgency)
            ]
            lines.append(
                f"  {group}, {split} half: {_rate([notice is not None for notice in chosen])} ({_tentative(chosen)})"
            )
    lines.append("notices on everyday consumer questions:")
    lines += [
        f"  [{notice.kind}{', tentative' if notice.tentative else ''}] {question}"
        for notice, (question, _, urgency) in zip(consumer_notices, consumer_rows, strict=True)
        if notice is not None and urgency == EVERYDAY
    ]
    lines += [
        f"  MISSED [{urgency}] {question}"
        for notice, (question, _, urgency) in zip(consumer_notices, consumer_rows, strict=True)
        if notice is None and urgency not in (EVERYDAY, SOON)
    ]
    lines.append("")

    lines += _outside_lines(model, encoder, items, vectors)

    test_rows = [i for i, item in enumerate(items) if item.split == "test"]
    with_vector, with_encoding = [], []
    for i in test_rows:
        started = time.perf_counter()
        detect_emergency(items[i].text, embedding=vectors[i])
        with_vector.append((time.perf_counter() - started) * 1000)
    for i in test_rows[:100]:
        started = time.perf_counter()
        detect_emergency(items[i].text, encoder=encoder)
        with_encoding.append((time.perf_counter() - started) * 1000)
    lines += [
        "== latency per question in the server process (torch-free) ==",
        f"with the engine's embedding (Engine.search): {_percentiles(with_vector)} ({len(with_vector)} questions)",
        f"embedding computed here (CLI, other callers): {_percentiles(with_encoding)} ({len(with_encoding)} questions)",
        f"torch imported: {'torch' in sys.modules}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
