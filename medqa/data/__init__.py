"""MedQuAD data: parsing, the curated subset, CSV uploads, stored datasets and statistics."""

from __future__ import annotations

from medqa.data.curate import build_curated
from medqa.data.medquad import load_medquad
from medqa.data.store import (
    CURATED,
    FULL,
    DatasetInfo,
    build_datasets,
    list_datasets,
    load_corpus,
    load_pairs,
    save_dataset,
    table_fingerprint,
)
from medqa.data.upload import import_csv

__all__ = [
    "CURATED",
    "FULL",
    "DatasetInfo",
    "build_curated",
    "build_datasets",
    "import_csv",
    "list_datasets",
    "load_corpus",
    "load_medquad",
    "load_pairs",
    "save_dataset",
    "table_fingerprint",
]
