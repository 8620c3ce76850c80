"""How results are worded for people: cards, confidence, safe text and the terminal view."""

from __future__ import annotations

import dataclasses
from dataclasses import replace as _replace

from medqa import presentation
from medqa.retrieval.engine import Hit, SearchResult
from medqa.retrieval.follow_up import FollowUp
from medqa.safety import DISCLAIMER, TENTATIVE_HEADING, detect_emergency


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


def test_terminal_text_heads_a_tentative_notice_as_such() -> None:
    sure = detect_emergency("my dad has crushing chest pain and can't breathe right now")
    assert sure is not None
    tentative = dataclasses.replace(sure, source="learned", probability=0.3)
    assert tentative.tentative
    text = presentation.result_text(_result(emergency=tentative))
    assert f"{TENTATIVE_HEADING.upper()} ({sure.label.upper()}): {sure.message}" in text
    assert text.index(TENTATIVE_HEADING.upper()) < text.index("1. Gout")
    assert f"EMERGENCY ({sure.label.upper()}):" in presentation.result_text(_result(emergency=sure))


def test_terminal_text_abstains_and_explains_follow_ups() -> None:
    abstained = presentation.result_text(_result("how do I bake bread", abstain=True, confidence=0.2))
    assert presentation.ABSTAIN_MESSAGE in abstained
    assert abstained.index("Closest passages (may not answer your question)") < abstained.index("1. Gout")
    follow = presentation.result_text(
        _result("is it inherited", follow_up=FollowUp("Gout", "Gout: is it inherited"))
    )
    assert "Interpreting as about Gout." in follow


# ---- readable answers (our own words, shaped like MedQuAD's flattened HTML) -----------------------


def _kinds(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(block.kind, block.parts) for block in presentation.answer_blocks(text)]


def test_dash_lists_become_items_and_their_repeated_copy_is_dropped() -> None:
    text = (
        "Good habits include - walking daily - sleeping well - eating greens. walking daily sleeping "
        "well eating greens. Small steps add up."
    )
    assert _kinds(text) == [
        ("paragraph", ("Good habits include",)),
        ("list", ("walking daily", "sleeping well", "eating greens.")),
        ("paragraph", ("Small steps add up.",)),
    ]


def test_lists_after_colons_and_lists_without_a_full_stop() -> None:
    text = "Signs by area: Eyes: - redness - itching redness itching Skin: - rash - dryness rash dryness It fades."
    assert _kinds(text) == [
        ("paragraph", ("Signs by area: Eyes:",)),
        ("list", ("redness", "itching")),
        ("paragraph", ("Skin:",)),
        ("list", ("rash", "dryness")),
        ("paragraph", ("It fades.",)),
    ]


def test_a_last_item_ends_where_an_unpunctuated_sentence_starts() -> None:
    text = "Resources: - Registry: Made-up ataxia 35 These pages offer more help."
    assert _kinds(text) == [
        ("paragraph", ("Resources:",)),
        ("list", ("Registry: Made-up ataxia 35",)),
        ("paragraph", ("These pages offer more help.",)),
    ]


def test_a_single_dash_in_prose_is_not_a_list() -> None:
    assert _kinds("Parasites - Roundworms are common. They spread in soil.") == [
        ("paragraph", ("Parasites - Roundworms are common.", "They spread in soil."))
    ]


def test_headings_running_into_sentences_are_split_off() -> None:
    assert _kinds("Staying Active Every Day There are many ways to move. Walk often.")[0] == (
        "heading",
        ("Staying Active Every Day",),
    )
    assert _kinds("Light therapy Light therapy is a treatment with lamps.") == [
        ("heading", ("Light therapy",)),
        ("paragraph", ("Light therapy is a treatment with lamps.",)),
    ]
    assert _kinds("Medical History Taking a history helps the doctor.")[0] == (
        "heading",
        ("Medical History",),
    )
    assert _kinds("Joint Pain — An Early Sign Joint pain often comes first.")[0] == (
        "heading",
        ("Joint Pain — An Early Sign",),
    )
    assert _kinds("Liver Transplant The liver transplant replaces a sick liver.")[0] == (
        "heading",
        ("Liver Transplant",),
    )
    # A name followed by a verb is a sentence, not a heading.
    assert _kinds("The National Eye Institute funds studies.") == [
        ("paragraph", ("The National Eye Institute funds studies.",))
    ]


