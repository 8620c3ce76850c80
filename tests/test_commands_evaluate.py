"""``python -m medqa evaluate``: systems, sets, text and JSON output, cache and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.cli import main
from medqa.commands.evaluate import system_specs
from medqa.data import store
from medqa.evaluation import sets


@pytest.fixture
def built(workdirs: Path, fixture_zip: Path) -> None:
    store.build_datasets(str(fixture_zip), categories=3, per_category=5, test_per_category=1)


def test_system_specs_order() -> None:
    assert system_specs([], bm25=False, hybrid=False) == ["base"]
    assert system_specs([], bm25=True, hybrid=False) == ["bm25"]
    assert system_specs(["base", "models/run-1"], bm25=True, hybrid=True) == [
        "bm25",
        "base",
        "models/run-1",
        "hybrid:base",
        "hybrid:models/run-1",
    ]


def test_bm25_on_an_uploaded_csv(built: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "mine.csv"
    questions.write_text("query,focus\nwhat helps gout,Gout\nshingles rash,Shingles\nglaucoma eye,Glaucoma\n")
    assert main(["evaluate", "--bm25", "--set", str(questions), "--corpus", "curated", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["evaluation_set"]["name"] == "upload"
    assert payload["evaluation_set"]["judged_by"] == "focus"
    # Glaucoma is not among the curated fixture's 3 areas: that query is left out, with a note.
    assert payload["evaluation_set"]["queries"] == 2
    assert any("left out" in note for note in payload["evaluation_set"]["notes"])
    assert [system["label"] for system in payload["systems"]] == ["BM25"]
    assert payload["summary"][0]["accuracy@1"] == pytest.approx(1.0)
    assert payload["comparisons"] == []


def test_errors_are_one_line(built: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--bm25", "--set", "nothing"]) == 2
    assert (
        "--set must be heldout, consumer-dev, consumer-test, consumer or a CSV file"
        in capsys.readouterr().err
    )
    assert main(["evaluate", "--bm25", "--set", str(tmp_path / "missing.csv")]) == 2
    assert "Cannot read" in capsys.readouterr().err
    assert main(["evaluate", "--bm25", "--corpus", "nothing"]) == 2
    assert capsys.readouterr().err.startswith("error: No dataset named 'nothing'")


@pytest.mark.model
def test_base_against_bm25_then_from_the_cache(built: None, capsys: pytest.CaptureFixture[str]) -> None:
    n = len(sets.consumer(store.FULL))  # the shipped questions whose topic the test corpus has
    assert main(["evaluate", "--bm25", "--model", "base", "--set", "consumer"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # First, on stderr, what it will cost: the base model's index of this corpus is not built yet.
    assert "base needs a search index of this corpus first" in captured.err.splitlines()[0]
    assert f"Consumer questions ({n})" in out
    assert "compared with base" in out
    assert "between base and BM25 on MRR@10" in out
    assert "95% CI" in out
    assert f"(2 systems x {n} queries;" in out and "from the cache" not in out

    assert main(["evaluate", "--bm25", "--model", "base", "--set", "consumer", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["system"] for row in payload["summary"]] == ["BM25", "base"]
    assert {row["group"] for row in payload["per_focus"]} >= {"Asthma", "Gout", "Shingles"}
    assert len(payload["per_query"]) == 2 * n
    assert payload["comparisons"][0]["system_a"] == "base"

    assert main(["evaluate", "--bm25", "--model", "base", "--set", "consumer"]) == 0
    captured = capsys.readouterr()
    assert "all results from the cache" in captured.out
    assert captured.err.startswith("Every result is cached")
