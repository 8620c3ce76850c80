"""Live progress of a training run, shared between the training thread and whoever watches it.

The trainer writes (steps, losses, evaluation points, log lines); pages and the CLI read a consistent
:class:`Snapshot` at any time. Everything is guarded by one lock, steps never go backwards, and
:meth:`Progress.cancel` sets a flag the trainer checks after every step.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from medqa.runs.record import EvaluationPoint, LossPoint

#: Run states, in the order a run normally goes through them.
PENDING = "pending"
RUNNING = "running"
FINISHED = "finished"
CANCELLED = "cancelled"
FAILED = "failed"
DONE_STATES = (FINISHED, CANCELLED, FAILED)

#: Log lines kept (older ones are dropped; the run.json keeps the full loss history anyway).
MAX_LOG_LINES = 500


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a run's progress at one moment."""

    state: str
    step: int
    total_steps: int
    epoch: float
    losses: tuple[LossPoint, ...]
    evals: tuple[EvaluationPoint, ...]
    log: tuple[str, ...]
    started: float
    elapsed_seconds: float
    eta_seconds: float | None
    cancel_requested: bool
    error: str | None
    result_name: str | None
    run_name: str | None

    @property
    def fraction(self) -> float:
        """Share of the steps done, in [0, 1]."""
        if self.state == FINISHED:
            return 1.0
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def done(self) -> bool:
        """Whether the run has ended (finished, cancelled or failed)."""
        return self.state in DONE_STATES


def format_seconds(seconds: float | None) -> str:
    """``1:05`` / ``1:02:03`` style durations; ``–`` when unknown."""
    if seconds is None:
        return "–"
    seconds = round(max(0.0, float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class Progress:
    """Thread-safe live progress of one training run.

    Args:
        run_name: name of the run being trained (shown to other sessions).
        echo: optional callable given every log line as it is added (the CLI prints them).
    """

    run_name: str | None = None
    echo: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _state: str = PENDING
    _step: int = 0
    _total: int = 0
    _epoch: float = 0.0
    _losses: list[LossPoint] = field(default_factory=list)
    _evals: list[EvaluationPoint] = field(default_factory=list)
    _log: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time.time)
    _created_clock: float = field(default_factory=time.monotonic)
    _started_clock: float | None = None
    _last_clock: float = 0.0
    _finished_clock: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _error: str | None = None
    _result_name: str | None = None

    # -- writer side (the training thread) ---------------------------------------------------------

    def log(self, message: str) -> None:
        """Add a timestamped log line."""
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        line = f"{stamp} {message}"
        with self._lock:
            self._log.append(line)
            del self._log[:-MAX_LOG_LINES]
        if callable(self.echo):
            self.echo(line)

    def start(self, total_steps: int) -> None:
        """Mark the optimizer steps as starting now, this many planned (the ETA is measured from here)."""
        with self._lock:
            self._state = RUNNING
            self._total = max(self._step, int(total_steps))
            self._started_clock = time.monotonic()

    def set_total(self, total_steps: int) -> None:
        """Correct the planned step count (the trainer knows it exactly only once it starts)."""
        with self._lock:
            self._total = max(self._step, int(total_steps))

    def update(self, step: int, epoch: float | None = None) -> None:
        """Record that ``step`` optimizer steps are done; a smaller step than already seen is ignored."""
        with self._lock:
            if step <= self._step:
                return
            self._step = int(step)
            self._total = max(self._total, self._step)
            if epoch is not None:
                self._epoch = max(self._epoch, float(epoch))
            self._last_clock = time.monotonic()

    def add_loss(self, step: int, epoch: float, loss: float) -> None:
        """Record the training loss logged at ``step``."""
        with self._lock:
            if self._losses and step <= self._losses[-1].step:
                return
            self._losses.append(LossPoint(int(step), float(epoch), float(loss)))

    def add_eval(self, step: int, epoch: float, metrics: dict[str, float], label: str = "") -> None:
        """Record held-out metrics measured at ``step`` (``label``: "before training", "epoch 1", "final"...)."""
        with self._lock:
            self._evals.append(EvaluationPoint(int(step), float(epoch), label, dict(metrics)))

    def finish(self, state: str, *, error: str | None = None, result_name: str | None = None) -> None:
        """Mark the run ended (``finished``, ``cancelled`` or ``failed``)."""
        if state not in DONE_STATES:
            raise ValueError(f"not an end state: {state!r}")
        with self._lock:
            self._state = state
            self._error = error
            self._result_name = result_name
            self._finished_clock = time.monotonic()

    # -- control ------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the run to stop after the current step."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()

    # -- reader side --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """A consistent copy of everything, with elapsed time and ETA computed now."""
        with self._lock:
            end = self._finished_clock or time.monotonic()
            elapsed = end - self._created_clock
            eta = None
            if self._state == RUNNING and self._started_clock is not None and self._step > 0 and self._total:
                # Time per step so far (epoch evaluations included, since they recur).
                per_step = max(0.0, self._last_clock - self._started_clock) / self._step
                eta = per_step * (self._total - self._step)
            return Snapshot(
                state=self._state,
                step=self._step,
                total_steps=self._total,
                epoch=self._epoch,
                losses=tuple(self._losses),
                evals=tuple(self._evals),
                log=tuple(self._log),
                started=self._started,
                elapsed_seconds=elapsed,
                eta_seconds=eta,
                cancel_requested=self._cancel.is_set(),
                error=self._error,
                result_name=self._result_name,
                run_name=self.run_name,
            )
