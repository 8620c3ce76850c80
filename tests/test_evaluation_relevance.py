"""Relevance by concept: normalised names, synonyms, UMLS CUIs and reviewed accept lists.

The corpus rows below copy the *shape* of real MedQuAD metadata (focus names, synonyms and CUIs of a
few well-known conditions, which are public UMLS identifiers), with made-up question and answer text.
"""

from __future__ import annotations

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.errors import EvaluationError
from medqa.evaluation import sets
from medqa.evaluation.metrics import first_relevant_rank, per_query_metrics, rank_metrics
from medqa.evaluation.relevance import (
    BY_ACCEPT,
    BY_CUI,
    BY_NAME,
    BY_SYNONYM,
    Expectation,
    RelevanceJudge,
    expectation,
    name_keys,
    normalise_name,
    split_cuis,
)

#: (id, source, focus, synonyms, cui)
ROWS = [
    ("mp-alz", "MPlusHealthTopics", "Alzheimer's Disease", "AD", "C0002395 C1521724"),
    ("ghr-alz", "GHR", "Alzheimer disease", "Alzheimer's Disease | SDAT", "C0002395"),
    ("gard-alz", "GARD", "Alzheimer disease", "Familial Alzheimer disease", "C0002395"),
    ("mp-care", "MPlusHealthTopics", "Alzheimer's Caregiving", "", "C0002395 C0085537"),
    ("gard-lupus", "GARD", "Lupus", "Systemic lupus erythematosus | Discoid lupus", "C0024131 C0409974"),
    ("ghr-sle", "GHR", "systemic lupus erythematosus", "lupus | SLE", "C0024141"),
    ("mp-dm", "MPlusHealthTopics", "Diabetes", "Diabetes mellitus | DM", "C0011860 C0011847 C0011849"),
    ("mp-dm2", "MPlusHealthTopics", "Diabetes Type 2", "", "C0011860"),
    ("niddk-dhs", "NIDDK", "Diabetes, Heart Disease, and Stroke", "", "C0011849 C0018799 C0038454"),
    ("gard-rare", "GARD", "Epiphyseal dysplasia with early-onset diabetes mellitus", "", "C1838780 C0011849"),
    ("mp-kid", "MPlusHealthTopics", "Kidney Stones", "Renal calculi", "C0022650"),
    ("niddk-kid", "NIDDK", "Kidney stones in adults", "", "C0022650 C0001675"),
    ("mp-graves", "MPlusHealthTopics", "Graves' Disease", "", ""),
    ("gard-sjogren", "GARD", "Sjögren syndrome", "", ""),
    ("mp-nocui", "MPlusHealthTopics", "Headache", "", ""),
]


@pytest.fixture()
def corpus() -> pd.DataFrame:
    return pd.DataFrame(
        {
            col.ID: [row[0] for row in ROWS],
            col.SOURCE: [row[1] for row in ROWS],
            col.FOCUS: [row[2] for row in ROWS],
            col.SYNONYMS: [row[3] for row in ROWS],
            col.CUI: [row[4] for row in ROWS],
            col.QUESTION: [f"What is {row[2]} ?" for row in ROWS],
            col.ANSWER: [f"Made-up answer about {row[2]}." for row in ROWS],
            col.QTYPE: ["information"] * len(ROWS),
        }
    )


@pytest.fixture()
def judge(corpus: pd.DataFrame) -> RelevanceJudge:
    return RelevanceJudge(corpus)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Alzheimer's Disease", "Alzheimer disease"),
        ("Alzheimer’s disease", "ALZHEIMER DISEASE"),  # typographic apostrophe
        ("Graves' disease", "Grave's Disease"),
        ("Kidney Stones", "kidney stone"),
        ("Allergies", "allergy"),
        ("Lupus, systemic", "Systemic  lupus"),  # word order, punctuation, spacing
        ("Sjögren syndrome", "Sjogren Syndrome"),  # accents
        ("Type 2 diabetes", "Diabetes type 2"),
    ],
)
def test_names_of_one_concept_share_a_key(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Diabetes Type 1", "Diabetes Type 2"),
        ("Arthritis", "Psoriatic arthritis"),
        ("Lupus", "systemic lupus erythematosus"),  # different names: only a synonym links them
        ("Virus", "Viru"),  # "us" is not a plural ending
        ("AIDS", "aid"),  # short words keep their s
    ],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalise_name(a) != normalise_name(b)


def test_normalise_name_of_nothing_is_empty() -> None:
    assert normalise_name("  '-' ") == ""


def test_split_cuis_keeps_valid_identifiers_once() -> None:
    assert split_cuis("C0002395 c1521724,C0002395 | junk C12") == ("C0002395", "C1521724")
    assert split_cuis(None) == ()
    assert split_cuis(float("nan")) == ()


