"""The cores a process may use: the cgroup CPU limit read from hierarchies built in a
temporary folder (v1 and v2, nested groups, a container's own namespace, files missing or
malformed), and, where this process may create a cgroup, a real one limited to one CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nongate_np.benchmark.cgroup import cpu_hierarchy, cpu_limited
from nongate_np.kernels.cpu.cores import cpu_limit

PERIOD = 100_000


def hierarchy(tmp_path, version, cgroup_path, limits, mount_root="/"):
    """A fake mounted hierarchy under tmp_path: ``limits`` maps a group path ("" for the
    mount point) to its limit in CPUs (None: no limit). Returns the (cgroup, mountinfo)
    files that describe a process in ``cgroup_path``."""
    point = tmp_path / "mnt"
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
    cgroup, mountinfo = tmp_path / "cgroup", tmp_path / "mountinfo"
    if version == 2:
        cgroup.write_text(f"0::{cgroup_path}\n")
        mount = f"41 31 0:38 {mount_root} {point} rw,relatime shared:9 - cgroup2 cgroup2 rw"
    else:
        cgroup.write_text(f"5:memory:/elsewhere\n3:cpu,cpuacct:{cgroup_path}\n")
        mount = f"32 31 0:29 {mount_root} {point} rw,relatime - cgroup cgroup rw,cpu,cpuacct"
    mountinfo.write_text("23 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                         "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
                         + mount + "\n")
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
    # is bind-mounted and the path it sees lies outside the mount's root
    files = hierarchy(tmp_path, version, "/", {"": 2})
    assert cpu_limit(*files) == 2
    (tmp_path / "b").mkdir()
    files = hierarchy(tmp_path / "b", version, "/docker/abc123", {"": 1.25},
                      mount_root="/docker/abc123")
    assert cpu_limit(*files) == 1.25
    (tmp_path / "c").mkdir()
    files = hierarchy(tmp_path / "c", version, "/kubepods/pod1", {"": 0.5},
                      mount_root="/docker/abc")    # a sibling whose name shares a prefix
    assert cpu_limit(*files) == 0.5


def test_both_hierarchies_give_the_smaller(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    v1 = hierarchy(tmp_path / "v1", 1, "/g", {"g": 3})
    v2 = hierarchy(tmp_path / "v2", 2, "/g", {"g": 2})
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
    with open(mountinfo, "w") as f:     # no cgroup mounted at all
        f.write("23 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n")
    assert cpu_limit(cgroup, mountinfo) is None
    with open(cgroup, "w") as f:        # a cgroup line of the wrong shape
        f.write("nonsense\n")
    assert cpu_limit(cgroup, mountinfo) is None


_PROBE = ("import json; from nongate_np.kernels.cpu import cores, threads; "
          "from nongate_np.cli.sysinfo import info; t = info()['threads']; "
          "print(json.dumps([cores.cpu_limit(), cores.usable_cores(), threads.num_threads(), "
          "t['numba'], t['numba_source']]))")


@pytest.mark.skipif(cpu_hierarchy() is None,
                    reason="no CPU cgroup controller this process may create groups in")
def test_a_real_cgroup_limited_to_one_cpu_splits_into_one_thread():
    def probe(procs, **env):
        # the child moves itself into the group before Python starts
        out = subprocess.run(
            ["sh", "-c", f'echo $$ > {procs} && exec "$0" -c "$1"', sys.executable, _PROBE],
            capture_output=True, text=True, timeout=300,
            env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    with cpu_limited(1) as procs:
        limit, usable, n, reported, source = probe(procs, NUMBA_NUM_THREADS=None)
        assert (limit, usable, n, reported) == (1.0, 1, 1, 1)
        assert "cgroup CPU limit 1" in source
        # a count the user chose is kept, limit or not
        assert probe(procs, NUMBA_NUM_THREADS="2")[2:4] == [2, 2]


def test_a_limit_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="cpus must be positive, got 0"):
        with cpu_limited(0):
            pass
