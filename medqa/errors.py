"""Typed errors raised by medqa. Each carries a message fit to show a user as is."""

from __future__ import annotations


class MedQAError(Exception):
    """Base class of every error medqa raises on purpose."""


class DataSourceError(MedQAError):
    """A MedQuAD source (zip, folder or URL) is missing, unreachable or not MedQuAD."""


class DataNotFoundError(MedQAError):
    """A dataset that was asked for has not been built or uploaded yet."""


class CSVImportError(MedQAError):
    """An uploaded CSV cannot be imported; the message names the problem."""


class ModelLoadError(MedQAError):
    """A model cannot be resolved or loaded (corrupt folder, unknown id, offline)."""


class IndexCacheError(MedQAError):
    """An on-disk embedding cache is corrupt or does not match its corpus."""


class IndexBuildError(MedQAError):
    """Embedding a corpus failed (for example in the child process that builds the index)."""


class QuestionError(MedQAError):
    """A question cannot be searched (empty, too long after trimming, no words)."""


class TrainingError(MedQAError):
    """A training run cannot start or failed."""


class TrainingBusyError(TrainingError):
    """Another training run is already in progress on this server."""


class RunNameError(MedQAError):
    """A run name is empty or unusable as a folder name."""


class HubError(MedQAError):
    """The Hugging Face Hub could not be used (offline, unreachable, bad token, no such repository)."""


class PublishError(HubError):
    """Publishing to the Hugging Face Hub failed (offline, bad token, no permission)."""


class HubImportError(HubError):
    """Importing a run from the Hugging Face Hub failed (offline, not found, not a usable model)."""


class EvaluationError(MedQAError):
    """An evaluation set or run cannot be used."""


class TrainingCancelled(TrainingError):
    """A training run was cancelled before it finished; nothing was saved."""


class DatasetNameError(MedQAError, ValueError):
    """A dataset name is invalid, reserved (``full``, ``curated``) or already taken."""


class StorageError(MedQAError):
    """medqa's files could not be written (disk full, read-only or missing folder); nothing was replaced."""
