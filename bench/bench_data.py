"""Benchmark the data layer on the real MedQuAD archive: cold parse + curated build, then warm.

Usage: ``python bench/bench_data.py [--source PATH]`` (default: $MEDQA_MEDQUAD_SOURCE). Runs in a fresh
temporary data folder so "cold" really means no cache. Targets: cold well under 60 s, warm under 2 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medqa.data import schema as col
from medqa.data import store

COLD_TARGET_S = 60.0
WARM_TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MEDQA_MEDQUAD_SOURCE"))
    arguments = parser.parse_args()
    if not arguments.source:
        parser.error("give --source or set MEDQA_MEDQUAD_SOURCE")

    with tempfile.TemporaryDirectory() as scratch:
        os.environ["MEDQA_DATA_DIR"] = scratch
        started = time.perf_counter()
        full, _curated = store.build_datasets(arguments.source)
        cold = time.perf_counter() - started

        started = time.perf_counter()
        store.build_datasets(arguments.source)
        warm = time.perf_counter() - started

        started = time.perf_counter()
        pairs = store.load_pairs(store.FULL)
        load_only = time.perf_counter() - started

        table = store.load_pairs(store.CURATED)
        print(f"source: {arguments.source}")
        print(
            f"pairs parsed: {full.rows:,} (answered {full.answered:,}, without answer {full.rows - full.answered:,})"
        )
        print(f"sources: {pairs[col.SOURCE].nunique()}  focus areas with answers: {full.focus_areas:,}")
        per_area = table.groupby(col.FOCUS).size()
        print(
            f"curated: {len(table)} pairs = {per_area.size} focus areas x {per_area.min()}..{per_area.max()} "
            f"(train {int((table[col.SPLIT] == col.TRAIN).sum())}, test {int((table[col.SPLIT] == col.TEST).sum())})"
        )
        print(f"cold parse + curated build: {cold:6.2f} s  (target < {COLD_TARGET_S:.0f} s)")
        print(f"warm (cache) + curated build: {warm:6.2f} s  (target < {WARM_TARGET_S:.0f} s)")
        print(f"warm load of the full table: {load_only:6.2f} s")


if __name__ == "__main__":
    main()
