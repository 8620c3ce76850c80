"""Training benchmark: speed against the hardware limit, wall time and memory of both presets, quality.

Usage::

    flock /tmp/medqa-cpu.lock python bench/bench_train.py [--source PATH] [--steps N]
        [--sections peak,replay,throughput,presets,again,quality] [--keep DIR] [--out FILE]

(``MEDQA_CPU_BF16=none`` measures the path of a CPU without native bf16 on any machine.)

Measures, on this machine:

1. **peak**: the matmul peak of the CPU (2048 x 2048 torch matmuls, fp32 and bf16, and fp32 with oneDNN's
   product, :mod:`medqa.training.matmul`; best of 5), in
   GFLOP/s of wall time and per CPU-second (the second does not depend on what else the machine runs);
2. **replay**: the recommended preset's cached loss on ``--steps`` of its own batches (spread over the
   epoch), each step timed with and without the replay of the frozen layers
   (:mod:`medqa.training.freezing`), in alternating order, with the gradients compared;
3. **throughput**: ``--steps`` optimizer steps of each preset, fp32 and bf16 autocast (no evaluation):
   samples/s, wall and CPU seconds per step, and the achieved GFLOP/s of the work, counted from the
   padded token counts of the very batches the sampler makes (transformer FLOPs: 2 x 10.6 M weights
   per token forward plus attention, backward twice the forward of the layers that train,
   checkpointing and cached MNRL one forward more),
   next to the peak;
4. **presets**: the whole run of each preset as the Train page starts it (``python -m medqa train`` in a
   child process, precision ``auto``): wall and CPU time, samples/s, time spent before the first step
   (data, teacher embeddings), and the child's peak RSS (from its ``run.json``), against the 5-minute /
   1.5 GB targets. The teacher cache (:mod:`medqa.training.teacher_cache`) is emptied first, so this
   is a first run;
5. **again**: each preset once more right after, its teacher targets read from the cache (a second run
   of the same preset, the Train page's "try it again");
6. **quality**: base vs both trained runs on the held-out questions (curated corpus, answers as
   documents), dense retrieval, with paired 95 % CIs (:mod:`medqa.evaluation`).

CPU seconds are printed next to wall seconds on purpose: the development machine is shared by several
jobs, and "wall on 2 idle cores" ~ CPU seconds / 2 when torch uses both threads. The load average at
the start and end of each timed part is printed too. Models are written to a temporary folder (the
registry is not touched). Output: stdout and ``bench/results/train.txt``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medqa import models
from medqa.data import store
from medqa.training import arguments, matmul, teacher_cache
from medqa.training.data import TrainingData
from medqa.training.trainer import library_versions, train

RESULTS = ROOT / "bench" / "results" / "train.txt"
TARGET_SECONDS = 300.0
TARGET_RSS_MB = 1536.0
QUALITY_METRICS = ("accuracy@1", "accuracy@3", "mrr@10")
SECTIONS = ("peak", "replay", "throughput", "presets", "again", "quality")
#: all-MiniLM-L6-v2: 6 layers, hidden 384, feed-forward 1536.
LAYERS, HIDDEN, FFN = 6, 384, 1536
WEIGHTS_PER_TOKEN = LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN)  # 10.6 M multiply-adds

_lines: list[str] = []
STARTED = time.perf_counter()


def say(text: str = "") -> None:
    """Print a line and keep it for the results file."""
    print(text, flush=True)
    _lines.append(text)
    # Written as it goes, so a long run stopped half way still leaves its measured figures.
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(_lines) + "\n", encoding="utf-8")


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def cpu_seconds() -> float:
    """CPU time of this process and its finished children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def forward_flops(tokens: int, length: int) -> float:
    """Forward FLOPs of ``tokens`` tokens in sequences padded to ``length``."""
    attention = LAYERS * 4 * length * HIDDEN  # scores and weighted sum, per token
    return tokens * (2 * WEIGHTS_PER_TOKEN + attention)


