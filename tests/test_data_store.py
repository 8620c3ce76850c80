from __future__ import annotations

import errno
import json
from pathlib import Path

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.data import store
from medqa.errors import DataNotFoundError, DatasetNameError, DataSourceError, StorageError
from tests.conftest import document_xml, write_collection


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
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(StorageError, match="No space left"):
        patched.setattr(pd.DataFrame, "to_parquet", broken)
        store.save_dataset(
            table.assign(question="changed"), "mine", kind="upload", origin="second.csv", replace=True
        )
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


def _table() -> pd.DataFrame:
    return pd.DataFrame({c: ["x"] for c in col.TEXT_COLUMNS}).assign(**{col.HAS_ANSWER: [True]})


@pytest.mark.parametrize("name", ["mine", store.CURATED, store.FULL])
def test_an_upload_never_replaces_an_existing_or_reserved_dataset(workdirs: Path, name: str) -> None:
    """Issue 14 item 3: an upload named like an existing dataset (or curated/full) is refused."""
    store.save_dataset(_table(), "mine", kind="upload", origin="first.csv")
    with pytest.raises(DatasetNameError, match=r"already exists|reserved"):
        store.save_dataset(_table().assign(answer="planted"), name, kind="upload", origin="second.csv")
    assert store.load_pairs("mine")[col.ANSWER].item() == "x"
    assert [info.name for info in store.list_datasets()] == ["mine"]


def test_a_failed_build_keeps_the_shared_corpus(workdirs: Path, fixture_zip: Path, tmp_path: Path) -> None:
    """Issue 14 item 2: a source whose build fails (too few areas to curate) never becomes ``full``."""
    full, _ = store.build_datasets(str(fixture_zip), categories=2, per_category=3, test_per_category=1)
    planted = tmp_path / "planted"
    write_collection(planted)
    (planted / "MedQuAD-master" / "7_SeniorHealth_QA" / "0000001.xml").write_text(
        document_xml(
            "0000001", "NIHSeniorHealth", "Gout", [], [("treatment", "How to treat gout ?", "PLANTED")]
        )
    )
    with pytest.raises(DataNotFoundError):
        store.build_datasets(str(planted), categories=40, per_category=13)
    assert store.list_datasets()[0].fingerprint == full.fingerprint
    assert "PLANTED" not in set(store.load_pairs(store.FULL)[col.ANSWER])


def test_a_failed_first_build_lists_no_corpus(workdirs: Path, fixture_zip: Path) -> None:
    with pytest.raises(DataNotFoundError):
        store.build_datasets(str(fixture_zip))  # 6 focus areas: too few for 40 x 13
    assert store.list_datasets() == []


def test_uploaded_archive_is_deleted_after_use_and_size_capped(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 13: uploads are not kept on disk, and an oversized one is refused before writing."""
    with store.uploaded_archive(fixture_zip.read_bytes()) as path:
        store.build_datasets(str(path), categories=2, per_category=3, test_per_category=1)
    assert not path.exists()
    assert store.list_datasets()[0].name == store.FULL
    monkeypatch.setattr(store, "MAX_ARCHIVE_UPLOAD_BYTES", 100)
    with pytest.raises(DataSourceError, match="MB"), store.uploaded_archive(fixture_zip.read_bytes()):
        pass
    assert not list((workdirs / "data" / "downloads").glob("*.zip"))


def test_full_disk_during_a_build_is_a_storage_error(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 12: a full disk is a typed, readable error, and nothing is listed half-built."""

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    with pytest.raises(StorageError, match="No space left"):
        store.build_datasets(str(fixture_zip), categories=2, per_category=3, test_per_category=1)
    assert store.list_datasets() == []
