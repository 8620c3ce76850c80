"""Run summary tables: the registry overview and a run's before/after held-out scores."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from medqa.runs.record import RunRecord
from medqa.runs.registry import Run
from medqa.training import summary


def _run(name: str, metrics: dict[str, float], baseline: dict[str, float] | None = None) -> Run:
    return Run(
        name=name,
        path=Path("/models") / name,
        created=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
        preset="recommended",
        data="full",
        metrics=metrics,
        duration_seconds=930.0,
        record=RunRecord(name=name, baseline_metrics=baseline or {}),
    )


def test_runs_table_has_one_row_per_run() -> None:
    table = summary.runs_table([_run("a", {"mrr@10": 0.55}), _run("b", {})])
    assert list(table["run"]) == ["a", "b"]
    assert table.loc[0, "held-out MRR@10"] == 0.55 and table.loc[0, "minutes"] == 15.5
    assert table.loc[0, "created"] == "2026-01-02 03:04"
    assert table["held-out MRR@10"].isna().iloc[1]


def test_runs_table_of_no_runs_keeps_its_columns() -> None:
    assert list(summary.runs_table([]).columns) == [
        "run", "preset", "data", "created", "held-out MRR@10", "minutes"
    ]  # fmt: skip


def test_before_after_lists_evaluated_metrics_in_order() -> None:
    run = _run("a", {"mrr@10": 0.55, "accuracy@1": 0.4, "map@100": 0.5}, {"mrr@10": 0.5})
    table = summary.before_after(run)
    assert list(table["metric"]) == ["Accuracy@1", "MRR@10"]
    assert table.loc[1, "before"] == 0.5 and table.loc[1, "after"] == 0.55
    assert table["before"].isna().iloc[0]


def test_before_after_without_evaluation_is_empty() -> None:
    assert summary.before_after(_run("a", {}, None)).empty
