"""Training benchmark: throughput (fp32, bf16), wall time of the default run, base vs fine-tuned.

Usage::

    flock /tmp/medqa-cpu.lock python bench/bench_train.py [--source PATH] [--steps N]
        [--sections throughput,walltime,recommended,quality]

Measures, on this machine:

1. training throughput in samples/s (pairs per second, optimizer steps only) for fp32 and bf16 autocast,
   over ``--steps`` steps of the original recipe (batch 8, max_seq_length 128, curated pairs);
2. wall time of the default run (``python -m medqa train`` with the original preset on the curated
   train split: 400 pairs x 3 epochs, held-out evaluation before training and after each epoch), split
   into training and evaluation, and of 520 pairs x 3 epochs (520 full-MedQuAD pairs, no evaluation),
   against the 60 s target;
3. base vs fine-tuned (original and recommended presets) on the held-out questions (curated corpus,
   answers as documents) and the consumer-style questions (full corpus), dense retrieval, with
   :mod:`medqa.evaluation`.

Models are written to a temporary folder (the registry is not touched). Output: stdout and
``bench/results/train.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medqa import models  # noqa: E402
from medqa.data import store  # noqa: E402
from medqa.training import arguments  # noqa: E402
from medqa.training.trainer import library_versions, train  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "train.txt"
TARGET_SECONDS = 60.0
QUALITY_METRICS = ("accuracy@1", "accuracy@3", "mrr@10", "ndcg@10")
SECTIONS = ("throughput", "walltime", "recommended", "quality")

_lines: list[str] = []
STARTED = time.perf_counter()


def say(text: str = "") -> None:
    """Print a line and keep it for the results file."""
    print(text, flush=True)
    _lines.append(text)
    # Written as it goes, so a long run stopped half way still leaves its measured figures.
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(_lines) + "\n", encoding="utf-8")


def throughput(work: Path, steps: int) -> None:
    say(f"## Throughput (original recipe, batch 8, max_seq_length 128, {steps} steps, no evaluation)")
    say(f"CPU computes bf16 natively: {models.bf16_supported()}")
    for precision in ("fp32", "bf16"):
        config = arguments.preset("original", max_steps=steps, precision=precision, evaluation="none")
        run = train(config, work / f"throughput-{precision}", overwrite=True)
        training = run.info["training"]
        say(
            f"  {precision}: {training['samples_per_second']:.1f} samples/s "
            f"({training['train_runtime_seconds']:.1f} s for {training['steps']} steps)"
        )
    say()


def _phase_seconds(info: dict) -> tuple[float, float]:
    training = float(info["training"]["train_runtime_seconds"])
    return training, float(info["duration_seconds"]) - training


def wall_time(work: Path, with_recommended: bool = True) -> dict[str, Path]:
    say("## Wall time of the default run (original preset, curated train split)")
    started = time.perf_counter()
    run = train(arguments.preset("original"), work / "original", overwrite=True)
    wall = time.perf_counter() - started
    info = run.info
    train_s, other_s = _phase_seconds(info)
    pairs = info["data"]["train_pairs"]
    epochs = info["config"]["epochs"]
    say(
        f"  {pairs} pairs x {epochs:g} epochs = {info['training']['steps']} steps: wall {wall:.1f} s "
        f"(training {train_s:.1f} s, {info['training']['samples_per_second']:.1f} samples/s; "
        f"evaluation + setup + saving {other_s:.1f} s; {len(info['evaluations'])} held-out evaluations)"
    )
    config_520 = arguments.preset("original", data="full", max_pairs=520, evaluation="none")
    started = time.perf_counter()
    run_520 = train(config_520, work / "original-520", overwrite=True)
    wall_520 = time.perf_counter() - started
    train_520, _ = _phase_seconds(run_520.info)
    verdict = "meets" if wall_520 <= TARGET_SECONDS else "misses"
    say(
        f"  520 pairs x 3 epochs ({run_520.info['training']['steps']} steps, no evaluation): wall {wall_520:.1f} s, "
        f"training {train_520:.1f} s -> {verdict} the {TARGET_SECONDS:.0f} s target"
    )
    say()
    if not with_recommended:
        return {"original": run.path}
    recommended_started = time.perf_counter()
    recommended = train(arguments.preset("recommended"), work / "recommended", overwrite=True)
    say(
        f"Recommended preset run: {recommended.info['data']['train_pairs']} pairs, "
        f"{recommended.info['training']['steps']} steps, wall {time.perf_counter() - recommended_started:.1f} s"
    )
    say()
    return {"original": run.path, "recommended": recommended.path}


def quality(paths: dict[str, Path]) -> None:
    from medqa.evaluation import runner, sets

    say("## Base vs fine-tuned (dense retrieval)")
    systems = ["base", *[str(path) for path in paths.values()]]
    labels = ["base", *paths]
    for title, eval_set in (
        ("held-out questions, curated corpus", sets.heldout(store.CURATED)),
        ("consumer-style questions, full corpus", sets.consumer(store.FULL)),
    ):
        result = runner.evaluate(systems, eval_set, n_resamples=1000)
        summary = result.summary.set_index("system")
        say(f"{title} ({len(eval_set)} queries):")
        say(f"  {'system':<14}" + "".join(f"{metric:>12}" for metric in QUALITY_METRICS))
        for label, system_label in zip(labels, result.labels, strict=True):
            row = summary.loc[system_label]
            say(f"  {label:<14}" + "".join(f"{row[metric]:>12.3f}" for metric in QUALITY_METRICS))
    say()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MEDQA_MEDQUAD_SOURCE"))
    parser.add_argument("--steps", type=int, default=30, help="steps per throughput measurement")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {', '.join(SECTIONS)} (quality needs the two preset runs)",
    )
    parser.add_argument(
        "--skip-quality", action="store_true", help="same as leaving 'quality' out of --sections"
    )
    parser.add_argument("--keep", help="folder to keep the trained runs in (default: a temporary folder)")
    options = parser.parse_args()
    sections = {name.strip() for name in options.sections.split(",") if name.strip()}
    if options.skip_quality:
        sections.discard("quality")
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if store.ensure_datasets(options.source):
        say("built the datasets from the MedQuAD archive")
    say("# bench_train")
    say(f"versions: {library_versions()}; CPUs visible: {os.cpu_count()}")
    say(f"recommended preset: {arguments.RECOMMENDED_CONFIG.to_dict()}")
    say()
    with tempfile.TemporaryDirectory(prefix="medqa-bench-train-") as folder:
        # --keep leaves the runs for bench_compare.py (--original/--recommended) instead of training twice.
        work = Path(options.keep) if options.keep else Path(folder)
        if "throughput" in sections:
            throughput(work, options.steps)
        paths = wall_time(work, with_recommended="recommended" in sections or "quality" in sections)
        if "quality" in sections:
            quality(paths)
    say(f"done in {time.perf_counter() - STARTED:.0f} s")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
