"""The run registry: names, listing complete runs only, reporting the rest, deleting."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa import settings
from medqa.errors import RunNameError
from medqa.runs import registry
from tests.conftest import saved_run


def _fake_run(name: str, created: str = "2026-01-02T03:04:05+00:00", metrics: dict | None = None) -> Path:
    return saved_run(name, created=created, metrics=metrics or {"mrr@10": 0.5})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "../x",
        "..",
        "a/b",
        "a\\b",
        "/etc",
        "x\x00y",
        "tab\there",
        ".hidden",
        "base",
        "bad?name",
        "x" * 97,
    ],
)
def test_unusable_names_are_refused(text: str) -> None:
    with pytest.raises(RunNameError):
        registry.sanitize_run_name(text)


def test_usable_names_are_kept() -> None:
    assert registry.sanitize_run_name("  my-run_2.1 ") == "my-run_2.1"
    assert registry.sanitize_run_name("my run") == "my-run"


def test_lists_complete_runs_and_reports_broken_folders(workdirs: Path) -> None:
    _fake_run("older", created="2026-01-01T00:00:00+00:00")
    _fake_run("newer", created="2026-02-01T00:00:00+00:00", metrics={"mrr@10": 0.6, "note": "text"})
    root = settings.models_dir()
    (root / "no-record").mkdir()
    bad_json = _fake_run("bad-json")
    (bad_json / registry.RUN_FILE).write_text("{not json")
    truncated = _fake_run("truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (root / ".tmp-half-written-1234").mkdir()
    (root / "README.md").write_text("not a run")

    runs = registry.list_runs()
    assert [run.name for run in runs] == ["newer", "older"]
    assert runs[0].metrics == {"mrr@10": 0.6} and runs[0].preset == "original"
    problems = {problem.name: problem.reason for problem in registry.list_problems()}
    assert set(problems) == {"no-record", "bad-json", "truncated"}
    assert "run.json" in problems["no-record"] and "unreadable" in problems["bad-json"]
    assert "model files" in problems["truncated"]

    assert registry.get_run("older").name == "older"
    with pytest.raises(RunNameError, match="incomplete"):
        registry.get_run("truncated")
    with pytest.raises(RunNameError, match="No trained run"):
        registry.get_run("missing")


def test_delete_run(workdirs: Path) -> None:
    _fake_run("doomed")
    registry.delete_run("doomed")
    assert not (settings.models_dir() / "doomed").exists()
    with pytest.raises(RunNameError):
        registry.delete_run("doomed")
    with pytest.raises(RunNameError):
        registry.delete_run("../data")
