"""Frozen weights and the cached loss's replay of the frozen layers (``medqa.training.freezing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa.training import trainer
from medqa.training.arguments import preset
from medqa.training.freezing import (
    FrozenLayerReplay,
    freeze_lower_layers,
    freeze_word_embeddings,
    transformer_layers,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROWS = 6


def _frozen_model(layers: int = 3):
    config = preset(
        "original", max_seq_length=32, loss="cached_mnrl", mini_batch_size=2, freeze_layers=layers
    )
    model, _ = trainer._load_start_model(config)
    model.max_seq_length = 32
    freeze_word_embeddings(model)
    freeze_lower_layers(model, layers)
    return config, model


def _batch(model):
    import torch

    anchors = [f"what helps with condition number {n} at night" for n in range(ROWS)]
    positives = [
        f"Condition {n}: a longer answer passage about treatment {n} and its symptoms." for n in range(ROWS)
    ]
    return [model.tokenize(anchors), model.tokenize(positives)], torch.arange(ROWS)


def _step(loss, model, features, labels) -> tuple[float, dict]:
    import torch

    model.zero_grad()
    torch.manual_seed(7)
    value = loss(features, labels)
    value.backward()
    return float(value.detach()), {
        name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None
    }


def test_replaying_the_frozen_layers_gives_the_same_loss_and_gradients_with_dropout(
    training_data: Path,
) -> None:
    import torch

    config, model = _frozen_model()
    features, labels = _batch(model)
    model.train()  # dropout on: the replay must draw the same masks above the frozen layers
    loss = trainer._cached_mnrl(model, config)
    assert loss.frozen_replay is not None and len(loss.frozen_replay.layers) == 3

    lower_calls: list[int] = []
    handles = [
        layer.attention.register_forward_hook(lambda *_: lower_calls.append(1))
        for layer in loss.frozen_replay.layers
    ]
    replayed = _step(loss, model, features, labels)
    calls_with_replay = len(lower_calls)
    loss.frozen_replay = None
    lower_calls.clear()
    plain = _step(loss, model, features, labels)
    for handle in handles:
        handle.remove()

    # Bit-identical where the kernels are deterministic (the benchmark reports it); a tolerance far
    # below what different dropout masks or a missing layer would change keeps the test CPU-independent.
    assert replayed[0] == pytest.approx(plain[0], rel=1e-6)
    assert replayed[1].keys() == plain[1].keys() and replayed[1]
    assert all(torch.allclose(replayed[1][name], plain[1][name], rtol=1e-5, atol=1e-8) for name in plain[1])
    # 2 columns x 3 mini-batches x 3 frozen layers: computed once with the replay, twice without.
    assert calls_with_replay == 18 and len(lower_calls) == 36
    assert all("forward" not in layer.__dict__ for layer in transformer_layers(model) or [])


def test_the_replay_is_used_only_when_the_layers_really_are_frozen(training_data: Path) -> None:
    config, model = _frozen_model(layers=2)
    assert isinstance(trainer._frozen_replay(model, config), FrozenLayerReplay)
    assert trainer._frozen_replay(model, config.with_overrides(gradient_checkpointing=True)) is None
    assert trainer._frozen_replay(model, config.with_overrides(freeze_layers=0)) is None
    # Asked to skip 3 layers while only 2 are frozen, it would cut the third layer's gradient: refused.
    assert trainer._frozen_replay(model, config.with_overrides(freeze_layers=3)) is None
    assert FrozenLayerReplay.for_model(model, 7) is None


def test_a_replayed_mini_batch_of_another_shape_is_an_error(training_data: Path) -> None:
    import torch

    config, model = _frozen_model(layers=1)
    replay = trainer._frozen_replay(model, config)
    features, _ = _batch(model)
    model.eval()
    with torch.no_grad(), replay.recording() as kept:
        model(model.tokenize(["short"]))
    assert kept.hidden is not None and kept.rng_state is not None
    with pytest.raises(RuntimeError, match="shape"), torch.no_grad(), replay.replaying(kept):
        model(features[1])
    assert "forward" not in replay.layers[0].__dict__
    with pytest.raises(ValueError):
        FrozenLayerReplay(replay.layers, 0)
