"""Ask engine performance on the full corpus: query latency, index build rate, warm start and memory.

Measured on the full MedQuAD corpus (16.4k answered pairs) with the base model:

* **query latency** p50/p95 of :meth:`Engine.search` (cleaning, emergency check, condition lookup,
  ranking, answer merging; k=5) per mode, over the consumer questions asked twice, warm cache;
* **cold index build** rate (documents embedded per second) of each encoder path (numpy fp32, ONNX
  Runtime fp32 and int8, torch fp32, bf16 autocast and int8), on a seeded sample of the corpus's texts
  (the rate is what matters; the full build takes corpus / rate), plus how closely each agrees with
  fp32 and which path ``precision="auto"`` takes;
* **warm start**: a fresh Python process loading the engine from the on-disk caches (index,
  calibration) and answering a first question, timed from process launch;
* **peak RSS** of that process after all the queries (full corpus, both indexes, the query encoder).

Targets on the 2-core machine: hybrid p95 <= 30 ms (issue 13; 50 ms before the fourteenth session), warm
start <= 3 s, peak RSS <= 1 GB. The machine is shared, so latency and warm start are also given in CPU time
of the measuring process, which other work does not inflate; the load average is printed with the
figures. A long query's embedding runs on two threads (:class:`medqa.retrieval.encoder._Split`), so its
CPU time counts both and exceeds its wall time on an idle machine: the latency verdict reads the wall
clock, and the CPU figures say what the queries cost.
Run: ``flock /tmp/medqa-cpu.lock .venv/bin/python bench/bench_ask.py``; writes ``bench/results/ask.txt``.
"""

from __future__ import annotations

import time

LAUNCHED = time.perf_counter()  # before the heavy imports: the warm-start clock of the child process

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "ask.txt"
P95_TARGET_MS = 30.0
WARM_START_TARGET_S = 3.0
RSS_TARGET_MB = 1024.0
BUILD_SAMPLE = 256
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


def _flops_per_text(config: dict[str, int], tokens: int) -> float:
    """Multiply-adds x 2 of one BERT forward pass over ``tokens`` tokens (projections, FFN, attention)."""
    hidden, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * inner) + 2 * 2 * tokens * hidden
    return float(layers * per_token * tokens)


#: The encoder's FFN product: a batch of 1,024 token rows (384 wide) times the 384 x 1,536 weight.
_FFN_SHAPE = (1024, 384, 1536)


def _product_gflops(a, b) -> float:
    """Best GFLOP/s of ``a @ b`` over 5 rounds of 20 products (after one warm-up product)."""
    best = float("inf")
    a @ b
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20):
            a @ b
        best = min(best, time.perf_counter() - started)
    rows, inner, columns = _FFN_SHAPE
    return 20 * 2 * rows * inner * columns / best / 1e9


