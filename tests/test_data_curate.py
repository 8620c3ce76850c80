from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medqa.data import medquad
from medqa.data import schema as col
from medqa.data.curate import build_curated
from medqa.data.upload import import_csv
from medqa.errors import DataNotFoundError


@pytest.fixture
def fixture_pairs(workdirs: Path, fixture_zip: Path) -> pd.DataFrame:
    return medquad.load_medquad(fixture_zip, use_cache=False).pairs


def _build(pairs: pd.DataFrame, **kw) -> pd.DataFrame:
    options = {"categories": 4, "per_category": 6, "test_per_category": 2, "seed": 7, "min_answer_chars": 20}
    return build_curated(pairs, **(options | kw))


def test_shape_split_and_columns(fixture_pairs: pd.DataFrame) -> None:
    curated = _build(fixture_pairs)
    assert len(curated) == 24
    assert curated.groupby(col.FOCUS).size().eq(6).all()
    assert curated.groupby(col.FOCUS)[col.SPLIT].apply(lambda s: (s == col.TEST).sum()).eq(2).all()
    for column in (col.FOCUS, col.QTYPE, col.SOURCE, col.URL):
        assert curated[column].ne("").all()
    assert curated[col.ANSWER].is_unique


def test_spreads_question_types(fixture_pairs: pd.DataFrame) -> None:
    curated = _build(fixture_pairs)
    # Each fixture area has 8 different question types; 6 picks round-robin means 6 distinct types.
    assert curated.groupby(col.FOCUS)[col.QTYPE].nunique().eq(6).all()


def test_same_seed_same_subset_other_seed_differs(fixture_pairs: pd.DataFrame) -> None:
    first = _build(fixture_pairs)
    pd.testing.assert_frame_equal(first, _build(fixture_pairs))
    others = [_build(fixture_pairs, seed=seed) for seed in range(8, 14)]
    assert any(not other[[col.ID, col.SPLIT]].equals(first[[col.ID, col.SPLIT]]) for other in others)


def test_consumer_sources_come_first(fixture_pairs: pd.DataFrame) -> None:
    curated = _build(fixture_pairs)
    # 2 areas each from NIHSeniorHealth and MPlusHealthTopics outrank GARD.
    assert set(curated[col.SOURCE]) == {"NIHSeniorHealth", "MPlusHealthTopics"}


def test_answer_length_bounds_apply(fixture_pairs: pd.DataFrame) -> None:
    curated = _build(fixture_pairs, categories=1, per_category=2, test_per_category=1, max_answer_chars=140)
    assert curated[col.ANSWER].str.len().le(140).all()
    with pytest.raises(DataNotFoundError, match="Only 0 focus areas"):
        _build(fixture_pairs, min_answer_chars=10_000)


def test_too_few_areas_is_a_clear_error(fixture_pairs: pd.DataFrame) -> None:
    with pytest.raises(DataNotFoundError, match="Only 6 focus areas"):
        _build(fixture_pairs, categories=7)
    with pytest.raises(ValueError):
        _build(fixture_pairs, per_category=4, test_per_category=4)


@pytest.mark.medquad
def test_real_curated_build_is_40_by_13(workdirs: Path, real_source: str) -> None:
    pairs = medquad.load_medquad(real_source).pairs
    curated = build_curated(pairs)
    assert len(curated) == 520
    assert curated[col.FOCUS].nunique() == 40
    assert curated.groupby(col.FOCUS).size().eq(13).all()
    assert curated[col.SPLIT].value_counts().to_dict() == {col.TRAIN: 400, col.TEST: 120}
    assert "Alzheimer's Disease" in set(curated[col.FOCUS])
    assert curated[col.URL].str.startswith("http").all()
    pd.testing.assert_frame_equal(curated, build_curated(pairs))


@pytest.mark.medquad
def test_original_project_csv_imports_with_about_40_focus_areas() -> None:
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "clean_MedQuAD_autotrain_ready.csv"
    if not path.exists():
        pytest.skip("the original project's CSV is not beside the repository")
    imported = import_csv(path.read_bytes())
    assert imported.report.rows_read == 520
    assert imported.report.focus_inferred
    assert 38 <= imported.report.focus_areas <= 42
    assert imported.report.unassigned == 0
    assert "alzheimer's disease" in set(imported.pairs[col.FOCUS])
