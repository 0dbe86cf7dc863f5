"""The benchmark (``nongate-np bench``, ``bench/run.py``): a quick run end to end on one small
config, with and without torch, and with the GRU's tasks; the ratios it stores; bad options."""

import argparse
import importlib
import json
import os
import re
import subprocess
import sys

import pytest

from nongate_np import benchmark
from nongate_np.benchmark import configs, workers
from nongate_np.benchmark.report import add_ratios, goal_values, report

run_module = importlib.import_module("nongate_np.benchmark.run")   # the package's run() shadows it

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--quick", "--configs", "S1", "--repeats", "1"]


def _bench(args, folder, **env):
    """Run the benchmark as a module in a subprocess; (process, saved results)."""
    out = folder / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "nongate_np.benchmark", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, **env}, cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    """A quick run where a torch package that fails to import stands in for no torch."""
    folder = tmp_path_factory.mktemp("bench_without_torch")
    hidden = folder / "hide_torch" / "torch"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('torch hidden by test_bench')\n")
    # NOTE: before the caller's PYTHONPATH, which may hold the checkout under test
    path = os.pathsep.join(p for p in (str(hidden.parent), os.environ.get("PYTHONPATH")) if p)
    return (folder, *_bench(TINY, folder, PYTHONPATH=path))


@pytest.mark.torch
def test_quick_run_compares_ours_with_torch(tmp_path):
    pytest.importorskip("torch")
    proc, res = _bench(TINY, tmp_path)
    assert res["quick"] and list(res["configs"]) == ["S1"]
    assert res["contenders"] == ["numba", "torch"] and not res["unavailable"]
    for key in ("float32/infer", "float32/train"):
        times = res["timings"]["S1"][key]
        assert times["numba"]["ms"] > 0 and times["torch"]["ms"] > 0, key
        assert times["numba"]["first_ms"] > 0, key
        gate = res["validation"]["S1"]["numba"][key]
        assert gate["ok"], f"{key}: ours disagrees with torch: {gate}"
        ratio = res["ratios"]["S1"][key]["numba"]
        assert ratio["checked"] and ratio["ok"]
        assert ratio["ratio"] == pytest.approx(times["torch"]["ms"] / times["numba"]["ms"])
    assert "float64/infer" not in res["timings"]["S1"]        # quick: float32 only
    assert "memory_L1_float32_train" not in res and "jit" not in res   # no cold compile
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| S1 | float32 |")]
    assert [ln.split(" | ")[2] for ln in table[:2]] == ["infer", "train"]
    assert "torch/numba" in proc.stdout and "(ok)" in table[0]
    assert res["load"]["kind"] == "none"
    rec = res["host"]["torch"]["torch"]                       # what torch's worker ran on
    assert rec["cpu_capability"] and isinstance(rec["mkldnn"], bool)
    assert "CPU capability" in proc.stdout and "oneDNN" in proc.stdout


def test_quick_run_without_torch_times_ours_and_says_how_to_compare(without_torch):
    _, proc, res = without_torch
    assert "torch hidden by test_bench" in res["unavailable"]["torch"]
    assert "unavailable" in res["validation"]["S1"]
    for key in ("float32/infer", "float32/train"):
        assert res["timings"]["S1"][key]["numba"]["ms"] > 0, key
        assert "torch" not in res["timings"]["S1"][key]
        assert res["ratios"]["S1"][key]["numba"] == {"ratio": None, "best": None,
                                                     "checked": False, "ok": None}
    hint = "pip install torch==2.13.0 onnx==1.23.1 onnxruntime==1.30.0 threadpoolctl " \
        "--extra-index-url https://download.pytorch.org/whl/cpu (or, in the checkout, pip " \
        "install -e '.[bench]')"
    assert hint in proc.stdout
    assert hint in proc.stderr


