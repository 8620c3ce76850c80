"""Atomic replacement of an on-disk cache folder, shared by the dense and BM25 indexes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(folder: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces ``folder`` in one rename.

    A crash or an exception while writing leaves the previous ``folder`` (or nothing) and removes the
    temporary folder, so a reader never sees a half-written cache.
    """
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        yield temp
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
