"""Memory of the running app with the full MedQuAD corpus, two models and a training (Community Cloud).

Usage: ``python bench/bench_memory.py [--source PATH]`` (default: $MEDQA_MEDQUAD_SOURCE). Needs the dev
requirements (playwright) and Debian's chromium.

What it does, in a fresh temporary data and models folder:

1. builds the datasets from the real archive (full: every answered pair, and the curated subset);
2. trains a fine-tuned run with a few steps (the weights are as large as any run's: memory does not
   depend on how long it trained);
3. starts ``streamlit run Home.py`` as Community Cloud does, opens the Ask page in headless Chromium
   on the full corpus, waits until the background build of the search index has ended (the sidebar
   stops saying "Building the search index of"), asks a question with the base model, then turns on
   "Compare models" so the fine-tuned model is loaded too (two embedding indexes of the full corpus),
   waits for its index the same way and asks again;
4. reads the server process's resident memory from ``/proc``: the peak (VmHWM) and the current RSS
   after the questions; and samples, twice a second, the server plus its child processes (the app
   embeds a corpus in a ``python -m medqa index`` child), whose peak sum is what a container's memory
   limit sees;
5. with both models still loaded, starts a training of each preset on the Train page (its own data,
   batch size and sequence length; by default the whole preset, ``--train-steps`` caps the steps),
   which runs in a ``python -m medqa train`` child, and samples server + children until the run is
   saved.

Writes bench/results/memory.txt. Targets: the server alone under 1 GB; server + children (index builds,
a training) under 2.7 GB, the most Community Cloud gives an app (its documented range: 690 MB-2.7 GB).
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
#: Community Cloud's upper memory limit for an app: server and its children together.
TREE_TARGET_MB = 2700
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


def stage(text: str) -> None:
    """Say which step the benchmark is at (a step that hangs is then named in the log)."""
    print(time.strftime("%H:%M:%S"), text, flush=True)


def wait_for_index(page, indexes: Path, count: int, timeout_ms: float) -> None:
    """Wait until ``count`` complete indexes are on disk and the sidebar no longer says one is being built."""
    from tests.e2e.test_journeys import settle

    deadline = time.monotonic() + timeout_ms / 1000
    while len(list(indexes.glob("*/embeddings.npy"))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} indexes in {indexes} after {timeout_ms / 1000:.0f} s")
        time.sleep(2)
    settle(page, timeout_ms)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSidebar"]').innerText
            .includes('Building the search index of')""",
        timeout=timeout_ms,
        polling=1000,
    )
    settle(page, timeout_ms)


def train_in_app(page, server, preset: str, steps: int, timeout_ms: float) -> float:
    """Start a training of a preset (only its steps capped) on the Train page; seconds until saved."""
    from tests.e2e.test_journeys import open_page, set_field, settle

    name = f"bench-memory-{preset}"
    open_page(page, server, "Train", expect='h1:has-text("Fine-tune the model")')
    page.get_by_text(preset.capitalize(), exact=True).first.click()
    settle(page)
    # Until the rerun has drawn the chosen recipe's settings, the previous recipe's fields are shown too:
    # set_field waits for one.
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
        "--train-steps", type=int, default=-1, help="steps of the trainings started in the app (-1: all)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures are written")
    options = parser.parse_args()
    if not options.source:
        parser.error("give --source or set MEDQA_MEDQUAD_SOURCE")

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _stop, start_server

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
                # The chat box is there at once (quick answers); the full index is built in the background.
                stage("opening Ask; waiting for the full-corpus index")
                page.goto(f"{server.url}/Ask")
                page.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=timeout_ms)
                wait_for_index(page, root / "data" / "indexes", 1, timeout_ms)
                base_ready = time.perf_counter() - started
                first_answer = ask(page, QUESTION, timeout_ms)
                one_model = memory_mb(server.process.pid)
                started = time.perf_counter()
                stage("comparing models; waiting for the fine-tuned model's index")
                page.get_by_text("Compare models", exact=True).click()
                page.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=timeout_ms)
                wait_for_index(page, root / "data" / "indexes", 2, timeout_ms)
                compare_ready = time.perf_counter() - started
                second_answer = ask(page, "Is there treatment to slow progression?", timeout_ms)
                reply = page.locator('[data-testid="stChatMessage"]').last.inner_text()
                assert "bench-memory-run" in reply, "the fine-tuned model's answers are not shown"
                both = memory_mb(server.process.pid)
                asking_peak = tree["peak"]
                trainings = {}
                for preset in ("original", "recommended"):
                    stage(f"training the {preset} preset on the Train page")
                    with sampled_peak(server.process.pid) as training_tree:
                        seconds = train_in_app(page, server, preset, options.train_steps, timeout_ms)
                    trainings[preset] = (seconds, training_tree["peak"])
                after_training = memory_mb(server.process.pid)
                torch_in_server = torch_loaded(server.process.pid)
                browser.close()
            # Pairs covered by each index (a row per embedded text; the first column of units is its pair).
            indexed = [
                len(np.unique(np.load(path, mmap_mode="r")[:, 0]))
                for path in (root / "data" / "indexes").glob("*/units.npy")
            ]
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
        f"{'under' if asking_peak < TREE_TARGET_MB else 'OVER'} {TREE_TARGET_MB} MB)",
        *(
            f"training on the Train page, {preset} preset "
            f"({'all' if options.train_steps < 0 else options.train_steps} steps, both models still "
            f"loaded): {seconds:.0f} s; peak RSS of server + training child {peak:.0f} MB "
            f"({'under' if peak < TREE_TARGET_MB else 'OVER'} {TREE_TARGET_MB} MB)"
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
    # Both models' indexes cover the full corpus (the Ask page's default corpus is "full").
    assert indexed.count(full.answered) >= 2, f"indexes of {indexed} pairs, full has {full.answered}"


if __name__ == "__main__":
    main()
