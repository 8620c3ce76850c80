from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from medqa.data import medquad
from medqa.data import schema as col
from medqa.errors import DataSourceError
from tests.conftest import FIXTURE_DOCUMENTS, FIXTURE_PAIRS, document_xml


def test_parse_document_reads_every_field() -> None:
    xml = document_xml(
        "0000042",
        "GARD",
        "Gout &amp; friends",
        ["Podagra", "Uric acid arthritis"],
        [("symptoms", "What are the   symptoms of Gout ?", "A  hot,\n swollen toe &lt;often&gt;.")],
    ).replace("&amp;amp;", "&amp;")
    [record] = medquad.parse_document(xml.encode(), "2_GARD_QA")
    assert record[col.ID] == "GARD/0000042-1"
    assert record[col.DOC_ID] == "0000042"
    assert record[col.SOURCE] == "GARD"
    assert record[col.URL] == "https://example.org/0000042"
    assert record[col.FOCUS] == "Gout & friends"
    assert record[col.QTYPE] == "symptoms"
    assert record[col.QUESTION] == "What are the symptoms of Gout ?"
    assert record[col.ANSWER] == "A hot, swollen toe <often>."
    assert record[col.SYNONYMS] == "Podagra | Uric acid arthritis"
    assert record[col.CUI] == "C0000042"
    assert record[col.SEMANTIC_TYPE] == "T047"
    assert record[col.SEMANTIC_GROUP] == "Disorders"


def test_parse_legacy_schema_document() -> None:
    from tests.conftest import LEGACY_XML

    records = medquad.parse_document(LEGACY_XML.encode(), "6_NINDS_QA")
    assert [r[col.ID] for r in records] == ["NINDS/0000900-1", "NINDS/0000900-2"]
    assert records[0][col.FOCUS] == "Made-up Tremor"
    assert records[0][col.ANSWER].endswith("this test & nothing more.")
    assert records[1][col.QTYPE] == "treatment"


def test_broken_xml_raises_typed_error() -> None:
    with pytest.raises(DataSourceError, match="not well-formed"):
        medquad.parse_document(b"<Document><oops", "1_CancerGov_QA")


def test_zip_and_folder_give_the_same_table(workdirs: Path, fixture_folder: Path, fixture_zip: Path) -> None:
    from_zip = medquad.load_medquad(fixture_zip, use_cache=False).pairs
    from_folder = medquad.load_medquad(fixture_folder, use_cache=False).pairs
    assert len(from_zip) == FIXTURE_PAIRS
    pd.testing.assert_frame_equal(from_zip, from_folder)
    assert from_zip[col.ID].is_unique
    assert int((~from_zip[col.HAS_ANSWER]).sum()) == 1
    assert set(from_zip[col.SOURCE]) == {"NIHSeniorHealth", "MPlusHealthTopics", "GARD", "NINDS", "ADAM"}


def test_unpacked_folder_can_be_the_collection_root_or_its_parent(
    workdirs: Path, fixture_folder: Path
) -> None:
    direct = medquad.load_medquad(fixture_folder, use_cache=False).pairs
    parent = medquad.load_medquad(fixture_folder.parent, use_cache=False).pairs
    assert len(direct) == len(parent) == FIXTURE_PAIRS


def test_second_load_comes_from_cache(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = medquad.load_medquad(fixture_zip)
    assert not first.from_cache
    monkeypatch.setattr(medquad, "parse_files", lambda *a, **k: pytest.fail("parsed again"))
    second = medquad.load_medquad(fixture_zip)
    assert second.from_cache
    pd.testing.assert_frame_equal(first.pairs, second.pairs)
    # Loading caches by content but never makes a table the shared corpus: only a whole build does.
    assert medquad.load_cached_medquad() is None
    medquad.set_current(second)
    assert medquad.load_cached_medquad() is not None


def test_corrupt_cache_is_rebuilt(workdirs: Path, fixture_zip: Path) -> None:
    first = medquad.load_medquad(fixture_zip)
    medquad.cache_path(first.fingerprint).write_bytes(b"not parquet at all")
    again = medquad.load_medquad(fixture_zip)
    assert not again.from_cache
    assert len(again.pairs) == FIXTURE_PAIRS


def test_changed_source_gets_a_new_fingerprint(workdirs: Path, fixture_folder: Path, tmp_path: Path) -> None:
    before = medquad.fingerprint_path(fixture_folder)
    folder, source, _focus, synonyms, pairs = FIXTURE_DOCUMENTS[0]
    (fixture_folder / folder / "0000999.xml").write_text(
        document_xml("0000999", source, "Extra", synonyms, pairs)
    )
    assert medquad.fingerprint_path(fixture_folder) != before


def test_progress_reports_every_file(workdirs: Path, fixture_zip: Path) -> None:
    seen: list[tuple[int, int]] = []
    medquad.load_medquad(
        fixture_zip, use_cache=False, progress=lambda done, total: seen.append((done, total))
    )
    assert seen[-1][0] == seen[-1][1] == len(FIXTURE_DOCUMENTS) + 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.zip", "not found"),
        (lambda tmp: _write(tmp / "notzip.zip", b"hello"), "not a readable zip"),
        (lambda tmp: _empty_zip(tmp / "empty.zip"), "No MedQuAD XML"),
        (lambda tmp: _mkdir(tmp / "emptydir"), "No MedQuAD XML"),
    ],
)
def test_bad_sources_raise_clear_errors(workdirs: Path, tmp_path: Path, make, message: str) -> None:
    with pytest.raises(DataSourceError, match=message):
        medquad.load_medquad(make(tmp_path))


def test_unreachable_url_fails_cleanly(workdirs: Path) -> None:
    with pytest.raises(DataSourceError, match="Could not download"):
        medquad.load_medquad("http://127.0.0.1:9/MedQuAD-master.zip")
    assert not list((workdirs / "data" / "downloads").glob("*"))


def test_environment_variable_selects_the_source(
    workdirs: Path, fixture_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDQA_MEDQUAD_SOURCE", str(fixture_zip))
    assert medquad.load_medquad().origin == str(fixture_zip)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _empty_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("MedQuAD-master/readme.txt", "nothing here")
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.medquad
def test_real_archive_counts(workdirs: Path, real_source: str) -> None:
    pairs = medquad.load_medquad(real_source).pairs
    legacy = pairs[
        pairs[col.ID].isin(
            [f"NINDS/{d}-{n}" for d in ("0000007", "0000018", "0000182", "0000244") for n in range(1, 5)]
        )
    ]
    # 47,441 pairs in the <QAPair> schema plus 16 in four legacy-schema NINDS documents: the 47,457 of
    # MedQuAD's own readme.
    assert len(pairs) == 47_457
    assert len(legacy) == 16
    assert pairs[col.ID].is_unique
    assert pairs[col.SOURCE].nunique() == 12
    answered = int(pairs[col.HAS_ANSWER].sum())
    assert 16_300 <= answered <= 16_500
    removed = pairs[pairs[col.SOURCE].isin(["ADAM", "MPlusDrugs", "MPlusHerbsSupplements"])]
    assert not removed[col.HAS_ANSWER].any()
    alzheimers = pairs[pairs[col.FOCUS] == "Alzheimer's Disease"]
    assert alzheimers[col.HAS_ANSWER].any()
    assert not pairs[col.ANSWER].str.contains("&amp;|&lt;|\n", regex=True).any()
