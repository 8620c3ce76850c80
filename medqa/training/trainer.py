"""Fine-tune a sentence-embedding model on CPU with the sentence-transformers Trainer API.

Stable entry point (other code and benchmarks rely on this signature)::

    from medqa.training.trainer import train
    run = train(config, out_dir, progress=None, *, overwrite=False, data=None)

* ``config``: a :class:`~medqa.training.arguments.TrainingConfig` (e.g. ``arguments.preset("original")``).
* ``out_dir``: a run name (saved under :func:`medqa.settings.models_dir`) or a folder path such as
  ``models/my-run``; the last part is the run name and must pass
  :func:`~medqa.runs.registry.sanitize_run_name`.
* ``progress``: an optional :class:`~medqa.training.progress.Progress` that receives steps, losses,
  evaluation points and log lines, and whose ``cancel()`` stops the run after the current step.
* ``overwrite``: replace an existing folder of that name (only once the new run is complete).
* ``data``: pre-built :class:`~medqa.training.data.TrainingData` (benchmarks reuse one build).

Returns the finished :class:`~medqa.runs.registry.Run`. Raises
:class:`~medqa.errors.TrainingCancelled` when cancelled, :class:`~medqa.errors.TrainingError` (or a
data / model error) when it cannot run. The model is written to ``<parent>/.tmp-<name>-<random>/`` and
renamed into place only when everything (model, ``run.json``, model card) is written, so a cancelled or
crashed run leaves nothing the registry lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medqa import atomic, models, settings, system
from medqa.errors import MedQAError, RunNameError, TrainingCancelled, TrainingError
from medqa.retrieval.dense import DenseSettings, embed_without_torch
from medqa.runs import registry
from medqa.runs.record import RECORD_FORMAT, LossPoint, RunRecord, TrainingStats
from medqa.training import teacher_cache
from medqa.training.arguments import TrainingConfig
from medqa.training.attention import SEARCH_ATTENTION, attention, training_kernel
from medqa.training.data import TrainingData, build_training_data
from medqa.training.dropout import set_dropout
from medqa.training.freezing import (
    FrozenLayerReplay,
    FrozenLayersOnce,
    freeze_lower_layers,
    freeze_word_embeddings,
)
from medqa.training.matmul import ONEDNN, choose_kernel, linear_products
from medqa.training.negatives import with_hard_negatives
from medqa.training.progress import CANCELLED, FAILED, FINISHED, Progress

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

#: Part of the baseline cache key: a new record format re-scores the starting model once.
RUN_FORMAT = RECORD_FORMAT
#: Held-out metrics recorded per evaluation (names as in :mod:`medqa.evaluation.metrics`).
EVAL_METRICS = ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "map@100")
#: The metric quoted in log lines and on the chart.
MAIN_METRIC = "mrr@10"
#: Tokens per text when judging held-out answers: the Ask engine's and the Compare page's, so the
#: chart's figures are the ones Compare reports for the saved run.
EVAL_MAX_SEQ_LENGTH = DenseSettings().max_seq_length
#: Texts per forward pass when embedding without gradients (held-out answers, distillation targets).
#: Memory, not speed, decides: a batch of 64 answers at 256 tokens holds ~200 MB of attention scores
#: per layer, and the allocator keeps that peak for the rest of the run (the training child's RSS was
#: 1.66 GB with 64); on CPU, 16 texts per pass embed as fast (bench/bench_train.py, child peak RSS).
EVAL_BATCH_SIZE = 16
_LIBRARIES = ("sentence-transformers", "transformers", "torch", "datasets", "accelerate", "huggingface-hub")


def resolve_output(out_dir: str | Path) -> tuple[str, Path]:
    """The run name and final folder for ``out_dir`` (a bare name goes under ``models/``).

    Raises:
        RunNameError: the last path part is not a usable run name.
    """
    text = str(out_dir).strip()
    if not text:
        raise RunNameError("Give the run a name.")
    if "/" not in text and "\\" not in text:
        name = registry.sanitize_run_name(text)
        return name, settings.models_dir() / name
    path = Path(text).expanduser()
    name = registry.sanitize_run_name(path.name)
    return name, path.parent.resolve() / name


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide what a training does, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def choose_precision(precision: str) -> str:
    """``bf16`` or ``fp32`` for training: ``auto`` uses bf16 only on a CPU that computes it natively."""
    if precision == "auto":
        return "bf16" if models.bf16_supported() else "fp32"
    return precision


class HeldOutEvaluator:
    """Held-out retrieval metrics of a model, scored by medqa's one scoring path.

    :func:`medqa.evaluation.metrics.similarity_metrics`: cosine ranking and the definitions of
    sentence-transformers' ``InformationRetrievalEvaluator``, so the chart, ``run.json`` and the
    Compare page agree.
    """

    def __init__(self, heldout: Any, batch_size: int = 64) -> None:
        self.description = heldout.description
        self.fingerprint = hashlib.sha256(
            json.dumps(
                [
                    sorted(heldout.queries.items()),
                    sorted(heldout.corpus.items()),
                    sorted((k, sorted(v)) for k, v in heldout.relevant.items()),
                ]
            ).encode()
        ).hexdigest()[:16]
        self.batch_size = batch_size
        self.query_ids = sorted(heldout.queries)
        self.queries = [heldout.queries[query_id] for query_id in self.query_ids]
        self.relevant = [heldout.relevant[query_id] for query_id in self.query_ids]
        self.doc_ids = sorted(heldout.corpus)
        self.docs = [heldout.corpus[doc_id] for doc_id in self.doc_ids]

    def __call__(self, model: SentenceTransformer) -> dict[str, float]:
        was_training, trained_length = model.training, model.max_seq_length
        # Judged as the Ask engine and the Compare page embed answers, whatever length training uses.
        model.max_seq_length = EVAL_MAX_SEQ_LENGTH
        try:
            from medqa.evaluation.metrics import aggregate, similarity_metrics

            def embed(texts: list[str]) -> Any:
                return models.encode(model, texts, batch_size=self.batch_size, precision="fp32")

            with attention(model, SEARCH_ATTENTION):
                per_query = similarity_metrics(
                    embed(self.queries),
                    embed(self.docs),
                    self.doc_ids,
                    self.relevant,
                    query_ids=self.query_ids,
                )
            return {metric: value for metric, value in aggregate(per_query).items() if metric in EVAL_METRICS}
        finally:
            model.max_seq_length = trained_length
            model.train(was_training)


def _sample_distilled_loss(
    model: SentenceTransformer,
    inner: Any,
    texts: list[str],
    weight: float,
    batch_size: int,
    seed: int,
    precision: str,
    source: str | Path | None = None,
) -> Any:
    """Wrap a ranking loss with an MSE term that keeps embeddings of ``texts`` near the starting model's.

    The starting model's embeddings are computed once, here; the model being trained embeds
    ``batch_size`` of the texts at every step (an extra forward and backward pass: with 128-token
    corpus texts it was 40 % of the recommended preset's former step time).
    """
    import torch
    from torch import nn

    class DistilledLoss(nn.Module):
        """Ranking loss + ``weight`` x MSE(model(texts), frozen starting embeddings)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.inner = inner
            self.texts = texts
            self.weight = weight
            self.batch_size = batch_size
            self.register_buffer(
                "targets", _teacher_embeddings(model, texts, precision, source), persistent=False
            )
            self.generator = torch.Generator().manual_seed(seed)
            self.order = torch.randperm(len(texts), generator=self.generator)
            self.cursor = 0

        def _next_indices(self) -> Any:
            if self.cursor + self.batch_size > len(self.order):
                self.order = torch.randperm(len(self.texts), generator=self.generator)
                self.cursor = 0
            chosen = self.order[self.cursor : self.cursor + self.batch_size]
            self.cursor += self.batch_size
            return chosen

        def forward(self, sentence_features: Any, labels: Any) -> dict[str, Any]:
            ranking = self.inner(sentence_features, labels)
            chosen = self._next_indices()
            features = self.model.preprocess([self.texts[i] for i in chosen.tolist()])
            features = {
                key: value.to(self.targets.device) if hasattr(value, "to") else value
                for key, value in features.items()
            }
            embeddings = self.model(features)["sentence_embedding"]
            distill = nn.functional.mse_loss(embeddings.float(), self.targets[chosen].float())
            # MSE of unit vectors is tiny (~1e-4); scale by the dimension so weight 1 matters.
            return {"ranking": ranking, "distill": self.weight * distill * embeddings.shape[-1]}

        @property
        def citation(self) -> str:
            return getattr(inner, "citation", "")

    return DistilledLoss()


def _teacher_embeddings(
    model: SentenceTransformer, texts: list[str], precision: str = "fp32", source: str | Path | None = None
) -> Any:
    """The starting model's embeddings of ``texts`` (eval mode, no gradient), as a float32 tensor.

    Where the run trains in bf16 (a CPU that computes it natively): through :func:`medqa.models.encode`,
    sorted by length (little padding), under bf16 autocast (about twice the fp32 matmul rate on such a
    CPU, bench/results/train.txt). In fp32, when ``source`` is the starting model's folder, by the
    torch-free fp32 path of index builds (:func:`medqa.retrieval.dense.embed_without_torch`: ONNX
    Runtime, about 2.7x torch's fp32 rate on 2 cores, else the numpy encoder, about 1.5x; cosine >=
    0.9999 to torch); else
    through torch in fp32. The matrix is kept on disk for the next run of the same texts from the same
    starting folder (:mod:`medqa.training.teacher_cache`).
    """
    import torch

    path = teacher_cache.cache_path(source, texts, model.max_seq_length, precision)
    vectors = teacher_cache.load(path, len(texts))
    if vectors is None:
        vectors = _embed_as_teacher(model, texts, precision, source)
        teacher_cache.save(path, vectors)
    return torch.from_numpy(vectors)


def _embed_as_teacher(
    model: SentenceTransformer, texts: list[str], precision: str, source: str | Path | None
) -> np.ndarray:
    """The starting model's embeddings of ``texts`` by the path :func:`_teacher_embeddings` describes."""
    import torch

    if precision == "fp32" and source is not None:
        embedded = embed_without_torch(texts, source, model.max_seq_length)
        if embedded is not None:
            return embedded[0]
    was_training = model.training
    try:
        with torch.no_grad():
            return models.encode(model, texts, batch_size=EVAL_BATCH_SIZE, precision=precision)
    finally:
        model.train(was_training)


def _starting_embeddings(
    model: SentenceTransformer, data: TrainingData, precision: str, source: str | Path | None = None
) -> tuple[Any, dict[str, int]]:
    """The starting model's embeddings of every text of the pairs (computed once, before the first step).

    Batch distillation uses them as targets and hard-negative mining as scores.

    Returns:
        The embeddings (float32 tensor, one row per distinct text) and each text's row.
    """
    unique = list(dict.fromkeys(text for name in data.text_columns for text in data.pairs[name].tolist()))
    return _teacher_embeddings(model, unique, precision, source), {
        text: row for row, text in enumerate(unique)
    }


def _distill_term(weight: float, starting: tuple[Any, dict[str, int]], data: TrainingData) -> Any:
    """``weight`` x MSE(batch embeddings, starting embeddings of the same texts) x dimension.

    The function returned takes one embedding tensor per text column of the batch (anchor, positive,
    negative) and the batch's ``label`` column (each pair's row number, which picks the targets). Shared
    by the plain and the cached (GradCache) batch distillation, so both optimise the same objective.
    """
    import torch
    from torch import nn

    targets, where = starting
    column_rows = [
        torch.tensor([where[text] for text in data.pairs[name].tolist()], dtype=torch.long)
        for name in data.text_columns
    ]

    def term(embeddings: list[Any], labels: Any) -> Any:
        rows = labels.long().cpu()
        distill = sum(
            nn.functional.mse_loss(embedded.float(), targets[index[rows]])
            for embedded, index in zip(embeddings, column_rows, strict=True)
        ) / len(embeddings)
        return weight * distill * embeddings[0].shape[-1]

    return term


def _batch_distilled_loss(
    model: SentenceTransformer,
    inner: Any,
    data: TrainingData,
    weight: float,
    starting: tuple[Any, dict[str, int]],
) -> Any:
    """Ranking loss + an MSE term on the batch's own texts, against precomputed targets.

    Policy: the anti-forgetting term compares the embeddings MNRL already computed for the batch (anchors,
    positives and hard negatives when mined) with the starting model's embeddings of the same texts,
    computed once before the first step (the teacher never runs during training and the student runs no
    extra texts). The dataset carries each pair's row number as its ``label`` column (sentence-transformers
    hands it to the loss; MNRL ignores it), which picks the targets. Same scale as
    :func:`_sample_distilled_loss` (MSE x dimension).
    """
    from torch import nn

    distill = _distill_term(weight, starting, data)

    class BatchDistilledLoss(nn.Module):
        """MNRL + ``weight`` x MSE(batch embeddings, starting embeddings of the same texts)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.inner = inner

        def forward(self, sentence_features: Any, labels: Any) -> dict[str, Any]:
            embeddings = [self.model(features)["sentence_embedding"] for features in sentence_features]
            ranking = self.inner.compute_loss_from_embeddings(embeddings, labels)
            return {"ranking": ranking, "distill": distill(embeddings, labels)}

        @property
        def citation(self) -> str:
            return getattr(inner, "citation", "")

    return BatchDistilledLoss()


def _cached_batch_distilled_loss(
    model: SentenceTransformer,
    data: TrainingData,
    config: TrainingConfig,
    starting: tuple[Any, dict[str, int]],
) -> Any:
    """:func:`_batch_distilled_loss` in GradCache form: the batch is embedded ``mini_batch_size`` rows at a time.

    Policy: memory, not arithmetic. Cached MNRL (GradCache, Gao et al. 2021) embeds the batch without
    gradients in mini-batches, computes the loss and its gradient with respect to the embeddings, then
    embeds each mini-batch again with gradients and back-propagates the cached gradient, so only one
    mini-batch's activations are alive at a time; the result equals full-batch MNRL. The anti-forgetting
    term depends on each embedding alone, so it joins the loss on the cached embeddings and its gradient
    flows back the same way (same targets and scale as :func:`_batch_distilled_loss`). With frozen lower
    layers the second pass starts above them (:mod:`medqa.training.freezing`).
    """
    import torch
    from sentence_transformers import losses

    distill = _distill_term(config.distill_weight, starting, data)

    class CachedBatchDistilledLoss(FrozenLayersOnce, losses.CachedMultipleNegativesRankingLoss):
        """Cached MNRL + ``weight`` x MSE(batch embeddings, starting embeddings of the same texts)."""

        def calculate_loss(
            self, reps: list[list[Any]], labels: Any = None, *, with_backward: bool = False
        ) -> Any:
            ranking = super().calculate_loss(reps, labels, with_backward=with_backward)
            term = distill([torch.cat(column) for column in reps], labels)
            if with_backward:
                term.backward()
                term = term.detach()
            return ranking + term

    loss = CachedBatchDistilledLoss(model, mini_batch_size=config.mini_batch_size)
    loss.frozen_replay = _frozen_replay(model, config)
    return loss


def _cached_mnrl(model: SentenceTransformer, config: TrainingConfig) -> Any:
    """Cached MNRL whose second pass starts above the frozen layers (:mod:`medqa.training.freezing`)."""
    from sentence_transformers import losses

    class CachedMNRL(FrozenLayersOnce, losses.CachedMultipleNegativesRankingLoss):
        """Cached MNRL, the frozen layers computed once per step."""

    loss = CachedMNRL(model, mini_batch_size=config.mini_batch_size)
    loss.frozen_replay = _frozen_replay(model, config)
    return loss


def _frozen_replay(model: SentenceTransformer, config: TrainingConfig) -> FrozenLayerReplay | None:
    """The replay of the frozen layers' output for a cached loss, unless activations are checkpointed (a
    checkpointed layer replays its own forward) or the layers are not really frozen."""
    if not config.freeze_layers or config.gradient_checkpointing:
        return None
    return FrozenLayerReplay.for_model(model, config.freeze_layers)


def _make_loss(
    model: SentenceTransformer,
    config: TrainingConfig,
    data: TrainingData,
    starting: tuple[Any, dict[str, int]] | None = None,
    source: str | Path | None = None,
) -> Any:
    """The run's loss; ``source`` (the starting model's folder) lets fp32 distillation targets be
    embedded by the numpy encoder (:func:`_teacher_embeddings`)."""
    from sentence_transformers import losses

    precision = choose_precision(config.precision)
    if config.distill_weight > 0 and config.distill_on == "batch":
        starting = starting if starting is not None else _starting_embeddings(model, data, precision, source)
        if config.loss == "cached_mnrl":
            return _cached_batch_distilled_loss(model, data, config, starting)
        inner = losses.MultipleNegativesRankingLoss(model)
        return _batch_distilled_loss(model, inner, data, config.distill_weight, starting)
    if config.loss == "cached_mnrl":
        inner = _cached_mnrl(model, config)
    else:
        inner = losses.MultipleNegativesRankingLoss(model)
    if config.distill_weight > 0 and data.distill_texts:
        return _sample_distilled_loss(
            model,
            inner,
            data.distill_texts,
            config.distill_weight,
            config.batch_size,
            config.seed,
            precision,
            source,
        )
    return inner


def _merge_with_base(model: SentenceTransformer, base_state: dict[str, Any], share: float) -> None:
    """WiSE-FT: weights = (1 - share) * fine-tuned + share * starting weights."""
    import torch

    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name in base_state and tensor.is_floating_point():
                tensor.mul_(1.0 - share).add_(base_state[name].to(tensor.dtype), alpha=share)


def _baseline_metrics(
    config: TrainingConfig, evaluate: HeldOutEvaluator, model: SentenceTransformer
) -> dict[str, float]:
    """The starting model's held-out metrics, cached on disk: every run from the same model and data repeats them."""
    try:
        key_source = json.dumps(
            [
                models.model_fingerprint(config.base_model),
                evaluate.fingerprint,
                EVAL_MAX_SEQ_LENGTH,
                RUN_FORMAT,
            ]
        )
    except MedQAError:
        return evaluate(model)
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    path = settings.data_dir() / "cache" / f"train-baseline-{key}.json"
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, AttributeError):
        pass
    metrics = evaluate(model)
    with contextlib.suppress(OSError):  # a read-only data folder: just no cache
        atomic.write_text(path, json.dumps(metrics))
    return metrics


