from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.cli import main


def test_data_build_stats_and_import(
    workdirs: Path, fixture_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "data",
            "build",
            "--source",
            str(fixture_zip),
            "--categories",
            "2",
            "--per-category",
            "3",
            "--test-per-category",
            "1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "curated: 6 pairs in 2 focus areas" in out

    assert main(["data", "stats", "--dataset", "curated", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"]["pairs"] == 6

    csv = tmp_path / "mine.csv"
    csv.write_text("Question,Answer\nwhat causes gout ?,Uric acid.\n")
    assert main(["data", "import", str(csv), "--name", "My Set"]) == 0
    assert "as dataset 'my-set'" in capsys.readouterr().out
    assert main(["data", "stats", "--dataset", "my-set"]) == 0
    assert "focus areas: 1" in capsys.readouterr().out


def test_errors_are_one_line_with_exit_code_2(
    workdirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "stats", "--dataset", "nothing"]) == 2
    assert capsys.readouterr().err.startswith("error: No dataset named 'nothing'")
    assert main(["data", "import", str(tmp_path / "missing.csv")]) == 2
    assert "Cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01binary")
    assert main(["data", "import", str(bad)]) == 2
    assert "binary" in capsys.readouterr().err
