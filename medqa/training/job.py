"""One background training per server process, shared by every session that looks at it.

The Train page calls :func:`start_job`; a second browser session (or a reloaded page) calls
:func:`current_job` and sees the same live :class:`~medqa.training.progress.Progress`. Starting while a
job runs raises :class:`~medqa.errors.TrainingBusyError`, so two trainings never compete for the CPU.
The job's thread only waits: the training itself runs in a child process
(:func:`medqa.training.isolated.train_in_child`), so the server never holds torch.
The module-level state lives as long as the process (Streamlit imports modules once per server).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from medqa.errors import MedQAError, TrainingBusyError
from medqa.runs import registry
from medqa.training.arguments import TrainingConfig
from medqa.training.progress import Progress, Snapshot

TrainFunction = Callable[..., registry.Run]


@dataclass
class TrainingJob:
    """A training running (or run) in a background thread.

    Attributes:
        id: unique id of the job (pages remember it to know whether they started it).
        name: the run name being written.
        config: what is being trained.
        progress: live progress, shared with every watcher.
        started: wall-clock start time (``time.time()``).
        run: the finished run, once saved.
        error: the error message when it failed or was cancelled.
    """

    id: str
    name: str
    config: TrainingConfig
    progress: Progress
    started: float
    thread: threading.Thread | None = field(default=None, repr=False)
    run: registry.Run | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        """Whether the training thread is still working."""
        return self.thread is not None and self.thread.is_alive()

    def snapshot(self) -> Snapshot:
        """The job's progress right now."""
        return self.progress.snapshot()

    def cancel(self) -> None:
        """Ask the training to stop after the current step (nothing is saved)."""
        self.progress.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); ``True`` when it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running


_lock = threading.Lock()
_current: TrainingJob | None = None


def current_job() -> TrainingJob | None:
    """The running job, else the last one this process ran (so its result stays visible), else ``None``."""
    return _current


def running_job() -> TrainingJob | None:
    """The job that is running now, or ``None``."""
    job = _current
    return job if job is not None and job.running else None


def _default_train() -> TrainFunction:
    from medqa.training.isolated import train_in_child

    return train_in_child


def start_job(
    config: TrainingConfig,
    name: str,
    *,
    overwrite: bool = False,
    train_function: TrainFunction | None = None,
) -> TrainingJob:
    """Start training ``config`` into run ``name`` in a background thread.

    Args:
        config: the training config.
        name: run name (checked with :func:`~medqa.runs.registry.sanitize_run_name`).
        overwrite: replace an existing run of that name once the new one is complete.
        train_function: the training entry point (tests pass a stand-in); defaults to
            :func:`medqa.training.isolated.train_in_child`, so this process never imports torch.

    Raises:
        TrainingBusyError: a training is already running in this process; attach to it with
            :func:`current_job`.
        RunNameError: the name is invalid or taken (and ``overwrite`` is off).
    """
    global _current
    with _lock:
        busy = running_job()
        if busy is not None:
            snapshot = busy.snapshot()
            raise TrainingBusyError(
                f"A training ({busy.name!r}, step {snapshot.step}/{snapshot.total_steps}) is already running on "
                "this server; wait for it or cancel it first."
            )
        name = registry.sanitize_run_name(name)
        if registry.run_exists(name) and not overwrite:
            raise registry.RunNameError(f"A run named {name!r} already exists; choose another name.")
        train = train_function or _default_train()
        progress = Progress(run_name=name)
        job = TrainingJob(
            id=uuid.uuid4().hex[:12], name=name, config=config, progress=progress, started=time.time()
        )

        def work() -> None:
            try:
                job.run = train(config, name, progress, overwrite=overwrite)
            except MedQAError as error:
                job.error = str(error)
            except Exception as error:  # the thread must never die silently
                job.error = f"{type(error).__name__}: {error}"
                if not progress.snapshot().done:
                    progress.finish("failed", error=job.error)

        job.thread = threading.Thread(target=work, name=f"medqa-training-{name}", daemon=True)
        _current = job
        job.thread.start()
        return job


def cancel_current() -> bool:
    """Cancel the running job, if any; ``True`` when there was one."""
    job = running_job()
    if job is None:
        return False
    job.cancel()
    return True