def test_a_leading_question_is_a_heading_and_percent_tables_are_lists() -> None:
    text = (
        "What are the signs of made-up syndrome? Doctors list these. Signs and Symptoms Approximate "
        "number of patients (when available) Joint pain 90% Short stature 50% Dry eyes 7.5% They vary."
    )
    assert _kinds(text) == [
        ("heading", ("What are the signs of made-up syndrome?",)),
        (
            "paragraph",
            ("Doctors list these.", "Signs and Symptoms Approximate number of patients (when available)"),
        ),
        ("list", ("Joint pain 90%", "Short stature 50%", "Dry eyes 7.5%")),
        ("paragraph", ("They vary.",)),
    ]


def test_formatting_keeps_every_word_but_the_repeated_list() -> None:
    text = "Intro here. Things include - one - two one two Then Later Text There is more. End."
    words = " ".join(part for block in presentation.answer_blocks(text) for part in block.parts).split()
    assert " ".join(words) == "Intro here. Things include one two Then Later Text There is more. End."


def test_formatted_markdown_escapes_data_and_only_draws_structure() -> None:
    text = "Intro [click](https://evil.example) ![img](https://evil.example/x.png) - **a** - <b>b</b>"
    markdown = presentation.blocks_markdown(presentation.answer_blocks(text))
    assert "](" not in markdown and "![" not in markdown and "<b>" not in markdown and "**a**" not in markdown
    assert "\n- \\*\\*a\\*\\*\n- \\<b\\>b\\</b\\>" in markdown
    highlighted = presentation.highlight_markdown("a ] :red[b] [c](javascript:x)")
    assert (
        highlighted.startswith(":yellow-background[**")
        and highlighted.count("]") - highlighted.count("\\]") == 1
    )


def test_matching_sentences_are_highlighted_rare_words_first() -> None:
    blocks = presentation.answer_blocks(
        "Gout is a joint disease. Gout often starts in the big toe. Ice and rest ease a gout flare."
    )
    assert presentation.matched_parts(blocks, "how to ease a gout flare") == {(0, 2)}
    assert presentation.matched_parts(blocks, "weather in Paris") == set()
    # Only the sentences of the passage the retriever matched compete (the first when none shares a word)...
    assert presentation.matched_parts(blocks, "gout flare", passage="Gout often starts in the big toe.") == {
        (0, 1)
    }
    assert presentation.matched_parts(blocks, "weather", passage="Gout often starts in the big toe.") == {
        (0, 1)
    }
    # ... unless the passage is the whole answer.
    whole = "Gout is a joint disease. Gout often starts in the big toe. Ice and rest ease a gout flare."
    assert presentation.matched_parts(blocks, "how to ease a gout flare", passage=whole) == {(0, 2)}


def test_preview_keeps_the_highlighted_block_and_says_when_it_cut() -> None:
    blocks = [presentation.Block("paragraph", (f"Paragraph {n} " + "words " * 40,)) for n in range(10)]
    shown, marks, cut = presentation.preview_blocks(blocks, {(7, 0)}, limit=600)
    assert cut and shown[-1] == blocks[7] and shown[-2].kind == "gap" and marks == {(len(shown) - 1, 0)}
    assert len(shown) == 4  # paragraphs 0-1 (about 250 characters each), the gap, paragraph 7
    # A long paragraph is cut at a sentence, and a later highlighted sentence is shown alone.
    long = [presentation.Block("paragraph", tuple(f"Sentence {n} is here." for n in range(100)))]
    shown, marks, cut = presentation.preview_blocks(long, {(0, 90)}, limit=100)
    assert cut and shown[0].parts[0] == "Sentence 0 is here." and len(shown[0].parts) < 10
    assert shown[1].kind == "gap" and shown[2].parts == ("Sentence 90 is here.",) and marks == {(2, 0)}
    assert presentation.preview_blocks(blocks[:1], set(), limit=600) == (blocks[:1], set(), False)


