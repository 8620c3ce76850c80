"""Atomic writes: readers see the old file (or folder) or the whole new one, never a part.

Every file or folder medqa saves for later (parsed tables, datasets, indexes, calibrations, evaluation
caches, runs, the downloaded base model) is written into a temporary sibling and renamed into place in
one ``os.replace``; a crash, a full disk or an exception leaves the previous version (or nothing) and
removes the temporary. This module is the one place that does it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_file(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp_path)`` to fill a temporary sibling of ``target``, then rename it into place.

    Raises:
        Whatever ``write`` raises, or ``OSError`` (full disk, read-only folder): ``target`` is unchanged.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_bytes(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` atomically."""
    write_file(target, lambda temp: temp.write_bytes(payload))


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_file(target, lambda temp: temp.write_text(text, encoding="utf-8"))


@contextmanager
def replacing_folder(folder: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``folder`` in one rename.

    A crash or an exception while writing leaves the previous ``folder`` (or nothing) and removes the
    temporary folder, so a reader never sees a half-written cache.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        yield temp
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
