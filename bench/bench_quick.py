"""The first answer on a fresh server: the quick engine that answers while the index is built.

Measured on the full MedQuAD corpus with the base model (:mod:`medqa.retrieval.quick`):

* **ready**: seconds from nothing (corpus already loaded by the page) to a quick engine that answers:
  the query encoder, BM25 and the text layout, no embedding of the corpus;
* **latency** of :meth:`Engine.search` in quick mode (k=5) over the consumer dev questions, first time
  each (nothing cached) and again (text vectors cached), p50/p95;
* **quality** against the full engine on the consumer dev half (judged by concept,
  :mod:`medqa.evaluation.relevance`): Accuracy@1 and @3 of both and how often their first answers agree;
* for comparison, the time the full index takes to build (from ``bench/results/ask_build.txt``'s rate).

Goal of issue 13: a first answer within 10 s of the data being loaded.
Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_quick.py``; writes ``bench/results/quick.txt``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from medqa.data import schema as col
from medqa.data import store
from medqa.evaluation import sets
from medqa.evaluation.metrics import per_query_metrics
from medqa.retrieval.engine import Engine

RESULTS = ROOT / "bench" / "results" / "quick.txt"
FIRST_ANSWER_GOAL_S = 10.0


def main() -> None:
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(
        f"load average at start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}; {os.cpu_count()} CPUs"
    )
    corpus = store.load_corpus(store.FULL)
    eval_set = sets.load_set(sets.CONSUMER_DEV, corpus=corpus)
    started = time.perf_counter()
    quick = Engine(corpus, model="base", corpus_name=store.FULL, isolated=True, quick=True)
    ready = time.perf_counter() - started
    first_question = eval_set.queries[0]
    started = time.perf_counter()
    quick.search(first_question, 5)
    first = time.perf_counter() - started
    say(f"quick engine ready in {ready:.2f} s; first answer {first:.2f} s later: {ready + first:.2f} s in all "
        f"(goal <= {FIRST_ANSWER_GOAL_S:.0f} s: {'met' if ready + first <= FIRST_ANSWER_GOAL_S else 'NOT met'})")  # fmt: skip

    timings = {"first time": [], "again": []}
    for label in timings:
        for question in eval_set.queries:
            started = time.perf_counter()
            quick.search(question, 5)
            timings[label].append((time.perf_counter() - started) * 1000)
    for label, values in timings.items():
        say(f"quick search latency, {label}: p50 {np.percentile(values, 50):.0f} ms, "
            f"p95 {np.percentile(values, 95):.0f} ms over {len(values)} consumer dev questions")  # fmt: skip

    full = Engine(corpus, model="base", corpus_name=store.FULL, isolated=True)
    ids = corpus[col.ID].astype(str).to_numpy()
    rankings = {}
    for label, engine in (("quick", quick), ("full index", full)):
        vectors = engine.encode_queries(list(eval_set.queries))
        rankings[label] = [
            [ids[row] for row in engine.rank(query, limit=10, query_vector=vector)[0]]
            for query, vector in zip(eval_set.queries, vectors, strict=True)
        ]
        metrics = per_query_metrics(rankings[label], list(eval_set.relevant), accuracy_at=(1, 3))
        say(f"{label:>10}: Accuracy@1 {metrics['accuracy@1'].mean():.3f}, Accuracy@3 "
            f"{metrics['accuracy@3'].mean():.3f}, MRR@10 {metrics['mrr@10'].mean():.3f} "
            f"(hybrid, consumer dev half, {len(eval_set.queries)} questions)")  # fmt: skip
    same = np.mean([a[:1] == b[:1] for a, b in zip(rankings["quick"], rankings["full index"], strict=True)])
    say(f"same first answer as the full index for {same:.1%} of the questions")
    say(f"full index: {full.dense.texts:,} texts to embed (bench/results/ask_build.txt has the build rate)")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
