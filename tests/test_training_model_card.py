"""The model card: Hub metadata, metrics, disclaimer, built only from run.json."""

from __future__ import annotations

from pathlib import Path

import yaml

from medqa.training.model_card import ModelCardData, render_model_card, write_model_card

INFO = {
    "name": "demo-run",
    "created": "2026-01-02T03:04:05+00:00",
    "config": {
        "preset": "original",
        "data": "curated",
        "base_model": "base",
        "epochs": 3.0,
        "batch_size": 8,
        "learning_rate": 5e-05,
        "loss": "mnrl",
        "query_variants": ["question", "keywords"],
        "seed": 42,
    },
    "data": {
        "fingerprint": "abc123",
        "train_pairs": 400,
        "train_source_pairs": 400,
        "heldout_queries": 120,
        "pairs_per_variant": {"question": 400},
    },
    "training": {"steps": 150, "epochs": 3.0, "precision": "fp32"},
    "heldout": "curated test split",
    "baseline_metrics": {"mrr@10": 0.42, "accuracy@1": 0.3},
    "metrics": {"mrr@10": 0.51, "accuracy@1": 0.4},
    "duration_seconds": 58.2,
    "versions": {"sentence-transformers": "6.2.0", "python": "3.11"},
}


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---")[1])


def test_card_metadata_and_body() -> None:
    card = render_model_card(ModelCardData.from_run_info(INFO))
    meta = _front_matter(card)
    assert meta["library_name"] == "sentence-transformers"
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["license"] == "apache-2.0" and "medical" in meta["tags"]
    results = meta["model-index"][0]["results"][0]
    assert {m["type"]: m["value"] for m in results["metrics"]} == {"mrr@10": 0.51, "accuracy@1": 0.4}
    assert "| MRR@10 | 0.4200 | 0.5100 |" in card
    assert "Medical disclaimer" in card and "Ben Abacha" in card
    assert "MultipleNegativesRankingLoss" in card and "question, keywords" in card
    assert 'SentenceTransformer("models/demo-run")' in card


def test_card_names_the_hub_repo_and_handles_no_evaluation(tmp_path: Path) -> None:
    info = dict(INFO, metrics={}, baseline_metrics={}, config=dict(INFO["config"], base_model="/some/folder"))
    path = write_model_card(tmp_path, info, repo_id="someone/medqa-demo")
    card = path.read_text()
    meta = _front_matter(card)
    assert "model-index" not in meta and "base_model" not in meta
    assert 'SentenceTransformer("someone/medqa-demo")' in card
    assert "No held-out evaluation" in card
