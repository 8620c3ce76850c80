"""Live progress: monotonic steps under concurrent writers, ETA, cancel and end states."""

from __future__ import annotations

import threading
import time

import pytest

from medqa.training.progress import CANCELLED, FINISHED, PENDING, RUNNING, Progress, format_seconds


def test_steps_never_go_back_even_with_concurrent_writers() -> None:
    progress = Progress(run_name="x")
    progress.start(1000)
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(progress.snapshot().step)

    def writer(offset: int) -> None:
        for step in range(offset, 1001, 3):
            progress.update(step, step / 100)
            progress.add_loss(step, step / 100, 1.0 / step)

    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in (1, 2, 3)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    watcher.join()
    assert seen == sorted(seen)
    snap = progress.snapshot()
    assert snap.step == 1000 and snap.epoch == 10.0
    steps = [point.step for point in snap.losses]
    assert steps == sorted(set(steps))


def test_eta_fraction_and_states() -> None:
    progress = Progress()
    assert progress.snapshot().state == PENDING and progress.snapshot().eta_seconds is None
    progress.start(10)
    progress.update(2, 0.2)
    time.sleep(0.05)
    progress.update(4, 0.4)
    snap = progress.snapshot()
    assert snap.state == RUNNING and snap.fraction == pytest.approx(0.4)
    assert snap.eta_seconds is not None and snap.eta_seconds > 0
    progress.update(3)  # late or repeated report: ignored
    assert progress.snapshot().step == 4
    progress.finish(FINISHED, result_name="x")
    done = progress.snapshot()
    assert done.done and done.fraction == 1.0 and done.eta_seconds is None and done.result_name == "x"
    with pytest.raises(ValueError):
        progress.finish(RUNNING)


def test_cancel_flag_log_lines_and_echo() -> None:
    lines: list[str] = []
    progress = Progress(echo=lines.append)
    progress.log("Setting up")
    assert not progress.cancel_requested
    progress.cancel()
    assert progress.cancel_requested and progress.snapshot().cancel_requested
    progress.finish(CANCELLED, error="stopped")
    assert progress.snapshot().error == "stopped"
    assert lines[0].endswith("Setting up") and progress.snapshot().log == tuple(lines)


def test_eval_points_keep_labels() -> None:
    progress = Progress()
    progress.add_eval(0, 0.0, {"mrr@10": 0.4}, label="before training")
    progress.add_eval(5, 1.0, {"mrr@10": 0.5}, label="epoch 1")
    assert [(e.step, e.label) for e in progress.snapshot().evals] == [(0, "before training"), (5, "epoch 1")]


def test_format_seconds() -> None:
    assert format_seconds(None) == "–"
    assert format_seconds(65) == "1:05"
    assert format_seconds(3723) == "1:02:03"
