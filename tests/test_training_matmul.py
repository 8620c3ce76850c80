"""The fp32 matrix products of a training (``medqa.training.matmul``) and where the trainer uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa.training import matmul, trainer
from medqa.training.arguments import preset
from medqa.training.matmul import BLAS, MATMUL_ENV, ONEDNN, choose_kernel, linear_products
from medqa.training.progress import Progress

torch = pytest.importorskip("torch")


def _model(bias: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(24, 48, bias=bias), torch.nn.GELU(), torch.nn.Linear(48, 16, bias=bias)
    )


def _outputs_and_gradients(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    x = x.detach().clone().requires_grad_(x.requires_grad)
    out = model(x)
    (out**2).sum().backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    return [out.detach()] + grads + ([x.grad.clone()] if x.requires_grad else [])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("input_grad", [True, False])
def test_onednn_products_give_torchs_outputs_and_gradients(bias: bool, input_grad: bool) -> None:
    model = _model(bias)
    x = torch.randn(3, 7, 24).requires_grad_(input_grad)  # a batch of token rows, as in a transformer
    model[0].weight.requires_grad_(False)  # a frozen layer below trainable ones
    expected = _outputs_and_gradients(model, x)
    with linear_products(model, ONEDNN) as switched:
        assert switched == 2
        got = _outputs_and_gradients(model, x)
    assert len(got) == len(expected)
    for value, reference in zip(got, expected, strict=True):
        torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-5)


def test_the_block_restores_the_layers_own_forward_even_after_a_failure() -> None:
    model = _model()
    with pytest.raises(RuntimeError), linear_products(model, ONEDNN):
        assert all("forward" in layer.__dict__ for layer in (model[0], model[2]))
        raise RuntimeError("a failed step")
    assert not any("forward" in layer.__dict__ for layer in model.modules())
    with linear_products(model, BLAS) as switched:
        assert switched == 0 and not any("forward" in layer.__dict__ for layer in model.modules())
    with pytest.raises(ValueError, match="kernel"), linear_products(model, "fast"):
        pass


def test_inference_and_autocast_still_work_inside_the_block() -> None:
    model = _model()
    x = torch.randn(5, 24)
    with torch.inference_mode():
        expected = model(x)
    with linear_products(model, ONEDNN):
        with torch.inference_mode():  # the held-out evaluation embeds this way during a training
            torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            assert model(x).dtype == torch.bfloat16  # autocast keeps the layer's own (bf16) product


def test_bf16_runs_keep_torchs_products_whatever_is_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MATMUL_ENV, ONEDNN)
    assert choose_kernel("bf16") == BLAS


@pytest.mark.parametrize("forced", [ONEDNN, BLAS])
def test_the_environment_forces_the_kernel_without_a_probe(
    monkeypatch: pytest.MonkeyPatch, forced: str
) -> None:
    monkeypatch.setenv(MATMUL_ENV, forced)
    monkeypatch.setattr(matmul, "probe", lambda: pytest.fail("forced: no probe"))
    assert choose_kernel("fp32") == forced


@pytest.mark.parametrize(
    ("measured", "kernel"),
    [
        ({"blas_gflops": 170.0, "onednn_gflops": 380.0, "relative_difference": 1e-6}, ONEDNN),  # AMD + MKL
        ({"blas_gflops": 300.0, "onednn_gflops": 320.0, "relative_difference": 1e-6}, BLAS),  # no real gain
        ({"blas_gflops": 170.0, "onednn_gflops": 380.0, "relative_difference": 1e-2}, BLAS),  # disagrees
        ({"error": "RuntimeError: no oneDNN"}, BLAS),  # a torch build without it
    ],
)
def test_the_probe_decides_when_nothing_is_forced(
    monkeypatch: pytest.MonkeyPatch, measured: dict, kernel: str
) -> None:
    monkeypatch.delenv(MATMUL_ENV, raising=False)
    monkeypatch.setattr(matmul, "probe", lambda: measured)
    assert choose_kernel("fp32") == kernel


def test_the_probe_measures_both_kernels_on_this_machine() -> None:
    measured = matmul.probe()
    if "error" in measured:  # a torch build without oneDNN: the run keeps torch's products
        pytest.skip(measured["error"])
    assert measured["blas_gflops"] > 0 and measured["onednn_gflops"] > 0
    assert measured["relative_difference"] < matmul.MAX_RELATIVE_DIFFERENCE
    assert matmul.probe() == measured  # once per process


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("forced", [ONEDNN, BLAS])
def test_an_fp32_run_trains_with_the_chosen_products(
    training_data: Path, monkeypatch: pytest.MonkeyPatch, spy, forced: str
) -> None:
    monkeypatch.setenv(MATMUL_ENV, forced)
    calls = spy(trainer, "linear_products")
    config = preset(
        "original", max_steps=2, max_seq_length=32, batch_size=4, evaluation="end", precision="fp32"
    )
    progress = Progress()
    run = trainer.train(config, f"products-{forced}", progress)
    assert [kernel for _, kernel in calls] == [forced]
    assert run.record.training.final_train_loss is not None and run.record.metrics
    said = any("oneDNN matrix products" in line for line in progress.snapshot().log)
    assert said == (forced == ONEDNN)  # the log says which products trained
