"""How long the answer passage the Ask index embeds should be, measured in the Ask pipeline.

For each passage length (``DenseSettings.passage_words``; a shorter tail joins the passage before it, so
a passage runs from half to one and a half times the length), builds the base model's full-corpus index
(the ``"<focus>: <question>"`` texts and every passage already embedded by another index are reused, so
only new passages cost time) and ranks the consumer questions of one half as the Ask page does
(:meth:`medqa.retrieval.engine.Engine.rank`, dense and hybrid, the other settings at their defaults).
Prints Accuracy@1, Accuracy@3 and MRR@10 (:func:`medqa.evaluation.metrics.rank_metrics`, relevance by
concept: :mod:`medqa.evaluation.relevance`), and the tokens the index embeds, which is what a cold
build costs (``bench/bench_ask.py --build-only`` prints the rate). Choose with the dev half (the
default); the test half is for reporting the choice once.

Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_passage_words.py [--words 60,100,130]
[--split consumer-dev]``; writes ``bench/results/passage_words.txt`` (``--out`` for another file).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from medqa import models
from medqa.data import schema as col
from medqa.data.store import load_corpus
from medqa.evaluation.metrics import REPORT_METRICS, display_name, first_relevant_rank, rank_metrics
from medqa.evaluation.sets import load_set
from medqa.retrieval.dense import document_units
from medqa.retrieval.encoder import NumpyBertEncoder
from medqa.retrieval.engine import Engine, EngineSettings

RESULTS = Path(__file__).resolve().parent / "results" / "passage_words.txt"
WORDS = (60, 80, 100, 110, 120, 130, 140, 150, 200)


def token_count(texts: list[str], max_seq_length: int) -> int:
    """Tokens the model reads for these texts (each cut at ``max_seq_length``, no padding), counted by the
    numpy encoder's tokenizer as ``bench/bench_ask.py`` counts them."""
    encoder = NumpyBertEncoder(models.resolve_model_source("base"), max_length=max_seq_length)
    return sum(len(encoding.ids) for encoding in encoder._tokenizer.encode_batch(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", default=",".join(map(str, WORDS)), help="passage lengths, e.g. 100,130")
    parser.add_argument("--split", default="consumer-dev", help="consumer-dev (choose) or consumer-test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    corpus = load_corpus("full")
    eval_set = load_set(arguments.split, corpus=corpus)
    ids = corpus[col.ID].astype(str).to_numpy()
    lines = [
        f"Passage length in the Ask pipeline: {eval_set.name}, {len(eval_set.queries)} questions, "
        f"full corpus ({len(corpus):,} pairs), base model",
        f"{'words':>5}  {'texts':>6}  {'tokens':>9}  {'build s':>7}  "
        + "  ".join(
            f"{mode} {display_name(metric)}" for mode in ("dense", "hybrid") for metric in REPORT_METRICS
        ),
    ]
    print(*lines, sep="\n", flush=True)
    for words in (int(value) for value in arguments.words.split(",")):
        settings = EngineSettings()
        settings = replace(settings, dense=replace(settings.dense, passage_words=words))
        texts = list(dict.fromkeys(document_units(corpus, settings.dense).texts))
        started = time.perf_counter()
        engine = Engine(corpus, model="base", corpus_name="full", settings=settings)
        engine.dense  # noqa: B018 - built (or loaded) here, so the build time is its own
        built = time.perf_counter() - started
        queries = [engine.spelling(query).text for query in eval_set.queries]
        vectors = engine.encode_queries(queries)
        scores: list[str] = []
        for mode in ("dense", "hybrid"):
            ranks = [
                first_relevant_rank(ids[engine.rank(query, mode=mode, limit=10, query_vector=vector)[0]].tolist(), relevant)
                for query, vector, relevant in zip(queries, vectors, eval_set.relevant, strict=True)
            ]  # fmt: skip
            table = rank_metrics(ranks)
            scores += [f"{float(np.mean(table[metric])):.3f}".rjust(len(f'{mode} {display_name(metric)}')) for metric in REPORT_METRICS]  # fmt: skip
        line = (
            f"{words:>5}  {len(texts):>6}  {token_count(texts, settings.dense.max_seq_length):>9,}  {built:>7.0f}  "
            + "  ".join(scores)
        )
        lines.append(line)
        print(line, flush=True)
    lines.append(
        "(build s: 0-2 when cached; an index that reuses another's texts embeds only its new passages)"
    )
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
