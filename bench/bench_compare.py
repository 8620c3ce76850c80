"""The full comparison table: BM25, base, original-preset run, recommended-preset run and hybrids.

Usage::

    python bench/bench_compare.py [--original models/RUN] [--recommended models/RUN] [--no-train]
                                  [--source PATH] [--resamples N]

Every system is scored on the same queries of two sets (:mod:`medqa.evaluation`):

* **held-out**: the 120 curated test questions over the curated corpus (520 pairs), judged by the answer;
* **consumer**: the plain-language questions kept in the repository over the full corpus, judged by
  expected focus area.

Runs: ``--original`` / ``--recommended`` name run folders. Without them the newest registry run of that
preset is used; when there is none, the run is trained with ``python -m medqa train --preset P``
(unless ``--no-train``, or the train command is not available, in which case it is left out and the
output says so). Datasets are built from ``--source`` / ``$MEDQA_MEDQUAD_SOURCE`` when missing.
Results are cached per (model, set, corpus) fingerprint; the script times a first pass and a repeat.
Output goes to stdout and ``bench/results/compare.txt``.

``--timing RUN`` instead times what the Compare page does for base against one trained run, results not
cached (a scratch results folder), and prints the page's estimate (:func:`medqa.evaluation.runner.estimate`)
beside each measured time: first with the indexes as this data folder has them (the performance issue's
goal: base vs a trained run on a cached corpus in at most 30 s), then in a fresh data folder, where every
index must be built. Output to ``bench/results/compare_timing.txt``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medqa import settings
from medqa.data import store
from medqa.errors import MedQAError
from medqa.evaluation import export, runner, sets
from medqa.evaluation.metrics import metric_names

RESULTS = ROOT / "bench" / "results" / "compare.txt"
PRESETS = ("original", "recommended")

_lines: list[str] = []


def say(text: str = "") -> None:
    """Print a line and keep it for the results file."""
    print(text, flush=True)
    _lines.append(text)


def save(*, finished: bool) -> None:
    """Write the lines so far, so a long run that is stopped still leaves its finished sets."""
    trailer = [] if finished else ["", "(incomplete: the run was still going when this file was written)"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join([*_lines, *trailer]) + "\n", encoding="utf-8")


def _run_of_preset(preset: str) -> str | None:
    from medqa.runs.registry import list_runs

    return next((run.name for run in list_runs() if run.preset == preset), None)


def _train(preset: str) -> str | None:
    """Train a run of a preset through the CLI; its folder name, or ``None`` when training is not possible."""
    if importlib.util.find_spec("medqa.commands.train") is None:
        say(f"  {preset}: no run, and the train command is not available in this build; left out")
        return None
    name = f"bench-{preset}"
    say(f"  {preset}: no run found; training {name} (python -m medqa train --preset {preset} --out {name})")
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "medqa", "train", "--preset", preset, "--out", name, "--overwrite"],
        cwd=ROOT,
        check=False,
    )
    if completed.returncode != 0:
        say(f"  {preset}: training failed (exit code {completed.returncode}); left out")
        return None
    say(f"  {preset}: trained in {time.perf_counter() - started:.0f} s")
    return name


def choose_runs(arguments: argparse.Namespace) -> dict[str, str]:
    """Run folder (or registry name) per preset, training missing ones when allowed."""
    chosen: dict[str, str] = {}
    say("runs:")
    for preset in PRESETS:
        given = getattr(arguments, preset)
        if given:
            chosen[preset] = given
            say(f"  {preset}: {given} (given)")
            continue
        found = _run_of_preset(preset)
        if found:
            chosen[preset] = found
            say(f"  {preset}: {found} (newest run of this preset in {settings.models_dir()})")
            continue
        if arguments.no_train:
            say(f"  {preset}: no run of this preset and --no-train; left out")
            continue
        trained = _train(preset)
        if trained:
            chosen[preset] = trained
    return chosen


def systems_for(runs: dict[str, str]) -> list[str]:
    """BM25, base, the runs, then hybrid (BM25 + dense) for each (they share the dense index)."""
    dense = ["base", *runs.values()]
    return ["bm25", *dense, *(f"hybrid:{model}" for model in dense)]


def evaluate_set(name: str, evaluation: sets.EvaluationSet, systems: list[str], resamples: int) -> None:
    say()
    say("=" * 100)
    say(f"{name}: {evaluation.label} over corpus {evaluation.corpus_name!r}")
    say("=" * 100)

    def progress(fraction: float, message: str) -> None:
        print(f"\r  [{fraction:4.0%}] {message[:80]:<80}", end="", file=sys.stderr, flush=True)

    started = time.perf_counter()
    result = runner.evaluate(systems, evaluation, progress=progress, reference="base", n_resamples=resamples)
    first = time.perf_counter() - started
    print(file=sys.stderr)
    started = time.perf_counter()
    again = runner.evaluate(systems, evaluation, reference="base", n_resamples=resamples)
    repeat = time.perf_counter() - started
    assert again.all_cached

    say(export.summary_text(result, tuple(metric_names())))
    say()
    for label in result.labels:
        run = result.runs[label]
        source = "cache" if run.cached else f"{run.seconds:.1f} s"
        say(f"  {label}: ranked {len(evaluation)} queries ({source})")
    say(f"wall time: first pass {first:.1f} s, repeat from the cache {repeat:.2f} s")
    for by in ("focus", "qtype"):
        say()
        say(f"balance by {by} (MRR@10 per group; min / median / max of the group means, weakest groups):")
        balance = result.balance(by=by, metric="mrr@10", worst=3)
        say(balance.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    reference = result.reference
    say()
    for other in [label for label in result.labels if label != reference]:
        counts = result.outcome_counts(reference, other)
        say(
            f"{other} vs {reference} on MRR@10: {counts['wins']} wins, {counts['losses']} losses, {counts['ties']} ties"
        )


#: The performance issue's goal for base against a trained run on a cached corpus.
CACHED_GOAL_SECONDS = 30.0


def _timed_compare(run: str, name: str, evaluation: sets.EvaluationSet, goal: float | None) -> None:
    """Estimate, then evaluate base against ``run`` as the Compare page does (indexes built in a child)."""
    systems = ["base", run]
    plan = runner.estimate(systems, evaluation)
    started = time.perf_counter()
    runner.evaluate(systems, evaluation, isolated=True)
    measured = time.perf_counter() - started
    verdict = "" if goal is None else f"; goal <= {goal:.0f} s: {'met' if measured <= goal else 'MISSED'}"
    say(f"{name}: {evaluation.label} over {evaluation.corpus_name!r}")
    say(f"  estimate before starting {plan.seconds:6.1f} s  ({plan.describe()})")
    say(
        f"  measured                 {measured:6.1f} s  (estimate / measured {plan.seconds / measured:.2f}){verdict}"
    )


def timing(run: str) -> None:
    """``--timing``: the Compare page's wait, estimated and measured (module docstring)."""
    global RESULTS
    RESULTS = RESULTS.with_name("compare_timing.txt")
    say(f"bench_compare --timing {run}: base vs {run} as the Compare page runs them, results not cached")
    say(f"machine: {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}")
    data = settings.data_dir()
    with tempfile.TemporaryDirectory(prefix="medqa-compare-timing-") as scratch:
        results = Path(scratch) / "evaluations"
        results.mkdir()
        real_results = runner.evaluations_dir
        runner.evaluations_dir = lambda: results  # ranking is timed, not read back from the cache
        try:
            say()
            say(f"== indexes as {data} holds them")
            _timed_compare(run, "consumer", sets.consumer(store.FULL), CACHED_GOAL_SECONDS)
            _timed_compare(run, "held-out", sets.heldout(store.CURATED), None)
        finally:
            runner.evaluations_dir = real_results
        fresh = Path(scratch) / "data"
        shutil.copytree(data / "datasets", fresh / "datasets")
        (fresh / "cache").mkdir()
        for parsed in [data / "cache" / "current.json", *(data / "cache").glob("medquad-*.parquet")]:
            shutil.copy2(parsed, fresh / "cache" / parsed.name)  # the full corpus, as loaded
        os.environ["MEDQA_DATA_DIR"] = str(fresh)
        say()
        say("== a fresh data folder (same datasets, no index, no results): every index is built")
        _timed_compare(run, "held-out", sets.heldout(store.CURATED), None)
        from medqa.retrieval import dense

        say(f"  embedding rate these builds recorded: {dense.tokens_per_second() or 0:,.0f} tokens/s "
            f"(assumed before any build: {dense.DEFAULT_TOKENS_PER_SECOND:,.0f})")  # fmt: skip
        slow = runner.estimate(["base", run], sets.heldout(store.FULL))
        say("held-out over 'full' (the page's default set before 2026-12-01; estimated, not run):")
        say(f"  estimate before starting {slow.seconds:6.1f} s  ({slow.describe()})")
    say(f"load average at the end {os.getloadavg()[0]:.1f}")
    save(finished=True)
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", help="run folder or name of an original-preset run")
    parser.add_argument("--recommended", help="run folder or name of a recommended-preset run")
    parser.add_argument("--no-train", action="store_true", help="never train missing runs")
    parser.add_argument("--source", default=os.environ.get("MEDQA_MEDQUAD_SOURCE"))
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap / randomisation resamples")
    parser.add_argument("--timing", metavar="RUN", help="time the Compare page's base vs RUN (see above)")
    arguments = parser.parse_args()
    if arguments.timing:
        timing(arguments.timing)
        return

    started = time.perf_counter()
    say("bench_compare: every system on the same queries; 95% paired bootstrap CIs, randomisation test")
    say(f"data: {settings.data_dir()}  models: {settings.models_dir()}")
    if store.ensure_datasets(arguments.source):
        say("built the datasets from the MedQuAD archive")
    runs = choose_runs(arguments)
    systems = systems_for(runs)
    say("systems: " + ", ".join(runner.parse_system(spec).label for spec in systems))
    say("verdicts compare every system with the base model, query by query")
    try:
        evaluate_set("held-out", sets.heldout(store.CURATED), systems, arguments.resamples)
        save(finished=False)
        evaluate_set("consumer", sets.consumer(store.FULL), systems, arguments.resamples)
    except MedQAError as error:
        say(f"error: {error}")
        raise SystemExit(2) from error
    say()
    say(f"total wall time {time.perf_counter() - started:.0f} s")
    save(finished=True)
    print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
