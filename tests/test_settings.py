"""Where data and models go: a checkout keeps them beside the app, an installed copy in a user folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa import settings


def test_a_checkout_keeps_data_and_models_beside_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDQA_DATA_DIR", raising=False)
    monkeypatch.delenv("MEDQA_MODELS_DIR", raising=False)
    assert settings.is_source_checkout()  # the tests run from the repository
    assert settings.default_home() == settings.PROJECT_ROOT


def test_an_installed_copy_never_writes_into_site_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_packages = tmp_path / "site-packages"
    (site_packages / "medqa").mkdir(parents=True)
    monkeypatch.setattr(settings, "PROJECT_ROOT", site_packages)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    monkeypatch.delenv("MEDQA_DATA_DIR", raising=False)
    monkeypatch.delenv("MEDQA_MODELS_DIR", raising=False)
    assert not settings.is_source_checkout()
    assert settings.data_dir() == tmp_path / "user-data" / "medqa" / "data"
    assert settings.models_dir() == tmp_path / "user-data" / "medqa" / "models"
    assert not (site_packages / "data").exists() and not (site_packages / "models").exists()


def test_environment_variables_override_every_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("MEDQA_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "m"))
    assert settings.data_dir() == tmp_path / "d" and settings.models_dir() == tmp_path / "m"
    assert (tmp_path / "d").is_dir() and (tmp_path / "m").is_dir()
