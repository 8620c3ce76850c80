"""Embedding indexes built in the background: one build per index, shared by every session of a server.

A full MedQuAD index takes minutes on 2 cores; it must not be built inside a page's script run, where a
visitor waits behind a spinner and a page change throws the work away. :func:`start` runs
:meth:`DenseIndex.build_or_load <medqa.retrieval.dense.DenseIndex.build_or_load>` (in its child process)
on a server thread, and every page reads the same :class:`IndexBuild` for its progress and ETA, like the
training job. Home starts the base model's index right after **Load MedQuAD**; Ask starts the one it
needs and meanwhile answers with a quick engine (:mod:`medqa.retrieval.quick`). Starting an index that
is already being built returns the running build; a finished one is forgotten once its index is on disk.

When the deployer names a published index (``MEDQA_INDEX_REPO``, :mod:`medqa.retrieval.hub_index`), a
build first imports it (once per server; public repositories only, no token is sent) and then embeds
only the texts it lacks: for the corpus it was published for, nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import pandas as pd

from medqa.data.store import table_fingerprint
from medqa.errors import MedQAError
from medqa.retrieval import hub_index
from medqa.retrieval.dense import DenseIndex, DenseSettings, index_key

logger = logging.getLogger(__name__)

#: Progress reports needed before an ETA is shown (the first ones include the model's start-up).
ETA_AFTER = 2
#: A failed build is started again only this long after it failed, so a build that cannot succeed (a
#: broken model, too little memory) is not retried on every page view.
RETRY_AFTER_SECONDS = 300.0


@dataclass
class IndexBuild:
    """One background build and what pages show about it.

    Attributes:
        key: the index's cache key.
        label: what is being indexed, for people ("full MedQuAD with the base model").
        started: when the build started (``time.time()``).
        done: texts embedded so far.
        total: texts to embed (0 until the child reports).
        finished: when it ended, or ``None`` while it runs.
        error: why it failed, or ``None``.
    """

    key: str
    label: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    finished: float | None = None
    error: str | None = None
    _reports: list[tuple[float, int]] = field(default_factory=list, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """Whether the build is still working."""
        return self.finished is None

    @property
    def fraction(self) -> float:
        """Share of the texts embedded, 0 to 1."""
        return min(self.done / self.total, 1.0) if self.total else 0.0

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds left at the rate measured since the first progress report; ``None`` until known."""
        if len(self._reports) < ETA_AFTER or not self.total:
            return None
        (first_time, first_done), (last_time, last_done) = self._reports[0], self._reports[-1]
        if last_done <= first_done or last_time <= first_time:
            return None
        rate = (last_done - first_done) / (last_time - first_time)
        elapsed_since = (now or time.time()) - last_time
        return max((self.total - last_done) / rate - elapsed_since, 0.0)

    def report(self, done: int, total: int) -> None:
        """Progress from the build (``progress(done, total)``)."""
        self.done, self.total = done, total
        self._reports.append((time.time(), done))
        del self._reports[1:-1]  # the first and the latest are all the rate needs

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the build ends (or ``timeout`` seconds pass); ``True`` when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running


_lock = threading.Lock()
_builds: dict[str, IndexBuild] = {}


def find(key: str) -> IndexBuild | None:
    """The build of this index (running, or failed), or ``None``."""
    with _lock:
        return _builds.get(key)


def active() -> list[IndexBuild]:
    """Builds still running, oldest first."""
    with _lock:
        return [build for build in _builds.values() if build.running]


def start(
    corpus: pd.DataFrame,
    model: str,
    *,
    label: str,
    corpus_fingerprint: str | None = None,
    dense_settings: DenseSettings | None = None,
) -> IndexBuild:
    """Build this index in the background unless it is being built already; the build either way.

    A build that failed is returned as it is for :data:`RETRY_AFTER_SECONDS`, then started again.
    Nothing happens (a finished build is returned) when the index is cached.
    """
    dense_settings = dense_settings or DenseSettings()
    corpus_fingerprint = corpus_fingerprint or table_fingerprint(corpus)
    key = index_key(model, corpus_fingerprint, dense_settings)
    with _lock:
        current = _builds.get(key)
        if current is not None and (
            current.running
            or current.error is None
            or time.time() - (current.finished or 0) < RETRY_AFTER_SECONDS
        ):
            return current
        build = IndexBuild(key=key, label=label)
        if DenseIndex.is_cached(corpus, model, dense_settings, corpus_fingerprint=corpus_fingerprint):
            build.finished = build.started
            return build

        def work() -> None:
            try:
                _import_published(model)
                DenseIndex.build_or_load(
                    corpus, model, dense_settings, corpus_fingerprint=corpus_fingerprint,
                    progress=build.report, isolated=True,
                )  # fmt: skip
            except MedQAError as error:
                build.error = str(error)
            except Exception as error:  # the thread must never die silently
                build.error = f"{type(error).__name__}: {error}"
            finally:
                build.finished = time.time()
                if build.error is None:
                    with _lock:  # on disk now: nothing left to show
                        _builds.pop(key, None)

        build._thread = threading.Thread(target=work, name=f"medqa-index-{key[:8]}", daemon=True)
        _builds[key] = build
        build._thread.start()
        return build


_import_tried: set[tuple[str, str]] = set()


def _import_published(model: str) -> None:
    """Import the deployer's published index once per server and model (see the module docstring).

    A failed import (offline, another model's index, a damaged file) only costs the build its head
    start: it is logged without the token (none is sent) and the build embeds everything.
    """
    repo = hub_index.configured_repo()
    if repo is None or hub_index.imported(repo):
        return
    with _lock:
        if (repo, model) in _import_tried:
            return
        _import_tried.add((repo, model))
    try:
        found = hub_index.import_index(repo, model, server_token=False)
        logger.info("imported %d embeddings from %s", found.texts, repo)
    except MedQAError as error:
        logger.warning("could not import the published index %s: %s", repo, error)
