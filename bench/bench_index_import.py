"""How fast a deployment gets the full search index from a published one instead of building it.

Exports this machine's cached full-corpus index of the base model the way ``medqa publish-index``
uploads it, then, in a fresh data folder holding only the datasets (a new deployment), runs what
``medqa import-index`` / ``MEDQA_INDEX_REPO`` do after the download (checksum, shapes and model checks,
stored as a donor) and the index build that follows. The download itself is the network's: the figure
is printed for 10 and 50 MB/s. Compared with the cold build rates of ``bench/results/ask_build.txt``.

Run: ``.venv/bin/python bench/bench_index_import.py`` (needs ``python -m medqa index`` done first);
writes ``bench/results/index_import.txt``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "index_import.txt"


def main() -> int:
    import numpy as np

    from medqa import settings
    from medqa.data import store
    from medqa.retrieval import hub_index
    from medqa.retrieval.dense import DenseIndex, save_index

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    corpus = store.load_corpus(store.FULL)
    original = DenseIndex.build_or_load(corpus, "base", use_cache=True)
    if not original.from_cache:
        print("the base index was not cached: it has been built now; run again for clean figures")
    say("Published search index: export, import and the build that follows (bench/bench_index_import.py)")
    say(f"full corpus: {len(corpus):,} pairs, {original.texts:,} embedded texts, base model")
    with tempfile.TemporaryDirectory(prefix="medqa-bench-index-") as scratch:
        repo = Path(scratch) / "repo"
        started = time.perf_counter()
        meta = hub_index.export_index("base", repo)
        exported = time.perf_counter() - started
        size = sum(path.stat().st_size for path in repo.iterdir())
        say(
            f"export (what publish-index uploads): {exported:.1f} s, {size / 1e6:.1f} MB ({meta['texts']:,} texts)"
        )

        fresh = Path(scratch) / "data"
        source = settings.data_dir()
        for name in ("datasets", "cache", "calibration"):
            if (source / name).exists():
                shutil.copytree(source / name, fresh / name)
        os.environ["MEDQA_DATA_DIR"] = str(fresh)  # a new deployment: data loaded, no index
        started = time.perf_counter()
        stored = hub_index.verify_index(repo, "owner/index", "base")
        save_index(hub_index.folder_for("owner/index"), stored, None)
        imported = time.perf_counter() - started
        say(
            f"import after the download (SHA-256, shapes, model fingerprint, stored as a donor): {imported:.1f} s"
        )
        started = time.perf_counter()
        built = DenseIndex.build_or_load(store.load_corpus(store.FULL), "base")
        building = time.perf_counter() - started
        say(
            f"index build from it: {building:.1f} s, {built.embedded} texts embedded, "
            f"{built.reused:,} distinct texts reused"
        )
        same = np.array_equal(built.embeddings, original.embeddings)
        say(f"embeddings identical to this machine's index: {same}")
        for rate in (10, 50):
            total = size / (rate * 1e6) + imported + building
            say(f"full index ready after Load MedQuAD at {rate} MB/s download: about {total:.0f} s")
    say("cold build for comparison (bench/results/ask_build.txt): about 490 s fp32, 370 s bf16 on 2 cores")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
