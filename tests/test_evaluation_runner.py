"""The evaluation runner: system specs, scoring, caching, comparisons and breakdowns."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from medqa.data import schema as col
from medqa.errors import EvaluationError
from medqa.evaluation import runner, sets
from medqa.evaluation.metrics import metric_names
from medqa.retrieval import dense
from tests.test_evaluation_sets import make_pairs

#: A corpus written for these tests: three areas, answers with distinct vocabulary.
ROWS = [
    ("g-1", "Gout", "information", "What is gout ?", "Crystals of uric acid collect inside a joint.", "train"),
    ("g-2", "Gout", "treatment", "How is gout treated ?", "Anti-inflammatory tablets and ice ease the flare.", "test"),
    ("g-3", "Gout", "causes", "What causes gout ?", "Purine rich food and kidneys that clear urate slowly.", "train"),
    ("a-1", "Asthma", "information", "What is asthma ?", "Long-lasting inflammation narrows the bronchial tubes.", "train"),
    ("a-2", "Asthma", "symptoms", "What are the symptoms of asthma ?", "Wheezing, coughing at night and a tight chest.", "test"),
    ("a-3", "Asthma", "treatment", "How is asthma treated ?", "Inhalers with steroids calm the bronchial tubes.", "train"),
    ("s-1", "Shingles", "information", "What is shingles ?", "A painful blistering rash from the dormant chickenpox virus.", "train"),
    ("s-2", "Shingles", "symptoms", "What are the signs of shingles ?", "Burning skin then a stripe of blisters on one side.", "test"),
    ("s-3", "Shingles", "prevention", "How to prevent shingles ?", "A vaccine lowers the chance of the rash returning.", "train"),
]  # fmt: skip


@pytest.fixture
def corpus() -> pd.DataFrame:
    return make_pairs(ROWS)


@pytest.fixture
def held_out(corpus: pd.DataFrame) -> sets.EvaluationSet:
    return sets.heldout("mine", corpus=corpus)


def focus_set(corpus: pd.DataFrame) -> sets.EvaluationSet:
    data = (
        b"query,focus\n"
        b"my big toe is swollen and red,Gout\n"
        b"wheezing when i run,Asthma\n"
        b"stripe of blisters on my back,Shingles\n"
        b"can gout come back,Gout\n"
    )
    return sets.from_csv(data, "mine", corpus=corpus)


class FakeRankers:
    """Rankings chosen by the test instead of a model: ``plans[spec][query_index]`` = corpus rows."""

    plans: ClassVar[dict[str, list[list[int]]]] = {}
    calls: ClassVar[list[str]] = []
    isolated: ClassVar[bool | None] = None
    correct_spelling: ClassVar[bool | None] = None

    def __init__(
        self,
        corpus: pd.DataFrame,
        documents: str,
        progress: runner.ProgressCallback,
        *,
        isolated: bool,
        correct_spelling: bool,
    ) -> None:
        self.progress = progress
        FakeRankers.isolated = isolated
        FakeRankers.correct_spelling = correct_spelling

    def rank(self, system: runner.System, queries: list[str]) -> list[list[int]]:
        FakeRankers.calls.append(system.spec)
        for done in (0, 1, 2):  # as an index build reports its own 0..1 progress
            self.progress(done / 2, f"{system.spec}: embedding the corpus ({done} of 2)")
        return FakeRankers.plans[system.spec]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, workdirs: Path) -> type[FakeRankers]:
    monkeypatch.setattr(runner, "_Rankers", FakeRankers)
    monkeypatch.setattr(runner, "model_key", lambda system: f"fake:{system.spec}")
    FakeRankers.plans = {}
    FakeRankers.calls = []
    return FakeRankers


# ---- system specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "label", "mode", "model"),
    [
        ("bm25", "BM25", "bm25", None),
        ("BM25", "BM25", "bm25", None),
        ("base", "base", "dense", "base"),
        ("models/run-1", "run-1", "dense", "models/run-1"),
        ("/tmp/models/run-2/", "run-2", "dense", "/tmp/models/run-2/"),
        ("run-3", "run-3", "dense", "run-3"),
        ("hybrid:base", "hybrid (base)", "hybrid", "base"),
        ("hybrid:models/run-1", "hybrid (run-1)", "hybrid", "models/run-1"),
        ("dense:base", "base", "dense", "base"),
    ],
)
def test_parse_system(spec: str, label: str, mode: str, model: str | None) -> None:
    system = runner.parse_system(spec)
    assert (system.label, system.mode, system.model) == (label, mode, model)


def test_parse_systems_drops_repeats_and_rejects_clashing_labels() -> None:
    assert [s.label for s in runner.parse_systems(["base", "bm25", "base", "dense:base"])] == ["base", "BM25"]
    with pytest.raises(EvaluationError, match="both be shown as 'run'"):
        runner.parse_systems(["a/run", "b/run"])
    with pytest.raises(EvaluationError, match="at least one"):
        runner.parse_systems([])
    with pytest.raises(EvaluationError, match="names no model"):
        runner.parse_system("hybrid:")
    with pytest.raises(EvaluationError, match="empty"):
        runner.parse_system("  ")


def test_compare_starts_with_the_ask_pipeline_base_against_the_newest_run() -> None:
    assert runner.default_systems(["newest", "older"]) == ["hybrid:base", "hybrid:newest"]
    assert runner.default_systems([]) == ["bm25", "base"]


def test_available_systems_lists_runs_and_hybrids() -> None:
    assert runner.available_systems(["run-1"]) == ["bm25", "base", "run-1", "hybrid:base", "hybrid:run-1"]


# ---- scoring, with rankings chosen by the test ------------------------------------------------


def test_scores_known_rankings_and_keeps_per_query_results(
    fake: type[FakeRankers], corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    # Held-out queries: g-2 (row 1), a-2 (row 4), s-2 (row 7).
    fake.plans = {
        "sys-a": [[1, 0], [0, 4], [0, 2, 3]],  # ranks 1, 2, miss
        "sys-b": [[1], [4], [7]],  # ranks 1, 1, 1
    }
    result = runner.evaluate(["sys-a", "sys-b"], held_out, "mine", corpus=corpus, n_resamples=200)
    a = result.runs["sys-a"].per_query
    assert a["first_relevant_rank"].tolist() == [1, 2, pd.NA]
    assert a["mrr@10"].tolist() == [1.0, 0.5, 0.0]
    assert a["accuracy@1"].tolist() == [1.0, 0.0, 0.0]
    assert a.loc["a-2", "top1_id"] == "g-1"
    assert a.loc["a-2", "top1_answer"] == ROWS[0][4]
    assert a.loc["a-2", "top1_question"] == "What is gout ?"
    assert a.loc["a-2", "top1_focus"] == "Gout"
    summary = result.summary.set_index("system")
    assert summary.loc["sys-a", "mrr@10"] == pytest.approx(0.5)
    assert summary.loc["sys-b", "mrr@10"] == pytest.approx(1.0)
    assert summary.loc["sys-a", "mrr@10 low"] <= 0.5 <= summary.loc["sys-a", "mrr@10 high"]
    assert summary.loc["sys-b", "accuracy@1 low"] == summary.loc["sys-b", "accuracy@1 high"] == 1.0
    assert set(metric_names()) <= set(summary.columns)

    assert result.reference == "sys-a"
    assert [(c.system_a, c.system_b, c.metric) for c in result.comparisons] == [
        ("sys-a", "sys-b", "mrr@10"),
        ("sys-a", "sys-b", "accuracy@3"),
    ]
    mrr = result.comparison("sys-b", "mrr@10")
    assert mrr is not None and mrr.difference == pytest.approx(0.5)
    assert (mrr.wins, mrr.losses, mrr.ties) == (2, 0, 1)
    assert result.outcome_counts("sys-a", "sys-b") == {"wins": 2, "losses": 0, "ties": 1}
    assert len(result.verdicts()) == 2

    table = result.per_query_table()
    assert len(table) == 6
    assert list(table.columns[:6]) == ["system", "query_id", "query", "focus", "qtype", "relevant"]


def test_disagreements_show_both_top_answers(
    fake: type[FakeRankers], corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    fake.plans = {"sys-a": [[1], [0, 4], [7]], "sys-b": [[0, 1], [4], [7]]}
    result = runner.evaluate(["sys-a", "sys-b"], held_out, corpus=corpus, n_resamples=200)
    table = result.disagreements("sys-a", "sys-b")
    assert list(table.index) == ["g-2", "a-2"]  # s-2 ties; |difference| 0.5 both, stable order
    assert table.loc["a-2", "outcome"] == "win"
    assert table.loc["g-2", "outcome"] == "loss"
    assert table.loc["a-2", "top answer (sys-a)"] == ROWS[0][4]
    assert table.loc["a-2", "top answer (sys-b)"] == ROWS[4][4]
    assert table.loc["g-2", "rank (sys-b)"] == 2


def test_spread_and_category_comparison(fake: type[FakeRankers], corpus: pd.DataFrame) -> None:
    evaluation = focus_set(corpus)
    # Relevant rows: gout 0-2, asthma 3-5, shingles 6-8.
    fake.plans = {
        "sys-a": [[0], [0, 3], [6], [3, 4, 1]],  # gout 1, asthma 0.5, shingles 1, gout 1/3
        "sys-b": [[3, 0], [3], [6], [0]],  # gout 0.5, asthma 1, shingles 1, gout 1
    }
    result = runner.evaluate(["sys-a", "sys-b"], evaluation, corpus=corpus, n_resamples=200)
    assert result.documents == runner.DOCUMENTS_ENGINE
    spread = result.spread_table(by="focus")
    assert spread["group"].tolist() == ["Asthma", "Gout", "Shingles"]  # sorted by the reference's mean
    assert spread.set_index("group").loc["Gout", "sys-a"] == pytest.approx((1 + 1 / 3) / 2)
    assert spread.set_index("group").loc["Gout", "n"] == 2
    categories = result.category_comparison("sys-a", "sys-b")
    assert categories["group"].tolist() == ["Shingles", "Gout", "Asthma"]  # ascending difference
    assert categories["difference"].tolist() == pytest.approx([0.0, 0.75 - 2 / 3, 0.5])
    balance = result.balance(by="focus").set_index("system")
    assert balance.loc["sys-a", "min"] == pytest.approx(0.5)
    assert balance.loc["sys-a", "max"] == pytest.approx(1.0)
    assert balance.loc["sys-a", "worst"].startswith("Asthma")
    by_type = result.spread_table(by="qtype")
    assert by_type["group"].tolist() == ["(unknown)"] or "" in by_type["group"].tolist()


def test_results_are_cached_and_corrupt_cache_is_recomputed(
    fake: type[FakeRankers], corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    fake.plans = {"sys-a": [[1], [4], [7]], "sys-b": [[0], [4], [7]]}
    first = runner.evaluate(["sys-a", "sys-b"], held_out, corpus=corpus, n_resamples=200)
    assert not first.all_cached
    assert fake.calls == ["sys-a", "sys-b"]
    assert runner.is_cached(["sys-a", "sys-b"], held_out, corpus=corpus)
    assert not runner.is_cached(["sys-a", "sys-c"], held_out, corpus=corpus)

    again = runner.evaluate(["sys-b", "sys-a"], held_out, corpus=corpus, n_resamples=200)
    assert again.all_cached
    assert fake.calls == ["sys-a", "sys-b"]  # nothing ran again
    pd.testing.assert_frame_equal(again.runs["sys-a"].per_query, first.runs["sys-a"].per_query)
    assert again.reference == "sys-b"

    path = runner.evaluations_dir() / f"{first.runs['sys-a'].cache_key}.parquet"
    path.write_bytes(b"not a parquet file")
    third = runner.evaluate(["sys-a", "sys-b"], held_out, corpus=corpus, n_resamples=200)
    assert not third.runs["sys-a"].cached and third.runs["sys-b"].cached
    assert fake.calls == ["sys-a", "sys-b", "sys-a"]
    pd.testing.assert_frame_equal(third.runs["sys-a"].per_query, first.runs["sys-a"].per_query)


def test_cache_key_changes_with_set_corpus_and_mode(
    corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    bm25 = runner.parse_system("bm25")
    key = runner.cache_key(bm25, held_out, "corpus-1", runner.DOCUMENTS_ANSWER)
    assert key == runner.cache_key(bm25, held_out, "corpus-1", runner.DOCUMENTS_ANSWER)
    assert key != runner.cache_key(bm25, held_out, "corpus-2", runner.DOCUMENTS_ANSWER)
    assert key != runner.cache_key(bm25, held_out, "corpus-1", runner.DOCUMENTS_ENGINE)
    assert key != runner.cache_key(bm25, focus_set(corpus), "corpus-1", runner.DOCUMENTS_ANSWER)
    assert key != runner.cache_key(
        bm25, held_out, "corpus-1", runner.DOCUMENTS_ANSWER, correct_spelling=False
    )


def test_reference_and_corpus_must_match(
    fake: type[FakeRankers], corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    fake.plans = {"sys-a": [[1], [4], [7]], "sys-b": [[0], [4], [7]]}
    with pytest.raises(EvaluationError, match="built for corpus 'mine'"):
        runner.evaluate(["sys-a"], held_out, "full", corpus=corpus)
    with pytest.raises(EvaluationError, match="reference system 'nope'"):
        runner.evaluate(["sys-a", "sys-b"], held_out, corpus=corpus, reference="nope")
    single = runner.evaluate(["sys-a"], held_out, corpus=corpus, n_resamples=200)
    assert single.comparisons == []


def test_progress_is_reported(
    fake: type[FakeRankers], corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    fake.plans = {"sys-a": [[1], [4], [7]], "sys-b": [[0], [4], [7]]}
    seen: list[tuple[float, str]] = []
    runner.evaluate(
        ["sys-a", "sys-b"], held_out, corpus=corpus, n_resamples=200,
        progress=lambda fraction, message: seen.append((fraction, message)),
    )  # fmt: skip
    fractions = [fraction for fraction, _ in seen]
    # The index progress of each system fills its own half of the bar: never backwards.
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert (0.25, "sys-a: embedding the corpus (1 of 2)") in seen
    assert (0.75, "sys-b: embedding the corpus (1 of 2)") in seen
    assert any("sys-b" in message for _, message in seen)
    assert fake.isolated is False  # library callers build in process; the Compare page asks for a child
    runner.evaluate(
        ["sys-a", "sys-b"], held_out, corpus=corpus, n_resamples=200, use_cache=False, isolated=True
    )
    assert fake.isolated is True and fake.correct_spelling is True  # questions searched as the Ask page does
    runner.evaluate(
        ["sys-a"], held_out, corpus=corpus, n_resamples=200, use_cache=False, correct_spelling=False
    )
    assert fake.correct_spelling is False


# ---- real BM25 (no model) ----------------------------------------------------------------------


def test_bm25_on_heldout_matches_answer_text_only(workdirs: Path, corpus: pd.DataFrame) -> None:
    """Held-out questions are in the corpus: only answers may be matched, or retrieval is a lookup."""
    evaluation = sets.heldout("mine", corpus=corpus)
    result = runner.evaluate(["bm25"], evaluation, corpus=corpus, n_resamples=200)
    assert result.documents == runner.DOCUMENTS_ANSWER
    per_query = result.runs["BM25"].per_query
    # "What are the signs of shingles ?" shares no word with any answer (only with the questions).
    assert per_query.loc["s-2", "top1_id"] == ""
    assert pd.isna(per_query.loc["s-2", "first_relevant_rank"])
    # "What are the symptoms of asthma ?": "asthma" and "symptoms" appear in no answer either.
    assert per_query.loc["a-2", "mrr@10"] == 0.0


def test_bm25_on_focus_set_uses_the_engine_fields(workdirs: Path, corpus: pd.DataFrame) -> None:
    evaluation = sets.from_csv(
        b"query,focus\nwhat helps gout,Gout\nasthma inhaler,Asthma\n", "mine", corpus=corpus
    )
    result = runner.evaluate(["bm25"], evaluation, corpus=corpus, n_resamples=200)
    per_query = result.runs["BM25"].per_query
    assert per_query["accuracy@1"].tolist() == [1.0, 1.0]  # matched through question and focus words
    assert per_query.loc["row-1", "top1_focus"] == "Gout"


def test_bm25_searches_as_the_ask_page_spells(workdirs: Path, corpus: pd.DataFrame) -> None:
    evaluation = sets.from_csv(b"query,focus\nis asthmma inherited,Asthma\n", "mine", corpus=corpus)
    corrected = runner.evaluate(["bm25"], evaluation, corpus=corpus, n_resamples=200)
    as_typed = runner.evaluate(["bm25"], evaluation, corpus=corpus, n_resamples=200, correct_spelling=False)
    assert corrected.runs["BM25"].per_query["accuracy@1"].tolist() == [1.0]
    assert as_typed.runs["BM25"].per_query["accuracy@1"].tolist() == [0.0]
    assert not as_typed.all_cached  # the two readings are cached apart


def test_answer_view_hides_questions_and_keeps_the_focus_for_the_ranking_policies(
    corpus: pd.DataFrame,
) -> None:
    view = runner._document_view(corpus, runner.DOCUMENTS_ANSWER)
    assert view[col.QUESTION].tolist() == corpus[col.ANSWER].tolist()
    # The specialist re-ranking exempts the pages of a condition the question names, as on the Ask page.
    assert view[col.FOCUS].tolist() == corpus[col.FOCUS].tolist()
    assert runner._document_view(corpus, runner.DOCUMENTS_ENGINE) is corpus


def test_an_estimate_counts_ranking_and_says_when_everything_is_cached(
    workdirs: Path, corpus: pd.DataFrame, held_out: sets.EvaluationSet
) -> None:
    plan = runner.estimate(["bm25"], held_out, corpus=corpus)
    assert plan.systems_to_run == ("BM25",) and not plan.to_embed and not plan.cached
    assert plan.seconds == pytest.approx(
        len(held_out) * (runner.RANK_SECONDS["bm25"] + runner.RANK_SECONDS_PER_PAIR["bm25"] * len(corpus))
    )
    assert (
        plan.describe()
        == "This takes a few seconds: the search indexes are cached, only the questions are ranked."
    )
    runner.evaluate(["bm25"], held_out, corpus=corpus, n_resamples=100)
    plan = runner.estimate(["bm25"], held_out, corpus=corpus)
    assert plan.cached and plan.seconds == 0 and plan.describe().startswith("Every result is cached")


def test_an_estimate_names_the_indexes_to_build_and_their_work() -> None:
    plan = runner.EvaluationEstimate(
        seconds=400.0, to_embed={"base": 1_500_000, "my-run": 1_500_000}, systems_to_run=("base", "my-run"),
        tokens_per_second=7_500.0,
    )  # fmt: skip
    assert plan.describe() == (
        "This takes about 7 min: base and my-run need a search index of this corpus first (about 3.0 "
        "million tokens to embed at 7,500 tokens/s, this machine's last build)."
    )
    small = runner.EvaluationEstimate(seconds=12.0, to_embed={"base": 900}, systems_to_run=("base",),
                                      tokens_per_second=5_000.0, rate_measured=False)  # fmt: skip
    assert small.describe() == "This takes about 12 s: base needs a search index of this corpus first."
    assumed = runner.EvaluationEstimate(seconds=60.0, to_embed={"base": 200_000}, systems_to_run=("base",),
                                        tokens_per_second=5_000.0, rate_measured=False)  # fmt: skip
    assert assumed.describe().endswith("at 5,000 tokens/s, assumed until this machine builds one).")


# ---- with the real model -----------------------------------------------------------------------


@pytest.mark.model
def test_base_dense_and_hybrid_on_a_small_corpus(
    workdirs: Path, corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluation = sets.heldout("mine", corpus=corpus)
    plan = runner.estimate(["bm25", "base", "hybrid:base"], evaluation, corpus=corpus)
    # One index to build (the answers' texts, for the base model: hybrid shares it), three systems to run.
    view = runner._document_view(corpus, runner.DOCUMENTS_ANSWER)
    tokens = dense.approximate_tokens(
        list(dict.fromkeys(view[col.ANSWER])), dense.DenseSettings().max_seq_length
    )
    assert plan.to_embed == {"base": tokens} and len(plan.systems_to_run) == 3
    assert not plan.rate_measured and plan.tokens_per_second == dense.DEFAULT_TOKENS_PER_SECOND
    per_question = {kind: runner.RANK_SECONDS[kind] + runner.RANK_SECONDS_PER_PAIR[kind] * len(corpus)
                    for kind in ("bm25", "dense")}  # fmt: skip
    assert plan.seconds == pytest.approx(
        tokens / plan.tokens_per_second + runner.ENGINE_LOAD_SECONDS
        + len(evaluation) * (per_question["bm25"] + 2 * per_question["dense"])
    )  # fmt: skip
    # The page builds it in the background first: one build for the model's dense and hybrid systems,
    # from what the estimate counted (the corpus view is not made again).
    made: list[object] = []
    real_of = runner._Work.of
    monkeypatch.setattr(runner._Work, "of", lambda *args: made.append(1) or real_of(*args))
    started = runner.start_index_builds(plan)
    assert made == [] and [build.label for build in started] == [
        "the mine corpus's answers · base (for Compare)"
    ]
    assert started[0].wait(300) and started[0].error is None
    assert runner.estimate(["base"], evaluation, corpus=corpus).to_embed == {}
    assert runner.start_index_builds(runner.estimate(["base"], evaluation, corpus=corpus)) == []
    with pytest.raises(ValueError, match="estimate"):
        runner.start_index_builds(replace(plan, _work=None))
    result = runner.evaluate(["bm25", "base", "hybrid:base"], evaluation, corpus=corpus, n_resamples=500)
    assert result.labels == ["BM25", "base", "hybrid (base)"]
    base = result.runs["base"].per_query
    # The model links "signs of shingles" to the blister answer without shared words.
    assert base.loc["s-2", "first_relevant_rank"] <= 3
    assert base["mrr@10"].mean() > result.runs["BM25"].per_query["mrr@10"].mean()
    assert runner.is_cached(["bm25", "base", "hybrid:base"], evaluation, corpus=corpus)
    assert runner.estimate(["bm25", "base", "hybrid:base"], evaluation, corpus=corpus).cached
    assert runner.evaluate(["base", "hybrid:base"], evaluation, corpus=corpus, n_resamples=500).all_cached
