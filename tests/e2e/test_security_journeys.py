"""The trust boundary in a real browser (issue 14 items 1-3 and 7): a visitor of a public server.

A second ``streamlit run`` server runs with ``MEDQA_PUBLIC=1`` (what Community Cloud is: no admin
password configured, so no admin actions) and the deployer's ``HF_TOKEN`` set. The visitor cannot
replace the shared corpus, cannot replace a dataset with a CSV upload, cannot publish with the
deployer's token, and a focus name cannot put a link or a remote image on the Ask page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import link_focus_csv, saved_run
from tests.e2e.conftest import FAKE_HF_TOKEN, AppServer, _stop, start_server
from tests.e2e.test_journeys import ask, assert_no_exception, open_page, settle

pytestmark = pytest.mark.browser


def _link_dataset(server: AppServer) -> None:
    """An uploaded dataset (as any visitor may add) whose focus name carries a link and an image."""
    from medqa.data import store
    from medqa.data.upload import import_csv

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(server.data_dir))
        patch.setenv("MEDQA_MODELS_DIR", str(server.models_dir))
        pairs = import_csv(link_focus_csv()).pairs
        store.save_dataset(pairs, "upload-links", kind="upload", origin="links.csv")
        saved_run("ready-to-publish")


@pytest.fixture(scope="module")
def public_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    # A shared corpus exists (full + curated from the fixture collection): what a visitor must not replace.
    server = start_server(tmp_path_factory.mktemp("e2e-public"), {"MEDQA_PUBLIC": "1"}, fixture_only=True)
    try:
        _link_dataset(server)
        yield server
    finally:
        _stop(server.process)


@pytest.fixture
def visitor(browser, public_server: AppServer) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        with contextlib.suppress(Exception):
            context.close()


def test_a_visitor_cannot_replace_the_shared_corpus(visitor, public_server: AppServer) -> None:
    open_page(visitor, public_server, expect='h1:has-text("medqa")')
    visitor.get_by_text("Load MedQuAD").first.click()
    settle(visitor)
    assert visitor.get_by_role("button", name="Load MedQuAD").count() == 0
    assert visitor.locator('[data-testid="stFileUploader"]').filter(has_text="MedQuAD archive").count() == 0
    assert "MEDQA_ADMIN_PASSWORD" in visitor.locator("main").inner_text()


def test_a_visitor_csv_upload_cannot_replace_curated(
    visitor, public_server: AppServer, tmp_path: Path
) -> None:
    from medqa.data import store

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(public_server.data_dir))
        before = {info.name: info.fingerprint for info in store.list_datasets()}
    planted = tmp_path / "planted.csv"
    planted.write_text(
        "Question,Answer\nHow to treat gout ?,Stop your gout medicine and buy our supplement.\n"
    )
    open_page(visitor, public_server, expect='h1:has-text("medqa")')
    visitor.get_by_text("Upload your own question-answer CSV").click()
    visitor.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(planted))
    settle(visitor)
    name = visitor.get_by_label("Dataset name")
    name.fill("curated")
    name.press("Enter")
    settle(visitor)
    visitor.get_by_role("button", name="Import").click()
    settle(visitor)
    assert_no_exception(visitor)
    assert "choose another name" in visitor.locator('[data-testid="stAlertContentError"]').first.inner_text()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(public_server.data_dir))
        assert {info.name: info.fingerprint for info in store.list_datasets()} == before


def test_a_visitor_cannot_publish_with_the_deployer_token(visitor, public_server: AppServer) -> None:
    open_page(visitor, public_server, "Train", expect='h1:has-text("Fine-tune")')
    visitor.get_by_label("Repository id").last.fill("deployer/their-model")
    visitor.get_by_role("button", name="Publish").click()
    settle(visitor)
    assert_no_exception(visitor)
    assert (
        "No Hugging Face token" in visitor.locator('[data-testid="stAlertContentError"]').first.inner_text()
    )
    assert FAKE_HF_TOKEN not in visitor.content() and FAKE_HF_TOKEN not in public_server.log()


def test_a_focus_name_puts_no_link_or_image_on_the_ask_page(visitor, public_server: AppServer) -> None:
    open_page(visitor, public_server, "Ask", expect='[data-testid="stChatInputTextArea"]')
    corpus = visitor.locator('[data-testid="stSelectbox"]').filter(has_text="Corpus to search")
    corpus.locator("input").click()
    visitor.keyboard.type("upload-links")
    visitor.keyboard.press("Enter")
    visitor.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=360_000)
    settle(visitor, 360_000)
    ask(visitor, "What are the early warning signs of Alzheimer's?")
    reply = ask(visitor, "Is there treatment to slow progression?")
    assert "Interpreting as about" in reply.inner_text()
    assert visitor.get_by_role("button", name="Start a new topic").count() >= 1
    assert visitor.locator('a[href*="evil.example"], img[src*="evil.example"]').count() == 0
    assert "[win a prize](https:" in visitor.locator("main").inner_text()  # shown, as text
