"""User journeys in a real browser: headless Chromium driving ``streamlit run Home.py``.

Each journey waits on what a person would wait for (a chart, an answer card, a table), never on a fixed
sleep, and saves a full-page screenshot to ``artifacts/screenshots/``; the README's screenshots in
``docs/screenshots/`` come from this run.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import DOCS_SCREENSHOTS, FAKE_HF_TOKEN, SCREENSHOTS, AppServer, _stop, start_server

pytestmark = pytest.mark.browser

#: Milliseconds a page may take to settle (the first question loads the model and builds the index; on a
#: busy 2-core machine the curated subset's index took about 5 minutes).
SLOW = 360_000
#: The server holds real MedQuAD answers (the curated subset) rather than the fixture collection.
REAL_DATA = bool(os.environ.get("MEDQA_MEDQUAD_SOURCE"))
MOBILE = {"width": 390, "height": 844}

_SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null
        && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && document.querySelector('[data-testid="stStatusWidget"]') === null
        && document.querySelector('[data-testid="stSkeleton"]') === null;
}"""


def settle(page, timeout: float = SLOW) -> None:
    """Wait until the script run is over and nothing is still loading (status widget and skeletons gone)."""
    page.wait_for_function(_SETTLED, timeout=timeout, polling=100)


def open_page(page, server: AppServer, path: str = "", *, expect: str | None = None) -> None:
    """Go to a page of the app and wait for ``expect`` (a selector), then for the run to finish."""
    page.goto(f"{server.url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    if expect is not None:
        # An exception box ends the wait at once instead of after the full timeout.
        page.wait_for_selector(f'{expect}, [data-testid="stException"]', timeout=SLOW)
    settle(page)
    assert_no_exception(page)


def assert_no_exception(page) -> None:
    """No Streamlit exception box is on the page."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()


#: The element that scrolls the page's main area (``stMain``, or the chat layout's scroll-to-bottom box).
MAIN = "main.stMain"


def screenshot(
    page, name: str, *, docs: bool = False, max_height: int = 8000, anchor: str | None = None
) -> Path:
    """Save a screenshot of the main area from its top, or from ``anchor`` (a selector) when given; the
    viewport is stretched to fit, up to ``max_height`` pixels, because the main area scrolls inside the page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        """selector => {
            const main = document.querySelector(selector);
            return main ? main.scrollHeight : document.documentElement.scrollHeight;
        }""",
        MAIN,
    )
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], min(int(height), max_height))}
    )
    settle(page)
    page.wait_for_timeout(300)  # one re-layout of charts at the new size
    page.evaluate(
        """([selector, anchor]) => {
            const main = document.querySelector(selector);
            const target = anchor ? document.querySelector(anchor) : null;
            if (main) main.scrollTop = target ? target.getBoundingClientRect().top + main.scrollTop - 16 : 0;
        }""",
        [MAIN, anchor],
    )
    page.wait_for_timeout(100)
    page.screenshot(path=str(target))
    page.set_viewport_size(size)
    if docs:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_SCREENSHOTS / f"{name}.png")
    return target


# --- Home and Explore -------------------------------------------------------------------------------


def test_home_shows_purpose_disclaimer_and_state(page, app_server: AppServer) -> None:
    open_page(page, app_server, expect='h1:has-text("medqa")')
    assert_no_exception(page)
    main = page.locator(MAIN)
    text = main.inner_text()
    assert "not medical advice" in text
    assert "Curated (balanced subset)" in text  # the prepared data is listed as loaded
    assert "Alzheimer" in text  # the caregiver scenario as a starting point
    for label in ("Ask a question", "Explore the data", "Fine-tune the model", "Compare models honestly"):
        assert main.get_by_role("link", name=label, exact=True).count() == 1, label
    # With data loaded, the next step sits right under the status.
    assert main.get_by_role("link", name=re.compile(r"^Ask a question (->|→)$")).count() == 1
    assert "No data loaded yet" not in text
    screenshot(page, "home")


