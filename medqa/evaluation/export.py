"""Evaluation results as downloadable CSV and JSON.

CSV files are opened in spreadsheets, which run a cell starting with ``=``, ``+``, ``-`` or ``@``
(or a tab / carriage return before one) as a formula: a question or an answer from an uploaded file
could then execute on the reader's machine (CSV injection). Every text cell starting with one of
those characters gets a leading ``'`` so it is shown as text. Numbers are left as numbers (a negative
difference stays ``-0.03``); JSON needs no such care.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from medqa.evaluation.runner import EvaluationResult

#: First characters a spreadsheet may treat as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """Prefix a text cell with ``'`` when a spreadsheet would read it as a formula; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table whose text cells and column names cannot start a formula."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(str(name)) for name in safe.columns]
    return safe


def frame_to_csv(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes (with a byte-order mark, so spreadsheets detect UTF-8), neutralised."""
    # CRLF rows make the csv writer quote cells holding a bare "\r", which readers would split on.
    return safe_frame(table).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def per_query_csv(result: EvaluationResult) -> bytes:
    """One row per (system, query): rank of the first correct pair, top answer, every metric."""
    return frame_to_csv(result.per_query_table())


def summary_csv(result: EvaluationResult) -> bytes:
    """One row per system: mean of every headline metric with its 95% confidence interval."""
    return frame_to_csv(result.summary)


def _clean(value: object) -> object:
    """JSON-safe values: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_to_dict(result: EvaluationResult) -> dict[str, object]:
    """Everything an evaluation produced, as plain JSON-ready data."""
    evaluation_set = result.eval_set
    return _clean(
        {
            "evaluation_set": {
                "name": evaluation_set.name,
                "label": evaluation_set.label,
                "queries": len(evaluation_set),
                "judged_by": evaluation_set.judged_by,
                "fingerprint": evaluation_set.fingerprint(),
                "notes": list(evaluation_set.notes),
            },
            "corpus": {"name": result.corpus_name, "fingerprint": result.corpus_fingerprint},
            "systems": [asdict(system) for system in result.systems],
            "summary": result.summary.to_dict(orient="records"),
            "comparisons": [
                {
                    **asdict(comparison),
                    "significant": comparison.is_significant(),
                    "verdict": comparison.verdict(),
                }
                for comparison in result.comparisons
            ],
            "per_focus": result.spread_table(by="focus").to_dict(orient="records"),
            "per_qtype": result.spread_table(by="qtype").to_dict(orient="records"),
            "per_query": result.per_query_table().to_dict(orient="records"),
        }
    )  # type: ignore[return-value]


def result_to_json(result: EvaluationResult) -> str:
    """:func:`result_to_dict` as indented JSON text."""
    return json.dumps(result_to_dict(result), indent=2, ensure_ascii=False)


def _with_ci(mean: float, low: float, high: float) -> str:
    if not math.isfinite(low) or not math.isfinite(high):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.2f}, {high:.2f}]"


def summary_text(result: EvaluationResult, metrics: tuple[str, ...] | None = None) -> str:
    """A plain-text report: what was evaluated, the metrics table with 95% CIs, and the verdicts."""
    from medqa.evaluation.metrics import display_name
    from medqa.evaluation.runner import CHART_METRICS

    metrics = metrics or CHART_METRICS
    evaluation_set = result.eval_set
    rows = [
        {
            "system": str(row["system"]),
            **{
                display_name(metric): _with_ci(row[metric], row[f"{metric} low"], row[f"{metric} high"])
                for metric in metrics
            },
        }
        for _, row in result.summary.iterrows()
    ]
    table = pd.DataFrame(rows).to_string(index=False)
    lines = [
        f"set: {evaluation_set.label}, judged by {evaluation_set.judged_by}; corpus: {result.corpus_name}",
        *(f"  note: {note}" for note in result.notes),
        "metrics: mean [95% bootstrap CI]",
        table,
    ]
    if result.comparisons:
        lines.append(f"compared with {result.reference} (paired bootstrap CI, randomisation test):")
        lines.extend(f"  - {verdict}" for verdict in result.verdicts())
    return "\n".join(lines)
