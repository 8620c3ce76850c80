"""The typed run record (medqa.runs.record): old run.json files load, new ones round-trip."""

from __future__ import annotations

import json

from medqa.runs.record import RECORD_FORMAT, RunRecord, TrainingStats

#: A format-1 run.json as the trainer wrote it before the record was typed (abridged, real keys).
FORMAT_1 = {
    "format": 1,
    "name": "old-run",
    "created": "2026-11-20T10:00:00+00:00",
    "config": {"preset": "original", "data": "curated", "base_model": "base", "epochs": 3.0},
    "base_model_source": "/x/all-MiniLM-L6-v2",
    "seed": 42,
    "data": {"fingerprint": "abc", "train_pairs": 400},
    "training": {
        "steps": 150,
        "epochs": 3.0,
        "precision": "fp32",
        "train_runtime_seconds": 212.5,
        "samples_per_second": 5.7,
        "final_train_loss": 0.12,
        "max_seq_length_trained": 128,
        "max_seq_length_saved": 256,
        "torch_threads": 2,
    },
    "loss_history": [{"step": 1, "epoch": 0.02, "loss": 0.9}],
    "evaluations": [
        {"step": 0, "epoch": 0.0, "label": "before training", "metrics": {"mrr@10": 0.5}},
        {"step": 150, "epoch": 3.0, "label": "final", "metrics": {"mrr@10": 0.55}},
    ],
    "heldout": "curated test split",
    "baseline_metrics": {"mrr@10": 0.5},
    "metrics": {"mrr@10": 0.55, "note": "not a number"},
    "duration_seconds": 213.5,
    "versions": {"torch": "2.13.0"},
    "imported_from": {"repo_id": "someone/run", "revision": "v1", "imported": "2026-11-21"},
    "custom_key": [1, 2],
}


def test_format_1_loads_typed() -> None:
    record = RunRecord.from_json(FORMAT_1)
    assert record.format == 1 and record.name == "old-run" and record.preset == "original"
    assert record.base_model == "base" and record.data_name == "curated"
    assert record.training.steps == 150 and record.training.samples_per_second == 5.7
    assert record.training.peak_rss_mb is None and record.training.frozen_parameters == 0
    assert record.loss_history[0].loss == 0.9
    assert [e.step for e in record.evaluations] == [0, 150]
    assert record.metrics == {"mrr@10": 0.55}  # non-numeric entries dropped
    assert record.imported_from is not None and record.imported_from.revision == "v1"


def test_round_trip_writes_the_current_format_and_keeps_unknown_keys() -> None:
    payload = RunRecord.from_json(FORMAT_1).to_json()
    assert payload["format"] == RECORD_FORMAT and payload["custom_key"] == [1, 2]
    again = RunRecord.from_json(json.loads(json.dumps(payload)))
    assert again.training == RunRecord.from_json(FORMAT_1).training
    assert again.evaluations == RunRecord.from_json(FORMAT_1).evaluations


def test_minimal_and_malformed_files_get_defaults() -> None:
    record = RunRecord.from_json(
        {"config": "oops", "training": {"steps": "many", "final_train_loss": None}, "duration_seconds": "x"},
        name="folder-name",
    )
    assert record.name == "folder-name" and record.config == {} and record.preset == ""
    assert record.training == TrainingStats(final_train_loss=None)
    assert record.duration_seconds == 0.0 and record.imported_from is None
    assert "imported_from" not in record.to_json()
