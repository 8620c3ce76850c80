"""Tests for medqa.evaluation.metrics: hand-computed cases and agreement with sentence-transformers."""

from __future__ import annotations

import logging
import math
import random

import pandas as pd
import pytest

from medqa.errors import EvaluationError
from medqa.evaluation.metrics import aggregate, display_name, metric_names, per_query_metrics


def one(ranking: list[str], relevant: set[str], **kw) -> pd.Series:
    """Metrics of a single query as a Series."""
    return per_query_metrics([ranking], [relevant], **kw).iloc[0]


def test_relevant_at_rank_two_by_hand():
    row = one(["x", "a", "y"], {"a"})
    # accuracy@k: the hit is at rank 2, so 0 at k=1 and 1 from k=3 on.
    assert row["accuracy@1"] == 0.0
    assert row["accuracy@3"] == row["accuracy@5"] == row["accuracy@10"] == 1.0
    # precision@k = 1 hit / k (k is the divisor even past the 3 ranked ids).
    assert row["precision@1"] == 0.0
    assert row["precision@3"] == pytest.approx(1 / 3)
    assert row["precision@5"] == pytest.approx(1 / 5)
    assert row["precision@10"] == pytest.approx(1 / 10)
    # recall@k = 1 hit / 1 relevant from k=3 on.
    assert row["recall@1"] == 0.0
    assert row["recall@3"] == row["recall@10"] == 1.0
    # MRR = 1/2; nDCG = (1/log2(3)) / (1/log2(2)) = 0.6309...; MAP = (1/2) / min(100, 1) = 0.5.
    assert row["mrr@10"] == pytest.approx(0.5)
    assert row["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert row["ndcg@10"] == pytest.approx(0.6309297535714575)
    assert row["map@100"] == pytest.approx(0.5)


def test_two_of_three_relevant_by_hand():
    # Relevant {a, b, c}; ranking puts a at rank 1 and b at rank 3, c is never retrieved.
    row = one(["a", "x", "b", "y"], {"a", "b", "c"})
    assert row["accuracy@1"] == 1.0
    assert row["precision@1"] == 1.0
    assert row["precision@3"] == pytest.approx(2 / 3)  # 2 hits in top 3
    assert row["precision@5"] == pytest.approx(2 / 5)
    assert row["recall@1"] == pytest.approx(1 / 3)
    assert row["recall@3"] == pytest.approx(2 / 3)  # c is missing
    assert row["mrr@10"] == 1.0
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4) = 2.1309...
    assert row["ndcg@10"] == pytest.approx(1.5 / (1 + 1 / math.log2(3) + 0.5))
    assert row["ndcg@10"] == pytest.approx(0.7039180890341347)
    # AP = (P@1 + P@3) / min(100, 3) = (1 + 2/3) / 3 = 5/9.
    assert row["map@100"] == pytest.approx(5 / 9)


def test_small_cutoffs_use_min_of_k_and_relevant_count():
    row = one(["a", "b", "x"], {"a", "b", "c"}, mrr_at=(1,), ndcg_at=(2,), map_at=(2,))
    # Both top-2 slots hold relevant ids: ideal DCG@2 only counts 2 of the 3 relevant ids.
    assert row["ndcg@2"] == pytest.approx(1.0)
    # AP@2 = (1/1 + 2/2) / min(2, 3) = 1.
    assert row["map@2"] == pytest.approx(1.0)
    assert row["mrr@1"] == 1.0


def test_first_hit_past_the_cutoff_counts_as_a_miss():
    ranking = [f"x{i}" for i in range(10)] + ["a"]  # a at rank 11
    row = one(ranking, {"a"})
    assert row["accuracy@10"] == 0.0
    assert row["mrr@10"] == 0.0
    assert row["ndcg@10"] == 0.0
    assert row["recall@10"] == 0.0
    assert row["map@100"] == pytest.approx(1 / 11)  # P@11 = 1/11, one relevant id


def test_no_hits_gives_zeros():
    row = one(["x", "y", "z"], {"a", "b"})
    assert (row == 0.0).all()


def test_all_hits():
    row = one(["a", "b"], {"a", "b"})
    for name in ("accuracy@1", "accuracy@10", "recall@3", "recall@10", "mrr@10", "ndcg@10", "map@100"):
        assert row[name] == pytest.approx(1.0), name
    assert row["precision@1"] == 1.0
    assert row["precision@3"] == pytest.approx(2 / 3)  # only 2 ids ranked, divisor is still k
    assert row["precision@10"] == pytest.approx(0.2)


