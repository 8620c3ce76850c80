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

Run: ``flock /tmp/medqa-cpu.lock nice -n 5 .venv/bin/python bench/bench_fields.py [--skip-full-answers]``;
writes ``bench/results/fields.txt``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-full-answers", action="store_true", help="no answer layouts on the full corpus"
    )
    arguments = parser.parse_args()
    out = _Tee()
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