def _progress_callback(progress: Progress, evaluate: Any, config: TrainingConfig) -> Any:
    from transformers import TrainerCallback

    class LiveProgress(TrainerCallback):
        """Feeds steps, losses and epoch evaluations to the progress object; honours cancel."""

        def __init__(self) -> None:
            self.model = None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.model = model
            progress.start(state.max_steps)
            progress.log(f"Training: {state.max_steps} steps, {args.num_train_epochs:g} epochs planned.")

        def on_step_end(self, args, state, control, **kwargs):
            progress.update(state.global_step, state.epoch)
            if progress.cancel_requested:
                control.should_training_stop = True
                control.should_epoch_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                progress.add_loss(state.global_step, state.epoch or 0.0, float(logs["loss"]))

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            epoch = round(state.epoch or 0.0, 2)
            if progress.cancel_requested:
                return control
            if evaluate is not None and config.evaluation == "epoch":
                metrics = evaluate(model or self.model)
                progress.add_eval(state.global_step, epoch, metrics)
                progress.log(
                    f"Epoch {epoch:g} done: held-out MRR@10 {metrics.get(MAIN_METRIC, float('nan')):.3f}."
                )
            else:
                progress.log(f"Epoch {epoch:g} done.")
            return control

    return LiveProgress()


def _check_cancel(progress: Progress) -> None:
    if progress.cancel_requested:
        raise TrainingCancelled("Training was cancelled; nothing was saved.")


