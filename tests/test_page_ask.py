"""The Ask page: answer cards, disclaimer, emergency notice, follow-ups, bad input, model comparison."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from medqa import models
from medqa.safety import DISCLAIMER
from tests.conftest import open_page

pytestmark = pytest.mark.model

PAGE = "pages/2_Ask.py"


def _plain(text: object) -> str:
    """Markdown as read: the page escapes punctuation so that data shows literally."""
    return re.sub(r"\\(.)", r"\1", str(text))


def _texts(app) -> str:
    parts = [*app.markdown, *app.caption, *app.info, *app.warning, *app.error]
    return "\n".join(_plain(element.value) for element in parts)


def _markdown(block) -> list[str]:
    return [_plain(element.value) for element in block.markdown]


def _ask(app, question: str):
    app.chat_input(key="ask_input").set_value(question).run()
    assert not app.exception
    return app


def test_question_gets_answer_cards_with_source_and_disclaimer(fixture_data: Path) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert DISCLAIMER in _texts(app)
    _ask(app, "What are the symptoms of glaucoma?")
    assert "**1. Glaucoma · symptoms**" in _markdown(app)
    captions = "\n".join(str(element.value) for element in app.caption)
    assert "similarity" in captions and "[NIH page](https://example.org/" in captions
    assert len(app.chat_message) == 2  # the question and the answer
    assert app.chat_message[1].caption[-1].value == DISCLAIMER
    assert not app.error


def test_emergency_notice_comes_before_the_answers(fixture_data: Path) -> None:
    app = _ask(open_page(PAGE), "my dad has chest pain and is sweating and cant breathe")
    assert app.error and "911" in app.error[0].value
    answer = app.chat_message[1]
    assert answer.error[0].value.startswith("**Emergency.**")


def test_caregiver_follow_up_is_interpreted_and_can_be_reset(fixture_data: Path) -> None:
    app = open_page(PAGE)
    app.button(key="ask_example_0").click().run()  # "What are the early warning signs of Alzheimer's?"
    assert not app.exception
    app.button(key="ask_example_1").click().run()  # "Is there treatment to slow progression?"
    assert not app.exception
    assert app.info[-1].value == "Interpreting as about Alzheimer's Disease."
    assert "**1. Alzheimer's Disease · treatment**" in _markdown(app)
    app.button(key="ask_forget_1").click().run()
    assert "Current topic" not in _texts(app)
    _ask(app, "Is there treatment to slow progression?")
    assert "Interpreting as about" not in "\n".join(str(info.value) for info in app.chat_message[-1].info)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("?!", "could not find any words"),
        ("how do I make a sourdough starter from scratch", "I don't have a reliable answer"),
        ("what causes gout " * 700, "longer than 1,000 characters"),
    ],
)
def test_bad_and_off_topic_questions_get_a_sensible_reply(
    fixture_data: Path, question: str, expected: str
) -> None:
    app = _ask(open_page(PAGE), question)
    assert expected in _texts(app)


def test_compare_models_shows_base_and_a_fine_tuned_run_side_by_side(fixture_data: Path) -> None:
    run = models.resolve_model_source("base")
    target = Path(shutil.copytree(run, models.settings.models_dir() / "my-run"))
    (target / "run.json").write_text(json.dumps({"created": "2026-01-01T00:00:00+00:00"}), encoding="utf-8")
    app = open_page(PAGE)
    app.toggle(key="ask_compare").set_value(True).run()
    assert not app.exception
    assert app.selectbox(key="ask_compare_run").value == "my-run"
    _ask(app, "What causes gout?")
    labels = [text for text in _markdown(app.chat_message[1]) if text.startswith("**")]
    assert labels[0].startswith("**Base model") and "**my-run**" in labels
    # The run is a copy of the base model, so both columns rank the same answer first.
    tops = [text for text in labels if text.startswith("**1. ")]
    assert len(tops) == 2 and tops[0] == tops[1]


def test_page_without_data_points_to_home(workdirs: Path) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert "No data yet" in _texts(app)


def test_markup_in_answers_is_shown_as_text(workdirs: Path) -> None:
    from medqa.data import store
    from medqa.data.upload import import_csv

    data = (
        b"Question,Answer,Focus\n"
        b'"What is gout <script>alert(1)</script>?","Gout hurts. <b>bold</b> :red[alarm] [x](javascript:alert(1))",Gout\n'
        b'"What causes gout?","Uric acid crystals collect in a joint.",Gout\n'
    )
    store.save_dataset(import_csv(data).pairs, "markup", kind="upload", origin="test")
    app = _ask(open_page(PAGE), "what is gout")
    sources = "\n".join(str(element.value) for element in app.chat_message[1].markdown)
    assert "Gout hurts" in sources
    for raw in ("<b>", "<script>", ":red[", "](javascript"):
        assert raw not in sources
