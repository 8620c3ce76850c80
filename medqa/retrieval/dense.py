"""Dense (embedding) index over a corpus, cached on disk so a restart loads it in milliseconds.

The cache lives in ``data/indexes/<key>/`` where ``key`` hashes the model fingerprint, the corpus
fingerprint and the index settings (fields, max sequence length, precision, format version). A cache
entry is ``embeddings.npy`` plus ``meta.json`` carrying the shape and a SHA-256 of the embedding bytes;
anything that does not match (truncated file, edited bytes, other corpus) is rebuilt, never trusted.

Building runs torch-free where the model allows (ONNX Runtime, else the numpy encoder; torch costs about
550 MB of RSS once imported, more while embedding; see :func:`embed_corpus`). The app builds with
``isolated=True``: a child process (``python -m medqa index``) embeds the corpus and writes the cache,
then exits and gives its memory back; the Streamlit server only
reads the finished cache and answers with the torch-free query encoder, which keeps it under Community
Cloud's 1 GB.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medqa import atomic, models, settings, system
from medqa.child_process import run_medqa
from medqa.data import schema as col
from medqa.data.store import table_fingerprint
from medqa.errors import IndexBuildError, IndexCacheError, ModelLoadError
from medqa.retrieval.encoder import NumpyBertEncoder, single_thread_blas
from medqa.retrieval.onnx_encoder import FP32, INT8, INT8_MIN_COSINE, OnnxBertEncoder, onnx_available
from medqa.retrieval.texts import focus_prefixed

logger = logging.getLogger(__name__)

#: Bump when the embedding texts or file layout change, so older caches are not reused.
INDEX_VERSION = 2

ProgressCallback = Callable[[int, int], None]

#: What ``python -m medqa index --progress-lines`` prints before each ``done total`` pair.
PROGRESS_PREFIX = "progress"

#: Tokens per word of MedQuAD text for the all-MiniLM-L6-v2 tokenizer, to size embedding work without
#: tokenizing (:func:`approximate_tokens`): 1.48 over a sample of the full corpus's index texts
#: (2026-12-01).
TOKENS_PER_WORD = 1.5
#: The embedding rate assumed until this machine has timed a build of its own (:func:`tokens_per_second`):
#: a full-corpus index, 2.55 million tokens, took 199 s on 2 cores of an AMD Zen 5 with ONNX Runtime in
#: fp32 (eighteenth session), 12,800 tokens/s; halved for CPUs with half its matmul rate (the Zen 3 of
#: earlier sessions) and rounded down. (Before ONNX Runtime: about 490 s, 5,200 tokens/s.)
DEFAULT_TOKENS_PER_SECOND = 6_000.0
#: A build of fewer tokens does not set the rate: loading the model dominates it.
RATE_MIN_TOKENS = 50_000


@dataclass(frozen=True)
class DenseSettings:
    """What is embedded for each pair, and how.

    The default, ``"passages"``, embeds what the answers say: each answer cut into passages of about
    ``passage_words`` words, each prefixed with the pair's focus (``"<focus>: <passage>"``), plus the
    pair's ``"<focus>: <question>"``; the best of a pair's texts scores the pair. On the consumer dev
    half over the full corpus (base model, dense alone) the first passage lifts Accuracy@1 / @3 from
    0.560 / 0.633 (``"<focus>: <question>"`` alone) to 0.699 / 0.831 (:mod:`medqa.retrieval.engine`
    has the hybrid and test-half figures). Only the first passage is kept by default
    (``max_passages=1``): it already holds what most answers are about, and every further passage
    costs embedding time (the full corpus's first passages are 2.2M tokens, its later ones 2.6M more;
    ``bench/bench_ask.py`` prints the build rate). A second passage per answer (7,658 more texts)
    made the dev half worse, not better: dense Accuracy@1 / @3 0.681 / 0.819 and best hybrid 0.723 /
    0.873, against 0.699 / 0.831 and 0.741 / 0.873 with one (``bench/bench_fields.py --passages-only
    --caps 1,2``, ``bench/results/passages.txt``): later passages are details (dosages, genetics) that
    outscore the overview for a plain question. The one-text-per-pair layouts stay available for
    comparison.

    Passage length, measured and not changed (fourteenth session, ``bench/bench_passage_words.py``,
    ``bench/results/passage_words.txt``): on the dev half in the Ask pipeline (base model) longer first
    passages led, hybrid Accuracy@1 / @3 0.761 / 0.888 at 60 words, 0.766 / 0.914 at 100, 0.807 / 0.919
    at 130, 0.777 / 0.909 at 150 and 200 (dense alone rising from 0.650 to 0.751 at @1). But 130 words,
    the dev half's best (12 questions won, 4 lost), did not carry over to the test half: Accuracy@1 0.709
    either way (5 won, 5 lost), @3 0.859 -> 0.864, MRR@10 0.790 -> 0.794 (p = 0.71), for 17% more
    tokens to embed (2.92M against 2.50M) in every cold build (``bench/results/passage_words_test.txt``;
    dense alone 0.668 -> 0.688). So 100 stays.

    Attributes:
        fields: which texts represent a pair (see :func:`document_units`).
        passage_words: words per answer passage (``"passages"`` only); a shorter tail joins the passage
            before it, so passages run from half to one and a half times this.
        max_passages: passages kept per answer, from its start (0: all). The tail of very long answers
            costs embedding time (answers run to 4,000 words) for little retrieval.
        max_seq_length: tokens kept per text (the model truncates the rest).
        precision: ``"auto"``, ``"fp32"``, ``"int8"`` or ``"bf16"`` for building (:func:`embed_corpus`);
            the one used is stored.
    """

    fields: str = "passages"
    passage_words: int = 100
    max_passages: int = 1
    max_seq_length: int = 256
    precision: str = "auto"


#: What ``DenseSettings.precision`` may ask for (:func:`embed_corpus`).
BUILD_PRECISIONS = ("auto", FP32, INT8, "bf16")

#: Field layouts: ``passages`` (the default) and the one-text-per-pair layouts of ``bench/bench_fields.py``.
FIELD_CHOICES = (
    "passages",
    "question",
    "focus_question",
    "answer",
    "question_answer",
    "focus_question_answer",
)
_WORD = re.compile(r"\S+")


def document_texts(corpus: pd.DataFrame, fields: str) -> list[str]:
    """The text embedded for each pair of a corpus, in row order (one-text-per-pair layouts)."""
    question = corpus[col.QUESTION].astype(str).tolist()
    focus = corpus[col.FOCUS].astype(str).tolist()
    answer = corpus[col.ANSWER].astype(str).tolist()
    pairs = zip(focus, question, answer, strict=True)
    if fields == "question":
        return question
    if fields == "focus_question":
        return [focus_prefixed(f, q) for f, q, _ in pairs]
    if fields == "answer":
        return answer
    if fields == "question_answer":
        return [f"{q} {a}" for _, q, a in pairs]
    if fields == "focus_question_answer":
        return [focus_prefixed(f, f"{q} {a}") for f, q, a in pairs]
    raise ValueError(f"fields must be one of {FIELD_CHOICES}, not {fields!r}")


def passage_spans(answer: str, words: int, max_passages: int = 0) -> list[tuple[int, int]]:
    """Character spans of an answer's passages of about ``words`` words, in order.

    Passages cut at word boundaries; a tail shorter than half a passage joins the one before it. An
    answer without words has no passage.
    """
    if words < 1:
        raise ValueError("passage_words must be at least 1")
    bounds = [(match.start(), match.end()) for match in _WORD.finditer(answer)]
    if not bounds:
        return []
    starts = list(range(0, len(bounds), words))
    if len(starts) > 1 and len(bounds) - starts[-1] < (words + 1) // 2:
        starts.pop()
    spans = [
        (bounds[start][0], bounds[min(next_start, len(bounds)) - 1][1])
        for start, next_start in zip(starts, [*starts[1:], len(bounds)], strict=True)
    ]
    return spans[:max_passages] if max_passages > 0 else spans


@dataclass(frozen=True)
class Units:
    """The texts a dense index embeds, and which pair (and answer span) each one stands for.

    Attributes:
        texts: the embedded texts, grouped by pair in row order.
        rows: the corpus row of each text (non-decreasing; every row has at least one text).
        spans: ``(start, end)`` character offsets of each text's passage in its row's answer, or
            ``(-1, -1)`` for a text that is not an answer passage (the question).
    """

    texts: list[str]
    rows: np.ndarray
    spans: np.ndarray


def document_units(corpus: pd.DataFrame, dense_settings: DenseSettings) -> Units:
    """What the dense index embeds for a corpus (see :class:`DenseSettings`)."""
    if dense_settings.fields != "passages":
        texts = document_texts(corpus, dense_settings.fields)
        return Units(
            texts, np.arange(len(texts), dtype=np.int64), np.full((len(texts), 2), -1, dtype=np.int64)
        )
    texts: list[str] = []
    rows: list[int] = []
    spans: list[tuple[int, int]] = []
    columns = (corpus[name].astype(str).tolist() for name in (col.FOCUS, col.QUESTION, col.ANSWER))
    for row, (focus, question, answer) in enumerate(zip(*columns, strict=True)):
        texts.append(focus_prefixed(focus, question))
        rows.append(row)
        spans.append((-1, -1))
        for start, end in passage_spans(answer, dense_settings.passage_words, dense_settings.max_passages):
            texts.append(focus_prefixed(focus, answer[start:end]))
            rows.append(row)
            spans.append((start, end))
    return Units(texts, np.asarray(rows, dtype=np.int64), np.asarray(spans, dtype=np.int64).reshape(-1, 2))


def text_digests(texts: list[str]) -> np.ndarray:
    """A 16-byte BLAKE2b digest of each text: what an incremental build matches embeddings by."""
    return np.array(
        [hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest() for text in texts],
        dtype="S16",
    )


def approximate_tokens(texts: list[str], max_seq_length: int) -> int:
    """About how many tokens embedding ``texts`` runs through the model (words x :data:`TOKENS_PER_WORD`
    plus the two special tokens, each text capped at ``max_seq_length``): the measure of a build's work."""
    return sum(min(int(len(text.split()) * TOKENS_PER_WORD) + 2, max_seq_length) for text in texts)


