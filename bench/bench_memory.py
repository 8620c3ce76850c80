"""Memory of the running app with the full MedQuAD corpus and one fine-tuned model (Community Cloud: 1 GB).

Usage: ``python bench/bench_memory.py [--source PATH]`` (default: $MEDQA_MEDQUAD_SOURCE). Needs the dev
requirements (playwright) and Debian's chromium.

What it does, in a fresh temporary data and models folder:

1. builds the datasets from the real archive (full: every answered pair, and the curated subset);
2. trains a fine-tuned run with a few steps (the weights are as large as any run's: memory does not
   depend on how long it trained);
3. starts ``streamlit run Home.py`` as Community Cloud does, opens the Ask page in headless Chromium
   on the full corpus, asks a question with the base model, then turns on "Compare models" so the
   fine-tuned model is loaded too (two embedding indexes of the full corpus) and asks again;
4. reads the server process's resident memory from ``/proc``: the peak (VmHWM) and the current RSS
   after the questions; and samples, twice a second, the server plus its child processes (the app
   embeds a corpus in a ``python -m medqa index`` child), whose peak sum is what a container's memory
   limit sees;
5. with both models still loaded, starts a training of each preset on the Train page (its own data,
   batch size and sequence length; only the steps are capped, ``--train-steps``), which runs in a
   ``python -m medqa train`` child, and samples server + children until the run is saved.

Writes bench/results/memory.txt. Target: peak RSS under 1 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from medqa.data import store

TARGET_MB = 1024
RESULTS = ROOT / "bench" / "results" / "memory.txt"
QUESTION = "What are the early warning signs of Alzheimer's?"


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak resident set) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def torch_loaded(pid: int) -> bool:
    """Whether a process has torch's shared library mapped."""
    with contextlib.suppress(OSError):
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    return False


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (0 for processes that just ended)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError, KeyError, ValueError):
            total += memory_mb(current)["VmRSS"]
        pending.extend(children.get(current, []))
    return total


