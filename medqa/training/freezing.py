"""Frozen weights: which parameters a run keeps fixed, and the work that lets cached losses skip.

Freezing (``freeze_embeddings``, ``freeze_layers`` in :class:`~medqa.training.arguments.TrainingConfig`):
the token-embedding table, or the whole embedding block and the first ``k`` transformer layers, get no
gradient and no optimizer state, so the backward pass of a step stops at the first trainable layer.

Frozen layers computed once per step (:class:`FrozenLayersOnce`). Policy: less arithmetic, the same
gradients. Cached MNRL (GradCache) embeds every mini-batch twice: first without gradients, to compute
the loss and its gradient with respect to the embeddings, then again with gradients, replaying the
first pass's random state so that dropout draws the same masks. With the embedding block and the first
``k`` layers frozen, the second pass recomputes a value it already had: the last frozen layer's output
depends on no trainable weight, and its dropout draws are the first pass's. So the first pass keeps
that output and the random state right after it, and the second pass skips the frozen layers, restores
that state and runs only the layers above: the same embeddings bit for bit, and therefore the same
loss and gradients (``tests/test_training_freezing.py`` compares them with the plain cached loss).
With 3 of 6 layers frozen (the recommended preset) a step does a sixth less arithmetic: the two
forward passes and the backward pass through the upper half cost about 3 forward passes, of which half
of one is skipped (``bench/results/train_fp32_zen3.txt`` has the run's time before and after).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_LAYER_NUMBER = re.compile(r"\.(?:encoder\.)?layers?\.(\d+)\.")
_LAYER_LIST = re.compile(r"(?:^|\.)(?:encoder\.layer|layers)$")


def freeze_word_embeddings(model: Any) -> None:
    """Keep the token-embedding table fixed (no gradient, no optimizer state)."""
    for name, parameter in model.named_parameters():
        if "word_embeddings" in name:
            parameter.requires_grad_(False)


def _lower_parameters(model: Any, layers: int) -> list[Any]:
    """The parameters of the embedding block and of the first ``layers`` transformer layers."""
    lower = []
    for name, parameter in model.named_parameters():
        number = _LAYER_NUMBER.search(name)
        if ".embeddings." in name or (number is not None and int(number.group(1)) < layers):
            lower.append(parameter)
    return lower


def freeze_lower_layers(model: Any, layers: int) -> None:
    """Keep the embedding block and the first ``layers`` transformer layers fixed, so no gradient flows
    below them (the backward pass of a step stops at the first trainable layer)."""
    for parameter in _lower_parameters(model, layers):
        parameter.requires_grad_(False)


def transformer_layers(model: Any) -> list[Any] | None:
    """The model's list of transformer layers (BERT's ``encoder.layer``), or ``None`` if not found."""
    from torch import nn

    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and _LAYER_LIST.search(name):
            return list(module)
    return None


@dataclass
class FrozenOutput:
    """What the first pass keeps of one mini-batch: the last frozen layer's output and the CPU random
    state right after it."""

    hidden: Any = None
    rng_state: Any = None


class FrozenLayerReplay:
    """Records the last frozen layer's output in a first pass and replays it in the second.

    The layers' ``forward`` is wrapped only inside :meth:`recording` and :meth:`replaying`, so the model
    is untouched (and saved as usual) outside them.

    Args:
        layers: the model's transformer layers (:func:`transformer_layers`).
        frozen: how many of the first layers are frozen (with the embedding block).
    """

    def __init__(self, layers: list[Any], frozen: int) -> None:
        if not 0 < frozen <= len(layers):
            raise ValueError(f"frozen must be between 1 and {len(layers)}, not {frozen}")
        self.layers = layers[:frozen]

    @classmethod
    def for_model(cls, model: Any, frozen: int) -> FrozenLayerReplay | None:
        """A replay for a model's first ``frozen`` layers; ``None`` when the layers cannot be found, or
        when they or the embedding block are not all frozen (:func:`freeze_lower_layers`): skipping a
        layer that trains would cut its gradient. The cached loss then embeds both passes in full."""
        layers = transformer_layers(model)
        if frozen <= 0 or layers is None or frozen > len(layers):
            return None
        if any(parameter.requires_grad for parameter in _lower_parameters(model, frozen)):
            return None
        return cls(layers, frozen)

    @contextmanager
    def _wrapped(self, make: Any) -> Iterator[None]:
        before = [layer.__dict__.get("forward") for layer in self.layers]
        for index, layer in enumerate(self.layers):
            layer.forward = make(index, layer.forward)
        try:
            yield
        finally:
            for layer, forward in zip(self.layers, before, strict=True):
                if forward is None:
                    del layer.forward  # the class's forward again
                else:
                    layer.forward = forward

    @contextmanager
    def recording(self) -> Iterator[FrozenOutput]:
        """Run the model as usual and keep the last frozen layer's output and the random state after it."""
        import torch

        kept = FrozenOutput()
        last = len(self.layers) - 1

        def make(index: int, forward: Any) -> Any:
            if index != last:
                return forward

            def keep(*args: Any, **kwargs: Any) -> Any:
                output = forward(*args, **kwargs)
                kept.hidden, kept.rng_state = output.detach(), torch.get_rng_state()
                return output

            return keep

        with self._wrapped(make):
            yield kept

    @contextmanager
    def replaying(self, kept: FrozenOutput) -> Iterator[None]:
        """Skip the frozen layers: the last one returns the kept output and restores the random state
        the layers above drew from in the first pass."""
        import torch

        last = len(self.layers) - 1

        def make(index: int, forward: Any) -> Any:
            def replay(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
                if index != last:
                    return hidden_states
                if tuple(hidden_states.shape) != tuple(kept.hidden.shape):
                    raise RuntimeError(
                        f"Replayed mini-batch has shape {tuple(hidden_states.shape)}, the recorded one "
                        f"{tuple(kept.hidden.shape)}."
                    )
                torch.set_rng_state(kept.rng_state)
                return kept.hidden

            return replay

        with self._wrapped(make):
            yield


class FrozenLayersOnce:
    """Mixin for a sentence-transformers cached loss (``CachedLossMixin``): the second, gradient pass of
    every mini-batch starts above the frozen layers (module docstring). Put it first among the bases and
    set :attr:`frozen_replay`; with ``None`` the loss behaves as its base class."""

    frozen_replay: FrozenLayerReplay | None = None

    def embed_minibatch(
        self,
        sentence_feature: dict[str, Any],
        begin: int,
        end: int,
        with_grad: bool,
        copy_random_state: bool,
        random_state: Any = None,
    ) -> tuple[Any, Any]:
        replay = self.frozen_replay
        arguments = (sentence_feature, begin, end, with_grad, copy_random_state, random_state)
        if replay is not None and not with_grad and copy_random_state:
            with replay.recording() as kept:
                embeddings, state = super().embed_minibatch(*arguments)  # type: ignore[misc]
            if state is not None and kept.hidden is not None:
                state.frozen_output = kept  # travels with the random state to the second pass
            return embeddings, state
        kept = getattr(random_state, "frozen_output", None)
        if replay is not None and with_grad and kept is not None:
            with replay.replaying(kept):
                return super().embed_minibatch(*arguments)  # type: ignore[misc]
        return super().embed_minibatch(*arguments)  # type: ignore[misc]
