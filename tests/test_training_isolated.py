"""Training in a child process: events relayed to a live Progress, cancel both ways, crashes reported."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medqa import child_process, settings
from medqa.errors import DataNotFoundError, TrainingCancelled, TrainingError
from medqa.runs import registry
from medqa.training import isolated
from medqa.training.arguments import preset
from medqa.training.isolated import ReportingProgress, cancel_on_request, replay, train_in_child
from medqa.training.progress import CANCELLED, FAILED, FINISHED, Progress

TINY = {"max_steps": 3, "max_seq_length": 32, "batch_size": 4}


def _comparable(progress: Progress) -> tuple:
    snap = progress.snapshot()
    log = tuple(line.split(" ", 1)[1] for line in snap.log)  # without the time stamps
    return (snap.state, snap.step, snap.total_steps, snap.epoch, snap.losses, snap.evals, log, snap.error)


def test_every_progress_write_is_replayed_identically(capsys: pytest.CaptureFixture[str]) -> None:
    child = ReportingProgress(run_name="r")
    child.log("Setting up.")
    child.start(4)
    child.add_eval(0, 0.0, {"mrr@10": 0.25}, label="before training")
    for step in (1, 2, 3):
        child.update(step, step / 4)
        child.add_loss(step, step / 4, 1.0 / step)
    child.set_total(3)
    child.finish(FINISHED, result_name="r")
    lines = capsys.readouterr().out.splitlines()

    parent = Progress(run_name="r")
    assert all(replay(line, parent) for line in lines)
    assert _comparable(parent) == _comparable(child)
    assert parent.snapshot().result_name == "r"


@pytest.mark.parametrize(
    "line",
    [
        "Loading weights: 100%",
        "event not json",
        'event {"call": "cancel", "args": []}',  # only progress writes are replayed
        'event {"call": "snapshot", "args": []}',
        'event {"call": "update", "args": ["x", "y", "z"]}',
        'event {"args": [1]}',
    ],
)
def test_other_lines_change_nothing(line: str) -> None:
    progress = Progress()
    before = _comparable(progress)
    assert not replay(line, progress)
    assert _comparable(progress) == before and not progress.cancel_requested


@pytest.mark.parametrize("commands", [["noise\n", "cancel\n"], []], ids=["cancel line", "end of input"])
def test_child_cancels_when_asked_or_when_the_parent_is_gone(commands: list[str]) -> None:
    progress = Progress()
    cancel_on_request(progress, iter(commands)).join(5)
    assert progress.cancel_requested


def _leftovers() -> list[str]:
    return sorted(path.name for path in settings.models_dir().iterdir())


@pytest.mark.model
@pytest.mark.slow
def test_child_training_saves_the_run_and_streams_its_progress(training_data: Path) -> None:
    seen: list[int] = []

    class Recording(Progress):
        def update(self, step: int, epoch: float | None = None) -> None:
            seen.append(step)
            super().update(step, epoch)

    progress = Recording()
    run = train_in_child(preset("original", **TINY), "child-run", progress)
    assert run.name == "child-run" and _leftovers() == ["child-run"]
    assert [point["step"] for point in run.info["loss_history"]] == [1, 2, 3]
    snap = progress.snapshot()
    assert snap.state == FINISHED and snap.step == snap.total_steps == 3
    assert seen == sorted(seen) and seen[-1] == 3
    assert [point.step for point in snap.losses] == [1, 2, 3]
    assert snap.evals[0].label == "before training" and snap.evals[-1].step == 3
    assert any("Finished" in line for line in snap.log)
    assert [r.name for r in registry.list_runs()] == ["child-run"]


@pytest.mark.model
@pytest.mark.slow
def test_the_parent_never_imports_torch(training_data: Path) -> None:
    script = (
        "import sys\n"
        "from medqa.training.arguments import preset\n"
        "from medqa.training.isolated import train_in_child\n"
        "run = train_in_child(preset('original', max_steps=1, max_seq_length=32, batch_size=4,"
        " evaluation='none'), 'no-torch-here')\n"
        "print(run.info['training']['steps'], 'torch' in sys.modules)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ),
        cwd=settings.PROJECT_ROOT, timeout=600, check=True,
    ).stdout.split()  # fmt: skip
    assert output == ["1", "False"]


@pytest.mark.model
@pytest.mark.slow
def test_cancel_reaches_the_child_and_nothing_is_saved(training_data: Path) -> None:
    class CancelAtFirstStep(Progress):
        def update(self, step: int, epoch: float | None = None) -> None:
            super().update(step, epoch)
            self.cancel()

    progress = CancelAtFirstStep()
    with pytest.raises(TrainingCancelled):
        train_in_child(preset("original", max_steps=500, max_seq_length=32, batch_size=4), "gone", progress)
    snap = progress.snapshot()
    assert snap.state == CANCELLED and 1 <= snap.step < 500
    assert _leftovers() == [] and registry.list_runs() == []


@pytest.mark.model
@pytest.mark.slow
def test_the_childs_typed_error_is_raised_again(training_data: Path) -> None:
    progress = Progress()
    with pytest.raises(DataNotFoundError, match="no-such-set"):
        train_in_child(preset("original", data="no-such-set", **TINY), "broken", progress)
    assert progress.snapshot().state == FAILED and _leftovers() == []


@pytest.mark.model
@pytest.mark.slow
def test_a_killed_child_is_reported_and_its_scratch_removed(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the kernel's out-of-memory killer does: SIGKILL, so the child cannot clean up itself."""
    children: list[subprocess.Popen] = []
    forward = isolated._forward_cancel
    monkeypatch.setattr(
        isolated, "_forward_cancel", lambda p, child: (children.append(child), forward(p, child))
    )

    class KillAtFirstStep(Progress):
        def update(self, step: int, epoch: float | None = None) -> None:
            super().update(step, epoch)
            children[0].send_signal(signal.SIGKILL)

    progress = KillAtFirstStep()
    with pytest.raises(TrainingError, match="SIGKILL") as raised:
        train_in_child(preset("original", max_steps=500, max_seq_length=32, batch_size=4), "killed", progress)
    assert "out of memory" in str(raised.value)
    snap = progress.snapshot()
    assert snap.state == FAILED and "SIGKILL" in (snap.error or "")
    assert _leftovers() == [] and registry.list_runs() == []