@contextlib.contextmanager
def sampled_peak(pid: int, interval: float = 0.5) -> Iterator[dict[str, float]]:
    """Track the peak RSS of a process tree while the block runs (``result["peak"]``, MB)."""
    result = {"peak": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            result["peak"] = max(result["peak"], tree_rss_mb(pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()


def train_tiny_run(name: str) -> float:
    """Train a run with a handful of steps; returns the seconds it took."""
    from medqa.training import arguments
    from medqa.training.trainer import train

    config = arguments.preset(
        arguments.RECOMMENDED, data=store.CURATED, max_steps=4, batch_size=4, max_seq_length=32,
        evaluation="none", eval_baseline=False,
    )  # fmt: skip
    started = time.perf_counter()
    train(config, name)
    return time.perf_counter() - started


def ask(page, question: str, timeout_ms: float) -> float:
    """Send a question on the Ask page and wait for the reply (as the browser tests do); returns seconds."""
    from tests.e2e.test_journeys import ask as ask_and_wait

    started = time.perf_counter()
    ask_and_wait(page, question, timeout_ms)
    return time.perf_counter() - started


def train_in_app(page, server, preset: str, steps: int, timeout_ms: float) -> float:
    """Start a training of a preset (only its steps capped) on the Train page; seconds until saved."""
    from tests.e2e.test_journeys import open_page, set_field, settle

    name = f"bench-memory-{preset}"
    open_page(page, server, "Train", expect='h1:has-text("Fine-tune the model")')
    page.get_by_text(f"{preset.capitalize()}:", exact=False).first.click()
    settle(page)
    set_field(page, "Max steps (-1: all epochs)", steps)
    set_field(page, "Run name", name)
    started = time.perf_counter()
    page.locator("button", has_text="Start training").click()
    page.wait_for_selector(
        f'[data-testid="stAlertContentSuccess"]:has-text("Saved {name}"), '
        '[data-testid="stAlertContentError"]',
        timeout=timeout_ms,
    )
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MEDQA_MEDQUAD_SOURCE"))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for each page step")
    parser.add_argument(
        "--categories", type=int, default=store.DEFAULT_CATEGORIES, help="curated focus areas"
    )
    parser.add_argument(
        "--per-category", type=int, default=store.DEFAULT_PER_CATEGORY, help="curated pairs per area"
    )
    parser.add_argument(
        "--train-steps", type=int, default=20, help="steps of the training started in the app"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures are written")
    options = parser.parse_args()
    if not options.source:
        parser.error("give --source or set MEDQA_MEDQUAD_SOURCE")

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _stop, start_server
    from tests.e2e.test_journeys import settle

    timeout_ms = options.timeout * 1000
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["MEDQA_DATA_DIR"] = str(root / "data")
        os.environ["MEDQA_MODELS_DIR"] = str(root / "models")
        full, _ = store.build_datasets(
            options.source, categories=options.categories, per_category=options.per_category,
            test_per_category=min(store.DEFAULT_TEST_PER_CATEGORY, options.per_category - 1),
        )  # fmt: skip
        train_seconds = train_tiny_run("bench-memory-run")
        server = start_server(root, {"MEDQA_MEDQUAD_SOURCE": str(Path(options.source).resolve())})
        try:
            idle = memory_mb(server.process.pid)
            with sampled_peak(server.process.pid) as tree, sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(timeout_ms)
                started = time.perf_counter()
                # The first visit embeds the full corpus before the chat box appears: minutes, not seconds.
                page.goto(f"{server.url}/Ask")
                page.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=timeout_ms)
                settle(page, timeout_ms)
                base_ready = time.perf_counter() - started
                first_answer = ask(page, QUESTION, timeout_ms)
                one_model = memory_mb(server.process.pid)
                started = time.perf_counter()
                page.get_by_text("Compare models", exact=True).click()
                page.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=timeout_ms)
                settle(page, timeout_ms)
                compare_ready = time.perf_counter() - started
                second_answer = ask(page, "Is there treatment to slow progression?", timeout_ms)
                reply = page.locator('[data-testid="stChatMessage"]').last.inner_text()
                assert "bench-memory-run" in reply, "the fine-tuned model's answers are not shown"
                both = memory_mb(server.process.pid)
                asking_peak = tree["peak"]
                trainings = {}
                for preset in ("original", "recommended"):
                    with sampled_peak(server.process.pid) as training_tree:
                        seconds = train_in_app(page, server, preset, options.train_steps, timeout_ms)
                    trainings[preset] = (seconds, training_tree["peak"])
                after_training = memory_mb(server.process.pid)
                torch_in_server = torch_loaded(server.process.pid)
                browser.close()
            # Both models' indexes cover the full corpus (the Ask page's default corpus is "full").
            indexed = [
                int(np.load(path, mmap_mode="r").shape[0])
                for path in (root / "data" / "indexes").glob("*/embeddings.npy")
            ]
            assert indexed.count(full.answered) >= 2, f"indexes of {indexed} rows, full has {full.answered}"
        finally:
            _stop(server.process)

    lines = [
        f"source: {options.source}",
        f"full corpus: {full.answered:,} answered pairs; fine-tuned run trained in {train_seconds:.0f} s "
        "(a few steps; same size as any run)",
        f"server started (no page opened):               RSS {idle['VmRSS']:7.0f} MB",
        f"Ask, full corpus, base model, 1 question:      RSS {one_model['VmRSS']:7.0f} MB "
        f"(index + calibration built in {base_ready:.0f} s, answer {first_answer:.1f} s)",
        f"+ fine-tuned model side by side, 1 question:   RSS {both['VmRSS']:7.0f} MB "
        f"(second index built in {compare_ready:.0f} s, answer {second_answer:.1f} s)",
        f"peak RSS of the server process (VmHWM):        {both['VmHWM']:7.0f} MB "
        f"(target < {TARGET_MB} MB: {'met' if both['VmHWM'] < TARGET_MB else 'NOT met'})",
        f"peak RSS of server + index-building children:  {asking_peak:7.0f} MB (sampled every 0.5 s; "
        f"{'under' if asking_peak < TARGET_MB else 'OVER'} {TARGET_MB} MB)",
        *(
            f"training on the Train page, {preset} preset ({options.train_steps} steps, both models still "
            f"loaded): {seconds:.0f} s; peak RSS of server + training child {peak:.0f} MB "
            f"({'under' if peak < TARGET_MB else 'OVER'} {TARGET_MB} MB)"
            for preset, (seconds, peak) in trainings.items()
        ),
        f"server after the trainings: RSS {after_training['VmRSS']:.0f} MB (the children gave their memory back)",
        f"torch imported by the server: {'yes' if torch_in_server else 'no'} "
        "(mapped libtorch in /proc/PID/maps at the end)",
        f"CPU cores available: {len(os.sched_getaffinity(0))}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (other jobs slow the build times, not the memory)",
    ]
    print("\n".join(lines))
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
