"""A published search index: exported, verified on import, and used so a build embeds nothing new."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medqa.data import schema as col
from medqa.data import store
from medqa.errors import HubImportError, IndexCacheError, PublishError
from medqa.retrieval import builds, hub_index
from medqa.retrieval.dense import DenseIndex, indexes_dir
from tests.test_training_hub import TOKEN, FakeHub

pytestmark = pytest.mark.model


@pytest.fixture
def data(fixture_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the fixture data (with its base-model indexes built), online through a fake Hub."""
    copy = Path(shutil.copytree(fixture_data_dir, tmp_path / "data"))
    monkeypatch.setenv("MEDQA_DATA_DIR", str(copy))
    monkeypatch.setenv("MEDQA_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("MEDQA_MEDQUAD_SOURCE", raising=False)
    return copy


@pytest.fixture
def published(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The fixture's full-corpus base index, exported as a Hub repository (plus files never fetched)."""
    import huggingface_hub

    repo = tmp_path / "hub-repo"
    hub_index.export_index("base", repo)
    (repo / "embeddings.pkl").write_bytes(b"pickled")
    (repo / "loader.py").write_text("raise SystemExit('never fetched')")
    fake = FakeHub(repo)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    return fake


def _built_here() -> list[Path]:
    return [path for path in indexes_dir().iterdir() if not path.name.startswith((".", "bm25-", "hub-"))]


def test_an_imported_index_makes_the_build_embed_nothing(published: FakeHub) -> None:
    corpus = store.load_corpus(store.FULL)
    original = DenseIndex.build_or_load(corpus, "base")
    for folder in _built_here():
        shutil.rmtree(folder)
    found = hub_index.import_index("someone/medqa-index", "base")
    assert found.texts == original.texts and hub_index.imported("someone/medqa-index")
    fetched = {path.name for path in found.folder.iterdir()}
    assert fetched == {"embeddings.npy", "units.npy", "digests.npy", "meta.json"}
    assert published.calls[0]["repo_type"] == "dataset" and published.calls[0]["token"] is False
    assert published.calls[0]["allow_patterns"] == ["index.safetensors", "index.json"]
    rebuilt = DenseIndex.build_or_load(corpus, "base")
    assert not rebuilt.from_cache and rebuilt.embedded == 0 and rebuilt.reused > 0
    question = np.ones(original.embeddings.shape[1], np.float32) / np.sqrt(original.embeddings.shape[1])
    assert np.allclose(rebuilt.scores(question), original.scores(question))


@pytest.mark.parametrize("damage", ["bytes", "model", "shapes", "format"])
def test_a_damaged_or_foreign_index_is_refused(published: FakeHub, damage: str) -> None:
    meta_file = published.repo / hub_index.META_FILE
    meta = json.loads(meta_file.read_text())
    if damage == "bytes":
        data = bytearray((published.repo / hub_index.INDEX_FILE).read_bytes())
        data[-5] ^= 0xFF
        (published.repo / hub_index.INDEX_FILE).write_bytes(bytes(data))
        expected = "SHA-256"
    elif damage == "model":
        meta["model_fingerprint"] = "0" * 16
        expected = "other model weights"
    elif damage == "shapes":
        meta["texts"] += 1
        expected = "unexpected types or shapes"
    else:
        meta["format"] = "something-else"
        expected = "does not describe a medqa index"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(HubImportError, match=expected):
        hub_index.import_index("someone/medqa-index", "base")
    assert not hub_index.imported("someone/medqa-index")
    assert not [path for path in indexes_dir().iterdir() if path.name.startswith("hub-")]


def test_oversized_offline_and_bad_ids_fail_cleanly(
    published: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_index, "MAX_INDEX_BYTES", 1000)
    with pytest.raises(HubImportError, match="nothing was downloaded"):
        hub_index.import_index("someone/medqa-index")
    assert published.calls == []
    with pytest.raises(HubImportError):
        hub_index.import_index("../etc")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubImportError, match="offline"):
        hub_index.import_index("someone/medqa-index")


def test_publish_uploads_the_index_with_a_card_and_never_the_token(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    seen: dict[str, object] = {}

    class FakeApi:
        def __init__(self, endpoint=None, token=None) -> None:
            seen["token"] = token

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            seen["create"] = (repo_id, repo_type, private)
            return huggingface_hub.RepoUrl(f"https://huggingface.co/datasets/{repo_id}")

        def upload_folder(self, repo_id, repo_type, folder_path, commit_message):
            files = {path.name: path.read_bytes() for path in Path(folder_path).iterdir()}
            seen["files"] = files

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    result = hub_index.publish_index("someone/medqa-index", token=TOKEN)
    assert seen["create"] == ("someone/medqa-index", "dataset", False) and seen["token"] == TOKEN
    files = seen["files"]
    assert set(files) == {"index.safetensors", "index.json", "README.md"}
    assert all(TOKEN.encode() not in content for content in files.values())
    meta = json.loads(files["index.json"])
    assert meta["texts"] == len(DenseIndex.build_or_load(store.load_corpus(store.FULL), "base").embeddings)
    assert "CC BY 4.0" in files["README.md"].decode() and result.url.endswith("someone/medqa-index")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError, match="offline"):
        hub_index.publish_index("someone/medqa-index", token=TOKEN)


def test_an_index_not_built_here_cannot_be_published(data: Path, tmp_path: Path) -> None:
    for folder in _built_here():
        shutil.rmtree(folder)
    with pytest.raises(IndexCacheError, match="has not been built"):
        hub_index.export_index("base", tmp_path / "out")


def test_a_background_build_imports_the_deployers_index_first(
    published: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = store.load_corpus(store.FULL)
    texts = DenseIndex.build_or_load(corpus, "base").texts
    for folder in _built_here():
        shutil.rmtree(folder)
    monkeypatch.setenv(hub_index.INDEX_REPO_ENV, "someone/medqa-index")
    monkeypatch.setattr(builds, "_import_tried", set())
    build = builds.start(corpus, "base", label="full MedQuAD with the base model")
    assert build.wait(300) and build.error is None
    assert hub_index.imported("someone/medqa-index") and len(published.calls) == 1
    index = DenseIndex.build_or_load(corpus, "base")
    assert index.from_cache and len(index.embeddings) == texts
    assert json.loads((indexes_dir() / index.key / "meta.json").read_text())["embedded"] == 0
    assert corpus[col.ID].size > 0
