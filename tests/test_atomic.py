"""Atomic writes: the old version survives any failure, and no temporary file is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from medqa import atomic


def test_files_are_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "table.txt"
    atomic.write_text(target, "first")
    atomic.write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [path.name for path in target.parent.iterdir()] == ["table.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    atomic.write_text(target, "old")

    def half_then_fail(temp: Path) -> None:
        temp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic.write_file(target, half_then_fail)
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["table.parquet"]


def test_folders_are_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    with atomic.replacing_folder(folder) as temp:
        (temp / "a.npy").write_text("1")
    with pytest.raises(RuntimeError), atomic.replacing_folder(folder) as temp:
        (temp / "b.npy").write_text("2")
        raise RuntimeError("killed half way")
    assert [path.name for path in folder.iterdir()] == ["a.npy"]
    assert [path.name for path in tmp_path.iterdir()] == ["index"]
    with atomic.replacing_folder(folder) as temp:
        (temp / "c.npy").write_text("3")
    assert [path.name for path in folder.iterdir()] == ["c.npy"]
