"""The run record: what ``run.json`` says about a trained run, as a typed, versioned dataclass.

Written once by the trainer (:func:`medqa.training.trainer.train`), read by the registry, the model
card, the run tables, the CLI and the Hub import. Reading is tolerant: ``run.json`` files of every
earlier format (1: the dict the trainer wrote before this module; hand-made or imported ones that lack
most keys) load, with missing or malformed values replaced by empty defaults, and keys this version
does not know are kept in :attr:`RunRecord.extra` and written back unchanged. Writing always uses
:data:`RECORD_FORMAT`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Format written by :meth:`RunRecord.to_json`. 1: untyped dict (before 2026-11-29); 2: this module
#: (adds ``training.peak_rss_mb``, ``teacher_seconds``, ``trainable_parameters``, ``frozen_parameters``).
RECORD_FORMAT = 2


def _float(value: object, default: float = 0.0) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _int(value: object, default: int = 0) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _metrics(value: object) -> dict[str, float]:
    """Numeric entries only (a hand-edited file may hold anything)."""
    return {
        str(k): float(v)
        for k, v in _dict(value).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


@dataclass(frozen=True)
class TrainingStats:
    """How the optimisation went.

    Attributes:
        steps: optimizer steps done.
        epochs: passes over the pairs done.
        precision: ``fp32`` or ``bf16``.
        train_runtime_seconds: the trainer's own runtime (steps only).
        samples_per_second: training pairs per second over that runtime.
        final_train_loss: mean training loss (``None`` when unknown).
        max_seq_length_trained: tokens per text while training.
        max_seq_length_saved: tokens per text the saved model embeds with.
        torch_threads: CPU threads torch used.
        teacher_seconds: time spent embedding the distillation targets once before the first step.
        trainable_parameters: parameters the optimizer updated.
        frozen_parameters: parameters kept fixed (the word embeddings when frozen).
        peak_rss_mb: peak resident memory of the training process, in MB (``None``: not measured).
    """

    steps: int = 0
    epochs: float = 0.0
    precision: str = "fp32"
    train_runtime_seconds: float = 0.0
    samples_per_second: float = 0.0
    final_train_loss: float | None = None
    max_seq_length_trained: int = 0
    max_seq_length_saved: int = 0
    torch_threads: int = 0
    teacher_seconds: float = 0.0
    trainable_parameters: int = 0
    frozen_parameters: int = 0
    peak_rss_mb: float | None = None

    @classmethod
    def from_json(cls, payload: object) -> TrainingStats:
        raw = _dict(payload)
        loss, rss = raw.get("final_train_loss"), raw.get("peak_rss_mb")
        return cls(
            steps=_int(raw.get("steps")),
            epochs=_float(raw.get("epochs")),
            precision=str(raw.get("precision") or "fp32"),
            train_runtime_seconds=_float(raw.get("train_runtime_seconds")),
            samples_per_second=_float(raw.get("samples_per_second")),
            final_train_loss=None if loss is None else _float(loss),
            max_seq_length_trained=_int(raw.get("max_seq_length_trained")),
            max_seq_length_saved=_int(raw.get("max_seq_length_saved")),
            torch_threads=_int(raw.get("torch_threads")),
            teacher_seconds=_float(raw.get("teacher_seconds")),
            trainable_parameters=_int(raw.get("trainable_parameters")),
            frozen_parameters=_int(raw.get("frozen_parameters")),
            peak_rss_mb=None if rss is None else _float(rss),
        )


@dataclass(frozen=True)
class LossPoint:
    """Training loss logged at one step."""

    step: int
    epoch: float
    loss: float


@dataclass(frozen=True)
class EvaluationPoint:
    """Held-out metrics at one step (step 0: the starting model)."""

    step: int
    epoch: float
    label: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class ImportedFrom:
    """Where an imported run came from (:mod:`medqa.training.hub`)."""

    repo_id: str
    revision: str = "main"
    imported: str = ""


@dataclass(frozen=True)
class RunRecord:
    """Everything ``run.json`` holds about a run.

    Attributes:
        name: run name (the folder name).
        created: ISO time the training finished (``""`` when unknown).
        config: the training config as saved (:meth:`TrainingConfig.to_dict`; kept as saved, so a run
            from a later version with more settings still loads).
        base_model_source: where the starting model came from.
        seed: the run's seed.
        data: facts about the training data (fingerprint, pairs per variant, exclusions...).
        training: :class:`TrainingStats`.
        loss_history: training loss per logged step.
        evaluations: held-out evaluations, in order.
        heldout: what the held-out questions were (``None``: none).
        baseline_metrics: the starting model's held-out metrics (empty when not evaluated).
        metrics: the final held-out metrics (empty when evaluation was off).
        duration_seconds: wall time of the whole training call.
        versions: library versions.
        imported_from: set for runs imported from the Hub.
        format: the format the file was read in (:data:`RECORD_FORMAT` for new records).
        extra: keys this version does not know, written back unchanged.
    """

    name: str
    created: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    base_model_source: str = ""
    seed: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    training: TrainingStats = field(default_factory=TrainingStats)
    loss_history: tuple[LossPoint, ...] = ()
    evaluations: tuple[EvaluationPoint, ...] = ()
    heldout: str | None = None
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    duration_seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    imported_from: ImportedFrom | None = None
    format: int = RECORD_FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def preset(self) -> str:
        return str(self.config.get("preset", ""))

    @property
    def base_model(self) -> str:
        return str(self.config.get("base_model", ""))

    @property
    def data_name(self) -> str:
        return str(self.config.get("data", ""))

    @classmethod
    def from_json(cls, payload: dict[str, Any], name: str = "") -> RunRecord:
        """Read a ``run.json`` payload of any format (see the module docstring)."""
        known = {f.name for f in fields(cls)}
        losses = []
        for point in payload.get("loss_history") or []:
            if isinstance(point, dict):
                losses.append(
                    LossPoint(_int(point.get("step")), _float(point.get("epoch")), _float(point.get("loss")))
                )
        evaluations = []
        for point in payload.get("evaluations") or []:
            if isinstance(point, dict):
                evaluations.append(
                    EvaluationPoint(
                        _int(point.get("step")),
                        _float(point.get("epoch")),
                        str(point.get("label") or ""),
                        _metrics(point.get("metrics")),
                    )
                )
        origin = payload.get("imported_from")
        imported = (
            ImportedFrom(
                repo_id=str(origin.get("repo_id", "")),
                revision=str(origin.get("revision") or "main"),
                imported=str(origin.get("imported") or ""),
            )
            if isinstance(origin, dict)
            else None
        )
        heldout = payload.get("heldout")
        seed = payload.get("seed")
        return cls(
            name=str(payload.get("name") or name),
            created=str(payload.get("created") or ""),
            config=_dict(payload.get("config")),
            base_model_source=str(payload.get("base_model_source") or ""),
            seed=None if seed is None else _int(seed),
            data=_dict(payload.get("data")),
            training=TrainingStats.from_json(payload.get("training")),
            loss_history=tuple(losses),
            evaluations=tuple(evaluations),
            heldout=None if heldout is None else str(heldout),
            baseline_metrics=_metrics(payload.get("baseline_metrics")),
            metrics=_metrics(payload.get("metrics")),
            duration_seconds=_float(payload.get("duration_seconds")),
            versions={str(k): str(v) for k, v in _dict(payload.get("versions")).items()},
            imported_from=imported,
            format=_int(payload.get("format"), 1),
            extra={k: v for k, v in payload.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The ``run.json`` payload, in :data:`RECORD_FORMAT`."""
        payload = asdict(self)
        payload.pop("extra")
        payload["format"] = RECORD_FORMAT
        if self.imported_from is None:
            payload.pop("imported_from")
        return {**self.extra, **payload}