def indexes_dir() -> Path:
    """Folder of the cached dense indexes."""
    path = settings.data_dir() / "indexes"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(model_fingerprint: str, corpus_fingerprint: str, dense_settings: DenseSettings) -> str:
    """The cache folder name for a model, a corpus and index settings."""
    payload = json.dumps(
        {
            "model": model_fingerprint,
            "corpus": corpus_fingerprint,
            "settings": asdict(dense_settings),
            "version": INDEX_VERSION,
        },
        sort_keys=True,
    )
    return f"{corpus_fingerprint[:8]}-{model_fingerprint[:8]}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def index_key(model_name: str, corpus_fingerprint: str, dense_settings: DenseSettings | None = None) -> str:
    """The cache key of a corpus's index with a model (:func:`cache_key` with the model's fingerprint)."""
    return cache_key(
        models.model_fingerprint(model_name), corpus_fingerprint, dense_settings or DenseSettings()
    )


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _ids_digest(ids: pd.Series) -> str:
    return hashlib.sha256("\n".join(ids.astype(str)).encode()).hexdigest()


@dataclass(frozen=True)
class StoredIndex:
    """A cache entry's verified arrays: embeddings, the pair row and answer span of each, text digests."""

    embeddings: np.ndarray
    rows: np.ndarray
    spans: np.ndarray
    digests: np.ndarray
    meta: dict[str, object]


