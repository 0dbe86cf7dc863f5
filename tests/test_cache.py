"""The Numba kernels' compiled-code cache (``kernels/cpu/cache.py``): it goes to the per-user
cache folder, never into the installed package's folder (the README's two install commands
broke each other through it), and a read-only install with no writable cache folder still
computes, with one warning.

Each case runs in a subprocess, because the cache is decided once, when the kernels are
imported; the package is imported from a copy (as from a non-editable install), so its
folder can be listed before and after, or made read-only.
"""

from __future__ import annotations

import compileall
import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("numba")
import nongate_np  # noqa: E402  (after the importorskip)
from nongate_np.kernels.cpu import cache  # noqa: E402

PACKAGE = Path(nongate_np.__file__).resolve().parent

#: An LSTM forward and backward on the numba backend; prints one JSON line: where the
#: package came from, the cache decision, the warnings, the kernels' cache folders (None: not
#: cached), hits and misses, which folders it could write to, and the results (float repr
#: round-trips exactly).
LSTM_SCRIPT = textwrap.dedent("""
    import dataclasses, json, os, sys, tempfile, warnings

    def can_write(folder):
        try:
            tempfile.TemporaryFile(dir=folder).close()
        except OSError:
            return False
        return True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")       # a repeated warning is seen twice, not hidden
        import numpy as np
        import nongate_np as ng
        from nongate_np.kernels.cpu import cache, gemm, lstm
        with ng.backend("numba"):
            ng.seed(0)
            model = ng.nn.LSTM(3, 4)
            x = ng.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32),
                          requires_grad=True)
            y, (h, c) = model(x)
            (y * y).sum().backward()
    stats = [v.stats for m in (lstm, gemm) for v in vars(m).values() if hasattr(v, "stats")]
    package = os.path.dirname(ng.__file__)
    print(json.dumps({
        "package": package,
        "location": dataclasses.asdict(cache.cache_location()),
        "warnings": [[type(w.message).__name__, str(w.message)] for w in caught],
        "cache_paths": sorted({s.cache_path for s in stats}, key=str),
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
        "writable": {"package": can_write(package), "HOME": can_write(os.environ["HOME"]),
                     "XDG_CACHE_HOME": can_write(os.environ["XDG_CACHE_HOME"])},
        "results": {"y": y.data.tolist(), "h": h.data.tolist(), "c": c.data.tolist(),
                    "x.grad": x.grad.tolist(),
                    **{name: p.grad.tolist() for name, p in model.named_parameters()}},
    }))
""")


def _make_base() -> Path:
    """A temporary folder every user can read (pytest's own are private to their owner)."""
    base = Path(tempfile.mkdtemp(prefix="nongate-cache-"))
    base.chmod(0o755)
    return base


def _remove(base: Path) -> None:
    for folder, _, _ in os.walk(base):             # read-only folders first made writable
        os.chmod(folder, 0o755)
    shutil.rmtree(base)


def _install_copy(site: Path) -> Path:
    """Copy the package into ``site`` with its bytecode compiled, as pip installs it."""
    target = site / "nongate_np"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(str(target), quiet=1)
    return target


def _env(site: Path, home: Path, xdg: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), HOME=str(home), XDG_CACHE_HOME=str(xdg))
    return env


def _run(script: str, env: dict[str, str], cwd: Path, preexec_fn=None) -> dict:
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, text=True,
                          capture_output=True, preexec_fn=preexec_fn, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _cache_warnings(out: dict) -> list[list[str]]:
    return [w for w in out["warnings"] if "cach" in w[1].lower()]


@pytest.fixture(scope="module")
def user_cache_runs():
    """Two processes with a fresh user cache folder and NUMBA_CACHE_DIR unset, on a
    compiled copy of the package; the copy's file list before and after."""
    base = _make_base()
    try:
        site, home, xdg = base / "site", base / "home", base / "xdg"
        home.mkdir()
        package = _install_copy(site)
        before = _files(package)
        env = _env(site, home, xdg)
        first, second = _run(LSTM_SCRIPT, env, base), _run(LSTM_SCRIPT, env, base)
        after, cached = _files(package), _files(xdg)
        # an edit of a file the LSTM kernels only call into (the activations)
        activations = package / "kernels" / "cpu" / "activations.py"
        activations.write_text(activations.read_text() + "\n# edited\n")
        edited = _run(LSTM_SCRIPT, env, base)
        yield dict(package=package, xdg=xdg, before=before, after=after, cached=cached,
                   first=first, second=second, edited=edited)
    finally:
        _remove(base)


