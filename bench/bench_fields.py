"""Which text to embed and to index for retrieval, measured rather than guessed.

Two tasks, base model (all-MiniLM-L6-v2):

1. **curated held-out**: index the curated *train* split (400 pairs), ask the 120 *test* questions, and
   check the concept of the top hits (Accuracy@1, Accuracy@3, MRR@10; medqa.evaluation.relevance);
2. **consumer questions over the full corpus** (16.4k pairs): the hand-written plain-language questions
   of ``medqa/resources/consumer_questions.csv``, judged by concept (same focus or synonym, UMLS CUI,
   or a reviewed accept list).

Dense layouts: question only, "focus: question", answer only, "focus: question answer", at 128 and
256 tokens; BM25 layouts: question, question + focus + synonyms, question + answer, everything. Also
late fusion of a question index and an answer index. Embeddings are cached under ``data/indexes``, so a
second run only re-scores. Answer layouts on the full corpus take ~10 minutes each to embed on 2 cores.

A third part (:func:`passage_choice`, ``--passages-only``) chose the Ask default: answer passages
(several per answer, the best one scoring the pair) plus "focus: question", the passage cap and the
fusion weights, on the dev half of the consumer questions over the full corpus.

Run: ``flock /tmp/medqa-cpu.lock nice -n 5 .venv/bin/python bench/bench_fields.py [--skip-full-answers]``;
writes ``bench/results/fields.txt`` (``--passages-only``: ``bench/results/passages.txt``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from medqa.consumer_questions import load_consumer_questions
from medqa.data import schema as col
from medqa.data.store import load_corpus
from medqa.evaluation.metrics import REPORT_METRICS, display_name, first_relevant_rank, rank_metrics
from medqa.evaluation.relevance import RelevanceJudge, expectation
from medqa.retrieval.bm25 import FIELD_CHOICES as BM25_FIELDS
from medqa.retrieval.bm25 import BM25Index
from medqa.retrieval.dense import DenseIndex, DenseSettings
from medqa.retrieval.encoder import load_query_encoder
from medqa.retrieval.fusion import reciprocal_rank_fusion, top_rows

DEPTH = 10
CANDIDATES = 100
RESULTS = Path(__file__).resolve().parent / "results" / "fields.txt"


class _Tee:
    """Print and keep what was printed, for the results file."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        self.parts.append(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _line(label: str, ranks: list[int | None]) -> str:
    means = rank_metrics(ranks, accuracy_at=(1, 3), mrr_at=(10,)).mean()
    figures = "  ".join(f"{display_name(metric)} {means[metric]:.3f}" for metric in REPORT_METRICS)
    return f"  {label:<44} {figures}"


def _ranks(rankings: list[np.ndarray], ids: np.ndarray, relevant: list[frozenset[str]]) -> list[int | None]:
    """First relevant rank per question, judged by concept (medqa.evaluation.relevance)."""
    return [
        first_relevant_rank(ids[rows[:DEPTH]].tolist(), wanted)
        for rows, wanted in zip(rankings, relevant, strict=True)
    ]