@pytest.mark.model
@pytest.mark.slow
def test_a_child_that_fails_after_saving_still_gives_the_run(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is saved atomically before "finished" is reported: a bad exit after that loses nothing."""
    real = isolated.run_medqa

    def then_abort(*args, **kwargs):
        real(*args, **kwargs)
        raise TrainingError("Training failed (stopped by SIGABRT): Fatal Python error")

    monkeypatch.setattr(isolated, "run_medqa", then_abort)
    progress = Progress()
    run = train_in_child(preset("original", **TINY), "saved-then-aborted", progress)
    assert run.name == "saved-then-aborted" and _leftovers() == ["saved-then-aborted"]
    snap = progress.snapshot()
    assert snap.state == FINISHED and "ended badly after saving" in snap.log[-1]


def test_a_child_ends_at_once_after_its_last_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Started by the app (``MEDQA_CHILD_PROCESS``): flush, then exit without the interpreter's teardown;
    called anywhere else (CLI, in-process tests): just the exit code back."""
    exits: list[int] = []
    monkeypatch.delenv(child_process.CHILD_ENV, raising=False)
    assert child_process.end_child(2, exit=exits.append) == 2 and exits == []
    monkeypatch.setenv(child_process.CHILD_ENV, "1")
    print("last report", end="")
    assert child_process.end_child(0, exit=exits.append) == 0 and exits == [0]
    assert capsys.readouterr().out == "last report"


def test_the_app_marks_its_children(monkeypatch: pytest.MonkeyPatch) -> None:
    environments: list[dict[str, str]] = []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        environments.append(kwargs.get("env") or {})
        return popen(*args, **kwargs)

    monkeypatch.setattr(child_process.subprocess, "Popen", recording)
    child_process.run_medqa(["--help"], lambda line: None, what="Help", crash_error=TrainingError)
    assert environments and environments[0].get(child_process.CHILD_ENV) == "1"
    assert child_process.CHILD_ENV not in os.environ  # this process is no child


def test_events_go_to_their_own_stream(capsys: pytest.CaptureFixture[str]) -> None:
    events = io.StringIO()
    ReportingProgress(stream=events).log("hello")
    assert capsys.readouterr().out == ""
    assert replay(events.getvalue().strip(), progress := Progress())
    assert progress.snapshot().log[0].endswith("hello")


def test_the_child_command_prints_only_reports_on_stdout(workdirs: Path) -> None:
    """A failing ``train --events`` child: one failure report on stdout, and the rest on stderr."""
    config = workdirs / "config.json"
    config.write_text(json.dumps(preset("original", data="no-such-set").to_dict()))
    finished = subprocess.run(
        [sys.executable, "-m", "medqa", "train", "--config", str(config), "--out", "x", "--events"],
        capture_output=True, text=True, env=dict(os.environ), cwd=settings.PROJECT_ROOT, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    lines = finished.stdout.splitlines()
    assert finished.returncode == 2
    assert all(line.startswith(("event ", "failed ")) for line in lines), lines
    assert lines[-1].startswith("failed DataNotFoundError ")