def test_kernels_cache_in_the_user_cache_folder(user_cache_runs):
    r = user_cache_runs
    assert r["first"]["package"] == str(r["package"])     # the copy, not the editable install
    assert r["first"]["location"] == {
        "path": str(r["xdg"] / "nongate_np" / "numba"), "source": "user cache folder",
        "reason": "NUMBA_CACHE_DIR is unset and the per-user cache folder is writable."}
    assert _cache_warnings(r["first"]) == []
    folders = r["first"]["cache_paths"]
    assert len(folders) == 1 and Path(folders[0]).parent == r["xdg"] / "nongate_np" / "numba"
    compiled = [f for f in r["cached"] if f.startswith(os.path.join("nongate_np", "numba"))
                and f.endswith((".nbi", ".nbc"))]
    assert compiled, r["cached"]
    # the first process compiles and saves, the second loads what it calls and compiles
    # nothing (a kernel that only other kernels call is inside their cached code: loaded on
    # its own only when a new signature of a caller compiles)
    assert r["first"]["misses"] > 0 and r["first"]["hits"] == 0
    assert 0 < r["second"]["hits"] <= r["first"]["misses"] and r["second"]["misses"] == 0


def test_an_edited_callee_file_recompiles_its_callers(user_cache_runs):
    """A kernel's cached code holds the activations it calls: editing activations.py must
    not leave the LSTM kernels running the old ones from the cache."""
    edited = user_cache_runs["edited"]
    assert edited["misses"] > 0, edited


def test_the_kernel_sources_stamp_follows_every_file(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not a source\n")
    first = cache.kernel_sources_stamp(str(tmp_path))
    assert [name for name, *_ in first] == ["a.py"]
    cache.kernel_sources_stamp.cache_clear()
    (tmp_path / "b.py").write_text("y = 2\n")
    assert cache.kernel_sources_stamp(str(tmp_path)) != first
    cache.kernel_sources_stamp.cache_clear()


def test_kernels_write_nothing_into_the_package_folder(user_cache_runs):
    """The root cause of the README's command 2 failing after command 1: a folder Numba
    created inside the installed package outlived its uninstall."""
    r = user_cache_runs
    assert r["first"]["misses"] > 0                   # the kernels did compile and save
    assert r["after"] == r["before"]


def test_user_functions_keep_numbas_default(tmp_path):
    """The package's locator applies to its own files only: a user's ``cache=True`` function
    is cached beside its source, as Numba does by default."""
    (tmp_path / "userfunc.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    script = ("import nongate_np.kernels.cpu, userfunc, json\n"
              "print(json.dumps([userfunc.twice(21), userfunc.twice.stats.cache_path]))")
    env = _env(tmp_path, tmp_path, tmp_path / "xdg")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(PACKAGE.parent)])
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [42, str(tmp_path / "__pycache__")]
    assert any(f.endswith(".nbi") for f in os.listdir(tmp_path / "__pycache__"))


def _location_script() -> str:
    return ("import dataclasses, json, warnings\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    from nongate_np.kernels.cpu import cache, lstm\n"
            "print(json.dumps([dataclasses.asdict(cache.cache_location()), lstm._JIT['cache'],"
            " [[type(w.message).__name__, str(w.message), w.filename] for w in caught]]))")


def test_numba_cache_dir_is_numbas_own(tmp_path):
    env = _env(PACKAGE.parent, tmp_path, tmp_path / "xdg")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    location, enabled, caught = _run_location(env, tmp_path)
    assert location == {"path": str(tmp_path / "numba"), "source": "NUMBA_CACHE_DIR",
                        "reason": "NUMBA_CACHE_DIR is set."}
    assert enabled is True and caught == []
    assert not (tmp_path / "xdg").exists()             # the user folder was not even made


def test_unusable_numba_cache_dir_disables_caching_with_one_warning(tmp_path):
    """Numba would fall back to the package's folder; the kernels are not cached instead.
    A folder below a regular file cannot be made, whatever the user's rights."""
    (tmp_path / "file").write_text("")
    env = _env(PACKAGE.parent, tmp_path, tmp_path / "xdg")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "file" / "numba")
    location, enabled, caught = _run_location(env, tmp_path)
    assert location["path"] is None and location["source"] == "disabled"
    assert location["reason"].startswith(f"NUMBA_CACHE_DIR={tmp_path / 'file' / 'numba'} is "
                                         f"not writable (")
    assert enabled is False
    assert len(caught) == 1 and caught[0][0] == "CacheDisabledWarning"
    assert "set NUMBA_CACHE_DIR to a writable folder" in caught[0][1]
    assert caught[0][2] == "<string>"       # the user's import, not a kernel module's line


