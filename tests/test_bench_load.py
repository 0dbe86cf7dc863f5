"""The benchmark's loaded-machine run (``--load``), its comparison with an idle run
(``--against``), the host record and ``--compile-only``: the mechanics, with the workers
replaced where a real one would take minutes. No timing is asserted."""

import importlib
import json
import os
import sys

import pytest

from nongate_np import benchmark
from nongate_np.benchmark import host, load
from nongate_np.benchmark.compare import compare
from nongate_np.benchmark.report import add_ratios

# NOTE: the module, not the function benchmark.run that shadows its name in the package
bench_run = importlib.import_module("nongate_np.benchmark.run")
linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited and been reaped (a zombie still answers kill 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _load_children() -> list[int]:
    """The pids of this process's children that are load processes (their script polls
    ``os.getppid()``), read from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"getppid" in cmd:
            pids.append(int(entry))
    return pids


# -- the load processes ----------------------------------------------------------------------
@pytest.mark.parametrize("kind, n", [("blas2", 1), ("spin2", 2)])
def test_load_runs_for_the_block_and_is_reaped_after(kind, n):
    with load.background(kind) as busy:
        assert len(busy["pids"]) == n and busy["kind"] == kind
        assert all(not _gone(pid) for pid in busy["pids"])
    assert all(_gone(pid) for pid in busy["pids"])
    assert [p["returncode"] for p in busy["processes"]] == [0] * n
    assert all(p["iterations"] is not None and p["iterations"] >= 0
               for p in busy["processes"])


def test_no_load_starts_nothing():
    with load.background("none") as busy:
        assert busy["pids"] == []
    assert busy["processes"] == [] and "idle" in busy["what"]


def test_load_is_reaped_when_the_block_raises():
    with pytest.raises(KeyError), load.background("spin2") as busy:
        raise KeyError("a worker failed")
    assert len(busy["pids"]) == 2 and all(_gone(pid) for pid in busy["pids"])


def test_load_that_cannot_start_is_one_error_and_leaves_nothing(tmp_path):
    hidden = tmp_path / "numpy"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('numpy hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    with pytest.raises(load.LoadError, match="numpy hidden by the test"):
        with load.background("blas2", env=env):
            pass
    with pytest.raises(load.LoadError, match="did not start"):      # not ready in time
        with load.background("blas2", ready_timeout=0.001):
            pass
    assert not os.path.isdir("/proc/self") or _load_children() == []
    with pytest.raises(ValueError, match="unknown load 'blas3'; expected one of none, blas2"):
        with load.background("blas3"):
            pass


# -- a run with a load: the workers replaced ------------------------------------------------
class _FakeWorkers:
    """Stands in for ``run.run_worker``: records the live load processes at each call, then
    fails the way ``failure`` says ("error": a worker's error result; an exception class:
    raised, as a crash or Ctrl-C in the parent would)."""

    def __init__(self, failure):
        self.failure, self.kinds, self.seen = failure, [], []

    def __call__(self, kind, args, timeout, cwd, **env):
        self.kinds.append(kind)
        self.seen.append(_load_children())
        if self.failure == "error" or kind not in ("time",):
            return {"error": f"exit 1: the {kind} worker failed (test)"}
        raise self.failure("the worker's parent was interrupted (test)")


QUICK_S1 = ["--quick", "--configs", "S1", "--repeats", "1", "--contenders", "numba"]


@linux_only
@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_load_is_reaped_when_the_run_is_interrupted(monkeypatch, tmp_path, failure):
    fake = _FakeWorkers(failure)
    monkeypatch.setattr(bench_run, "run_worker", fake)
    with pytest.raises(failure):
        benchmark.main([*QUICK_S1, "--load", "spin2", "--out", str(tmp_path / "r.json")])
    assert fake.kinds[-1] == "time"
    assert all(len(pids) == 2 for pids in fake.seen), fake.seen   # running from the start
    assert all(_gone(pid) for pid in fake.seen[0])
    assert _load_children() == []


@linux_only
def test_load_runs_through_failing_workers_and_is_recorded(monkeypatch, tmp_path, capsys):
    fake = _FakeWorkers("error")
    monkeypatch.setattr(bench_run, "run_worker", fake)
    out = tmp_path / "r.json"
    assert benchmark.main([*QUICK_S1, "--load", "blas2", "--out", str(out)]) == 0
    assert fake.kinds == ["gemm", "validate", "time"]
    assert all(len(pids) == 1 for pids in fake.seen)
    res = json.loads(out.read_text())
    assert res["load"]["kind"] == "blas2" and "two-thread" in res["load"]["what"]
    assert [p["pid"] for p in res["load"]["processes"]] == fake.seen[0]
    assert res["load"]["processes"][0]["returncode"] == 0
    assert _gone(fake.seen[0][0]) and _load_children() == []
    printed = capsys.readouterr().out
    assert "loaded machine: --load blas2" in printed and "**Loaded machine**" in printed


def test_compile_only_runs_the_compile_workers_alone(monkeypatch, tmp_path, capsys):
    calls = []

    def fake(kind, args, timeout, cwd, **env):
        (dtype,) = args["dtypes"]
        calls.append((kind, dtype, env["NUMBA_CACHE_DIR"]))
        first = 12500.0 if dtype == "float32" else 9000.0
        ms = {"first_call_ms": first, "small_sizes_ms": 5000.0, "threaded_ms": first - 5000,
              "second_call_ms": 3.0}
        return {"import_ms": 400.0, dtype: ms, "host": {"libraries": {}}}
    monkeypatch.setattr(bench_run, "run_worker", fake)
    out = tmp_path / "c.json"
    assert benchmark.main(["--compile-only", "--out", str(out)]) == 0
    # per dtype a fresh cache: a cold then a warm process on it
    assert [c[:2] for c in calls] == [("jit", "float32")] * 2 + [("jit", "float64")] * 2
    assert calls[0][2] == calls[1][2] != calls[2][2] == calls[3][2]
    res = json.loads(out.read_text())
    assert res["compile_only"] and res["timings"] == {} and "gemm_peak" not in res
    assert set(res["jit"]["cold_cache"]) >= {"float32", "float64", "import_ms"}
    printed = capsys.readouterr().out
    assert "(compile-only run)" in printed and "alternating runs" not in printed
    assert "goal: cold compile float32 12.5 s <= 10 s: **missed** by 2.5 s (1.25x the goal)" \
        in printed
    assert "goal: cold compile float64 9.0 s <= 10 s: met" in printed


# -- the host record -------------------------------------------------------------------------
def test_host_record_names_the_kernels_blas_and_the_loaded_libraries():
    import scipy.linalg  # noqa: F401  (the library the kernels call is SciPy's)
    rec = host.worker_record("numba")
    kb = rec["kernel_blas"]
    assert "error" not in kb, kb
    assert kb["source"] and kb.get("version") and os.path.exists(kb["path"])
    libs = rec["libraries"]
    assert libs["source"] in ("threadpoolctl", "/proc/self/maps", "none")
    if sys.platform.startswith("linux"):
        assert any(lib["api"] == "openblas" and lib["version"] for lib in libs["libraries"])
    target = rec["kernel_target"]
    assert target["cpu"] and target["vector_bytes"] in (32, 64)
    line = host.describe_record(rec)
    assert line.startswith(f"kernels compiled for {target['cpu']}, "
                           f"{target['vector_bytes'] * 8}-bit vectors; products: ")
    assert "loaded (" in line


def test_instruction_set_overrides_are_recorded_and_reported(monkeypatch, tmp_path, capsys):
    for var in host.ISA_VARS:
        monkeypatch.delenv(var, raising=False)
    assert host.machine_info()["isa_overrides"] == {}
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("NUMBA_CPU_NAME", "znver3")
    assert host.machine_info()["isa_overrides"] == {"NUMBA_CPU_NAME": "znver3",
                                                    "ATEN_CPU_CAPABILITY": "avx2"}
    saved = _saved("none", (2.0, 4.0), (1.0, 2.0))
    saved["machine"]["isa_overrides"] = {"NUMBA_CPU_NAME": "znver3"}
    (tmp_path / "run.json").write_text(json.dumps(saved))
    assert benchmark.main(["--report", str(tmp_path / "run.json")]) == 0
    assert "OPENBLAS_CORETYPE=<unset>, NUMBA_CPU_NAME=znver3." in capsys.readouterr().out


@linux_only
def test_without_threadpoolctl_the_libraries_come_from_the_maps(monkeypatch):
    import numpy  # noqa: F401
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)      # import fails
    libs = host.loaded_libraries()
    assert libs["source"] == "/proc/self/maps"
    blas = [lib for lib in libs["libraries"] if lib["api"] == "openblas"]
    assert blas and all(lib["version"] and lib["core"] and lib["threads"] >= 1
                        for lib in blas), blas


@pytest.mark.torch
def test_torch_record_says_its_capability_and_onednn():
    pytest.importorskip("torch")
    t = host.worker_record("torch")["torch"]
    assert t["cpu_capability"] and isinstance(t["mkldnn"], bool) and t["threads"] >= 1


# -- --against -------------------------------------------------------------------------------
def _saved(load_kind, torch_ms, ours_ms, cpu="Test CPU"):
    """A tiny saved run: S1 float32 infer and train_attn (two goal cells), ours ("numba")
    and torch timed."""
    timings = {key: {"torch": {"ms": t, "min_ms": t}, "numba": {"ms": o, "min_ms": o}}
               for key, t, o in zip(("float32/infer", "float32/train_attn"), torch_ms,
                                    ours_ms)}
    return add_ratios({
        "machine": {"cpu": cpu, "cpu_llvm_name": "testlake", "isa": "AVX2", "cpus": 2,
                    "platform": "test", "python": "3", "versions": {},
                    "OPENBLAS_CORETYPE": "<unset>"},
        "quick": True, "threads": 2, "repeats": 1, "samples": 1, "min_time_s": 0.01,
        "configs": {"S1": {}}, "tasks": ["infer", "train_attn"], "dtypes": ["float32"],
        "contenders": ["numba", "torch"], "unavailable": {}, "timings": {"S1": timings},
        "validation": {"S1": {"numba": {k: {"ok": True, "max_abs_diff": 0.0, "scale": 1.0,
                                            "worst": None} for k in timings}}},
        "load": {"kind": load_kind, "what": load.LOADS[load_kind], "processes": []}})


def test_against_prints_idle_and_loaded_side_by_side(tmp_path, capsys):
    idle, busy = tmp_path / "idle.json", tmp_path / "busy.json"
    idle.write_text(json.dumps(_saved("none", (2.0, 4.0), (1.0, 2.0))))     # ratios 2, 2
    busy.write_text(json.dumps(_saved("blas2", (2.0, 4.0), (1.25, 5.0))))   # 1.6, 0.8
    for report, against in ((busy, idle), (idle, busy)):     # either order: same table
        assert benchmark.main(["--report", str(report), "--against", str(against)]) == 0
        printed = capsys.readouterr().out
        table = printed[printed.index("## Loaded against idle"):]
        assert "| **S1** | float32 | infer | numba | 2 | 2 | 1 | 1.25 | 2 | 1.6 | 0.8 | yes |" \
            in table
        assert "| **S1** | float32 | train_attn | numba | 4 | 4 | 2 | 5 | 2 | 0.8 | 0.4 | " \
            "**no** (43 % short) |" in table
        assert "Goal met in 1 of 2 goal cells" in table
        assert "the worst: S1 float32/train_attn numba at 0.40" in table


def test_two_idle_runs_compare_without_the_goal():
    text = compare(_saved("none", (2.0, 4.0), (1.0, 2.0)),
                   _saved("none", (2.0, 4.0), (2.0, 2.0), cpu="Other CPU"))
    assert "## Run B against A" in text and ">= 0.7" not in text
    assert "different CPUs" in text


@pytest.mark.parametrize("argv, expected", [
    (["--load", "blas3"], "argument --load: invalid choice: 'blas3'"),
    (["--against", "/no/such/run.json"], "--against /no/such/run.json: cannot read a saved run"),
])
def test_bad_load_and_against_are_one_error_line(argv, expected, capsys):
    try:
        code = benchmark.main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and expected in errors[0], errors


# -- the goals -------------------------------------------------------------------------------
def test_goal_lines_say_met_or_missed_by_how_much():
    from nongate_np.benchmark.report import goal_lines
    res = _saved("none", (3.0, 4.0), (1.0, 2.0))
    res["configs"] = {"S3": {}, "M1": {}}
    res["timings"] = {"S3": {"float32/infer": {"torch": {"ms": 1.0, "min_ms": 1.0},
                                               "numba": {"ms": 1.25, "min_ms": 1.25},
                                               "onnx": {"ms": 1.5}}},
                      "M1": {"float32/train": {"numba": {"ms": 2.0}, "numpy": {"ms": 8.0}}}}
    res["validation"] = {"S3": {"numba": {"float32/infer": {"ok": True}}}}
    lines = "\n".join(goal_lines(add_ratios(res), ["S3", "M1"]))
    assert "| torch/ours float32 infer S3 | 0.8 | 1 | **missed** by 20 % |" in lines
    assert "| onnx/ours float32 infer S3 | 1.2 | 1 | met |" in lines
    assert "| numpy backend/ours float32 train M1 | 4 | 5 | **missed** by 20 % |" in lines


@linux_only
def test_sigterm_stops_and_reaps_the_load():
    import subprocess
    import time
    script = ("import json, time\n"
              "from nongate_np.benchmark import load\n"
              "with load.sigterm_unwinds():\n"
              "    try:\n"
              "        with load.background('spin2') as busy:\n"
              "            print(json.dumps(busy['pids']), flush=True)\n"
              "            time.sleep(60)\n"
              "    finally:\n"
              "        print(json.dumps(busy['processes']), flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = json.loads(proc.stdout.readline())
    time.sleep(0.2)
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + 15
    stopped = json.loads(out.strip().splitlines()[-1])          # reaped by the benchmark
    assert [p["pid"] for p in stopped] == pids and all(p["returncode"] == 0 for p in stopped)
    assert all(_gone(pid) for pid in pids)


# -- bench/standing.py: the goals of several hosts side by side -------------------------------
def _standing_script():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "bench", "standing.py")
    spec = importlib.util.spec_from_file_location("standing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_standing_puts_each_hosts_runs_side_by_side(tmp_path, capsys):
    standing = _standing_script()
    runs = {"a1": ((6.0, 4.0), (1.0, 2.0)),        # infer S1 6 (met), train_attn S1 2
            "a2": ((7.0, 4.0), (2.0, 1.0)),        # 3.5 (met), 4 (met)
            "b1": ((2.996, 9.0), (1.0, 1.0))}      # 2.996: two decimals would show 3.00
    for name, (torch_ms, ours_ms) in runs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(_saved("none", torch_ms, ours_ms)))
    f = lambda name: str(tmp_path / f"{name}.json")  # noqa: E731
    assert standing.main([f"Host A={f('a1')},{f('a2')}", f"Host B={f('b1')}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| goal (at least) | Host A | Host B |"
    assert "| torch/ours float32 infer S1 (3) | **6.00 / 3.50** | 2.996 |" in lines
    assert "| torch/ours float32 train_attn S1 (3) | 2.00 / 4.00 | **9.00** |" in lines


def test_standing_names_a_bad_argument_or_file(tmp_path, capsys):
    standing = _standing_script()
    with pytest.raises(SystemExit) as exit_:
        standing.main(["no-equals-sign.json"])
    assert exit_.value.code == 2
    assert "expected HOST=FILE[,FILE...], got 'no-equals-sign.json'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="cannot read the saved run .*missing.json"):
        standing.main([f"A={tmp_path / 'missing.json'}"])
