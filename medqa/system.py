"""What the machine the app runs on can give it: memory limit (containers included)."""

from __future__ import annotations

from pathlib import Path

#: Where a container's memory limit is written: cgroup v2, then cgroup v1.
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
_MEMINFO = Path("/proc/meminfo")


def memory_limit_mb(
    cgroup_files: tuple[Path, ...] = _CGROUP_LIMITS, meminfo: Path = _MEMINFO
) -> float | None:
    """The memory this process may use in MB: the container's limit if set, else the machine's total.

    ``None`` where neither can be read (not Linux).
    """
    total = None
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) / 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    for path in cgroup_files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limit = int(text) / 1024 / 1024
            # cgroup v1 writes a huge number for "no limit"; never report more than the machine has.
            return min(limit, total) if total is not None else limit
    return total
