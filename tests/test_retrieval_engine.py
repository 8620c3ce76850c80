"""The retrieval engine end to end with the base model: hits, modes, flags, follow-ups, caches.

Most tests use the fixture collection (written for the tests, 50 pairs about six conditions); the
caregiver scenario also runs on the real curated corpus when MEDQA_MEDQUAD_SOURCE is set.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medqa.conversation import Conversation
from medqa.data import store
from medqa.data.schema import SPECIALIST_SOURCES
from medqa.errors import DataNotFoundError, QuestionError
from medqa.retrieval import abstain
from medqa.retrieval.dense import DenseIndex, DenseSettings, indexes_dir
from medqa.retrieval.engine import (
    DEFAULT_MODE,
    MODES,
    TOPICS_NOTE,
    Engine,
    EngineSettings,
    load_search_corpus,
)
from medqa.safety import categories

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine(fixture_data_dir: Path) -> Iterator[Engine]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQA_DATA_DIR", str(fixture_data_dir))
        patch.setenv("HF_HUB_OFFLINE", "1")
        built = Engine.from_dataset("full")
        built.calibration  # noqa: B018 - stored under the fixture data folder
        yield built


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_condition_asked_about(engine: Engine, mode: str) -> None:
    result = engine.search("What are the symptoms of glaucoma?", 3, mode=mode)
    assert result.mode == mode and len(result.hits) == 3
    top = result.hits[0]
    assert (top.rank, top.focus, top.qtype) == (1, "Glaucoma", "symptoms")
    assert top.question and top.answer and top.source and top.url.startswith("https://")
    assert -1.0 <= top.similarity <= 1.0
    assert [hit.rank for hit in result.hits] == [1, 2, 3]
    assert not result.abstain and result.emergency is None


def test_the_default_mode_is_the_measured_best(engine: Engine) -> None:
    assert DEFAULT_MODE == "hybrid"  # bench/results/quality.txt
    assert engine.search("what causes gout").mode == "hybrid"


def test_plain_words_reach_the_right_condition(engine: Engine) -> None:
    result = engine.search("my big toe joint is swollen from uric acid, what can the doctor do?", 1)
    assert result.hits[0].focus == "Gout"


def test_a_misspelt_condition_is_searched_as_the_corpus_spells_it(engine: Engine) -> None:
    result = engine.search("what causes glocoma", 1)
    assert result.question == "what causes glocoma"  # what was typed
    assert result.searched == "what causes glaucoma"
    assert result.hits[0].focus == "Glaucoma" and not result.abstain
    assert "“glocoma” as “glaucoma”" in " ".join(result.notes)
    assert engine.search("what causes glaucoma").notes == ()  # nothing to correct, nothing said


def test_top_ranks_do_not_depend_on_how_many_rows_are_asked_for(engine: Engine) -> None:
    """The evaluation asks for 100 rows, the Ask page for 20: both must rank the top alike."""
    narrow = Engine(engine.corpus, settings=EngineSettings(candidates=3), corpus_name="fixture")
    question = "my big toe joint is swollen, what can the doctor do?"
    few, _, _ = narrow.rank(question, limit=2)
    many, scores, _ = narrow.rank(question, limit=40)
    assert many[:2] == few and len(many) == len(set(many)) == 40
    assert scores[-1] == 0.0  # beyond the fused candidates, rows follow by similarity alone


def test_a_long_message_is_fused_flatter(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fused with ``long_message_rrf_k`` from ``long_message_words`` words on (engine docstring)."""
    settings = EngineSettings()
    short = "my big toe joint is swollen, what can the doctor do?"
    long = " ".join([short] * 4)  # 44 words
    assert settings.fusion_k(short) == settings.rrf_k == 5
    assert settings.fusion_k(long) == settings.long_message_rrf_k == 20
    assert settings.fusion_k(" ".join(["word"] * 39)) == 5
    assert settings.fusion_k(" ".join(["word"] * 40)) == 20
    from medqa.retrieval import engine as engine_module

    used: list[int] = []
    real = engine_module.reciprocal_rank_fusion

    def spy(rankings, *, weights, k):  # type: ignore[no-untyped-def]
        used.append(k)
        return real(rankings, weights=weights, k=k)

    monkeypatch.setattr(engine_module, "reciprocal_rank_fusion", spy)
    _, short_scores, _ = engine.rank(short, limit=3)
    _, long_scores, _ = engine.rank(long, limit=3)
    assert used == [5, 20]
    # A card's label reads the fused score against the maximum of the constant used.
    assert short_scores[0] <= 2.5 / 6 and long_scores[0] <= 2.5 / 21