def _run_location(env: dict[str, str], cwd: Path):
    proc = subprocess.run([sys.executable, "-c", _location_script()], env=env, cwd=cwd,
                          text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("environ, platform, want", [
    ({"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "linux", ["/x"]),
    ({"HOME": "/h", "XDG_CACHE_HOME": ""}, "linux", ["/h", ".cache"]),
    ({"HOME": "/h", "XDG_CACHE_HOME": "x"}, "linux", ["/h", ".cache"]),   # XDG: relative ignored
    ({"HOME": "/h"}, "linux", ["/h", ".cache"]),
    ({"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "darwin", ["/h", "Library", "Caches"]),
    ({"HOME": "/h", "LOCALAPPDATA": "/l"}, "win32", ["/l"]),
    ({"HOME": "/h"}, "win32", ["/h", "AppData", "Local"]),
])
def test_user_cache_dir_per_platform(environ, platform, want):
    assert cache._user_cache_dir(environ, platform) == os.path.join(*want)


# Read-only install. Root ignores file modes, so as root the subprocess runs either as
# ``nobody`` or as root without the capabilities that override file modes; whichever first
# passes a probe (starts, imports, and is refused a write) is used.
_NOBODY = 65534
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def _as_nobody():
    os.setgroups([])
    os.setgid(_NOBODY)
    os.setuid(_NOBODY)


def _without_file_mode_override():
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def _unprivileged(env: dict[str, str], cwd: Path, unwritable: Path):
    """A ``preexec_fn`` (None: as this user) under which a Python process imports the
    package copy and cannot write into ``unwritable``; skips, naming why, when none does."""
    if not hasattr(os, "geteuid"):
        pytest.skip("no POSIX user ids here to make folders unwritable with")
    candidates = ([("as nobody", _as_nobody),
                   ("as root without CAP_DAC_OVERRIDE", _without_file_mode_override)]
                  if os.geteuid() == 0 else [("as this user", None)])
    probe = ("import sys, tempfile, numba, nongate_np\n"
             f"try:\n    tempfile.TemporaryFile(dir={str(unwritable)!r})\n"
             "except PermissionError:\n    sys.exit(0)\n"
             "sys.exit(3)")
    failures = []
    for name, preexec_fn in candidates:
        try:
            proc = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, text=True,
                                  capture_output=True, preexec_fn=preexec_fn, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            failures.append(f"{name}: {e}")
            continue
        if proc.returncode == 0:
            return preexec_fn
        failures.append(f"{name}: exit {proc.returncode} "
                        f"{(proc.stderr.strip().splitlines() or [''])[-1]}")
    pytest.skip("cannot run a process that is refused writes here: " + "; ".join(failures))


def _make_read_only(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True) + [folder]:   # contents first
        mode = stat.S_IMODE(path.stat().st_mode) & ~0o222
        path.chmod(mode | (0o555 if path.is_dir() else 0o444))


def test_read_only_install_computes_without_a_cache(user_cache_runs):
    """Package, HOME and XDG_CACHE_HOME unwritable, NUMBA_CACHE_DIR unset: an LSTM forward
    and backward give the same numbers as the writable install, with one warning."""
    base = _make_base()
    try:
        site, home, xdg = base / "site", base / "home", base / "xdg"
        home.mkdir()
        xdg.mkdir()
        package = _install_copy(site)
        for folder in (site, home, xdg):
            _make_read_only(folder)
        env = _env(site, home, xdg)
        preexec_fn = _unprivileged(env, base, package)
        out = _run(LSTM_SCRIPT, env, base, preexec_fn)
    finally:
        _remove(base)
    assert out["package"] == str(package)
    assert out["writable"] == {"package": False, "HOME": False, "XDG_CACHE_HOME": False}
    assert out["location"]["path"] is None and out["location"]["source"] == "disabled"
    assert out["cache_paths"] == [None] and out["hits"] == 0     # every kernel: cache=False
    warned = _cache_warnings(out)
    assert len(warned) == 1 and warned[0][0] == "CacheDisabledWarning", out["warnings"]
    assert "set NUMBA_CACHE_DIR to a writable folder" in warned[0][1]
    assert out["results"] == user_cache_runs["first"]["results"]