def _load_start_model(config: TrainingConfig) -> tuple[SentenceTransformer, str]:
    from sentence_transformers import SentenceTransformer

    source = models.resolve_model_source(config.base_model)
    try:
        # A fresh instance: the cached one serving searches must not change under training.
        model = SentenceTransformer(source, device="cpu")
    except Exception as error:
        raise TrainingError(f"Cannot load the base model {config.base_model!r}: {error}") from error
    return model, source


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def _writable(action: Any, final: Path) -> Any:
    """Run a file-system step; an OS error (read-only folder, disk full) becomes a clear TrainingError."""
    try:
        return action()
    except OSError as error:
        reason = error.strerror or str(error)
        raise TrainingError(
            f"Cannot write the run to {final.parent}: {reason}. Nothing was saved."
        ) from error


def train(
    config: TrainingConfig,
    out_dir: str | Path,
    progress: Progress | None = None,
    *,
    overwrite: bool = False,
    data: TrainingData | None = None,
) -> registry.Run:
    """Train a run and save it atomically (see the module docstring for the contract)."""
    name, final = resolve_output(out_dir)
    if final.exists() and not overwrite:
        raise RunNameError(f"A run named {name!r} already exists in {final.parent}; choose another name.")
    if overwrite:
        registry.check_replaceable(final)  # before the training, not after its minutes of work
    progress = progress or Progress(run_name=name)
    if progress.run_name is None:
        progress.run_name = name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = registry.scratch_folder(final)
    started = time.perf_counter()
    try:
        run = _train_into(
            config,
            name=name,
            tmp=tmp,
            final=final,
            progress=progress,
            overwrite=overwrite,
            data=data,
            started=started,
        )
    except TrainingCancelled as error:
        shutil.rmtree(tmp, ignore_errors=True)
        progress.log("Cancelled; nothing was saved.")
        progress.finish(CANCELLED, error=str(error))
        raise
    except MedQAError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        progress.log(f"Failed: {error}")
        progress.finish(FAILED, error=str(error))
        raise
    except Exception as error:
        shutil.rmtree(tmp, ignore_errors=True)
        logger.exception("training failed")
        message = f"Training failed: {type(error).__name__}: {error}"
        progress.log(message)
        progress.finish(FAILED, error=message)
        raise TrainingError(message) from error
    progress.finish(FINISHED, result_name=run.name)
    return run


