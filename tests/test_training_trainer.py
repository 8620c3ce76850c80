"""Tiny real trainings (a few steps, short sequences) on the fixture collection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from medqa import settings
from medqa.errors import DataNotFoundError, RunNameError, TrainingCancelled
from medqa.runs import registry
from medqa.training.arguments import preset
from medqa.training.progress import CANCELLED, FINISHED, Progress
from medqa.training.trainer import resolve_output, train

pytestmark = [pytest.mark.model, pytest.mark.slow]

TINY = {"max_steps": 3, "max_seq_length": 32, "batch_size": 4}


class RecordingProgress(Progress):
    """Remembers every step it was told about, in order."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: list[int] = []

    def update(self, step: int, epoch: float | None = None) -> None:
        self.seen.append(step)
        super().update(step, epoch)


class CancelAfterFirstStep(Progress):
    def update(self, step: int, epoch: float | None = None) -> None:
        super().update(step, epoch)
        self.cancel()


def _leftovers() -> list[str]:
    return sorted(path.name for path in settings.models_dir().iterdir())


def test_tiny_training_saves_a_loadable_model_run_json_and_card(training_data: Path) -> None:
    from sentence_transformers import SentenceTransformer

    progress = RecordingProgress()
    run = train(preset("original", **TINY), "tiny", progress)

    assert run.path == (settings.models_dir() / "tiny").resolve()
    assert _leftovers() == ["tiny"]  # no .tmp-* folder left behind
    model = SentenceTransformer(str(run.path), device="cpu")
    assert model.encode(["What causes gout?"]).shape == (1, 384)

    info = json.loads((run.path / "run.json").read_text())
    assert info["config"]["max_steps"] == 3 and info["config"]["learning_rate"] == 5e-5
    assert info["seed"] == 42
    assert info["training"]["steps"] == 3
    assert [point["step"] for point in info["loss_history"]] == [1, 2, 3]
    assert all(point["loss"] > 0 for point in info["loss_history"])
    assert info["data"]["train_pairs"] == 36 and info["data"]["heldout_queries"] == 12
    assert len(info["data"]["fingerprint"]) == 16
    assert info["evaluations"][0]["step"] == 0 and info["evaluations"][-1]["step"] == 3
    assert set(info["metrics"]) >= {"mrr@10", "accuracy@1", "ndcg@10"}
    assert 0 <= info["metrics"]["mrr@10"] <= 1
    assert {"sentence-transformers", "transformers", "torch", "python"} <= set(info["versions"])
    assert info["duration_seconds"] > 0

    card = (run.path / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "sentence-transformers"
    assert front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "Medical disclaimer" in card and "MultipleNegativesRankingLoss" in card

    assert progress.seen == sorted(progress.seen) and progress.seen[-1] == 3
    snap = progress.snapshot()
    assert snap.state == FINISHED and snap.step == snap.total_steps == 3 and snap.fraction == 1.0
    assert any("Finished" in line for line in snap.log)
    assert [r.name for r in registry.list_runs()] == ["tiny"]


def test_cancel_stops_at_the_next_step_and_leaves_nothing(training_data: Path) -> None:
    progress = CancelAfterFirstStep()
    with pytest.raises(TrainingCancelled):
        train(
            preset("original", max_steps=50, max_seq_length=32, batch_size=4, eval_baseline=False),
            "gone",
            progress,
        )
    snap = progress.snapshot()
    assert snap.state == CANCELLED
    assert snap.step == 1  # stopped after the step during which cancel was asked
    assert _leftovers() == []
    assert registry.list_runs() == [] and registry.list_problems() == []


def test_distillation_merge_and_variants_are_applied(training_data: Path) -> None:
    config = preset(
        "original",
        max_steps=2,
        max_seq_length=32,
        batch_size=4,
        query_variants=("question", "keywords"),
        batch_sampler="no_duplicates",
        distill_weight=1.0,
        distill_texts=16,
        merge_with_base=0.5,
        eval_baseline=False,
    )
    run = train(config, "merged")
    info = run.info
    assert info["config"]["merge_with_base"] == 0.5
    assert info["data"]["pairs_per_variant"]["keywords"] > 0 and info["data"]["distill_texts"] == 16
    assert info["evaluations"][-1]["label"] == "final, merged"
    assert run.metrics == info["evaluations"][-1]["metrics"]


def test_fast_levers_freeze_embeddings_distill_on_the_batch_and_group_by_length(training_data: Path) -> None:
    import torch

    from medqa import models

    config = preset(
        "original",
        max_steps=2,
        max_seq_length=32,
        batch_size=4,
        batch_sampler="length_grouped",
        distill_weight=1.0,
        distill_on="batch",
        freeze_embeddings=True,
        gradient_checkpointing=True,
        evaluation="none",
        eval_baseline=False,
    )
    run = train(config, "fast")
    stats = run.record.training
    assert stats.steps == 2 and stats.teacher_seconds > 0
    assert stats.frozen_parameters > 0 and stats.trainable_parameters > 0
    assert stats.peak_rss_mb is None or stats.peak_rss_mb > 0
    assert run.record.metrics == {} and run.record.format == 2
    trained = dict(models.load_model(str(run.path)).named_parameters())
    base = dict(models.load_model("base").named_parameters())
    table = next(name for name in base if "word_embeddings" in name)
    assert torch.equal(trained[table], base[table])  # frozen: saved unchanged
    first_layer = [name for name in base if "encoder.layer.0." in name and name.endswith("weight")]
    assert first_layer and all(not torch.equal(trained[name], base[name]) for name in first_layer)


def test_frozen_lower_layers_are_saved_unchanged_and_the_layers_above_train(training_data: Path) -> None:
    import torch

    from medqa import models

    config = preset(
        "original", max_steps=2, max_seq_length=32, batch_size=4, freeze_layers=2, evaluation="none",
        eval_baseline=False,
    )  # fmt: skip
    run = train(config, "frozen-layers")
    assert run.info["config"]["freeze_layers"] == 2
    trained = dict(models.load_model(str(run.path)).named_parameters())
    base = dict(models.load_model("base").named_parameters())

    below = (".embeddings.", "encoder.layer.0.", "encoder.layer.1.")
    frozen = [name for name in base if any(part in name for part in below)]
    above = [name for name in base if "encoder.layer.2." in name and name.endswith("weight")]
    assert frozen and all(torch.equal(trained[name], base[name]) for name in frozen)
    assert above and all(not torch.equal(trained[name], base[name]) for name in above)
    assert run.record.training.frozen_parameters == sum(base[name].numel() for name in frozen)


def test_hard_negatives_are_mined_once_and_trained_on_with_batch_distillation(training_data: Path) -> None:
    config = preset(
        "original",
        max_steps=2,
        max_seq_length=32,
        batch_size=4,
        batch_sampler="length_grouped",
        hard_negatives=True,
        distill_weight=1.0,
        distill_on="batch",
        evaluation="none",
        eval_baseline=False,
    )
    run = train(config, "hard-negatives")
    assert run.record.training.steps == 2 and run.record.training.teacher_seconds > 0
    assert run.info["config"]["hard_negatives"] is True
    assert run.info["data"]["hard_negatives"] == run.info["data"]["train_pairs"]
    cached = train(config.with_overrides(loss="cached_mnrl", mini_batch_size=2), "cached")
    assert cached.record.training.steps == 2 and cached.info["config"]["loss"] == "cached_mnrl"


def test_cached_batch_distillation_computes_the_same_loss_as_the_full_batch(training_data: Path) -> None:
    import torch

    from medqa.training import trainer
    from medqa.training.data import ANCHOR, NEGATIVE, POSITIVE, build_training_data
    from medqa.training.negatives import with_hard_negatives

    config = preset(
        "original", max_seq_length=32, distill_weight=1.0, distill_on="batch", hard_negatives=True
    )
    model, _ = trainer._load_start_model(config)
    model.max_seq_length = 32
    data = build_training_data(config)
    starting = trainer._starting_embeddings(model, data, "fp32")
    data = with_hard_negatives(data, starting[0].numpy(), starting[1])
    full = trainer._make_loss(model, config, data, starting)
    cached = trainer._make_loss(
        model, config.with_overrides(loss="cached_mnrl", mini_batch_size=3), data, starting
    )
    rows = list(range(8))
    features = [model.tokenize(data.pairs[name].iloc[rows].tolist()) for name in (ANCHOR, POSITIVE, NEGATIVE)]
    labels = torch.tensor(rows)
    model.eval()
    with torch.no_grad():
        expected = sum(full(features, labels).values())
        value = cached(features, labels)
    assert float(value) == pytest.approx(float(expected), rel=1e-4)


def test_fp32_distillation_targets_come_from_the_torch_free_encoder_and_match_torch(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from medqa.training import trainer

    config = preset("original", max_seq_length=32)
    model, source = trainer._load_start_model(config)
    model.max_seq_length = 32
    texts = ["What causes gout?", "Gout: a form of arthritis with sudden pain in a joint " * 6, "ok"]
    through_torch = trainer._teacher_embeddings(model, texts, "fp32").numpy()
    calls: list[int] = []
    real = trainer.embed_without_torch

    def counting(*args: object, **kwargs: object) -> tuple[np.ndarray, str] | None:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "embed_without_torch", counting)
    through_numpy = trainer._teacher_embeddings(model, texts, "fp32", source).numpy()
    assert calls == [1]
    # The same targets (the index builds' torch-free fp32 path), truncated at the run's length.
    assert np.min(np.sum(through_torch * through_numpy, axis=1)) >= 0.9999
    # bf16 runs keep torch's autocast; a source the numpy encoder cannot read falls back to torch.
    trainer._teacher_embeddings(model, texts[:1], "bf16", source)
    assert calls == [1]
    fallback = trainer._teacher_embeddings(model, texts, "fp32", source + "-missing").numpy()
    assert calls == [1, 1] and np.min(np.sum(through_torch * fallback, axis=1)) >= 0.9999


@pytest.mark.parametrize(("native", "expected"), [("1", "bf16"), ("0", "fp32")])
def test_auto_precision_follows_the_native_bf16_detection(
    monkeypatch: pytest.MonkeyPatch, native: str, expected: str
) -> None:
    from medqa import models
    from medqa.training.trainer import choose_precision

    monkeypatch.setenv(models.CPU_BF16_ENV, native)
    assert choose_precision("auto") == expected
    assert choose_precision("fp32") == "fp32" and choose_precision("bf16") == "bf16"


def test_failures_leave_nothing_and_names_are_checked(training_data: Path) -> None:
    with pytest.raises(DataNotFoundError):
        train(preset("original", data="no-such-set", **TINY), "broken")
    assert _leftovers() == []
    with pytest.raises(RunNameError):
        train(preset("original", **TINY), "models/..")
    (settings.models_dir() / "taken").mkdir()
    with pytest.raises(RunNameError, match="already exists"):
        train(preset("original", **TINY), "taken")


def test_output_paths(workdirs: Path) -> None:
    assert resolve_output("my-run") == ("my-run", settings.models_dir() / "my-run")
    name, folder = resolve_output(str(workdirs / "elsewhere" / "x1"))
    assert name == "x1" and folder == (workdirs / "elsewhere" / "x1").resolve()
    with pytest.raises(RunNameError):
        resolve_output("models/bad name?")