def test_alzheimers_question_accepts_ghr_and_gard_names(judge: RelevanceJudge) -> None:
    reasons = judge.reasons(expectation("Alzheimer's Disease"))
    assert reasons["mp-alz"] == BY_NAME
    # GHR's "Alzheimer disease" was a miss under exact focus matching (issue 12).
    assert reasons["ghr-alz"] == BY_NAME
    assert reasons["gard-alz"] == BY_NAME
    # Caregiving is tagged with a second concept (caregiver), so it is not the same concept.
    assert "mp-care" not in reasons
    assert not judge.is_relevant("mp-care", expectation("Alzheimer's Disease"))


def test_lupus_and_systemic_lupus_match_through_synonyms(judge: RelevanceJudge) -> None:
    lupus = judge.reasons(expectation("Lupus"))
    assert lupus == {"gard-lupus": BY_NAME, "ghr-sle": BY_SYNONYM}
    sle = judge.reasons(expectation("systemic lupus erythematosus"))
    assert sle == {"ghr-sle": BY_NAME, "gard-lupus": BY_SYNONYM}


def test_cui_counts_only_when_every_concept_of_the_pair_is_the_questions(judge: RelevanceJudge) -> None:
    reasons = judge.reasons(expectation("Diabetes"))
    assert reasons["mp-dm"] == BY_NAME
    assert reasons["mp-dm2"] == BY_CUI  # tagged C0011860 only, one of Diabetes's concepts
    # Both mention diabetes but are about more than it: not the same concept.
    assert "niddk-dhs" not in reasons
    assert "gard-rare" not in reasons


def test_explicit_cuis_replace_the_derived_ones(judge: RelevanceJudge) -> None:
    only_type_2 = Expectation(focus=("Sugar diabetes",), cuis=("C0011860",))
    assert judge.concept_cuis(only_type_2) == {"C0011860"}
    assert judge.relevant_ids(only_type_2) == {"mp-dm2"}
    # A name the corpus does not know still finds its pages by CUI.
    assert judge.relevant_ids(Expectation(focus=("nephrolithiasis",), cuis=("C0022650",))) == {"mp-kid"}


def test_derived_cuis_come_from_focus_matches(judge: RelevanceJudge) -> None:
    assert judge.concept_cuis(expectation("Diabetes")) == {"C0011860", "C0011847", "C0011849"}
    assert judge.concept_cuis(expectation("Headache")) == frozenset()  # pair without CUIs
    assert judge.relevant_ids(expectation("Headaches")) == {"mp-nocui"}  # plural by name


def test_accept_list_adds_reviewed_pages_by_name_only(judge: RelevanceJudge) -> None:
    plain = expectation("Kidney Stones")
    assert judge.relevant_ids(plain) == {"mp-kid"}
    reviewed = expectation("Kidney Stones", accept="Kidney stones in adults")
    assert judge.reasons(reviewed) == {"mp-kid": BY_NAME, "niddk-kid": BY_ACCEPT}
    caregiving = expectation("Alzheimer's Disease", accept=["Alzheimer's Caregiving"])
    assert judge.reason("mp-care", caregiving) == BY_ACCEPT


def test_unknown_topic_and_unknown_pair(judge: RelevanceJudge) -> None:
    assert judge.relevant_ids(expectation("Hay fever")) == frozenset()
    assert judge.reason("no-such-id", expectation("Lupus")) is None
    assert len(judge) == len(ROWS)


def test_expectation_from_csv_cells() -> None:
    built = expectation("Lupus | SLE; Lupus", "C0024131 C0024141", "Skin lupus")
    assert built == Expectation(focus=("Lupus", "SLE"), cuis=("C0024131", "C0024141"), accept=("Skin lupus",))
    assert built.primary == "Lupus"
    assert Expectation(focus=()).primary == ""


def test_focus_judged_csv_uses_the_judgement(corpus: pd.DataFrame) -> None:
    data = (
        b"question,focus,expected_cui,accept\n"
        b"my gran forgets everything,Alzheimer's Disease,,Alzheimer's Caregiving\n"
        b"butterfly rash and sore joints,lupus,,\n"
        b"stone in my kidney,nephrolithiasis,C0022650,\n"
    )
    evaluation = sets.from_csv(data, "mine", corpus=corpus)
    assert evaluation.relevant == (
        frozenset({"mp-alz", "ghr-alz", "gard-alz", "mp-care"}),
        frozenset({"gard-lupus", "ghr-sle"}),
        frozenset({"mp-kid"}),
    )
    assert evaluation.focus == ("Alzheimer's Disease", "lupus", "nephrolithiasis")


# ------------------------------------------------------------------------------- the scoring path


def test_first_relevant_rank_over_ids_and_merged_answers() -> None:
    assert first_relevant_rank(["x", "a", "b"], {"a", "b"}) == 2
    assert first_relevant_rank(["x", "y"], {"a"}) is None
    # An answer merging several pairs counts when any of its parts is relevant.
    assert first_relevant_rank([("x", "y"), ("z", "a")], frozenset({"a"})) == 2
    with pytest.raises(EvaluationError, match="not one string"):
        first_relevant_rank(["a"], "a")


