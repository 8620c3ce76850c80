"""Read the MedQuAD collection from its download archive, an unpacked folder or a URL.

MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019, CC BY 4.0) ships one XML document per
focus area in 12 source folders. Most documents use the ``<Document>/<QAPairs>/<QAPair>`` schema; a
few older ones use ``<doc>/<qaPairs>/<pair>`` and are read too. Parsing every file takes seconds, so
the parsed table is cached as parquet under ``data/cache`` keyed by the source's fingerprint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medqa import atomic, settings
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

# Limits on an archive or document, which may come from a stranger (an upload or a URL). MedQuAD itself
# (measured on MedQuAD-master.zip): 11,289 entries, 11,274 XML files holding 35.8 MB, the largest
# 60 KB, compression ratio at most 12.4, elements nested 5 deep. Each limit leaves several times that
# room; a zip bomb (a 306 KB zip once inflated to 1.07 GB here) or a million-deep document is refused
# after reading at most one limit's worth.
#: Most entries an archive may list.
MAX_ARCHIVE_ENTRIES = 50_000
#: Largest XML document, uncompressed.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: Largest total of the XML documents read from one source, uncompressed.
MAX_TOTAL_BYTES = 256 * 1024 * 1024
#: Highest uncompressed / compressed size ratio of one archive member.
MAX_COMPRESSION_RATIO = 100
#: Deepest element nesting accepted in a document.
MAX_XML_DEPTH = 64
#: Largest archive downloaded from a URL.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


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
    root = _parse_bounded(xml_bytes, folder)

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


def _parse_bounded(xml_bytes: bytes, folder: str) -> ET.Element:
    """Parse a document, refusing one nested deeper than :data:`MAX_XML_DEPTH` as soon as it is seen."""
    where = folder or "document"
    if len(xml_bytes) > MAX_DOCUMENT_BYTES:
        raise DataSourceError(f"{where}: a document of {len(xml_bytes):,} bytes is larger than MedQuAD's.")
    parser = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    depth = 0
    try:
        for start in range(0, len(xml_bytes), 1 << 16):
            parser.feed(xml_bytes[start : start + (1 << 16)])
            for event, element in parser.read_events():
                if event == "end":
                    depth -= 1
                    continue
                depth += 1
                if root is None:
                    root = element
                if depth > MAX_XML_DEPTH:
                    raise DataSourceError(f"{where}: elements nested more than {MAX_XML_DEPTH} deep.")
        parser.close()
    except ET.ParseError as error:
        raise DataSourceError(f"{where}: not well-formed XML ({error})") from error
    if root is None:
        raise DataSourceError(f"{where}: not well-formed XML (no element)")
    return root


def _source_from_folder(folder: str) -> str:
    match = _FOLDER.match(folder)
    return match.group(2).replace("_", "") if match else folder


def _folder_order(folder: str) -> int:
    return SOURCE_FOLDERS.index(folder)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """One member's bytes, read in blocks and stopped at :data:`MAX_DOCUMENT_BYTES` whatever it claims."""
    chunks, size = [], 0
    with archive.open(info) as stream:
        while block := stream.read(1 << 16):
            size += len(block)
            if size > MAX_DOCUMENT_BYTES:
                raise DataSourceError(
                    f"{name}: {info.filename} inflates past {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB; "
                    "MedQuAD's documents are under 100 KB. Nothing was loaded."
                )
            chunks.append(block)
    return b"".join(chunks)