def test_explore_shows_category_balance_chart(page, app_server: AppServer) -> None:
    open_page(page, app_server, "Explore", expect='[data-testid="stPlotlyChart"] .main-svg')
    assert_no_exception(page)
    assert page.get_by_role("heading", name="Category balance").count() == 1
    balance = page.locator('[data-testid="stPlotlyChart"]').first
    balance.scroll_into_view_if_needed()
    # The balance chart is a bar chart with one bar per focus area of the dataset (7 in the fixture).
    bars = balance.locator("g.trace.bars path")
    assert bars.count() >= 3
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 4
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2
    # The answer-length histogram's log axis labels powers of ten only (not "5, 2, 1000, 5, 2, 100").
    ticks = page.evaluate(
        """() => {
            const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
            const lengths = plots.find(p => p.layout && p.layout.title && /Answer length/.test(p.layout.title.text));
            return lengths ? [...lengths.querySelectorAll('.ytick text')].map(t => t.textContent) : null;
        }"""
    )
    assert ticks, "no answer-length histogram"
    assert all(re.fullmatch(r"1(0|,000)*|10k|100k", tick) for tick in ticks), ticks
    # "Curated vs full" (shown when both datasets exist) uses a linear axis from zero.
    curated_axis = page.evaluate(
        """() => {
            const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
            const chart = plots.find(p => p.layout && p.layout.title && /Curated subset vs full/.test(p.layout.title.text));
            return chart ? chart._fullLayout.yaxis.type : null;
        }"""
    )
    assert curated_axis in (None, "linear"), curated_axis
    # Metric labels are not cut ("Pairs per area (min / m…").
    for label in page.locator('[data-testid="stMetricLabel"] p, [data-testid="stMetricValue"] > div').all():
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), label.inner_text()
    screenshot(page, "explore")


# --- Ask -----------------------------------------------------------------------------------------------

DISCLAIMER_START = "This is general educational information from NIH sources, not medical advice"


def open_ask(page, server: AppServer) -> None:
    """The Ask page with its engine loaded (the chat box is shown once the index is ready)."""
    open_page(page, server, "Ask", expect='[data-testid="stChatInputTextArea"]')


def ask(page, question: str, timeout: float = SLOW):
    """Type a question in the chat box, send it and return the assistant's reply once it is complete."""
    messages = page.locator('[data-testid="stChatMessage"]')
    before = messages.count()
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= n",
        arg=before + 2,
        timeout=timeout,
    )
    settle(page, timeout)
    assert_no_exception(page)
    return messages.nth(before + 1)


def highlighted(reply):
    """The highlighted (question-matching) sentences of a reply."""
    return reply.locator(".stMarkdownColoredBackground")


def card_titles(reply):
    """The answer cards' titles ("1. Gout · treatment") in a reply."""
    return reply.locator("strong").filter(has_text=re.compile(r"^\d+\. "))


def first_card(reply):
    """The first answer card (a bordered container holding a numbered title) of a reply."""
    return (
        reply.locator('[data-testid="stLayoutWrapper"]')
        .filter(has=reply.page.locator("strong", has_text=re.compile(r"^\d+\. ")))
        .first
    )


def first_card_title(reply) -> str:
    return card_titles(reply).first.inner_text()


def test_a_fresh_server_answers_at_once_while_its_index_builds(browser, tmp_path_factory) -> None:
    """No index yet: the chat box is there at once, the first answer comes in quick mode (and says so)
    while the sidebar shows the background build; once it ends, answers come from the full index."""
    import time

    server = start_server(tmp_path_factory.mktemp("e2e-fresh"), prebuild=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        started = time.perf_counter()
        open_ask(page, server)
        reply = ask(page, "What are the symptoms of glaucoma?", timeout=60_000)
        first_answer = time.perf_counter() - started
        assert "Quick answer: the search index is still being built" in reply.inner_text()
        assert "glaucoma" in first_card_title(reply).lower()
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "Building the search index of" in sidebar.inner_text()
        screenshot(page, "ask-quick")
        # The status polls itself; the page is redrawn when the build has ended.
        page.wait_for_function(
            """() => !document.querySelector('[data-testid="stSidebar"]').innerText
                .includes('Building the search index of')""",
            timeout=SLOW,
            polling=500,
        )
        settle(page)
        reply = ask(page, "What are the symptoms of glaucoma?")
        assert "Quick answer" not in reply.inner_text()
        assert "glaucoma" in first_card_title(reply).lower()
        (SCREENSHOTS.parent / "first-answer.txt").parent.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS.parent / "first-answer.txt").write_text(
            f"fresh server, no index: first answer {first_answer:.1f} s after opening Ask\n", encoding="utf-8"
        )
    finally:
        context.close()
        _stop(server.process)


