"""AppTest of the Train page: form defaults, live progress, second session, cancel, publish errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from medqa.errors import TrainingCancelled
from medqa.runs import registry
from medqa.training import arguments, job
from medqa.training.progress import CANCELLED, FINISHED
from tests.conftest import open_page, saved_run

PAGE = "pages/3_Train.py"
TOKEN = "hf_PageTokenThatMustNeverShow0987654321"


class GatedTrainer:
    """Stands in for the trainer: logs, reports a loss per step when released, honours cancel."""

    def __init__(self, steps: int = 4) -> None:
        self.steps = steps
        self.release = threading.Semaphore(0)
        self.configs: list = []

    def __call__(self, config, name, progress, overwrite=False):
        self.configs.append(config)
        progress.log("Setting up.")
        progress.start(self.steps)
        progress.add_eval(0, 0.0, {"mrr@10": 0.4}, label="before training")
        for step in range(1, self.steps + 1):
            self.release.acquire(timeout=20)
            progress.update(step, step / self.steps)
            progress.add_loss(step, step / self.steps, 1.0 / step)
            if progress.cancel_requested:
                progress.finish(CANCELLED, error="cancelled")
                raise TrainingCancelled("Training was cancelled; nothing was saved.")
        progress.finish(FINISHED, result_name=name)
        raise TrainingCancelled("test trainer saves nothing")


@pytest.fixture(autouse=True)
def no_previous_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job, "_current", None)


def _texts(app) -> str:
    parts = [*app.markdown, *app.caption, *app.info, *app.warning, *app.error, *app.success, *app.code]
    return "\n".join(str(element.value) for element in parts)


def test_without_data_points_to_home(workdirs: Path) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert "No data yet" in _texts(app)
    assert "not medical advice" in _texts(app).lower() or "educational" in _texts(app).lower()


def test_form_starts_with_the_original_recipe(training_data: Path) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert app.radio(key="preset").value == "original"
    assert app.number_input(key="epochs_original").value == 3.0
    assert app.number_input(key="lr_original").value == pytest.approx(5e-5)
    assert app.number_input(key="batch_original").value == 8
    assert app.number_input(key="seq_original").value == 128
    assert app.selectbox(key="data_original").value == "curated"
    assert app.selectbox(key="base_model").value == "base"


def test_run_name_follows_the_choices_until_edited_and_settings_are_in_words(training_data: Path) -> None:
    app = open_page(PAGE)
    assert app.text_input(key="run_name").value.startswith("original-curated-")
    app.radio(key="preset").set_value("recommended").run()
    recommended_data = app.selectbox(key="data_recommended").value
    assert app.text_input(key="run_name").value.startswith(f"recommended-{recommended_data}-")
    app.text_input(key="run_name").set_value("my-own-name").run()
    app.radio(key="preset").set_value("original").run()
    assert app.text_input(key="run_name").value == "my-own-name"
    # Each recipe is described under its own option; option values are shown in words.
    assert app.radio(key="preset").options == ["Original", "Recommended"]
    sampler = app.selectbox(key="sampler_original")
    assert "batch_sampler" not in sampler.options and "Random" in sampler.options


@pytest.mark.parametrize("preset", list(arguments.PRESETS))
def test_untouched_form_starts_exactly_the_preset(
    preset: str, training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = GatedTrainer(steps=1)
    monkeypatch.setattr(job, "_default_train", lambda: fake)
    app = open_page(PAGE)
    app.radio(key="preset").set_value(preset).run()
    app.button(key="start_training").click().run()
    assert not app.exception
    expected = arguments.PRESETS[preset].with_overrides(data=app.selectbox(key=f"data_{preset}").value)
    assert fake.configs == [expected]
    started = fake.configs[0]
    assert all(
        type(getattr(started, name)) is type(getattr(expected, name)) for name in arguments.field_names()
    )
    fake.release.release()
    assert job.current_job().wait(20)


def test_start_shows_live_progress_to_every_session_and_cancel_stops_it(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = GatedTrainer()
    monkeypatch.setattr(job, "_default_train", lambda: fake)
    app = open_page(PAGE)
    app.text_input(key="run_name").set_value("page-run")
    app.number_input(key="epochs_original").set_value(1.0)
    app.button(key="start_training").click().run()
    assert not app.exception
    assert fake.configs and fake.configs[0].epochs == 1.0 and fake.configs[0].preset == "custom"
    current = job.current_job()
    assert current is not None and current.name == "page-run"

    fake.release.release()
    app.run()
    text = _texts(app)
    assert "page-run" in text and "is running" in text
    assert app.button(key="start_training").disabled
    assert any("step" in bar.proto.text for bar in app.get("progress"))
    assert app.get("plotly_chart")

    other = open_page(PAGE)  # a second browser session
    assert not other.exception
    assert "page-run" in _texts(other) and other.button(key="start_training").disabled

    other.button(key="cancel_training").click().run()
    fake.release.release()
    assert current.wait(20)
    app.run()
    assert "cancelled" in _texts(app).lower()
    assert not app.button(key="start_training").disabled


def test_publish_offline_is_a_clear_message_without_the_token(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved_run("ready")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    app = open_page(PAGE)
    assert not app.exception
    app.text_input(key="publish_repo").set_value("someone/medqa-test")
    app.text_input(key="publish_token").set_value(TOKEN)
    submit = next(button for button in app.button if button.label == "Publish")
    submit.click().run()
    assert not app.exception
    assert "offline" in app.error[0].value
    assert TOKEN not in _texts(app)


def test_a_small_server_is_told_to_train_elsewhere(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medqa import system

    app = open_page(PAGE)
    assert "train on your own computer" not in _texts(app).lower()
    monkeypatch.setattr(system, "memory_limit_mb", lambda: 1024.0)
    app = open_page(PAGE)
    assert not app.exception
    assert "about 1.0 GB of memory" in _texts(app) and "import it below" in _texts(app)


def test_a_server_without_torch_explains_how_to_enable_training(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medqa import models

    app = open_page(PAGE)
    assert "requirements-train.txt" not in _texts(app)
    assert not app.button(key="start_training").disabled
    monkeypatch.setattr(models, "torch_available", lambda: False)
    app = open_page(PAGE)
    assert not app.exception
    assert "requirements-train.txt" in _texts(app) and "import it below" in _texts(app)
    assert app.button(key="start_training").disabled
    assert any(button.label == "Import" for button in app.button)  # importing a run still works


def _import(app, repo_id: str, token: str = "") -> None:
    app.text_input(key="import_repo").set_value(repo_id)
    app.text_input(key="import_token").set_value(token)
    next(button for button in app.button if button.label == "Import").click().run()


def test_import_offline_is_a_clear_message_without_the_token(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = open_page(PAGE)
    _import(app, "someone/medqa-test", TOKEN)
    assert not app.exception
    assert "offline" in app.error[0].value and TOKEN not in _texts(app)
    assert registry.list_runs() == []


def test_an_imported_run_is_listed(
    training_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    from tests.test_training_hub import FakeHub

    repo = saved_run("published")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", FakeHub(Path(repo)))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    app = open_page(PAGE)
    _import(app, "someone/from-laptop")
    assert not app.exception
    assert "Imported from-laptop" in _texts(app)
    listed = app.dataframe[0].value
    assert "from-laptop" in set(listed["run"])


def test_a_job_that_reported_finished_but_failed_says_so(
    training_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished report without a saved run (the child failed on its way out) is an error, not silence."""
    from medqa.errors import TrainingError

    def finished_then_crashed(config, name, progress, overwrite=False):
        progress.start(1)
        progress.finish(FINISHED, result_name=name)
        raise TrainingError("Training failed (stopped by SIGABRT): Fatal Python error")

    monkeypatch.setattr(job, "_default_train", lambda: finished_then_crashed)
    app = open_page(PAGE)
    app.button(key="start_training").click().run()
    assert job.current_job().wait(20)
    app.run()
    assert not app.exception and not app.success
    assert [error.value for error in app.error] == [
        "Training failed (stopped by SIGABRT): Fatal Python error"
    ]
