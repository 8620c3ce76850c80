"""Ask engine performance on the full corpus: query latency, index build rate, warm start and memory.

Measured on the full MedQuAD corpus (16.4k answered pairs) with the base model:

* **query latency** p50/p95 of :meth:`Engine.search` (cleaning, emergency check, condition lookup,
  ranking, answer merging; k=5) per mode, over the consumer questions asked twice, warm cache;
* **cold index build** rate (documents embedded per second) with fp32 and with bf16 autocast, on a
  seeded sample of the corpus's texts (the rate is what matters; the full build takes corpus / rate),
  plus how closely bf16 embeddings agree with fp32 and whether ``precision="auto"`` picks bf16;
* **warm start**: a fresh Python process loading the engine from the on-disk caches (index,
  calibration) and answering a first question, timed from process launch;
* **peak RSS** of that process after all the queries (full corpus, both indexes, the query encoder).

Targets on the 2-core machine: hybrid p95 <= 50 ms, warm start <= 3 s, peak RSS <= 1 GB. The machine is
shared, so latency and warm start are also given in CPU time of the measuring process (queries run on
one thread), which other work does not inflate; the load average is printed with the figures.
Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_ask.py``; writes ``bench/results/ask.txt``.
"""

from __future__ import annotations

import time

LAUNCHED = time.perf_counter()  # before the heavy imports: the warm-start clock of the child process

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "ask.txt"
P95_TARGET_MS = 50.0
WARM_START_TARGET_S = 3.0
RSS_TARGET_MB = 1024.0
BUILD_SAMPLE = 1000
REPEATS = 2


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM).

    Not ``getrusage``: Linux carries ``ru_maxrss`` over ``fork`` + ``exec``, so a child started by a
    parent that had loaded torch would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the best available figure

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_child() -> None:
    """Run in a fresh process: load from caches, answer, time queries, report as JSON."""
    import numpy as np

    from medqa.consumer_questions import load_consumer_questions
    from medqa.retrieval.engine import MODES, Engine

    engine = Engine.from_dataset("full", "base")
    engine.calibration  # noqa: B018 - read from its cache
    first = engine.search("What are the early warning signs of Alzheimer's?")
    ready = time.perf_counter() - LAUNCHED
    ready_cpu = time.process_time()  # CPU seconds since the process started, interpreter included
    questions = load_consumer_questions()["question"].tolist()
    latency: dict[str, dict[str, float]] = {}
    for mode in MODES:
        for question in questions[:5]:
            engine.search(question, mode=mode)  # warm-up
        times, cpu_times = [], []
        for _ in range(REPEATS):
            for question in questions:
                started, started_cpu = time.perf_counter(), time.process_time()
                engine.search(question, 5, mode=mode)
                times.append((time.perf_counter() - started) * 1000)
                cpu_times.append((time.process_time() - started_cpu) * 1000)
        latency[mode] = {
            "p50": float(np.percentile(times, 50)),
            "p95": float(np.percentile(times, 95)),
            "cpu_p50": float(np.percentile(cpu_times, 50)),
            "cpu_p95": float(np.percentile(cpu_times, 95)),
            "n": len(times),
        }
    peak_mb = peak_rss_mb()
    print(
        json.dumps(
            {
                "ready_s": ready,
                "ready_cpu_s": ready_cpu,
                "first_hit": first.hits[0].focus if first.hits else None,
                "index_from_cache": engine.dense.from_cache,
                "torch_imported": "torch" in sys.modules,
                "latency_ms": latency,
                "peak_rss_mb": peak_mb,
                "pairs": len(engine),
            }
        )
    )


def build_rates(say) -> None:
    """Embed a seeded sample of corpus texts with fp32 and bf16 autocast; report docs/s and agreement."""
    import numpy as np

    from medqa import models
    from medqa.data.store import load_corpus
    from medqa.retrieval.dense import DenseSettings, document_texts

    corpus = load_corpus("full")
    dense = DenseSettings()
    texts = document_texts(corpus, dense.fields)
    rows = np.random.default_rng(7).choice(len(texts), size=min(BUILD_SAMPLE, len(texts)), replace=False)
    sample = [texts[row] for row in rows]
    model = models.load_model("base")
    model.max_seq_length = dense.max_seq_length
    models.encode(model, sample[:64], precision="fp32")  # warm-up
    vectors = {}
    for precision in ("fp32", "bf16"):
        started = time.perf_counter()
        vectors[precision] = models.encode(model, sample, precision=precision)
        seconds = time.perf_counter() - started
        rate = len(sample) / seconds
        say(
            f"cold index build, {precision:<4}: {rate:7.1f} docs/s on {len(sample):,} sampled texts "
            f"({dense.fields}, max {dense.max_seq_length} tokens) -> full corpus {len(texts) / rate:5.0f} s"
        )
    agreement = np.sum(vectors["fp32"] * vectors["bf16"], axis=1)
    say(
        f"bf16 vs fp32 embeddings: mean cosine {agreement.mean():.5f}, min {agreement.min():.5f}; "
        f"native bf16 on this CPU: {models.bf16_supported()}; precision='auto' builds with "
        f"{models.choose_precision(model, 'auto')}"
    )


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-build", action="store_true", help="skip the cold build rates")
    arguments = parser.parse_args()
    if arguments.warm_child:
        warm_child()
        return
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    from medqa.retrieval.engine import Engine

    say(
        f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; "
        f"load average at start {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)"
    )
    Engine.from_dataset("full", "base").calibration  # noqa: B018 - make sure the caches exist (warm)
    launched = time.perf_counter()
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--warm-child"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    wall = time.perf_counter() - launched
    report = json.loads(child.stdout.strip().splitlines()[-1])
    ready, ready_cpu = report["ready_s"], report["ready_cpu_s"]
    say(
        f"warm start (fresh process, caches on disk, engine + calibration + first answer): {ready:.2f} s wall "
        f"after imports began ({_verdict(ready <= WARM_START_TARGET_S)} for <= {WARM_START_TARGET_S:.0f} s), "
        f"{ready_cpu:.2f} CPU-s incl. interpreter start ({_verdict(ready_cpu <= WARM_START_TARGET_S)}); "
        f"whole child run {wall:.1f} s; index from cache: {report['index_from_cache']}; "
        f"torch imported: {report['torch_imported']}"
    )
    say(
        f"query latency over {report['pairs']:,} pairs, k=5 (wall clock, and CPU time of the process, "
        "which other work on the machine does not inflate):"
    )
    for mode, numbers in report["latency_ms"].items():
        verdict = ""
        if mode == "hybrid":
            verdict = (
                f"  target p95 <= {P95_TARGET_MS:.0f} ms: wall {_verdict(numbers['p95'] <= P95_TARGET_MS)}, "
                f"CPU {_verdict(numbers['cpu_p95'] <= P95_TARGET_MS)}"
            )
        say(
            f"  {mode:<7} wall p50 {numbers['p50']:6.1f} ms  p95 {numbers['p95']:6.1f} ms | CPU p50 "
            f"{numbers['cpu_p50']:6.1f} ms  p95 {numbers['cpu_p95']:6.1f} ms  ({numbers['n']} queries){verdict}"
        )
    peak = report["peak_rss_mb"]
    say(
        f"peak RSS with the full corpus loaded: {peak:.0f} MB "
        f"(target <= {RSS_TARGET_MB:.0f} MB: {_verdict(peak <= RSS_TARGET_MB)})"
    )
    if not arguments.skip_build:
        build_rates(say)
    say(f"load average at the end: {os.getloadavg()[0]:.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