def test_ask_answers_with_source_link_and_disclaimer(page, app_server: AppServer) -> None:
    open_ask(page, app_server)
    reply = ask(page, "What are the early warning signs of Alzheimer's?")
    text = reply.inner_text()
    assert "Alzheimer" in first_card_title(reply)
    links = reply.get_by_role("link", name="open the original page")
    assert links.count() >= 1
    assert links.first.get_attribute("href").startswith(("https://", "http://"))
    assert DISCLAIMER_START in text
    assert "I don't have a reliable answer" not in text
    # One confidence per card, from the ranking used; no cosine similarity beside it.
    assert "similarity" not in text
    assert re.search(r"(Strong|Good|Partial) match · Source: ", text)
    assert highlighted(reply).count() >= 1  # the sentences that match the question
    screenshot(page, "ask-alzheimer")


def test_ask_shows_a_formatted_answer_with_its_matched_passage(page, app_server: AppServer) -> None:
    """Lists as bullets, headings as headings, the matching sentences highlighted; "Read the full
    answer" replaces the preview instead of repeating it. The README's screenshot."""
    open_ask(page, app_server)
    reply = ask(page, "What are the symptoms of gout?")
    card = first_card(reply)
    assert "Gout" in first_card_title(reply)
    assert highlighted(card).count() >= 1
    if REAL_DATA:  # NIH answers carry flattened lists: they come back as bullets
        assert card.locator("li").count() >= 2
    screenshot(page, "ask", docs=True, max_height=1400, anchor='[data-testid="stChatMessage"]')
    more = card.get_by_role("button", name="Read the full answer")
    if more.count():
        preview = card.inner_text()
        matched = highlighted(card).first.inner_text()
        more.click()
        card = first_card(page.locator('[data-testid="stChatMessage"]').nth(1))
        card.get_by_role("button", name="Show less").wait_for(timeout=SLOW)  # the rerun has drawn the card
        settle(page)
        assert_no_exception(page)
        full = card.inner_text()
        # The full answer took the preview's place: longer, and the matched sentence is there once.
        assert len(full) > len(preview) and full.count(matched) == 1


def test_ask_on_a_phone(browser, app_server: AppServer) -> None:
    """At 390 x 844 the answer fits the screen width and its preview stays short."""
    context = browser.new_context(viewport=MOBILE, device_scale_factor=1, is_mobile=True, has_touch=True)
    context.set_default_timeout(SLOW)
    try:
        page = context.new_page()
        open_ask(page, app_server)
        reply = ask(page, "What are the symptoms of gout?")
        assert "Gout" in first_card_title(reply)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow} px"
        card = first_card(reply)
        assert card.bounding_box()["height"] < 3 * MOBILE["height"]  # a preview, not a 7,600 px wall
        screenshot(page, "ask-mobile", docs=True, max_height=2600, anchor='[data-testid="stChatMessage"]')
    finally:
        context.close()


def test_emergency_question_shows_the_notice_first(page, app_server: AppServer) -> None:
    open_ask(page, app_server)
    reply = ask(page, "My father has chest pain and cannot breathe right now")
    notice = reply.locator('[data-testid="stAlertContentError"]')
    assert notice.count() == 1
    assert "Call 911" in notice.inner_text()
    # The notice comes before every retrieved passage (and before the abstain message, if any), in
    # document order, which is reading order in the chat column.
    order = reply.evaluate(
        """reply => {
            const all = [...reply.querySelectorAll('*')];
            const notice = all.findIndex(e => e.dataset.testid === 'stAlertContentError');
            const later = all.filter(e => (e.tagName === 'STRONG' && /^\\d+\\. /.test(e.innerText))
                || e.dataset.testid === 'stAlertContentWarning').map(e => all.indexOf(e));
            return {notice, later};
        }"""
    )
    # Cards may follow (the condition's NIH information, when the corpus has it) or nothing at all, but
    # never before the notice, and never "I don't have a reliable answer".
    assert all(order["notice"] < position for position in order["later"]), order
    assert "I don't have a reliable answer" not in reply.inner_text()
    screenshot(page, "ask-emergency")


