"""The attention kernel while training (``medqa.training.attention``) and where the trainer uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.training import trainer
from medqa.training.arguments import preset
from medqa.training.attention import SEARCH_ATTENTION, TRAINING_ATTENTION, attention, training_kernel

pytestmark = [pytest.mark.model, pytest.mark.slow]

TEXTS = ["what helps a sore throat at night", "Strep throat: a bacterial infection of the throat, " * 8]


def _kernel(model) -> str:
    return model[0].auto_model.config._attn_implementation


def test_the_block_switches_the_kernel_and_gives_the_models_own_back(training_data: Path) -> None:
    import numpy as np

    from medqa import models

    model, _ = trainer._load_start_model(preset("original"))
    own = _kernel(model)
    assert own == SEARCH_ATTENTION != TRAINING_ATTENTION
    before = models.encode(model, TEXTS, precision="fp32")
    with attention(model, TRAINING_ATTENTION) as switched:
        assert switched == 1 and _kernel(model) == TRAINING_ATTENTION
        during = models.encode(model, TEXTS, precision="fp32")
    assert _kernel(model) == own
    np.testing.assert_allclose(during, before, atol=1e-5)  # the same attention, another kernel

    with pytest.raises(RuntimeError), attention(model, TRAINING_ATTENTION):
        raise RuntimeError("a failed step")
    assert _kernel(model) == own  # restored on the way out of a failure too

    with attention(model, own) as switched:
        assert switched == 0  # already that kernel: nothing to switch or restore


def test_a_model_without_a_transformer_is_left_alone() -> None:
    from torch import nn

    with attention(nn.Sequential(nn.Linear(2, 2)), TRAINING_ATTENTION) as switched:
        assert switched == 0


def test_only_bf16_without_dropout_trains_eager() -> None:
    assert training_kernel("bf16", 0.0) == TRAINING_ATTENTION == "eager"
    assert training_kernel("fp32", 0.0) == SEARCH_ATTENTION == "sdpa"
    assert training_kernel("bf16", None) == training_kernel("bf16", 0.1) == SEARCH_ATTENTION


@pytest.mark.parametrize(("precision", "dropout"), [("fp32", 0.0), ("bf16", 0.0), ("bf16", None)])
def test_a_run_trains_with_its_kernel_evaluates_and_saves_with_the_search_one(
    training_data: Path, spy, precision: str, dropout: float | None
) -> None:  # the precision is chosen, not detected: the same on every CPU
    calls = spy(trainer, "attention")
    config = preset(
        "original", max_steps=2, max_seq_length=32, batch_size=4, evaluation="end", precision=precision,
        dropout=dropout,
    )  # fmt: skip
    run = trainer.train(config, f"kernels-{precision}-{dropout}")
    assert run.record.training.precision == precision
    # the baseline held-out evaluation, the training, the final evaluation
    used = [implementation for _, implementation in calls]
    assert used == [SEARCH_ATTENTION, training_kernel(precision, dropout), SEARCH_ATTENTION]
    assert run.record.metrics  # the evaluation ran
    saved = json.loads((run.path / "config.json").read_text(encoding="utf-8"))
    assert not any("attn" in key for key in saved)  # the kernel is not saved with the model
