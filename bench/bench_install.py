"""What a lean server install costs: ``pip install .`` into a clean virtual environment.

Community Cloud installs ``requirements.txt`` (the same lean set as the package's dependencies): no
torch, no sentence-transformers. This script measures that install on this machine — wall time, the
virtual environment's size on disk — and checks what the install can and cannot do: the ``medqa``
console script answers ``--help``, ``torch`` is absent, and the server's modules (retrieval engine,
numpy encoder, pages' helpers) import without it.

Run: ``.venv/bin/python bench/bench_install.py``; writes ``bench/results/install.txt``. Needs the package
registry (PyPI); takes about two minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "install.txt"

#: Modules the Streamlit server imports to answer questions; none may need torch.
SERVER_MODULES = ("medqa.retrieval.engine", "medqa.retrieval.encoder", "medqa.evaluation.runner", "medqa.cli")


def folder_megabytes(folder: Path) -> float:
    """Apparent size of every file below ``folder``, in MB."""
    total = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    return total / 1e6


def main() -> int:
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory(prefix="medqa-install-") as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        started = time.perf_counter()
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
            check=True, cwd=scratch, env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        say(
            f"pip install . (lean server set) in a clean venv: {seconds:.0f} s, {folder_megabytes(venv):,.0f} MB"
        )
        helped = subprocess.run(
            [str(venv / "bin" / "medqa"), "--help"], capture_output=True, text=True, cwd=scratch, env=env
        )
        say(f"medqa --help: exit {helped.returncode}, commands: {helped.stdout.splitlines()[0]}")
        probe = (
            "import importlib, importlib.util, sys\n"
            f"for name in {SERVER_MODULES!r}: importlib.import_module(name)\n"
            "print('torch installed:', importlib.util.find_spec('torch') is not None)\n"
            "print('torch imported by the server modules:', 'torch' in sys.modules)\n"
        )
        checked = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, cwd=scratch, env=env, check=True
        )
        for line in checked.stdout.splitlines():
            say(line)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
