from __future__ import annotations

from pathlib import Path

import pytest

from medqa.data import store
from medqa.data.upload import import_csv
from tests.conftest import open_page


def _texts(app) -> str:
    return "\n".join(str(element.value) for element in (*app.markdown, *app.caption, *app.info, *app.warning))


def test_first_start_explains_and_offers_data(workdirs: Path) -> None:
    home = open_page()
    assert not home.exception
    text = _texts(home)
    assert "not medical advice" in text.lower() or "not a diagnosis" in text.lower()
    assert "No data loaded yet" in text
    assert "Alzheimer" in text
    assert home.expander[0].label == "Load MedQuAD"
    assert any(button.label == "Load MedQuAD" for button in home.button)


def test_load_medquad_from_configured_source(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", str(fixture_zip))
    home = open_page()
    home.button(key="load_medquad").click().run()
    assert not home.exception
    # The fixture has too few focus areas for the default 40 x 13 curated build: a clear error, no crash,
    # and a failed build does not become the shared corpus.
    assert "focus areas" in home.error[0].value
    assert store.list_datasets() == []


def test_unreachable_source_is_a_message_not_a_crash(workdirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", "http://127.0.0.1:9/MedQuAD-master.zip")
    home = open_page()
    home.button(key="load_medquad").click().run()
    assert not home.exception
    assert "Could not download" in home.error[0].value


def test_upload_csv_then_listed(workdirs: Path) -> None:
    home = open_page()
    data = b"Question,Answer\nwhat causes gout ?,Uric acid builds up in a joint.\nwhat is (are) gout ?,A kind of arthritis.\n"
    home.file_uploader(key="csv_upload").upload("my pairs.csv", data, "text/csv").run()
    assert not home.exception
    assert home.selectbox[0].value == "Question"
    home.button(key="import_csv").click().run()
    assert not home.exception
    assert "Imported 2 of 2 rows" in home.success[0].value
    assert [info.name for info in store.list_datasets()] == ["upload-my-pairs"]
    # The status above the panel is read after the import (no stale "No data loaded yet"), with a next step.
    text = _texts(home)
    assert "No data loaded yet" not in text and "Uploaded: upload-my-pairs" in text
    assert home.get("page_link")[0].label == "Ask a question ->"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"\x00\x01\x02", "binary"), ("Q\ncaf\xe9\n".encode("latin-1"), "not UTF-8")],
)
def test_bad_uploads_show_the_problem(workdirs: Path, content: bytes, message: str) -> None:
    store.save_dataset(
        import_csv(b"Question,Answer\nq,a\n").pairs,
        "kept",
        kind="upload",
        origin="kept.csv",
    )
    home = open_page()
    home.file_uploader(key="csv_upload").upload("bad.csv", content, "text/csv").run()
    assert not home.exception
    assert message in home.error[0].value
    assert [info.name for info in store.list_datasets()] == ["kept"]


def test_build_from_uploaded_archive(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDQA_PUBLIC", "0")  # single-user server: admin actions open (medqa.access)
    home = open_page()
    home.file_uploader(key="medquad_zip").upload(
        "MedQuAD-master.zip", fixture_zip.read_bytes(), "application/zip"
    ).run()
    home.button(key="build_zip").click().run()
    assert not home.exception
    # Too few focus areas for the default curated subset: a clear error, and the failed build replaces
    # nothing; the uploaded archive is not kept on disk either way.
    assert "focus areas" in home.error[0].value
    assert store.list_datasets() == []
    assert not list((workdirs / "data" / "downloads").glob("*.zip"))
