"""Publish a built search index to the Hugging Face Hub and import one, so a deployment need not build it.

Building the full MedQuAD index embeds about 33,000 texts: 5-8 minutes on 2 cores
(``bench/results/ask_build.txt``), paid again by every fresh deployment (Community Cloud wipes its disk
on restart). An index built once can be published as a Hub *dataset* repository and imported instead:

* **What is published**: ``index.safetensors`` (the embeddings as float32, the pair row and answer span of
  each text as int64, and each text's 16-byte digest as uint8) and ``index.json`` (the model
  fingerprint, the index settings and format version, the corpus fingerprint, the array shapes and the
  SHA-256 of ``index.safetensors``), plus a short ``README.md`` card. Safetensors only: no pickle, no code.
* **What an import does**: downloads those two files only (sizes checked by a dry run first, then the
  download pinned to the checked commit), verifies the SHA-256, the array types and shapes, and that
  the index was built with the *same model weights* (its fingerprint) and format, then stores it as an
  ordinary, checksummed cache entry under ``data/indexes/hub-<repo>/``. It is used as a *donor*: a build
  takes every embedding whose text digest matches (:func:`medqa.retrieval.dense.reusable_embeddings`) and
  embeds only the rest. An index published for the same corpus therefore makes the build instant, and
  one published for a slightly different MedQuAD copy still saves most of the work. A text's embedding
  is only ever used for the very text whose digest it carries.
* **Who may do it**: the command line (``medqa index publish`` / ``medqa index import``) and the
  deployer's ``MEDQA_INDEX_REPO`` setting (imported before the first background build, without a
  token: a public repository). Visitors have no control over it.

Token handling and error messages are :mod:`medqa.hub`'s, shared with trained runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from medqa import models
from medqa.data import schema as col
from medqa.data import store
from medqa.errors import HubImportError, IndexCacheError, PublishError
from medqa.hub import PublishResult, check_import_sizes, check_online, check_repo_id, explain, resolve_token
from medqa.retrieval.dense import (
    INDEX_VERSION,
    DenseSettings,
    StoredIndex,
    index_key,
    indexes_dir,
    load_cached,
    save_index,
)

INDEX_FILE = "index.safetensors"
META_FILE = "index.json"
CARD_FILE = "README.md"
#: The files an import fetches (nothing else in the repository, whatever it holds).
IMPORT_PATTERNS = (INDEX_FILE, META_FILE)
#: Largest index an import accepts: the full MedQuAD index is about 55 MB (33k x 384 float32 + units).
MAX_INDEX_BYTES = 256 * 1024 * 1024
#: Environment variable (or Streamlit secret, copied to the environment by the app) naming the index
#: repository a deployment imports before building.
INDEX_REPO_ENV = "MEDQA_INDEX_REPO"
_PREFIX = "hub-"


@dataclass(frozen=True)
class ImportedIndex:
    """An index imported from the Hub and stored as a donor cache entry."""

    repo_id: str
    folder: Path
    texts: int
    model_fingerprint: str


def configured_repo() -> str | None:
    """The deployer's index repository (``MEDQA_INDEX_REPO``), or ``None``."""
    value = os.environ.get(INDEX_REPO_ENV, "").strip()
    return value or None


