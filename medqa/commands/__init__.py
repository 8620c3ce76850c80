"""Subcommands of ``python -m medqa``; each module exposes ``register(subparsers)``."""
