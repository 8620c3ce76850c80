"""``python -m medqa``: the command-line interface."""

from __future__ import annotations

from medqa.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
