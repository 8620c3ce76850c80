"""Training settings: validation, presets, overrides, and configs read back from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.errors import TrainingError
from medqa.training import arguments
from medqa.training.arguments import TrainingConfig


def test_original_preset_is_the_autotrain_recipe() -> None:
    config = arguments.preset(arguments.ORIGINAL)
    assert config.dropout is None  # the model's own dropout, as AutoTrain trained it
    assert (config.loss, config.optimizer, config.lr_scheduler) == ("mnrl", "adamw_torch", "linear")
    assert (config.batch_size, config.epochs, config.gradient_accumulation_steps) == (8, 3.0, 1)
    assert (config.learning_rate, config.max_seq_length, config.data) == (5e-5, 128, "curated")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"batch_size": 1}, "batch size"),
        ({"learning_rate": 0.0}, "learning rate"),
        ({"max_seq_length": 4}, "max_seq_length"),
        ({"loss": "triplet"}, "loss must be one of"),
        ({"query_variants": ("question", "poetry")}, "query variants"),
        ({"distill_weight": 1.0, "distill_texts": 0}, "distill_texts"),
        ({"merge_with_base": 1.0}, "merge_with_base"),
        ({"epochs": 0.0, "max_steps": -1}, "epochs must be above 0"),
        ({"distill_on": "everything"}, "distill_on"),
        ({"batch_sampler": "by_colour"}, "batch sampler"),
        ({"freeze_layers": 6}, "frozen layers"),
        ({"freeze_layers": -1}, "frozen layers"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"dropout": -0.1}, "dropout must be in"),
        ({"dropout": float("nan")}, "dropout must be in"),
    ],
)
def test_invalid_settings_say_what_is_wrong(overrides: dict, problem: str) -> None:
    with pytest.raises(TrainingError, match=problem):
        arguments.preset(arguments.ORIGINAL, **overrides)


def test_overrides_mark_the_config_custom_only_when_a_value_changes() -> None:
    assert arguments.preset("original", epochs=3.0, data="full").preset == "original"
    assert arguments.preset("original", epochs=1.0).preset == arguments.CUSTOM
    with pytest.raises(TrainingError, match="Unknown training settings: colour"):
        arguments.preset("original", colour="blue")
    with pytest.raises(TrainingError, match="Unknown preset"):
        arguments.preset("fastest")


@pytest.mark.parametrize("name", list(arguments.PRESETS))
def test_configs_survive_json(name: str) -> None:
    config = arguments.PRESETS[name]
    assert TrainingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_config_from_a_config_file_or_a_run_json(tmp_path: Path) -> None:
    config = arguments.preset("recommended", seed=7)
    plain = tmp_path / "config.json"
    plain.write_text(json.dumps(config.to_dict()))
    run_json = tmp_path / "run.json"
    run_json.write_text(json.dumps({"name": "r", "config": config.to_dict(), "metrics": {}}))
    assert arguments.config_from_file(plain) == config
    assert arguments.config_from_file(run_json) == config


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "Cannot read"),
        ("{not json", "Cannot read"),
        ("[1, 2]", "not a JSON object"),
        ('{"epochs": "many"}', "wrong value"),
        ('{"batch_size": 1}', "batch size"),
    ],
    ids=["missing", "not json", "a list", "wrong type", "invalid value"],
)
def test_unusable_config_files_are_a_training_error(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TrainingError, match=problem):
        arguments.config_from_file(path)
