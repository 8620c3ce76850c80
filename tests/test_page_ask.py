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
    captions = "\n".join(_plain(element.value) for element in app.caption)
    assert (
        "Source: MedlinePlus Health Topics (NLM) · [open the original page](https://example.org/" in captions
    )
    assert "similarity" not in captions  # one confidence, from the ranking used (no cosine beside it)
    assert re.search(r"(Strong|Good|Partial) match · Source", captions)
    assert len(app.chat_message) == 2  # the question and the answer
    assert app.chat_message[1].caption[-1].value == DISCLAIMER
    assert app.chat_message[1].caption[-2].value == "Ranked by meaning and keywords together (hybrid)."
    assert not app.error


def test_a_misspelt_question_is_answered_and_says_what_was_searched(fixture_data: Path) -> None:
    app = _ask(open_page(PAGE), "what are the symptoms of glocoma")
    assert "**1. Glaucoma · symptoms**" in _markdown(app)
    captions = [_plain(element.value) for element in app.chat_message[1].caption]
    assert "Searched “glocoma” as “glaucoma” (the spelling of the collection)." in captions


def test_emergency_notice_comes_before_the_answers(fixture_data: Path) -> None:
    app = _ask(open_page(PAGE), "my dad has chest pain and is sweating and cant breathe")
    assert app.error and "911" in app.error[0].value
    answer = app.chat_message[1]
    assert answer.error[0].value.startswith("**Emergency (Heart attack).**")


def test_emergency_notice_is_never_followed_by_the_abstain_reply(fixture_data: Path) -> None:
    # Nothing in the fixture corpus is about strokes: the reply is the notice alone, not "ask a doctor".
    app = _ask(open_page(PAGE), "my mom's face is drooping and her speech is slurred right now")
    answer = app.chat_message[1]
    assert answer.error and answer.error[0].value.startswith("**Emergency (Stroke).**")
    assert "I don't have a reliable answer" not in _texts(answer)
    assert not answer.expander  # no "closest passages" either
    assert answer.caption[-1].value == DISCLAIMER


def test_caregiver_follow_up_is_interpreted_and_can_be_reset(fixture_data: Path) -> None:
    app = open_page(PAGE)
    app.button(key="ask_example_0").click().run()  # "What are the early warning signs of Alzheimer's?"
    assert not app.exception
    app.button(key="ask_example_1").click().run()  # "Is there treatment to slow progression?"
    assert not app.exception
    assert _plain(app.info[-1].value) == "Interpreting as about Alzheimer's Disease."
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


def _upload(name: str, rows: bytes) -> None:
    from medqa.data import store
    from medqa.data.upload import import_csv

    store.save_dataset(
        import_csv(b"Question,Answer,Focus\n" + rows).pairs, name, kind="upload", origin="test"
    )


#: Our own words, shaped like MedQuAD's flattened pages: a heading running into its sentence, a list
#: written " - a - b" and then repeated without dashes.
_FLATTENED = (
    b'"What helps with gout?","Living With Gout There are steps that help. Helpful steps include - '
    b"drinking water - resting the joint - eating less red meat drinking water resting the joint eating "
    b'less red meat Ice can ease a swollen joint. Talk to a doctor about medicines.",Gout\n'
    b'"What causes gout?","Uric acid crystals collect in a joint.",Gout\n'
)


def test_answers_are_formatted_highlighted_and_described_as_uploads(workdirs: Path) -> None:
    _upload("flat", _FLATTENED)
    app = open_page(PAGE)
    assert "uploaded dataset" in _texts(app) and "NIH institutes" not in _texts(app)
    _ask(app, "does ice help a swollen joint")
    card = _markdown(app.chat_message[1])
    body = next(text for text in card if "drinking water" in text)
    assert "##### Living With Gout" in body
    assert "\n- drinking water\n- resting the joint\n- eating less red meat" in body
    assert body.count("drinking water") == 1  # the repeated copy is gone
    assert ":yellow-background[**Ice can ease a swollen joint.**]" in body  # the matching sentence
    captions = "\n".join(_plain(element.value) for element in app.chat_message[1].caption)
    assert "Source: an uploaded dataset" in captions and "open the original page" not in captions
    assert "NIH sources" not in captions and "not medical advice" in captions  # the answer's disclaimer


def test_read_the_full_answer_replaces_the_preview(workdirs: Path) -> None:
    long_answer = " ".join(f"Sentence number {n} is about gout and joints." for n in range(80))
    _upload("long", f'"What is gout?","{long_answer}",Gout\n"What causes gout?","Uric acid.",Gout\n'.encode())
    app = _ask(open_page(PAGE), "what is gout")
    card = next(text for text in _markdown(app.chat_message[1]) if "Sentence number 0 " in text)
    assert "Sentence number 79 " not in card
    more = next(button for button in app.chat_message[1].button if button.label == "Read the full answer")
    more.click().run()
    cards = [text for text in _markdown(app.chat_message[1]) if "Sentence number 0 " in text]
    assert len(cards) == 1 and "Sentence number 79 " in cards[0]  # in place of the preview, not below it
    assert any(button.label == "Show less" for button in app.chat_message[1].button)


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
    for raw in ("<b>", "<script>", ":red[", "](javascript", "[x]("):
        assert raw not in sources


def test_a_question_is_answered_at_once_while_the_index_builds(
    fixture_data_dir: Path, workdirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh server: no index yet. The page does not wait for it: a background build (stood in for
    here, so it stays "running") is started, and a quick engine answers, saying so."""
    from medqa.retrieval import builds
    from medqa.retrieval.engine import QUICK_NOTE

    for folder in ("datasets", "cache"):
        shutil.copytree(fixture_data_dir / folder, workdirs / "data" / folder)
    started: list[str] = []
    monkeypatch.setattr(builds, "_builds", {})

    def running_build(corpus, model, *, label, **kwargs):
        started.append(label)
        build = builds._builds["fake"] = builds.IndexBuild(key="fake", label=label, done=10, total=40)
        return build

    monkeypatch.setattr(builds, "start", running_build)
    app = open_page(PAGE)
    assert not app.exception and started == ["Full MedQuAD · Base model (all-MiniLM-L6-v2)"]
    _ask(app, "What are the symptoms of glaucoma?")
    assert "**1. Glaucoma · symptoms**" in _markdown(app)
    assert _plain(QUICK_NOTE) in _texts(app)
    sidebar = "\n".join(str(bar.proto.text) for bar in app.sidebar.get("progress"))
    assert (
        "Building the search index of Full MedQuAD · Base model (all-MiniLM-L6-v2): 10 of 40 texts" in sidebar
    )


def test_a_tentative_notice_keeps_its_message_under_its_own_heading() -> None:
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        from types import SimpleNamespace

        from medqa.safety import EmergencyNotice
        from ui.answers import render_emergency

        for probability in (0.3, 0.9):  # the learned half alone, unsure then sure
            notice = EmergencyNotice(
                kind="breathing",
                message="Call 911 now.",
                matched="",
                label="Severe trouble breathing",
                source="learned",
                probability=probability,
            )
            render_emergency(SimpleNamespace(emergency=notice))  # type: ignore[arg-type]

    app = AppTest.from_function(script).run()
    assert not app.exception
    assert [element.value for element in app.error] == [
        "**In case this is an emergency (Severe trouble breathing).** Call 911 now.",
        "**Emergency (Severe trouble breathing).** Call 911 now.",
    ]
