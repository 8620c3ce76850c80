"""Where medqa keeps its files, read from the environment at call time.

Environment variables:
    MEDQA_DATA_DIR: generated data (parsed MedQuAD cache, curated and uploaded datasets, indexes).
    MEDQA_MODELS_DIR: trained runs (the model registry).
    MEDQA_MEDQUAD_SOURCE: default MedQuAD source (zip path, folder or URL).

Without them, a source checkout (the app: ``Home.py`` next to ``medqa/``) keeps ``data/`` and ``models/``
in the checkout, as before; an installed copy (``pip install .``, where ``medqa/`` sits in
site-packages) never writes there and uses a per-user folder instead: ``$XDG_DATA_HOME/medqa`` (by
default ``~/.local/share/medqa``) with ``data/`` and ``models/`` inside.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The repository's master-branch archive, used when nothing else is configured (Community Cloud).
DEFAULT_MEDQUAD_URL = "https://github.com/abachaa/MedQuAD/archive/refs/heads/master.zip"

#: Largest CSV upload accepted, in bytes (kept in step with ``server.maxUploadSize``).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def is_source_checkout() -> bool:
    """Whether ``medqa/`` runs from the app's checkout (``Home.py`` beside it) rather than an install."""
    return (PROJECT_ROOT / "Home.py").is_file()


def default_home() -> Path:
    """Where ``data/`` and ``models/`` go when no environment variable names them."""
    if is_source_checkout():
        return PROJECT_ROOT
    user_data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(user_data) / "medqa"


def data_dir() -> Path:
    """Directory for generated data, created on demand."""
    path = Path(os.environ.get("MEDQA_DATA_DIR") or default_home() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Directory holding trained runs, created on demand."""
    path = Path(os.environ.get("MEDQA_MODELS_DIR") or default_home() / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


def medquad_source() -> str | None:
    """The configured MedQuAD source, or ``None`` when none is set."""
    return os.environ.get("MEDQA_MEDQUAD_SOURCE") or None