def matmul_peak() -> dict[str, tuple[float, float]]:
    """Best GFLOP/s of a 2048^3 matmul (512^3 for emulated bf16): (per wall, per CPU second), fp32 and bf16
    with torch's default product, and fp32 with oneDNN's (:mod:`medqa.training.matmul`) where it runs."""
    import torch

    from medqa.training import matmul

    found = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        # Without native bf16 the product is emulated, two orders of magnitude slower (a 2048^3 bf16 peak
        # ran for more than 20 minutes on a Zen 3 CPU): a 512^3 product tells that rate.
        size = 2048 if name == "fp32" or models.bf16_supported() else 512
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        found[name] = _best_rate(lambda a=a, b=b: a @ b, size)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    try:
        found["fp32 oneDNN"] = _best_rate(lambda: matmul.onednn_linear(a, b, None), 2048)
    except Exception as error:  # a torch build without oneDNN
        say(f"  (no oneDNN fp32 product here: {type(error).__name__})")
    return found


def kernel_line() -> str:
    """Which product an fp32 run's linear layers take here, and the probe that chose it."""
    measured = matmul.probe()
    if "error" in measured:
        return f"{matmul.choose_kernel('fp32')} (no oneDNN: {measured['error']})"
    return (
        f"{matmul.choose_kernel('fp32')} (probe on {'x'.join(map(str, matmul.PROBE_SHAPE))}: torch's default "
        f"{measured['blas_gflops']:.0f} GFLOP/s, oneDNN {measured['onednn_gflops']:.0f}; "
        f"{matmul.MATMUL_ENV}={os.environ.get(matmul.MATMUL_ENV, '')!r})"
    )


def _best_rate(product: object, size: int, repeats: int = 4) -> tuple[float, float]:
    """(GFLOP/s per wall second, per CPU second) of the best of 5 rounds of ``repeats`` size^3 products."""
    work = 2 * size**3 * repeats / 1e9
    product()
    best_wall = best_cpu = float("inf")
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            product()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return work / best_wall, work / best_cpu


def preset_batches(config: arguments.TrainingConfig, data: TrainingData) -> list[list[int]]:
    """The rows of each batch of an epoch, as the trainer's own sampler makes them (same seed)."""
    import numpy as np
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler

    from medqa.training.batching import LengthGroupedBatchSampler

    dataset = data.to_dataset(row_labels=True)
    kwargs = {"batch_size": config.batch_size, "drop_last": False, "valid_label_columns": ["label"]}
    if config.batch_sampler == "length_grouped":
        sampler = LengthGroupedBatchSampler(
            dataset, seed=config.seed, max_chars=4 * config.max_seq_length, **kwargs
        )
    elif config.batch_sampler == "no_duplicates":
        sampler = NoDuplicatesBatchSampler(dataset, seed=config.seed, **kwargs)
    else:
        order = np.random.default_rng(config.seed).permutation(len(dataset)).tolist()
        sampler = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    return [list(batch) for batch in sampler]


def forward_passes(config: arguments.TrainingConfig, *, replayed: bool = True) -> float:
    """Forward passes' worth of work per token of a training step.

    Forward once, backward twice the forward through the layers that train (none below the frozen
    ones); checkpointing and cached MNRL (GradCache) both run one forward pass more, which for cached
    MNRL starts above the frozen layers when ``replayed`` (:mod:`medqa.training.freezing`).
    """
    above = (LAYERS - config.freeze_layers) / LAYERS
    passes = 1 + 2 * above
    if config.gradient_checkpointing:
        return passes + 1
    if config.loss == "cached_mnrl":
        return passes + (above if replayed else 1)
    return passes


