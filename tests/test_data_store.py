from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.data import store
from medqa.errors import DataNotFoundError, DataSourceError


def test_build_lists_and_loads(workdirs: Path, fixture_zip: Path) -> None:
    assert store.list_datasets() == []
    full, curated = store.build_datasets(str(fixture_zip), categories=2, per_category=3, test_per_category=1)
    assert (full.name, curated.name) == (store.FULL, store.CURATED)
    assert [info.name for info in store.list_datasets()] == [store.FULL, store.CURATED]
    assert curated.rows == 6
    assert curated.settings["seed"] == 42
    corpus = store.load_corpus(store.FULL)
    assert corpus[col.HAS_ANSWER].all()
    assert len(store.load_pairs(store.FULL)) == len(corpus) + 1
    assert store.table_fingerprint(store.load_pairs(store.CURATED)) == curated.fingerprint


def test_missing_datasets_raise(workdirs: Path) -> None:
    with pytest.raises(DataNotFoundError, match="not been loaded"):
        store.load_pairs(store.FULL)
    with pytest.raises(DataNotFoundError, match="No dataset named 'nope'"):
        store.load_pairs("nope")


def test_failed_save_keeps_the_previous_dataset(workdirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = pd.DataFrame({c: ["x"] for c in col.TEXT_COLUMNS}).assign(**{col.HAS_ANSWER: [True]})
    store.save_dataset(table, "mine", kind="upload", origin="first.csv")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patched, pytest.raises(OSError):
        patched.setattr(pd.DataFrame, "to_parquet", broken)
        store.save_dataset(table.assign(question="changed"), "mine", kind="upload", origin="second.csv")
    assert store.load_pairs("mine")[col.QUESTION].item() == "x"
    assert not [p for p in store.datasets_dir().iterdir() if p.name.startswith(".")]


def test_unreadable_sidecar_is_skipped(workdirs: Path) -> None:
    table = pd.DataFrame({c: ["x"] for c in col.TEXT_COLUMNS}).assign(**{col.HAS_ANSWER: [True]})
    store.save_dataset(table, "good", kind="upload", origin="a.csv")
    (store.datasets_dir() / "bad.json").write_text("{not json")
    (store.datasets_dir() / "bad.parquet").write_bytes(b"junk")
    assert [info.name for info in store.list_datasets()] == ["good"]
    with pytest.raises(DataNotFoundError, match="cannot be read"):
        store.load_pairs("bad")


def test_invalid_names_and_slugify(workdirs: Path) -> None:
    table = pd.DataFrame({c: ["x"] for c in col.TEXT_COLUMNS}).assign(**{col.HAS_ANSWER: [True]})
    for name in ("../escape", "full", "", "a/b"):
        with pytest.raises(ValueError):
            store.save_dataset(table, name, kind="upload", origin="x")
    assert store.slugify("../My Data!.csv") == "my-data-csv"
    assert store.slugify("///") == "dataset"


def test_uploaded_archive_is_checked(workdirs: Path, fixture_zip: Path) -> None:
    with pytest.raises(DataSourceError, match="not a zip"):
        store.save_upload_archive(b"plain text")
    saved = store.save_upload_archive(fixture_zip.read_bytes())
    assert saved.read_bytes() == fixture_zip.read_bytes()
    info = json.loads(
        json.dumps(
            store.build_datasets(str(saved), categories=1, per_category=2, test_per_category=1)[1].__dict__
        )
    )
    assert info["rows"] == 2


def test_ensure_datasets_builds_once(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
    small = {"categories": 3, "per_category": 5, "test_per_category": 1}
    with pytest.raises(DataNotFoundError, match="MEDQA_MEDQUAD_SOURCE"):
        store.ensure_datasets(**small)
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", str(fixture_zip))
    assert store.ensure_datasets(**small) is True
    assert {store.FULL, store.CURATED} <= {info.name for info in store.list_datasets()}
    assert store.ensure_datasets("/no/such/archive.zip") is False  # already there: the source is not read


def test_fingerprint_is_the_same_however_the_rows_are_sliced(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pd.DataFrame(
        {col.ID: [f"q{i}" for i in range(10)], col.QUESTION: ["why?"] * 10, col.ANSWER: list("abcdefghij")}
    )
    whole = store.table_fingerprint(table)
    monkeypatch.setattr(store, "_FINGERPRINT_ROWS", 3)
    assert store.table_fingerprint(table) == whole
    changed = table.assign(**{col.ANSWER: [*"abcdefghi", "J"]})
    assert store.table_fingerprint(changed) != whole
