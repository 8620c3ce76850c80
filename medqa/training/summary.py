"""Tables that summarise trained runs for display: the registry overview and a run's before/after scores."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from medqa.evaluation.metrics import display_name
from medqa.runs.registry import Run

#: Held-out metrics shown after a training, in this order.
HEADLINE_METRICS = ("accuracy@1", "accuracy@3", "mrr@10", "ndcg@10")


def runs_table(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run: name, preset, data, when it finished, held-out MRR@10 and minutes trained."""
    rows = [
        {
            "run": run.name,
            "preset": run.preset,
            "data": run.data,
            "created": run.created.strftime("%Y-%m-%d %H:%M"),
            "held-out MRR@10": run.metrics.get("mrr@10"),
            "minutes": round(run.duration_seconds / 60, 1),
        }
        for run in runs
    ]
    return pd.DataFrame(rows, columns=["run", "preset", "data", "created", "held-out MRR@10", "minutes"])


def before_after(run: Run) -> pd.DataFrame:
    """Held-out scores of the starting model (``before``) and of the trained run (``after``).

    Only metrics the run was evaluated on are listed; ``before`` is empty when the baseline was not
    evaluated (``eval_baseline`` off).
    """
    baseline = run.record.baseline_metrics if run.record is not None else {}
    rows = [
        {"metric": display_name(metric), "before": baseline.get(metric), "after": run.metrics[metric]}
        for metric in HEADLINE_METRICS
        if metric in run.metrics
    ]
    return pd.DataFrame(rows, columns=["metric", "before", "after"])
