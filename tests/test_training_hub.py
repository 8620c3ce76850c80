"""Publishing to the Hub: clean failures offline or unreachable, and the token never leaks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from medqa.errors import PublishError
from medqa.training import hub, registry
from tests.conftest import saved_run

TOKEN = "hf_TestTokenThatMustNeverLeak1234567890"


@pytest.fixture
def run(workdirs: Path) -> registry.Run:
    saved_run("pub")
    return registry.get_run("pub")


def _no_leak(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    text = str(error) + repr(error) + repr(error.__cause__) + repr(error.__context__)
    assert TOKEN not in text and TOKEN not in caplog.text
    assert error.__cause__ is None


def test_offline_fails_cleanly(run: registry.Run, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PublishError, match="offline") as caught:
        hub.publish_run(run, "someone/medqa-test", token=TOKEN)
    _no_leak(caught.value, caplog)


def test_unreachable_hub_fails_cleanly(run: registry.Run, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # taken from the environment this time
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PublishError, match=r"Cannot reach|offline") as caught:
        hub.publish_run("pub", "someone/medqa-test", endpoint="http://127.0.0.1:9")
    _no_leak(caught.value, caplog)


def test_missing_token_and_bad_repo_ids(run: registry.Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in hub.TOKEN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(PublishError, match="No Hugging Face token"):
        hub.publish_run(run, "someone/medqa-test")
    for repo_id in ("", "a/b/c", "../x", "has space/x", "x.git"):
        with pytest.raises(PublishError):
            hub.publish_run(run, repo_id, token=TOKEN)


def test_http_errors_are_explained_without_the_token() -> None:
    class Response:
        def __init__(self, status: int) -> None:
            self.status_code = status

    class HTTPFailure(Exception):
        def __init__(self, status: int) -> None:
            super().__init__(f"failed with Authorization: Bearer {TOKEN}")
            self.response = Response(status)

    assert "refused the token" in hub._explain(HTTPFailure(401), "a/b", TOKEN)
    assert "403" in hub._explain(HTTPFailure(403), "a/b", TOKEN)
    message = hub._explain(HTTPFailure(500), "a/b", TOKEN)
    assert "500" in message and TOKEN not in message


def test_publish_creates_the_repo_and_uploads_the_folder_with_its_card(
    run: registry.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls: dict[str, object] = {}

    class FakeApi:
        def __init__(self, endpoint=None, token=None) -> None:
            calls["token"] = token

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            calls["create"] = (repo_id, repo_type, private, exist_ok)
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, repo_id, repo_type, folder_path, commit_message):
            files = {p.name: p for p in Path(folder_path).iterdir()}
            calls["files"] = sorted(files)
            calls["card"] = files["README.md"].read_text()
            calls["everything"] = "".join(
                p.read_text(errors="ignore")
                for p in files.values()
                if p.is_file() and p.suffix in (".json", ".md")
            )

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = hub.publish_run(run, "someone/medqa-test", token=TOKEN, private=False)
    assert result.url == "https://huggingface.co/someone/medqa-test" and not result.private
    assert calls["create"] == ("someone/medqa-test", "model", False, True)
    assert calls["token"] == TOKEN
    assert {"README.md", "run.json", "model.safetensors", "modules.json"} <= set(calls["files"])
    assert 'SentenceTransformer("someone/medqa-test")' in calls["card"]
    assert TOKEN not in calls["everything"]
    # The run folder itself is untouched (its card still names the run).
    assert (
        not (run.path / "README.md").exists()
        or "someone/medqa-test" not in (run.path / "README.md").read_text()
    )
