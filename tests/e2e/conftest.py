"""Real-browser fixtures: one ``streamlit run Home.py`` server per session, driven by headless Chromium.

The server runs in a subprocess on a free localhost port with its own data and models folders: the
curated subset of the real archive when ``MEDQA_MEDQUAD_SOURCE`` is set, else the fixture collection of
``tests/conftest.py`` (our own words, no MedQuAD text). The browser is
Debian's ``chromium`` launched by Playwright through ``executable_path`` (Playwright never downloads a
browser here). Without chromium the browser tests skip, unless ``MEDQA_REQUIRE_BROWSER=1`` (CI), where
they fail with a message saying what to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import APP_ROOT, write_collection, zip_collection

CHROMIUM = os.environ.get("MEDQA_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("MEDQA_REQUIRE_BROWSER") == "1"
#: Flags that keep Chromium quiet on a machine whose only network is loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: A fake Hugging Face token given to the server: the security journey checks it never shows up.
FAKE_HF_TOKEN = "hf_FAKEe2eTokenNeverShown0123456789abcd"

SCREENSHOTS = APP_ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = APP_ROOT / "docs" / "screenshots"
SERVER_START_TIMEOUT = 90.0


def _missing_browser(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(
            f"{reason}. MEDQA_REQUIRE_BROWSER=1 is set, so the browser tests must run: install Debian's "
            "chromium (`apt-get update && apt-get install -y chromium`) and the dev requirements "
            "(playwright), or point MEDQA_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    pytest.skip(f"{reason} (set MEDQA_REQUIRE_BROWSER=1 to make this an error)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class AppServer:
    """A running ``streamlit run Home.py`` and the folders it works in."""

    url: str
    process: subprocess.Popen[bytes]
    root: Path
    log_path: Path
    env: dict[str, str]
    page_sources: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["MEDQA_DATA_DIR"])

    @property
    def models_dir(self) -> Path:
        return Path(self.env["MEDQA_MODELS_DIR"])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _build_data(
    root: Path, env: dict[str, str], *, fixture_only: bool = False, prebuild: bool = True
) -> None:
    """Prepare the server's data folder.

    With ``MEDQA_MEDQUAD_SOURCE`` set (CI), the curated subset of the real archive (40 focus areas x 13
    real NIH answers) is the only dataset, so the screenshots show real answers while every index stays
    small; without it (or with ``fixture_only``: a server whose tests need a shared ``full`` corpus), the
    fixture collection of ``tests/conftest.py`` is built (full + curated 3 x 5).
    """
    from medqa.data import store

    real_source = None if fixture_only else os.environ.get("MEDQA_MEDQUAD_SOURCE")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_MODELS_DIR", env["MEDQA_MODELS_DIR"])
        if real_source:
            patch.setenv("MEDQA_DATA_DIR", str(root / "scratch-data"))
            store.build_datasets(real_source)
            curated = store.load_pairs(store.CURATED)
            patch.setenv("MEDQA_DATA_DIR", env["MEDQA_DATA_DIR"])
            store.save_dataset(curated, store.CURATED, kind=store.CURATED, origin=Path(real_source).name)
            shutil.rmtree(root / "scratch-data", ignore_errors=True)
            env["MEDQA_MEDQUAD_SOURCE"] = str(Path(real_source).resolve())
        else:
            collection = write_collection(root / "collection")
            archive = zip_collection(collection, root / "MedQuAD-master.zip")
            patch.setenv("MEDQA_DATA_DIR", env["MEDQA_DATA_DIR"])
            store.build_datasets(str(archive), categories=3, per_category=5, test_per_category=1)
            env["MEDQA_MEDQUAD_SOURCE"] = str(archive)
        if prebuild:  # the journeys answer from the real index (quick mode has a journey of its own)
            from medqa.retrieval.dense import DenseIndex

            for info in store.list_datasets():
                DenseIndex.build_or_load(store.load_corpus(info.name), "base")


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Poll ``/_stcore/health`` as Streamlit's own e2e harness does, failing fast if the server dies."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {process.returncode} before it was healthy:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.25)
    raise RuntimeError(f"streamlit was not healthy after {SERVER_START_TIMEOUT:.0f} s ({last_error})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (it may have started workers), then kill what remains."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start_server(
    root: Path,
    env_overrides: dict[str, str] | None = None,
    *,
    fixture_only: bool = False,
    prebuild: bool = True,
) -> AppServer:
    """Start ``streamlit run Home.py`` with data under ``root`` and wait until it is healthy; with
    ``prebuild``, the base model's indexes are built first (else the server builds them itself)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MEDQA_", "STREAMLIT_"))}
    env.update(
        MEDQA_DATA_DIR=str(root / "data"),
        MEDQA_MODELS_DIR=str(root / "models"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_TOKEN=FAKE_HF_TOKEN,
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(env_overrides or {})
    if not (root / "data" / "datasets").exists():
        _build_data(root, env, fixture_only=fixture_only, prebuild=prebuild)
    log_path = root / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", "Home.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=APP_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_healthy(process, url, log_path)
    except BaseException:
        _stop(process)
        raise
    return AppServer(url=url, process=process, root=root, log_path=log_path, env=env)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, or a skip (a failure under MEDQA_REQUIRE_BROWSER=1)."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing_browser(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing_browser("the playwright package is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def app_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app served by ``streamlit run`` on a free port, with the fixture data loaded."""
    server = start_server(tmp_path_factory.mktemp("e2e-app"))
    try:
        yield server
    finally:
        _stop(server.process)
        # Keep the server's log with the screenshots: it is what CI shows when a journey fails.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log_path, SCREENSHOTS.parent / "e2e-streamlit.log")


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    """One headless Chromium for the session; each test opens its own context (a fresh profile)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives every run a new temporary user-data-dir of its own.
        instance = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser, app_server: AppServer) -> Iterator[object]:
    """A fresh browser context and page (its own session) on the app; its HTML is kept for checks."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(60_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
        assert not errors, f"JavaScript errors in the page: {errors}"
    finally:
        with contextlib.suppress(Exception):  # the page may already be gone; the check is best effort
            app_server.page_sources.append(tab.content())
        context.close()
