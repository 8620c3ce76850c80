"""Answer quality of every ranking mode and model: consumer dev half, test half and curated held-out split.

For each evaluation set (``consumer-dev``, ``consumer-test``: the plain-language questions of
``medqa/resources/consumer_questions.csv``, judged by concept over the **full** corpus; ``heldout``:
the curated test split judged by its answer over the curated corpus) and each system (BM25; dense and
hybrid with the base model and with every trained run in ``models/``), prints Accuracy@1 ("right topic
first"), Accuracy@3 and MRR@10 with 95% bootstrap intervals, and the paired difference from the
app's default pipeline with the base model (hybrid, base) with its 95% CI and randomisation p-value.

Everything is scored by :func:`medqa.evaluation.runner.evaluate`, the Compare page's and the CLI's
path (ranking by :class:`medqa.retrieval.engine.Engine` with its default settings, relevance by
:mod:`medqa.evaluation.relevance`, metrics by :mod:`medqa.evaluation.metrics`), so the figures are
the ones ``python -m medqa evaluate --set consumer-test --bm25 --hybrid`` prints. Choose settings
with the dev half; the test half is for reporting once per release. Only the dev half's misses are
listed.

Also measured, never tuned here: abstention through :meth:`Engine.search` (the Ask page's call) on the
consumer questions of each half (share answered; goal >= 95%) and on the out-of-domain questions
(share refused; goal >= 90%), overall and on the halves the calibration did not fit
(:func:`medqa.retrieval.abstain.calibration_half`).

Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_quality.py [--models base,RUN]``
(build the data first: ``python -m medqa data build``; embeddings and per-system results are cached,
so a second run takes seconds). Writes ``bench/results/quality.txt`` and ``bench/results/quality.json``
(``--out`` for another file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from medqa import models
from medqa.consumer_questions import load_consumer_questions, load_out_of_domain_questions
from medqa.evaluation import runner, sets
from medqa.evaluation.metrics import REPORT_METRICS, display_name
from medqa.evaluation.statistics import compare_systems
from medqa.retrieval.abstain import calibration_half
from medqa.retrieval.engine import DEFAULT_MODE, Engine

RESULTS = Path(__file__).resolve().parent / "results"
SETS = (sets.CONSUMER_DEV, sets.CONSUMER_TEST, sets.HELDOUT)
#: The app's default pipeline with the base model: every other system is compared with it.
REFERENCE = f"{runner.HYBRID}:{models.BASE}"
#: Goals of issue 12 for abstention through the Ask page's search.
ANSWER_GOAL = 0.95
REFUSE_GOAL = 0.90
CONSUMER_HALVES = {sets.CONSUMER_DEV: "dev", sets.CONSUMER_TEST: "test"}


def system_specs(model_names: list[str]) -> list[str]:
    """The reference first, then BM25, then dense and hybrid for each model."""
    specs = [REFERENCE, runner.BM25]
    for model in model_names:
        specs += [model, f"{runner.HYBRID}:{model}"]
    return list(dict.fromkeys(specs))


def _cell(row: dict, metric: str) -> str:
    return f"{row[metric]:.3f} [{row[f'{metric} low']:.2f}-{row[f'{metric} high']:.2f}]"


#: Ranks past the Ask page's first ten count as this in the second reading of :func:`area_rank_changes`.
SEEN_RANK_CAP = 11
#: "Worse by more than one rank": a mean of three ranks differs by 1.0000000000000004 when it moved by one.
MORE_THAN_ONE_RANK = 1 + 1e-9


def area_rank_changes(result: runner.EvaluationResult, say) -> dict[str, float]:
    """Per trained model: the focus area whose mean first-relevant rank got worst against base, same mode.

    Issue 12 asks that no focus area of the curated held-out split gets worse by more than one rank
    on average. A question with no relevant pair in the top 100 counts as rank 101. A second line reads
    the same with every rank past 10 counted as 11: an answer moving from rank 54 to 66 changes an
    area's mean by 4 ranks, though no reader sees either (2026-12-01: two of the preset's four areas
    worse by more than one rank were of that kind), so both readings are printed; the goal is the first.
    """
    areas = dict(zip(result.eval_set.query_ids, result.eval_set.focus, strict=True))
    by_spec = {system.spec: system.label for system in result.systems}
    worst: dict[str, float] = {}
    for system in result.systems:
        if system.model in (None, models.BASE):
            continue
        base_spec = models.BASE if system.mode == runner.DENSE else f"{system.mode}:{models.BASE}"
        if base_spec not in by_spec:
            continue

        def area_means(label: str, cap: float | None = None) -> pd.Series:
            ranks = result.runs[label].per_query["first_relevant_rank"].astype("Float64").fillna(101.0)
            if cap is not None:
                ranks = ranks.clip(upper=cap)
            return ranks.groupby(ranks.index.map(areas)).mean()

        change = (area_means(system.label) - area_means(by_spec[base_spec])).sort_values(ascending=False)
        worst[system.label] = float(change.iloc[0])
        say(
            f"   {system.label}: worst focus area against {by_spec[base_spec]}: {change.index[0]} "
            f"{change.iloc[0]:+.2f} ranks on average (goal <= +1.00); "
            f"{int((change > MORE_THAN_ONE_RANK).sum())} of {len(change)} areas worse by more than one rank"
        )
        seen = area_means(system.label, SEEN_RANK_CAP) - area_means(by_spec[base_spec], SEEN_RANK_CAP)
        seen = seen.sort_values(ascending=False)
        seen_worse = list(seen.index[seen > MORE_THAN_ONE_RANK])
        say(
            f"     ranks past 10 counted as {SEEN_RANK_CAP}: worst {seen.index[0]} {seen.iloc[0]:+.2f}; "
            f"{len(seen_worse)} of {len(seen)} areas worse by more than one rank"
            + (f" ({', '.join(seen_worse)})" if seen_worse else "")
        )
    return worst


#: Styles of the consumer set whose questions are reported apart from the rest (``style`` tags).
STYLE_SPLITS = {
    "long": "long messages",
    "unnamed": "questions describing without naming the condition",
}


def style_lines(
    result: runner.EvaluationResult, set_name: str, style: str, say: Callable[[str], None]
) -> dict[str, dict[str, float]]:
    """The hybrid systems' means on the half's questions tagged ``style`` and on the rest."""
    questions = load_consumer_questions(CONSUMER_HALVES[set_name])
    tagged = {qid for qid, tags in zip(questions["id"], questions["style"], strict=True) if style in tags}
    by_system: dict[str, dict[str, float]] = {}
    for label in result.labels:
        if not label.startswith("hybrid"):
            continue
        frame = result.runs[label].per_query
        is_tagged = frame.index.isin(tagged)
        by_system[label] = {
            f"{part} {metric}": float(frame.loc[rows, metric].mean())
            for part, rows in ((style, is_tagged), ("other", ~is_tagged))
            for metric in REPORT_METRICS
        }
        say(
            f"   {STYLE_SPLITS[style]} ({int(is_tagged.sum())}) / the rest ({int((~is_tagged).sum())}), {label}: "
            + "; ".join(
                f"{display_name(metric)} {by_system[label][f'{style} {metric}']:.3f} / "
                f"{by_system[label][f'other {metric}']:.3f}"
                for metric in REPORT_METRICS
            )
        )
    return by_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", help="comma-separated models (default: base and every trained run in models/)"
    )
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap / randomisation resamples")
    parser.add_argument("--no-cache", action="store_true", help="recompute cached per-system results")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "quality.txt", help="results file (the JSON record beside it)"
    )
    options = parser.parse_args(argv)
    model_names = (
        [name.strip() for name in options.models.split(",") if name.strip()]
        if options.models
        else [models.BASE, *runner.trained_runs()]
    )
    specs = system_specs(model_names)
    lines: list[str] = []
    record: dict[str, object] = {"systems": specs, "reference": REFERENCE, "sets": {}}

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    from dataclasses import asdict

    from medqa.retrieval.engine import EngineSettings

    say(f"Ask engine settings (consumer sets are ranked as the Ask page indexes): {asdict(EngineSettings())}")
    say()
    metric_header = "  ".join(f"{display_name(metric):<19}" for metric in REPORT_METRICS)
    dev_result = None
    for set_name in SETS:
        started = time.perf_counter()
        eval_set = sets.load_set(set_name)
        result = runner.evaluate(
            specs,
            eval_set,
            reference=REFERENCE,
            use_cache=not options.no_cache,
            n_resamples=options.resamples,
        )
        if set_name == sets.CONSUMER_DEV:
            dev_result = result
        say(f"== {eval_set.label} over corpus {eval_set.corpus_name} ({sets.SET_DESCRIPTIONS[set_name]})")
        say(f"   {len(result.runs)} systems in {time.perf_counter() - started:.0f} s; mean [95% CI]")
        say(f"   {'system':<24} {metric_header}")
        summary = {row["system"]: row for row in result.summary.to_dict("records")}
        reference = result.runs[result.reference].per_query
        set_record: dict[str, object] = {"queries": len(eval_set), "label": eval_set.label, "systems": {}}
        for label in result.labels:
            row = summary[label]
            say(f"   {label:<24} " + "  ".join(f"{_cell(row, metric):<19}" for metric in REPORT_METRICS))
            entry: dict[str, object] = {
                metric: {"mean": row[metric], "low": row[f"{metric} low"], "high": row[f"{metric} high"]}
                for metric in REPORT_METRICS
            }
            if label != result.reference:
                differences = []
                for metric in REPORT_METRICS:
                    comparison = compare_systems(
                        reference[metric],
                        result.runs[label].per_query[metric],
                        metric,
                        result.reference,
                        label,
                        n_resamples=options.resamples,
                    )
                    differences.append(
                        f"{display_name(metric)} {comparison.difference:+.3f} "
                        f"[{comparison.ci_low:+.2f} to {comparison.ci_high:+.2f}] p={comparison.p_value:.3g}"
                    )
                    entry[f"{metric} vs reference"] = {
                        "difference": comparison.difference,
                        "low": comparison.ci_low,
                        "high": comparison.ci_high,
                        "p": comparison.p_value,
                    }
                say(f"   {'':<24} vs {result.reference}: " + "; ".join(differences))
            set_record["systems"][label] = entry  # type: ignore[index]
        if set_name == sets.HELDOUT:
            set_record["worst_area_rank_change"] = area_rank_changes(result, say)
        else:
            set_record["long_messages"] = style_lines(result, set_name, "long", say)
            set_record["unnamed"] = style_lines(result, set_name, "unnamed", say)
        record["sets"][set_name] = set_record  # type: ignore[index]
        say()

    assert dev_result is not None
    base_modes = {
        runner.parse_system(spec).mode: runner.parse_system(spec).label
        for spec in (runner.BM25, models.BASE, REFERENCE)
    }
    dev_summary = dev_result.summary.set_index("system")
    best = max(
        base_modes,
        key=lambda mode: (
            dev_summary.loc[base_modes[mode], "accuracy@1"] + dev_summary.loc[base_modes[mode], "accuracy@3"]
        ),
    )
    say(
        f"best mode with the base model on the dev half (mean of Accuracy@1 and @3): {best}; app default: {DEFAULT_MODE}"
    )
    if best != DEFAULT_MODE:
        say("WARNING: the engine's DEFAULT_MODE is not the best mode measured on the dev half")
    record["best_mode_dev"] = best

    say()
    say("== Abstention through Engine.search (Ask page), full corpus, base model")
    engine = Engine.from_dataset("full", models.BASE, progress=lambda done, total: None)
    say(engine.calibration.summary())
    rates: dict[str, float] = {}
    for set_name in (sets.CONSUMER_DEV, sets.CONSUMER_TEST):
        questions = list(sets.load_set(set_name).queries)
        answered = np.array([not engine.search(question).abstain for question in questions])
        unseen = np.array([not calibration_half(question) for question in questions])
        rates[f"{set_name} answered"] = float(answered.mean())
        say(
            f"   {set_name}: answered {answered.mean():.1%} of {len(questions)} "
            f"(goal >= {ANSWER_GOAL:.0%}); of the {int(unseen.sum())} not used to fit the threshold: "
            f"{answered[unseen].mean():.1%}"
        )
    outside = load_out_of_domain_questions()
    refused = np.array([engine.search(question).abstain for question in outside])
    unseen = np.array([not calibration_half(question) for question in outside])
    rates["out-of-domain refused"] = float(refused.mean())
    say(
        f"   out-of-domain: refused {refused.mean():.1%} of {len(outside)} (goal >= {REFUSE_GOAL:.0%}); "
        f"of the {int(unseen.sum())} not used to fit the threshold: {refused[unseen].mean():.1%}"
    )
    record["abstention"] = rates

    say()
    reference_run = dev_result.runs[dev_result.reference].per_query
    misses = reference_run[reference_run["accuracy@1"] < 1]
    queries = dev_result.eval_set.table().set_index("query_id")
    say(
        f"== Dev-half misses of {dev_result.reference} at rank 1 ({len(misses)}): question -> expected | top focus (rank)"
    )
    for query_id, row in misses.iterrows():
        rank = row["first_relevant_rank"]
        rank_text = "-" if pd.isna(rank) else str(int(rank))
        say(
            f"   {queries.loc[query_id, 'query'][:70]:<70} -> {queries.loc[query_id, 'focus'][:32]} | "
            f"{row['top1_focus'][:32]} ({rank_text})"
        )

    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options.out.with_suffix(".json").write_text(
        json.dumps(record, indent=1, default=float) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
