"""``python -m medqa ask``: text and JSON output, flags, options and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.cli import main
from medqa.safety import DISCLAIMER

pytestmark = pytest.mark.model


def test_json_has_hits_and_both_flags(fixture_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "What are the treatments for gout?", "--corpus", "full", "--k", "2", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == "base" and payload["corpus"] == "full" and payload["mode"] == "hybrid"
    assert payload["abstain"] is False and payload["emergency"] is None
    assert len(payload["hits"]) == 2
    assert (payload["hits"][0]["focus"], payload["hits"][0]["qtype"]) == ("Gout", "treatment")


def test_modes_and_curated_corpus(fixture_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for mode in ("dense", "bm25"):
        assert main(["ask", "asthma symptoms", "--corpus", "curated", "--mode", mode, "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["mode"] == mode and payload["corpus"] == "curated"
    parquet = str(fixture_data / "datasets" / "curated.parquet")
    assert main(["ask", "shingles symptoms", "--corpus", parquet, "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["focus"] == "Shingles"


def test_text_output_shows_the_emergency_first(
    fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "my wife's face is drooping and her speech is slurred", "--corpus", "full"]) == 0
    out = capsys.readouterr().out
    assert out.index("EMERGENCY") < out.index(DISCLAIMER)
    assert "911" in out.split(DISCLAIMER)[0]
    assert (
        main(["ask", "my wife's face is drooping and her speech is slurred", "--corpus", "full", "--json"])
        == 0
    )
    notice = json.loads(capsys.readouterr().out)["emergency"]
    assert (notice["kind"], notice["source"], notice["heading"]) == ("stroke", "rules", "Emergency")
    assert notice["title"] == "Emergency (Stroke)"


def test_non_medical_question_abstains(fixture_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "who won the football world cup in 1998", "--corpus", "full", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["abstain"] is True


def test_csv_corpus_path(workdirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "pairs.csv"
    csv.write_text(
        "Question,Answer\nwhat causes gout ?,Uric acid crystals build up in a joint.\n"
        "what is (are) asthma ?,The airways swell and narrow.\n"
    )
    assert main(["ask", "why does gout happen", "--corpus", str(csv), "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["question"] == "what causes gout ?"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ask", "   ", "--corpus", "full"], "error: Please type a question"),
        (["ask", "gout", "--corpus", "nothing-here"], "error: No dataset named 'nothing-here'"),
        (
            ["ask", "gout", "--corpus", "full", "--model", "/no/such/model"],
            "error: Model folder /no/such/model",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    fixture_data: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(arguments) == 2
    assert capsys.readouterr().err.startswith(message)
