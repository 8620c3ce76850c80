"""The ``README.md`` model card of a trained run, built from its ``run.json``.

In the spirit of setfit's ``model_card`` module: a :class:`ModelCardData` holds what the card says
(gathered from the run's record, never typed by hand), :func:`render_model_card` turns it into Hub
metadata (``huggingface_hub.ModelCardData``: ``eval_results`` for the held-out metrics, ``datasets``,
``base_model``) plus a readable body, read back by ``huggingface_hub.ModelCard`` to validate it, and
:func:`write_model_card` writes it next to the model. The card carries the medical disclaimer and the
MedQuAD citation, and no secret: it is built only from ``run.json``, which holds none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medqa.evaluation.metrics import display_name
from medqa.runs.record import RunRecord, TrainingStats

CARD_FILE = "README.md"
BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DISCLAIMER = (
    "This model ranks NIH answers for health questions. It is an educational tool: it does not diagnose, "
    "treat or give medical advice. In an emergency call your local emergency number."
)
MEDQUAD_CITATION = """@article{BenAbacha-BMC-2019,
  author  = {Ben Abacha, Asma and Demner-Fushman, Dina},
  title   = {A question-entailment approach to question answering},
  journal = {BMC Bioinformatics},
  volume  = {20},
  number  = {1},
  pages   = {511},
  year    = {2019}
}"""
_CARD_METRICS = ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "map@100")
_HYPERPARAMETERS = (
    ("preset", "Preset"),
    ("data", "Training data"),
    ("epochs", "Epochs"),
    ("max_steps", "Max steps"),
    ("batch_size", "Batch size"),
    ("gradient_accumulation_steps", "Gradient accumulation"),
    ("learning_rate", "Learning rate"),
    ("optimizer", "Optimizer"),
    ("lr_scheduler", "Scheduler"),
    ("warmup_ratio", "Warmup ratio"),
    ("weight_decay", "Weight decay"),
    ("max_seq_length", "Max sequence length"),
    ("loss", "Loss"),
    ("batch_sampler", "Batch sampler"),
    ("query_variants", "Query variants"),
    ("descriptions_per_pair", "Descriptions per pair"),
    ("description_sentences", "Sentences per description"),
    ("description_pairs", "Description source pairs"),
    ("max_pairs", "Max pairs"),
    ("max_pairs_per_focus", "Max pairs per focus"),
    ("distill_weight", "Distillation weight"),
    ("dropout", "Dropout while training"),
    ("merge_with_base", "Merge with base (WiSE-FT share)"),
    ("seed", "Seed"),
)
#: MedQuAD on the Hub (the same 47,457 pairs medqa reads from the GitHub archive), for ``datasets:``.
MEDQUAD_HUB_DATASET = "lavita/MedQuAD"
#: Training data names that are MedQuAD (an uploaded CSV is not).
MEDQUAD_DATASETS = ("curated", "full")
_LOSS_NAMES = {"mnrl": "MultipleNegativesRankingLoss", "cached_mnrl": "CachedMultipleNegativesRankingLoss"}


@dataclass
class ModelCardData:
    """What a run's model card says.

    Attributes:
        name: run name.
        base_model: Hub id of the model the run started from (``None`` when it is a local folder).
        config: the training config as saved in ``run.json``.
        data: facts about the training data (pairs, fingerprint, held-out split).
        training: facts about the training (steps, precision, duration).
        baseline_metrics: held-out metrics of the starting model.
        metrics: held-out metrics of the trained model.
        heldout: how the held-out evaluation was done.
        versions: library versions.
        created: when the run finished.
        duration_seconds: wall time.
        repo_id: Hub repository the card is published to, when known.
    """

    name: str
    base_model: str | None
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    training: TrainingStats = field(default_factory=TrainingStats)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    heldout: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    duration_seconds: float = 0.0
    repo_id: str | None = None

    @classmethod
    def from_run_info(cls, info: dict[str, Any], repo_id: str | None = None) -> ModelCardData:
        """Gather the card's content from a ``run.json`` payload (any format)."""
        return cls.from_record(RunRecord.from_json(info), repo_id=repo_id)

    @classmethod
    def from_record(cls, record: RunRecord, repo_id: str | None = None) -> ModelCardData:
        """Gather the card's content from a run record."""
        config = dict(record.config)
        base = record.base_model
        base_model = (
            BASE_MODEL_ID
            if base == "base"
            else (base if base.count("/") == 1 and not Path(base).exists() else None)
        )
        return cls(
            name=record.name,
            base_model=base_model,
            config=config,
            data=dict(record.data),
            training=record.training,
            baseline_metrics=dict(record.baseline_metrics),
            metrics=dict(record.metrics),
            heldout=record.heldout,
            versions=dict(record.versions),
            created=record.created,
            duration_seconds=record.duration_seconds,
            repo_id=repo_id,
        )

    def hub_card_data(self):  # -> huggingface_hub.ModelCardData (imported lazily: the server rarely needs it)
        """The card's Hub metadata as ``huggingface_hub.ModelCardData``: the held-out metrics become
        ``eval_results`` (the Hub's ``model-index``), and ``datasets`` names MedQuAD when trained on it."""
        from huggingface_hub import EvalResult
        from huggingface_hub import ModelCardData as HubCardData

        eval_results = [
            EvalResult(
                task_type="information-retrieval",
                task_name="Information Retrieval",
                dataset_type="medquad-heldout",
                dataset_name="MedQuAD held-out questions",
                metric_type=key,
                metric_value=round(float(value), 4),
                metric_name=display_name(key),
            )
            for key, value in self.metrics.items()
        ]
        trained_on = str(self.data.get("data") or self.config.get("data") or "")
        return HubCardData(
            language=["en"],
            license="apache-2.0",
            library_name="sentence-transformers",
            pipeline_tag="sentence-similarity",
            tags=["sentence-transformers", "sentence-similarity", "feature-extraction", "medical", "medqa"],
            base_model=self.base_model,
            datasets=[MEDQUAD_HUB_DATASET] if trained_on in MEDQUAD_DATASETS else None,
            model_name=(self.repo_id or self.name) if eval_results else None,
            eval_results=eval_results or None,
        )

    def metadata(self) -> dict[str, Any]:
        """Hub metadata (the card's YAML front matter) as a plain dict."""
        return self.hub_card_data().to_dict()


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _metrics_table(card: ModelCardData) -> str:
    keys = [key for key in _CARD_METRICS if key in card.metrics or key in card.baseline_metrics]
    if not keys:
        return "No held-out evaluation was run for this model.\n"
    has_base = bool(card.baseline_metrics)
    header = (
        "| Metric | Starting model | This model |\n|---|---|---|\n"
        if has_base
        else "| Metric | This model |\n|---|---|\n"
    )
    rows = []
    for key in keys:
        trained = f"{card.metrics[key]:.4f}" if key in card.metrics else "–"
        if has_base:
            base = f"{card.baseline_metrics[key]:.4f}" if key in card.baseline_metrics else "–"
            rows.append(f"| {display_name(key)} | {base} | {trained} |")
        else:
            rows.append(f"| {display_name(key)} | {trained} |")
    return header + "\n".join(rows) + "\n"


