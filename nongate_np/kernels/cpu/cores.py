"""How many cores this process may use: its affinity mask, capped by its cgroup's CPU limit.

A container limited to one CPU (``docker run --cpus=1``, a Kubernetes CPU limit, systemd's
``CPUQuota=100%``) still finds every core of the host in its affinity mask, which is what
``os.cpu_count``, ``os.sched_getaffinity`` and Numba's default thread count see. Linux
enforces the limit by throttling instead: once the process's threads have used the quota's
CPU time within a period (100 ms by default), all of them stop until the next period. Two
threads under a limit of one CPU therefore run each split at two threads' speed and then
stand still for as long, slower on average than one thread (bench/RESULTS.md, "eleventh
session: a container's CPU limit"). So the kernels' default thread
count and the watch's oversubscription check count ``ceil(quota / period)`` cores, as the
JVM's and Go's runtimes do.

The limit is read from the cgroup files of the CPU controller (v2: ``cpu.max``; v1:
``cpu.cfs_quota_us`` and ``cpu.cfs_period_us``), in this process's cgroup and each of its
ancestors up to the mount point, the smallest one winning: systemd's slices and a
container's nested groups put the limit above the leaf. Read once per process, so that the
thread count, and with it the split, stays fixed while it runs (docs/math.md K4).

NOTE: written here, not taken from loky's ``cpu_count``: loky reads only the files at the
mount point, which misses a limit set on a nested group (systemd's ``CPUQuota=``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable

__all__ = ["cpu_limit", "usable_cores"]


def cpu_limit(cgroup: str = "/proc/self/cgroup",
              mountinfo: str = "/proc/self/mountinfo") -> float | None:
    """The CPU limit of this process's cgroup, in CPUs (quota / period, e.g. 1.5), or None
    where there is none, or where it cannot be read (not Linux, no CPU controller mounted,
    a file missing or malformed).

    ``cgroup`` and ``mountinfo`` are the files read (``/proc/<pid>/cgroup`` and
    ``/proc/<pid>/mountinfo``); the cgroup directories they name are read from the mounted
    hierarchy."""
    try:
        with open(cgroup, encoding="ascii") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f if line.strip()]
        with open(mountinfo, encoding="utf-8") as f:
            mounts = [line.split() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    limits = [limit for limit in (_v1_limit(groups, mounts), _v2_limit(groups, mounts))
              if limit is not None]
    return min(limits) if limits else None


def _v1_limit(groups: list[list[str]], mounts: list[list[str]]) -> float | None:
    """The smallest ``cpu.cfs_quota_us / cpu.cfs_period_us`` of the v1 ``cpu`` hierarchy."""
    path = next((g[2] for g in groups if len(g) == 3 and "cpu" in g[1].split(",")), None)
    mount = next((m for m in mounts if _fstype(m) == "cgroup" and "cpu" in _super_options(m)),
                 None)
    if path is None or mount is None:
        return None
    return _smallest(mount, path, _read_v1)


def _v2_limit(groups: list[list[str]], mounts: list[list[str]]) -> float | None:
    """The smallest ``cpu.max`` of the unified (v2) hierarchy."""
    path = next((g[2] for g in groups if len(g) == 3 and g[0] == "0" and g[1] == ""), None)
    mount = next((m for m in mounts if _fstype(m) == "cgroup2"), None)
    if path is None or mount is None:
        return None
    return _smallest(mount, path, _read_v2)


def _fstype(mount: list[str]) -> str:
    """A mountinfo line's filesystem type: the first field after the "-" separator."""
    return mount[mount.index("-") + 1] if "-" in mount[:-1] else ""


def _super_options(mount: list[str]) -> list[str]:
    """A mountinfo line's superblock options (a v1 cgroup's controllers are among them)."""
    i = mount.index("-") if "-" in mount else len(mount)
    return mount[i + 3].split(",") if len(mount) > i + 3 else []


def _smallest(mount: list[str], path: str,
              read: Callable[[str], float | None]) -> float | None:
    """The smallest limit ``read(directory)`` finds from the process's cgroup directory up
    to the hierarchy's mount point (mountinfo fields 4 and 5: the mount's root inside the
    hierarchy, and where it is mounted)."""
    if len(mount) < 5:
        return None
    root, point = mount[3], mount[4]
    rel = os.path.relpath(path, root)
    # a cgroup path outside the mount's root (a container without a cgroup namespace, its
    # own group bind-mounted): the mount point is that group
    parts = [] if rel == "." or rel == ".." or rel.startswith("../") else rel.split("/")
    found = [read(os.path.join(point, *parts[:n])) for n in range(len(parts), -1, -1)]
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


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def usable_cores() -> int:
    """The cores this process may keep busy: the CPUs in its affinity mask (a container or
    ``taskset`` given 2 of 64 cores counts 2), capped by ``ceil`` of its cgroup's
    :func:`cpu_limit`; at least 1. Read once per process."""
    limit = cpu_limit()
    cores = _affinity()
    return max(1, min(cores, math.ceil(limit)) if limit is not None else cores)
