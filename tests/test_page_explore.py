from __future__ import annotations

from pathlib import Path

import pytest

from medqa.data import store
from tests.conftest import open_page

PAGE = "pages/1_Explore.py"


@pytest.fixture
def built(workdirs: Path, fixture_zip: Path) -> None:
    store.build_datasets(str(fixture_zip), categories=3, per_category=5, test_per_category=1)


def test_without_data_points_to_home(workdirs: Path) -> None:
    page = open_page(PAGE)
    assert not page.exception
    assert "No data yet" in page.warning[0].value


def test_curated_and_full_charts_and_table(built: None) -> None:
    page = open_page(PAGE)
    assert not page.exception
    assert page.selectbox[0].options[0].startswith("Full MedQuAD")
    assert page.metric[0].value == "51"  # 6 areas x 8 + 2 legacy + 1 without answer
    charts = page.get("plotly_chart")
    assert len(charts) == 4

    page.selectbox[0].select_index(1).run()
    assert not page.exception
    assert page.metric[0].value == "15"
    # curated also gets the curated-vs-full comparison chart
    assert len(page.get("plotly_chart")) == 5

    page.text_input(key="table_search").input("gout").run()
    assert not page.exception
    table = page.dataframe[-1].value
    assert len(table) and table["focus"].eq("Gout").all()


def test_uploaded_dataset_is_explorable(workdirs: Path) -> None:
    from medqa.data.upload import import_csv

    data = b"Question,Answer\nwhat causes gout ?,Uric acid builds up.\nwhat is (are) gout ?,A kind of arthritis.\n"
    store.save_dataset(import_csv(data).pairs, "upload-mine", kind="upload", origin="mine.csv")
    page = open_page(PAGE)
    assert not page.exception
    assert page.selectbox[0].options == ["Uploaded: upload-mine — 2 answered pairs, 1 focus areas"]
    assert page.metric[2].value == "1"
