"""Spelling correction of questions (:mod:`medqa.retrieval.spelling`): what it changes and what it is worth.

For the consumer dev half (where the policy was chosen), the consumer test half and the curated
held-out split, lists every corrected question and scores BM25, dense and hybrid with the base model
without and with correction (the same :func:`medqa.evaluation.runner.evaluate` path as
``bench_quality.py``), with the paired difference, its 95% bootstrap CI and randomisation p-value.
Also counts the out-of-domain questions it changes and prints the speller's build time, memory and
time per question on the full corpus.

Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_spelling.py`` (indexes are cached after
``bench_quality.py``). Writes ``bench/results/spelling.txt``.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medqa import models
from medqa.consumer_questions import load_out_of_domain_questions
from medqa.data.store import load_corpus
from medqa.evaluation import runner, sets
from medqa.evaluation.metrics import REPORT_METRICS, display_name
from medqa.evaluation.statistics import compare_systems
from medqa.retrieval.spelling import QuerySpeller

RESULTS = Path(__file__).resolve().parent / "results"
SETS = (sets.CONSUMER_DEV, sets.CONSUMER_TEST, sets.HELDOUT)
SYSTEMS = (f"{runner.HYBRID}:{models.BASE}", models.BASE, runner.BM25)


def main() -> int:
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    full = load_corpus("full")
    started = time.perf_counter()
    speller = QuerySpeller.from_corpus(full)
    build_seconds = time.perf_counter() - started
    tracemalloc.start()  # a second build, traced (tracing slows it down)
    traced = QuerySpeller.from_corpus(full)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del traced
    say(
        f"speller over the full corpus ({len(full):,} pairs): built in {build_seconds:.2f} s, holds {held / 1e6:.0f} MB"
    )

    for set_name in SETS:
        eval_set = sets.load_set(set_name)
        corpus = load_corpus(eval_set.corpus_name)
        view_speller = speller if eval_set.corpus_name == "full" else None
        if view_speller is None:
            view_speller = QuerySpeller.from_corpus(
                runner._document_view(corpus.reset_index(drop=True), runner.documents_for(eval_set))
            )
        started = time.perf_counter()
        corrections = [view_speller.correct(query) for query in eval_set.queries]
        per_question_ms = (time.perf_counter() - started) * 1000 / len(corrections)
        changed = [
            (query, fix) for query, fix in zip(eval_set.queries, corrections, strict=True) if fix.changes
        ]
        say()
        say(f"== {eval_set.label} over corpus {eval_set.corpus_name}: {len(changed)} of {len(eval_set)} questions "
            f"corrected ({per_question_ms:.2f} ms per question)")  # fmt: skip
        for query, fix in changed:
            say(f"   {query[:60]:<60} | " + ", ".join(f"{typed} -> {right}" for typed, right in fix.changes))
        results = {
            flag: runner.evaluate(
                list(SYSTEMS), eval_set, corpus=corpus, correct_spelling=flag, n_resamples=2000
            )
            for flag in (False, True)
        }
        say(
            f"   {'system':<16} {'spelling':<10} "
            + "  ".join(f"{display_name(m):<12}" for m in REPORT_METRICS)
        )
        for system in SYSTEMS:
            label = runner.parse_system(system).label
            for flag in (False, True):
                row = results[flag].summary.set_index("system").loc[label]
                say(f"   {label:<16} {'corrected' if flag else 'as typed':<10} "
                    + "  ".join(f"{row[m]:<12.3f}" for m in REPORT_METRICS))  # fmt: skip
            differences = []
            for metric in REPORT_METRICS:
                comparison = compare_systems(
                    results[False].runs[label].per_query[metric],
                    results[True].runs[label].per_query[metric],
                    metric,
                    "as typed",
                    "corrected",
                    n_resamples=2000,
                )
                differences.append(
                    f"{display_name(metric)} {comparison.difference:+.3f} "
                    f"[{comparison.ci_low:+.2f} to {comparison.ci_high:+.2f}] p={comparison.p_value:.3g}"
                )
            say(f"   {'':<16} corrected - as typed: " + "; ".join(differences))

    outside = load_out_of_domain_questions()
    changed_outside = [(question, speller.correct(question)) for question in outside]
    changed_outside = [(question, fix) for question, fix in changed_outside if fix.changes]
    say()
    say(f"== out-of-domain questions: {len(changed_outside)} of {len(outside)} corrected")
    for question, fix in changed_outside:
        say(f"   {question[:60]:<60} | " + ", ".join(f"{typed} -> {right}" for typed, right in fix.changes))

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spelling.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
