"""The Hugging Face Hub access every upload and download shares: tokens, repo ids, typed errors, limits.

Used by :mod:`medqa.training.hub` (trained runs) and :mod:`medqa.retrieval.hub_index` (published search
indexes). The token comes from the ``token`` argument, else (when ``server_token`` allows it, as on the
command line) from :func:`huggingface_hub.get_token`: ``HF_TOKEN``, or the token saved by ``hf auth
login``. The app passes ``server_token=False`` unless the deployer unlocked admin actions
(:mod:`medqa.access`), so a visitor can only act with a token they typed. It is passed to
``huggingface_hub`` and nowhere else: never logged, never written to disk, and every error message is
scrubbed of it. Every failure becomes a typed :class:`~medqa.errors.HubError` a user can act on, chosen by
``huggingface_hub``'s typed errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from medqa.errors import HubError, HubImportError, PublishError
from medqa.models import _hub_offline as hub_offline  # the one HF_HUB_OFFLINE reading (models.py)

__all__ = [
    "TOKEN_VARIABLES",
    "PublishResult",
    "check_import_sizes",
    "check_online",
    "check_repo_id",
    "explain",
    "hub_offline",
    "resolve_token",
    "scrub",
]

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


@dataclass(frozen=True)
class PublishResult:
    """Where a run was published."""

    repo_id: str
    url: str
    private: bool


def resolve_token(token: str | None = None, *, server_token: bool = True) -> str | None:
    """The token to use: the argument, else (with ``server_token``) this machine's, else ``None``.

    This machine's token is :func:`huggingface_hub.get_token`'s: ``HF_TOKEN`` (read at call time), else
    the one ``hf auth login`` saved. ``server_token=False`` is the app's visitor: only a typed token.
    """
    if token and token.strip():
        return token.strip()
    if not server_token:
        return None
    for variable in TOKEN_VARIABLES:  # huggingface_hub reads the environment once, at import
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    from huggingface_hub import get_token

    return get_token()


def check_repo_id(repo_id: str, error: type[HubError] = PublishError) -> str:
    """A trimmed ``owner/name`` (or ``name``) repo id.

    Raises:
        PublishError: (or ``error``) the id is empty or not a valid Hub repository id.
    """
    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise error("Give the Hub repository id, such as 'your-name/medqa-minilm'.")
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise error(
            f"{repo_id!r} is not a valid Hub repository id: use 'owner/name' with letters, digits, '.', '_' or '-'."
        )
    return repo_id


def scrub(text: str, token: str | None) -> str:
    """``text`` with the token (and anything shaped like a Hub token) replaced by ``***``."""
    if token:
        text = text.replace(token, "***")
    return re.sub(r"hf_[A-Za-z0-9]{8,}", "***", text)


def offline_message(action: str) -> str:
    """What a Hub call says when the app is offline (``action``: "publishing", "importing")."""
    return f"The Hugging Face Hub is offline for this app (HF_HUB_OFFLINE=1); {action} needs network access."


def check_online(action: str, error: type[HubError]) -> None:
    """Raise ``error`` with :func:`offline_message` when ``HF_HUB_OFFLINE`` is set (checked at call time)."""
    if hub_offline():
        raise error(offline_message(action))


def explain(error: BaseException, repo_id: str, token: str | None, action: str = "publishing") -> str:
    """A message for a failed Hub call, chosen by ``huggingface_hub``'s typed errors (never the token)."""
    from httpx2 import TransportError
    from huggingface_hub import errors as hf

    status = getattr(getattr(error, "response", None), "status_code", None)
    detail = scrub(str(error).splitlines()[0] if str(error) else type(error).__name__, token)
    name = type(error).__name__
    importing = action == "importing"
    if isinstance(error, hf.OfflineModeIsEnabled):
        return offline_message(action)
    if isinstance(error, hf.GatedRepoError):  # before RepositoryNotFoundError: it is a subclass
        return (
            f"{repo_id!r} is a gated repository: accept its access conditions on its Hub page with your "
            "account, then give a token of that account with read access."
        )
    if isinstance(error, (hf.RevisionNotFoundError, hf.EntryNotFoundError)) and not isinstance(
        error, hf.LocalEntryNotFoundError
    ):
        return f"{repo_id!r} has no such revision or file on the Hugging Face Hub: {detail}"
    if isinstance(error, hf.RepositoryNotFoundError) or (importing and status in (401, 404)):
        if not importing:
            return f"Repository {repo_id!r} was not found and could not be created ({status or 404})."
        # The Hub answers 401 for a private repository as for a missing one.
        hint = "check the id" + ("" if token else ", and give a token with read access if it is private")
        return f"Repository {repo_id!r} was not found on the Hugging Face Hub or is not accessible: {hint}."
    if status == 401:
        return "The Hugging Face Hub refused the token (401 Unauthorized): check that it is valid and not expired."
    if status == 403:
        if importing:
            return f"The token may not read {repo_id!r} (403 Forbidden): use a token with read access to it."
        return (
            f"The token may not write to {repo_id!r} (403 Forbidden): use a token with write access, "
            "and a repository under your own name or an organisation you belong to."
        )
    if status is not None:
        return f"The Hugging Face Hub answered {status} while {action} {repo_id!r}: {detail}"
    # LocalEntryNotFoundError: huggingface_hub's way of saying it could not reach the Hub.
    if isinstance(
        error, (TransportError, hf.LocalEntryNotFoundError, ConnectionError, TimeoutError, OSError)
    ):
        return f"Cannot reach the Hugging Face Hub ({name}); check the network connection and try again."
    return f"{action.capitalize()} {repo_id!r} failed ({name}): {detail}"


def check_import_sizes(
    repo_id: str, listed: object, max_file_bytes: int, max_total_bytes: int, what: str = "model files"
) -> str | None:
    """The commit a dry run resolved, once its files are within the import limits.

    Raises:
        HubImportError: a file over ``max_file_bytes``, or all over ``max_total_bytes``.
    """
    files = list(listed) if isinstance(listed, list) else []
    sizes = [(str(getattr(item, "filename", "?")), int(getattr(item, "file_size", 0) or 0)) for item in files]
    for filename, size in sizes:
        if size > max_file_bytes:
            raise HubImportError(
                f"{repo_id!r}: {filename} is {size / 1e6:,.0f} MB, more than the "
                f"{max_file_bytes / 1e6:,.0f} MB an import accepts; nothing was downloaded."
            )
    total = sum(size for _, size in sizes)
    if total > max_total_bytes:
        raise HubImportError(
            f"{repo_id!r} holds {total / 1e6:,.0f} MB of {what}, more than the "
            f"{max_total_bytes / 1e6:,.0f} MB an import accepts; nothing was downloaded."
        )
    return next((str(item.commit_hash) for item in files if getattr(item, "commit_hash", None)), None)