def run_task(
    title: str, corpus: pd.DataFrame, questions: list[str], expected: list[list[str]], dense_layouts, out
) -> None:
    print(f"\n== {title}: {len(questions)} questions over {len(corpus):,} pairs ==", file=out, flush=True)
    ids = corpus[col.ID].astype(str).to_numpy()
    relevant = RelevanceJudge(corpus).relevant_for([expectation(names) for names in expected])
    vectors = load_query_encoder("base").encode(questions)
    dense_rankings: dict[str, list[np.ndarray]] = {}
    print(" dense (cosine):", file=out)
    for fields, length in dense_layouts:
        started = time.perf_counter()
        index = DenseIndex.build_or_load(corpus, "base", DenseSettings(fields=fields, max_seq_length=length))
        seconds = time.perf_counter() - started
        scores = [index.scores(vector) for vector in vectors]
        rankings = [top_rows(row_scores, CANDIDATES) for row_scores in scores]
        dense_rankings[f"{fields}@{length}"] = rankings
        note = "cached" if index.from_cache else f"built in {seconds:.0f} s"
        print(_line(f"{fields} @{length} ({note})", _ranks(rankings, ids, relevant)), file=out, flush=True)
    print(" BM25:", file=out)
    bm25_rankings: dict[str, list[np.ndarray]] = {}
    for fields in BM25_FIELDS:
        index = BM25Index(corpus, fields)
        rankings = [
            top_rows(index.scores(question), CANDIDATES, positive_only=True) for question in questions
        ]
        bm25_rankings[fields] = rankings
        print(_line(fields, _ranks(rankings, ids, relevant)), file=out, flush=True)
    print(" fusion (RRF, k=60):", file=out)

    def fused(*rankings_lists: list[np.ndarray]) -> list[np.ndarray]:
        return [
            np.array(
                [row for row, _ in reciprocal_rank_fusion([r.tolist() for r in parts])[:DEPTH]],
                dtype=np.int64,
            )
            for parts in zip(*rankings_lists, strict=True)
        ]

    combos = [
        ("focus_question@256", "question_focus_synonyms"),
        ("question@256", "question_focus_synonyms"),
        ("focus_question@256", "all"),
    ]
    for extra in ("answer@128", "focus_question_answer@128", "focus_question_answer@256"):
        if extra in dense_rankings:
            combos.append((extra, "question_focus_synonyms"))
    for dense_name, bm25_name in combos:
        if dense_name in dense_rankings:
            rankings = fused(dense_rankings[dense_name], bm25_rankings[bm25_name])
            print(_line(f"dense {dense_name} + bm25 {bm25_name}", _ranks(rankings, ids, relevant)), file=out)
    if "answer@128" in dense_rankings:
        rankings = fused(
            dense_rankings["focus_question@256"], dense_rankings["answer@128"],
            bm25_rankings["question_focus_synonyms"],
        )  # fmt: skip
        print(_line("dense focus_question + dense answer + bm25", _ranks(rankings, ids, relevant)), file=out)
        rankings = fused(dense_rankings["focus_question@256"], dense_rankings["answer@128"])
        print(_line("dense focus_question + dense answer", _ranks(rankings, ids, relevant)), file=out)


#: Passage caps compared by :func:`passage_choice` (0: every passage) and the fusion grid searched. Only
#: the first passage was measured so far: embedding the later ones (2.6M more tokens) did not fit in the
#: session's CPU time on the shared 2-core machine; add 2, 3, 0 to compare them.
PASSAGE_CAPS = (1,)
DENSE_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
RRF_KS = (5, 10, 30, 60)
FUSION_CANDIDATES = (20, 50, 100)