def load_cached(folder: Path, ids: pd.Series | None) -> StoredIndex:
    """Read and verify a cache entry (``ids``: the corpus it must match; ``None`` for any corpus).

    Raises:
        IndexCacheError: the cache is missing, unreadable or does not match its checksums or the corpus.
    """
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
        units = np.load(folder / "units.npy", allow_pickle=False)
        digests = np.load(folder / "digests.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise IndexCacheError(f"index cache {folder.name} is unreadable: {error}") from error
    shape_ok = (
        embeddings.dtype == np.float32 and embeddings.ndim == 2 and units.dtype == np.int64
        and units.shape == (len(embeddings), 3) and digests.dtype == np.dtype("S16")
        and digests.shape == (len(embeddings),)
    )  # fmt: skip
    if not shape_ok:
        raise IndexCacheError(f"index cache {folder.name} has arrays of unexpected shapes or types")
    checksums = (meta.get("sha256"), meta.get("units_sha256"), meta.get("digests_sha256"))
    if checksums != (_digest(embeddings), _digest(units), _digest(digests)):
        raise IndexCacheError(f"index cache {folder.name} does not match its checksums")
    rows = units[:, 0]
    if ids is not None:
        if meta.get("ids") != _ids_digest(ids):
            raise IndexCacheError(f"index cache {folder.name} belongs to another corpus")
        covered = len(rows) == 0 or (rows[0] == 0 and bool(np.isin(np.diff(rows), (0, 1)).all()))
        if not (covered and (len(rows) == 0 or rows[-1] == len(ids) - 1)):
            raise IndexCacheError(f"index cache {folder.name} does not cover every pair once, in order")
    return StoredIndex(embeddings, rows, units[:, 1:], digests, meta)


def save_index(folder: Path, stored: StoredIndex, ids: pd.Series | None) -> None:
    """Write a cache entry atomically: build it in a temporary sibling folder, then rename it in place.

    ``ids``: the corpus the entry serves; ``None`` for a donor that only lends embeddings to builds (an
    index imported from the Hub, :mod:`medqa.retrieval.hub_index`).
    """
    units = np.column_stack([stored.rows, stored.spans]).astype(np.int64)
    with atomic.replacing_folder(folder) as temp:
        np.save(temp / "embeddings.npy", stored.embeddings, allow_pickle=False)
        np.save(temp / "units.npy", units, allow_pickle=False)
        np.save(temp / "digests.npy", stored.digests, allow_pickle=False)
        payload = {
            **stored.meta,
            "ids": _ids_digest(ids) if ids is not None else None,
            "sha256": _digest(stored.embeddings),
            "units_sha256": _digest(units),
            "digests_sha256": _digest(stored.digests),
            "shape": list(stored.embeddings.shape),
        }
        (temp / "meta.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")


def reusable_embeddings(
    model_fingerprint: str, max_seq_length: int, digests: np.ndarray
) -> tuple[dict[bytes, np.ndarray], set[str]]:
    """Embeddings of texts already embedded by this model in other cached indexes (incremental builds).

    An index built for a corpus that differs by a few rows, or for other settings that share texts (a
    passage cap, the question texts), embeds only what is new. A donor counts only when its model
    fingerprint, ``max_seq_length`` and format version match and its checksums verify.

    Returns:
        The vector of each wanted digest found, and the precisions the donors were built with.
    """
    wanted = set(digests.tolist())
    found: dict[bytes, np.ndarray] = {}
    precisions: set[str] = set()
    for meta_file in sorted(indexes_dir().glob("*/meta.json")):
        if meta_file.parent.name.startswith((".", "bm25-")) or len(found) == len(wanted):
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            matches = (
                meta.get("model_fingerprint") == model_fingerprint
                and meta.get("version") == INDEX_VERSION
                and dict(meta.get("settings") or {}).get("max_seq_length") == max_seq_length
            )
            if not matches:
                continue
            donor = load_cached(meta_file.parent, None)
        except (IndexCacheError, ValueError, OSError, TypeError, AttributeError):
            continue
        before = len(found)
        for position, digest in enumerate(donor.digests.tolist()):
            if digest in wanted and digest not in found:
                found[digest] = donor.embeddings[position]
        if len(found) > before:
            precisions.add(str(meta.get("precision", "fp32")))
    return found, precisions


def tokens_per_second() -> float | None:
    """This machine's embedding rate: approximate tokens per second of the most recent index build that
    embedded at least :data:`RATE_MIN_TOKENS` (each build records its own in ``meta.json``); ``None``
    before any such build (callers then assume :data:`DEFAULT_TOKENS_PER_SECOND`). What the Compare
    page's estimate divides by."""
    latest: tuple[float, float] | None = None
    for meta_file in indexes_dir().glob("*/meta.json"):
        if meta_file.parent.name.startswith("."):
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            tokens, seconds = float(meta.get("embedded_tokens", 0)), float(meta.get("embed_seconds", 0))
            built = meta_file.stat().st_mtime
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        if tokens >= RATE_MIN_TOKENS and seconds > 0 and (latest is None or built > latest[0]):
            latest = (built, tokens / seconds)
    return latest[1] if latest is not None else None


def pending_tokens(
    corpus: pd.DataFrame,
    model_name: str,
    dense_settings: DenseSettings | None = None,
    *,
    corpus_fingerprint: str | None = None,
) -> int:
    """Approximate tokens :meth:`DenseIndex.build_or_load` would embed for this model and corpus: none
    when the index is cached, else every distinct text (at most: texts other cached indexes of the model
    hold are reused, which this does not count)."""
    dense_settings = dense_settings or DenseSettings()
    if DenseIndex.is_cached(corpus, model_name, dense_settings, corpus_fingerprint=corpus_fingerprint):
        return 0
    texts = list(dict.fromkeys(document_units(corpus, dense_settings).texts))
    return approximate_tokens(texts, dense_settings.max_seq_length)


_child_build_lock = threading.Lock()


class DenseIndex:
    """Normalised embeddings of a corpus's texts; a pair scores the cosine of its best text.

    Search is one matrix-vector product over all texts, then a maximum per pair
    (:func:`numpy.maximum.reduceat`, texts being grouped by pair).
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        *,
        from_cache: bool,
        key: str,
        precision: str,
        rows: np.ndarray | None = None,
        spans: np.ndarray | None = None,
        reused: int = 0,
        embedded: int = 0,
    ) -> None:
        self.embeddings = embeddings
        self.from_cache = from_cache
        self.key = key
        self.precision = precision
        self.rows = np.arange(len(embeddings), dtype=np.int64) if rows is None else rows
        self.spans = np.full((len(embeddings), 2), -1, dtype=np.int64) if spans is None else spans
        #: Distinct texts of this build taken from other cached indexes, and those run through the encoder.
        self.reused = reused
        self.embedded = embedded
        self._pairs = int(self.rows[-1]) + 1 if len(self.rows) else 0
        self._one_per_pair = len(self.rows) == self._pairs
        self._starts = np.flatnonzero(np.r_[True, np.diff(self.rows) > 0]) if len(self.rows) else self.rows

    @classmethod
    def _from_stored(cls, stored: StoredIndex, *, from_cache: bool, key: str) -> DenseIndex:
        meta = stored.meta
        return cls(
            stored.embeddings, from_cache=from_cache, key=key, precision=str(meta.get("precision", "fp32")),
            rows=stored.rows, spans=stored.spans, reused=int(meta.get("reused", 0)),
            embedded=int(meta.get("embedded", len(stored.embeddings))),
        )  # fmt: skip

    @classmethod
    def build_or_load(
        cls,
        corpus: pd.DataFrame,
        model_name: str,
        dense_settings: DenseSettings | None = None,
        *,
        corpus_fingerprint: str | None = None,
        progress: ProgressCallback | None = None,
        use_cache: bool = True,
        isolated: bool = False,
    ) -> DenseIndex:
        """Load the cached index for this model, corpus and settings, or build (and cache) it.

        A corrupt or mismatching cache is rebuilt. A read-only data folder only disables caching.
        Building reuses the embeddings of texts other cached indexes of this model already hold
        (:func:`reusable_embeddings`) and embeds only the rest.

        Args:
            isolated: build in a child process (see the module docstring) so this process never
                imports torch; falls back to building here when the cache cannot be written.

        Raises:
            IndexBuildError: the child process failed (its message says why).
        """
        dense_settings = dense_settings or DenseSettings()
        corpus_fingerprint = corpus_fingerprint or table_fingerprint(corpus)
        model_fingerprint = models.model_fingerprint(model_name)
        key = cache_key(model_fingerprint, corpus_fingerprint, dense_settings)
        ids = corpus[col.ID]
        folder = indexes_dir() / key
        if use_cache and (cached := cls._load_folder(folder, ids, key)) is not None:
            return cached
        if isolated and use_cache:
            # One embedding child at a time per server (each holds a model and a corpus), and a session
            # that waited for another's build of the same index loads it instead of building it again.
            with _child_build_lock:
                if (cached := cls._load_folder(folder, ids, key)) is not None:
                    return cached
                if build_in_child(
                    corpus,
                    model_name,
                    dense_settings,
                    corpus_fingerprint=corpus_fingerprint,
                    progress=progress,
                ):
                    return cls._from_stored(load_cached(folder, ids), from_cache=False, key=key)
        units = document_units(corpus, dense_settings)
        digests = text_digests(units.texts)
        found, precisions = (
            reusable_embeddings(model_fingerprint, dense_settings.max_seq_length, digests)
            if use_cache
            else ({}, set())
        )
        # Each distinct text is embedded once (answers repeated across sources give the same passages).
        missing: dict[bytes, int] = {}
        for position, digest in enumerate(digests.tolist()):
            if digest not in found and digest not in missing:
                missing[digest] = position
        to_embed = [units.texts[i] for i in missing.values()]
        began = time.perf_counter()
        new_vectors, precision = (
            embed_corpus(to_embed, model_name, dense_settings, progress)
            if missing
            else (np.zeros((0, 0), np.float32), "")
        )
        embed_seconds = time.perf_counter() - began
        vectors = dict(zip(missing, new_vectors, strict=True))
        vectors.update(found)
        embeddings = np.stack([vectors[digest] for digest in digests.tolist()]).astype(np.float32, copy=False)
        if progress is not None and not missing:
            progress(len(units.texts), len(units.texts))
        precision = "+".join(sorted({precision, *precisions} - {""})) or "fp32"
        meta = {"model": model_name, "model_fingerprint": model_fingerprint, "settings": asdict(dense_settings),
                "precision": precision, "version": INDEX_VERSION, "reused": len(found), "embedded": len(missing),
                "embedded_tokens": approximate_tokens(to_embed, dense_settings.max_seq_length),
                "embed_seconds": round(embed_seconds, 3)}  # fmt: skip
        stored = StoredIndex(embeddings, units.rows, units.spans, digests, meta)
        if use_cache:
            with contextlib.suppress(OSError):  # read-only or full disk: the index still works in memory
                save_index(folder, stored, ids)
        return cls._from_stored(stored, from_cache=False, key=key)

    @classmethod
    def _load_folder(cls, folder: Path, ids: pd.Series, key: str) -> DenseIndex | None:
        """The cached index in ``folder``; ``None`` when there is none (a corrupt one is removed)."""
        if not folder.is_dir():
            return None
        try:
            stored = load_cached(folder, ids)
        except (IndexCacheError, ValueError, OSError):
            shutil.rmtree(folder, ignore_errors=True)  # corrupt: the caller rebuilds it
            return None
        return cls._from_stored(stored, from_cache=True, key=key)

    @staticmethod
    def is_cached(
        corpus: pd.DataFrame,
        model_name: str,
        dense_settings: DenseSettings | None = None,
        *,
        corpus_fingerprint: str | None = None,
    ) -> bool:
        """Whether a cache entry exists for this model, corpus and settings (not verified)."""
        key = index_key(model_name, corpus_fingerprint or table_fingerprint(corpus), dense_settings)
        return (indexes_dir() / key / "meta.json").is_file()

    def __len__(self) -> int:
        """Number of pairs (not texts) the index scores."""
        return self._pairs

    @property
    def texts(self) -> int:
        """Number of embedded texts (passages and questions)."""
        return int(self.embeddings.shape[0])

    def text_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of one normalised query vector with every embedded text."""
        with single_thread_blas():
            return self.embeddings @ query_vector.astype(np.float32, copy=False)

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of one normalised query vector with every pair (its best text)."""
        scores = self.text_scores(query_vector)
        if self._one_per_pair:
            return scores
        return np.maximum.reduceat(scores, self._starts)

    def best_passage(self, row: int, query_vector: np.ndarray) -> tuple[int, int, float] | None:
        """The answer span of a pair that matched a query best, with its cosine.

        Returns:
            ``(start, end, cosine)`` in the pair's answer; ``None`` when the pair's best text is not an
            answer passage (its question matched best, or the layout embeds no passages).
        """
        start = int(self._starts[row])
        end = int(self._starts[row + 1]) if row + 1 < len(self._starts) else len(self.rows)
        scores = self.embeddings[start:end] @ query_vector.astype(np.float32, copy=False)
        best = int(np.argmax(scores))
        span_start, span_end = (int(value) for value in self.spans[start + best])
        if span_start < 0:
            return None
        return span_start, span_end, float(scores[best])

    @staticmethod
    def top(scores: np.ndarray, k: int) -> np.ndarray:
        """Row numbers of the ``k`` highest scores, best first."""
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]


def build_workers() -> int:
    """Batches a corpus build embeds at once with the numpy encoder: one per core this process may use."""
    return system.usable_cpus()


def embed_without_torch(
    texts: list[str],
    source: str | Path,
    max_seq_length: int,
    progress: ProgressCallback | None = None,
    *,
    int8: bool = False,
) -> tuple[np.ndarray, str] | None:
    """Embeddings of many texts from a model folder without torch, and the precision used.

    ONNX Runtime (:class:`~medqa.retrieval.onnx_encoder.OnnxBertEncoder`) when it is installed: in fp32
    about 1.8x the numpy encoder's rate on 2 cores (cosine >= 0.9999); in int8, asked for with
    ``int8``, about 2.5x, and only where a sample of these texts shows every cosine to fp32 of at least
    :data:`~medqa.retrieval.onnx_encoder.INT8_MIN_COSINE` (else fp32, with a warning in the log).
    Without it, the numpy encoder one batch per core. Corpus builds and the trainer's fp32 distillation
    targets use this.

    Returns:
        Normalised float32 rows and ``"fp32"`` or ``"int8"``, or ``None`` when ``source`` is not a
        folder of an architecture these encoders cover (BERT + mean pooling); the caller then embeds
        with torch.
    """
    if not Path(source).is_dir():
        return None
    unsupported = (ModelLoadError, KeyError, ValueError, OSError, json.JSONDecodeError)
    if onnx_available():
        try:
            encoder = OnnxBertEncoder(source, max_length=max_seq_length, precision=INT8 if int8 else FP32)
            if int8 and (agreement := encoder.check_int8(texts)) < INT8_MIN_COSINE:
                logger.warning(
                    "int8 embeddings agree with fp32 down to a cosine of %.4f on this CPU (< %.2f): "
                    "embedding in fp32",
                    agreement,
                    INT8_MIN_COSINE,
                )
                encoder = OnnxBertEncoder(source, max_length=max_seq_length, precision=FP32)
            return encoder.encode(texts, batch_size=32, progress=progress), encoder.precision
        except unsupported as error:
            logger.info("ONNX Runtime cannot embed with %s (%s): trying the numpy encoder", source, error)
    try:
        numpy_encoder = NumpyBertEncoder(source, max_length=max_seq_length)
    except unsupported:
        return None  # an architecture the torch-free paths do not cover
    return numpy_encoder.encode(texts, batch_size=32, progress=progress, workers=build_workers()), FP32


def build_precision(asked: str) -> str:
    """The path :func:`embed_corpus` takes for ``asked`` (``auto`` resolved; int8 may still fall back to
    fp32 where it does not agree with fp32 on this CPU)."""
    if asked != "auto":
        return asked
    if not onnx_available() and models.cpu_flags_bf16() and models.torch_available():
        return "bf16"
    return FP32


def embed_corpus(
    texts: list[str], model_name: str, dense_settings: DenseSettings, progress: ProgressCallback | None = None
) -> tuple[np.ndarray, str]:
    """Embeddings of a corpus's texts and the precision used (``"fp32"``, ``"int8"`` or ``"bf16"``).

    ``auto`` builds in fp32 through ONNX Runtime where it is installed (:func:`embed_without_torch`;
    eighteenth session, AMD Zen 5, 2 cores: the full corpus in 199 s against about 490 s for the numpy
    encoder, and as fast as torch bf16 on this CPU with AVX512-BF16, 196 s, without importing torch).
    Without ONNX Runtime, ``auto`` is torch bf16 on a CPU with native bf16 and the numpy encoder
    elsewhere. ``int8`` is a choice, not the default: 158 s for the full corpus, the same consumer dev
    half (right topic first 0.761 against 0.766, top 3 0.914 for both; 3 of 197 first answers
    changed), but the curated held-out split, judged by the answer among a condition's pages, lost hybrid
    MRR@10 0.463 -> 0.453 (-0.010, 95% paired-bootstrap CI -0.023 to -0.000; dense alone 0.505 -> 0.508),
    and the issue asks fine-tuning not to lose there (``bench/results/quality_int8.txt``). ``fp32`` and
    ``int8`` run torch-free when the model allows; ``bf16`` and other architectures run on torch.
    """
    precision = build_precision(dense_settings.precision)
    source = models.resolve_model_source(model_name)
    if precision in (FP32, INT8) or not models.torch_available():  # a lean install: no torch at all
        embedded = embed_without_torch(
            texts, source, dense_settings.max_seq_length, progress, int8=precision == INT8
        )
        if embedded is not None:
            return embedded
    model = models.load_model(model_name)
    model.max_seq_length = dense_settings.max_seq_length
    precision = models.choose_precision(model, precision if precision == "bf16" else FP32)
    return models.encode(model, texts, precision=precision, show_progress=progress), precision


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def build_in_child(
    corpus: pd.DataFrame,
    model_name: str,
    dense_settings: DenseSettings,
    *,
    corpus_fingerprint: str,
    progress: ProgressCallback | None = None,
) -> bool:
    """Build and cache the index in a ``python -m medqa index`` child process.

    The corpus goes to the child as a temporary parquet file with the parent's fingerprint, so both
    compute the same cache key whatever the corpus's origin (a dataset, an upload, a filtered view).

    Returns:
        ``True`` when the cache was written; ``False`` when the data folder is not writable (the
        caller then builds in memory).

    Raises:
        MedQAError: the child failed with a typed error (raised here as the same type).
        IndexBuildError: the child failed otherwise (crashed, killed).
    """
    if not _writable(indexes_dir()):
        return False
    # What the embedded texts need, as a table ``python -m medqa index --corpus FILE`` reads back;
    # answers (most of a corpus's bytes) only for the layouts that embed them.
    columns = [name for name in (col.ID, col.QUESTION, col.FOCUS, col.ANSWER) if name in corpus.columns]
    table = corpus[columns].reset_index(drop=True).assign(**{col.HAS_ANSWER: True})
    if "answer" not in dense_settings.fields and dense_settings.fields != "passages":
        table[col.ANSWER] = ""
    with tempfile.TemporaryDirectory(dir=indexes_dir(), prefix=".corpus-") as scratch:
        corpus_file = Path(scratch) / "corpus.parquet"
        table.to_parquet(corpus_file, index=False)
        command = [
            "index", "--corpus", str(corpus_file), "--model", model_name,
            "--corpus-fingerprint", corpus_fingerprint, "--fields", dense_settings.fields,
            "--max-seq-length", str(dense_settings.max_seq_length), "--precision", dense_settings.precision,
            "--passage-words", str(dense_settings.passage_words),
            "--max-passages", str(dense_settings.max_passages), "--progress-lines",
        ]  # fmt: skip

        def relay(line: str) -> None:
            parts = line.split()
            if progress is not None and len(parts) == 3 and parts[0] == PROGRESS_PREFIX:
                progress(int(parts[1]), int(parts[2]))

        run_medqa(
            command,
            relay,
            what="Embedding the corpus",
            crash_error=IndexBuildError,
            scratch_dir=Path(scratch),
        )
    return True
