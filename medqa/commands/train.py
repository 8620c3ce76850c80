"""``python -m medqa train``: fine-tune the retrieval model, printing progress and final metrics."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from medqa.runs.record import RunRecord
from medqa.training import arguments
from medqa.training.progress import Progress, format_seconds


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    parser = subparsers.add_parser("train", help="fine-tune the embedding model on CPU")
    parser.add_argument("--out", required=True, help="run folder, e.g. models/my-run (or just a run name)")
    parser.add_argument("--preset", choices=list(arguments.PRESETS), default=arguments.ORIGINAL)
    parser.add_argument(
        "--config",
        help="a JSON training config, or a run.json to train again (instead of --preset; the options "
        "below override it)",
    )
    parser.add_argument(
        "--data", help="curated, full, a stored dataset's name or a CSV path (default: preset's)"
    )
    parser.add_argument("--base-model", help="base, a trained run's name, a folder or a Hub id")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--max-seq-length", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--precision", choices=arguments.PRECISIONS)
    parser.add_argument("--evaluation", choices=arguments.EVALUATION)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run of that name")
    parser.add_argument("--json", action="store_true", help="print the final run record as JSON")
    # Run as the app's training child: progress as event lines on stdout, "cancel" read from stdin.
    parser.add_argument("--events", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=_train)


def _config(options: argparse.Namespace) -> arguments.TrainingConfig:
    overrides = {
        "data": options.data,
        "base_model": options.base_model,
        "epochs": options.epochs,
        "learning_rate": options.learning_rate,
        "batch_size": options.batch_size,
        "max_steps": options.max_steps,
        "max_seq_length": options.max_seq_length,
        "seed": options.seed,
        "precision": options.precision,
        "evaluation": options.evaluation,
    }
    if options.config is None:
        return arguments.preset(options.preset, **overrides)
    return arguments.config_from_file(options.config).with_overrides(**overrides)


def _print_metrics(record: RunRecord) -> None:
    baseline, final = record.baseline_metrics, record.metrics
    if not final:
        print("no held-out evaluation (the data has no test split or evaluation is off)")
        return
    print(f"held-out metrics ({record.heldout}):")
    print(f"  {'metric':<12} {'start':>8} {'trained':>8}")
    for key, value in final.items():
        start = f"{baseline[key]:.4f}" if key in baseline else "–"
        print(f"  {key:<12} {start:>8} {value:>8.4f}")


def _train_as_child(options: argparse.Namespace) -> int:
    from medqa.child_process import end_child, report_failure
    from medqa.errors import MedQAError
    from medqa.training.isolated import ReportingProgress, cancel_on_request
    from medqa.training.trainer import train

    # stdout carries only the parent's event lines; anything a library prints goes to stderr, so it can
    # never run into an event line.
    events, sys.stdout = sys.stdout, sys.stderr
    try:
        config = _config(options)
        progress = ReportingProgress(stream=events)
        cancel_on_request(progress)
        train(config, options.out, progress, overwrite=options.overwrite)
    except MedQAError as error:
        report_failure(error, events)
        return end_child(2)
    finally:
        sys.stdout = events
    return end_child(0)


def _train(options: argparse.Namespace) -> int:
    if options.events:
        return _train_as_child(options)
    from medqa.training.trainer import train

    config = _config(options)
    progress = Progress(echo=lambda line: print(line, file=sys.stderr, flush=True))
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["run"] = train(config, options.out, progress, overwrite=options.overwrite)
        except BaseException as error:  # re-raised in the main thread
            outcome["error"] = error

    worker = threading.Thread(target=work, name="medqa-train", daemon=True)
    worker.start()
    shown = -1
    try:
        while worker.is_alive():
            worker.join(1.0)
            snap = progress.snapshot()
            if snap.step != shown and snap.step > 0:
                shown = snap.step
                loss = f"loss {snap.losses[-1].loss:.4f}" if snap.losses else ""
                print(
                    f"step {snap.step}/{snap.total_steps} epoch {snap.epoch:.2f} {loss} "
                    f"elapsed {format_seconds(snap.elapsed_seconds)} ETA {format_seconds(snap.eta_seconds)}",
                    file=sys.stderr,
                    flush=True,
                )
    except KeyboardInterrupt:
        print("cancelling after the current step...", file=sys.stderr, flush=True)
        progress.cancel()
        while worker.is_alive():
            time.sleep(0.2)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    run = outcome["run"]
    record: RunRecord = run.record  # type: ignore[attr-defined]
    if options.json:
        print(json.dumps(record.to_json(), indent=2))
        return 0
    print(f"saved {run.name} to {run.path} in {record.duration_seconds:.1f} s")  # type: ignore[attr-defined]
    training = record.training
    rss = f", peak memory {training.peak_rss_mb:.0f} MB" if training.peak_rss_mb is not None else ""
    print(
        f"{training.steps} steps, {training.samples_per_second} samples/s, "
        f"{training.precision}, final train loss {training.final_train_loss}{rss}"
    )
    _print_metrics(record)
    return 0
