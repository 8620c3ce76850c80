"""Named datasets on disk: the full MedQuAD table, the curated subset and uploaded CSVs.

Every dataset is a parquet file under ``data/datasets`` with a JSON sidecar describing it. ``full`` is
special: it is the parsed MedQuAD cache itself. Writes are atomic, so a failed upload or build never
replaces a dataset that was already there.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from medqa import atomic, settings
from medqa.data import schema as col
from medqa.data.curate import (
    DEFAULT_CATEGORIES,
    DEFAULT_PER_CATEGORY,
    DEFAULT_SEED,
    DEFAULT_TEST_PER_CATEGORY,
    build_curated,
)
from medqa.data.medquad import (
    ProgressCallback,
    cache_path,
    current_summary,
    load_cached_medquad,
    load_medquad,
    set_current,
    write_parquet_atomic,
)
from medqa.data.parquet import read_parquet, release_unused_memory
from medqa.errors import DataNotFoundError, DatasetNameError, DataSourceError, MedQAError, StorageError

FULL = "full"
CURATED = "curated"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Largest MedQuAD archive accepted as an upload (the real one is 15 MB; ``server.maxUploadSize`` is 40).
MAX_ARCHIVE_UPLOAD_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True)
class DatasetInfo:
    """What a stored dataset is and where it came from."""

    name: str
    kind: str  # "full", "curated" or "upload"
    rows: int
    answered: int
    focus_areas: int
    created: str
    origin: str
    fingerprint: str
    settings: dict[str, object] = field(default_factory=dict)


def datasets_dir() -> Path:
    """Folder holding the stored datasets."""
    path = settings.data_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


_FINGERPRINT_ROWS = 1024


def table_fingerprint(table: pd.DataFrame) -> str:
    """A short content hash of a pairs table (ids, questions and answers, in order)."""
    digest = hashlib.sha256()
    for column in (col.ID, col.QUESTION, col.ANSWER):
        # In slices: hashing converts strings to Python objects, and for a whole corpus at once those
        # leave ~90 MB of fragmented heap behind. Row hashes do not depend on the slicing.
        for start in range(0, len(table), _FINGERPRINT_ROWS):
            rows = table[column].iloc[start : start + _FINGERPRINT_ROWS]
            digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def slugify(name: str) -> str:
    """Turn a user-given name into a safe dataset name (lower-case letters, digits, ``-``, ``_``)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.casefold()).strip("-_")[:64]
    return slug or "dataset"


def _info_path(name: str) -> Path:
    return datasets_dir() / f"{name}.json"


def _table_path(name: str) -> Path:
    return datasets_dir() / f"{name}.parquet"


def storage_error(error: OSError, what: str) -> StorageError:
    """A typed, user-readable error for a failed write (disk full, read-only or missing folder)."""
    reason = error.strerror or type(error).__name__
    return StorageError(
        f"Could not save {what}: {reason}. Nothing was replaced; free some disk space and try again."
    )


def save_dataset(
    table: pd.DataFrame,
    name: str,
    *,
    kind: str,
    origin: str,
    settings_used: dict[str, object] | None = None,
    replace: bool = False,
) -> DatasetInfo:
    """Store a pairs table under a new name (atomically: a failed write leaves nothing half-written).

    Policy (:mod:`medqa.access`): an upload never replaces a dataset, so one visitor cannot change
    what another one sees. ``full`` is the parsed MedQuAD cache and is never saved here; ``curated`` is
    reserved for the curated build, which alone passes ``replace=True``.

    Raises:
        DatasetNameError: the name is invalid, reserved or (without ``replace``) already taken.
        StorageError: the files could not be written; an older dataset is kept.
    """
    if not _NAME.match(name):
        raise DatasetNameError(
            f"Invalid dataset name {name[:80]!r}: use 1-64 lower-case letters, digits, '-' or '_'."
        )
    if name == FULL or (name == CURATED and kind != CURATED):
        raise DatasetNameError(f"{name!r} is reserved for MedQuAD's own datasets; choose another name.")
    if not replace and (_info_path(name).exists() or _table_path(name).exists()):
        raise DatasetNameError(f"A dataset named {name!r} already exists; choose another name.")
    info = DatasetInfo(
        name=name,
        kind=kind,
        rows=len(table),
        answered=int(table[col.HAS_ANSWER].sum()),
        focus_areas=int(table[col.FOCUS].nunique()),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        origin=origin,
        fingerprint=table_fingerprint(table),
        settings=dict(settings_used or {}),
    )
    try:
        write_parquet_atomic(table, _table_path(name))
        atomic.write_bytes(_info_path(name), json.dumps(asdict(info), indent=2).encode())
    except OSError as error:
        raise storage_error(error, f"dataset {name!r}") from error
    return info