@dataclass
class _Prepared:
    """What :func:`_prepare` gathered for a run: data, starting model, evaluator and scratch folder."""

    config: TrainingConfig
    name: str
    tmp: Path
    final: Path
    data: TrainingData
    model: SentenceTransformer
    source: str
    saved_max_length: int
    precision: str
    evaluate: HeldOutEvaluator | None
    base_state: dict[str, Any] | None
    starting: tuple[Any, dict[str, int]] | None = None
    starting_seconds: float = 0.0


@dataclass(frozen=True)
class _Fitted:
    """What the optimisation returned."""

    steps: int
    epochs: float
    runtime_seconds: float
    samples_per_second: float
    final_loss: float
    teacher_seconds: float
    trainable_parameters: int
    frozen_parameters: int


def _prepare(
    config: TrainingConfig, name: str, tmp: Path, final: Path, progress: Progress, data: TrainingData | None
) -> _Prepared:
    """Training pairs, the starting model and the held-out evaluator; the baseline scored once."""
    from transformers import set_seed

    progress.log(f"Setting up: preparing {config.data!r} training pairs.")
    data = data if data is not None else build_training_data(config)
    system.release_free_memory()  # the corpus read to build the pairs: freed, but kept by the allocators
    progress.log(
        f"{len(data)} training pairs from {data.summary.get('train_source_pairs', len(data))} question-answer pairs; "
        f"held out: {data.summary.get('heldout_queries', 0)} questions."
    )
    _check_cancel(progress)
    set_seed(config.seed)
    progress.log(f"Setting up: loading base model {config.base_model!r}.")
    model, source = _load_start_model(config)
    saved_max_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    precision = choose_precision(config.precision)
    starting, starting_seconds = None, 0.0
    if config.hard_negatives or (config.distill_weight > 0 and config.distill_on == "batch"):
        progress.log("Embedding the training texts with the starting model (once).")
        started = time.perf_counter()
        starting = _starting_embeddings(model, data, precision, source)
        starting_seconds = time.perf_counter() - started
        _check_cancel(progress)
    if config.hard_negatives and starting is not None:
        progress.log(
            "Mining one hard negative per pair (another concept, ranked high by the starting model)."
        )
        data = with_hard_negatives(data, starting[0].numpy(), starting[1])
    evaluate = (
        HeldOutEvaluator(data.heldout, batch_size=EVAL_BATCH_SIZE)
        if data.heldout is not None and config.evaluation != "none"
        else None
    )
    _check_cancel(progress)
    if evaluate is not None and config.eval_baseline:
        progress.log("Evaluating the starting model on the held-out questions.")
        baseline = _baseline_metrics(config, evaluate, model)
        progress.add_eval(0, 0.0, baseline, label="before training")
        progress.log(f"Before training: held-out MRR@10 {baseline.get(MAIN_METRIC, float('nan')):.3f}.")
        _check_cancel(progress)
    base_state = (
        {key: value.detach().clone() for key, value in model.state_dict().items()}
        if config.merge_with_base > 0
        else None
    )
    return _Prepared(
        config=config,
        name=name,
        tmp=tmp,
        final=final,
        data=data,
        model=model,
        source=source,
        saved_max_length=saved_max_length,
        precision=precision,
        evaluate=evaluate,
        base_state=base_state,
        starting=starting,
        starting_seconds=starting_seconds,
    )


