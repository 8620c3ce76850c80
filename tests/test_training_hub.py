"""Publishing to the Hub: clean failures offline or unreachable, and the token never leaks."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from medqa import hub as hub_access
from medqa import settings
from medqa.errors import HubImportError, PublishError, RunNameError
from medqa.runs import registry
from medqa.training import hub
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
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # taken from the environment this time
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PublishError, match=r"Cannot reach|offline") as caught:
        hub.publish_run("pub", "someone/medqa-test", endpoint="http://127.0.0.1:9")
    _no_leak(caught.value, caplog)


def test_missing_token_and_bad_repo_ids(run: registry.Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in hub_access.TOKEN_VARIABLES:
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

    assert "refused the token" in hub_access.explain(HTTPFailure(401), "a/b", TOKEN)
    assert "403" in hub_access.explain(HTTPFailure(403), "a/b", TOKEN)
    message = hub_access.explain(HTTPFailure(500), "a/b", TOKEN)
    assert "500" in message and TOKEN not in message


def test_publish_creates_the_repo_and_uploads_the_folder_with_its_card(
    run: registry.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
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


# --- importing ------------------------------------------------------------------------------------------


class FakeHub:
    """Stands in for ``snapshot_download``: serves a local folder as a repository, applying the patterns."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.calls: list[dict] = []
        self.dry_runs: list[dict] = []
        self.commit = "0" * 40

    def __call__(self, repo_id, *, local_dir, allow_patterns=None, dry_run=False, **kwargs):
        from huggingface_hub import DryRunFileInfo
        from huggingface_hub.utils import filter_repo_objects

        files = [str(p.relative_to(self.repo)) for p in self.repo.rglob("*") if p.is_file()]
        if dry_run:  # what huggingface_hub's dry run answers: the files it would fetch, with sizes
            self.dry_runs.append({"repo_id": repo_id, **kwargs})
            return [
                DryRunFileInfo(
                    commit_hash=self.commit,
                    file_size=(self.repo / relative).stat().st_size,
                    filename=relative,
                    local_path=str(Path(local_dir) / relative),
                    is_cached=False,
                    will_download=True,
                )
                for relative in filter_repo_objects(files, allow_patterns=allow_patterns)
            ]
        self.calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns, **kwargs})
        for relative in filter_repo_objects(files, allow_patterns=allow_patterns):
            target = Path(local_dir) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.repo / relative, target)
        (Path(local_dir) / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)
        return local_dir


