"""``python -m medqa data build|stats|import``: prepare and inspect datasets."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from medqa.data import curate, stats, store
from medqa.data.upload import import_csv
from medqa.errors import CSVImportError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command and its subcommands."""
    parser = subparsers.add_parser("data", help="build, import and describe datasets")
    actions = parser.add_subparsers(dest="action", required=True)

    build = actions.add_parser("build", help="parse MedQuAD and build the curated subset")
    build.add_argument("--source", help="zip, folder or URL (default: $MEDQA_MEDQUAD_SOURCE, then GitHub)")
    build.add_argument("--categories", type=int, default=curate.DEFAULT_CATEGORIES, help="focus areas N")
    build.add_argument(
        "--per-category", type=int, default=curate.DEFAULT_PER_CATEGORY, help="pairs per area K"
    )
    build.add_argument("--test-per-category", type=int, default=curate.DEFAULT_TEST_PER_CATEGORY)
    build.add_argument("--seed", type=int, default=curate.DEFAULT_SEED)
    build.set_defaults(handler=_build)

    describe = actions.add_parser("stats", help="print statistics of a dataset")
    describe.add_argument("--dataset", default=store.FULL, help="full, curated or an uploaded dataset's name")
    describe.add_argument("--json", action="store_true", help="print JSON")
    describe.set_defaults(handler=_stats)

    upload = actions.add_parser("import", help="import a Question,Answer CSV as a dataset")
    upload.add_argument("csv", type=Path)
    upload.add_argument("--name", help="dataset name (default: from the file name)")
    upload.add_argument(
        "--replace", action="store_true", help="replace an uploaded dataset of that name (never full/curated)"
    )
    upload.add_argument("--question-column")
    upload.add_argument("--answer-column")
    upload.add_argument("--focus-column")
    upload.set_defaults(handler=_import)


def _progress(done: int, total: int) -> None:
    print(f"\rparsing MedQuAD: {done}/{total} files", end="" if done < total else "\n", file=sys.stderr)


def _build(arguments: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        full, curated = store.build_datasets(
            arguments.source,
            categories=arguments.categories,
            per_category=arguments.per_category,
            test_per_category=arguments.test_per_category,
            seed=arguments.seed,
            progress=_progress,
        )
    except ValueError as error:  # subset sizes that make no sense (--per-category 1, --categories 0)
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"full: {full.rows:,} pairs, {full.answered:,} with answers, {full.focus_areas:,} focus areas")
    print(f"curated: {curated.rows} pairs in {curated.focus_areas} focus areas (seed {arguments.seed})")
    print(f"done in {time.perf_counter() - started:.1f} s; stored under {store.datasets_dir()}")
    return 0


def _stats(arguments: argparse.Namespace) -> int:
    table = store.load_pairs(arguments.dataset)
    summary = stats.summarise(table)
    sources = stats.source_breakdown(table)
    quality = stats.quality_report(table)
    if arguments.json:
        payload = {
            "dataset": arguments.dataset,
            "summary": asdict(summary),
            "sources": sources.to_dict(orient="records"),
            "quality": quality.to_dict(orient="records"),
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"dataset: {arguments.dataset}")
    for name, value in asdict(summary).items():
        print(f"  {name.replace('_', ' ')}: {value:,}")
    print("sources:")
    print(sources.to_string(index=False))
    print("quality:")
    print(quality[["check", "rows"]].to_string(index=False))
    return 0


def _import(arguments: argparse.Namespace) -> int:
    try:
        data = arguments.csv.read_bytes()
    except OSError as error:
        raise CSVImportError(f"Cannot read {arguments.csv}: {error.strerror or error}.") from error
    imported = import_csv(
        data,
        question_column=arguments.question_column,
        answer_column=arguments.answer_column,
        focus_column=arguments.focus_column,
    )
    name = store.slugify(arguments.name or f"upload-{arguments.csv.stem}")
    info = store.save_dataset(
        imported.pairs, name, kind="upload", origin=arguments.csv.name, replace=arguments.replace
    )
    report = imported.report
    print(f"imported {report.rows_kept} of {report.rows_read} rows as dataset {info.name!r}")
    print(
        f"focus areas: {report.focus_areas}"
        + (" (inferred from question templates)" if report.focus_inferred else "")
    )
    for note in report.notes:
        print(f"  note: {note}")
    return 0
