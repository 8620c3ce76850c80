"""``python -m medqa index``: build once, then report the cache; errors as one line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from medqa import models
from medqa.cli import main

pytestmark = [pytest.mark.model, pytest.mark.precision]


def test_builds_then_reports_the_cache(
    fixture_data_dir: Path, workdirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(fixture_data_dir / "datasets", workdirs / "data" / "datasets")
    shutil.copytree(fixture_data_dir / "cache", workdirs / "data" / "cache")
    assert main(["index", "--corpus", "curated"]) == 0
    first = capsys.readouterr().out
    built = re.search(
        r"pairs \([\d,]+ texts\) of 'curated' with 'base' \((fp32|int8|bf16)\): built in", first
    )
    assert built, first
    if not models.cpu_flags_bf16():  # without native bf16 (real or forced) auto never picks bf16
        assert built.group(1) == "fp32"
    assert main(["index", "--corpus", "curated"]) == 0
    second = capsys.readouterr().out
    assert "already cached" in second
    assert first.splitlines()[-1] == second.splitlines()[-1]  # the same cache key
    # The question texts alone: a new index, built from the texts the first one already embedded.
    assert main(["index", "--corpus", "curated", "--fields", "focus_question"]) == 0
    assert re.search(
        r"built in [\d.]+ s \(0 texts embedded, [\d.]+/s; [\d,]+ reused\)", capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "option", [["--max-passages", "-1"], ["--passage-words", "0"], ["--passage-words", "x"]]
)
def test_passage_options_are_checked(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["index", "--corpus", "curated", *option])
    assert "argument" in capsys.readouterr().err


def test_progress_lines_and_typed_failures_for_a_parent(
    fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", "--corpus", "no-such-dataset", "--progress-lines"]) == 2
    kind, _, message = capsys.readouterr().out.strip().partition(" ")[2].partition(" ")
    assert kind == "DataNotFoundError" and "no-such-dataset" in json.loads(message)
    assert main(["index", "--corpus", "no-such-dataset"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
