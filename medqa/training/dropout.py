"""Dropout while training: the starting model's, or another rate for the run (``dropout`` in
:class:`~medqa.training.arguments.TrainingConfig`).

Policy: the recommended preset trains **without dropout** (rate 0) because on a CPU dropout is costly
overhead, not arithmetic, and the preset's quality does not depend on it. all-MiniLM-L6-v2 drops 10% of
the embedding block's output, of every layer's attention weights, attention output and feed-forward
output. On a CPU each of those draws a random mask element by element (``aten::bernoulli_``, 14% of a
plain training step's time in the profiler), and a rate above 0 keeps PyTorch's attention off its fused
kernel in training. Measured on 2026-12-01 (sixteenth session, AMD Zen 5, 2 cores, the recommended preset,
probes taken in alternation): fp32 2.35-2.48 s per step with the model's dropout, 1.66-1.95 without (16
steps in one process); bf16 1.30-1.37 s and 0.78-0.93 s (40 and 125 steps in child processes, with the
eager attention of :mod:`medqa.training.attention`, which such runs use since). The quality measurements
behind the choice (two seeds each, consumer dev half, curated held-out split, then the test half once) are
in :mod:`medqa.training.arguments`.

Only the modules' rates change, for the run: the saved model's ``config.json`` keeps the starting
model's dropout (a model searches in eval mode, where dropout does nothing), so a run trained from it
starts from the usual rates. The random state still advances as before when the rate is above 0, so
cached losses replay the same masks (:mod:`medqa.training.freezing`).
"""

from __future__ import annotations

from typing import Any


def set_dropout(model: Any, rate: float) -> int:
    """Set every dropout module of ``model`` to ``rate`` (the attention's too: BERT reads its rate from
    its ``nn.Dropout`` module).

    Returns:
        How many modules were set.

    Raises:
        ValueError: ``rate`` is outside ``[0, 1)``.
    """
    from torch import nn

    if not 0 <= rate < 1:
        raise ValueError(f"dropout must be in [0, 1), not {rate!r}")
    modules = [module for module in model.modules() if isinstance(module, nn.Dropout)]
    for module in modules:
        module.p = rate
    return len(modules)
