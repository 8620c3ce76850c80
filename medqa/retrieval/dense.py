"""Dense (embedding) index over a corpus, cached on disk so a restart loads it in milliseconds.

The cache lives in ``data/indexes/<key>/`` where ``key`` hashes the model fingerprint, the corpus
fingerprint and the index settings (fields, max sequence length, precision, format version). A cache
entry is ``embeddings.npy`` plus ``meta.json`` carrying the shape and a SHA-256 of the embedding bytes;
anything that does not match (truncated file, edited bytes, other corpus) is rebuilt, never trusted.

Building may need torch (about 550 MB of RSS once imported, more while embedding; see
:func:`embed_corpus`). The app builds with ``isolated=True``: a child process (``python -m medqa index``)
embeds the corpus and writes the cache, then exits and gives its memory back; the Streamlit server only
reads the finished cache and answers with the torch-free query encoder, which keeps it under Community
Cloud's 1 GB.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medqa import models, settings
from medqa.child_process import run_medqa
from medqa.data import schema as col
from medqa.data.store import table_fingerprint
from medqa.errors import IndexBuildError, IndexCacheError, ModelLoadError
from medqa.retrieval.cache_folder import replacing
from medqa.retrieval.encoder import NumpyBertEncoder, single_thread_blas

#: Bump when the embedding texts or file layout change, so older caches are not reused.
INDEX_VERSION = 1

ProgressCallback = Callable[[int, int], None]

#: What ``python -m medqa index --progress-lines`` prints before each ``done total`` pair.
PROGRESS_PREFIX = "progress"


@dataclass(frozen=True)
class DenseSettings:
    """What is embedded for each pair, and how.

    ``"<focus>: <question>"`` was measured best by ``bench/bench_fields.py`` (``bench/results/fields.txt``):
    curated held-out hit@1 1.000 against 0.992 for the question alone and 0.950 for the answer; on the
    consumer questions over the full corpus hit@1 0.832 against 0.811 for the question alone (answer
    layouts were only measured on the curated task: embedding 16k answers takes ~10 minutes here). These
    texts are far shorter than 128 tokens, so ``max_seq_length`` only matters for other layouts.

    Attributes:
        fields: which text represents a pair (see :func:`document_texts`).
        max_seq_length: tokens kept per text (the model truncates the rest).
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"`` for building; the resolved one is stored.
    """

    fields: str = "focus_question"
    max_seq_length: int = 256
    precision: str = "auto"


#: Field layouts measured by ``bench/bench_fields.py``.
FIELD_CHOICES = ("question", "focus_question", "answer", "question_answer", "focus_question_answer")


def document_texts(corpus: pd.DataFrame, fields: str) -> list[str]:
    """The text embedded for each pair of a corpus, in row order."""
    question = corpus[col.QUESTION].astype(str)
    focus = corpus[col.FOCUS].astype(str)
    answer = corpus[col.ANSWER].astype(str)
    if fields == "question":
        texts = question
    elif fields == "focus_question":
        texts = focus + ": " + question
    elif fields == "answer":
        texts = answer
    elif fields == "question_answer":
        texts = question + " " + answer
    elif fields == "focus_question_answer":
        texts = focus + ": " + question + " " + answer
    else:
        raise ValueError(f"fields must be one of {FIELD_CHOICES}, not {fields!r}")
    return texts.tolist()


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


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _ids_digest(ids: pd.Series) -> str:
    return hashlib.sha256("\n".join(ids.astype(str)).encode()).hexdigest()


def load_cached(folder: Path, ids: pd.Series) -> np.ndarray:
    """Read and verify a cached embedding matrix.

    Raises:
        IndexCacheError: the cache is missing, unreadable or does not match the corpus.
    """
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise IndexCacheError(f"index cache {folder.name} is unreadable: {error}") from error
    if embeddings.dtype != np.float32 or embeddings.ndim != 2 or embeddings.shape[0] != len(ids):
        raise IndexCacheError(
            f"index cache {folder.name} has shape {embeddings.shape}, expected {len(ids)} rows"
        )
    if meta.get("ids") != _ids_digest(ids) or meta.get("sha256") != _digest(embeddings):
        raise IndexCacheError(f"index cache {folder.name} does not match its checksum or corpus")
    return embeddings


def _save(folder: Path, embeddings: np.ndarray, ids: pd.Series, meta: dict[str, object]) -> None:
    """Write a cache entry atomically: build it in a temporary sibling folder, then rename it in place."""
    with replacing(folder) as temp:
        np.save(temp / "embeddings.npy", embeddings, allow_pickle=False)
        payload = {
            **meta,
            "ids": _ids_digest(ids),
            "sha256": _digest(embeddings),
            "shape": list(embeddings.shape),
        }
        (temp / "meta.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")


_child_build_lock = threading.Lock()


class DenseIndex:
    """Normalised embeddings of a corpus's pairs; cosine search by one matrix-vector product."""

    def __init__(self, embeddings: np.ndarray, *, from_cache: bool, key: str, precision: str) -> None:
        self.embeddings = embeddings
        self.from_cache = from_cache
        self.key = key
        self.precision = precision

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

        Args:
            isolated: build in a child process (see the module docstring) so this process never
                imports torch; falls back to building here when the cache cannot be written.

        Raises:
            IndexBuildError: the child process failed (its message says why).
        """
        dense_settings = dense_settings or DenseSettings()
        corpus_fingerprint = corpus_fingerprint or table_fingerprint(corpus)
        key = cache_key(models.model_fingerprint(model_name), corpus_fingerprint, dense_settings)
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
                    embeddings = load_cached(folder, ids)
                    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                    precision = str(meta.get("precision", "fp32"))
                    return cls(embeddings, from_cache=False, key=key, precision=precision)
        embeddings, precision = embed_corpus(
            document_texts(corpus, dense_settings.fields), model_name, dense_settings, progress
        )
        if use_cache:
            meta = {"model": model_name, "settings": asdict(dense_settings), "precision": precision,
                    "version": INDEX_VERSION}  # fmt: skip
            with contextlib.suppress(OSError):  # read-only or full disk: the index still works in memory
                _save(folder, embeddings, ids, meta)
        return cls(embeddings, from_cache=False, key=key, precision=precision)

    @classmethod
    def _load_folder(cls, folder: Path, ids: pd.Series, key: str) -> DenseIndex | None:
        """The cached index in ``folder``; ``None`` when there is none (a corrupt one is removed)."""
        if not folder.is_dir():
            return None
        try:
            embeddings = load_cached(folder, ids)
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (IndexCacheError, ValueError, OSError):
            shutil.rmtree(folder, ignore_errors=True)  # corrupt: the caller rebuilds it
            return None
        return cls(embeddings, from_cache=True, key=key, precision=str(meta.get("precision", "fp32")))

    @staticmethod
    def is_cached(
        corpus: pd.DataFrame,
        model_name: str,
        dense_settings: DenseSettings | None = None,
        *,
        corpus_fingerprint: str | None = None,
    ) -> bool:
        """Whether a cache entry exists for this model, corpus and settings (not verified)."""
        key = cache_key(
            models.model_fingerprint(model_name),
            corpus_fingerprint or table_fingerprint(corpus),
            dense_settings or DenseSettings(),
        )
        return (indexes_dir() / key / "meta.json").is_file()

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of one normalised query vector with every pair."""
        with single_thread_blas():
            return self.embeddings @ query_vector.astype(np.float32, copy=False)

    @staticmethod
    def top(scores: np.ndarray, k: int) -> np.ndarray:
        """Row numbers of the ``k`` highest scores, best first."""
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.argsort(-scores[part], kind="stable")]