@pytest.fixture
def fake_hub(run: registry.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """A published medqa run (the ``pub`` run, plus files an import must not fetch) behind a fake Hub."""
    import huggingface_hub

    repo = Path(shutil.copytree(run.path, tmp_path / "hub-repo"))
    (repo / "pytorch_model.bin").write_bytes(b"pickled weights")
    (repo / "onnx").mkdir()
    (repo / "onnx" / "model.onnx").write_bytes(b"onnx export")
    (repo / "custom_code.py").write_text("raise SystemExit('never fetched')")
    registry.delete_run(run.name)
    fake = FakeHub(repo)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online, whatever the environment says
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    return fake


def _models() -> list[str]:
    return sorted(path.name for path in settings.models_dir().iterdir())


def test_import_brings_a_published_run_back(fake_hub: FakeHub) -> None:
    imported = hub.import_run("someone/medqa-pub", token=TOKEN)
    assert imported.name == "medqa-pub" and _models() == ["medqa-pub"]
    assert imported.base_model == "base"  # the published run.json is kept...
    assert imported.info["imported_from"]["repo_id"] == "someone/medqa-pub"  # ...and says where it came from
    files = {str(p.relative_to(imported.path)) for p in imported.path.rglob("*") if p.is_file()}
    assert {"model.safetensors", "modules.json", "run.json", "1_Pooling/config.json"} <= files
    assert not {"pytorch_model.bin", "onnx/model.onnx", "custom_code.py"} & files
    assert not (imported.path / ".cache").exists()
    assert fake_hub.calls[0]["token"] == TOKEN and TOKEN not in (imported.path / "run.json").read_text()


def test_import_a_plain_model_repository(fake_hub: FakeHub) -> None:
    (fake_hub.repo / "run.json").unlink()
    imported = hub.import_run("sentence-transformers/some-model", name="plain", revision="v1")
    assert imported.preset == "imported" and imported.base_model == "sentence-transformers/some-model"
    assert imported.info["imported_from"]["revision"] == "v1" and fake_hub.dry_runs[0]["revision"] == "v1"
    assert fake_hub.calls[0]["revision"] == fake_hub.commit  # the download is pinned to what was checked


def test_import_names_are_checked_and_never_overwritten_silently(fake_hub: FakeHub) -> None:
    hub.import_run("someone/twice")
    with pytest.raises(RunNameError, match="already exists"):
        hub.import_run("someone/twice")
    with pytest.raises(RunNameError):
        hub.import_run("someone/ok", name="../escape")
    replaced = hub.import_run("someone/twice", overwrite=True)
    assert replaced.name == "twice" and _models() == ["twice"]


@pytest.mark.parametrize("damage", ["pickled weights only", "truncated weights"])
def test_an_unusable_repository_imports_nothing(fake_hub: FakeHub, damage: str) -> None:
    weights = fake_hub.repo / "model.safetensors"
    if damage == "pickled weights only":
        weights.unlink()
    else:
        weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(HubImportError, match="not a complete sentence-transformers model"):
        hub.import_run("someone/broken")
    assert _models() == []  # no half-written folder, hidden or not


def test_import_offline_or_unreachable_fails_cleanly(
    run: registry.Run, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubImportError, match="offline") as caught:
        hub.import_run("someone/medqa-test", token=TOKEN)
    _no_leak(caught.value, caplog)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(HubImportError, match=r"Cannot reach|offline") as caught:
        hub.import_run("someone/medqa-test", token=TOKEN, endpoint="http://127.0.0.1:9")
    _no_leak(caught.value, caplog)
    with pytest.raises(HubImportError, match="not a valid Hub repository id"):
        hub.import_run("a/b/c")
    assert _models() == ["pub"]


def test_import_errors_are_explained() -> None:
    class Response:
        status_code = 401

    class RepositoryNotFoundError(Exception):
        response = Response()

    message = hub_access.explain(RepositoryNotFoundError("401"), "a/b", None, action="importing")
    assert "not found" in message and "token with read access" in message
    assert "token with read access" not in hub_access.explain(
        RepositoryNotFoundError("401"), "a/b", TOKEN, action="importing"
    )


def _hub_error(kind: type[Exception], status: int) -> Exception:
    import httpx2

    request = httpx2.Request("GET", "https://huggingface.co/api/models/a/b")
    return kind(f"{status} Client Error: Bearer {TOKEN}", response=httpx2.Response(status, request=request))


def test_typed_hub_errors_choose_the_message() -> None:
    """Issue 17 item 4: messages come from huggingface_hub's typed errors, not from matching names."""
    from huggingface_hub import errors

    gated = hub_access.explain(_hub_error(errors.GatedRepoError, 403), "a/b", TOKEN, action="importing")
    assert "gated" in gated and "may not write" not in gated and TOKEN not in gated
    forbidden = hub_access.explain(_hub_error(errors.HfHubHTTPError, 403), "a/b", TOKEN, action="importing")
    assert "may not read" in forbidden
    assert "may not write" in hub_access.explain(_hub_error(errors.HfHubHTTPError, 403), "a/b", TOKEN)
    revision = hub_access.explain(
        _hub_error(errors.RevisionNotFoundError, 404), "a/b", None, action="importing"
    )
    assert "no such revision" in revision
    missing = hub_access.explain(
        _hub_error(errors.RepositoryNotFoundError, 401), "a/b", None, action="importing"
    )
    assert "not found" in missing and "read access" in missing
    offline = hub_access.explain(errors.OfflineModeIsEnabled("offline"), "a/b", None, action="importing")
    assert "HF_HUB_OFFLINE" in offline
    unreachable = hub_access.explain(
        errors.LocalEntryNotFoundError("no connection"), "a/b", None, "importing"
    )
    assert "Cannot reach" in unreachable


def test_saved_login_token_is_used_only_when_the_server_token_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 item 4 (``hf auth login``) and issue 14 item 1 (a visitor never gets the server's token)."""
    import huggingface_hub

    for variable in hub_access.TOKEN_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: TOKEN)
    assert hub_access.resolve_token() == TOKEN
    assert hub_access.resolve_token(server_token=False) is None
    assert hub_access.resolve_token(" typed ", server_token=False) == "typed"
    monkeypatch.setenv("HF_TOKEN", "hf_fromEnvironment000000")
    assert hub_access.resolve_token() == "hf_fromEnvironment000000"
    assert hub_access.resolve_token(server_token=False) is None


def test_a_visitor_import_sends_no_server_token(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub.import_run("someone/medqa-pub", server_token=False)
    assert fake_hub.calls[0]["token"] is False and fake_hub.dry_runs[0]["token"] is False


def test_a_visitor_cannot_publish_with_the_server_token(run: registry.Run, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(PublishError, match="No Hugging Face token") as caught:
        hub.publish_run(run, "someone/medqa-test", server_token=False)
    assert "HF_TOKEN" not in str(caught.value)


def test_import_refuses_oversized_files_before_downloading(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 13: the dry run's sizes are checked first; nothing is fetched or left behind."""
    monkeypatch.setattr(hub, "MAX_IMPORT_FILE_BYTES", 1_000_000)  # the test model's weights: 91 MB
    with pytest.raises(HubImportError, match=r"model\.safetensors is"):
        hub.import_run("someone/medqa-pub", token=TOKEN)
    assert fake_hub.calls == [] and _models() == []
    monkeypatch.setattr(hub, "MAX_IMPORT_FILE_BYTES", 10**12)
    monkeypatch.setattr(hub, "MAX_IMPORT_TOTAL_BYTES", 1_000_000)
    with pytest.raises(HubImportError, match="MB of model files"):
        hub.import_run("someone/medqa-pub", token=TOKEN)
    assert fake_hub.calls == [] and _models() == []
