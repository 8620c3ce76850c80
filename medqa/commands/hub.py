"""``medqa publish`` / ``medqa import`` move runs to and from the Hugging Face Hub; ``medqa publish-index`` /
``medqa import-index`` do the same for a built search index (:mod:`medqa.retrieval.hub_index`).

The token is read from ``HF_TOKEN`` or, with ``--ask-token``, typed at a hidden prompt; never from the
command line, where it would land in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``publish`` and ``import`` commands."""
    publish = subparsers.add_parser("publish", help="upload a trained run to the Hugging Face Hub")
    publish.add_argument("run", help="the run's name under models/")
    publish.add_argument("repo_id", help="owner/name on the Hub")
    publish.add_argument(
        "--public", action="store_true", help="create the repository public (default: private)"
    )
    publish.add_argument("--ask-token", action="store_true", help="type the token at a hidden prompt")
    publish.set_defaults(handler=_publish)

    imported = subparsers.add_parser(
        "import", help="download a run (or any sentence-transformers model) from the Hub"
    )
    imported.add_argument("repo_id", help="owner/name on the Hub")
    imported.add_argument("--name", help="run name under models/ (default: the repository's name)")
    imported.add_argument("--revision", help="branch, tag or commit (default: main)")
    imported.add_argument("--overwrite", action="store_true", help="replace an existing run of that name")
    imported.add_argument("--ask-token", action="store_true", help="type a read token at a hidden prompt")
    imported.set_defaults(handler=_import)

    publish_index = subparsers.add_parser(
        "publish-index",
        help="upload this machine's full-corpus search index of a model to a Hub dataset repository",
    )
    publish_index.add_argument("repo_id", help="owner/name on the Hub (a dataset repository)")
    publish_index.add_argument("--model", default="base", help="base or a trained run's name (default: base)")
    publish_index.add_argument("--private", action="store_true", help="create the repository private")
    publish_index.add_argument("--ask-token", action="store_true", help="type the token at a hidden prompt")
    publish_index.set_defaults(handler=_publish_index)

    import_index = subparsers.add_parser(
        "import-index", help="download a published search index, so the next build embeds only what it lacks"
    )
    import_index.add_argument("repo_id", help="owner/name on the Hub (a dataset repository)")
    import_index.add_argument("--model", default="base", help="the model it must have been built with")
    import_index.add_argument("--revision", help="branch, tag or commit (default: main)")
    import_index.add_argument("--ask-token", action="store_true", help="type a read token at a hidden prompt")
    import_index.set_defaults(handler=_import_index)


def _token(options: argparse.Namespace) -> str | None:
    return getpass.getpass("Hugging Face token: ") if options.ask_token else None


def _publish(options: argparse.Namespace) -> int:
    from medqa.training import hub

    result = hub.publish_run(options.run, options.repo_id, token=_token(options), private=not options.public)
    print(f"published {options.run} to {result.url} ({'private' if result.private else 'public'})")
    return 0


def _import(options: argparse.Namespace) -> int:
    from medqa.training import hub

    run = hub.import_run(
        options.repo_id,
        name=options.name,
        token=_token(options),
        revision=options.revision,
        overwrite=options.overwrite,
    )
    print(f"imported {options.repo_id} as {run.name} ({run.path})")
    return 0


def _publish_index(options: argparse.Namespace) -> int:
    from medqa.retrieval import hub_index

    result = hub_index.publish_index(
        options.repo_id, options.model, token=_token(options), private=options.private
    )
    print(
        f"published the {options.model} index to {result.url} ({'private' if result.private else 'public'})"
    )
    return 0


def _import_index(options: argparse.Namespace) -> int:
    from medqa.retrieval import hub_index

    imported = hub_index.import_index(
        options.repo_id, options.model, token=_token(options), revision=options.revision
    )
    print(
        f"imported {imported.texts:,} embeddings from {imported.repo_id} into {imported.folder}; "
        "the next index build of this model uses them"
    )
    return 0