def test_the_run_records_the_host_and_the_blas_each_contender_loaded(without_torch):
    _, proc, res = without_torch
    m = res["machine"]
    assert m["cpu_llvm_name"] and m["isa"] and m["cpus"] >= 1
    products = res["host"]["numba"]["kernel_blas"]         # what the kernels' products call
    assert "error" not in products and products["version"] and products["path"]
    for who in ("numba", "gemm (numpy)"):
        libs = res["host"][who]["libraries"]
        assert "error" not in libs and libs["source"] in ("threadpoolctl", "/proc/self/maps")
        if sys.platform.startswith("linux"):
            assert any(lib["version"] and lib["threads"] for lib in libs["libraries"]), libs
    target = res["host"]["numba"]["kernel_target"]            # what the kernels run on
    assert target["cpu"] in (m["cpu_llvm_name"], os.environ.get("NUMBA_CPU_NAME")) \
        and target["vector_bytes"] in (32, 64)
    assert f"* numba: kernels compiled for {target['cpu']}, " in proc.stdout
    assert "-bit vectors; products: " in proc.stdout and f"({m['cpu_llvm_name']}, " in proc.stdout


def test_saved_run_reprints_the_same_report(without_torch):
    folder, proc, _ = without_torch
    again = subprocess.run([sys.executable, "-m", "nongate_np.benchmark", "--report",
                            str(folder / "bench.json")], capture_output=True, text=True,
                           timeout=60, cwd=folder)
    assert again.returncode == 0, again.stderr
    assert "| S1 | float32 | train |" in again.stdout
    assert again.stdout.strip() == proc.stdout.strip()


def _timed(torch_ms, ours_ms, ok):
    return {"timings": {"M1": {"float32/train": {
                "torch": {"ms": torch_ms, "min_ms": torch_ms / 2},
                "numba": {"ms": ours_ms, "min_ms": ours_ms / 4}}}},
            "validation": {"M1": {"numba": {"float32/train": {"ok": ok}}}}}


def test_ratio_is_torch_over_ours_and_only_for_a_checked_result():
    got = add_ratios(_timed(30.0, 10.0, True))["ratios"]["M1"]["float32/train"]["numba"]
    assert got == {"ratio": 3.0, "best": 6.0, "checked": True, "ok": True}
    wrong = add_ratios(_timed(30.0, 10.0, False))["ratios"]["M1"]["float32/train"]["numba"]
    assert wrong == {"ratio": None, "best": None, "checked": True, "ok": False}


