"""Training pairs: splits, held-out exclusion, variants, caps and determinism."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.data import store
from medqa.errors import TrainingError
from medqa.training import data as training_data_module
from medqa.training.arguments import preset
from medqa.training.data import (
    boilerplate_sentences,
    build_training_data,
    description_queries,
    keywords_query,
    synonym_question,
)


def _row(
    pair_id: str, focus: str, qtype: str, question: str, answer: str, split: str = "", synonyms: str = ""
) -> dict:
    return {
        col.ID: pair_id, col.FOCUS: focus, col.QTYPE: qtype, col.QUESTION: question, col.ANSWER: answer,
        col.SYNONYMS: synonyms, col.SPLIT: split, col.HAS_ANSWER: True,
    }  # fmt: skip


def test_curated_trains_on_its_train_split_only(training_data: Path) -> None:
    curated = store.load_corpus(store.CURATED)
    built = build_training_data(preset("original"))
    train_answers = set(curated.loc[curated[col.SPLIT] == col.TRAIN, col.ANSWER])
    test_answers = set(curated.loc[curated[col.SPLIT] == col.TEST, col.ANSWER])
    assert len(built) == len(train_answers) == 36
    assert set(built.pairs["positive"]) <= train_answers
    assert not set(built.pairs["positive"]) & test_answers
    assert len(built.heldout) == 12 and len(built.heldout.corpus) == 48
    for qid, relevant in built.heldout.relevant.items():
        assert qid in relevant


def test_full_excludes_heldout_pairs_and_their_answer_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    curated = pd.DataFrame(
        [
            _row(
                "h1", "Gout", "treatment", "What are the treatments for Gout ?", "Held answer one.", col.TEST
            ),
            _row("t1", "Gout", "causes", "What causes Gout ?", "Train answer.", col.TRAIN),
        ]
    )
    full = pd.DataFrame(
        [
            _row("h1", "Gout", "treatment", "What are the treatments for Gout ?", "Held answer one."),
            _row("twin", "Gout", "considerations", "What to do for Gout ?", "Held answer one."),
            _row(
                "other", "Gout", "treatment", "What are the treatments for Gout ?", "Another source's answer."
            ),
            _row("t1", "Gout", "causes", "What causes Gout ?", "Train answer."),
        ]
    )
    monkeypatch.setattr(store, "load_corpus", lambda name: {store.FULL: full, store.CURATED: curated}[name])
    built = build_training_data(preset("original", data="full"))
    assert sorted(built.pairs["positive"]) == ["Another source's answer.", "Train answer."]
    assert built.summary["excluded_heldout_id"] == 1 and built.summary["excluded_heldout_answer"] == 1
    assert list(built.heldout.queries) == ["h1"]
    monkeypatch.setattr(
        training_data_module.store, "load_corpus", lambda name: full if name == store.FULL else _missing()
    )
    with pytest.raises(TrainingError, match="held-out"):
        build_training_data(preset("original", data="full"))


def _missing() -> pd.DataFrame:
    from medqa.errors import DataNotFoundError

    raise DataNotFoundError("no curated")


def test_query_variants(training_data: Path) -> None:
    built = build_training_data(
        preset("original", query_variants=("question", "keywords", "synonym", "focus"))
    )
    variants = built.pairs.groupby("variant")["anchor"].apply(list).to_dict()
    assert "Gout" in variants["keywords"] and all("?" not in text for text in variants["keywords"])
    assert any("Gout condition" in text for text in variants["synonym"])  # the fixture's XML synonym
    assert set(variants["question"]) <= set(store.load_corpus(store.CURATED)[col.QUESTION].str.strip())
    assert not built.pairs.duplicated(["anchor", "positive"]).any()
    assert keywords_query("What are the symptoms of Asthma ?", "Asthma", "symptoms") == "Asthma symptoms"
    assert keywords_query("What is (are) Asthma ?", "Asthma", "information") == "Asthma"
    import numpy as np

    rng = np.random.default_rng(0)
    assert synonym_question("What causes Gout ?", "Gout", ["Podagra"], rng) == "What causes Podagra ?"
    assert synonym_question("What causes Gout ?", "Gout", [], rng) is None


def test_passage_positives_are_the_texts_the_ask_index_embeds(training_data: Path) -> None:
    from medqa.retrieval.dense import DenseSettings, document_units

    config = preset("original", query_variants=("question", "keywords"), positives="passage")
    built = build_training_data(config)
    corpus = store.load_corpus(store.CURATED)
    indexed = set(document_units(corpus, DenseSettings()).texts)
    assert len(built.pairs) and set(built.pairs["positive"]) <= indexed
    raw = build_training_data(preset("original", query_variants=("question", "keywords")))
    assert set(raw.pairs["positive"]) <= set(corpus[col.ANSWER].str.strip())  # the default: whole answers
    with pytest.raises(TrainingError, match="positives must be one of"):
        preset("original", positives="summary")


def test_descriptions_can_point_at_the_overview_passage(training_data: Path) -> None:
    from medqa.training.data import index_passage

    config = preset("original", query_variants=("description",), description_target="overview")
    built = build_training_data(config)
    corpus = store.load_corpus(store.FULL)
    overview = corpus[corpus[col.QTYPE] == "information"]
    passages = {
        index_passage(answer.strip(), focus)
        for focus, answer in zip(overview[col.FOCUS], overview[col.ANSWER], strict=True)
    }
    targets = set(built.pairs["positive"])
    assert targets & passages  # focus areas with an overview point at it
    with pytest.raises(TrainingError, match="description_target"):
        preset("original", description_target="summary")


def test_every_pair_knows_its_concept_for_hard_negative_mining(training_data: Path) -> None:
    from medqa.data.templates import normalise_focus
    from medqa.training.data import CONCEPT

    built = build_training_data(preset("original", query_variants=("question", "keywords")))
    corpus = store.load_corpus(store.CURATED)
    expected = {
        " ".join(filter(None, [normalise_focus(focus).replace(" ", "_"), *str(cui).split()]))
        for focus, cui in zip(corpus[col.FOCUS], corpus[col.CUI].fillna(""), strict=True)
    }
    assert set(built.pairs[CONCEPT]) <= expected
    assert any(len(concept.split()) > 1 for concept in built.pairs[CONCEPT])  # focus name + CUI(s)


def test_sources_keep_only_their_pairs(training_data: Path) -> None:
    curated = store.load_corpus(store.CURATED)
    source = curated[col.SOURCE].value_counts().index[-1]
    kept = build_training_data(preset("original", sources=(source,)))
    answers = set(curated.loc[curated[col.SOURCE] == source, col.ANSWER].str.strip())
    assert len(kept.pairs) and set(kept.pairs["positive"]) <= answers
    everything = build_training_data(preset("original"))
    assert len(everything.pairs) > len(kept.pairs)


def test_description_queries_mask_the_condition_and_point_at_its_entry(training_data: Path) -> None:
    built = build_training_data(preset("original", query_variants=("question", "description")))
    described = built.pairs[built.pairs["variant"] == "description"]
    assert len(described) > 0 and built.summary["pairs_per_variant"]["description"] == len(described)
    curated = store.load_corpus(store.CURATED)
    entries = set(curated[col.FOCUS] + ": " + curated[col.QUESTION].str.strip())
    assert set(described["positive"]) <= entries  # what the Ask engine indexes
    for anchor, positive in zip(described["anchor"], described["positive"], strict=True):
        focus = positive.split(":")[0]
        assert focus.casefold() not in anchor.casefold() and not anchor.endswith("?")

    wider = build_training_data(
        preset("original", query_variants=("question", "description"), max_pairs=6, description_pairs=24)
    )
    wide = wider.pairs[wider.pairs["variant"] == "description"]
    assert wider.summary["train_source_pairs"] == 6 and len(wide) > 6  # not limited by max_pairs
    assert set(wide["positive"]) <= entries

    import numpy as np

    rng = np.random.default_rng(0)
    answer = (
        "Gout is a form of arthritis. Podagra attacks often start at night in the big toe joint. "
        "See the Gout pages of this site for more. Too short."
    )
    stock = boilerplate_sentences(
        pd.DataFrame(
            [_row(str(n), f"Area {n}", "information", "q", f"Fact {n}. See the Area {n} pages of this site for more.")
             for n in range(3)]
        )
    )  # fmt: skip
    assert stock == {"See the this condition pages of this site for more."}
    picks = {tuple(description_queries(answer, "Gout", ["Podagra"], rng, stock)) for _ in range(20)}
    assert picks == {("this condition attacks often start at night in the big toe joint.",)}
    assert description_queries("Short one. Another.", "Gout", [], rng) == []
    longer = answer + " Swelling and redness around the joint can last for several days."
    assert len(description_queries(longer, "Gout", ["Podagra"], rng, stock, count=2)) == 2


def test_joined_description_queries_describe_several_signs_within_the_word_cap() -> None:
    import numpy as np

    from medqa.training.data import JOINED_DESCRIPTION_WORDS

    answer = (
        "Gout causes sudden attacks of severe pain in a joint. The skin over the joint turns red and "
        "feels hot to the touch. Swelling can last for several days after an attack has ended. "
        "Lumps of crystals may form under the skin of the ears and fingers over many years."
    )
    sentences = [s.replace("Gout", "this condition") for s in answer.replace(". ", ".|").split("|")]
    for seed in range(10):
        (query,) = description_queries(answer, "Gout", [], np.random.default_rng(seed), sentences=3)
        start = next(k for k, sentence in enumerate(sentences) if query.startswith(sentence))
        assert query == " ".join(sentences[start : start + 3])  # the next kept sentences, in order
    # Each joined query starts at a different picked sentence; a picked last sentence stays alone.
    picks = description_queries(answer, "Gout", [], np.random.default_rng(0), count=4, sentences=3)
    assert [query.split(".")[0] + "." for query in picks] == sentences and picks[-1] == sentences[-1]
    # A sentence that would pass the cap ends the query.
    sign = "Sign number {} of this list goes on for a good while now, with a few more words to reach twenty five in all here."
    assert 2 * 25 <= JOINED_DESCRIPTION_WORDS < 3 * 25 == 3 * len(sign.format(0).split())
    wordy = " ".join(sign.format(n) for n in range(6))
    queries = description_queries(wordy, "Gout", [], np.random.default_rng(1), count=6, sentences=5)
    assert [query.count(".") for query in queries] == [2, 2, 2, 2, 2, 1]
    # One sentence per query keeps the earlier draw, so older runs rebuild the same pairs.
    one = description_queries(answer, "Gout", [], np.random.default_rng(3))
    assert len(one) == 1 and one[0] in sentences


def test_caps_spread_over_focus_and_are_seeded(training_data: Path) -> None:
    per_focus = build_training_data(preset("original", max_pairs_per_focus=2))
    assert len(per_focus) == 12  # 6 areas x 2
    capped = build_training_data(preset("original", max_pairs=12))
    assert capped.summary["train_focus_areas"] == 6  # round-robin: every area before a second pair
    again = build_training_data(preset("original", max_pairs=12))
    assert again.fingerprint == capped.fingerprint
    other_seed = build_training_data(preset("original", max_pairs=12, seed=7))
    assert other_seed.fingerprint != capped.fingerprint


def test_distillation_texts_never_come_from_heldout(training_data: Path) -> None:
    built = build_training_data(preset("original", distill_weight=1.0, distill_texts=30))
    curated = store.load_corpus(store.CURATED)
    held = set(curated.loc[curated[col.SPLIT] == col.TEST, col.ANSWER]) | set(
        curated.loc[curated[col.SPLIT] == col.TEST, col.QUESTION].str.strip()
    )
    assert len(built.distill_texts) == 30 and not set(built.distill_texts) & held


def test_csv_path_is_imported_and_split(workdirs: Path, tmp_path: Path) -> None:
    lines = ["Question,Answer,Focus"]
    for focus in ("Gout", "Asthma"):
        for n in range(8):
            lines.append(f"question {n} about {focus}?,answer {n} written for {focus} tests.,{focus}")
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n")
    built = build_training_data(preset("original", data=str(path)))
    assert len(built) == 12 and len(built.heldout) == 4  # a quarter of each focus held out
    assert not set(built.pairs["positive"]) & set(built.heldout.corpus[q] for q in built.heldout.queries)
    dataset = built.to_dataset()
    assert dataset.column_names == ["anchor", "positive"] and len(dataset) == 12
