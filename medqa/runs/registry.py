"""The registry of trained runs: folders under :func:`medqa.settings.models_dir`.

A *run* is a folder ``models/<name>/`` holding a sentence-transformers model (``modules.json``,
``config.json``, ``model.safetensors``...), a ``run.json`` describing how it was trained and a
``README.md`` model card. Only complete runs are listed: a folder without a readable ``run.json`` or
with an incomplete model is skipped and reported by :func:`list_problems`. Folders whose name starts
with ``.`` (such as the ``.tmp-*`` folders a training writes into before its atomic rename) are ignored.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from medqa import settings
from medqa.errors import RunNameError
from medqa.runs.record import RunRecord

RUN_FILE = "run.json"
#: Longest accepted run name (keeps folder names and Hub repo names sane).
MAX_NAME_LENGTH = 96
_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Run:
    """One complete trained run.

    Attributes:
        name: folder name under ``models/`` (also what :func:`medqa.models.load_model` accepts).
        path: absolute folder path.
        created: when the training finished (from ``run.json``; the folder time when missing).
        preset: preset the config started from.
        base_model: model the run started from.
        data: training data name.
        config: the full training config as saved.
        metrics: final held-out metrics (may be empty when evaluation was off).
        duration_seconds: wall time of the training.
        record: the whole ``run.json``, typed (:class:`~medqa.runs.record.RunRecord`).
    """

    name: str
    path: Path
    created: datetime
    preset: str = ""
    base_model: str = ""
    data: str = ""
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    metrics: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    duration_seconds: float = 0.0
    record: RunRecord | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def info(self) -> dict[str, Any]:
        """The ``run.json`` payload as a plain dict (for JSON output; read :attr:`record` otherwise)."""
        return self.record.to_json() if self.record is not None else {}

    @property
    def label(self) -> str:
        """Short human label: name, preset and date."""
        when = self.created.strftime("%Y-%m-%d %H:%M")
        return f"{self.name} ({self.preset or 'custom'}, {when})"


@dataclass(frozen=True)
class RunProblem:
    """A folder under ``models/`` that is not a usable run, and why."""

    name: str
    path: Path
    reason: str


def sanitize_run_name(text: str) -> str:
    """Check a user-given run name and return it trimmed.

    Accepts letters, digits, ``.``, ``_`` and ``-`` (first character a letter or digit); spaces are
    turned into ``-``. Anything that could escape ``models/`` is refused rather than silently changed.

    Raises:
        RunNameError: the name is empty, too long, contains a slash, ``..``, control characters or other
            characters unfit for a folder name.
    """
    if text is None:
        raise RunNameError("Give the run a name.")
    name = str(text).strip()
    if not name:
        raise RunNameError("Give the run a name.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise RunNameError("A run name cannot contain control characters.")
    if "/" in name or "\\" in name:
        raise RunNameError("A run name cannot contain slashes: it is a single folder name under models/.")
    if ".." in name or name.startswith("."):
        raise RunNameError("A run name cannot start with '.' or contain '..'.")
    name = re.sub(r"\s+", "-", name)
    if len(name) > MAX_NAME_LENGTH:
        raise RunNameError(f"A run name can have at most {MAX_NAME_LENGTH} characters.")
    if not _ALLOWED.match(name):
        raise RunNameError(
            "Use only letters, digits, '.', '_' and '-' in a run name (start with a letter or digit)."
        )
    if name.lower() == "base":
        raise RunNameError("'base' is reserved for the base model; choose another run name.")
    return name


def _read_run(folder: Path) -> Run | RunProblem:
    from medqa.models import folder_problem

    run_file = folder / RUN_FILE
    if not run_file.is_file():
        return RunProblem(folder.name, folder, f"no {RUN_FILE} (unfinished or not a medqa run)")
    try:
        info = json.loads(run_file.read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as error:
        return RunProblem(folder.name, folder, f"{RUN_FILE} is unreadable ({error})")
    problem = folder_problem(folder)
    if problem is not None:
        return RunProblem(folder.name, folder, f"model files incomplete: {problem}")
    record = RunRecord.from_json(info, name=folder.name)
    try:
        created = datetime.fromisoformat(record.created)
    except ValueError:
        created = datetime.fromtimestamp(run_file.stat().st_mtime).astimezone()
    return Run(
        name=folder.name,
        path=folder.resolve(),
        created=created,
        preset=record.preset,
        base_model=record.base_model,
        data=record.data_name,
        config=record.config,
        metrics=record.metrics,
        duration_seconds=record.duration_seconds,
        record=record,
    )


def scratch_folder(final: Path) -> Path:
    """A new hidden folder name beside ``final`` to write a run into before :func:`place_run` renames it."""
    return final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"


def remove_scratch_folders(final: Path) -> None:
    """Delete what a killed writer left of ``final`` (its scratch folders; the run itself never existed)."""
    for leftover in final.parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def check_replaceable(final: Path) -> None:
    """Refuse to replace anything but a run or an empty folder (``--overwrite`` deletes what it replaces:
    ``train --out ./models --overwrite`` must not delete the registry, nor ``--out ~/Documents`` a folder).

    Raises:
        RunNameError: ``final`` exists and is a file, a symlink, or a non-empty folder without ``run.json``.
    """
    if not final.exists() and not final.is_symlink():
        return
    is_folder = final.is_dir() and not final.is_symlink()
    if is_folder and ((final / RUN_FILE).is_file() or not any(final.iterdir())):
        return
    raise RunNameError(
        f"{final} is not a run (it has no {RUN_FILE}), so it is not replaced: --overwrite replaces only a "
        "run or an empty folder. Choose another output folder."
    )


def place_run(tmp: Path, final: Path, overwrite: bool = False) -> None:
    """Move a complete run folder ``tmp`` to ``final`` (a rename in the same folder, so it is atomic).

    Raises:
        RunNameError: ``final`` exists and ``overwrite`` is off, or it is not a run (:func:`check_replaceable`).
    """
    if final.exists() or final.is_symlink():
        if not overwrite:
            raise RunNameError(f"A run named {final.name!r} already exists; choose another name.")
        check_replaceable(final)
        trash = final.parent / f".trash-{final.name}-{uuid.uuid4().hex[:8]}"
        final.rename(trash)
        tmp.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(final)


def load_run(folder: str | Path) -> Run:
    """The run stored in any folder (inside ``models/`` or not).

    Raises:
        RunNameError: the folder is not a complete run.
    """
    folder = Path(folder)
    entry = _read_run(folder)
    if isinstance(entry, RunProblem):
        raise RunNameError(f"{folder} is not a complete run: {entry.reason}.")
    return entry


def _scan() -> list[Run | RunProblem]:
    root = settings.models_dir()
    entries = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        entries.append(_read_run(folder))
    return entries


def list_runs() -> list[Run]:
    """Complete runs, newest first."""
    runs = [entry for entry in _scan() if isinstance(entry, Run)]
    return sorted(runs, key=lambda run: (run.created.timestamp(), run.name), reverse=True)


def list_problems() -> list[RunProblem]:
    """Folders under ``models/`` that are skipped because they are not complete runs."""
    return [entry for entry in _scan() if isinstance(entry, RunProblem)]


def run_path(name: str) -> Path:
    """Folder a run of this (sanitised) name lives in, whether or not it exists."""
    return settings.models_dir() / sanitize_run_name(name)


def get_run(name: str) -> Run:
    """The complete run called ``name``.

    Raises:
        RunNameError: the name is invalid, no such run exists, or its folder is incomplete.
    """
    folder = run_path(name)
    if not folder.is_dir():
        raise RunNameError(f"No trained run named {name!r} under {settings.models_dir()}.")
    entry = _read_run(folder)
    if isinstance(entry, RunProblem):
        raise RunNameError(f"Run {name!r} is incomplete or corrupt: {entry.reason}.")
    return entry


def run_exists(name: str) -> bool:
    """Whether anything (complete or not) already occupies this run name."""
    return run_path(name).exists()


def delete_run(name: str) -> None:
    """Delete a run's folder (complete or not).

    Raises:
        RunNameError: the name is invalid or nothing by that name exists.
    """
    folder = run_path(name)
    root = settings.models_dir().resolve()
    if not folder.exists():
        raise RunNameError(f"No run named {name!r} to delete.")
    if folder.resolve().parent != root:  # a symlink pointing elsewhere: never delete outside models/
        raise RunNameError(f"Run {name!r} is not a folder inside {root}; not deleting it.")
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    else:
        shutil.rmtree(folder)
