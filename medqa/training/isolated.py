"""Training in a child process (``python -m medqa train --events``), relayed to a live :class:`Progress`.

The Train page trains this way so the Streamlit server never imports torch: the child holds torch, the
model and the optimizer, and gives that memory back when it exits (see :mod:`medqa.child_process`).
The child prints every progress write as an ``event <JSON>`` line, which the parent replays on its own
:class:`Progress`, so watchers see the same steps, losses, evaluations and log lines as with an
in-process training. Cancel travels the other way as a ``cancel`` line on the child's stdin; if the
parent goes away, the child sees end-of-file and cancels too, so it never trains for nobody.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from medqa.child_process import run_medqa
from medqa.errors import MedQAError, TrainingCancelled, TrainingError
from medqa.runs import registry
from medqa.training.arguments import TrainingConfig
from medqa.training.progress import CANCELLED, FAILED, FINISHED, Progress

#: Start of a progress event line on the child's stdout.
EVENT_PREFIX = "event"
#: What the parent writes to the child's stdin to cancel.
CANCEL_COMMAND = "cancel"
#: The :class:`Progress` writes an event may replay.
_REPLAYED = frozenset({"log", "start", "set_total", "update", "add_loss", "add_eval", "finish"})
#: How often the parent checks for a cancel request, in seconds.
_CANCEL_POLL_SECONDS = 0.2


class ReportingProgress(Progress):
    """Child side: a :class:`Progress` that also prints each write as an event line for the parent.

    Args:
        stream: where event lines go (default: ``sys.stdout`` at creation).
    """

    def __init__(self, *args: Any, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stream = stream or sys.stdout

    def _report(self, call: str, *args: Any, **kwargs: Any) -> None:
        payload = json.dumps({"call": call, "args": args, "kwargs": kwargs})
        print(EVENT_PREFIX, payload, file=self._stream, flush=True)

    def log(self, message: str) -> None:
        super().log(message)
        self._report("log", message)

    def start(self, total_steps: int) -> None:
        super().start(total_steps)
        self._report("start", int(total_steps))

    def set_total(self, total_steps: int) -> None:
        super().set_total(total_steps)
        self._report("set_total", int(total_steps))

    def update(self, step: int, epoch: float | None = None) -> None:
        super().update(step, epoch)
        self._report("update", int(step), None if epoch is None else float(epoch))

    def add_loss(self, step: int, epoch: float, loss: float) -> None:
        super().add_loss(step, epoch, loss)
        self._report("add_loss", int(step), float(epoch), float(loss))

    def add_eval(self, step: int, epoch: float, metrics: dict[str, float], label: str = "") -> None:
        super().add_eval(step, epoch, metrics, label)
        self._report("add_eval", int(step), float(epoch), {k: float(v) for k, v in metrics.items()}, label)

    def finish(self, state: str, *, error: str | None = None, result_name: str | None = None) -> None:
        super().finish(state, error=error, result_name=result_name)
        self._report("finish", state, error=error, result_name=result_name)


def cancel_on_request(progress: Progress, commands: Iterable[str] | None = None) -> threading.Thread:
    """Child side: cancel ``progress`` when the parent writes ``cancel`` or closes the stream."""
    stream = sys.stdin if commands is None else commands

    def listen() -> None:
        for line in stream:
            if line.strip() == CANCEL_COMMAND:
                break
        progress.cancel()  # asked to, or end-of-file: the parent stopped waiting for this training

    listener = threading.Thread(target=listen, name="medqa-cancel-listener", daemon=True)
    listener.start()
    return listener


def replay(line: str, progress: Progress) -> bool:
    """Parent side: apply one event line to ``progress``; ``False`` for any other line."""
    prefix, _, payload = line.partition(" ")
    if prefix != EVENT_PREFIX:
        return False
    try:
        event = json.loads(payload)
        call = event["call"]
        if call not in _REPLAYED:
            return False
        getattr(progress, call)(*event.get("args", ()), **event.get("kwargs", {}))
    except (ValueError, KeyError, TypeError):
        return False  # not an event after all (a library printed something that looks like one)
    return True


def _forward_cancel(progress: Progress, child: subprocess.Popen) -> None:
    def watch() -> None:
        while child.poll() is None:
            if progress.cancel_requested:
                # The child may have just exited and the parent closed the pipe: nothing left to cancel.
                with contextlib.suppress(OSError, ValueError):
                    child.stdin.write(CANCEL_COMMAND + "\n")
                    child.stdin.flush()
                return
            time.sleep(_CANCEL_POLL_SECONDS)

    threading.Thread(target=watch, name="medqa-cancel-forwarder", daemon=True).start()


def train_in_child(
    config: TrainingConfig, name: str, progress: Progress | None = None, *, overwrite: bool = False
) -> registry.Run:
    """Train run ``name`` in a ``python -m medqa train`` child process; same contract as
    :func:`medqa.training.trainer.train` (atomic save, cancel, typed errors).

    Raises:
        TrainingCancelled: cancelled (nothing was saved).
        MedQAError: the training failed with a typed error, or the child crashed or was killed
            (``TrainingError``, saying so).
    """
    name = registry.sanitize_run_name(name)
    progress = progress or Progress(run_name=name)
    if progress.run_name is None:
        progress.run_name = name
    with tempfile.TemporaryDirectory(prefix="medqa-train-") as scratch:
        config_file = Path(scratch) / "config.json"
        config_file.write_text(json.dumps(config.to_dict()), encoding="utf-8")
        command = ["train", "--config", str(config_file), "--out", name, "--events"]
        if overwrite:
            command.append("--overwrite")
        progress.log("Starting the training process.")
        try:
            run_medqa(
                command,
                lambda line: replay(line, progress),
                what="Training",
                crash_error=TrainingError,
                on_start=lambda child: _forward_cancel(progress, child),
                scratch_dir=Path(scratch),
            )
        except MedQAError as error:
            if progress.snapshot().state == FINISHED and registry.run_exists(name):
                # The run was saved (atomically) and reported before the child went wrong on its way out.
                progress.log(f"The training process ended badly after saving the run: {error}")
                return registry.get_run(name)
            if not progress.snapshot().done:  # the child could not say so itself (crashed, killed)
                registry.remove_scratch_folders(registry.run_path(name))
                progress.log(f"Failed: {error}")
                state = CANCELLED if isinstance(error, TrainingCancelled) else FAILED
                progress.finish(state, error=str(error))
            raise
    return registry.get_run(name)
