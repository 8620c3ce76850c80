"""The background job manager: one training per process, attach, busy error, cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from medqa.errors import RunNameError, TrainingBusyError, TrainingCancelled
from medqa.training import job
from medqa.training.arguments import preset
from medqa.training.progress import CANCELLED, FINISHED


class SteppingTrainer:
    """Stands in for the trainer: advances one step each time it is released, honours cancel."""

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps
        self.release = threading.Semaphore(0)

    def __call__(self, config, name, progress, overwrite=False):
        progress.start(self.steps)
        for step in range(1, self.steps + 1):
            self.release.acquire(timeout=10)
            progress.update(step, step / self.steps)
            if progress.cancel_requested:
                progress.finish(CANCELLED, error="cancelled")
                raise TrainingCancelled("Training was cancelled; nothing was saved.")
        progress.finish(FINISHED, result_name=name)
        return "a run"


def test_one_job_at_a_time_and_a_second_caller_attaches(workdirs: Path) -> None:
    fake = SteppingTrainer()
    started = job.start_job(preset("original"), "first", train_function=fake)
    assert job.current_job() is started and job.running_job() is started
    with pytest.raises(TrainingBusyError, match="first"):
        job.start_job(preset("original"), "second", train_function=fake)
    assert job.current_job() is started  # the second caller sees the running job
    for _ in range(3):
        fake.release.release()
    assert started.wait(10)
    assert started.run == "a run" and started.snapshot().state == FINISHED
    assert job.running_job() is None and job.current_job() is started  # result stays visible
    # A new job can start once the previous one is over.
    second = SteppingTrainer(1)
    again = job.start_job(preset("original"), "second", train_function=second)
    assert job.current_job() is again
    second.release.release()
    assert again.wait(10) and again.snapshot().state == FINISHED


def test_cancel_stops_the_running_job(workdirs: Path) -> None:
    fake = SteppingTrainer(steps=5)
    started = job.start_job(preset("original"), "to-cancel", train_function=fake)
    fake.release.release()
    assert job.cancel_current()
    fake.release.release()
    assert started.wait(10)
    assert started.snapshot().state == CANCELLED and "cancelled" in started.error
    assert not job.cancel_current()


def test_bad_names_fail_before_starting(workdirs: Path) -> None:
    with pytest.raises(RunNameError):
        job.start_job(preset("original"), "../nope", train_function=SteppingTrainer())
    (workdirs / "models").mkdir(exist_ok=True)
    (workdirs / "models" / "exists").mkdir()
    with pytest.raises(RunNameError, match="already exists"):
        job.start_job(preset("original"), "exists", train_function=SteppingTrainer())