def passage_choice(out, split: str = "consumer-dev", caps: tuple[int, ...] = PASSAGE_CAPS) -> None:
    """The default index and fusion, chosen on the consumer dev half over the full corpus.

    For each passage cap (``DenseSettings.max_passages``): dense alone, hybrid with the previous
    fusion settings (weights 1/1, k=60, 100 candidates), and the best hybrid of the grid
    (dense weight x rrf_k x candidates; BM25 weight 1) by the mean of Accuracy@1 and Accuracy@3 (the
    page shows three answers). "focus: question" alone is the previous default, for reference.
    Indexes reuse each other's embeddings (a cap is a subset of the uncapped index), so only the
    uncapped one costs embedding time.
    """
    from dataclasses import replace

    from medqa.evaluation.sets import load_set

    corpus = load_corpus("full")
    eval_set = load_set(split, corpus=corpus)
    ids = corpus[col.ID].astype(str).to_numpy()
    queries = list(eval_set.queries)
    print(
        f"\n== passages and fusion on {eval_set.label} over {len(corpus):,} pairs ==",
        file=out,
    )
    vectors = load_query_encoder("base").encode(queries)
    bm25 = BM25Index(corpus, "all")
    lexical = [top_rows(bm25.scores(query), max(FUSION_CANDIDATES), positive_only=True) for query in queries]

    def ranks(rankings) -> list[int | None]:
        return _ranks(rankings, ids, list(eval_set.relevant))

    layouts = [("focus: question (previous default)", DenseSettings(fields="focus_question"))]
    layouts += [
        (f"passages, cap {cap or 'none'}", replace(DenseSettings(), max_passages=cap)) for cap in caps
    ]
    for label, settings in layouts:
        started = time.perf_counter()
        index = DenseIndex.build_or_load(corpus, "base", settings)
        note = "cached" if index.from_cache else f"built in {time.perf_counter() - started:.0f} s"
        dense = [top_rows(index.scores(vector), max(FUSION_CANDIDATES)) for vector in vectors]
        print(f" {label} ({index.texts:,} texts, {note}):", file=out)
        print(_line("dense", ranks(dense)), file=out)
        grid = []
        for weight in DENSE_WEIGHTS:
            for k in RRF_KS:
                for candidates in FUSION_CANDIDATES:
                    fused = [
                        np.array(
                            [row for row, _ in reciprocal_rank_fusion(
                                [d[:candidates].tolist(), b[:candidates].tolist()], weights=[weight, 1.0], k=k
                            )[:DEPTH]],
                            dtype=np.int64,
                        )
                        for d, b in zip(dense, lexical, strict=True)
                    ]  # fmt: skip
                    means = rank_metrics(ranks(fused), accuracy_at=(1, 3), mrr_at=(10,)).mean()
                    grid.append(
                        ((means["accuracy@1"] + means["accuracy@3"]) / 2, weight, k, candidates, fused)
                    )
        previous = next(entry for entry in grid if entry[1:4] == (1.0, 60, 100))
        print(_line("hybrid, dense weight 1, k 60, 100 candidates", ranks(previous[4])), file=out)
        best = max(grid, key=lambda entry: entry[0])  # first of equals: lower weight, k, candidates
        label = f"best hybrid: dense weight {best[1]}, k {best[2]}, {best[3]} candidates"
        print(_line(label, ranks(best[4])), file=out, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-full-answers", action="store_true", help="no answer layouts on the full corpus"
    )
    parser.add_argument(
        "--passages-only", action="store_true", help="only the passage and fusion choice (dev half)"
    )
    parser.add_argument(
        "--caps", default=",".join(map(str, PASSAGE_CAPS)),
        help="passage caps to compare, e.g. 1,2 (0: every passage)",
    )  # fmt: skip
    arguments = parser.parse_args()
    caps = tuple(int(cap) for cap in arguments.caps.split(","))
    out = _Tee()
    if arguments.passages_only:
        passage_choice(out, caps=caps)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.with_name("passages.txt").write_text("".join(out.parts), encoding="utf-8")
        return
    curated = load_corpus("curated")
    train = curated[curated[col.SPLIT] == col.TRAIN].reset_index(drop=True)
    test = curated[curated[col.SPLIT] == col.TEST].reset_index(drop=True)
    all_layouts = [
        ("question", 256), ("focus_question", 256), ("answer", 128), ("answer", 256),
        ("focus_question_answer", 128), ("focus_question_answer", 256),
    ]  # fmt: skip
    run_task(
        "curated held-out (index train split, ask test questions, judged by concept)",
        train, test[col.QUESTION].tolist(), [[focus] for focus in test[col.FOCUS]], all_layouts, out,
    )  # fmt: skip
    consumer = load_consumer_questions()
    full_layouts = [("question", 256), ("focus_question", 256)]
    if not arguments.skip_full_answers:
        full_layouts += [("answer", 128), ("focus_question_answer", 128)]
    run_task(
        "consumer questions, full corpus (judged by concept)",
        load_corpus("full"), consumer["question"].tolist(), consumer["expected_focus"].tolist(), full_layouts, out,
    )  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("".join(out.parts), encoding="utf-8")


if __name__ == "__main__":
    main()
