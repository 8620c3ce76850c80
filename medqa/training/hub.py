"""Publish a trained run to the Hugging Face Hub and import one back (``huggingface_hub``).

Publishing is ``create_repo`` + ``upload_folder``; importing is ``snapshot_download`` into a hidden
folder under ``models/``, checked and renamed into place only when complete, so a run trained on one
machine (say, a laptop) can be used by the app on another (say, Community Cloud, whose disk is wiped on
restart and whose memory is too small to train).

The token comes from the ``token`` argument, else (when ``server_token`` allows it, as on the command
line) from :func:`huggingface_hub.get_token`: ``HF_TOKEN``, or the token saved by ``hf auth login``. The
app passes ``server_token=False`` unless the deployer unlocked admin actions (:mod:`medqa.access`), so a
visitor can only act with a token they typed. It is passed to ``huggingface_hub`` and nowhere else:
never logged, never written to disk (the uploaded ``run.json`` and card hold none), and every error
message is scrubbed of it. Every failure becomes a :class:`~medqa.errors.PublishError` or
:class:`~medqa.errors.HubImportError` a user can act on, chosen by ``huggingface_hub``'s typed errors.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from medqa.errors import HubImportError, PublishError, RunNameError
from medqa.hub import (
    PublishResult,
    check_import_sizes,
    check_online,
    check_repo_id,
    resolve_token,
)
from medqa.hub import explain as _explain
from medqa.runs import registry
from medqa.training import model_card

#: What an import downloads (patterns match in subfolders too, such as ``1_Pooling/``): configs,
#: tokenizer, card and weights in safetensors only; never pickled ``.bin`` weights (loading them can run
#: code), ``.py`` files, or ``onnx/`` and ``openvino/`` exports, which the app does not use.
IMPORT_PATTERNS = ("*.json", "*.txt", "*.md", "*.safetensors")
#: Largest file an import downloads, and largest total. all-MiniLM-L6-v2's weights are 91 MB; a model
#: whose weights pass 512 MB could not be served in Community Cloud's 1 GB anyway, and an unbounded
#: download would fill the disk every visitor shares.
MAX_IMPORT_FILE_BYTES = 512 * 1024 * 1024
MAX_IMPORT_TOTAL_BYTES = 1024 * 1024 * 1024


def _staging_copy(run: registry.Run, repo_id: str, into: Path) -> Path:
    """A copy of the run folder (hard links when possible) whose card names the Hub repository."""
    target = into / run.name

    def link_or_copy(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    shutil.copytree(run.path, target, copy_function=link_or_copy)
    card = target / model_card.CARD_FILE
    card.unlink(missing_ok=True)  # a hard link: replace the file rather than write through it
    model_card.write_model_card(target, run.info, repo_id=repo_id)
    return target


def publish_run(
    run: registry.Run | str,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    endpoint: str | None = None,
    commit_message: str | None = None,
    server_token: bool = True,
) -> PublishResult:
    """Create (or reuse) a Hub model repository and upload the run folder with its card.

    Args:
        run: a :class:`~medqa.runs.registry.Run` or a run name.
        repo_id: ``owner/name`` on the Hub.
        token: a Hub token with write access; defaults to ``HF_TOKEN``.
        private: create the repository private (an existing repository keeps its visibility).
        endpoint: Hub URL (tests point it at an unreachable address); defaults to huggingface.co.
        commit_message: message of the upload commit.
        server_token: without ``token``, fall back to this machine's token (:func:`resolve_token`);
            the app passes ``False`` unless the deployer unlocked admin actions.

    Raises:
        PublishError: no token, Hub offline or unreachable, token refused, no permission, bad repo id.
    """
    repo_id = check_repo_id(repo_id)
    if isinstance(run, str):
        run = registry.get_run(run)
    token = resolve_token(token, server_token=server_token)
    if not token:
        raise PublishError(
            "No Hugging Face token: enter one with write access"
            + (", or set HF_TOKEN (environment or Streamlit secrets)." if server_token else ".")
        )
    check_online("publishing", PublishError)
    try:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint, token=token)
        url = api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
        repo_id = getattr(url, "repo_id", None) or repo_id
        with tempfile.TemporaryDirectory(prefix="medqa-publish-") as staging:
            folder = _staging_copy(run, repo_id, Path(staging))
            api.upload_folder(
                repo_id=repo_id,
                repo_type="model",
                folder_path=str(folder),
                commit_message=commit_message or f"Upload {run.name} (trained with medqa)",
            )
    except PublishError:
        raise
    except Exception as error:
        # `from None`: the original exception (and its traceback) may quote request headers.
        raise PublishError(_explain(error, repo_id, token)) from None
    return PublishResult(repo_id=repo_id, url=str(url), private=private)


def _import_record(folder: Path, name: str, repo_id: str, revision: str | None) -> dict:
    """The ``run.json`` of an imported run: the published one (renamed) or a minimal one for a plain model."""
    try:
        info = json.loads((folder / registry.RUN_FILE).read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        info = {
            "name": name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": {"preset": "imported", "base_model": repo_id, "data": ""},
            "metrics": {},
        }
    info["name"] = name
    info["imported_from"] = {
        "repo_id": repo_id,
        "revision": revision or "main",
        "imported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return info


def import_run(
    repo_id: str,
    *,
    name: str | None = None,
    token: str | None = None,
    revision: str | None = None,
    overwrite: bool = False,
    endpoint: str | None = None,
    server_token: bool = True,
) -> registry.Run:
    """Download a sentence-transformers model repository (such as a run published by :func:`publish_run`)
    into ``models/<name>/``, where the Ask and Compare pages list it like a trained run.

    Args:
        repo_id: ``owner/name`` on the Hub.
        name: run name (default: the repository's name).
        token: a Hub token with read access, for private repositories; defaults to ``HF_TOKEN``.
        revision: branch, tag or commit (default: ``main``).
        overwrite: replace an existing run of that name once the download is complete.
        endpoint: Hub URL (tests point it at an unreachable address); defaults to huggingface.co.
        server_token: without ``token``, fall back to this machine's token; with ``False`` the
            download sends no token at all (huggingface_hub would otherwise use a saved one).

    Raises:
        HubImportError: bad repo id, Hub offline or unreachable, repository missing or private, not a
            complete sentence-transformers model in safetensors.
        RunNameError: the name is unusable or taken (and ``overwrite`` is off).
    """
    from medqa.models import folder_problem

    repo_id = check_repo_id(repo_id, error=HubImportError)
    name = registry.sanitize_run_name(name or repo_id.rsplit("/", 1)[-1])
    final = registry.run_path(name)
    if final.exists() and not overwrite:
        raise RunNameError(f"A run named {name!r} already exists; choose another name.")
    check_online("importing", HubImportError)
    token = resolve_token(token, server_token=server_token)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = registry.scratch_folder(final)
    try:
        try:
            from huggingface_hub import snapshot_download

            options = {
                "repo_type": "model",
                "token": token or False,  # False: no token, not even one saved on this machine
                "local_dir": str(tmp),
                "allow_patterns": list(IMPORT_PATTERNS),
                "endpoint": endpoint,
            }
            # A dry run lists the files and sizes first; the download is then pinned to that commit,
            # so what is fetched is what was checked.
            listed = snapshot_download(repo_id, revision=revision, dry_run=True, **options)
            commit = check_import_sizes(repo_id, listed, MAX_IMPORT_FILE_BYTES, MAX_IMPORT_TOTAL_BYTES)
            snapshot_download(repo_id, revision=commit or revision, **options)
        except HubImportError:
            raise
        except Exception as error:
            raise HubImportError(_explain(error, repo_id, token, action="importing")) from None
        shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
        problem = folder_problem(tmp)
        if problem is not None:
            raise HubImportError(
                f"{repo_id!r} is not a complete sentence-transformers model with safetensors weights "
                f"({problem}); nothing was imported."
            )
        info = _import_record(tmp, name, repo_id, revision)
        (tmp / registry.RUN_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        registry.place_run(tmp, final, overwrite)
    except OSError as error:
        raise HubImportError(f"Could not write the imported run to {final.parent}: {error}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return registry.get_run(name)
