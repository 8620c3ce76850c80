"""Dropout while training (``medqa.training.dropout``) and the runs that set it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.training import trainer
from medqa.training.arguments import preset
from medqa.training.dropout import set_dropout

pytestmark = [pytest.mark.model, pytest.mark.slow]

TEXTS = ["what helps a sore throat at night", "Strep throat: a bacterial infection of the throat."]


def _train_mode_embeddings(model):
    import torch

    model.train()
    features = model.tokenize(TEXTS)
    with torch.no_grad():
        return model(features)["sentence_embedding"].clone()


def test_rate_zero_makes_training_mode_deterministic_and_every_module_follows(training_data: Path) -> None:
    import torch
    from torch import nn

    model, _ = trainer._load_start_model(preset("original"))
    dropouts = [module for module in model.modules() if isinstance(module, nn.Dropout)]
    assert dropouts and all(module.p == pytest.approx(0.1) for module in dropouts)  # MiniLM's own rate

    torch.manual_seed(0)
    assert not torch.equal(_train_mode_embeddings(model), _train_mode_embeddings(model))

    assert set_dropout(model, 0.0) == len(dropouts)
    assert all(module.p == 0.0 for module in dropouts)
    assert torch.equal(_train_mode_embeddings(model), _train_mode_embeddings(model))


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_rates_outside_zero_to_one_are_refused(training_data: Path, rate: float) -> None:
    model, _ = trainer._load_start_model(preset("original"))
    with pytest.raises(ValueError, match="dropout"):
        set_dropout(model, rate)


def test_a_run_trains_at_its_rate_and_saves_the_starting_models_config(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, float]] = []
    real = trainer.set_dropout

    def recording(model, rate: float) -> int:
        count = real(model, rate)
        seen.append((count, rate))
        return count

    monkeypatch.setattr(trainer, "set_dropout", recording)
    config = preset(
        "original", max_steps=2, max_seq_length=32, batch_size=4, dropout=0.0, evaluation="none",
        eval_baseline=False,
    )  # fmt: skip
    run = trainer.train(config, "no-dropout")
    assert len(seen) == 1 and seen[0][0] > 0 and seen[0][1] == 0.0
    assert run.info["config"]["dropout"] == 0.0
    saved = json.loads((run.path / "config.json").read_text(encoding="utf-8"))
    assert saved["hidden_dropout_prob"] == pytest.approx(0.1)  # the rate was the run's, not the model's
    assert "| Dropout while training | 0 |" in (run.path / "README.md").read_text(encoding="utf-8")

    seen.clear()
    own = trainer.train(preset("original", max_steps=1, max_seq_length=32, batch_size=4, evaluation="none",
                               eval_baseline=False), "own-dropout")  # fmt: skip
    assert seen == [] and own.info["config"]["dropout"] is None  # the starting model's rate, untouched
    assert "Dropout while training" not in (own.path / "README.md").read_text(encoding="utf-8")