def export_index(model_name: str, into: Path, dataset: str = store.FULL) -> dict[str, object]:
    """Write the cached index of ``dataset`` with ``model_name`` (the Ask page's settings) into ``into``.

    Returns:
        The ``index.json`` payload.

    Raises:
        IndexCacheError: that index has not been built here, or its cache does not verify.
    """
    from safetensors.numpy import save_file

    corpus = store.load_corpus(dataset)
    corpus_fingerprint = store.table_fingerprint(corpus)
    dense_settings = DenseSettings()
    folder = indexes_dir() / index_key(model_name, corpus_fingerprint, dense_settings)
    if not (folder / "meta.json").is_file():
        raise IndexCacheError(
            f"The {dataset} index of {model_name!r} has not been built on this machine: build it first "
            f"(medqa index --model {model_name}), then publish."
        )
    stored = load_cached(folder, corpus[col.ID])
    into.mkdir(parents=True, exist_ok=True)
    arrays = {
        "embeddings": np.ascontiguousarray(stored.embeddings, dtype=np.float32),
        "units": np.column_stack([stored.rows, stored.spans]).astype(np.int64),
        "digests": np.frombuffer(stored.digests.tobytes(), dtype=np.uint8)
        .reshape(len(stored.digests), 16)
        .copy(),
    }
    save_file(arrays, str(into / INDEX_FILE))
    meta = {
        "format": "medqa-index",
        "version": INDEX_VERSION,
        "model": model_name,
        "model_fingerprint": models.model_fingerprint(model_name),
        "settings": asdict(dense_settings),
        "precision": stored.meta.get("precision", "fp32"),
        "dataset": dataset,
        "corpus_fingerprint": corpus_fingerprint,
        "texts": len(stored.embeddings),
        "dimension": int(stored.embeddings.shape[1]),
        "sha256": models.file_sha256(into / INDEX_FILE),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (into / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _card(meta: dict[str, object], repo_id: str) -> str:
    return (
        "---\nlicense: cc-by-4.0\ntags:\n- medqa\n- sentence-transformers\n---\n\n"
        f"# {repo_id}\n\nA search index built by medqa: {meta['texts']:,} embeddings of MedQuAD question and "
        f"answer texts with `{meta['model']}` (model fingerprint `{meta['model_fingerprint']}`, precision "
        f"{meta['precision']}). Import it with `medqa index import {repo_id}` or set `{INDEX_REPO_ENV}`.\n\n"
        "The texts come from MedQuAD (Ben Abacha & Demner-Fushman, *A question-entailment approach to "
        "question answering*, BMC Bioinformatics 2019; CC BY 4.0). Educational use, not medical advice.\n"
    )


def publish_index(
    repo_id: str,
    model_name: str = "base",
    *,
    token: str | None = None,
    private: bool = False,
    endpoint: str | None = None,
    server_token: bool = True,
) -> PublishResult:
    """Upload this machine's full-corpus index of ``model_name`` as a Hub dataset repository.

    Raises:
        PublishError: no token, Hub offline or unreachable, token refused, bad repo id.
        IndexCacheError: the index has not been built here.
    """
    repo_id = check_repo_id(repo_id)
    token = resolve_token(token, server_token=server_token)
    if not token:
        raise PublishError("No Hugging Face token: enter one with write access, or set HF_TOKEN.")
    check_online("publishing", PublishError)
    with tempfile.TemporaryDirectory(prefix="medqa-index-publish-") as staging:
        folder = Path(staging)
        meta = export_index(model_name, folder)
        (folder / CARD_FILE).write_text(_card(meta, repo_id), encoding="utf-8")
        try:
            from huggingface_hub import HfApi

            api = HfApi(endpoint=endpoint, token=token)
            url = api.create_repo(repo_id=repo_id, repo_type="dataset", private=private, exist_ok=True)
            repo_id = getattr(url, "repo_id", None) or repo_id
            api.upload_folder(
                repo_id=repo_id,
                repo_type="dataset",
                folder_path=str(folder),
                commit_message=f"Upload the medqa index of {model_name} ({meta['texts']:,} texts)",
            )
        except Exception as error:
            raise PublishError(explain(error, repo_id, token)) from None
    return PublishResult(repo_id=repo_id, url=str(url), private=private)


def verify_index(folder: Path, repo_id: str, model_name: str) -> StoredIndex:
    """A downloaded index (``index.json`` + ``index.safetensors`` in ``folder``), checked before any use.

    Raises:
        HubImportError: not a medqa index of this format, built with other weights than ``model_name``'s,
            a SHA-256 mismatch, or arrays of unexpected types, shapes or values.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    def refuse(reason: str) -> HubImportError:
        return HubImportError(f"{repo_id!r} is not a usable medqa index ({reason}); nothing was imported.")

    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise refuse(f"no readable {META_FILE}") from None
    if not isinstance(meta, dict) or meta.get("format") != "medqa-index":
        raise refuse(f"{META_FILE} does not describe a medqa index")
    if meta.get("version") != INDEX_VERSION:
        raise refuse(f"format version {meta.get('version')!r}, this medqa reads {INDEX_VERSION}")
    if meta.get("model_fingerprint") != models.model_fingerprint(model_name):
        raise refuse(f"it was built with other model weights than {model_name!r}")
    if not (folder / INDEX_FILE).is_file() or models.file_sha256(folder / INDEX_FILE) != meta.get("sha256"):
        raise refuse(f"{INDEX_FILE} is missing or does not match its SHA-256")
    try:
        arrays = load_file(str(folder / INDEX_FILE))
    except (OSError, ValueError, SafetensorError):
        raise refuse(f"{INDEX_FILE} cannot be read") from None
    embeddings, units, digests = (arrays.get(name) for name in ("embeddings", "units", "digests"))
    count = meta.get("texts")
    shapes_ok = (
        embeddings is not None and units is not None and digests is not None
        and embeddings.dtype == np.float32 and embeddings.ndim == 2 and embeddings.shape[0] == count
        and units.dtype == np.int64 and units.shape == (count, 3)
        and digests.dtype == np.uint8 and digests.shape == (count, 16)
        and bool(np.isfinite(embeddings).all())
    )  # fmt: skip
    if not shapes_ok:
        raise refuse("arrays of unexpected types or shapes")
    settings = dict(meta.get("settings") or {})
    stored_meta = {
        "model": model_name,
        "model_fingerprint": meta["model_fingerprint"],
        "settings": settings,
        "precision": str(meta.get("precision", "fp32")),
        "version": INDEX_VERSION,
        "imported_from": repo_id,
        "corpus_fingerprint": meta.get("corpus_fingerprint"),
    }
    return StoredIndex(
        embeddings, units[:, 0], units[:, 1:], digests.copy().view("S16").reshape(count), stored_meta
    )


def import_index(
    repo_id: str,
    model_name: str = "base",
    *,
    token: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
    server_token: bool = True,
) -> ImportedIndex:
    """Download a published index and store it as a donor cache entry (see the module docstring).

    Raises:
        HubImportError: bad repo id, Hub offline or unreachable, repository missing or private, files
            too large, or not a medqa index built with these model weights.
    """
    repo_id = check_repo_id(repo_id, error=HubImportError)
    check_online("importing", HubImportError)
    token = resolve_token(token, server_token=server_token)
    target = folder_for(repo_id)
    with tempfile.TemporaryDirectory(prefix=".medqa-index-import-", dir=indexes_dir()) as scratch:
        try:
            from huggingface_hub import snapshot_download

            options = {
                "repo_type": "dataset",
                "token": token or False,
                "local_dir": scratch,
                "allow_patterns": list(IMPORT_PATTERNS),
                "endpoint": endpoint,
            }
            listed = snapshot_download(repo_id, revision=revision, dry_run=True, **options)
            commit = check_import_sizes(repo_id, listed, MAX_INDEX_BYTES, MAX_INDEX_BYTES, what="index files")
            snapshot_download(repo_id, revision=commit or revision, **options)
        except HubImportError:
            raise
        except Exception as error:
            raise HubImportError(explain(error, repo_id, token, action="importing")) from None
        stored = verify_index(Path(scratch), repo_id, model_name)
        try:
            save_index(target, stored, None)
        except OSError as error:
            raise HubImportError(f"Could not store the imported index in {indexes_dir()}: {error}") from None
    return ImportedIndex(repo_id, target, len(stored.embeddings), str(stored.meta["model_fingerprint"]))


def folder_for(repo_id: str) -> Path:
    """The cache folder an import of ``repo_id`` is stored in (``data/indexes/hub-<owner>--<name>``)."""
    return indexes_dir() / (_PREFIX + re.sub(r"[^A-Za-z0-9._-]+", "--", repo_id.strip()))


def imported(repo_id: str) -> bool:
    """Whether ``repo_id``'s index is stored here (and verifies)."""
    try:
        load_cached(folder_for(repo_id), None)
    except (IndexCacheError, OSError, ValueError):
        return False
    return True