def test_emergency_notice_is_not_followed_by_ask_a_doctor(page, app_server: AppServer) -> None:
    """A stroke described as happening now: the F.A.S.T. notice, and no "I don't have a reliable answer
    ... ask a doctor" under it (the test corpora hold no stroke answers)."""
    open_ask(page, app_server)
    reply = ask(page, "my mom's face is drooping and her speech is slurred right now")
    notice = reply.locator('[data-testid="stAlertContentError"]')
    assert notice.count() == 1 and "911" in notice.inner_text()
    text = reply.inner_text()
    assert (
        "I don't have a reliable answer" not in text and "ask a doctor" not in text.split(DISCLAIMER_START)[0]
    )
    assert DISCLAIMER_START in text


def test_follow_up_question_uses_the_previous_focus(page, app_server: AppServer) -> None:
    open_ask(page, app_server)
    first = ask(page, "What are the symptoms of gout?")
    assert "Gout" in first_card_title(first)
    follow_up = ask(page, "How is it treated?")
    interpreting = follow_up.locator('[data-testid="stAlertContentInfo"]')
    assert interpreting.count() == 1
    assert "Interpreting as about Gout" in interpreting.inner_text()
    assert "Gout" in first_card_title(follow_up)
    screenshot(page, "ask-follow-up")


def test_markup_in_a_question_is_shown_as_text(page, app_server: AppServer) -> None:
    open_ask(page, app_server)
    ask(page, "What is gout <img src=x onerror=\"document.title='pwned'\"> <b>bold</b>?")
    assert page.title() != "pwned"
    user_message = page.locator('[data-testid="stChatMessage"]').first
    assert "<b>bold</b>" in user_message.inner_text()
    assert user_message.locator("b, img[src='x']").count() == 0


# --- Compare -------------------------------------------------------------------------------------------