def epoch_flops(config: arguments.TrainingConfig) -> dict[str, float]:
    """One epoch of ``config``: ``steps``, training FLOPs, teacher FLOPs, padded and real tokens.

    Counts the batches the trainer's own sampler makes (same seed), each side padded to its longest
    text (capped at ``max_seq_length``); the distillation term adds its texts: once through the
    teacher (``batch``: the batch's texts; ``sample``: ``distill_texts``) and, for ``sample``, a batch of
    them through the student at every step.
    """
    import numpy as np

    from medqa.training.data import build_training_data

    data = build_training_data(config)
    tokenizer = models.load_model("base").tokenizer
    cap = config.max_seq_length

    def lengths(texts: list[str]) -> np.ndarray:
        return np.minimum([len(ids) for ids in tokenizer(texts)["input_ids"]], cap)

    anchors, positives = lengths(data.pairs["anchor"].tolist()), lengths(data.pairs["positive"].tolist())
    passes = forward_passes(config)
    flops, padded, teacher_flops = 0.0, 0, 0.0
    batches = preset_batches(config, data)
    # A hard negative is another pair's positive: counted at the batch's positive lengths (the mined
    # negatives themselves need the model; an approximation of their padding).
    sides = (anchors, positives, positives) if config.hard_negatives else (anchors, positives)
    for batch in batches:
        for side in sides:
            longest = int(side[batch].max())
            flops += passes * forward_flops(len(batch) * longest, longest)
            padded += len(batch) * longest
    real = int(anchors.sum() + positives.sum())
    if config.distill_weight > 0:
        if config.distill_on == "batch":
            teacher = lengths(
                list(dict.fromkeys(data.pairs["anchor"].tolist() + data.pairs["positive"].tolist()))
            )
        else:
            teacher = lengths(data.distill_texts)
            mean_longest = float(
                np.mean(
                    [
                        teacher[np.random.default_rng(s).choice(len(teacher), config.batch_size)].max()
                        for s in range(20)
                    ]
                )
            )
            flops += (
                len(batches)
                * passes
                * forward_flops(int(config.batch_size * mean_longest), int(mean_longest))
            )
        # The teacher encodes sorted by length in batches of 64: little padding.
        teacher_flops = forward_flops(int(teacher.sum()), int(np.median(teacher)))
    steps = len(batches) * max(config.epochs, 0)
    return {
        "steps": float(len(batches)),
        "train": flops * max(config.epochs, 0)
        if config.max_steps <= 0
        else flops / len(batches) * config.max_steps,
        "step": flops / len(batches),
        "teacher": teacher_flops,
        "padded": float(padded),
        "real": float(real),
        "epoch_steps": steps,
    }


def replay(steps: int) -> None:
    """Paired step times of the recommended preset's cached loss with and without the frozen layers' replay."""
    import numpy as np
    import torch

    from medqa.training import trainer
    from medqa.training.data import build_training_data
    from medqa.training.freezing import freeze_lower_layers, freeze_word_embeddings

    config = arguments.preset("recommended")
    precision = trainer.choose_precision(config.precision)
    say(
        f"## Replay of the frozen layers ({steps} steps of the recommended preset's batches, "
        f"{config.freeze_layers} of {LAYERS} layers frozen, mini-batches of {config.mini_batch_size}, {precision})"
    )
    data = build_training_data(config)
    model, _ = trainer._load_start_model(config)
    model.max_seq_length = config.max_seq_length
    freeze_word_embeddings(model)
    freeze_lower_layers(model, config.freeze_layers)
    model.train()
    loss = trainer._cached_mnrl(model, config)
    replay_of = loss.frozen_replay
    batches = preset_batches(config, data)
    chosen = [batches[int(i)] for i in np.linspace(0, len(batches) - 1, steps)]

    def step(rows: list[int], replayed: bool) -> tuple[float, dict[str, torch.Tensor]]:
        features = [model.tokenize(data.pairs[side].iloc[rows].tolist()) for side in ("anchor", "positive")]
        loss.frozen_replay = replay_of if replayed else None
        model.zero_grad()
        torch.manual_seed(len(rows))
        started = time.perf_counter()
        # Both passes under autocast, as in the trainer (accelerate wraps the model's forward).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            value = loss(features, torch.arange(len(rows)))
            value.backward()
        seconds = time.perf_counter() - started
        return seconds, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    step(chosen[0], True)  # warm-up
    times = {True: 0.0, False: 0.0}
    same = True
    before_load = load()
    for number, rows in enumerate(chosen):
        order = (True, False) if number % 2 == 0 else (False, True)
        results = {replayed: step(rows, replayed) for replayed in order}
        for replayed in order:
            times[replayed] += results[replayed][0]
        same &= all(torch.equal(results[True][1][n], results[False][1][n]) for n in results[False][1])
    counted = 1 - forward_passes(config) / forward_passes(config, replayed=False)
    say(
        f"  per step: {times[False] / steps:.2f} s without the replay, {times[True] / steps:.2f} s with it "
        f"({1 - times[True] / times[False]:.0%} less; the counted work {counted:.0%} less); "
        f"gradients identical: {same} (load {before_load} -> {load()})"
    )
    say()