# ---- honest scores and the one answer policy -------------------------------------------------------


def test_match_labels_follow_the_ranking_used() -> None:
    from medqa.retrieval.engine import EngineSettings

    settings = EngineSettings()

    def rrf(dense_rank: int | None, bm25_rank: int | None) -> float:
        parts = ((settings.dense_weight, dense_rank), (settings.bm25_weight, bm25_rank))
        return sum(weight / (settings.rrf_k + rank) for weight, rank in parts if rank is not None)

    top, second, third = (_hit(1, similarity=0.5), _hit(2, similarity=0.9), _hit(3, similarity=0.2))
    fused = [  # first in both rankings; second in both; first among the keywords only
        _replace(top, score=rrf(1, 1)),
        _replace(second, score=rrf(2, 2)),
        _replace(third, score=rrf(None, 1)),
    ]
    result = _result(hits=tuple(fused))
    labels = [presentation.match_label(hit, result) for hit in fused]
    assert labels[:2] == ["strong match", "strong match"]  # cosine 0.9 at #2 changes nothing
    assert labels[2] != "strong match"  # found by one ranking only
    order = ["strong match", "good match", "partial match"]
    assert [order.index(label) for label in labels] == sorted(order.index(label) for label in labels)


def test_match_labels_of_a_long_message_read_its_own_fusion_constant() -> None:
    from medqa.retrieval.engine import EngineSettings

    settings = EngineSettings()
    message = " ".join(["my dad has swollen painful toes and we wonder what it is"] * 4)
    k = settings.fusion_k(message)
    assert k != settings.rrf_k
    top = _replace(_hit(1), score=(settings.dense_weight + settings.bm25_weight) / (k + 1))  # first in both
    meaning_only = _replace(_hit(2), score=settings.dense_weight / (k + 1))
    result = _result(message, hits=(top, meaning_only))
    labels = [presentation.match_label(hit, result) for hit in (top, meaning_only)]
    assert labels == ["strong match", "good match"]


def test_weak_hits_are_set_apart_and_uploads_are_not_called_nih() -> None:
    hits = (_hit(1, similarity=0.7), _hit(2, similarity=0.2), _hit(3, similarity=0.6))
    answers, closest = presentation.split_hits(_result(hits=hits))
    assert [hit.rank for hit in answers] == [1, 3] and [hit.rank for hit in closest] == [2]
    assert "open the original page](http://nihseniorhealth.gov/" in presentation.source_line(_hit())
    upload = _replace(_hit(), source="upload", url="")
    assert (
        "uploaded" in presentation.source_line(upload) and "NIH" not in presentation.source_line(upload)[:30]
    )
    assert "uploaded dataset" in presentation.abstain_message(upload=True)
    assert presentation.disclaimer() == DISCLAIMER
    assert "NIH sources" not in presentation.disclaimer(upload=True)
    assert "not medical advice" in presentation.disclaimer(upload=True)


def test_emergency_view_never_ends_with_the_abstain_reply() -> None:
    emergency = "my dad has crushing chest pain and can't breathe right now"
    view = presentation.answer_view(_result(emergency, abstain=True, confidence=0.2))
    assert view.emergency is not None and view.abstain_message is None and not view.closest
    plain = presentation.answer_view(_result("how do I bake bread", abstain=True, confidence=0.2))
    assert plain.emergency is None and plain.abstain_message == presentation.ABSTAIN_MESSAGE
    assert len(plain.closest) == 2
    # With its condition's information found, weak passages still never follow the notice.
    mixed = presentation.answer_view(
        _result(emergency, hits=(_hit(1, similarity=0.7), _hit(2, similarity=0.2)))
    )
    assert [hit.rank for hit in mixed.answers] == [1] and not mixed.closest and mixed.abstain_message is None
    text = presentation.result_text(_result(emergency, abstain=True, confidence=0.2))
    assert "EMERGENCY" in text and presentation.ABSTAIN_MESSAGE not in text
