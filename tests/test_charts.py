"""Plotly figures: the per-category comparison reads top-down from gains to losses and stays short."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medqa import charts


def _categories(count: int) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "group": [f"topic {n:02d}" for n in range(count)],
            "n": 3,
            "a": 0.5,
            "b": [n / count for n in range(count)],
        }
    )
    table["difference"] = table["b"] - table["a"]
    return table


def test_category_comparison_lists_the_biggest_gains_first_from_the_top() -> None:
    figure = charts.category_comparison(_categories(6), "a", "b", "MRR@10")
    # Plotly draws a categorical y axis bottom-up: the last entry of the array is the top row.
    order = list(figure.layout.yaxis.categoryarray)
    assert order[-1] == "topic 05" and order[0] == "topic 00"
    assert figure.layout.xaxis.range == (0, 1.05)


def test_category_comparison_keeps_the_ten_biggest_gains_and_losses() -> None:
    figure = charts.category_comparison(_categories(95), "a", "b", "MRR@10")
    shown = list(figure.layout.yaxis.categoryarray)
    assert len(shown) == 20
    assert shown[-1] == "topic 94" and shown[0] == "topic 00"
    assert "(20 of 95)" in figure.layout.title.text


def test_loss_chart_has_round_ticks_on_the_held_out_axis() -> None:
    from medqa.training.chart import loss_chart
    from medqa.training.progress import Progress

    progress = Progress()
    progress.start(10)
    for step in range(1, 11):
        progress.add_loss(step, step / 10, 1.0 / step)
    progress.add_eval(10, 1.0, {"mrr@10": 0.61}, label="epoch 1")
    figure = loss_chart(progress.snapshot())
    right = figure.layout.yaxis2
    assert (right.tickmode, right.tick0, right.dtick, right.tickformat) == ("linear", 0, 0.2, ".1f")


def test_explore_axes_are_readable(fixture_data: Path) -> None:
    from medqa.data import store

    full, curated = store.load_pairs(store.FULL), store.load_pairs(store.CURATED)
    histogram = charts.answer_length_histogram(full)
    assert histogram.layout.yaxis.type == "log" and histogram.layout.yaxis.dtick == 1
    bars = charts.curated_vs_full(curated, full)
    assert bars.layout.yaxis.type != "log" and bars.layout.yaxis.rangemode == "tozero"
