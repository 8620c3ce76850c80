"""The attention kernel while training: in bf16 without dropout, PyTorch's plain ("eager") attention.

Policy: a bf16 run without dropout trains with transformers' eager attention; every other run (fp32, or
with dropout) with the model's own SDPA kernel (the one searches use); the model is given back with the
kernel it had. Both compute the same attention; the difference is speed and memory on a CPU. Measured on
2026-12-01 (sixteenth session, AMD Zen 5, 2 cores, the recommended preset without dropout,
:mod:`medqa.training.dropout`): in bf16, 100 steps in one process with RSS read every 20 steps, the fused
kernel took about 1.25 s per step and the process grew from 1.15 to 1.54 GB, eager attention 0.74 s per
step and 1.11 to 1.35 GB; the whole run as the Train page starts it went from 199-218 s (peak 1,592-1,613
MB) to 155 s (1,396 MB). In fp32, 40-step probes took the same time either way (1.7-1.9 s per step), and
whole runs 273 s and 317 s with SDPA against 308 s eager (this machine's noise), so fp32 keeps the model's
own kernel. With dropout above 0 (the original preset, or a run that keeps the model's rate) PyTorch does
not use the fused kernel for training anyway, and eager attention brought no speed there and more memory
(bf16, the recommended preset with MiniLM's dropout, 125 steps: 1.31 against 1.30-1.37 s per step, peak
1,619 MB with the held-out evaluation also eager, against 1,322 MB), so such a run keeps SDPA too. The
kernel is not saved with the model (``config.json`` does not record it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The kernel a bf16 run without dropout trains with (other runs keep :data:`SEARCH_ATTENTION`).
TRAINING_ATTENTION = "eager"
#: The kernel the held-out evaluation embeds with, inside a training as outside it: eager attention keeps
#: the whole attention matrix, 200 MB for a batch of 64 answers of 256 tokens, which raised the bf16
#: preset's peak from 1,382 to 1,547 MB when the evaluation ran eager.
SEARCH_ATTENTION = "sdpa"


def training_kernel(precision: str, dropout: float | None) -> str:
    """The attention kernel a run trains with (module docstring).

    Args:
        precision: ``"bf16"`` or ``"fp32"``, as the run resolved it.
        dropout: the run's dropout rate (``None``: the starting model's own, taken to be above 0).
    """
    return TRAINING_ATTENTION if precision == "bf16" and dropout == 0 else SEARCH_ATTENTION


def _transformers(model: Any) -> list[Any]:
    """The Hugging Face models inside ``model`` whose attention kernel can be chosen."""
    return [
        module
        for module in model.modules()
        if hasattr(module, "set_attn_implementation")
        and hasattr(getattr(module, "config", None), "_attn_implementation")
    ]


@contextmanager
def attention(model: Any, implementation: str) -> Iterator[int]:
    """Switch ``model``'s transformers to ``implementation`` inside the block; restore them after it.

    Yields:
        How many transformers were switched (0 for a model without one: nothing changes).
    """
    switched: list[tuple[Any, str]] = []
    try:
        for module in _transformers(model):
            before = module.config._attn_implementation
            if before != implementation:
                module.set_attn_implementation(implementation)
                switched.append((module, before))
        yield len(switched)
    finally:
        for module, before in reversed(switched):
            module.set_attn_implementation(before)
