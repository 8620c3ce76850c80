"""The trust boundary of a shared deployment: what a visitor may change, and what needs the deployer.

A Streamlit Community Cloud app is public by default, and every visitor shares one server, one
``data/`` and one ``models/``. The policy (the README's "Security model" section says the same):

* **Anyone** may ask, explore and compare; upload a CSV as a *new* dataset (never replacing one that
  exists, ``full`` and ``curated`` included); train or import a run under a *new* name; publish a run
  with a Hugging Face token they type themselves; load MedQuAD from the configured source while no
  corpus is loaded yet (the first visit of a fresh deployment).
* **Admin actions** need the deployer: replacing the shared MedQuAD corpus (an uploaded archive, or
  loading the configured source again), and anything done with the deployer's Hugging Face token
  (``HF_TOKEN`` in the environment or Streamlit secrets, or a token saved by ``hf auth login``).
  They are unlocked per browser session with ``MEDQA_ADMIN_PASSWORD`` (Streamlit secrets or
  environment), compared in constant time.
* **Single user on one's own computer.** With no admin password configured, admin actions are open
  only when the server listens on a loopback address (``make run`` starts it with
  ``--server.address localhost``) and ``MEDQA_PUBLIC`` is not set; anywhere else (Community Cloud, a
  server bound to all interfaces) they stay locked until a password is configured. ``MEDQA_PUBLIC=1``
  locks them on localhost too (to try the visitor's view); ``MEDQA_PUBLIC=0`` declares the server
  single-user wherever it listens (a private container), so only set it where no one else connects.
  Community Cloud is recognised by where it mounts the app (``/mount/src``), whatever address it binds
  behind its proxy, and is never single-user.

This module holds the rule; ``ui.common`` reads the secrets and session state and asks it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from medqa import settings

#: Secret (or environment variable) holding the password that unlocks admin actions.
ADMIN_PASSWORD_VARIABLE = "MEDQA_ADMIN_PASSWORD"
#: ``1`` locks admin actions even on localhost; ``0`` declares the server single-user.
PUBLIC_VARIABLE = "MEDQA_PUBLIC"
#: Where Streamlit Community Cloud mounts the app's repository.
COMMUNITY_CLOUD_ROOT = Path("/mount/src")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def admin_password(secrets: Mapping[str, object] | None = None) -> str | None:
    """The configured admin password (Streamlit secrets first, then the environment), or ``None``."""
    for source in (secrets, os.environ):
        if source is None:
            continue
        try:
            value = source.get(ADMIN_PASSWORD_VARIABLE)
        except Exception:  # st.secrets raises when no secrets file exists
            value = None
        if isinstance(value, str) and value.strip():
            return value
    return None


def password_matches(given: str | None, expected: str | None) -> bool:
    """Whether ``given`` is the admin password (constant-time comparison; never true without one)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def is_loopback(address: str | None) -> bool:
    """Whether a server bind address reaches this computer only (``localhost``, ``127.x``, ``::1``).

    An empty address means all interfaces (Streamlit's default), which is not loopback.
    """
    if not address:
        return False
    address = address.strip().strip("[]")
    if address.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def public_setting() -> bool | None:
    """``MEDQA_PUBLIC`` as a boolean, or ``None`` when unset (or unreadable)."""
    value = os.environ.get(PUBLIC_VARIABLE, "").strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def on_community_cloud() -> bool:
    """Whether this app runs on Streamlit Community Cloud (its code is mounted under ``/mount/src``)."""
    return settings.PROJECT_ROOT.is_relative_to(COMMUNITY_CLOUD_ROOT)


def open_without_password(server_address: str | None, password: str | None) -> bool:
    """Whether admin actions are open to everyone on this server (the single-user case).

    Never when an admin password is configured (then it must be typed), on Community Cloud or with
    ``MEDQA_PUBLIC=1``; always when ``MEDQA_PUBLIC=0``; otherwise only when the server listens on a
    loopback address.
    """
    if password or on_community_cloud():
        return False
    public = public_setting()
    if public is not None:
        return not public
    return is_loopback(server_address)
