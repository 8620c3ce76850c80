"""The matrix products of an fp32 training: oneDNN's where they beat torch's default BLAS on this CPU.

Policy: an fp32 run computes its ``nn.Linear`` layers (forward and both backward products) with oneDNN,
which every x86 build of torch ships, when a probe on this CPU finds oneDNN at least
:data:`MIN_SPEEDUP` times as fast as torch's own fp32 matrix product (MKL's ``sgemm`` in PyPI's x86
builds) and agreeing with it; otherwise it keeps torch's. A bf16 run keeps torch's product (under
autocast torch already computes it with oneDNN), and the model is given back with its own ``forward``
methods. Both compute the same fp32 products; the difference is speed.

Why: MKL picks its code by CPU vendor, and on this AMD CPU its fp32 product runs at less than half the
rate of the AVX-512 kernels of oneDNN and ONNX Runtime. Measured on 2026-12-02
(twentieth session, AMD EPYC Zen 5, 2 cores, torch 2.13.0+cpu with MKL 2024.2 and oneDNN 3.12): a
feed-forward product of 1,024 x 384 x 1,536 ran at 172 GFLOP/s with torch's default, 378 with oneDNN;
the backward products 144-178 against 254-419 (ONNX Runtime's kernels reach 434 on the same shape). Probes
of 30 steps of the recommended preset in fp32, taken in alternation: 2.03-2.19 s per step with torch's
default, 1.36-1.47 s with oneDNN, the same loss to six decimals. Whole first runs as the Train page
starts them, back to back: 235 s and 238 s against 350 s, the same held-out figures, child peak RSS
1,343-1,394 MB against 1,178 MB (oneDNN's runs creep by about 90 MB over 40 steps; README, "Results")
(``bench/results/train_fp32_zen5_onednn.txt``, ``train_fp32_zen5_blas.txt``). Where MKL runs at full
speed (Intel CPUs) the probe should find no gain, and the run keeps torch's default. Nor is there much
to gain on an AMD CPU without AVX-512: with oneDNN held to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``) the probe
read 195 against MKL's 172 GFLOP/s on this CPU, under :data:`MIN_SPEEDUP`.

:data:`MATMUL_ENV` forces the choice (``onednn`` or ``blas``), so the tests drive both paths on any
machine; child processes inherit it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

#: Environment variable that forces the fp32 matrix products: ``onednn`` or ``blas`` (anything else, or
#: unset: the probe of :func:`choose_kernel` decides).
MATMUL_ENV = "MEDQA_FP32_MATMUL"
ONEDNN = "onednn"
BLAS = "blas"
KERNELS = (ONEDNN, BLAS)
#: How much faster than torch's default oneDNN must be on the probe to be used (noise stays below it).
MIN_SPEEDUP = 1.2
#: Largest relative difference between the two kernels' products on the probe (fp32 rounding is ~1e-6).
MAX_RELATIVE_DIFFERENCE = 1e-4
#: The probe's product: a mini-batch of 8 texts of 128 tokens through MiniLM's first feed-forward layer.
PROBE_SHAPE = (1024, 384, 1536)

_lock = threading.Lock()
_probed: dict[str, Any] = {}


def forced_kernel() -> str | None:
    """The kernel :data:`MATMUL_ENV` forces, or ``None`` when the probe decides."""
    value = os.environ.get(MATMUL_ENV, "").strip().lower()
    return value if value in KERNELS else None


def onednn_linear(x: Any, weight: Any, bias: Any | None) -> Any:
    """``x @ weight.T + bias`` with oneDNN's fp32 product (raises where torch has no oneDNN)."""
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _best_seconds(product: Any, repeats: int = 3) -> float:
    product()  # the first call allocates and, for oneDNN, creates its primitive
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - started)
    return best


def probe() -> dict[str, Any]:
    """Time both kernels on :data:`PROBE_SHAPE` once per process; compare their products.

    Returns:
        ``{"blas_gflops", "onednn_gflops", "relative_difference"}``, or ``{"error": ...}`` when oneDNN's
        product cannot run here.
    """
    with _lock:
        if not _probed:
            _probed.update(_measure())
        return dict(_probed)