def test_empty_ranking_and_k_larger_than_list():
    assert (one([], {"a"}) == 0.0).all()
    row = one(["a"], {"a"}, map_at=(1000,))
    assert row["precision@10"] == pytest.approx(0.1)
    assert row["map@1000"] == 1.0
    assert row["ndcg@10"] == 1.0


def test_duplicates_in_ranking_count_once():
    # [x, x, a] is read as [x, a]: the relevant id sits at rank 2.
    row = one(["x", "x", "a"], {"a"})
    assert row["mrr@10"] == pytest.approx(0.5)
    assert row["ndcg@10"] == pytest.approx(1 / math.log2(3))
    # [a, a] is read as [a]: one hit, not two, so recall stays at 1 and precision@3 is 1/3.
    row = one(["a", "a"], {"a"})
    assert row["precision@3"] == pytest.approx(1 / 3)
    assert row["recall@3"] == 1.0
    assert row["map@100"] == 1.0


def test_relevant_may_be_any_iterable_of_ids():
    as_list = one(["x", "a"], ["a", "b"])
    as_set = one(["x", "a"], {"a", "b"})
    pd.testing.assert_series_equal(as_list, as_set)


def test_columns_index_and_aggregate():
    df = per_query_metrics([["a"], ["x", "a"]], [{"a"}, {"a"}], query_ids=["q1", "q2"])
    assert list(df.index) == ["q1", "q2"]
    assert df.index.name == "query_id"
    assert list(df.columns) == [
        *(f"accuracy@{k}" for k in (1, 3, 5, 10)),
        *(f"precision@{k}" for k in (1, 3, 5, 10)),
        *(f"recall@{k}" for k in (1, 3, 5, 10)),
        "mrr@10",
        "ndcg@10",
        "map@100",
    ]
    means = aggregate(df)
    assert means["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert means["accuracy@1"] == pytest.approx(0.5)
    assert set(metric_names()) <= set(means)


def test_query_without_relevant_ids_is_left_out(caplog):
    with caplog.at_level(logging.WARNING, logger="medqa.evaluation.metrics"):
        df = per_query_metrics(
            [["a"], ["b"], ["x", "c"]], [{"a"}, set(), {"c"}], query_ids=["q1", "q2", "q3"]
        )
    assert list(df.index) == ["q1", "q3"]
    assert "1 of 3 queries have no relevant answer" in caplog.text
    assert aggregate(df)["mrr@10"] == pytest.approx((1 + 0.5) / 2)


def test_aggregate_of_nothing_raises():
    df = per_query_metrics([["a"]], [set()])
    assert len(df) == 0
    with pytest.raises(EvaluationError):
        aggregate(df)


@pytest.mark.parametrize(
    ("ranked", "relevant", "kw"),
    [
        ([["a"]], [{"a"}, {"b"}], {}),
        ([["a"]], [{"a"}], {"query_ids": ["q1", "q2"]}),
        ([["a"], ["b"]], [{"a"}, {"b"}], {"query_ids": ["q1", "q1"]}),
        ([["a"]], [{"a"}], {"mrr_at": (0,)}),
        ([["a"]], [{"a"}], {"ndcg_at": (-1,)}),
        ([["a"]], [{"a"}], {"map_at": (2.5,)}),
        ([["a"]], [{"a"}], {"accuracy_at": (True,)}),
        (["abc"], [{"a"}], {}),
        ([["a"]], ["a"], {}),
    ],
)
def test_bad_input_raises(ranked, relevant, kw):
    with pytest.raises(EvaluationError):
        per_query_metrics(ranked, relevant, **kw)


def test_metric_names_and_display_names():
    assert metric_names() == [
        "accuracy@1",
        "accuracy@3",
        "accuracy@5",
        "accuracy@10",
        "mrr@10",
        "ndcg@10",
        "map@100",
    ]
    assert display_name("mrr@10") == "MRR@10"
    assert display_name("ndcg@10") == "nDCG@10"
    assert display_name("accuracy@1") == "Accuracy@1"
    assert display_name("map@100") == "MAP@100"
    assert display_name("recall@5") == "Recall@5"
    assert display_name("latency") == "latency"


# --- agreement with sentence-transformers' own implementation ------------------------------------


@pytest.fixture(scope="module")
def st_evaluator_class():
    pytest.importorskip("sentence_transformers")
    try:  # sentence-transformers >= 6 moved the evaluators; the old path still works with a warning
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.evaluation import InformationRetrievalEvaluator
    return InformationRetrievalEvaluator


KS = {
    "accuracy_at": (1, 2, 3, 5, 10),
    "precision_recall_at": (1, 2, 3, 5, 10),
    "mrr_at": (1, 3, 10),
    "ndcg_at": (1, 3, 5, 10),
    "map_at": (2, 5, 100),
}


def st_scores(evaluator_class, rankings: dict[str, list[str]], relevant: dict[str, set[str]]):
    """Run sentence-transformers' compute_metrics on fixed rankings, without any model."""
    corpus_ids = sorted(
        {cid for r in rankings.values() for cid in r} | {c for s in relevant.values() for c in s}
    )
    evaluator = evaluator_class(
        queries={qid: f"question {qid}" for qid in rankings},
        corpus={cid: f"document {cid}" for cid in corpus_ids},
        relevant_docs=relevant,
        accuracy_at_k=list(KS["accuracy_at"]),
        precision_recall_at_k=list(KS["precision_recall_at"]),
        mrr_at_k=list(KS["mrr_at"]),
        ndcg_at_k=list(KS["ndcg_at"]),
        map_at_k=list(KS["map_at"]),
        write_csv=False,
    )
    # Distinct, strictly decreasing scores so ST's own sort keeps our order.
    results = [
        [{"corpus_id": cid, "score": 1.0 - rank / 1000} for rank, cid in enumerate(rankings[qid])]
        for qid in evaluator.queries_ids  # ST has already dropped queries without relevant ids
    ]
    scores = evaluator.compute_metrics(results)
    return {
        f"{family.removesuffix('@k')}@{k}": float(value)
        for family, by_k in scores.items()
        for k, value in by_k.items()
    }


def assert_matches_st(evaluator_class, rankings, relevant):
    qids = list(rankings)
    ours = aggregate(
        per_query_metrics(
            [rankings[q] for q in qids], [relevant.get(q, set()) for q in qids], query_ids=qids, **KS
        )
    )
    theirs = st_scores(evaluator_class, rankings, relevant)
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-9, rel=0), name


