"""``python -m medqa publish`` / ``import``: one-line errors, a hidden token prompt, imports that land."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from medqa.cli import main
from medqa.runs import registry
from medqa.training import hub
from tests.conftest import saved_run
from tests.test_training_hub import FakeHub

TOKEN = "hf_CommandLineTokenNeverShown12345"


def test_offline_publish_and_import_are_one_line_errors(
    workdirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    saved_run("ready")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["publish", "ready", "someone/ready"]) == 2
    assert main(["import", "someone/ready", "--name", "back"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("error:") == 2 and "offline" in captured.err and "Traceback" not in captured.err
    assert TOKEN not in captured.out + captured.err
    assert [run.name for run in registry.list_runs()] == ["ready"]


def test_import_with_a_prompted_token(
    workdirs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import huggingface_hub

    repo = saved_run("published")
    fake = FakeHub(Path(repo))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.setattr(getpass, "getpass", lambda prompt: TOKEN)
    assert main(["import", "someone/published", "--name", "again", "--ask-token"]) == 0
    out = capsys.readouterr().out
    assert "imported someone/published as again" in out and TOKEN not in out
    assert fake.calls[0]["token"] == TOKEN
    assert registry.get_run("again").info["imported_from"]["repo_id"] == "someone/published"
    assert tuple(fake.calls[0]["allow_patterns"]) == hub.IMPORT_PATTERNS


def test_index_publish_and_import_are_commands_with_one_line_errors(
    workdirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["publish-index", "someone/medqa-index"]) == 2
    assert main(["import-index", "someone/medqa-index", "--model", "base"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("error:") == 2 and "offline" in captured.err and "Traceback" not in captured.err
    assert TOKEN not in captured.out + captured.err
