"""Run a ``python -m medqa`` command in a child process and relay what it reports, line by line.

Heavy work that needs torch (embedding a corpus, training) runs in a child so the Streamlit server never
imports torch and gets the memory back when the child exits (Community Cloud allows about 1 GB). If
memory does run out, the kernel kills the biggest process, the child, and the server reports it.

The child prints one report per stdout line; a failure with a typed error is the line
``failed <ErrorClass> <JSON message>`` (:func:`report_failure`), which the parent raises again as the
same :class:`~medqa.errors.MedQAError` subclass. Anything else on stdout goes to the caller's
``on_line``; stderr is kept in a scratch file for the message of a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from medqa import errors, settings

#: Start of the line a child prints when it fails with a typed error.
FAILED_PREFIX = "failed"
#: Exit code of a child that stopped because its parent went away.
PARENT_GONE_EXIT = 3
#: Set in a child's environment by :func:`run_medqa`, so the child knows a parent is reading its reports.
CHILD_ENV = "MEDQA_CHILD_PROCESS"


def exit_with_parent(
    *,
    cleanup: Path | None = None,
    stream: Iterable[str] | None = None,
    exit: Callable[[int], None] = os._exit,
) -> threading.Thread:
    """Child side: stop this process when the parent is gone (its end of our stdin closed).

    A parent killed with SIGKILL cannot stop its children: the index child of a killed server once ran
    on to the end and left its ``.corpus-*`` scratch folder behind. The parent holds our stdin open for
    as long as it waits, so end-of-file means nobody will read the result: remove ``cleanup`` (the
    scratch folder the parent would have removed) and exit with :data:`PARENT_GONE_EXIT`.
    """
    lines = sys.stdin if stream is None else stream

    def watch() -> None:
        try:
            for _line in lines:
                pass
        except (OSError, ValueError):  # no readable stdin (e.g. captured in tests): nothing to watch
            return
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        exit(PARENT_GONE_EXIT)

    watcher = threading.Thread(target=watch, name="medqa-parent-watch", daemon=True)
    watcher.start()
    return watcher


def end_child(code: int, *, exit: Callable[[int], None] = os._exit) -> int:
    """Child side: end the process right after its last report, skipping the interpreter's teardown.

    The parent waits for the child's stdout to close and judges the child by its exit code. Tearing down
    an interpreter that holds torch's thread pools and a daemon thread blocked on stdin can hang or abort
    (CPython refuses to finalize a buffered stream another thread holds), turning finished work into a
    "crash", and there is nothing left to do by then: the work is saved atomically and reported. So a
    child started by :func:`run_medqa` flushes its streams and exits at once; anywhere else (the CLI,
    tests calling ``main`` in-process) this just returns ``code``.
    """
    if os.environ.get(CHILD_ENV) != "1":
        return code
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    exit(code)
    return code  # only reached when ``exit`` is a stand-in (tests)


def report_failure(error: errors.MedQAError, stream: TextIO | None = None) -> None:
    """Child side: print ``error`` (to ``stream``, default stdout) for the parent to raise again as the same type."""
    print(FAILED_PREFIX, type(error).__name__, json.dumps(str(error)), file=stream or sys.stdout, flush=True)


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (killed: perhaps out of memory)" if -returncode == signal.SIGKILL else ""
        return f"stopped by {name}{hint}"
    return f"exit code {returncode}"


def run_medqa(
    arguments: list[str],
    on_line: Callable[[str], None],
    *,
    what: str,
    crash_error: type[errors.MedQAError],
    on_start: Callable[[subprocess.Popen], None] | None = None,
    scratch_dir: Path | None = None,
) -> None:
    """Run ``python -m medqa <arguments>`` and hand each stdout line (without its newline) to ``on_line``.

    The child's stdin is a pipe the caller may write to (``on_start`` receives the process); it is
    closed when the parent stops waiting, so a child that reads it sees end-of-file. If the parent is
    interrupted (the page was left, the server stops), the child is killed.

    Args:
        arguments: the ``medqa`` command line, e.g. ``["index", "--corpus", ...]``.
        on_line: called with every stdout line that is not a failure report.
        what: what the child does, for error messages ("Embedding the corpus").
        crash_error: raised when the child fails without a typed error (crash, signal, bad exit).
        on_start: called with the running process.
        scratch_dir: where the stderr log is kept while the child runs (default: the system's).

    Raises:
        MedQAError: the child failed with a typed error (the same subclass) or crashed (``crash_error``).
    """
    # Run from the project root so ``-m medqa`` imports this very package.
    command = [sys.executable, "-m", "medqa", *arguments]
    failure: tuple[str, str] | None = None
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace", dir=scratch_dir) as log:
        child = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=settings.PROJECT_ROOT,
            env={**os.environ, CHILD_ENV: "1"},
        )
        try:
            if on_start is not None:
                on_start(child)
            assert child.stdout is not None
            for raw in child.stdout:
                line = raw.rstrip("\n")
                parts = line.split(maxsplit=2)
                if len(parts) == 3 and parts[0] == FAILED_PREFIX:
                    failure = (parts[1], json.loads(parts[2]))
                else:
                    on_line(line)
            returncode = child.wait()
        except BaseException:
            child.kill()
            child.wait()
            raise
        finally:
            if child.stdin is not None:
                with contextlib.suppress(OSError):  # the child already exited: the pipe is broken
                    child.stdin.close()
        if failure is not None:
            error_type = getattr(errors, failure[0], None)
            if isinstance(error_type, type) and issubclass(error_type, errors.MedQAError):
                raise error_type(failure[1])
            raise crash_error(failure[1])
        if returncode != 0:
            log.seek(0)
            lines = log.read().strip().splitlines()
            raise crash_error(
                f"{what} failed ({_exit_reason(returncode)}): {lines[-1] if lines else 'no output'}"
            )
