"""Answer quality on plain-language questions: hit@1 / hit@3 of the expected focus, per ranking mode.

The consumer question set (``medqa/resources/consumer_questions.csv``, written for medqa in plain words
with typos, each mapped to the MedQuAD focus areas that answer it) is asked over the **full** corpus
(16.4k answered pairs) with the base model (all-MiniLM-L6-v2), through :meth:`Engine.search` exactly as
the app asks it (answer parts merged, repeated answers dropped). A question scores a hit at k when one of
its first k answers has an expected focus. The default mode (:data:`medqa.retrieval.engine.DEFAULT_MODE`)
is the one with the best mean of hit@1 and hit@3 here (the Ask page shows three answers).

Also reported: how the calibrated abstention threshold behaves on the halves of the consumer and
out-of-domain questions that were not used to fit it (:mod:`medqa.retrieval.abstain`), and the misses of
the default mode.

Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_quality.py`` (the full corpus must be
built: ``python -m medqa data build``; its embeddings are cached after the first run).
Writes ``bench/results/quality.txt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from medqa.consumer_questions import load_out_of_domain_questions
from medqa.evaluation import sets
from medqa.evaluation.metrics import REPORT_METRICS, display_name, first_relevant_rank, rank_metrics
from medqa.retrieval.abstain import calibration_half
from medqa.retrieval.engine import DEFAULT_MODE, MODES, Engine

RESULTS = Path(__file__).resolve().parent / "results" / "quality.txt"
K = 10


def main() -> None:
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    engine = Engine.from_dataset("full", "base", progress=lambda done, total: None)
    consumer = sets.consumer("full")  # judged by concept (medqa.evaluation.relevance)
    questions = list(consumer.queries)
    expected = list(consumer.relevant)
    say(
        f"consumer questions: {len(questions)} over the full corpus ({len(engine):,} answered pairs), base model"
    )
    say(f"{'mode':<8} " + " ".join(f"{display_name(metric):>11}" for metric in REPORT_METRICS))
    scores: dict[str, dict[str, float]] = {}
    misses: dict[str, list[tuple[str, str, str]]] = {}
    focus_of = dict(zip(consumer.queries, consumer.focus, strict=True))
    for mode in MODES:
        ranks = []
        misses[mode] = []
        for question, wanted in zip(questions, expected, strict=True):
            result = engine.search(question, K, mode=mode)
            rank = first_relevant_rank([hit.part_ids or (hit.id,) for hit in result.hits], wanted)
            ranks.append(rank)
            if rank != 1:
                top = result.hits[0].focus if result.hits else "(nothing)"
                misses[mode].append((question, focus_of[question], top))
        metrics = rank_metrics(ranks).mean().to_dict()
        scores[mode] = metrics
        say(f"{mode:<8} " + " ".join(f"{metrics[metric]:11.3f}" for metric in REPORT_METRICS))
    best = max(MODES, key=lambda mode: scores[mode]["accuracy@1"] + scores[mode]["accuracy@3"])
    say(f"best mode by the mean of hit@1 and hit@3: {best}; engine default: {DEFAULT_MODE}")
    if best != DEFAULT_MODE:
        say("WARNING: the engine's DEFAULT_MODE is not the best mode measured here")

    say()
    calibration = engine.calibration
    say(calibration.summary())
    check = [question for question in questions if not calibration_half(question)]
    outside = [question for question in load_out_of_domain_questions() if not calibration_half(question)]
    answered = np.mean([not engine.search(question).abstain for question in check])
    abstained = np.mean([engine.search(question).abstain for question in outside])
    say(
        f"unseen halves through search(): {answered:.1%} of {len(check)} consumer questions answered, "
        f"{abstained:.1%} of {len(outside)} out-of-domain questions abstained"
    )

    say()
    say(f"misses of {DEFAULT_MODE} at rank 1 (question -> expected | top focus):")
    for question, wanted, top in misses[DEFAULT_MODE]:
        say(f"  {question[:70]:<70} -> {wanted[:40]} | {top[:40]}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
