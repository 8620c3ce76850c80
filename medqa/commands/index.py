"""``python -m medqa index``: embed a corpus once and cache the index (the app also runs it as a child)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from medqa.data.store import FULL


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``index`` command."""
    from medqa.retrieval.dense import BUILD_PRECISIONS, FIELD_CHOICES, DenseSettings

    defaults = DenseSettings()
    parser = subparsers.add_parser(
        "index", help="build (or check) the cached embedding index of a corpus for a model"
    )
    parser.add_argument(
        "--corpus", default=FULL, help="full, curated, an uploaded dataset's name, or a .parquet or .csv file"
    )
    parser.add_argument("--model", default="base", help="base, a trained run's name or folder, or a Hub id")
    parser.add_argument(
        "--fields", choices=FIELD_CHOICES, default=defaults.fields, help="text embedded per pair"
    )
    parser.add_argument("--max-seq-length", type=int, default=defaults.max_seq_length, help="tokens per text")
    parser.add_argument(
        "--passage-words", type=_positive, default=defaults.passage_words, help="words per answer passage"
    )
    parser.add_argument(
        "--max-passages", type=_not_negative, default=defaults.max_passages,
        help="answer passages kept per pair, from the start (0: all)",
    )  # fmt: skip
    parser.add_argument(
        "--precision", choices=BUILD_PRECISIONS, default=defaults.precision,
        help="auto: fp32 through ONNX Runtime (else bf16 on a CPU with native bf16); int8: faster, checked",
    )  # fmt: skip
    parser.add_argument("--corpus-fingerprint", help=argparse.SUPPRESS)  # the parent's, when run as a child
    parser.add_argument(
        "--progress-lines",
        action="store_true",
        help="print 'progress DONE TOTAL' lines (for a parent process)",
    )
    parser.set_defaults(handler=_index)


def _positive(text: str) -> int:
    value = _not_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _not_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _index(arguments: argparse.Namespace) -> int:
    from medqa.child_process import end_child, exit_with_parent, report_failure
    from medqa.errors import MedQAError

    if arguments.progress_lines:  # the app's child: stop (and drop the parent's scratch) if the app dies
        scratch = Path(arguments.corpus).parent
        exit_with_parent(cleanup=scratch if scratch.name.startswith(".corpus-") else None)
    try:
        code = _build(arguments)
    except MedQAError as error:
        if not arguments.progress_lines:
            raise
        report_failure(error)
        code = 2
    return end_child(code) if arguments.progress_lines else code


def _build(arguments: argparse.Namespace) -> int:
    if arguments.model == "base":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from medqa.retrieval.dense import PROGRESS_PREFIX, DenseIndex, DenseSettings
    from medqa.retrieval.engine import load_search_corpus

    def progress(done: int, total: int) -> None:
        if arguments.progress_lines:
            print(PROGRESS_PREFIX, done, total, flush=True)
        else:
            print(
                f"\rembedding the corpus: {done:,}/{total:,}",
                end="" if done < total else "\n",
                file=sys.stderr,
            )

    corpus = load_search_corpus(arguments.corpus)
    dense_settings = DenseSettings(
        fields=arguments.fields, passage_words=arguments.passage_words, max_passages=arguments.max_passages,
        max_seq_length=arguments.max_seq_length, precision=arguments.precision,
    )  # fmt: skip
    started = time.perf_counter()
    index = DenseIndex.build_or_load(
        corpus, arguments.model, dense_settings, corpus_fingerprint=arguments.corpus_fingerprint,
        progress=progress,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    state = "already cached" if index.from_cache else f"built in {seconds:.1f} s"
    if not index.from_cache:
        rate = index.embedded / max(seconds, 1e-9)
        state += f" ({index.embedded:,} texts embedded, {rate:.1f}/s; {index.reused:,} reused)"
    if not arguments.progress_lines:
        print(
            f"{len(index):,} pairs ({index.texts:,} texts) of {arguments.corpus!r} with {arguments.model!r} "
            f"({index.precision}): {state}"
        )
        print(f"cache: {index.key}")
    return 0