@pytest.mark.parametrize("argv, expected", [
    (["--configs", "S1,X9"], "--configs: expected a comma-separated list of S1, S3"),
    (["--dtypes", "float16"], "--dtypes: expected a comma-separated list of float32, float64"),
    (["--contenders", ""], "--contenders: expected a comma-separated list of numba"),
    (["--repeats", "0"], "--repeats: expected a positive integer; got '0'"),
    (["--threads", "two"], "--threads: expected a positive integer; got 'two'"),
    (["--quick", "--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_option_exits_2_with_one_error_line(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        benchmark.main(argv)
    assert exc.value.code == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and expected in errors[0], errors


def test_unusable_files_are_one_error_line(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "a_file").write_text("")
    cases = [(["--report", str(tmp_path / "missing.json")], "cannot read a saved run"),
             (["--report", str(tmp_path / "broken.json")], "cannot read a saved run"),
             (["--out", str(tmp_path / "a_file" / "x.json")], "cannot create its folder")]
    for argv, expected in cases:
        assert benchmark.main(argv, prog="nongate-np bench") == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"nongate-np bench: error: {argv[0]} {argv[1]}: {expected}"), err
        assert "\n" not in err


def test_options_are_the_same_for_the_cli_and_bench_run():
    sub = argparse.ArgumentParser(prog="nongate-np bench")
    benchmark.add_arguments(sub)
    script = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0, script.stderr
    options = set(re.findall(r"--[a-z]+", sub.format_help()))
    assert {"--quick", "--configs", "--repeats", "--out"} <= options
    assert set(re.findall(r"--[a-z]+", script.stdout)) == options
    assert "bench/results/latest.json" in script.stdout   # the checkout's default --out
    assert "DESIGN.md" not in script.stdout


# -- the GRU's tasks ----------------------------------------------------------------------------
GRU_KEYS = ("float32/gru_infer", "float32/gru_train")


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory):
    """A quick S1 run of the GRU's two tasks, ours on Numba against torch."""
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("bench_gru")
    return (folder, *_bench(TINY + ["--tasks", "gru_infer,gru_train"], folder))


@pytest.mark.torch
def test_gru_tasks_are_timed_checked_against_torch_and_get_ratios(gru_run):
    _, proc, res = gru_run
    assert res["tasks"] == ["gru_infer", "gru_train"] and not res["skipped"]
    assert set(res["timings"]["S1"]) == set(GRU_KEYS)          # no LSTM task
    main = proc.stdout.split("\n### ")[0].splitlines()          # the times and ratios
    table = {ln.split(" | ")[2]: ln for ln in main if ln.startswith("| S1 | float32 | gru_")}
    hdr = next(ln for ln in main if ln.startswith("| cfg | dtype | task |"))
    col = hdr.split(" | ").index("torch/numba")
    for key in GRU_KEYS:
        times = res["timings"]["S1"][key]
        assert times["numba"]["ms"] > 0 and times["torch"]["ms"] > 0, key
        gate = res["validation"]["S1"]["numba"][key]
        assert gate["ok"] and gate["max_abs_diff"] is not None, f"{key}: {gate}"
        ratio = res["ratios"]["S1"][key]["numba"]
        assert ratio["checked"] and ratio["ok"]
        assert ratio["ratio"] == pytest.approx(times["torch"]["ms"] / times["numba"]["ms"])
        row = table[key.split("/")[1]].split(" | ")
        assert float(row[col]) == pytest.approx(ratio["ratio"], rel=1e-2), row
        assert row[-1].endswith("(ok) |"), row
    assert "| S1 | float32 | gru_train | " in proc.stdout.split("GFLOP/s")[-1]
    assert "### The speed goals" not in proc.stdout            # the GRU has none


@pytest.mark.torch
def test_saved_gru_run_reprints_the_same_report(gru_run):
    folder, proc, _ = gru_run
    again = subprocess.run([sys.executable, "-m", "nongate_np.benchmark", "--report",
                            str(folder / "bench.json")], capture_output=True, text=True,
                           timeout=60, cwd=folder)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == proc.stdout.strip()


@pytest.mark.torch
def test_onnx_worker_times_gru_inference_and_skips_gru_training_with_its_reason():
    pytest.importorskip("onnxruntime")
    got = workers.w_time({"contender": "onnx", "configs": ["S1"], "dtypes": ["float32"],
                          "tasks": ["gru_infer", "gru_train"], "threads": 1, "samples": 1,
                          "min_time": 0.0})
    assert got["S1"]["float32/gru_infer"]["ms"] > 0 and "float32/gru_train" not in got["S1"]
    assert got["skipped"] == {"S1": {"float32/gru_train": "ONNX Runtime runs inference only"}}


@pytest.mark.torch
def test_the_onnx_contender_skips_float64_with_the_reason():
    pytest.importorskip("onnxruntime")
    steps, skipped = workers.onnx_steps("S1", "float64", ("gru_infer", "infer"))
    assert steps == {}
    assert set(skipped) == {"gru_infer", "infer"} and "float32 only" in skipped["gru_infer"]


def test_a_skipped_cell_reaches_the_json_and_the_report(monkeypatch, tmp_path):
    """The parent keeps a worker's skipped cells with their reasons (workers faked here;
    the real ones are run above)."""
    pytest.importorskip("onnxruntime")                  # else the run drops the onnx contender
    cell = {"ms": 1.0, "min": 1.0, "max": 1.0, "inner": 1, "first_ms": 2.0}
    gate = {"max_abs_diff": 0.0, "worst": "y", "scale": 1.0, "ok": True}

    def worker(kind, args, timeout, cwd, **env):
        if kind == "gemm":
            return {"float32": {"ms": 1.0, "gflops": 100.0}}
        if kind == "validate":
            return {"S1": {"numba": {key: gate for key in GRU_KEYS}}}
        if args["contender"] == "onnx":
            return {"S1": {"float32/gru_infer": cell}, "skipped": {"S1": {
                "float32/gru_train": "ONNX Runtime runs inference only"}}}
        return {"S1": {key: cell for key in GRU_KEYS}}
    monkeypatch.setattr(run_module, "run_worker", worker)
    monkeypatch.setattr(run_module, "import_time", lambda n, threads, cwd: {})
    monkeypatch.setattr(run_module, "machine_info", lambda: {
        "cpu": "x", "cpus": 2, "platform": "p", "python": "3", "versions": {},
        "OPENBLAS_CORETYPE": None})
    args = benchmark.build_parser().parse_args(
        TINY + ["--tasks", "gru_infer,gru_train", "--contenders", "numba,torch,onnx"])
    res = json.loads(json.dumps(run_module.measure_all(args, str(tmp_path))))
    assert res["skipped"] == {"S1": {"onnx": {"float32/gru_train":
                                              "ONNX Runtime runs inference only"}}}
    assert res["ratios"]["S1"]["float32/gru_train"]["numba"]["ratio"] == 1.0
    text = report(res, ["S1"], res["tasks"], res["dtypes"], res["contenders"])
    assert "* onnx skipped gru_train (float32; every config): ONNX Runtime runs inference " \
        "only" in text
    assert "| S1 | float32 | gru_infer | 1 | 1 | 1 | 1 | 1 | 1 | 0 (ok) |" in text


def test_gru_tasks_are_opt_in_and_quick_is_unchanged():
    assert configs.GRU_TASKS == ("gru_infer", "gru_train")
    assert set(configs.GRU_TASKS) <= set(configs.TASKS)
    assert not set(configs.GRU_TASKS) & set(configs.FULL["tasks"])
    assert configs.QUICK["tasks"] == ("infer", "train")
    assert not any(task.startswith("gru") for _, task in configs.GOALS)
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    assert "--tasks gru_infer,gru_train" in " ".join(parser.format_help().split())


def test_gru_gflop_is_three_gates():
    T, B, I, H = configs.CONFIGS["M1"]
    assert configs.task_gflop("M1", "gru_infer") == pytest.approx(
        2 * T * B * 3 * H * (I + H) / 1e9)
    assert configs.task_gflop("M1", "gru_train") == pytest.approx(
        3 * configs.task_gflop("M1", "gru_infer"))
    assert configs.task_gflop("M1", "gru_infer") == pytest.approx(
        0.75 * configs.task_gflop("M1", "infer"))


def test_the_gru_has_no_numpy_backend_goal():
    """The GRU's tasks time the Numba kernels against the NumPy ones (kernels/cpu/gru.py,
    kernels/gru_reference.py) but, having no goals, add no numpy-backend goal row."""
    from nongate_np.benchmark.report import goal_values
    cell = {"numba": {"ms": 1.0}, "numpy": {"ms": 2.0}}
    res = {"timings": {"M1": {"float32/gru_infer": cell, "float32/infer": cell}}}
    rows = [r[0] for r in goal_values(res, ["M1"]) if r[0].startswith("numpy backend")]
    assert rows == ["numpy backend/ours float32 infer M1"]


def test_the_numpy_backend_goal_leaves_out_the_gru():
    ms = {"numba": {"ms": 1.0, "min_ms": 1.0}, "numpy": {"ms": 1.1, "min_ms": 1.1}}
    res = add_ratios({"timings": {"M1": {"float32/gru_train": ms, "float32/train": ms}}})
    names = [name for name, _, _ in goal_values(res, ["M1"])]
    assert names == ["numpy backend/ours float32 train M1"]


def test_report_groups_skipped_cells_by_contender_and_reason():
    res = {"machine": {"cpu": "x", "cpus": 2, "platform": "p", "python": "3", "versions": {},
                       "OPENBLAS_CORETYPE": None},
           "threads": 2, "quick": True, "repeats": 1, "samples": 1, "min_time_s": 0.01,
           "configs": {"S1": {}, "M1": {}}, "unavailable": {}, "validation": {},
           "timings": {}, "skipped": {
               cfg: {"onnx": {"float32/train": "inference only",
                              "float32/gru_train": "inference only",
                              "float64/gru_infer": "float32 only"}} for cfg in ("S1", "M1")}}
    text = report(add_ratios(res), ["S1", "M1"], ["gru_infer", "gru_train"], ["float32"],
                  ["numba", "onnx"])
    assert "* onnx skipped train, gru_train (float32; every config): inference only" in text
    assert "* onnx skipped gru_infer (float64; every config): float32 only" in text
