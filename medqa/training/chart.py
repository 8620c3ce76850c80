"""The live training chart: loss per step with held-out evaluation points on a second axis."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from medqa.training.progress import Snapshot

#: Metric drawn as evaluation points.
EVAL_METRIC = "mrr@10"


def smoothed(values: list[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average (TensorBoard-style, bias-corrected), to read a noisy per-step loss."""
    result, average = [], 0.0
    for count, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        result.append(average / (1 - weight**count))
    return result


def loss_chart(snapshot: Snapshot, metric: str = EVAL_METRIC) -> go.Figure:
    """Training loss (raw and smoothed) against step, and held-out ``metric`` at its evaluation steps."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    steps = [point.step for point in snapshot.losses]
    losses = [point.loss for point in snapshot.losses]
    figure.add_trace(
        go.Scatter(
            x=steps, y=losses, name="loss", mode="lines", line={"width": 1, "color": "#9ab"}, opacity=0.6
        ),
        secondary_y=False,
    )
    if len(losses) > 2:
        figure.add_trace(
            go.Scatter(
                x=steps, y=smoothed(losses), name="loss (smoothed)", mode="lines", line={"color": "#1f77b4"}
            ),
            secondary_y=False,
        )
    evals = [point for point in snapshot.evals if metric in point.metrics]
    if evals:
        figure.add_trace(
            go.Scatter(
                x=[point.step for point in evals],
                y=[point.metrics[metric] for point in evals],
                name=f"held-out {metric}",
                mode="markers+lines",
                marker={"size": 10, "color": "#d62728"},
                line={"dash": "dot", "color": "#d62728"},
                text=[point.label for point in evals],
                hovertemplate="%{text}<br>step %{x}: %{y:.3f}<extra></extra>",
            ),
            secondary_y=True,
        )
    figure.update_xaxes(title_text="step", range=[0, max(snapshot.total_steps, max(steps, default=1), 1)])
    figure.update_yaxes(title_text="training loss", secondary_y=False, rangemode="tozero", tickformat=".2~f")
    # Fixed, round ticks on the right (0, 0.2 ... 1) and no second grid: plotly's default syncs them to
    # the loss axis's gridlines, which gave ticks such as 0.221 / 0.443.
    figure.update_yaxes(
        title_text=f"held-out {metric}",
        secondary_y=True,
        range=[0, 1],
        tickmode="linear",
        tick0=0,
        dtick=0.2,
        tickformat=".1f",
        showgrid=False,
    )
    figure.update_layout(
        height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": 1.12}
    )
    return figure
