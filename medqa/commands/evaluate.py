"""``python -m medqa evaluate``: score retrieval systems on an evaluation set and compare them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medqa.data import store
from medqa.errors import EvaluationError
from medqa.evaluation import export, runner, sets

SET_CHOICES_HELP = (
    "heldout (curated test split), consumer-dev / consumer-test (the plain-language questions' halves: "
    "choose with dev, report test), consumer (both halves) or PATH.csv"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compare BM25, the base model, trained runs and hybrids on one evaluation set",
        description="Score systems on the same queries; print metrics with 95% CIs and paired verdicts.",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="MODEL",
        help="base, a trained run (models/NAME or NAME) or a folder; repeat to compare (default: base)",
    )
    parser.add_argument("--bm25", action="store_true", help="also evaluate BM25")
    parser.add_argument("--hybrid", action="store_true", help="also evaluate hybrid (dense + BM25) per model")
    parser.add_argument("--set", default=sets.HELDOUT, dest="eval_set", help=SET_CHOICES_HELP)
    parser.add_argument(
        "--corpus", help="curated, full or an uploaded dataset (default: curated for heldout, else full)"
    )
    parser.add_argument("--reference", help="system the others are compared with (default: the first model)")
    parser.add_argument("--no-cache", action="store_true", help="recompute even when results are cached")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_evaluate)


def system_specs(models: list[str], *, bm25: bool, hybrid: bool) -> list[str]:
    """Systems in display order: BM25, the models, then their hybrids."""
    models = models or ([] if bm25 and not hybrid else ["base"])
    return [
        *(["bm25"] if bm25 else []),
        *models,
        *([f"hybrid:{model}" for model in models] if hybrid else []),
    ]


def build_set(name: str, corpus_name: str | None) -> sets.EvaluationSet:
    """The evaluation set named on the command line, for its corpus."""
    if name in sets.SET_DESCRIPTIONS:
        return sets.load_set(name, corpus_name)
    path = Path(name)
    if path.suffix.casefold() not in (".csv", ".tsv", ".txt"):
        raise EvaluationError(
            f"--set must be {', '.join(sets.SET_DESCRIPTIONS)} or a CSV file; got {name!r}."
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EvaluationError(f"Cannot read {path}: {error.strerror or error}.") from error
    return sets.from_csv(data, corpus_name or store.FULL, file_name=path.name)


def _progress(fraction: float, message: str) -> None:
    print(f"\r[{fraction:4.0%}] {message:<70}", end="", file=sys.stderr, flush=True)


def _evaluate(arguments: argparse.Namespace) -> int:
    evaluation_set = build_set(arguments.eval_set, arguments.corpus)
    specs = system_specs(arguments.model, bm25=arguments.bm25, hybrid=arguments.hybrid)
    reference = arguments.reference or (arguments.model[0] if arguments.model else None)
    if reference is not None:
        reference = runner.parse_system(reference).label
    corpus = store.load_corpus(evaluation_set.corpus_name)  # read once, for the estimate and the run
    if not arguments.no_cache:  # what it will cost, as the Compare page says before Evaluate
        print(runner.estimate(specs, evaluation_set, corpus=corpus).describe(), file=sys.stderr)
    result = runner.evaluate(
        specs,
        evaluation_set,
        corpus=corpus,
        progress=_progress,
        reference=reference,
        use_cache=not arguments.no_cache,
    )
    print(file=sys.stderr)
    if arguments.json:
        print(export.result_to_json(result))
        return 0
    print(export.summary_text(result))
    cached = "all results from the cache" if result.all_cached else f"{result.seconds:.1f} s"
    print(f"({len(result.systems)} systems x {len(evaluation_set)} queries; {cached})")
    return 0