def _fit(prepared: _Prepared, progress: Progress) -> _Fitted:
    """Run the optimisation with the sentence-transformers trainer (and the WiSE-FT merge when asked)."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers import PrinterCallback

    from medqa.training.batching import batch_sampler_for

    class _QuietTrainer(SentenceTransformerTrainer):
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            # medqa writes its own card; sentence-transformers' callback would encode widget examples.
            return None

    config, model = prepared.config, prepared.model
    if config.freeze_embeddings:
        freeze_word_embeddings(model)
    if config.freeze_layers:
        freeze_lower_layers(model, config.freeze_layers)
    if config.dropout is not None:
        set_dropout(model, config.dropout)
    batch_distill = config.distill_weight > 0 and config.distill_on == "batch"
    teacher_started = time.perf_counter()
    if config.distill_weight > 0 and prepared.starting is None:
        progress.log("Embedding the distillation targets with the starting model (once).")
    loss = _make_loss(model, config, prepared.data, prepared.starting, prepared.source)
    teacher_seconds = (
        time.perf_counter() - teacher_started if config.distill_weight > 0 else 0.0
    ) + prepared.starting_seconds
    _check_cancel(progress)
    _writable(lambda: prepared.tmp.mkdir(parents=True), prepared.final)
    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(prepared.tmp / "_trainer"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        optim=config.optimizer,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # below 1: a share of the steps
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        bf16=prepared.precision == "bf16",
        use_cpu=True,
        batch_sampler=batch_sampler_for(config.batch_sampler, config.max_seq_length),
        activation_checkpointing=config.gradient_checkpointing,  # transformers 5 name for it
        logging_steps=1,
        logging_first_step=True,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = _QuietTrainer(
        model=model,
        args=arguments,
        train_dataset=prepared.data.to_dataset(row_labels=batch_distill),
        loss=loss,
        callbacks=[_progress_callback(progress, prepared.evaluate, config)],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to the Progress object, not stdout
    kernel = choose_kernel(prepared.precision)
    products = ", oneDNN matrix products" if kernel == ONEDNN else ""
    progress.log(f"Training in {prepared.precision} on CPU ({torch.get_num_threads()} threads{products}).")
    with (
        attention(model, training_kernel(prepared.precision, config.dropout)),
        linear_products(model, kernel),
    ):
        output = trainer.train()
    _check_cancel(progress)
    if prepared.base_state is not None:
        _merge_with_base(model, prepared.base_state, config.merge_with_base)
        progress.log(f"Merged with the starting weights (share kept from base: {config.merge_with_base:g}).")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return _Fitted(
        steps=int(trainer.state.global_step),
        epochs=float(trainer.state.epoch or 0.0),
        runtime_seconds=float(output.metrics.get("train_runtime", 0.0)),
        samples_per_second=float(output.metrics.get("train_samples_per_second", 0.0)),
        final_loss=float(output.training_loss),
        teacher_seconds=teacher_seconds,
        trainable_parameters=int(trainable),
        frozen_parameters=int(total - trainable),
    )


def _final_evaluation(prepared: _Prepared, fitted: _Fitted, progress: Progress) -> None:
    """Score the trained model on the held-out questions unless the last epoch's evaluation already did."""
    if prepared.evaluate is None:
        return
    snapshot = progress.snapshot()
    last_eval_step = snapshot.evals[-1].step if snapshot.evals else -1
    merged = prepared.base_state is not None
    if not (merged or last_eval_step != fitted.steps or prepared.config.evaluation == "end"):
        return
    _check_cancel(progress)
    metrics = prepared.evaluate(prepared.model)
    progress.add_eval(
        fitted.steps, round(fitted.epochs, 2), metrics, label="final, merged" if merged else "final"
    )
    progress.log(f"Final held-out MRR@10 {metrics.get(MAIN_METRIC, float('nan')):.3f}.")


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, in MB (``None`` where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if platform.system() == "Darwin" else 1024), 1)