def throughput(work: Path, steps: int, peak: dict[str, tuple[float, float]], presets: list[str]) -> None:
    say(f"## Throughput ({steps} steps per preset and precision, no evaluation)")
    say(
        f"CPU computes bf16 natively: {models.bf16_supported()} (auto precision: {'bf16' if models.bf16_supported() else 'fp32'})"
    )
    kernel = matmul.choose_kernel("fp32")
    peak_key = {
        "fp32": "fp32 oneDNN" if kernel == matmul.ONEDNN and "fp32 oneDNN" in peak else "fp32",
        "bf16": "bf16",
    }
    for name in presets:
        base = arguments.preset(name, max_steps=steps, evaluation="none", eval_baseline=False)
        work_done = epoch_flops(arguments.preset(name))
        say(
            f"{name}: one pass = {work_done['padded']:,.0f} padded tokens ({work_done['real']:,.0f} real), "
            f"{work_done['step'] / 1e9:.0f} GFLOP per step, teacher {work_done['teacher'] / 1e12:.2f} TFLOP once"
        )
        for precision in ("fp32", "bf16"):
            config = base.with_overrides(precision=precision)
            before_load, cpu = load(), cpu_seconds()
            run = train(config, work / f"throughput-{name}-{precision}", overwrite=True)
            cpu = cpu_seconds() - cpu
            stats = run.record.training
            per_step_wall = stats.train_runtime_seconds / max(stats.steps, 1)
            achieved_wall = work_done["step"] / per_step_wall / 1e9
            say(
                f"  {precision}: {stats.samples_per_second:.1f} samples/s, {per_step_wall:.2f} s/step wall -> "
                f"{achieved_wall:.0f} GFLOP/s wall (matmul peak {peak[peak_key[precision]][0]:.0f}); whole call "
                f"{cpu:.0f} CPU-s incl. setup and teacher {stats.teacher_seconds:.0f} s (load {before_load} -> {load()})"
            )
    say()


def run_preset(name: str, work: Path, *, first: bool = True) -> Path:
    """The preset's whole run as the Train page starts it: in a child process, precision auto.

    ``first``: the teacher cache is emptied before, so the run embeds its teacher targets; otherwise
    they come from the cache (a second run) and their work is not counted.
    """
    from medqa.training.isolated import train_in_child

    config = arguments.preset(name)
    work_done = epoch_flops(config)
    if first:
        shutil.rmtree(teacher_cache.cache_folder(), ignore_errors=True)
    flops = work_done["train"] + (work_done["teacher"] if first else 0.0)
    before_load, cpu, wall = load(), cpu_seconds(), time.perf_counter()
    run = train_in_child(config, f"bench-{name}", overwrite=True)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    record = run.record
    stats = record.training
    rss = stats.peak_rss_mb
    verdicts = []
    if name == arguments.RECOMMENDED:
        verdicts.append(
            f"{'meets' if wall <= TARGET_SECONDS else 'misses'} the {TARGET_SECONDS:.0f} s target"
        )
        if rss is not None:
            verdicts.append(
                f"{'meets' if rss <= TARGET_RSS_MB else 'misses'} the {TARGET_RSS_MB:.0f} MB target"
            )
    label = name if first else f"{name} again (teacher targets from the cache)"
    say(
        f"{label}: {record.data.get('train_pairs')} pairs, {stats.steps} steps, {stats.precision}: wall {wall:.0f} s "
        f"({cpu:.0f} CPU-s, i.e. ~{cpu / 2:.0f} s on 2 idle cores), training {stats.train_runtime_seconds:.0f} s "
        f"at {stats.samples_per_second:.1f} samples/s, teacher {stats.teacher_seconds:.0f} s, "
        f"child peak RSS {rss if rss is not None else '?'} MB; work {flops / 1e12:.1f} TFLOP -> "
        f"{flops / wall / 1e9:.0f} GFLOP/s wall, {flops / cpu / 1e9:.0f} per CPU-s (load {before_load} -> {load()})"
        + (f" -> {'; '.join(verdicts)}" if verdicts else "")
    )
    say(held_out_line(record))
    return run.path


