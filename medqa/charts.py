"""Plotly figures for the pages. Built from the tables in :mod:`medqa.data.stats`."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from medqa.data import schema as col
from medqa.data import stats


def category_balance(table: pd.DataFrame, *, top: int = 40, title: str | None = None) -> go.Figure:
    """Bar chart of answered pairs per focus area, coloured by split when the table has one."""
    counts = stats.split_counts(table)
    if counts.empty:
        counts = stats.focus_counts(table, top)
        figure = px.bar(counts, x=col.FOCUS, y="pairs")
    else:
        order = stats.focus_counts(table, top)[col.FOCUS]
        counts = counts[counts[col.FOCUS].isin(order)]
        figure = px.bar(
            counts, x=col.FOCUS, y="pairs", color=col.SPLIT, category_orders={col.FOCUS: list(order)}
        )
    figure.update_layout(
        title=title or f"Pairs per focus area (top {top})",
        xaxis_title=None,
        yaxis_title="pairs",
        xaxis_tickangle=-45,
    )
    return figure


def qtype_heatmap(table: pd.DataFrame, *, top_focus: int = 40) -> go.Figure:
    """Heatmap of question type x focus area counts."""
    matrix = stats.qtype_by_focus(table, top_focus)
    figure = px.imshow(
        matrix.T, aspect="auto", color_continuous_scale="Blues", labels={"color": "pairs", "x": "", "y": ""}
    )
    figure.update_layout(title="Question types per focus area", xaxis_tickangle=-45)
    return figure


def source_bars(table: pd.DataFrame) -> go.Figure:
    """Stacked bars of answered and unanswered pairs per NIH source."""
    breakdown = stats.source_breakdown(table).melt(id_vars=col.SOURCE, var_name="status", value_name="pairs")
    figure = px.bar(breakdown, x=col.SOURCE, y="pairs", color="status", barmode="stack")
    figure.update_layout(title="Pairs per source", xaxis_title=None)
    return figure


def answer_length_histogram(table: pd.DataFrame) -> go.Figure:
    """Histogram of answer lengths in words (log-scaled counts: lengths are long-tailed)."""
    lengths = stats.answer_lengths(table)
    figure = px.histogram(lengths, x="words", nbins=60, log_y=True)
    # One labelled tick per power of ten (1, 10, 100, 1,000): plotly's default log ticks label the
    # 2s and 5s too, which read as "5, 2, 1000, 5, 2, 100".
    figure.update_yaxes(dtick=1, tickformat=",d")
    figure.update_layout(title="Answer length (words)", yaxis_title="answers (log scale)")
    return figure


def curated_vs_full(curated: pd.DataFrame, full: pd.DataFrame) -> go.Figure:
    """Grouped bars: pairs per curated focus area, curated subset vs the full collection."""
    counts = stats.curated_vs_full(curated, full)
    # A linear axis from zero, so bar lengths compare honestly (a log axis made 13 look like a stub).
    figure = px.bar(counts, x=col.FOCUS, y="pairs", color="dataset", barmode="group", text="pairs")
    figure.update_traces(textposition="outside", cliponaxis=False)
    figure.update_layout(
        title="Curated subset vs full MedQuAD (answered pairs per focus area)",
        xaxis_title=None,
        xaxis_tickangle=-45,
        yaxis_rangemode="tozero",
    )
    return figure


def metric_bars(summary: pd.DataFrame, metrics: list[str] | tuple[str, ...]) -> go.Figure:
    """Grouped bars of headline metrics per system, with 95% CI error bars.

    Args:
        summary: One row per system with ``system``, and per metric ``<m>``, ``<m> low``, ``<m> high``
            (:attr:`medqa.evaluation.runner.EvaluationResult.summary`).
        metrics: Metric columns to show, in order.
    """
    from medqa.evaluation.metrics import display_name

    rows = [
        {
            "system": row["system"],
            "metric": display_name(metric),
            "value": row[metric],
            "above": row[f"{metric} high"] - row[metric],
            "below": row[metric] - row[f"{metric} low"],
        }
        for _, row in summary.iterrows()
        for metric in metrics
    ]
    long = pd.DataFrame(rows)
    figure = px.bar(
        long,
        x="metric",
        y="value",
        color="system",
        barmode="group",
        error_y="above",
        error_y_minus="below",
        category_orders={"metric": [display_name(m) for m in metrics], "system": list(summary["system"])},
    )
    figure.update_layout(
        title="Headline metrics (bars: mean over queries; whiskers: 95% CI)",
        xaxis_title=None,
        yaxis_title="score",
        yaxis_range=[0, 1.05],
        legend_title_text="system",
    )
    return figure


def category_comparison(
    table: pd.DataFrame, label_a: str, label_b: str, metric_label: str, *, limit: int = 10
) -> go.Figure:
    """Two systems' mean metric per category (focus area or question type), biggest gains at the top.

    With more than ``2 * limit`` categories only the ``limit`` biggest gains and the ``limit`` biggest
    losses are drawn (a 95-row chart is 12,000 px tall on a phone).

    Args:
        table: Columns ``group``, ``n``, ``label_a``, ``label_b`` and ``difference`` (b - a), as from
            :meth:`medqa.evaluation.runner.EvaluationResult.category_comparison`.
        label_a: The reference system.
        label_b: The system compared with it.
        metric_label: Metric shown, for the title and axis.
        limit: categories kept at each end.
    """
    ordered = table.sort_values(["difference", "group"], ascending=[False, True], kind="stable")
    total = len(ordered)
    if total > 2 * limit:
        ordered = pd.concat([ordered.head(limit), ordered.tail(limit)])
    title = f"{metric_label} per category ({len(ordered)} of {total})"
    long = ordered.melt(
        id_vars=["group", "n", "difference"], value_vars=[label_a, label_b], var_name="system"
    )
    groups = list(ordered["group"])
    figure = px.bar(
        long,
        x="value",
        y="group",
        color="system",
        barmode="group",
        orientation="h",
        hover_data={"n": True, "difference": ":.3f"},
        category_orders={"system": [label_a, label_b]},
    )
    # Categorical y axes are drawn bottom-up: list them in reverse so the first row is at the top.
    figure.update_yaxes(categoryorder="array", categoryarray=groups[::-1], automargin=True)
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title=metric_label,
        xaxis_range=[0, 1.05],
        yaxis_title=None,
        height=max(360, 30 * len(ordered) + 140),
        legend={"title_text": "system", "orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 10},
    )
    return figure