def _record(prepared: _Prepared, fitted: _Fitted, progress: Progress, started: float) -> RunRecord:
    """The typed run record of a finished training."""
    import torch

    config, data = prepared.config, prepared.data
    snapshot = progress.snapshot()
    evaluations = tuple(snapshot.evals)  # the progress already holds the record's EvaluationPoint
    source = prepared.source
    return RunRecord(
        name=prepared.name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config=config.to_dict(),
        base_model_source=source if not Path(source).exists() else f"local folder ({Path(source).name})",
        seed=config.seed,
        data={"fingerprint": data.fingerprint, **data.summary},
        training=TrainingStats(
            steps=fitted.steps,
            epochs=round(fitted.epochs, 4),
            precision=prepared.precision,
            train_runtime_seconds=round(fitted.runtime_seconds, 2),
            samples_per_second=round(fitted.samples_per_second, 2),
            final_train_loss=round(fitted.final_loss, 6),
            max_seq_length_trained=config.max_seq_length,
            max_seq_length_saved=prepared.saved_max_length,
            torch_threads=torch.get_num_threads(),
            teacher_seconds=round(fitted.teacher_seconds, 2),
            trainable_parameters=fitted.trainable_parameters,
            frozen_parameters=fitted.frozen_parameters,
            peak_rss_mb=peak_rss_mb(),
        ),
        loss_history=tuple(LossPoint(p.step, round(p.epoch, 4), p.loss) for p in snapshot.losses),
        evaluations=evaluations,
        heldout=data.heldout.description if data.heldout is not None else None,
        baseline_metrics=next((dict(e.metrics) for e in evaluations if e.step == 0), {}),
        metrics=dict(evaluations[-1].metrics) if evaluations and evaluations[-1].step > 0 else {},
        duration_seconds=round(time.perf_counter() - started, 2),
        versions=library_versions(),
    )


