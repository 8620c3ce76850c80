"""The memory limit the app sees: a container's cgroup limit, else the machine's total."""

from __future__ import annotations

from pathlib import Path

from medqa.system import memory_limit_mb


def _files(tmp_path: Path, v2: str | None, v1: str | None, total_kb: int | None) -> tuple:
    paths = []
    for name, text in (("memory.max", v2), ("memory.limit_in_bytes", v1)):
        path = tmp_path / name
        if text is not None:
            path.write_text(text + "\n")
        paths.append(path)
    meminfo = tmp_path / "meminfo"
    if total_kb is not None:
        meminfo.write_text(f"MemTotal:       {total_kb} kB\nMemFree:        1 kB\n")
    return tuple(paths), meminfo


def test_a_container_limit_wins(tmp_path: Path) -> None:
    cgroups, meminfo = _files(tmp_path, str(1024**3), None, 24 * 1024 * 1024)
    assert memory_limit_mb(cgroups, meminfo) == 1024


def test_no_limit_means_the_machine_total(tmp_path: Path) -> None:
    cgroups, meminfo = _files(tmp_path, "max", None, 2 * 1024 * 1024)
    assert memory_limit_mb(cgroups, meminfo) == 2048
    cgroups, meminfo = _files(tmp_path, None, str(2**63 - 4096), 2 * 1024 * 1024)  # cgroup v1 "unlimited"
    assert memory_limit_mb(cgroups, meminfo) == 2048


def test_nothing_readable(tmp_path: Path) -> None:
    cgroups, meminfo = _files(tmp_path, None, None, None)
    assert memory_limit_mb(cgroups, meminfo) is None


def test_release_free_memory_releases_pyarrows_pool_and_trims_the_heap(monkeypatch) -> None:
    import ctypes.util

    import pyarrow

    from medqa import system

    released = []

    class Pool:
        def release_unused(self) -> None:
            released.append("pyarrow")

    monkeypatch.setattr(pyarrow, "default_memory_pool", Pool)
    system.release_free_memory()
    assert released == ["pyarrow"]
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # no glibc: nothing to trim
    system.release_free_memory()
    assert released == ["pyarrow", "pyarrow"]


def test_limit_malloc_arenas_calls_mallopt_unless_the_environment_decides(monkeypatch) -> None:
    import ctypes
    import ctypes.util

    from medqa import system

    calls = []

    class Libc:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libc.so.6")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    assert system.limit_malloc_arenas(3) is True
    assert calls == [(-8, 3)]  # M_ARENA_MAX
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # glibc read it at start: leave it
    assert system.limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # no glibc
    assert system.limit_malloc_arenas() is False
    assert calls == [(-8, 3)]
