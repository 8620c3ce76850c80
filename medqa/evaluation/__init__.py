"""Retrieval evaluation: relevance by concept, per-query IR metrics and paired statistics.

One scoring path: :mod:`medqa.evaluation.relevance` decides which pairs answer a question,
:mod:`medqa.evaluation.metrics` scores rankings, :mod:`medqa.evaluation.sets` names the question sets
(``heldout``, ``consumer-dev``, ``consumer-test``, ``consumer``) and :mod:`medqa.evaluation.runner`
runs systems on them for the Compare page, the CLI and the bench scripts.
"""

from __future__ import annotations

from medqa.evaluation.metrics import (
    HEADLINE_METRICS,
    REPORT_METRICS,
    aggregate,
    display_name,
    first_relevant_rank,
    metric_names,
    per_query_metrics,
    rank_metrics,
    similarity_metrics,
)
from medqa.evaluation.relevance import Expectation, RelevanceJudge, expectation, normalise_name
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
    "REPORT_METRICS",
    "Expectation",
    "PairedComparison",
    "RelevanceJudge",
    "aggregate",
    "compare_systems",
    "display_name",
    "expectation",
    "first_relevant_rank",
    "metric_names",
    "normalise_name",
    "paired_bootstrap_ci",
    "paired_randomisation_test",
    "paired_wilcoxon_p",
    "per_query_metrics",
    "rank_metrics",
    "similarity_metrics",
    "spread_by_group",
    "spread_summary",
]
