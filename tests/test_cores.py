"""The cores a process may use: the cgroup CPU limit read from hierarchies built in a
temporary folder (v1 and v2, nested groups, a container's own namespace, stacked mounts,
escaped and non-ASCII paths, files missing or malformed), and, where this process may
create a cgroup, a real one limited to one CPU."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import pytest

from nongate_np.benchmark.cgroup import CgroupError, cpu_hierarchy, cpu_limited
from nongate_np.cores import affinity, cores_within, cpu_limit

PERIOD = 100_000


def write_limits(point, version, limits):
    """Group folders under ``point``: ``limits`` maps a group path ("" for the mount point)
    to its limit in CPUs (None: no limit)."""
    for group, cpus in limits.items():
        d = point / group
        d.mkdir(parents=True, exist_ok=True)
        if version == 2:
            quota = "max" if cpus is None else str(round(cpus * PERIOD))
            (d / "cpu.max").write_text(f"{quota} {PERIOD}\n")
        else:
            quota = -1 if cpus is None else round(cpus * PERIOD)
            (d / "cpu.cfs_quota_us").write_text(f"{quota}\n")
            (d / "cpu.cfs_period_us").write_text(f"{PERIOD}\n")


def mount_line(version, point, root="/", source="cgroup"):
    escaped = str(point).replace(" ", "\\040")
    if version == 2:
        return f"41 31 0:38 {root} {escaped} rw,relatime shared:9 - cgroup2 {source} rw"
    return f"32 31 0:29 {root} {escaped} rw,relatime - cgroup {source} rw,cpu,cpuacct"


def hierarchy(tmp_path, version, cgroup_path, limits, mount_root="/", point_name="mnt"):
    """A fake mounted hierarchy under tmp_path; returns the (cgroup, mountinfo) files that
    describe a process in ``cgroup_path``."""
    point = tmp_path / point_name
    write_limits(point, version, limits)
    cgroup, mountinfo = tmp_path / "cgroup", tmp_path / "mountinfo"
    cgroup.write_text(f"0::{cgroup_path}\n" if version == 2 else
                      f"5:memory:/elsewhere\n3:cpu,cpuacct:{cgroup_path}\n")
    mountinfo.write_text("23 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                         "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
                         + mount_line(version, point, mount_root) + "\n")
    return str(cgroup), str(mountinfo)


@pytest.mark.parametrize("version", [1, 2])
def test_the_smallest_limit_from_the_group_up_to_the_mount_wins(tmp_path, version):
    files = hierarchy(tmp_path, version, "/system.slice/app.service",
                      {"": None, "system.slice": 4, "system.slice/app.service": 1.5})
    assert cpu_limit(*files) == 1.5
    (tmp_path / "b").mkdir()
    files = hierarchy(tmp_path / "b", version, "/a/b", {"": None, "a": 0.5, "a/b": 3})
    assert cpu_limit(*files) == 0.5        # a limit set above the leaf (a systemd slice)


@pytest.mark.parametrize("version", [1, 2])
def test_no_limit_anywhere_is_none(tmp_path, version):
    files = hierarchy(tmp_path, version, "/a", {"": None, "a": None})
    assert cpu_limit(*files) is None


@pytest.mark.parametrize("version", [1, 2])
def test_a_container_reads_its_own_group_at_the_mount_point(tmp_path, version):
    # with a cgroup namespace the process sees itself at "/"; without one, its own group
    # is bind-mounted (the mount's root is the group) and the path names it in full
    files = hierarchy(tmp_path, version, "/", {"": 2})
    assert cpu_limit(*files) == 2
    (tmp_path / "b").mkdir()
    files = hierarchy(tmp_path / "b", version, "/docker/abc123", {"": 1.25},
                      mount_root="/docker/abc123")
    assert cpu_limit(*files) == 1.25


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("path, root", [
    ("/docker/abc123", "/docker/abc"),      # a sibling whose name shares a prefix
    ("/kubepods/pod1", "/docker/abc"),      # elsewhere in the hierarchy
    ("/../../user.slice/x", "/"),           # outside this process's cgroup namespace
])
def test_a_group_outside_the_mounted_part_is_not_read(tmp_path, version, path, root):
    files = hierarchy(tmp_path, version, path, {"": 0.5, "user.slice/x": 0.25},
                      mount_root=root)
    assert cpu_limit(*files) is None


@pytest.mark.parametrize("version", [1, 2])
def test_of_stacked_mounts_the_top_one_is_read(tmp_path, version):
    # two mounts on one point: the files there are the top one's (root /outer), and the
    # line of the hidden one (root /) comes first
    cgroup, mountinfo = hierarchy(tmp_path, version, "/outer/inner", {"inner": 1})
    point = tmp_path / "mnt"
    lines = [mount_line(version, point, root="/"), mount_line(version, point, root="/outer")]
    with open(mountinfo, "w") as f:
        f.write("\n".join(lines) + "\n")
    assert cpu_limit(cgroup, mountinfo) == 1
    with open(mountinfo, "w") as f:         # the other order: / on top, nothing there
        f.write("\n".join(lines[::-1]) + "\n")
    assert cpu_limit(cgroup, mountinfo) is None


@pytest.mark.parametrize("version", [1, 2])
def test_of_two_visible_mounts_the_one_closest_to_the_group_is_read(tmp_path, version):
    cgroup, mountinfo = hierarchy(tmp_path, version, "/outer/inner", {"inner": 1})
    whole = tmp_path / "whole"                   # the whole hierarchy, mounted elsewhere
    write_limits(whole, version, {"outer/inner": 3})
    for lines in ([mount_line(version, whole), mount_line(version, tmp_path / "mnt", "/outer")],
                  [mount_line(version, tmp_path / "mnt", "/outer"), mount_line(version, whole)]):
        with open(mountinfo, "w") as f:
            f.write("\n".join(lines) + "\n")
        assert cpu_limit(cgroup, mountinfo) == 1


@pytest.mark.parametrize("version", [1, 2])
def test_escaped_and_non_ascii_paths_and_an_empty_source_are_read(tmp_path, version):
    files = hierarchy(tmp_path, version, "/café", {"café": 0.75}, point_name="mnt point")
    assert cpu_limit(*files) == 0.75
    mountinfo = files[1]
    text = open(mountinfo).read().replace(" cgroup2 cgroup2 ", " cgroup2  ") \
        .replace(" cgroup cgroup ", " cgroup  ")
    with open(mountinfo, "w") as f:
        f.write(text)
    assert cpu_limit(*files) == 0.75


@pytest.mark.parametrize("smaller", [1, 2])
def test_both_hierarchies_give_the_smaller(tmp_path, smaller):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    v1 = hierarchy(tmp_path / "v1", 1, "/g", {"g": 2 if smaller == 1 else 3})
    v2 = hierarchy(tmp_path / "v2", 2, "/g", {"g": 2 if smaller == 2 else 3})
    for i, name in enumerate(("cgroup", "mountinfo")):
        (tmp_path / name).write_text(open(v1[i]).read() + open(v2[i]).read())
    assert cpu_limit(str(tmp_path / "cgroup"), str(tmp_path / "mountinfo")) == 2


@pytest.mark.parametrize("content", ["", "garbage\n", "50000\n", "max\n", "x 100000\n",
                                     "50000 0\n", "-5 100000\n"])
def test_a_malformed_cpu_max_is_no_limit(tmp_path, content):
    files = hierarchy(tmp_path, 2, "/a", {"a": None})
    (tmp_path / "mnt" / "a" / "cpu.max").write_text(content)
    assert cpu_limit(*files) is None


def test_missing_or_unmounted_hierarchies_are_no_limit(tmp_path):
    assert cpu_limit(str(tmp_path / "nothing"), str(tmp_path / "nothing")) is None
    cgroup, mountinfo = hierarchy(tmp_path, 1, "/a", {"a": 1})
    (tmp_path / "mnt" / "a" / "cpu.cfs_period_us").unlink()
    assert cpu_limit(cgroup, mountinfo) is None
    with open(mountinfo, "w") as f:     # no cgroup mounted at all, and a truncated line
        f.write("23 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n32 31 0:29 / - cgroup\n")
    assert cpu_limit(cgroup, mountinfo) is None
    with open(cgroup, "w") as f:        # a cgroup line of the wrong shape
        f.write("nonsense\n")
    assert cpu_limit(cgroup, mountinfo) is None


@pytest.mark.parametrize("cpus, limit, expected", [
    (8, None, 8), (8, 1.0, 1), (8, 1.5, 2), (8, 0.25, 1), (2, 16.0, 2), (1, None, 1),
    (8, 1e12, 8)])
def test_cores_within_caps_the_cpus_by_the_limit_rounded_up(cpus, limit, expected):
    assert cores_within(cpus, limit) == expected


def test_the_affinity_is_this_process_s_cpus():
    cpus = affinity()
    assert cpus and all(isinstance(c, int) and c >= 0 for c in cpus)
    if hasattr(os, "sched_getaffinity"):
        assert cpus == os.sched_getaffinity(0)


_PROBE = ("import json, sys, numba; from nongate_np import cores; "
          "from nongate_np.kernels.cpu import threads; "
          "from nongate_np.cli.sysinfo import info; t = info()['threads']; "
          "out = [cores.cpu_limit(), cores.usable_cores(), threads.num_threads(), "
          "t['numba'], t['numba_source']]; "
          "numba.set_num_threads(int(sys.argv[1])); out.append(threads.num_threads()); "
          "print(json.dumps(out))")


def _probe(procs, set_threads, **env):
    """What a Python process moved into the group (before it starts) sees."""
    out = subprocess.run(
        ["sh", "-c", f'echo $$ > {procs} && exec "$0" -c "$1" "$2"', sys.executable,
         _PROBE, str(set_threads)], capture_output=True, text=True, timeout=300,
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(cpu_hierarchy() is None,
                    reason="no CPU cgroup controller this process may create groups in")
@pytest.mark.skipif(len(affinity()) < 2, reason="one CPU: the limit changes nothing")
def test_a_real_cgroup_limited_to_one_cpu_splits_into_one_thread():
    with contextlib.ExitStack() as stack:
        try:
            procs = stack.enter_context(cpu_limited(1))
        except CgroupError as e:        # e.g. a parent group limited below one CPU
            pytest.skip(f"cannot make a group limited to one CPU here: {e}")
        limit, usable, n, reported, source, chosen = _probe(procs, 2, NUMBA_NUM_THREADS=None)
        assert limit <= 1.0 and (usable, n, reported) == (1, 1, 1)
        assert f"cgroup CPU limit {limit:g}" in source
        assert chosen == 2              # numba.set_num_threads is obeyed, limit or not
        # and so is NUMBA_NUM_THREADS
        assert _probe(procs, 2, NUMBA_NUM_THREADS="2")[2:4] == [2, 2]


@pytest.mark.skipif(cpu_hierarchy() is None,
                    reason="no CPU cgroup controller this process may create groups in")
def test_a_group_is_removed_with_a_process_left_in_it_and_an_error_is_not_masked():
    sleeper = None
    with pytest.raises(KeyboardInterrupt):
        with cpu_limited(0.5) as procs:
            group = os.path.dirname(procs)
            sleeper = subprocess.Popen(["sh", "-c", f"echo $$ > {procs} && exec sleep 30"])
            for _ in range(100):        # until it is in the group
                if open(procs).read().split():
                    break
                subprocess.run(["sleep", "0.02"])
            raise KeyboardInterrupt
    try:
        assert not os.path.exists(group)
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("cpus", [0, -1, float("inf"), float("nan"), "1"])
def test_a_limit_that_is_not_a_positive_number_is_refused(cpus):
    with pytest.raises(ValueError, match="cpus must be a positive finite number, got"):
        with cpu_limited(cpus):
            pass