def test_specialist_pages_give_way_to_consumer_pages_unless_named(
    engine: Engine, fixture_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GARD/GHR pages lose 30% of their fused score unless the question names their focus."""
    monkeypatch.setenv("MEDQA_DATA_DIR", str(fixture_data_dir))
    corpus = store.load_corpus("full").reset_index(drop=True)
    glaucoma = corpus.index[corpus["focus"] == "Glaucoma"]
    corpus.loc[glaucoma, "source"] = "GARD"
    corpus.loc[glaucoma, "id"] += "-gard"  # another source's pages have other ids (and fingerprint)
    specialist = Engine(corpus, corpus_name="fixture-specialist", use_cache=False)
    consumer = corpus.index[~corpus["source"].isin(SPECIALIST_SOURCES)]
    page, other = int(glaucoma[0]), int(consumer[0])
    fused = [(page, 0.40), (other, 0.35)]
    unnamed = specialist._prefer_consumer_pages(set(), fused)
    assert [row for row, _ in unnamed] == [other, page] and unnamed[1][1] == pytest.approx(0.28)
    assert specialist._prefer_consumer_pages({"glaucoma"}, fused) == fused
    assert engine._prefer_consumer_pages(set(), fused) == fused  # no GARD pages
    specialist.settings = EngineSettings(specialist_penalty=0.0)
    assert specialist._prefer_consumer_pages(set(), fused) == fused


def test_the_first_answers_are_about_different_topics_unless_the_question_names_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first ``distinct_topics`` rows cover as many topics; a named topic may fill them (docstring)."""
    foci = engine.corpus["focus"].astype(str).tolist()
    by_focus: dict[str, list[int]] = {}
    for row, focus in enumerate(foci):
        by_focus.setdefault(focus, []).append(row)
    glaucoma, gout, asthma = by_focus["Glaucoma"], by_focus["Gout"], by_focus["Asthma"]
    fused = [(glaucoma[0], 0.9), (glaucoma[1], 0.8), (glaucoma[2], 0.7), (gout[0], 0.6), (gout[1], 0.5),
             (asthma[0], 0.4), (glaucoma[3], 0.3)]  # fmt: skip
    diverse = engine._distinct_topics(fused, set())
    assert [row for row, _ in diverse] == [
        glaucoma[0], gout[0], asthma[0], glaucoma[1], glaucoma[2], gout[1], glaucoma[3]
    ]  # fmt: skip
    assert sorted(row for row, _ in diverse) == sorted(row for row, _ in fused)  # re-ordered, nothing lost
    scores = [score for _, score in diverse]
    assert scores == sorted(scores, reverse=True)  # a waiting pair scores as the last of the three
    assert dict(diverse)[glaucoma[1]] == dict(diverse)[gout[1]] == 0.4 and dict(diverse)[glaucoma[3]] == 0.3
    assert engine._distinct_topics(fused, {"glaucoma"}) == fused  # the question names it
    assert engine._distinct_topics([], set()) == []
    assert engine._distinct_topics(fused[:2], set()) == fused[:2]  # fewer topics than places: order kept
    named_gout = engine._distinct_topics(fused, {"gout"})
    assert [row for row, _ in named_gout][:5] == [glaucoma[0], gout[0], gout[1], glaucoma[1], glaucoma[2]]
    flat = Engine(engine.corpus, settings=EngineSettings(distinct_topics=1), corpus_name="fixture")
    assert flat._distinct_topics(fused, set()) == fused
    # Through rank(): a question naming no condition gets three topics first (two without the rule).
    question = "my eyes hurt and my joints ache and I wheeze"
    rows, _, _ = engine.rank(question, limit=10)
    flat_rows, _, _ = flat.rank(question, limit=10)
    assert len({foci[row].casefold() for row in rows[:3]}) == 3
    assert len({foci[row].casefold() for row in flat_rows[:3]}) < 3
    # The Ask page says why the answers differ, only when they do and the question names no condition.
    from medqa.retrieval import engine as engine_module

    monkeypatch.setattr(engine_module, "detect_emergency", lambda *args, **kwargs: None)  # its own tests
    # The fixture collection is too small to answer this confidently; the threshold has its own tests.
    for answering in (engine, flat):
        monkeypatch.setattr(
            answering, "_calibration", dataclasses.replace(engine.calibration, threshold=-1.0)
        )
    unnamed = engine.search(question, 3)
    assert not unnamed.abstain and TOPICS_NOTE in unnamed.notes
    assert len({hit.focus for hit in unnamed.hits}) == 3
    assert TOPICS_NOTE not in engine.search("What are the symptoms of glaucoma?", 3).notes
    assert TOPICS_NOTE not in flat.search(question, 3).notes and not flat.search(question, 3).abstain
    assert TOPICS_NOTE not in engine.search(question, 3, mode="dense").notes


@pytest.mark.parametrize(
    "question",
    ["How do I change a flat tyre on my bike?", "what is the capital of australia", "best sourdough recipe"],
)
def test_non_medical_questions_abstain(engine: Engine, question: str) -> None:
    result = engine.search(question)
    assert result.abstain
    assert result.confidence < result.threshold


def test_emergency_is_flagged_before_anything_else(engine: Engine) -> None:
    result = engine.search("My dad has crushing chest pain and cant breathe, what do I do?")
    assert result.emergency is not None and result.emergency.kind == "cardiac"
    assert "911" in result.emergency.message
    suicide = engine.search("i want to kill myself")
    assert suicide.emergency is not None and "988" in suicide.emergency.message


def test_an_emergency_is_never_followed_by_unreliable_passages(engine: Engine) -> None:
    # The fixture corpus has nothing about collapse: the notice comes alone, no "closest passages".
    result = engine.search("help my grandpa is unconscious on the floor")
    assert result.emergency is not None and result.emergency.kind == "unconscious"
    assert result.abstain and result.hits == ()


def test_an_emergency_shows_its_condition_information_when_the_corpus_has_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    unconscious = categories.BY_KIND["unconscious"]
    query = "What are the symptoms of Asthma ?"
    monkeypatch.setitem(categories.BY_KIND, "unconscious", dataclasses.replace(unconscious, info_query=query))
    result = engine.search("help my grandpa is unconscious on the floor")
    assert result.emergency is not None and not result.abstain
    assert result.searched == query and result.hits[0].focus == "Asthma"
    assert any("after the emergency notice" in note for note in result.notes)


@pytest.mark.parametrize(
    "question", ["what causes chest pain in runners long term?", "What are the symptoms of a stroke?"]
)
def test_questions_about_a_condition_are_not_emergencies(engine: Engine, question: str) -> None:
    assert engine.search(question).emergency is None


def test_k_is_clamped_and_bad_modes_rejected(engine: Engine) -> None:
    assert len(engine.search("asthma", 0).hits) == 1
    assert len(engine.search("asthma treatment", 500).hits) <= len(engine)
    with pytest.raises(ValueError, match="mode"):
        engine.search("asthma", mode="magic")


def test_empty_and_huge_questions(engine: Engine) -> None:
    with pytest.raises(QuestionError):
        engine.search("   ")
    result = engine.search("What are the treatments for psoriasis? " + "please " * 1500)
    assert len(result.question) <= 1000 and result.notes
    assert result.hits[0].focus == "Psoriasis"


def test_json_carries_hits_and_both_flags(engine: Engine) -> None:
    question = "my son has asthma and cant breathe, his inhaler is not helping"
    payload = json.loads(json.dumps(engine.search(question, 2).to_dict()))
    assert set(payload) >= {"hits", "abstain", "emergency", "follow_up", "confidence", "threshold"}
    assert payload["emergency"]["kind"] == "breathing"
    assert {"id", "score", "question", "answer", "focus", "qtype", "source", "url"} <= set(payload["hits"][0])


def test_follow_ups_keep_the_topic_and_a_named_condition_changes_it(engine: Engine) -> None:
    chat = Conversation()
    first = chat.ask(engine, "What are the early warning signs of Alzheimer's?")
    assert first.follow_up is None and first.hits[0].focus == "Alzheimer's Disease"
    second = chat.ask(engine, "Is there treatment to slow progression?")
    assert (
        second.follow_up is not None and second.follow_up.note == "Interpreting as about Alzheimer's Disease"
    )
    assert second.hits[0].focus == "Alzheimer's Disease" and second.hits[0].qtype == "treatment"
    third = chat.ask(engine, "And what causes gout?")
    assert third.follow_up is None and chat.focus == "Gout"
    chat.forget_topic()
    assert chat.ask(engine, "Is there treatment to slow progression?").follow_up is None


def test_engines_over_one_corpus_share_what_the_corpus_decides(
    engine: Engine, fixture_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDQA_DATA_DIR", str(fixture_data_dir))
    corpus = load_search_corpus("full")
    second = Engine(corpus)
    assert second.bm25 is engine.bm25 and second.corpus is engine.corpus
    question = "what is glaucoma"
    assert [hit.id for hit in second.search(question).hits] == [
        hit.id for hit in engine.search(question).hits
    ]
    smaller = Engine(corpus.iloc[:-1].reset_index(drop=True), use_cache=False)
    assert smaller.bm25 is not engine.bm25 and len(smaller) == len(engine) - 1


def test_hits_say_which_passage_matched(engine: Engine) -> None:
    result = engine.search("my big toe joint is swollen from uric acid, what can the doctor do?", 3)
    assert any(hit.passage is not None for hit in result.hits)
    for hit in result.hits:
        if hit.passage is not None:
            assert 0 <= hit.passage.start < hit.passage.end <= len(hit.answer)
            assert hit.passage_text == hit.answer[hit.passage.start : hit.passage.end].strip()
            assert hit.passage.similarity <= hit.similarity + 1e-5
    payload = result.to_dict()["hits"]
    assert {"start", "end", "similarity"} <= set(next(h["passage"] for h in payload if h["passage"]))


def test_a_card_shows_one_sources_text_with_that_source(
    engine: Engine, fixture_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 15: rows sharing focus and question merge only within one source page."""
    monkeypatch.setenv("MEDQA_DATA_DIR", str(fixture_data_dir))
    corpus = load_search_corpus("full")
    row = corpus[corpus["focus"] == "Gout"].iloc[0]
    other_source = row.copy()
    other_source[["id", "source", "url"]] = ["other-1", "OtherSource", "https://example.org/gout"]
    other_source["answer"] = "Another site's words: gout flares are treated with anti-inflammatory drugs."
    second_part = row.copy()
    second_part[["id", "answer"]] = ["part-2", "Uric acid lowering drugs such as allopurinol prevent flares."]
    extended = pd.concat([corpus, pd.DataFrame([other_source, second_part])], ignore_index=True)
    searched = Engine(extended, use_cache=False).search(row["question"], 10, mode="dense")
    by_id = extended.set_index("id")
    for hit in searched.hits:
        assert {by_id.loc[part, "source"] for part in hit.part_ids} == {hit.source}
        assert {by_id.loc[part, "url"] for part in hit.part_ids} == {hit.url}
    merged = next(hit for hit in searched.hits if row["id"] in hit.part_ids)
    assert merged.part_ids == (row["id"], "part-2") and second_part["answer"] in merged.answer
    if merged.passage is not None:  # offsets point into the merged text, inside one part's answer
        assert any(merged.passage_text in answer for answer in (row["answer"], second_part["answer"]))
    assert any(hit.id == "other-1" and hit.source == "OtherSource" for hit in searched.hits)


def test_calibration_is_reproducible_and_stored(engine: Engine) -> None:
    again = abstain.calibrate(engine, save=False)
    assert again.threshold == engine.calibration.threshold
    assert abstain.load_calibration(engine) == engine.calibration
    assert engine.calibration.out_of_domain_abstained >= 0.9
    assert engine.calibration.in_domain_answered >= 0.9


def test_index_cache_is_keyed_verified_and_rebuilt_when_corrupt(
    fixture_data_dir: Path, workdirs: Path
) -> None:
    shutil.copytree(fixture_data_dir / "datasets", workdirs / "data" / "datasets")
    shutil.copytree(fixture_data_dir / "cache", workdirs / "data" / "cache")
    corpus = load_search_corpus("curated")
    built = DenseIndex.build_or_load(corpus, "base")
    assert not built.from_cache and DenseIndex.is_cached(corpus, "base")
    loaded = DenseIndex.build_or_load(corpus, "base")
    assert loaded.from_cache and loaded.key == built.key
    np.testing.assert_array_equal(loaded.embeddings, built.embeddings)
    other = DenseIndex.build_or_load(corpus, "base", DenseSettings(max_seq_length=64))
    assert other.key != built.key
    assert not DenseIndex.is_cached(corpus.iloc[:-1], "base")  # another corpus, another key
    matrix = indexes_dir() / built.key / "embeddings.npy"
    matrix.write_bytes(matrix.read_bytes()[:-64])
    rebuilt = DenseIndex.build_or_load(corpus, "base")
    assert not rebuilt.from_cache
    np.testing.assert_allclose(rebuilt.embeddings, built.embeddings, atol=1e-6)


def test_corpus_from_a_csv_or_a_missing_file(workdirs: Path, tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "Question,Answer\nwhat causes gout ?,Uric acid builds up.\nwhat is (are) asthma ?,Airways swell.\n"
    )
    assert len(load_search_corpus(str(csv))) == 2
    with pytest.raises(DataNotFoundError):
        load_search_corpus(str(tmp_path / "missing.csv"))
    with pytest.raises(DataNotFoundError):
        load_search_corpus("no-such-dataset")
    with pytest.raises(DataNotFoundError, match="no answered questions"):
        Engine(load_search_corpus(str(csv)).iloc[:0])


@pytest.mark.medquad
def test_caregiver_scenario_on_the_curated_corpus(real_source: str, workdirs: Path) -> None:
    store.build_datasets(real_source)
    engine = Engine.from_dataset("curated")
    chat = Conversation()
    first = chat.ask(engine, "What are the early warning signs of Alzheimer's?")
    assert first.hits[0].focus == "Alzheimer's Disease" and not first.abstain
    for question in ("Is there treatment to slow progression?", "How can families provide support?"):
        result = chat.ask(engine, question)
        assert result.follow_up is not None and result.follow_up.focus == "Alzheimer's Disease"
        assert result.hits[0].focus == "Alzheimer's Disease" and not result.abstain
    assert engine.search("how do I get my cat to stop scratching the couch").abstain
