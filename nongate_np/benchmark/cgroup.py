"""A cgroup with a CPU limit, to run a process under what ``docker run --cpus=N`` imposes.

Used by ``bench/cpu_limit.py`` (each library's default threads under a limit) and by
tests/test_cores.py (the kernels' thread count under a real limit). Creating a group needs
write access to a mounted CPU controller, which root has on most Linux hosts and a
container usually lacks.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
import warnings
from collections.abc import Iterator

__all__ = ["CgroupError", "cpu_hierarchy", "cpu_limited"]

_PERIOD_US = 100_000        # the kernel's default period


class CgroupError(RuntimeError):
    """No CPU controller this process may create a group in, or the group refused."""


def cpu_hierarchy() -> tuple[str, int] | None:
    """A mounted CPU controller this process may create groups in, and its version (1 or
    2), or None."""
    v1 = "/sys/fs/cgroup/cpu"
    if os.access(os.path.join(v1, "cpu.cfs_quota_us"), os.R_OK) and os.access(v1, os.W_OK):
        return v1, 1
    for v2 in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(v2, "cgroup.subtree_control"), encoding="ascii") as f:
                if "cpu" in f.read().split() and os.access(v2, os.W_OK):
                    return v2, 2
        except OSError:
            pass
    return None


@contextlib.contextmanager
def cpu_limited(cpus: float) -> Iterator[str]:
    """A new cgroup limited to ``cpus`` CPUs (quota ``cpus`` x 100 ms per 100 ms period, at
    least the 1 ms the kernel accepts), removed on exit; yields its ``cgroup.procs`` file:
    a process that writes its pid there (``sh -c 'echo $$ > PROCS && exec ...'``) runs
    under the limit, and so do its children. On exit, processes still in the group are
    moved back to the hierarchy's root group first.

    Raises
    ------
    ValueError
        ``cpus`` not a positive finite number.
    CgroupError
        No CPU controller this process may create a group in (:func:`cpu_hierarchy`), or
        the group could not be created or limited (e.g. above a parent's own limit), or,
        on a normal exit, not removed (on an exit by an exception that exception is raised
        and the group left behind is named in a warning).
    """
    if not (isinstance(cpus, (int, float)) and math.isfinite(cpus) and cpus > 0):
        raise ValueError(f"cpus must be a positive finite number, got {cpus!r}")
    found = cpu_hierarchy()
    if found is None:
        raise CgroupError("no CPU cgroup controller this process may create groups in "
                          "(needs root, and a mounted cpu controller: v1 /sys/fs/cgroup/cpu "
                          "or v2 with 'cpu' in cgroup.subtree_control)")
    root, version = found
    group = os.path.join(root, f"nongate_np_{uuid.uuid4().hex[:12]}")
    quota = max(1000, round(cpus * _PERIOD_US))
    try:
        os.mkdir(group)
    except OSError as e:
        raise CgroupError(f"cannot create {group}: {e}") from e
    ok = False
    try:
        if version == 2:
            _write(os.path.join(group, "cpu.max"), f"{quota} {_PERIOD_US}")
        else:
            _write(os.path.join(group, "cpu.cfs_period_us"), str(_PERIOD_US))
            _write(os.path.join(group, "cpu.cfs_quota_us"), str(quota))
        yield os.path.join(group, "cgroup.procs")
        ok = True
    finally:
        error = _remove(group, root)
        if error is not None:
            if ok:
                raise CgroupError(error)
            warnings.warn(error, RuntimeWarning, stacklevel=3)


def _remove(group: str, root: str) -> str | None:
    """Move what is left in ``group`` to ``root``'s group and remove it; None, or why not."""
    for _ in range(50):
        try:
            with open(os.path.join(group, "cgroup.procs"), encoding="ascii") as f:
                for pid in f.read().split():
                    with contextlib.suppress(OSError):      # it may have exited meanwhile
                        _write(os.path.join(root, "cgroup.procs"), pid)
            os.rmdir(group)
            return None
        except (OSError, CgroupError) as e:
            last = e
            time.sleep(0.02)        # a process moved out leaves the group a moment later
    return f"cannot remove the cgroup {group}: {last}"


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
    except OSError as e:
        raise CgroupError(f"cannot write {text!r} to {path}: {e}") from e
