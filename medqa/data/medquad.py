"""Read the MedQuAD collection from its download archive, an unpacked folder or a URL.

MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019, CC BY 4.0) ships one XML document per
focus area in 12 source folders. Most documents use the ``<Document>/<QAPairs>/<QAPair>`` schema; a
few older ones use ``<doc>/<qaPairs>/<pair>`` and are read too. Parsing every file takes seconds, so
the parsed table is cached as parquet under ``data/cache`` keyed by the source's fingerprint.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medqa import settings
from medqa.data import schema as col
from medqa.data.parquet import read_parquet
from medqa.errors import DataSourceError

#: Source folders in the archive, in MedQuAD's own order.
SOURCE_FOLDERS = (
    "1_CancerGov_QA",
    "2_GARD_QA",
    "3_GHR_QA",
    "4_MPlus_Health_Topics_QA",
    "5_NIDDK_QA",
    "6_NINDS_QA",
    "7_SeniorHealth_QA",
    "8_NHLBI_QA_XML",
    "9_CDC_QA",
    "10_MPlus_ADAM_QA",
    "11_MPlusDrugs_QA",
    "12_MPlusHerbsSupplements_QA",
)

#: Bump when the parsed table's shape or cleaning changes, so old caches are not reused.
PARSER_VERSION = "2"

_WHITESPACE = re.compile(r"\s+")
_FOLDER = re.compile(r"^(\d+)_(.+?)(?:_QA)?(?:_XML)?$")

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ParsedSource:
    """A parsed MedQuAD source: its pairs table and where it came from."""

    pairs: pd.DataFrame
    fingerprint: str
    origin: str
    from_cache: bool


def clean_text(text: str | None) -> str:
    """Unescape HTML entities and collapse runs of whitespace."""
    if not text:
        return ""
    return _WHITESPACE.sub(" ", html.unescape(text)).strip()


def _child_text(element: ET.Element, *names: str) -> str:
    for name in names:
        found = element.find(name)
        if found is not None and found.text:
            return clean_text(found.text)
    return ""


def _all_text(element: ET.Element, path: str, separator: str) -> str:
    values = [clean_text(node.text) for node in element.iterfind(path)]
    return separator.join(value for value in values if value)


def parse_document(xml_bytes: bytes, folder: str = "") -> list[dict[str, object]]:
    """Parse one MedQuAD XML document into pair records.

    Args:
        xml_bytes: the raw file content.
        folder: the source folder name, used when the document names no source.

    Returns:
        One dict per question-answer pair, keyed by the columns of :mod:`medqa.data.schema`.

    Raises:
        DataSourceError: the bytes are not well-formed XML.
    """
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as error:
        raise DataSourceError(f"{folder or 'document'}: not well-formed XML ({error})") from error

    doc_id = root.get("id") or root.get("docid") or root.get("fid") or ""
    source = root.get("source") or root.get("corpus") or _source_from_folder(folder)
    url = root.get("url") or ""
    focus = _child_text(root, "Focus", "doctitle-focus")
    annotations = root.find("FocusAnnotations")
    if annotations is None:
        annotations = root
    umls = annotations.find("UMLS")
    if umls is None:
        umls = annotations.find("umls")
    document = {
        col.DOC_ID: doc_id,
        col.SOURCE: source,
        col.URL: url,
        col.FOCUS: focus,
        col.SYNONYMS: _all_text(annotations, "Synonyms/Synonym", col.SYNONYM_SEPARATOR),
        col.CUI: _all_text(umls, ".//CUI", " ") or _all_text(umls, "cui", " ") if umls is not None else "",
        col.SEMANTIC_TYPE: (
            _all_text(umls, ".//SemanticType", " ") or _all_text(umls, "semanticType", " ")
            if umls is not None
            else ""
        ),
        col.SEMANTIC_GROUP: (_child_text(umls, "SemanticGroup", "semanticGroup") if umls is not None else ""),
        col.CATEGORY: _child_text(annotations, "Category"),
    }

    records = []
    for pair in root.iter():
        if pair.tag not in ("QAPair", "pair"):
            continue
        question = pair.find("Question")
        if question is None:
            question = pair.find("question")
        answer_text = _child_text(pair, "Answer", "answer")
        question_text = clean_text(question.text) if question is not None else ""
        if not question_text:
            continue
        records.append(
            {
                # qids repeat across sources (ADAM and MPlusDrugs both start at 0000001-1)
                col.ID: f"{source}/{(question.get('qid') if question is not None else '') or doc_id + '-' + str(pair.get('pid'))}",
                **document,
                col.QTYPE: (question.get("qtype") or "").strip().lower() if question is not None else "",
                col.QUESTION: question_text,
                col.ANSWER: answer_text,
            }
        )
    return records


def _source_from_folder(folder: str) -> str:
    match = _FOLDER.match(folder)
    return match.group(2).replace("_", "") if match else folder


def _iter_zip(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataSourceError(f"{path.name} is not a readable zip archive ({error}).") from error
    with archive:
        for info in sorted(archive.infolist(), key=lambda item: item.filename):
            parts = info.filename.split("/")
            if info.is_dir() or not info.filename.endswith(".xml") or len(parts) < 2:
                continue
            folder = parts[-2]
            if folder in SOURCE_FOLDERS:
                yield folder, archive.read(info)


def _iter_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    for folder in SOURCE_FOLDERS:
        matches = [path / folder, *path.glob(f"*/{folder}")]
        for candidate in matches:
            if candidate.is_dir():
                for xml_file in sorted(candidate.glob("*.xml")):
                    yield folder, xml_file.read_bytes()
                break


def _xml_files(path: Path) -> list[tuple[str, bytes]]:
    files = list(_iter_zip(path) if path.is_file() else _iter_folder(path))
    order = {folder: index for index, folder in enumerate(SOURCE_FOLDERS)}
    files.sort(key=lambda item: order[item[0]])  # stable: file order within a folder is kept
    if not files:
        raise DataSourceError(
            f"No MedQuAD XML files found in {path.name}: expected folders such as "
            f"'{SOURCE_FOLDERS[0]}' (the MedQuAD repository or its download archive)."
        )
    return files


def parse_files(files: list[tuple[str, bytes]], progress: ProgressCallback | None = None) -> pd.DataFrame:
    """Parse ``(folder, xml bytes)`` items into one pairs table, skipping unreadable documents."""
    records: list[dict[str, object]] = []
    for done, (folder, content) in enumerate(files, start=1):
        try:
            records.extend(parse_document(content, folder))
        except DataSourceError:
            continue  # one broken document should not hide the other 11k
        if progress is not None and (done % 500 == 0 or done == len(files)):
            progress(done, len(files))
    table = pd.DataFrame.from_records(records, columns=[*col.TEXT_COLUMNS])
    table = table.fillna("").astype(str)
    # A few CancerGov files reuse one qid for several focus areas; number the repeats.
    repeat = table.groupby(col.ID).cumcount()
    table.loc[repeat > 0, col.ID] = table[col.ID] + "#" + (repeat + 1).astype(str)
    table[col.HAS_ANSWER] = table[col.ANSWER].str.len() > 0
    return table


def fingerprint_path(path: Path) -> str:
    """A short fingerprint of a zip (its bytes) or folder (names, sizes, mtimes)."""
    digest = hashlib.sha256(PARSER_VERSION.encode())
    if path.is_file():
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    else:
        for file in sorted(path.rglob("*.xml")):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def is_url(source: str) -> bool:
    """Whether a source string is an http(s) URL."""
    return source.startswith(("http://", "https://"))


def download(url: str, timeout: float = 60.0) -> Path:
    """Download a MedQuAD archive into ``data/downloads`` (atomically) and return its path.

    Raises:
        DataSourceError: the URL cannot be reached or does not return a zip archive.
    """
    target_dir = settings.data_dir() / "downloads"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (hashlib.sha256(url.encode()).hexdigest()[:12] + ".zip")
    if target.exists():
        return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DataSourceError(
            f"Could not download MedQuAD from {url} ({getattr(error, 'reason', error)}). "
            "Without internet access, upload the archive or set MEDQA_MEDQUAD_SOURCE to a local copy."
        ) from error
    if not zipfile.is_zipfile(io.BytesIO(payload)):
        raise DataSourceError(f"{url} did not return a zip archive.")
    write_bytes_atomic(target, payload)
    return target


def write_bytes_atomic(target: Path, payload: bytes) -> None:
    """Write bytes so that readers see the old file or the whole new one, never a part."""
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def resolve_source(source: str | os.PathLike[str] | None = None) -> Path:
    """Turn a source argument (or ``MEDQA_MEDQUAD_SOURCE``, or the default URL) into a local path."""
    chosen = str(source) if source is not None else settings.medquad_source()
    if chosen is None:
        chosen = settings.DEFAULT_MEDQUAD_URL
    if is_url(chosen):
        return download(chosen)
    path = Path(chosen).expanduser()
    if not path.exists():
        raise DataSourceError(f"MedQuAD source not found: {chosen}")
    return path


def cache_path(fingerprint: str) -> Path:
    """Where the parsed table of a source with this fingerprint is cached."""
    return settings.data_dir() / "cache" / f"medquad-{fingerprint}.parquet"


def write_parquet_atomic(table: pd.DataFrame, target: Path) -> None:
    """Write a table as parquet so that readers never see a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        table.to_parquet(temp, index=False)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load_medquad(
    source: str | os.PathLike[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> ParsedSource:
    """Load every MedQuAD pair (answered or not) from a source, through the parquet cache.

    Args:
        source: zip archive, unpacked folder or URL; defaults to ``MEDQA_MEDQUAD_SOURCE`` and then the
            repository's archive on GitHub.
        progress: called with ``(files_done, files_total)`` while parsing.
        use_cache: read and write the cache under ``data/cache``.

    Raises:
        DataSourceError: the source is missing, unreachable or holds no MedQuAD XML.
    """
    path = resolve_source(source)
    fingerprint = fingerprint_path(path)
    cached = cache_path(fingerprint)
    if use_cache and cached.exists():
        try:
            parsed = ParsedSource(read_parquet(cached), fingerprint, str(path), from_cache=True)
        except (OSError, ValueError):
            cached.unlink(missing_ok=True)  # corrupt cache: parse again below
        else:
            _remember_source(parsed)
            return parsed
    pairs = parse_files(_xml_files(path), progress)
    if pairs.empty:
        raise DataSourceError(f"{path.name} holds MedQuAD folders but no question-answer pairs.")
    parsed = ParsedSource(pairs, fingerprint, str(path), from_cache=False)
    if use_cache:
        try:
            write_parquet_atomic(pairs, cached)
            _remember_source(parsed)
        except OSError:
            pass  # a read-only data folder: work from memory, parse again next time
    return parsed


def _current_marker() -> Path:
    return settings.data_dir() / "cache" / "current.json"


def _remember_source(parsed: ParsedSource) -> None:
    """Note which parsed table is current, with its counts, so listings need not read it."""
    table = parsed.pairs
    answered = table[table[col.HAS_ANSWER]]
    summary = {
        "fingerprint": parsed.fingerprint,
        "origin": parsed.origin,
        "rows": len(table),
        "answered": len(answered),
        "focus_areas": int(answered[col.FOCUS].nunique()),
    }
    write_bytes_atomic(_current_marker(), json.dumps(summary).encode())


def current_summary() -> dict[str, object] | None:
    """Counts and origin of the most recently loaded MedQuAD table, or ``None``."""
    try:
        summary = json.loads(_current_marker().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not cache_path(str(summary.get("fingerprint"))).exists():
        return None
    return summary


def load_cached_medquad() -> ParsedSource | None:
    """The most recently loaded MedQuAD table, without touching the source; ``None`` if none."""
    summary = current_summary()
    if summary is None:
        return None
    fingerprint = str(summary["fingerprint"])
    try:
        table = read_parquet(cache_path(fingerprint))
    except (OSError, ValueError):
        return None
    return ParsedSource(table, fingerprint, str(summary.get("origin", "")), from_cache=True)
