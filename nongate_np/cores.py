"""How many cores this process may use: its affinity mask, capped by its cgroup's CPU limit.

A container limited to one CPU (``docker run --cpus=1``, a Kubernetes CPU limit, systemd's
``CPUQuota=100%``) still finds every core of the host in its affinity mask, which is what
``os.cpu_count``, ``os.sched_getaffinity`` and Numba's default thread count see. Linux
enforces the limit by throttling instead: once the group's threads have used the quota's
CPU time within a period (100 ms by default), all of them stop until the next period. Two
threads under a limit of one CPU therefore run each split at two threads' speed and then
stand still for as long (bench/RESULTS.md, "eleventh session: a container's CPU limit").
So the kernels' default thread count, the watch's oversubscription check and the shares of
cores given to MPI ranks and Dask workers count ``ceil(quota / period)`` cores, as the
JVM and .NET do.

The limit is read from the cgroup files of the CPU controller (v2: ``cpu.max``; v1:
``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``) in this process's cgroup and each of its
ancestors up to the mount point, the smallest one winning: systemd's slices and a
container's nested groups put the limit above the leaf. :func:`usable_cores` reads it once
per process, so that the thread count, and with it the split, stays fixed while it runs
(docs/math.md K4).

NOTE: written here, not taken from loky's ``cpu_count``: loky reads only the files at the
mount point, which misses a limit set on a nested group (systemd's ``CPUQuota=``).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable

__all__ = ["affinity", "cpu_limit", "cores_within", "usable_cores"]


def cpu_limit(cgroup: str = "/proc/self/cgroup",
              mountinfo: str = "/proc/self/mountinfo") -> float | None:
    """The CPU limit of this process's cgroup, in CPUs (quota / period, e.g. 1.5), or None
    where there is none, or where it cannot be read (not Linux, no CPU controller mounted,
    a file missing or malformed, a group outside the mounted part of the hierarchy).

    ``cgroup`` and ``mountinfo`` are the files read (``/proc/<pid>/cgroup`` and
    ``/proc/<pid>/mountinfo``, proc(5)); the cgroup directories they name are read from
    the mounted hierarchy."""
    try:
        with open(cgroup, encoding="utf-8", errors="surrogateescape") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f if line.strip()]
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            mounts = [_mount(line) for line in f if line.strip()]
    except OSError:
        return None
    limits = [limit for limit in (_limit(groups, mounts, 1), _limit(groups, mounts, 2))
              if limit is not None]
    return min(limits) if limits else None


def _mount(line: str) -> tuple[str, str, str, list[str]]:
    """(root, mount point, filesystem type, superblock options) of a mountinfo line, its
    paths' octal escapes (``\\040`` for a space) decoded; fields empty where malformed."""
    fields = line.rstrip("\n").split(" ")       # single spaces: a field may be empty
    if "-" not in fields[6:-1] or len(fields) < 5:
        return "", "", "", []
    i = fields.index("-", 6)
    options = fields[i + 3].split(",") if len(fields) > i + 3 else []
    return _unescape(fields[3]), _unescape(fields[4]), fields[i + 1], options


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _limit(groups: list[list[str]], mounts: list[tuple[str, str, str, list[str]]],
           version: int) -> float | None:
    """The smallest limit of the v1 ``cpu`` or the v2 hierarchy along this process's
    group, or None."""
    if version == 1:
        path = next((g[2] for g in groups if len(g) == 3 and "cpu" in g[1].split(",")), None)
        candidates = [m for m in mounts if m[2] == "cgroup" and "cpu" in m[3]]
        read = _read_v1
    else:
        path = next((g[2] for g in groups if len(g) == 3 and g[:2] == ["0", ""]), None)
        candidates = [m for m in mounts if m[2] == "cgroup2"]
        read = _read_v2
    if path is None:
        return None
    # of several mounts on one point the last is on top, the others hidden under it; of
    # the visible ones, the one whose root holds the group most closely
    visible = {point: root for root, point, _, _ in candidates}
    inside = [(len(_parts(root)), root, point) for point, root in visible.items()
              if _under(path, root)]
    if not inside:
        return None
    _, root, point = max(inside)
    return _smallest(point, _parts(path)[len(_parts(root)):], read)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _under(path: str, root: str) -> bool:
    """Whether cgroup ``path`` is ``root`` or below it, component by component. A path
    with ``..`` (a group outside this process's cgroup namespace) is under nothing."""
    parts = _parts(path)
    return root.startswith("/") and path.startswith("/") and ".." not in parts \
        and parts[:len(_parts(root))] == _parts(root)


def _smallest(point: str, rel: list[str], read: Callable[[str], float | None]
              ) -> float | None:
    """The smallest limit ``read(directory)`` finds from the group (``rel`` below the
    mount point) up to the mount point."""
    found = [read(os.path.join(point, *rel[:n])) for n in range(len(rel), -1, -1)]
    limits = [x for x in found if x is not None]
    return min(limits) if limits else None


def _read_v2(directory: str) -> float | None:
    """``cpu.max`` ("QUOTA PERIOD", QUOTA "max" for none) as CPUs, or None."""
    try:
        with open(os.path.join(directory, "cpu.max"), encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else _ratio(int(quota), int(period))
    except (OSError, ValueError):
        return None


def _read_v1(directory: str) -> float | None:
    """``cpu.cfs_quota_us / cpu.cfs_period_us`` as CPUs (quota -1: none), or None."""
    try:
        with open(os.path.join(directory, "cpu.cfs_quota_us"), encoding="ascii") as f:
            quota = int(f.read())
        with open(os.path.join(directory, "cpu.cfs_period_us"), encoding="ascii") as f:
            period = int(f.read())
    except (OSError, ValueError):
        return None
    return _ratio(quota, period)


def _ratio(quota: int, period: int) -> float | None:
    return quota / period if quota > 0 and period > 0 else None


def affinity() -> set[int]:
    """The CPUs this process may run on: its affinity mask where the OS has one (Linux),
    else every CPU."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def cores_within(cpus: int, limit: float | None) -> int:
    """``cpus`` capped by ``ceil(limit)`` (a limit of 1.5 CPUs allows 2), at least 1."""
    return max(1, min(cpus, math.ceil(limit)) if limit is not None else cpus)


@functools.lru_cache(maxsize=1)
def usable_cores() -> int:
    """The cores this process may keep busy: the CPUs of its :func:`affinity` (a container
    or ``taskset`` given 2 of 64 cores counts 2), capped by its cgroup's
    :func:`cpu_limit` (:func:`cores_within`); at least 1. Read once per process."""
    return cores_within(len(affinity()), cpu_limit())