def matmul_peak(threads: int | None) -> float:
    """Measured float32 GFLOP/s of numpy matrix products of the encoder's FFN shape (best of 5)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rows, inner, columns = _FFN_SHAPE
    a = np.random.default_rng(0).standard_normal((rows, inner), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((inner, columns), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        return _product_gflops(a, b)


class _OnnxProduct:
    """``a @ anything`` runs a one-product ONNX Runtime session (the FFN shape's weight is inside it)."""

    def __init__(self, session, a) -> None:
        self.session, self.a = session, a

    def __matmul__(self, _other):
        return self.session.run(None, {"a": self.a})


def onnx_matmul_peak() -> float:
    """Measured float32 GFLOP/s of ONNX Runtime's matrix product (MLAS) of the FFN shape, all threads.

    Its kernels beat numpy's BLAS on some CPUs, so the ONNX Runtime paths are read against this peak.
    """
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rows, inner, columns = _FFN_SHAPE
    weight = np.random.default_rng(1).standard_normal((inner, columns), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "product",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [rows, inner])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [rows, columns])],
        [numpy_helper.from_array(weight, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    a = np.random.default_rng(0).standard_normal((rows, inner), dtype=np.float32)
    return _product_gflops(_OnnxProduct(session, a), None)


def _unit(rows):
    """Rows scaled to unit length."""
    import numpy as np

    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def torch_bf16_peak() -> float:
    """Measured bf16 GFLOP/s of torch matrix products of the FFN shape, all threads (best of 5).

    Only meaningful on a CPU with native bf16 (elsewhere bf16 products are emulated and slow).
    """
    import torch

    rows, inner, columns = _FFN_SHAPE
    return _product_gflops(
        torch.randn(rows, inner, dtype=torch.bfloat16), torch.randn(inner, columns, dtype=torch.bfloat16)
    )


def build_rates(say, sample_size: int = BUILD_SAMPLE) -> None:
    """Index build section: docs/s and GFLOP/s of each encoder path and lever, against a matmul peak.

    A seeded sample of the default layout's texts (answer passages and questions, in the corpus's
    proportion) is embedded by the torch-free numpy encoder (length-sorted batches, as builds ran before
    ONNX Runtime; and unsorted, to show the padding it saves; one BLAS thread, and all threads), by ONNX
    Runtime in fp32 and int8 (the torch-free build paths, :mod:`medqa.retrieval.onnx_encoder`), by torch
    fp32 and bf16 autocast, and by torch int8 dynamic quantisation (kept only if its cosine to fp32 is
    >= 0.99). The full build is projected from the measured rate and the corpus's token count.
    """
    import contextlib
    import copy
    import json as json_module

    import numpy as np

    from medqa import models
    from medqa.data.store import load_corpus
    from medqa.retrieval import encoder as encoder_module
    from medqa.retrieval.dense import DenseSettings, build_precision, document_units
    from medqa.retrieval.encoder import NumpyBertEncoder
    from medqa.retrieval.onnx_encoder import FP32, INT8, OnnxBertEncoder, onnx_available

    corpus = load_corpus("full")
    dense = DenseSettings()
    units = document_units(corpus, dense)
    source = models.resolve_model_source("base")
    config = json_module.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    encoder = NumpyBertEncoder(source, max_length=dense.max_seq_length)
    all_tokens = np.array([len(item.ids) for item in encoder._tokenizer.encode_batch(units.texts)])
    rows = np.random.default_rng(7).choice(
        len(units.texts), size=min(sample_size, len(units.texts)), replace=False
    )
    sample = [units.texts[row] for row in rows]
    flops = sum(_flops_per_text(config, int(tokens)) for tokens in all_tokens[rows])
    corpus_flops = sum(_flops_per_text(config, int(tokens)) for tokens in all_tokens)
    peak_one, peak_all = matmul_peak(1), matmul_peak(None)
    say(
        f"index build ({dense.fields}, {dense.passage_words} words per passage, cap {dense.max_passages or 'none'}): "
        f"{len(units.texts):,} texts for {len(corpus):,} pairs, {all_tokens.sum():,} tokens, "
        f"{corpus_flops / 1e12:.1f} TFLOP; sample of {len(sample)} texts ({all_tokens[rows].mean():.0f} tokens "
        f"on average)"
    )
    say(
        f"measured float32 matmul peak (FFN shape): {peak_one:.0f} GFLOP/s on 1 thread, {peak_all:.0f} on all"
    )
    vectors: dict[str, np.ndarray] = {}

    def timed(label: str, run, peak: float) -> None:
        started = time.perf_counter()
        vectors[label] = run()
        seconds = time.perf_counter() - started
        achieved = flops / seconds / 1e9
        say(
            f"  {label:<36} {len(sample) / seconds:6.1f} docs/s  {achieved:6.1f} GFLOP/s "
            f"({achieved / peak:4.0%} of peak)  -> full build {corpus_flops / (flops / seconds):6.0f} s"
        )

    encoder.encode(sample[:8])  # warm-up
    timed("numpy fp32, length-sorted, 1 thread", lambda: encoder.encode(sample), peak_one)
    timed(
        "numpy fp32, unsorted batches of 32",
        lambda: np.concatenate([encoder.encode(sample[i : i + 32]) for i in range(0, len(sample), 32)]),
        peak_one,
    )
    from medqa.retrieval.dense import build_workers

    workers = build_workers()
    timed(
        f"numpy fp32, {workers} batches at once (builds)",
        lambda: encoder.encode(sample, workers=workers),
        peak_all,
    )
    real_limit = encoder_module.single_thread_blas
    encoder_module.single_thread_blas = contextlib.nullcontext  # type: ignore[assignment]
    try:
        timed("numpy fp32, length-sorted, all threads", lambda: encoder.encode(sample), peak_all)
    finally:
        encoder_module.single_thread_blas = real_limit
    checked: list[str] = []
    if onnx_available():
        peak_onnx = onnx_matmul_peak()
        say(f"measured float32 matmul peak (FFN shape, onnx runtime): {peak_onnx:.0f} GFLOP/s on all threads")
        for precision in (FP32, INT8):
            onnx = OnnxBertEncoder(source, max_length=dense.max_seq_length, precision=precision)
            onnx.encode(sample[:8])  # warm-up
            checked.append(f"onnx runtime {precision}")
            timed(checked[-1], lambda e=onnx: e.encode(sample), peak_onnx)
    else:
        say("  onnxruntime is not installed: its fp32 / int8 paths not measured")
    say(f"  precision='auto' builds with {build_precision('auto')} on this machine")
    for label in checked:
        _say_agreement(say, label, vectors["numpy fp32, length-sorted, 1 thread"], vectors[label])
    if not models.torch_available():
        say("  torch is not installed: torch fp32 / bf16 / int8 not measured")
        return
    import torch

    model = models.load_model("base")
    model.max_seq_length = dense.max_seq_length
    models.encode(model, sample[:16], precision="fp32")  # warm-up
    peak_bf16 = peak_all
    if models.bf16_supported():
        peak_bf16 = torch_bf16_peak()
        say(f"measured bf16 matmul peak (FFN shape, torch): {peak_bf16:.0f} GFLOP/s on all threads")
    for precision in ("fp32", "bf16"):
        timed(
            f"torch {precision}, {torch.get_num_threads()} threads",
            lambda p=precision: models.encode(model, sample, precision=p),
            peak_all if precision == "fp32" else peak_bf16,
        )
    if models.bf16_supported():  # a lever: weights and every operation in bf16, not only the products
        halved = copy.deepcopy(model).to(torch.bfloat16)  # load_model's instance is shared: a copy
        timed(
            "torch bf16 weights (not autocast)",
            lambda: _unit(models.encode(halved, sample, precision="fp32")),  # bf16 norms are a little off 1
            peak_bf16,
        )
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    timed("torch int8 dynamic", lambda: models.encode(quantized, sample, precision="fp32"), peak_all)
    reference = vectors["numpy fp32, length-sorted, 1 thread"]
    for label in (
        f"torch bf16, {torch.get_num_threads()} threads",
        "torch bf16 weights (not autocast)",
        "torch int8 dynamic",
    ):
        if label not in vectors:
            continue
        _say_agreement(say, label, reference, vectors[label])
    say(f"  native bf16 on this CPU: {models.bf16_supported()}")


def _say_agreement(say, label: str, reference, vectors) -> None:
    """One path's cosine to the numpy fp32 encoder, and whether it is usable (>= INT8_MIN_COSINE)."""
    import numpy as np

    from medqa.retrieval.onnx_encoder import INT8_MIN_COSINE

    agreement = np.sum(reference * vectors, axis=1)
    verdict = "usable" if agreement.min() >= INT8_MIN_COSINE else f"REJECTED (< {INT8_MIN_COSINE})"
    say(
        f"  {label}: cosine to numpy fp32 mean {agreement.mean():.4f}, min {agreement.min():.4f} -> {verdict}"
    )


def storage_section(say) -> None:
    """Memory and query time of the dense index stored as float32 vs float16 (full corpus, cached)."""
    import numpy as np

    from medqa.retrieval.engine import Engine

    engine = Engine.from_dataset("full", "base")
    matrix = engine.dense.embeddings
    vector = engine.encode_queries(["what helps with gout pain"])[0]
    for dtype in (np.float32, np.float16):
        stored = matrix.astype(dtype)
        query = vector.astype(dtype)
        started = time.perf_counter()
        for _ in range(20):
            stored @ query
        per_query = (time.perf_counter() - started) / 20 * 1000
        say(
            f"dense index as {np.dtype(dtype).name}: {stored.nbytes / 2**20:5.1f} MB for {len(stored):,} texts, "
            f"{per_query:6.1f} ms per query product"
        )


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-build", action="store_true", help="skip the cold build rates")
    parser.add_argument(
        "--build-only", action="store_true", help="only the index build section (writes ask_build.txt)"
    )
    parser.add_argument("--sample", type=int, default=BUILD_SAMPLE, help="texts embedded per build path")
    arguments = parser.parse_args()
    if arguments.warm_child:
        warm_child()
        return
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    if arguments.build_only:
        say(f"machine: {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}")
        build_rates(say, arguments.sample)
        say(f"load average at the end: {os.getloadavg()[0]:.1f}")
        RESULTS.with_name("ask_build.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return

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
        "which other work on the machine does not inflate; a long query's CPU time counts two threads):"
    )
    for mode, numbers in report["latency_ms"].items():
        verdict = ""
        if mode == "hybrid":
            verdict = (
                f"  target p95 <= {P95_TARGET_MS:.0f} ms: {_verdict(numbers['p95'] <= P95_TARGET_MS)} "
                "(wall clock; load average above)"
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
    storage_section(say)
    if not arguments.skip_build:
        build_rates(say, arguments.sample)
    say(f"load average at the end: {os.getloadavg()[0]:.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