def _save(prepared: _Prepared, record: RunRecord, overwrite: bool, progress: Progress) -> registry.Run:
    """Write model, ``run.json`` and card into the scratch folder, then rename it into place."""
    from medqa.training import model_card

    tmp, final, model = prepared.tmp, prepared.final, prepared.model
    progress.log(f"Saving to {final}.")
    model.max_seq_length = prepared.saved_max_length
    for parameter in model.parameters():
        parameter.requires_grad_(True)  # a frozen table is saved like any other weight
    shutil.rmtree(tmp / "_trainer", ignore_errors=True)
    _writable(lambda: model.save(str(tmp), create_model_card=False), final)
    _writable(lambda: _write_json(tmp / registry.RUN_FILE, record.to_json()), final)
    _writable(lambda: model_card.write_model_card(tmp, record), final)
    _check_cancel(progress)
    _writable(lambda: registry.place_run(tmp, final, overwrite), final)
    progress.log(
        f"Finished: saved {record.name} ({record.training.steps} steps, {record.duration_seconds:.0f} s)."
    )
    return registry.load_run(final)


def _train_into(
    config: TrainingConfig,
    *,
    name: str,
    tmp: Path,
    final: Path,
    progress: Progress,
    overwrite: bool,
    data: TrainingData | None,
    started: float,
) -> registry.Run:
    """Prepare, fit, evaluate, record and save one run (the steps above, in order)."""
    prepared = _prepare(config, name, tmp, final, progress, data)
    fitted = _fit(prepared, progress)
    _final_evaluation(prepared, fitted, progress)
    _check_cancel(progress)
    return _save(prepared, _record(prepared, fitted, progress, started), overwrite, progress)
