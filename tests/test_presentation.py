"""How results are worded for people: cards, confidence, safe text and the terminal view."""

from __future__ import annotations

from medqa import presentation
from medqa.conversation import FollowUp
from medqa.retrieval.engine import Hit, SearchResult
from medqa.safety import DISCLAIMER, detect_emergency


def _hit(rank: int = 1, answer: str = "Rest and fluids help.", similarity: float = 0.7) -> Hit:
    return Hit(
        rank=rank, id=f"x-{rank}", score=0.03, similarity=similarity, question="What is gout ?",
        answer=answer, focus="Gout", qtype="information", source="NIHSeniorHealth",
        url="http://nihseniorhealth.gov/gout/toc.html",
    )  # fmt: skip


def _result(question: str = "what is gout", *, abstain: bool = False, **changes: object) -> SearchResult:
    values: dict[str, object] = {
        "question": question, "searched": question, "hits": (_hit(1), _hit(2)), "abstain": abstain,
        "confidence": 0.7, "threshold": 0.45, "emergency": detect_emergency(question), "follow_up": None,
        "mentions": (), "notes": (), "mode": "hybrid", "elapsed_ms": 3.0,
    }  # fmt: skip
    values.update(changes)
    return SearchResult(**values)  # type: ignore[arg-type]


def test_markup_in_data_is_shown_literally() -> None:
    escaped = presentation.escape_markdown("**bold** <b>x</b> :red[alert] $x$ [link](javascript:alert(1))")
    for raw in ("**", "<b>", ":red[", "$x$", "]("):
        assert raw not in escaped
    assert presentation.answer_markdown("    indented code\n- item") == "indented code\n\n\\- item"


def test_only_plain_http_links_are_linked() -> None:
    assert presentation.safe_url("https://ghr.nlm.nih.gov/condition/gout") is not None
    for bad in ("javascript:alert(1)", "https://x.org/a) [y](z", "ftp://x.org/a", "", "http://x.org/a b"):
        assert presentation.safe_url(bad) is None


def test_long_answers_are_previewed_at_a_sentence() -> None:
    answer = "First sentence here. " * 60
    preview, cut = presentation.split_answer(answer, limit=100)
    assert cut and preview.endswith("here. …") and len(preview) <= 102
    assert presentation.split_answer("Short.", limit=100) == ("Short.", False)


def test_cards_name_focus_type_source_and_confidence() -> None:
    assert presentation.hit_title(_hit()) == "Gout · information"
    caption = presentation.hit_caption(_hit(similarity=0.7), threshold=0.45)
    assert "NIHSeniorHealth" in caption and "0.70" in caption and "strong match" in caption
    assert presentation.confidence_label(0.5, 0.45) == "good match"
    assert presentation.confidence_label(0.4, 0.45) == "weak match"


def test_terminal_text_puts_the_emergency_first_and_the_disclaimer_last() -> None:
    text = presentation.result_text(_result("my dad has crushing chest pain and can't breathe right now"))
    assert text.index("EMERGENCY") < text.index("1. Gout")
    assert text.rstrip().endswith(DISCLAIMER)


def test_terminal_text_abstains_and_explains_follow_ups() -> None:
    abstained = presentation.result_text(_result("how do I bake bread", abstain=True, confidence=0.2))
    assert presentation.ABSTAIN_MESSAGE in abstained and "1. Gout" not in abstained
    follow = presentation.result_text(
        _result("is it inherited", follow_up=FollowUp("Gout", "Gout: is it inherited"))
    )
    assert "Interpreting as about Gout." in follow