@pytest.mark.slow
def test_matches_sentence_transformers_on_hand_case(st_evaluator_class):
    rankings = {
        "q1": ["d1", "d2", "d3"],  # hit at rank 1
        "q2": ["d4", "d5", "d1", "d6"],  # hits at ranks 2 and 4 of 3 relevant
        "q3": ["d7", "d8"],  # no hit, short list
        "q4": ["d2"],  # query without relevant ids: ST drops it, so do we
        "q5": [f"d{i}" for i in range(10, 22)] + ["d1"],  # hit past rank 10
    }
    relevant = {"q1": {"d1"}, "q2": {"d5", "d6", "d9"}, "q3": {"d1"}, "q4": set(), "q5": {"d1", "d10"}}
    assert_matches_st(st_evaluator_class, rankings, relevant)


@pytest.mark.slow
def test_matches_sentence_transformers_on_random_cases(st_evaluator_class):
    rng = random.Random(7)
    corpus = [f"d{i}" for i in range(40)]
    rankings, relevant = {}, {}
    for q in range(60):
        rankings[f"q{q}"] = rng.sample(corpus, rng.randint(0, 25))  # some shorter than the cut-offs
        relevant[f"q{q}"] = set(rng.sample(corpus, rng.randint(1, 8)))
    assert_matches_st(st_evaluator_class, rankings, relevant)


def test_similarity_metrics_ranks_by_dot_product() -> None:
    import numpy as np

    from medqa.evaluation.metrics import similarity_metrics

    docs = np.array([[1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071]], dtype=np.float32)
    queries = np.array([[0.0, 1.0], [1.0, 0.1]], dtype=np.float32)
    table = similarity_metrics(queries, docs, ["a", "b", "c"], [{"c"}, {"a"}], query_ids=["q1", "q2"])
    # q1 ranks b, c, a: the relevant c is second; q2 ranks a first.
    assert table.loc["q1", "mrr@10"] == pytest.approx(0.5)
    assert table.loc["q1", "accuracy@1"] == 0.0
    assert table.loc["q2", "accuracy@1"] == 1.0
    with pytest.raises(EvaluationError, match="same width"):
        similarity_metrics(queries, docs[:, :1], ["a", "b", "c"], [{"c"}, {"a"}])
    with pytest.raises(EvaluationError, match="document ids"):
        similarity_metrics(queries, docs, ["a", "b"], [{"c"}, {"a"}])


def test_similarity_metrics_lets_the_best_passage_score_a_pair() -> None:
    import numpy as np

    from medqa.evaluation.metrics import similarity_metrics

    # Pair "p" has two passages; its second one matches the query best.
    docs = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    table = similarity_metrics(query, docs, ["p", "p", "q"], [{"p"}])
    assert table["accuracy@1"].iloc[0] == 1.0
    table = similarity_metrics(query, docs, ["p", "p", "q"], [{"q"}])
    assert table["mrr@10"].iloc[0] == pytest.approx(0.5)  # q is second: p counts once
