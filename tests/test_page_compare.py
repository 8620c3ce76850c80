"""The Compare page: two systems on one set, metrics with CIs, verdicts, disagreements, export, ask both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medqa.data import store
from medqa.evaluation import sets
from medqa.retrieval import builds
from medqa.safety import DISCLAIMER
from tests.conftest import open_page

PAGE = "pages/4_Compare.py"


@pytest.fixture
def built(workdirs: Path, fixture_zip: Path) -> None:
    store.build_datasets(str(fixture_zip), categories=3, per_category=5, test_per_category=1)


def _texts(page, kind: str) -> list[str]:
    return [str(element.value) for element in page.get(kind)]


def _summary(page):
    from medqa.evaluation.runner import EvaluationResult

    stored = page.session_state["compare_result"][1]
    assert isinstance(stored, EvaluationResult)
    return stored.summary


def test_without_data_points_to_home(workdirs: Path) -> None:
    page = open_page(PAGE)
    assert not page.exception
    assert "No data yet" in page.warning[0].value


@pytest.mark.model
def test_two_systems_on_consumer_questions(built: None) -> None:
    page = open_page(PAGE)
    assert not page.exception
    # No trained run: the choice defaults to BM25 against the base model.
    assert page.multiselect(key="compare_systems").value == ["bm25", "base"]
    # Over the full corpus the fast set comes first: the consumer questions, ranked in Ask's indexes.
    assert page.radio(key="compare_set").value == sets.CONSUMER
    n = len(sets.consumer(store.FULL))  # the shipped questions whose topic the test corpus has
    assert any(f"Consumer questions ({n})" in caption for caption in _texts(page, "caption"))
    assert not page.get("plotly_chart")  # nothing is computed before the button is pressed
    # Before starting, how long it will take and why (no index of this corpus yet).
    assert any(
        caption.startswith("Results not computed yet for this choice. This takes")
        and "base needs a search index of this corpus first" in caption
        for caption in _texts(page, "caption")
    )

    # Evaluate: the base model's index of this corpus is built in the background first (a page change
    # does not lose it), its progress shown; the comparison runs when it is ready.
    page.button(key="compare_run").click().run()
    assert not page.exception
    assert "being built in the background" in page.info[0].value
    waiting = builds.active()
    assert [build.label for build in waiting] == ["the full corpus · base (for Compare)"]
    assert waiting[0].wait(300) and waiting[0].error is None
    page.run()
    assert not page.exception
    assert page.success[0].value.startswith("Evaluated in")

    # A plain headline first: how often each system puts an answer on the right topic first.
    summary = {row["system"]: row["accuracy@1"] for _, row in _summary(page).iterrows()}
    headline = next(text for text in _texts(page, "markdown") if "comes first for" in text)
    assert f"**{summary['base']:.0%}** of the questions with **base**" in headline
    assert f"against **{summary['BM25']:.0%}** with **BM25**" in headline
    # One row per metric with what it means, one column per system (fits the page).
    metrics = page.dataframe[0].value
    assert list(metrics.columns) == ["metric", "what it means", "BM25", "base"]
    assert metrics["metric"].tolist()[:2] == ["Accuracy@1", "Accuracy@3"]
    assert metrics["what it means"].iloc[0] == "Share of questions whose first answer is right."
    assert any(f"{n} questions" in caption for caption in _texts(page, "caption"))
    # Every cell: mean with its 95% CI in brackets, e.g. "0.786 (0.57–1.00)".
    assert all("(" in cell and "–" in cell for cell in metrics["base"])
    verdicts = [
        text for text in _texts(page, "info") + _texts(page, "success") if "between BM25 and base" in text
    ]
    assert len(verdicts) == 2 and all("95% CI" in text for text in verdicts)
    assert len(page.get("plotly_chart")) == 2  # headline bars and per-category chart

    # On the fixture corpus (BM25 over questions, focus, synonyms and answers) base finds the right area
    # for some questions BM25 misses, and loses none.
    outcome = {element.label: int(element.value) for element in page.metric}
    wins = outcome["base better"]
    assert wins >= 1 and outcome["BM25 better"] == 0 and outcome["Ties"] == n - wins
    disagreements = page.dataframe[-1].value
    assert len(disagreements) == wins
    assert {"top answer (BM25)", "top answer (base)"} <= set(disagreements.columns)
    assert disagreements["outcome"].eq("base better").all()
    ranks = disagreements["rank (BM25)"].tolist() + disagreements["rank (base)"].tolist()
    assert all(isinstance(rank, str) and rank != "None" for rank in ranks)  # never "None"
    # One disagreement read in full: both top answers side by side, as plain text.
    assert len(page.selectbox(key="compare_pick").options) == wins
    texts = _texts(page, "text")
    assert f"Question: {disagreements['query'].iloc[0]}" in texts
    assert "base: first correct pair at rank 1" in texts
    assert any(text.startswith("BM25: first correct pair at rank") for text in texts)
    # Both top answers through the shared answer renderer (formatted Markdown, data escaped).
    shown = [
        re.sub(r"\\(.)", r"\1", text).replace(":yellow-background[**", "").replace("**]", "")
        for text in _texts(page, "markdown")
    ]
    assert disagreements["top answer (base)"].iloc[0] in shown
    assert any("not medical advice" in text for text in _texts(page, "info"))  # the disclaimer

    downloads = page.get("download_button")
    assert len(downloads) == 3

    page.text_input(key="compare_question").input("my big toe is red and swollen").run()
    assert not page.exception
    # The Ask page's renderer: labelled columns, formatted cards, the disclaimer last.
    markdown = _texts(page, "markdown")
    assert markdown.count("**BM25**") == 1 and markdown.count("**base**") == 1
    assert sum(text.startswith("**1. Gout") for text in markdown) == 2
    assert _texts(page, "caption")[-1] == DISCLAIMER

    # An emergency: the notice first, never "I don't have a reliable answer" after it.
    page.text_input(key="compare_question").input(
        "my dad's face is drooping and he can't speak right now"
    ).run()
    assert not page.exception
    assert page.error and page.error[0].value.startswith("**Emergency (Stroke).**")
    assert not any("reliable answer" in text for text in _texts(page, "warning"))


@pytest.mark.model
def test_cached_results_appear_without_pressing_evaluate(built: None) -> None:
    from medqa.evaluation import runner

    evaluation = sets.consumer(store.FULL)
    runner.evaluate(["bm25", "base"], evaluation, n_resamples=200)
    page = open_page(PAGE)
    page.radio(key="compare_set").set_value(sets.CONSUMER).run()
    assert not page.exception
    assert page.success[0].value == "Loaded from the cache."
    assert list(page.dataframe[0].value.columns)[2:] == ["BM25", "base"]


def test_a_failed_index_build_is_an_error_not_a_wait(built: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def failed(corpus, model, *, label, **kwargs) -> builds.IndexBuild:
        return builds.IndexBuild(key="k", label=label, finished=1.0, error="Out of memory while embedding.")

    monkeypatch.setattr(builds, "start", failed)
    page = open_page(PAGE)
    page.button(key="compare_run").click().run()
    assert not page.exception
    assert page.error[0].value == "The search index could not be built: Out of memory while embedding."
    assert "compare_waiting" not in page.session_state


def test_needs_two_systems(built: None) -> None:
    page = open_page(PAGE)
    page.multiselect(key="compare_systems").set_value(["bm25"]).run()
    assert not page.exception
    assert "at least two systems" in page.info[0].value
    assert not page.button  # nothing to evaluate yet
