"""``python -m medqa train``: a tiny run through the CLI, and clean errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from medqa import settings
from medqa.cli import main


@pytest.mark.model
@pytest.mark.slow
def test_train_command_prints_progress_and_metrics(
    training_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(training_data)  # "models/cli-run" is then the test's own models folder
    code = main(
        [
            "train",
            "--out",
            "models/cli-run",
            "--max-steps",
            "2",
            "--max-seq-length",
            "32",
            "--batch-size",
            "4",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "saved cli-run" in captured.out and "mrr@10" in captured.out
    assert "samples/s" in captured.out and ("peak memory" in captured.out or sys.platform == "win32")
    assert "Setting up" in captured.err and "Finished" in captured.err
    assert str(settings.models_dir() / "cli-run") in captured.out, captured.out
    info = json.loads((settings.models_dir() / "cli-run" / "run.json").read_text())
    assert info["config"]["max_steps"] == 2 and info["config"]["preset"] == "custom"

    # Train again from that run's record, changing one value.
    run_json = settings.models_dir() / "cli-run" / "run.json"
    assert main(["train", "--config", str(run_json), "--max-steps", "1", "--out", "again"]) == 0
    again = json.loads((settings.models_dir() / "again" / "run.json").read_text())["config"]
    assert again == {**info["config"], "max_steps": 1}


def test_train_command_errors_are_one_line(training_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", "models/bad name?", "--max-steps", "1"]) == 2
    assert main(["train", "--out", "x1", "--data", "missing-set", "--max-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert list(settings.models_dir().iterdir()) == []