def _zip_members(path: Path) -> tuple[int, Iterator[tuple[str, bytes]]]:
    """The archive's MedQuAD documents (count, then a lazy reader), after checking the archive's shape.

    Raises:
        DataSourceError: not a zip, or beyond a limit (entries, a member's size or ratio, the total).
    """
    try:
        archive = zipfile.ZipFile(path)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DataSourceError(f"{path.name} is not a readable zip archive ({error}).") from error
    if len(infos) > MAX_ARCHIVE_ENTRIES:
        archive.close()
        raise DataSourceError(
            f"{path.name} lists {len(infos):,} entries; MedQuAD has about 11,300 (at most "
            f"{MAX_ARCHIVE_ENTRIES:,} accepted). Nothing was loaded."
        )
    chosen = []
    for info in infos:
        parts = info.filename.split("/")
        if info.is_dir() or not info.filename.endswith(".xml") or len(parts) < 2:
            continue
        if parts[-2] in SOURCE_FOLDERS:
            chosen.append((parts[-2], info))
    declared = sum(info.file_size for _, info in chosen)
    too_packed = next(
        (info for _, info in chosen if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)),
        None,
    )
    problem = None
    if declared > MAX_TOTAL_BYTES:
        problem = f"its documents inflate to {declared / 1e6:,.0f} MB (MedQuAD's: 36 MB)"
    elif too_packed is not None:
        problem = f"{too_packed.filename} is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?)"
    if problem is not None:
        archive.close()
        raise DataSourceError(f"{path.name} is not a MedQuAD archive: {problem}. Nothing was loaded.")
    # Folder order, then name; sizes declared in the directory can lie, so reads are capped as well.
    chosen.sort(key=lambda item: (_folder_order(item[0]), item[1].filename))

    def read() -> Iterator[tuple[str, bytes]]:
        total = 0
        with archive:
            for folder, info in chosen:
                content = _read_member(archive, info, path.name)
                total += len(content)
                if total > MAX_TOTAL_BYTES:
                    raise DataSourceError(
                        f"{path.name} inflates past {MAX_TOTAL_BYTES // (1024 * 1024)} MB; nothing was loaded."
                    )
                yield folder, content

    return len(chosen), read()


def _folder_files(path: Path) -> tuple[int, Iterator[tuple[str, bytes]]]:
    """An unpacked collection's documents (count, then a lazy reader), in folder order."""
    found: list[tuple[str, Path]] = []
    for folder in SOURCE_FOLDERS:
        for candidate in [path / folder, *path.glob(f"*/{folder}")]:
            if candidate.is_dir():
                found.extend((folder, xml_file) for xml_file in sorted(candidate.glob("*.xml")))
                break

    def read() -> Iterator[tuple[str, bytes]]:
        for folder, xml_file in found:
            if xml_file.stat().st_size > MAX_DOCUMENT_BYTES:
                raise DataSourceError(
                    f"{xml_file.name} is larger than any MedQuAD document; nothing was loaded."
                )
            yield folder, xml_file.read_bytes()

    return len(found), read()


def _xml_files(path: Path) -> tuple[int, Iterator[tuple[str, bytes]]]:
    """How many MedQuAD documents a source holds, and a reader yielding ``(folder, bytes)`` one at a time."""
    total, files = _zip_members(path) if path.is_file() else _folder_files(path)
    if not total:
        raise DataSourceError(
            f"No MedQuAD XML files found in {path.name}: expected folders such as "
            f"'{SOURCE_FOLDERS[0]}' (the MedQuAD repository or its download archive)."
        )
    return total, files


def parse_files(
    files: Iterable[tuple[str, bytes]], progress: ProgressCallback | None = None, *, total: int | None = None
) -> pd.DataFrame:
    """Parse ``(folder, xml bytes)`` items into one pairs table, skipping unreadable documents.

    ``files`` may be a lazy reader (only one document is held at a time); ``total`` is its length for
    ``progress`` (default ``len(files)``).
    """
    records: list[dict[str, object]] = []
    if total is None:
        total = len(files)  # type: ignore[arg-type]
    for done, (folder, content) in enumerate(files, start=1):
        with contextlib.suppress(DataSourceError):  # one broken document should not hide the other 11k
            records.extend(parse_document(content, folder))
        if progress is not None and (done % 500 == 0 or done == total):
            progress(done, total)
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