def test_rank_metrics_by_hand() -> None:
    table = rank_metrics([1, 3, None, 12], query_ids=["q1", "q2", "q3", "q4"])
    assert table.loc["q1"].to_dict() == {
        "accuracy@1": 1.0,
        "accuracy@3": 1.0,
        "accuracy@5": 1.0,
        "accuracy@10": 1.0,
        "mrr@10": 1.0,
    }
    assert table.loc["q2", "accuracy@1"] == 0.0
    assert table.loc["q2", "accuracy@3"] == 1.0
    assert table.loc["q2", "mrr@10"] == pytest.approx(1 / 3)
    assert table.loc["q3"].sum() == 0.0
    assert table.loc["q4", "mrr@10"] == 0.0  # rank 12 is past the MRR@10 cut-off
    assert table["mrr@10"].mean() == pytest.approx((1 + 1 / 3) / 4)


@pytest.mark.parametrize("ranks", [[0], [-2], [1, 0]])
def test_rank_metrics_rejects_ranks_below_one(ranks: list[int]) -> None:
    with pytest.raises(EvaluationError, match="start at 1"):
        rank_metrics(ranks)


def test_rank_metrics_agree_with_per_query_metrics() -> None:
    rankings = [["a", "x"], ["x", "y", "z", "b"], ["x"], ["c"]]
    relevant = [{"a"}, {"b"}, {"q"}, {"c", "d"}]
    full = per_query_metrics(rankings, relevant)
    ranks = [first_relevant_rank(ranking, wanted) for ranking, wanted in zip(rankings, relevant, strict=True)]
    short = rank_metrics(ranks)
    pd.testing.assert_frame_equal(full[short.columns], short)


def test_generic_cuis_tag_no_concept(corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    # Three rows share a word-level CUI ("disease") with two unrelated topics.
    extra = pd.DataFrame(
        {
            col.ID: ["x-1", "x-2", "x-3"],
            col.SOURCE: ["GARD"] * 3,
            col.FOCUS: ["Eating Disorders", "Rare disorder A", "Rare disorder B"],
            col.SYNONYMS: [""] * 3,
            col.CUI: ["C0012634 C0013473", "C0012634", "C0012634"],
            col.QUESTION: ["q"] * 3,
            col.ANSWER: ["a"] * 3,
            col.QTYPE: ["information"] * 3,
        }
    )
    table = pd.concat([corpus, extra], ignore_index=True)
    monkeypatch.setattr("medqa.evaluation.relevance.GENERIC_CUI_FOCI", 2)
    judge = RelevanceJudge(table)
    assert "C0012634" in judge.generic_cuis  # (as is diabetes, C0011849, with three names here)
    assert judge.concept_cuis(expectation("Eating Disorders")) == {"C0013473"}
    assert judge.relevant_ids(expectation("Eating Disorders")) == {"x-1"}
    # With the threshold high, "disease" counts as a concept and drags the rare disorders in.
    monkeypatch.setattr("medqa.evaluation.relevance.GENERIC_CUI_FOCI", 40)
    assert RelevanceJudge(table).relevant_ids(expectation("Eating Disorders")) == {"x-1", "x-2", "x-3"}


def test_bracketed_abbreviations_and_synonyms_are_optional() -> None:
    assert name_keys("Tuberculosis (TB)") == {"tb tuberculosis", "tuberculosis"}
    assert name_keys("Liver (Hepatocellular) Cancer") & name_keys("Liver Cancer")
    assert name_keys("Gum (Periodontal) Disease") & name_keys("gum disease")
    assert name_keys("(   )") == frozenset()
    table = pd.DataFrame(
        {
            col.ID: ["tb-1", "tb-2"],
            col.FOCUS: ["Tuberculosis (TB)", "Tuberculosis"],
            col.SYNONYMS: ["", ""],
            col.CUI: ["", ""],
        }
    )
    assert RelevanceJudge(table).relevant_ids(expectation("Tuberculosis")) == {"tb-1", "tb-2"}


def test_niddk_booklets_are_known_by_their_topic() -> None:
    assert name_keys("Kidney Stones") <= name_keys("What I need to know about Kidney Stones")
    booklet = name_keys("What I need to know about Interstitial Cystitis/Painful Bladder Syndrome")
    assert name_keys("Interstitial Cystitis") <= booklet
    assert name_keys("painful bladder syndrome") <= booklet
    # Only the booklet title is split at its slash; other names keep it whole.
    assert not name_keys("HIV") & name_keys("HIV/AIDS")
    assert not name_keys("Kidney Stones") & name_keys("Kidney Stones in Adults")
    table = pd.DataFrame(
        {
            col.ID: ["mp-1", "nd-1", "nd-2"],
            col.FOCUS: [
                "Interstitial Cystitis",
                "What I need to know about Interstitial Cystitis/Painful Bladder Syndrome",
                "What I need to know about Kidney Stones",
            ],
            col.SYNONYMS: ["", "", ""],
            col.CUI: ["", "", ""],
        }
    )
    judge = RelevanceJudge(table)
    assert judge.relevant_ids(expectation("Interstitial Cystitis")) == {"mp-1", "nd-1"}
    assert judge.relevant_ids(expectation("Kidney Stones")) == {"nd-2"}
