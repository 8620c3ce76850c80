"""Retrieval evaluation: per-query IR metrics and paired statistics for comparing two systems."""

from __future__ import annotations

from medqa.evaluation.metrics import (
    HEADLINE_METRICS,
    aggregate,
    display_name,
    metric_names,
    per_query_metrics,
)
from medqa.evaluation.statistics import (
    PairedComparison,
    compare_systems,
    paired_bootstrap_ci,
    paired_randomisation_test,
    paired_wilcoxon_p,
    spread_by_group,
    spread_summary,
)

__all__ = [
    "HEADLINE_METRICS",
    "PairedComparison",
    "aggregate",
    "compare_systems",
    "display_name",
    "metric_names",
    "paired_bootstrap_ci",
    "paired_randomisation_test",
    "paired_wilcoxon_p",
    "per_query_metrics",
    "spread_by_group",
    "spread_summary",
]