def display_source(source: str) -> str:
    """A source as it may be shown or logged: a URL loses its credentials, query string and fragment.

    ``MEDQA_MEDQUAD_SOURCE`` may be a signed or password-protected URL; the page shows only where it
    points (``https://host/path``). Paths are shown as they are.
    """
    if not is_url(source):
        return source
    try:
        parts = urllib.parse.urlsplit(source)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    hidden = " (credentials and query hidden)" if (parts.username or parts.password or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{hidden}"


def _request(url: str) -> urllib.request.Request:
    """A request for ``url``; ``user:password@`` moves into a Basic Authorization header (urllib refuses it)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return urllib.request.Request(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.request.Request(bare, headers={"Authorization": f"Basic {credentials}"})


def download(url: str, timeout: float = 60.0) -> Path:
    """Download a MedQuAD archive into ``data/downloads`` (atomically) and return its path.

    At most :data:`MAX_DOWNLOAD_BYTES` are read. Messages name the URL without credentials or query.

    Raises:
        DataSourceError: the URL cannot be reached, is too large or does not return a zip archive.
    """
    target_dir = settings.data_dir() / "downloads"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (hashlib.sha256(url.encode()).hexdigest()[:12] + ".zip")
    if target.exists():
        return target
    shown = display_source(url)
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            payload = response.read(MAX_DOWNLOAD_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
        raise DataSourceError(
            f"Could not download MedQuAD from {shown} ({reason}). "
            "Without internet access, upload the archive or set MEDQA_MEDQUAD_SOURCE to a local copy."
        ) from None  # the original error may quote the URL with its credentials
    if len(payload) > MAX_DOWNLOAD_BYTES:
        raise DataSourceError(
            f"{shown} returned more than {MAX_DOWNLOAD_BYTES // (1024 * 1024)} MB; MedQuAD's archive is about 15 MB."
        )
    if not zipfile.is_zipfile(io.BytesIO(payload)):
        raise DataSourceError(f"{shown} did not return a zip archive.")
    atomic.write_bytes(target, payload)
    return target


def resolve_source(source: str | os.PathLike[str] | None = None) -> Path:
    """Turn a source argument (or ``MEDQA_MEDQUAD_SOURCE``, or the default URL) into a local path."""
    chosen = str(source) if source is not None else settings.medquad_source()
    if chosen is None:
        chosen = settings.DEFAULT_MEDQUAD_URL
    if is_url(chosen):
        return download(chosen)
    path = Path(chosen).expanduser()
    if not path.exists():
        raise DataSourceError(f"MedQuAD source not found: {display_source(chosen)}")
    return path


def cache_path(fingerprint: str) -> Path:
    """Where the parsed table of a source with this fingerprint is cached."""
    return settings.data_dir() / "cache" / f"medquad-{fingerprint}.parquet"


def write_parquet_atomic(table: pd.DataFrame, target: Path) -> None:
    """Write a table as parquet so that readers never see a half-written file (:mod:`medqa.atomic`)."""
    atomic.write_file(target, lambda temp: table.to_parquet(temp, index=False))


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
        use_cache: read and write the cache under ``data/cache`` (a content-addressed cache: loading
            never changes which table is the shared ``full`` corpus; :func:`set_current` does).

    Raises:
        DataSourceError: the source is missing, unreachable, holds no MedQuAD XML or is beyond a limit
            (``MAX_*`` above).
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
            return parsed
    total, files = _xml_files(path)
    pairs = parse_files(files, progress, total=total)
    if pairs.empty:
        raise DataSourceError(f"{path.name} holds MedQuAD folders but no question-answer pairs.")
    parsed = ParsedSource(pairs, fingerprint, str(path), from_cache=False)
    if use_cache:
        with contextlib.suppress(OSError):  # a read-only data folder: work from memory, parse again next time
            write_parquet_atomic(pairs, cached)
    return parsed


def _current_marker() -> Path:
    return settings.data_dir() / "cache" / "current.json"


def set_current(parsed: ParsedSource) -> None:
    """Make a parsed (and cached) table the shared ``full`` corpus, with its counts for listings.

    One atomic write of a small marker: readers see the old corpus or the new one. Called by
    :func:`medqa.data.store.build_datasets` only once the whole build succeeded, never by a load.
    """
    table = parsed.pairs
    answered = table[table[col.HAS_ANSWER]]
    summary = {
        "fingerprint": parsed.fingerprint,
        "origin": display_source(parsed.origin),
        "rows": len(table),
        "answered": len(answered),
        "focus_areas": int(answered[col.FOCUS].nunique()),
    }
    atomic.write_bytes(_current_marker(), json.dumps(summary).encode())


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