def render_model_card(card: ModelCardData) -> str:
    """The full ``README.md`` text: the Hub's front matter (``huggingface_hub.ModelCard``) and the body."""
    from huggingface_hub import ModelCard

    front = card.hub_card_data().to_yaml()
    model_id = card.repo_id or f"models/{card.name}"
    config = card.config
    loss = _LOSS_NAMES.get(str(config.get("loss", "")), str(config.get("loss", "")))
    base_text = (
        f"[{card.base_model}](https://huggingface.co/{card.base_model})"
        if card.base_model
        else "a local model"
    )
    hyper = "\n".join(
        f"| {label} | {_value(config[key])} |"
        for key, label in _HYPERPARAMETERS
        if config.get(key) is not None
    )
    data = card.data
    variants = data.get("pairs_per_variant") or {}
    variant_text = ", ".join(f"{name}: {count}" for name, count in variants.items()) or "question: all"
    versions = "\n".join(f"- {name}: {version}" for name, version in card.versions.items())
    training = card.training
    text = f"""---
{front}
---

# {card.name}

A sentence-embedding model fine-tuned from {base_text} with medqa to match
plain-language health questions with answers written by NIH institutes (MedQuAD). It maps questions and
answers to a 384-dimensional space; rank answers by cosine similarity to a question.

> **Medical disclaimer.** {DISCLAIMER}

## Usage

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{model_id}")
questions = model.encode(["What are the early signs of Alzheimer's disease?"])
answers = model.encode(["Memory loss that disrupts daily life is often one of the first signs..."])
print(model.similarity(questions, answers))
```

## Training

- Loss: {loss} (in-batch negatives) on (question, answer) pairs.
- Data: `{data.get("data", config.get("data", ""))}` — {data.get("train_pairs", "?")} training pairs from
  {data.get("train_source_pairs", "?")} question-answer pairs ({variant_text}); data fingerprint
  `{data.get("fingerprint", "")}`.
- Held-out questions never trained on: {data.get("heldout_queries", 0)} ({card.heldout or "none"}). Pairs
  sharing a held-out pair's id or exact answer were removed from training.
- {training.steps} optimizer steps, {training.epochs:g} epochs, {training.precision} on CPU,
  {card.duration_seconds:.0f} s in total; finished {card.created}.

| Hyperparameter | Value |
|---|---|
{hyper}

## Evaluation

Retrieval of the held-out questions' answers (cosine similarity; metrics defined as sentence-transformers'
InformationRetrievalEvaluator defines them):

{_metrics_table(card)}
Held-out scores measure templated MedQuAD questions; check consumer-style questions too (medqa's Compare
page) before trusting a model for real users.

## Framework versions

{versions}

## Citation

Data: MedQuAD (CC BY 4.0).

```bibtex
{MEDQUAD_CITATION}
```
"""
    return str(ModelCard(text))  # parsed back: the front matter is valid Hub metadata


def write_model_card(
    folder: str | Path, record: RunRecord | dict[str, Any], repo_id: str | None = None
) -> Path:
    """Write ``README.md`` for a run folder from its record (or ``run.json`` payload) and return its path."""
    path = Path(folder) / CARD_FILE
    card = (
        ModelCardData.from_record(record, repo_id=repo_id)
        if isinstance(record, RunRecord)
        else ModelCardData.from_run_info(record, repo_id=repo_id)
    )
    path.write_text(render_model_card(card), encoding="utf-8")
    return path
