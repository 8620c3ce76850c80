"""Where medqa keeps its files, read from the environment at call time.

Environment variables:
    MEDQA_DATA_DIR: generated data (parsed MedQuAD cache, curated and uploaded datasets, indexes).
    MEDQA_MODELS_DIR: trained runs (the model registry).
    MEDQA_MEDQUAD_SOURCE: default MedQuAD source (zip path, folder or URL).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The repository's master-branch archive, used when nothing else is configured (Community Cloud).
DEFAULT_MEDQUAD_URL = "https://github.com/abachaa/MedQuAD/archive/refs/heads/master.zip"

#: Largest CSV upload accepted, in bytes (kept in step with ``server.maxUploadSize``).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def data_dir() -> Path:
    """Directory for generated data, created on demand."""
    path = Path(os.environ.get("MEDQA_DATA_DIR") or PROJECT_ROOT / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Directory holding trained runs, created on demand."""
    path = Path(os.environ.get("MEDQA_MODELS_DIR") or PROJECT_ROOT / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


def medquad_source() -> str | None:
    """The configured MedQuAD source, or ``None`` when none is set."""
    return os.environ.get("MEDQA_MEDQUAD_SOURCE") or None