def _measure() -> dict[str, Any]:
    import torch
    import torch.nn.functional as functional

    rows, inner, outer = PROBE_SHAPE
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, inner, generator=generator)
    weight = torch.randn(outer, inner, generator=generator) / inner**0.5
    bias = torch.randn(outer, generator=generator)
    try:
        with torch.no_grad():
            reference = functional.linear(x, weight, bias)
            difference = (onednn_linear(x, weight, bias) - reference).abs().max().item()
            scale = reference.abs().max().item()
            flops = 2.0 * rows * inner * outer
            blas = flops / _best_seconds(lambda: functional.linear(x, weight, bias)) / 1e9
            onednn = flops / _best_seconds(lambda: onednn_linear(x, weight, bias)) / 1e9
    except Exception as error:  # no oneDNN in this build of torch, or it refuses the product
        return {"error": f"{type(error).__name__}: {error}"}
    return {
        "blas_gflops": blas,
        "onednn_gflops": onednn,
        "relative_difference": difference / max(scale, 1e-12),
    }


def choose_kernel(precision: str) -> str:
    """``onednn`` or ``blas`` for a run's ``nn.Linear`` products (module docstring).

    Args:
        precision: ``"bf16"`` or ``"fp32"``, as the run resolved it; bf16 always keeps ``blas``.
    """
    if precision != "fp32":
        return BLAS
    forced = forced_kernel()
    if forced is not None:
        return forced
    measured = probe()
    if "error" in measured:
        logger.info("fp32 products stay torch's: oneDNN cannot run here (%s)", measured["error"])
        return BLAS
    if measured["relative_difference"] > MAX_RELATIVE_DIFFERENCE:
        logger.warning("fp32 products stay torch's: oneDNN differs by %.2g", measured["relative_difference"])
        return BLAS
    faster = measured["onednn_gflops"] >= MIN_SPEEDUP * measured["blas_gflops"]
    return ONEDNN if faster else BLAS


def _onednn_function() -> Any:
    import torch
    from torch.autograd.function import once_differentiable

    class OneDnnLinear(torch.autograd.Function):
        """``nn.Linear``'s product and its two gradients, each one oneDNN product (no copies)."""

        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, bias: Any | None) -> Any:
            ctx.save_for_backward(x, weight)
            ctx.has_bias = bias is not None
            rows = x.reshape(-1, x.shape[-1])
            return onednn_linear(rows, weight, bias).reshape(*x.shape[:-1], weight.shape[0])

        @staticmethod
        @once_differentiable
        def backward(ctx: Any, grad: Any) -> tuple[Any, Any, Any]:
            x, weight = ctx.saved_tensors
            grad_rows = grad.reshape(-1, grad.shape[-1])
            grad_x = grad_weight = grad_bias = None
            if ctx.needs_input_grad[0]:
                grad_x = onednn_linear(grad_rows, weight.t(), None).reshape(x.shape)
            if ctx.needs_input_grad[1]:
                grad_weight = onednn_linear(grad_rows.t(), x.reshape(-1, x.shape[-1]).t(), None)
            if ctx.has_bias and ctx.needs_input_grad[2]:
                grad_bias = grad_rows.sum(0)
            return grad_x, grad_weight, grad_bias

    return OneDnnLinear


def _linears(model: Any) -> list[Any]:
    from torch import nn

    return [module for module in model.modules() if type(module) is nn.Linear]


@contextmanager
def linear_products(model: Any, kernel: str) -> Iterator[int]:
    """Compute ``model``'s ``nn.Linear`` layers with ``kernel`` inside the block; restore them after it.

    With ``onednn``, fp32 inputs outside autocast take :func:`onednn_linear`; anything else (bf16, an
    autocast region, another device) still takes ``nn.Linear``'s own forward.

    Yields:
        How many layers were switched (0 for ``blas``: nothing changes).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    switched: list[Any] = []
    try:
        if kernel == ONEDNN:
            import torch

            function = _onednn_function()
            for module in _linears(model):
                own = module.forward

                def forward(x: Any, _module: Any = module, _own: Any = own) -> Any:
                    usable = (
                        x.dtype == torch.float32
                        and _module.weight.dtype == torch.float32
                        and x.device.type == "cpu"
                        and not torch.is_autocast_enabled("cpu")
                    )
                    return function.apply(x, _module.weight, _module.bias) if usable else _own(x)

                module.forward = forward
                switched.append(module)
        yield len(switched)
    finally:
        for module in switched:
            del module.forward  # the instance attribute: the class's forward again