def medquad_cache_exists(fingerprint: str) -> bool:
    """Whether the parsed table of a source is cached (not so on a read-only data folder)."""
    return cache_path(fingerprint).exists()


def _full_info() -> DatasetInfo | None:
    summary = current_summary()
    if summary is None:
        return None
    return DatasetInfo(
        name=FULL,
        kind=FULL,
        rows=int(summary["rows"]),
        answered=int(summary["answered"]),
        focus_areas=int(summary["focus_areas"]),
        created="",
        origin=str(summary["origin"]),
        fingerprint=str(summary["fingerprint"]),
    )


def list_datasets() -> list[DatasetInfo]:
    """Every usable stored dataset, ``full`` and ``curated`` first."""
    found = []
    full = _full_info()
    if full is not None:
        found.append(full)
    for info_file in sorted(datasets_dir().glob("*.json")):
        try:
            info = DatasetInfo(**json.loads(info_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # an unreadable sidecar: skip the dataset rather than fail the listing
        if _table_path(info.name).exists():
            found.append(info)
    return sorted(found, key=lambda info: (info.name not in (FULL, CURATED), info.name != FULL, info.name))


def save_upload_archive(data: bytes) -> Path:
    """Keep an uploaded MedQuAD zip under ``data/downloads`` and return its path.

    Prefer :func:`uploaded_archive`, which deletes the file after use.

    Raises:
        DataSourceError: the upload is too large or not a zip archive (checked before anything is written).
        StorageError: the file could not be written.
    """
    if len(data) > MAX_ARCHIVE_UPLOAD_BYTES:
        raise DataSourceError(
            f"The upload is {len(data) / 1e6:.0f} MB; MedQuAD's archive is about 15 MB (at most "
            f"{MAX_ARCHIVE_UPLOAD_BYTES // (1024 * 1024)} MB accepted)."
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DataSourceError("The uploaded file is not a zip archive (expected MedQuAD-master.zip).")
    target = settings.data_dir() / "downloads" / f"upload-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(target, data)
    except OSError as error:
        raise storage_error(error, "the uploaded archive") from error
    return target


@contextmanager
def uploaded_archive(data: bytes) -> Iterator[Path]:
    """An uploaded MedQuAD zip as a file for the duration of a build, deleted afterwards.

    The parsed table stays cached by content, so the archive itself is not needed once built; keeping
    every upload would let the disk grow without limit.
    """
    path = save_upload_archive(data)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def load_pairs(name: str) -> pd.DataFrame:
    """Load a stored dataset (all rows, including answer-less ones for ``full``).

    Args:
        name: ``full``, ``curated``, an uploaded dataset's name, or a path to a parquet file.

    Raises:
        DataNotFoundError: the dataset has not been built or uploaded.
    """
    if name == FULL:
        parsed = load_cached_medquad()
        if parsed is None:
            raise DataNotFoundError(
                "MedQuAD has not been loaded yet: build the data first (Home page or `python -m medqa data build`)."
            )
        return parsed.pairs
    path = Path(name) if name.endswith(".parquet") else _table_path(name)
    if not path.exists():
        raise DataNotFoundError(f"No dataset named {name!r}: build or upload it first.")
    try:
        return read_parquet(path)
    except (OSError, ValueError) as error:
        raise DataNotFoundError(
            f"Dataset {name!r} cannot be read ({error}); build or upload it again."
        ) from error


def load_corpus(name: str) -> pd.DataFrame:
    """The answered pairs of a dataset, ready for retrieval, training or evaluation."""
    pairs = load_pairs(name)
    corpus = pairs[pairs[col.HAS_ANSWER]].reset_index(drop=True)
    del pairs
    release_unused_memory()
    return corpus


def ensure_datasets(source: str | None = None, **build_options: int) -> bool:
    """Build ``full`` and ``curated`` when either is missing.

    Args:
        source: MedQuAD zip, folder or URL; defaults to ``MEDQA_MEDQUAD_SOURCE``.
        build_options: passed to :func:`build_datasets` (curated subset sizes, seed).

    Returns:
        Whether they were built now (``False``: both already there).

    Raises:
        DataNotFoundError: a dataset is missing and no source is given or configured.
    """
    if {FULL, CURATED} <= {info.name for info in list_datasets()}:
        return False
    source = source or settings.medquad_source()
    if not source:
        raise DataNotFoundError("No datasets yet: give a MedQuAD source or set MEDQA_MEDQUAD_SOURCE.")
    build_datasets(source, **build_options)  # type: ignore[arg-type]
    return True


def build_datasets(
    source: str | None = None,
    *,
    categories: int = DEFAULT_CATEGORIES,
    per_category: int = DEFAULT_PER_CATEGORY,
    test_per_category: int = DEFAULT_TEST_PER_CATEGORY,
    seed: int = DEFAULT_SEED,
    progress: ProgressCallback | None = None,
) -> tuple[DatasetInfo, DatasetInfo]:
    """Parse MedQuAD (through its cache), build the curated subset, and make both the shared datasets.

    The shared ``full`` corpus changes only once the whole build succeeded: parsing, the limits on an
    untrusted archive (:mod:`medqa.data.medquad`) and the curated selection (which needs enough focus
    areas with enough answered pairs) all run first. A failed build leaves ``full`` and ``curated`` as
    they were. Then ``curated`` is written and ``full`` switched with one atomic marker write.

    Returns:
        The ``full`` and ``curated`` dataset descriptions.

    Raises:
        DataSourceError: the source is unusable; MedQAError (curation) when it cannot give the subset.
        StorageError: the disk is full or read-only.
    """
    try:
        parsed = load_medquad(source, progress=progress)
        curated = build_curated(
            parsed.pairs,
            categories=categories,
            per_category=per_category,
            test_per_category=test_per_category,
            seed=seed,
        )
    except MedQAError:
        raise
    except OSError as error:
        raise storage_error(error, "MedQuAD") from error
    curated_info = save_dataset(
        curated,
        CURATED,
        kind=CURATED,
        origin=parsed.origin,
        settings_used={
            "categories": categories,
            "per_category": per_category,
            "test_per_category": test_per_category,
            "seed": seed,
            "source_fingerprint": parsed.fingerprint,
        },
        replace=True,
    )
    if medquad_cache_exists(parsed.fingerprint):
        try:
            set_current(parsed)
        except OSError as error:
            raise storage_error(error, "MedQuAD") from error
    full_info = _full_info()
    if full_info is None or full_info.fingerprint != parsed.fingerprint:
        # the cache could not be written (read-only data dir): describe the table anyway
        table = parsed.pairs
        answered = table[table[col.HAS_ANSWER]]  # focus areas counted as listings count them
        full_info = DatasetInfo(
            FULL, FULL, len(table), len(answered), int(answered[col.FOCUS].nunique()),
            "", parsed.origin, parsed.fingerprint,
        )  # fmt: skip
    return full_info, curated_info