def held_out_line(record: object) -> str:
    """The run's own held-out evaluation (trainer's scoring path): starting model vs trained."""
    before, after = record.baseline_metrics, record.metrics  # type: ignore[attr-defined]
    cells = [
        f"{metric} {before.get(metric, float('nan')):.3f} -> {after.get(metric, float('nan')):.3f}"
        for metric in QUALITY_METRICS
    ]
    return f"  held-out ({record.heldout}): " + ", ".join(cells)  # type: ignore[attr-defined]


def quality(paths: dict[str, Path]) -> None:
    from medqa.evaluation import runner, sets

    say("## Base vs fine-tuned (dense retrieval, held-out questions, curated corpus)")
    systems = ["base", *[str(path) for path in paths.values()]]
    labels = ["base", *paths]
    eval_set = sets.heldout(store.CURATED)
    result = runner.evaluate(systems, eval_set, n_resamples=1000)
    summary = result.summary.set_index("system")
    say(f"{len(eval_set)} queries:")
    say(f"  {'system':<14}" + "".join(f"{metric:>12}" for metric in QUALITY_METRICS))
    for label, system_label in zip(labels, result.labels, strict=True):
        row = summary.loc[system_label]
        say(f"  {label:<14}" + "".join(f"{row[metric]:>12.3f}" for metric in QUALITY_METRICS))
    say()


def main() -> int:
    global RESULTS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MEDQA_MEDQUAD_SOURCE"))
    parser.add_argument("--steps", type=int, default=6, help="steps per throughput measurement")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--presets", default="original,recommended", help="presets the throughput and presets sections run"
    )
    parser.add_argument("--keep", help="folder to keep the trained runs in (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help=f"results file (default: {RESULTS.relative_to(ROOT)})")
    options = parser.parse_args()
    RESULTS = options.out or RESULTS
    sections = {name.strip() for name in options.sections.split(",") if name.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if store.ensure_datasets(options.source):
        say("built the datasets from the MedQuAD archive")
    import torch

    say("# bench_train")
    say(
        f"versions: {library_versions()}; CPUs visible: {os.cpu_count()}; torch threads: {torch.get_num_threads()}"
    )
    say(f"recommended preset: {arguments.RECOMMENDED_CONFIG.to_dict()}")
    say(f"fp32 runs' linear layers: {kernel_line()}")
    say()
    with tempfile.TemporaryDirectory(prefix="medqa-bench-train-") as folder:
        work = Path(options.keep) if options.keep else Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        os.environ["MEDQA_MODELS_DIR"] = str(work)  # the child trains into the bench folder, not models/
        peak = matmul_peak()
        if "peak" in sections:
            say("## Matmul peak (2048^3, 512^3 for emulated bf16; best of 5)")
            for name, (wall, cpu) in peak.items():
                say(f"  {name}: {wall:.0f} GFLOP/s wall, {cpu:.0f} GFLOP per CPU-second (load {load()})")
            say()
        presets = [p.strip() for p in options.presets.split(",") if p.strip()]
        if "replay" in sections:
            replay(options.steps)
        if "throughput" in sections:
            throughput(work, options.steps, peak, presets)
        paths: dict[str, Path] = {}
        if "presets" in sections or "quality" in sections:
            say("## Whole runs as the Train page starts them (child process, precision auto)")
            for name in presets:
                paths[name] = run_preset(name, work)
                if "again" in sections:
                    run_preset(name, work, first=False)
            say()
        if "quality" in sections and paths:
            quality(paths)
    say(f"done in {time.perf_counter() - STARTED:.0f} s")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
