"""The Compare page: two systems on one set, metrics with CIs, verdicts, disagreements, export, ask both."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa.data import store
from medqa.evaluation import sets
from tests.conftest import open_page

PAGE = "pages/4_Compare.py"


@pytest.fixture
def built(workdirs: Path, fixture_zip: Path) -> None:
    store.build_datasets(str(fixture_zip), categories=3, per_category=5, test_per_category=1)


def _texts(page, kind: str) -> list[str]:
    return [str(element.value) for element in page.get(kind)]


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
    page.radio(key="compare_set").set_value(sets.CONSUMER).run()
    assert not page.exception
    assert any("Consumer-style questions (14)" in caption for caption in _texts(page, "caption"))
    assert not page.get("plotly_chart")  # nothing is computed before the button is pressed

    page.button(key="compare_run").click().run()
    assert not page.exception
    assert page.success[0].value.startswith("Evaluated in")

    metrics = page.dataframe[0].value
    assert metrics["system"].tolist() == ["BM25", "base"]
    assert metrics["queries"].tolist() == [14, 14]
    # Every cell: mean with its 95% CI in brackets, e.g. "0.786 (0.57–1.00)".
    assert all("(" in cell and "–" in cell for cell in metrics["MRR@10"])
    verdicts = [
        text for text in _texts(page, "info") + _texts(page, "success") if "between BM25 and base" in text
    ]
    assert len(verdicts) == 2 and all("95% CI" in text for text in verdicts)
    assert len(page.get("plotly_chart")) == 2  # headline bars and per-category chart

    # On the fixture corpus (BM25 over questions, focus, synonyms and answers) base finds the right area
    # for one question BM25 misses, and loses none.
    outcome = {element.label: element.value for element in page.metric}
    assert outcome == {"base better": "1", "BM25 better": "0", "Ties": "13"}
    disagreements = page.dataframe[-1].value
    assert len(disagreements) == 1
    assert {"top answer (BM25)", "top answer (base)"} <= set(disagreements.columns)
    assert disagreements["outcome"].eq("base better").all()
    # One disagreement read in full: both top answers side by side, as plain text.
    assert len(page.selectbox(key="compare_pick").options) == 1
    texts = _texts(page, "text")
    assert f"Question: {disagreements['query'].iloc[0]}" in texts
    assert "base: first correct pair at rank 1" in texts
    assert any(text.startswith("BM25: first correct pair at rank") for text in texts)
    assert disagreements["top answer (base)"].iloc[0] in texts
    assert any("not medical advice" in text for text in _texts(page, "info"))  # the disclaimer

    downloads = page.get("download_button")
    assert len(downloads) == 3

    page.text_input(key="compare_question").input("my big toe is red and swollen").run()
    assert not page.exception
    assert _texts(page, "subheader")[-2:] == ["BM25", "base"]
    assert any(text.startswith("1. Gout") for text in _texts(page, "text"))


@pytest.mark.model
def test_cached_results_appear_without_pressing_evaluate(built: None) -> None:
    from medqa.evaluation import runner

    evaluation = sets.consumer(store.FULL)
    runner.evaluate(["bm25", "base"], evaluation, n_resamples=200)
    page = open_page(PAGE)
    page.radio(key="compare_set").set_value(sets.CONSUMER).run()
    assert not page.exception
    assert page.success[0].value == "Loaded from the cache."
    assert page.dataframe[0].value["system"].tolist() == ["BM25", "base"]


def test_needs_two_systems(built: None) -> None:
    page = open_page(PAGE)
    page.multiselect(key="compare_systems").set_value(["bm25"]).run()
    assert not page.exception
    assert "at least two systems" in page.info[0].value
    assert not page.button  # nothing to evaluate yet