def embed_corpus(
    texts: list[str], model_name: str, dense_settings: DenseSettings, progress: ProgressCallback | None = None
) -> tuple[np.ndarray, str]:
    """Embeddings of a corpus's texts and the precision used.

    fp32 runs on the torch-free :class:`~medqa.retrieval.encoder.NumpyBertEncoder` when it supports the
    model (as fast as torch fp32 on this 2-core CPU, and ~500 MB lighter); bf16 (asked for, or ``auto``
    on a CPU with native bf16, where it is ~3x faster) and other architectures run on torch.
    """
    wants_fp32 = dense_settings.precision == "fp32" or (
        dense_settings.precision == "auto" and not models.cpu_flags_bf16()
    )
    source = models.resolve_model_source(model_name)
    if wants_fp32 and Path(source).is_dir():
        try:
            encoder = NumpyBertEncoder(source, max_length=dense_settings.max_seq_length)
        except (ModelLoadError, KeyError, ValueError, OSError, json.JSONDecodeError):
            encoder = None  # an architecture the numpy path does not cover
        if encoder is not None:
            return encoder.encode(texts, batch_size=32, progress=progress), "fp32"
    model = models.load_model(model_name)
    model.max_seq_length = dense_settings.max_seq_length
    precision = models.choose_precision(model, dense_settings.precision)
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
    if "answer" not in dense_settings.fields:
        table[col.ANSWER] = ""
    with tempfile.TemporaryDirectory(dir=indexes_dir(), prefix=".corpus-") as scratch:
        corpus_file = Path(scratch) / "corpus.parquet"
        table.to_parquet(corpus_file, index=False)
        command = [
            "index", "--corpus", str(corpus_file), "--model", model_name,
            "--corpus-fingerprint", corpus_fingerprint, "--fields", dense_settings.fields,
            "--max-seq-length", str(dense_settings.max_seq_length), "--precision", dense_settings.precision,
            "--progress-lines",
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
