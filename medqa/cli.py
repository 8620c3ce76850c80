"""Command-line interface: ``python -m medqa <command> ...``.

Each command lives in a module of :mod:`medqa.commands` exposing ``register(subparsers)``, which adds
its parser and sets ``handler`` to a function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from medqa.errors import MedQAError

COMMAND_MODULES = (
    "medqa.commands.data",
    "medqa.commands.ask",
    "medqa.commands.index",
    "medqa.commands.train",
    "medqa.commands.evaluate",
    "medqa.commands.hub",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available command."""
    # ``medqa`` when run as the installed console script, ``python -m medqa`` otherwise.
    prog = "python -m medqa" if sys.argv[0].endswith("__main__.py") else "medqa"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue  # a command whose module is not part of this build
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; typed medqa errors become a one-line message and exit code 2."""
    arguments = build_parser().parse_args(argv)
    try:
        return int(arguments.handler(arguments) or 0)
    except MedQAError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
