"""The starting model's embeddings of a run's training texts, kept on disk for the next run.

Batch distillation compares each step's embeddings with the starting model's embeddings of the same
texts, computed once before the first step (:func:`medqa.training.trainer._teacher_embeddings`). They
depend only on the starting model's weights, the texts, the sequence length and the precision, so a
second run of the same preset (the Train page's common "try it again" or a changed learning rate)
would compute the same matrix again: 160 s of a 907 s recommended run on 2 cores without bf16, 25 s of
225 s with native bf16 (``bench/results/train_fp32_zen3.txt``, ``train_bf16_zen5.txt``).

Policy:

* **Key**: SHA-256 of the model's fingerprint (:func:`medqa.models.model_fingerprint`: equal
  fingerprints mean equal embeddings), the sequence length, the precision and every text in order.
  A starting model that is not a local folder (a Hub id) is not cached.
* **Trust nothing read back**: a file is used only when it loads without pickles and holds a finite
  float32 matrix of one row per text; anything else is recomputed (and overwritten).
* **Bounded**: one ``.npy`` per key (about 10 MB for the recommended preset's 6,912 texts) under
  ``<data>/cache/teacher``, written atomically; only the :data:`KEEP` most recently used stay.
* **Never in the way**: a cache that cannot be read or written (full disk, read-only folder) costs
  only the recomputation.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medqa import atomic, models, settings

logger = logging.getLogger(__name__)

#: Teacher matrices kept (most recently used first); older ones are deleted.
KEEP = 4


def cache_folder() -> Path:
    """Where the matrices live: ``<data>/cache/teacher``."""
    return settings.data_dir() / "cache" / "teacher"


def cache_path(
    source: str | Path | None, texts: Sequence[str], max_seq_length: int, precision: str
) -> Path | None:
    """The file for these texts embedded by this starting model, or ``None`` when it cannot be keyed."""
    if source is None or not Path(source).is_dir():
        return None
    digest = hashlib.sha256()
    digest.update(
        f"{models.model_fingerprint(str(source))}|{max_seq_length}|{precision}|{len(texts)}\n".encode()
    )
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return cache_folder() / f"{digest.hexdigest()[:32]}.npy"


def load(path: Path | None, rows: int) -> np.ndarray | None:
    """The cached matrix at ``path`` if it is a finite float32 matrix of ``rows`` rows, else ``None``."""
    if path is None or not path.is_file():
        return None
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        logger.warning("teacher cache %s unreadable (%s): recomputing", path.name, error)
        return None
    if (
        matrix.dtype != np.float32
        or matrix.ndim != 2
        or matrix.shape[0] != rows
        or not np.isfinite(matrix).all()
    ):
        logger.warning("teacher cache %s does not fit the run: recomputing", path.name)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used
    return matrix


def save(path: Path | None, matrix: np.ndarray) -> None:
    """Store ``matrix`` at ``path`` atomically and keep only the :data:`KEEP` most recent files."""
    if path is None:
        return
    try:
        atomic.write_file(path, lambda temp: _write(temp, matrix))
        kept = sorted(path.parent.glob("*.npy"), key=lambda file: file.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("teacher cache not written (%s)", error)


def _write(temp: Path, matrix: np.ndarray) -> None:
    with temp.open("wb") as stream:  # a file object: numpy would add ".npy" to a bare temp name
        np.save(stream, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