def test_compare_shows_the_metrics_table(page, app_server: AppServer) -> None:
    open_page(page, app_server, "Compare", expect='h1:has-text("Compare")')
    page.get_by_text("Held-out questions", exact=False).first.click()
    settle(page)
    evaluate = page.get_by_role("button", name="Evaluate")
    if evaluate.count():
        evaluate.click()
    page.wait_for_selector('h2:has-text("Metrics"), [data-testid="stException"]', timeout=SLOW)
    settle(page)
    assert_no_exception(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    table.scroll_into_view_if_needed()
    assert table.is_visible()
    # The metrics table fits the page: its right edge is inside the main area.
    main_box, table_box = page.locator(MAIN).bounding_box(), table.bounding_box()
    assert table_box["x"] + table_box["width"] <= main_box["x"] + main_box["width"] + 1
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    main_text = page.locator(MAIN).inner_text()
    assert "Verdicts" in main_text
    assert re.search(r"comes first for \d+% of the questions with .+, against \d+% with ", main_text)
    assert "does better than" in main_text and "are at the top" in main_text  # the per-topic caption
    # With the run trained above, the default choice is base vs that run; without it, BM25 vs base.
    assert "e2e-tiny" in main_text if (app_server.models_dir / "e2e-tiny").is_dir() else "BM25" in main_text
    screenshot(page, "compare")


# --- Train ---------------------------------------------------------------------------------------------

_LOSS_POINTS = """() => {
    const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    const loss = plot && plot.data ? plot.data.find(trace => trace.name === 'loss') : null;
    return loss ? loss.x.length : 0;
}"""


def set_field(page, label: str, value: object) -> None:
    """Type into a text or number field found by its label, and let the app take it in.

    Typed while the rerun of the previous field is still being drawn, a value can be drawn over by the
    server's old one (CI once saved "e2e-tiny" under the suggested run name): type again until the field
    shows it after the app has settled. While a rerun redraws a form, the old field and the new one can
    both be on the page for a moment (Streamlit removes the stale one when the run ends;
    ``bench/bench_memory.py`` met it after switching recipes on a busy server): try again then."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(5):
        field = page.get_by_label(label, exact=True)
        try:
            field.fill(str(value))
            field.press("Enter")
            settle(page)
            if page.get_by_label(label, exact=True).input_value() == str(value):
                return
        except PlaywrightError as error:
            if "strict mode violation" not in str(error):
                raise
            settle(page)
            page.wait_for_timeout(500)
    raise AssertionError(f"the field {label!r} did not keep {value!r}")


def test_train_run_name_follows_the_recipe_until_edited(page, app_server: AppServer) -> None:
    open_page(page, app_server, "Train", expect='h1:has-text("Fine-tune the model")')
    name = page.get_by_label("Run name", exact=True)
    assert name.input_value().startswith("original-")
    page.get_by_text("Recommended", exact=True).click()
    wait_until(lambda: name.input_value().startswith("recommended-"))  # the rerun has redrawn the form
    settle(page)
    assert "batch_sampler" not in page.locator(MAIN).inner_text()
    set_field(page, "Run name", "my-choice")
    page.get_by_text("Original", exact=True).click()
    epochs = page.get_by_label("Epochs", exact=True)  # during the rerun the old field may still be shown

    def only_original_epochs() -> bool:
        # one snapshot of every such field (a separate count and read could straddle the redraw)
        values = epochs.evaluate_all("fields => fields.map(field => field.value)")
        return [value[:1] for value in values] == ["3"]  # Original's 3 epochs, in one field

    wait_until(only_original_epochs)
    settle(page)
    assert page.get_by_label("Run name", exact=True).input_value() == "my-choice"


def wait_until(condition, timeout: float = 60.0) -> None:
    """Poll ``condition()`` until it is true (a widget redrawn by a rerun), failing after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not change in time"
        time.sleep(0.2)


def start_training(page, server: AppServer, name: str, max_steps: int) -> None:
    """Start a deliberately tiny training (short texts, small batches) so it takes seconds, not minutes."""
    open_page(page, server, "Train", expect='h1:has-text("Fine-tune the model")')
    set_field(page, "Batch size", 4)
    set_field(page, "Max sequence length", 32)
    set_field(page, "Max steps (-1: all epochs)", max_steps)
    set_field(page, "Run name", name)
    page.locator("button", has_text="Start training").click()
    page.wait_for_selector(
        '[data-testid="stPlotlyChart"] .js-plotly-plot, [data-testid="stException"]', timeout=SLOW
    )
    assert_no_exception(page)


def test_train_shows_a_growing_loss_chart_and_saves_the_run(page, app_server: AppServer) -> None:
    steps = 12
    start_training(page, app_server, "e2e-tiny", max_steps=steps)
    page.wait_for_function(f"() => ({_LOSS_POINTS})() >= 1", timeout=SLOW, polling=200)
    first = page.evaluate(_LOSS_POINTS)
    # The live panel refreshes itself: more loss points appear without any click.
    page.wait_for_function(f"n => ({_LOSS_POINTS})() > n", arg=first, timeout=SLOW, polling=200)
    assert page.evaluate(_LOSS_POINTS) > first
    # The outcome, whatever it is (an error names its cause in the failure message).
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        outcome = page.wait_for_selector(
            '[data-testid="stAlertContentSuccess"]:has-text("Saved e2e-tiny"), '
            '[data-testid="stAlertContentError"], [data-testid="stException"]',
            timeout=SLOW * 2,
        )
    except PlaywrightTimeoutError:
        pytest.fail(f"no outcome shown; the page says: {page.locator(MAIN).inner_text()[:2000]}")
    assert "Saved e2e-tiny" in outcome.inner_text(), outcome.inner_text()
    settle(page)
    assert_no_exception(page)
    assert page.evaluate(_LOSS_POINTS) >= steps - 1  # the finished run's chart has (nearly) every step
    right_ticks = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .y2tick text')]
            .map(t => t.textContent)"""
    )
    assert right_ticks and set(right_ticks) <= {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}, right_ticks
    assert (app_server.models_dir / "e2e-tiny" / "run.json").is_file()
    screenshot(page, "train")


def test_concurrent_sessions_ask_while_a_training_runs_then_it_is_cancelled(
    browser, page, app_server: AppServer
) -> None:
    """Four browser sessions ask follow-up conversations at the same time while a training runs: no
    errors, each keeps its own topic, and the answer latency is measured (p95 written to artifacts/).
    Then the training is cancelled from its page, and nothing of it is saved."""
    import time

    import numpy as np

    start_training(page, app_server, "e2e-under-load", max_steps=5000)
    scripts = {
        "Gout": ["What causes gout?", "How is it treated?", "Who is at risk?"],
        "Glaucoma": ["How to diagnose glaucoma?", "How is it treated?", "Who is at risk?"],
        "Shingles": ["What is shingles?", "How is it treated?", "Who is at risk?"],
        "Psoriasis": ["What are the symptoms of psoriasis?", "How is it treated?", "Who is at risk?"],
    }
    contexts, tabs = [], {}
    try:
        for topic in scripts:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(SLOW)
            contexts.append(context)
            tabs[topic] = context.new_page()
            open_ask(tabs[topic], app_server)
        # The sessions opened while the training set up; the questions go out once it is in its steps.
        page.wait_for_function(f"() => ({_LOSS_POINTS})() >= 1", timeout=SLOW, polling=200)
        latencies: list[float] = []
        for turn in range(3):
            sent = {}
            for topic, tab in tabs.items():  # all four questions go out together
                box = tab.locator('[data-testid="stChatInputTextArea"]')
                box.fill(scripts[topic][turn])
                box.press("Enter")
                sent[topic] = time.perf_counter()
            waiting = set(tabs)
            deadline = time.perf_counter() + SLOW / 1000
            while waiting and time.perf_counter() < deadline:
                for topic in list(waiting):
                    tab = tabs[topic]
                    done = tab.evaluate(
                        f"""() => document.querySelectorAll('[data-testid="stChatMessage"]').length >= {2 * turn + 2}
                            && ({_SETTLED})()"""
                    )
                    if done:
                        latencies.append(time.perf_counter() - sent[topic])
                        waiting.discard(topic)
                page.wait_for_timeout(50)
            assert not waiting, f"no answer within {SLOW / 1000:.0f} s for {sorted(waiting)}"
            for topic, tab in tabs.items():
                assert_no_exception(tab)
                reply = tab.locator('[data-testid="stChatMessage"]').nth(2 * turn + 1)
                assert topic in first_card_title(reply), (topic, turn, first_card_title(reply))
                if turn:
                    assert f"Interpreting as about {topic}" in reply.inner_text()
        for topic, tab in tabs.items():  # each session shows only its own questions
            asked = tab.locator('[data-testid="stChatMessageAvatarUser"]').count()
            assert asked == 3, (topic, asked)
        page.reload()
        page.wait_for_selector('[data-testid="stApp"]')
        settle(page)
        still_training = page.locator("button", has_text="Cancel").count() == 1
    finally:
        for context in contexts:
            context.close()
    assert still_training, "the training ended before the questions did: the test did not overlap it"
    page.locator("button", has_text="Cancel").click()
    page.wait_for_selector(
        '[data-testid="stAlertContentWarning"]:has-text("cancelled; nothing was saved")', timeout=SLOW
    )
    settle(page)
    assert_no_exception(page)
    leftovers = sorted(path.name for path in app_server.models_dir.iterdir())
    assert "e2e-under-load" not in leftovers
    assert not [name for name in leftovers if name.startswith(".tmp-")], leftovers
    screenshot(page, "train-cancelled")
    values = np.asarray(latencies)
    figures = [
        f"{len(scripts)} browser sessions x 3 questions sent at once, while a training ran on the same server",
        f"answer latency p50 {np.percentile(values, 50):.2f} s, p95 {np.percentile(values, 95):.2f} s, "
        f"max {values.max():.2f} s over {len(values)} questions (submit to rendered reply)",
    ]
    (SCREENSHOTS.parent / "load.txt").write_text("\n".join(figures) + "\n", encoding="utf-8")
    print("\n".join(figures))


def test_token_never_reaches_the_browser_or_logs(page, app_server: AppServer) -> None:
    """Runs last: the fake HF token given to the server is in no page, log, run.json or cache file."""
    open_page(page, app_server, expect='h1:has-text("medqa")')
    app_server.page_sources.append(page.content())
    leaks = [index for index, source in enumerate(app_server.page_sources) if FAKE_HF_TOKEN in source]
    assert not leaks, f"the token is in the HTML of {len(leaks)} page(s)"
    assert FAKE_HF_TOKEN not in app_server.log()
    for folder in (app_server.data_dir, app_server.models_dir):
        for path in folder.rglob("*") if folder.exists() else []:
            if path.is_file() and path.stat().st_size < 50_000_000:
                assert FAKE_HF_TOKEN.encode() not in path.read_bytes(), f"token written to {path}"
    assert re.search(r"Traceback \(most recent call last\)", app_server.log()) is None, app_server.log()[
        -3000:
    ]
