"""Lexical BM25 index (``bm25s``) with English Snowball stemming (PyStemmer) and stopwords.

The default fields are question + focus + synonyms + answer (``"all"``): measured by
``bench/bench_fields.py`` on the consumer questions over the full corpus, indexing the answers lifts
BM25 from hit@1 0.43 / hit@3 0.54 (question + focus + synonyms) to 0.59 / 0.75, because plain-language
questions share more words with answers than with MedQuAD's templated questions.

The scoring is ``bm25s``'s default (Lucene BM25, ``k1`` 1.5, ``b`` 0.75). Measured on 2026-12-01 (thirteenth
session) on the consumer dev half in the Ask pipeline (hybrid, base model; right topic first / top 3 /
MRR@10 0.766 / 0.893 / 0.835 with the default): ``k1`` 0.9 / 1.2 / 1.5 / 2.0 by ``b`` 0.3 / 0.5 / 0.75 /
0.9, for Lucene BM25, BM25+ and BM25L (48 settings). Lower ``b`` loses everywhere (``b`` 0.3: 0.726-0.746
first); the best setting (BM25L, ``k1`` 1.2, ``b`` 0.75: 0.777 / 0.898 / 0.839) is two questions of 197
ahead, within the grid's noise, so the default stays.

Building the index over the full corpus takes about a second (tokenising and stemming 16k texts), so
:class:`BM25Index` can keep it on disk next to the dense index (``data/indexes/bm25-*``), keyed by the
corpus fingerprint, the fields and the tokenizer settings. Like the dense index, an entry records the
SHA-256 of each of its files and is verified before it is loaded: a damaged entry (a flipped byte once
made every question fail in every session until it was deleted by hand) is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from medqa import atomic
from medqa.data import schema as col
from medqa.data.store import table_fingerprint

#: Field layouts measured by ``bench/bench_fields.py``.
FIELD_CHOICES = ("question", "question_focus_synonyms", "question_answer", "all")
DEFAULT_FIELDS = "all"
#: Bump when tokenisation or the file layout changes, so older caches are not reused.
BM25_CACHE_VERSION = 2  # 2: per-file checksums in meta.json
_TOKENIZER = {"stopwords": "en", "stemmer": "snowball-english"}


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_texts(corpus: pd.DataFrame, fields: str) -> list[str]:
    """The text indexed for each pair, in row order."""
    question = corpus[col.QUESTION].astype(str)
    focus = corpus[col.FOCUS].astype(str)
    synonyms = corpus[col.SYNONYMS].fillna("").astype(str).str.replace("|", " ", regex=False)
    if fields == "question":
        texts = question
    elif fields == "question_focus_synonyms":
        texts = question + " " + focus + " " + synonyms
    elif fields == "question_answer":
        texts = question + " " + corpus[col.ANSWER].astype(str)
    elif fields == "all":
        texts = question + " " + focus + " " + synonyms + " " + corpus[col.ANSWER].astype(str)
    else:
        raise ValueError(f"fields must be one of {FIELD_CHOICES}, not {fields!r}")
    return texts.tolist()


def bm25_cache_folder(corpus_fingerprint: str, fields: str) -> Path:
    """Where the BM25 index of a corpus and field layout is kept."""
    import bm25s

    from medqa.retrieval.dense import indexes_dir

    payload = json.dumps(
        {"corpus": corpus_fingerprint, "fields": fields, "tokenizer": _TOKENIZER, "bm25s": bm25s.__version__,
         "version": BM25_CACHE_VERSION},
        sort_keys=True,
    )  # fmt: skip
    return (
        indexes_dir() / f"bm25-{corpus_fingerprint[:8]}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"
    )


def _file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a cache entry but ``meta.json`` (which holds them)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "meta.json"
    }


class BM25Index:
    """BM25 scores of a query against every pair of a corpus."""

    def __init__(
        self,
        corpus: pd.DataFrame,
        fields: str = DEFAULT_FIELDS,
        *,
        use_cache: bool = False,
        corpus_fingerprint: str | None = None,
    ) -> None:
        """Index a corpus (or load its cached index).

        Args:
            corpus: the pairs to index.
            fields: which text represents a pair (:func:`bm25_texts`).
            use_cache: read and write the on-disk cache.
            corpus_fingerprint: the corpus's :func:`~medqa.data.store.table_fingerprint`, if known.
        """
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.fields = fields
        self._stemmer = _stemmer()
        self._size = len(corpus)
        self.from_cache = False
        folder = None
        if use_cache:
            folder = bm25_cache_folder(corpus_fingerprint or table_fingerprint(corpus), fields)
            self._retriever = self._load(folder)
            self.from_cache = self._retriever is not None
        if not self.from_cache:
            self._retriever = self._build(corpus, fields)
            if folder is not None:
                with contextlib.suppress(OSError):  # read-only or full disk: the index still works
                    self._save(folder)
        self._vocab = self._retriever.vocab_dict

    def _build(self, corpus: pd.DataFrame, fields: str):
        import bm25s

        tokens = bm25s.tokenize(
            bm25_texts(corpus, fields), stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return retriever

    def _load(self, folder: Path):
        import bm25s

        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("docs") != self._size:
                return None
            if not meta.get("sha256") or meta.get("sha256") != _file_digests(folder):
                raise ValueError("checksum mismatch")
            retriever = bm25s.BM25.load(str(folder), show_progress=False)
            if retriever.scores.get("num_docs") != self._size:
                return None
            return retriever
        except Exception:  # missing, truncated or foreign files: rebuild
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def _save(self, folder: Path) -> None:
        with atomic.replacing_folder(folder) as temp:
            self._retriever.save(str(temp), show_progress=False)
            meta = {"docs": self._size, "fields": self.fields, "sha256": _file_digests(temp)}
            (temp / "meta.json").write_text(json.dumps(meta), "utf-8")

    def __len__(self) -> int:
        return self._size

    def query_tokens(self, query: str) -> list[str]:
        """The stemmed, stopword-free tokens of a query that the index knows."""
        import bm25s

        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )
        return [token for token in tokens[0] if token in self._vocab]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of the query against every pair (zeros when no query word is indexed)."""
        tokens = self.query_tokens(query)
        if not tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
