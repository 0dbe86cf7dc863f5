"""Performance yardsticks of nongate_np against PyTorch CPU (and ONNX Runtime): DESIGN.md.

Usage::

    python bench/run.py                       # full run: S1 S3 M1 M2 L1 L2, 5 repeats
    python bench/run.py --quick               # S1 M1, 3 repeats, short samples (~2 min)
    python bench/run.py --configs S1,M1 --out bench/results/latest.json

What is measured, per configuration (T, B, I, H) and dtype (float32, float64):

* ``infer``      LSTM forward under no_grad;
* ``train``      zero grads + LSTM forward + ``out.sum().backward()`` (grads on the
                 parameters and on the input);
* ``train_attn`` the same through LSTM + gated attention pooling (attn_size = H/2, one
                 query, loss = ``pooled.sum()``),

for the contenders ``numba`` (ours, backend "numba"), ``numpy`` (ours, backend "numpy"),
``torch`` (PyTorch CPU, same weights and data; the gated attention in torch ops) and
``onnx`` (ONNX Runtime, float32 inference only, torch's LSTM exported with
``dynamo=False``; skipped when onnxruntime is not installed). A contender whose backend
raises BackendUnavailable is reported as unavailable.

Method (docs: /work/shared/notes/cpu-measurements.md, "Caveats"):

* Threads: 2 for everyone (the machine has 2 vCPUs). OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS=2
  are set in each worker's environment before it starts (so before numpy/torch are
  imported), torch also gets ``torch.set_num_threads(2)`` and ONNX Runtime
  ``intra_op_num_threads=2``. One fixed count keeps the comparison "same resources";
  whether 1 thread would be faster for some shapes is the library's business, not the
  harness's.
* Every thread pool here busy-waits after a call, so two pools in one process steal each
  other's core: **each contender runs in its own subprocess** (``--worker``), one process
  per (contender, config, repeat), measuring all dtypes and tasks of that config.
* Inside a worker: one warm-up call, then ``samples`` samples, each an inner loop of at
  least ``min_time`` seconds; the worker reports the median per call. The parent runs the
  contenders **alternately** (the order rotates each repeat) and reports the **median over
  repeats**. Differences under ~15 % are noise on this machine.
* Correctness gate: once per config a separate process compares ours (each available
  backend) with torch on torch's own weights: outputs and every gradient; max abs diff
  (relative to max(1, |ref|)) must be <= 2e-3 (f32) / 1e-9 (f64). A failing cell is
  flagged and gets no ratio.
* Also: numpy matmul 1024^3 peak (2 threads, same run) and our training-step GFLOP/s
  against it (FLOPs = 3 x the LSTM GEMMs 2·T·B·4H·(I+H); elementwise work not counted),
  peak RSS (ru_maxrss delta) of one L1 float32 training step, cold numba compile time of
  every kernel for one dtype (fresh NUMBA_CACHE_DIR; an S1 training + attention step for
  the serial paths, then an M1 one for the threaded ones) and the same first calls in a new
  process with that cache warm,
  ``import nongate_np`` time (median of fresh subprocesses) and OPENBLAS_CORETYPE.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _workers import CONFIGS, TASKS, THREAD_VARS, main as worker_main  # noqa: E402

CONTENDERS = ("numba", "numpy", "torch", "onnx")
DTYPES = ("float32", "float64")


def worker_env(threads: int, **extra) -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_worker(kind: str, args: dict, timeout: float, **env_extra) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, json.dumps(args)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                           env=worker_env(args.get("threads", 2), **env_extra))
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        return {"error": f"exit {p.returncode}: {p.stderr[-1500:]}"}
    return json.loads(lines[-1])


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def machine_info() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "numba", "scipy", "torch", "onnxruntime"):
        try:
            from importlib.metadata import version
            versions[mod] = version(mod)
        except Exception:
            versions[mod] = None
    return {"cpu": model, "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "<unset>")}


def import_time(n: int, threads: int) -> dict:
    res = {}
    for label, code in (("bare", "pass"), ("nongate_np", "import nongate_np"),
                        ("nongate_np_numba_loaded", "import nongate_np, sys; "
                         "assert 'numba' not in sys.modules")):
        ts, ok = [], True
        for _ in range(n):
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                               env=worker_env(threads))
            ts.append((time.perf_counter() - t) * 1e3)
            ok = ok and p.returncode == 0
        res[label] = {"median_ms": statistics.median(ts), "min_ms": min(ts), "ok": ok}
    res["numba_imported_eagerly"] = not res.pop("nongate_np_numba_loaded")["ok"]
    return res


def task_gflop(cfg: str, task: str) -> float:
    """GFLOP of a task's matrix products: the LSTM GEMMs 2·T·B·4H·(I+H) once forward, three
    times for training (forward, input and weight gradients), plus the gated attention's two
    projections (attn_size H/2) for train_attn."""
    T, B, I, H = CONFIGS[cfg]
    passes = 1 if task == "infer" else 3
    f = passes * 2 * T * B * 4 * H * (I + H)
    if task == "train_attn":
        f += passes * 2 * T * B * H * (H // 2) * 2
    return f / 1e9


#: issue 6's goals: (dtype, task) -> {config: speed-up over torch}
GOALS = {("float32", "train_attn"): dict(S1=3, S3=1.5, M1=1.0, M2=1.0, L1=1.1, L2=1.1),
         ("float64", "train_attn"): dict(S1=5, S3=3, M1=2, M2=2, L1=1.5, L2=1.5),
         ("float32", "infer"): dict(S1=3, S3=1.5, M1=1.0, M2=1.0, L1=1.1, L2=1.1)}


def goal_bounds(res, configs) -> list[str]:
    """Per goal: the time it allows (torch's median / the goal) against the time the task's
    matrix products alone take at this run's GEMM peak. A ratio below 1 means the goal
    cannot be met even with every product at peak and nothing else costing anything."""
    peak = res.get("gemm_peak", {})
    out = ["", "### What each goal allows against the products' time at GEMM peak", "",
           "allowed = torch ms / goal; at peak = the task's GEMM FLOPs / this run's GEMM peak "
           "(the element-wise work, the step loop and every overhead must fit in the "
           "difference); ours = our median. allowed / at peak < 1: out of reach on this "
           "machine for any implementation that does these products.", "",
           "| dtype | task | cfg | goal | allowed ms | products at peak ms | allowed / at peak "
           "| ours ms | met |", "|---|---|---|---|---|---|---|---|---|"]
    for (dtype, task), goals in GOALS.items():
        if dtype not in peak:
            continue
        for cfg in configs:
            t = res["timings"].get(cfg, {}).get(f"{dtype}/{task}", {})
            torch_ms, ours_ms = t.get("torch", {}).get("ms"), t.get("numba", {}).get("ms")
            if cfg not in goals or not torch_ms:
                continue
            allowed = torch_ms / goals[cfg]
            at_peak = task_gflop(cfg, task) / peak[dtype]["gflops"] * 1e3
            met = "yes" if ours_ms and ours_ms <= allowed else "no"
            out.append(f"| {dtype} | {task} | {cfg} | {goals[cfg]} | {fmt(allowed)} | "
                       f"{fmt(at_peak)} | {allowed / at_peak:.2f} | {fmt(ours_ms)} | {met} |")
    return out


def fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="S1,M1; 3 repeats; short samples")
    ap.add_argument("--configs", help="comma-separated, e.g. S1,M1 (default all; quick S1,M1)")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    ap.add_argument("--report", metavar="JSON", help="only print the table of a saved run")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "ARGS_JSON"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker_main(*a.worker)
        return 0
    if a.report:
        with open(a.report) as f:
            r = json.load(f)
        cols = [c for c in CONTENDERS if c != "onnx" or "onnx" not in r["unavailable"]]
        print(report(r, list(r["configs"]), TASKS, DTYPES, cols))
        return 0

    configs = (a.configs or ("S1,M1" if a.quick else ",".join(CONFIGS))).split(",")
    bad = [c for c in configs if c not in CONFIGS]
    if bad:
        ap.error(f"unknown configs {bad}; expected some of {list(CONFIGS)}")
    repeats = a.repeats or (3 if a.quick else 5)
    samples, min_time = (3, 0.01) if a.quick else (5, 0.05)
    timeout = 300 if a.quick else 900
    tasks, dtypes = a.tasks.split(","), a.dtypes.split(",")
    contenders = [c for c in a.contenders.split(",") if c in CONTENDERS]
    t_start = time.time()
    res = {"machine": machine_info(), "threads": a.threads, "quick": a.quick,
           "repeats": repeats, "samples": samples, "min_time_s": min_time,
           "configs": {c: dict(zip("TBIH", CONFIGS[c])) for c in configs},
           "unavailable": {}, "timings": {}, "validation": {},
           "loadavg": {"start": os.getloadavg()}}
    if "onnx" in contenders and importlib.util.find_spec("onnxruntime") is None:
        contenders.remove("onnx")
        res["unavailable"]["onnx"] = "onnxruntime is not installed (skipped)"
    base = {"threads": a.threads, "samples": samples, "min_time": min_time}

    log("# GEMM peak (numpy matmul 1024^3) ...")
    res["gemm_peak"] = run_worker("gemm", base, timeout)

    for cfg in configs:
        log(f"# {cfg} {CONFIGS[cfg]}: validation ...")
        backends = [c for c in ("numba", "numpy") if c in contenders]
        res["validation"][cfg] = run_worker("validate", {**base, "config": cfg, "tasks": tasks,
                                                         "dtypes": dtypes, "backends": backends},
                                            timeout)
        runs = {c: [] for c in contenders}
        for c in ("numba", "numpy"):
            res["unavailable"].pop(c, None)   # retried per config (kernels may land mid-run)
        for rep in range(repeats):
            order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
            for c in order:
                if c in res["unavailable"]:
                    continue
                r = run_worker("time", {**base, "contender": c, "config": cfg, "tasks": tasks,
                                        "dtypes": dtypes}, timeout)
                if "unavailable" in r:
                    res["unavailable"][c] = r["unavailable"]
                    res.setdefault("unavailable_by_config", {}).setdefault(cfg, {})[c] = r["unavailable"]
                    log(f"  {c}: unavailable: {r['unavailable']}")
                    continue
                if "error" in r:
                    log(f"  {c}: ERROR {r['error'][-300:]}")
                runs[c].append(r)
            log(f"  repeat {rep + 1}/{repeats} done ({time.time() - t_start:.0f} s, "
                f"load {os.getloadavg()[0]:.2f})")
        res["loadavg"][cfg] = os.getloadavg()
        cell = res["timings"][cfg] = {}
        for c, rs in runs.items():
            for r in rs:
                for key, m in r.items():
                    if isinstance(m, dict) and "ms" in m:
                        cell.setdefault(key, {}).setdefault(c, {"runs_ms": []})["runs_ms"].append(m["ms"])
            for key in cell:
                if c in cell[key]:
                    rr = cell[key][c]["runs_ms"]
                    cell[key][c].update(ms=statistics.median(rr), min_ms=min(rr),
                                        noisy=max(rr) > 1.5 * min(rr))
            errs = [r["error"] for r in rs if "error" in r]
            if errs:
                res.setdefault("errors", {}).setdefault(cfg, {})[c] = errs[0][-1500:]

    log("# peak RSS of one L1 float32 training step ...")
    res["memory_L1_float32_train"] = {
        c: run_worker("mem", {**base, "contender": c, "config": "L1", "dtype": "float32",
                              "task": "train"}, timeout)
        for c in ("numba", "numpy", "torch") if c in contenders}

    log("# numba JIT: cold cache, then warm cache in a new process ...")
    with tempfile.TemporaryDirectory(prefix="nongate_numba_cache_") as cache:
        res["jit"] = {w: run_worker("jit", base, timeout, NUMBA_CACHE_DIR=cache)
                      for w in ("cold_cache", "warm_cache")}

    log("# import time ...")
    res["import_time"] = import_time(3 if a.quick else 7, a.threads)
    res["wall_s"] = time.time() - t_start
    res["loadavg"]["end"] = os.getloadavg()

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(report(res, configs, tasks, dtypes, contenders))
    log(f"# raw results: {a.out}; wall {res['wall_s']:.0f} s")
    return 0


def report(res, configs, tasks, dtypes, contenders) -> str:
    m = res["machine"]
    out = [f"## nongate_np yardsticks ({'quick' if res['quick'] else 'full'} run)", "",
           f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; "
           + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
           + f"; threads {res['threads']}; OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}. "
           f"Medians of {res['repeats']} alternating runs (each a median of "
           f"{res['samples']} samples of >= {res['min_time_s'] * 1e3:.0f} ms).", ""]
    la = res.get("loadavg", {})
    # the end figure includes this run's own workers (2 busy threads): only the start
    # tells whether something else was running
    out.append(f"Load average (1 min) at start {la.get('start', [0])[0]:.2f}, at end "
               f"{la.get('end', [0])[0]:.2f} (this run's own workers included)"
               + (" — **the machine was busy with other work at the start; treat the times "
                  "as noisy**" if la.get('start', [0])[0] > 0.5 else "") + ".")
    out.append("")
    if "onnx" in res["unavailable"]:
        out.append(f"* **onnx unavailable**: {res['unavailable']['onnx']}")
    for cfg, d in res.get("unavailable_by_config", {}).items():
        for c, why in d.items():
            out.append(f"* **{c} unavailable for {cfg}**: {why}")
    out += ["", "Times in ms; ratio = torch ms / ours ms (> 1: we are faster); best = the same "
            "ratio of each contender's fastest repeat (less sensitive to the machine's slow "
            "phases, which hit every contender); onnx/ours = "
            "ONNX Runtime ms / ours ms. ok = ours agrees with torch (max abs diff relative to "
            "max(1, |torch|): <= 2e-3 f32, 1e-9 f64); WRONG = fast but disagrees, no ratio. "
            "⚠ = the repeats of that cell differ by > 1.5x (raw runs and minima in the JSON).",
            ""]
    ours = [c for c in ("numba", "numpy") if c in contenders]
    cols = [c for c in contenders]
    hdr = ["cfg", "dtype", "task"] + [f"{c} ms" for c in cols] + \
          [f"torch/{c}" for c in ours] + [f"torch/{c} best" for c in ours] + \
          (["onnx/" + ours[0]] if "onnx" in cols and ours else []) + \
          [f"{c} max diff (ok)" for c in ours]
    out += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for cfg in configs:
        cell, val = res["timings"].get(cfg, {}), res["validation"].get(cfg, {})
        for dtype in dtypes:
            for task in tasks:
                key = f"{dtype}/{task}"
                t = {c: cell.get(key, {}).get(c, {}).get("ms") for c in cols}
                fastest = {c: cell.get(key, {}).get(c, {}).get("min_ms") for c in cols}
                ok = {c: val.get(c, {}).get(key, {}) if isinstance(val.get(c), dict) else {}
                      for c in ours}
                noisy = {c: cell.get(key, {}).get(c, {}).get("noisy") for c in cols}
                row = [cfg, dtype, task] + [fmt(t[c]) + (" ⚠" if noisy[c] else "") for c in cols]
                for c in ours:
                    good = ok[c].get("ok", False)
                    row.append(fmt(t["torch"] / t[c]) if t.get("torch") and t[c] and good
                               else ("WRONG" if t[c] and ok[c] and not good else "–"))
                for c in ours:
                    good = ok[c].get("ok", False)
                    row.append(fmt(fastest["torch"] / fastest[c])
                               if fastest.get("torch") and fastest[c] and good else "–")
                if "onnx" in cols and ours:
                    best = next((c for c in ours if t[c]), None)
                    row.append(fmt(t["onnx"] / t[best]) if t.get("onnx") and best else "–")
                for c in ours:
                    d = ok[c]
                    row.append(f"{fmt(d['max_abs_diff'], 2)} ({'ok' if d['ok'] else 'FAIL: ' + str(d['worst'])})" if d
                               else ("unavail." if c in res.get("unavailable_by_config", {})
                                     .get(cfg, {}) else "–"))
                out.append("| " + " | ".join(row) + " |")
        if "error" in val:
            out.append(f"\nvalidation of {cfg} failed: {val['error']}\n")
    g = res.get("gemm_peak", {})
    out += ["", "### Training-step GFLOP/s vs GEMM peak (numpy matmul 1024³, same run)", ""]
    if "float32" in g:
        out.append(f"Peak: float32 {g['float32']['gflops']:.0f} GFLOP/s, "
                   f"float64 {g['float64']['gflops']:.0f} GFLOP/s.")
        who = ours + ["torch"]
        out += ["", "GFLOP/s (% of the peak of that dtype); FLOPs = 3 x LSTM GEMMs (+ attention "
                "projections).", "", "| cfg | dtype | task | " + " | ".join(who) + " |",
                "|---|---|---|" + "---|" * len(who)]
        for cfg in configs:
            for dtype in dtypes:
                for task in ("train", "train_attn"):
                    if task not in tasks:
                        continue
                    row = [cfg, dtype, task]
                    for c in who:
                        ms = res["timings"].get(cfg, {}).get(f"{dtype}/{task}", {}).get(c, {}).get("ms")
                        gf = task_gflop(cfg, task) / (ms * 1e-3) if ms else None
                        row.append(f"{gf:.1f} ({100 * gf / g[dtype]['gflops']:.0f} %)" if gf else "–")
                    out.append("| " + " | ".join(row) + " |")
        out += goal_bounds(res, configs)
    else:
        out.append(f"GEMM peak failed: {g}")
    out += ["", "### Peak memory, one L1 float32 training step (ru_maxrss delta, MiB)", ""]
    for c, r in res.get("memory_L1_float32_train", {}).items():
        out.append(f"* {c}: " + (f"first step +{r['delta_first_mib']:.0f}, after 3 steps "
                                 f"+{r['delta_3_mib']:.0f} (baseline {r['baseline_mib']:.0f})"
                                 if "delta_first_mib" in r else
                                 r.get("unavailable") or r.get("error", "?")[:300]))
    out += ["", "### Numba JIT (first call, ms)", ""]
    for w, r in res.get("jit", {}).items():
        if "float32" in r:
            out.append(f"* {w}: import kernels {r['import_ms']:.0f}; " + "; ".join(
                f"{d} first {r[d]['first_call_ms']:.0f}" + (
                    f" = S1 step {r[d]['small_sizes_ms']:.0f} + M1 step (threaded paths) "
                    f"{r[d]['threaded_ms']:.0f}" if "threaded_ms" in r[d] else "")
                + f" (second {r[d]['second_call_ms']:.2f})"
                for d in DTYPES) + (f" — {r['note']}" if "note" in r else ""))
        else:
            out.append(f"* {w}: {r.get('unavailable') or r.get('error', '?')[:300]}")
    it = res.get("import_time", {})
    if it:
        out += ["", f"### Import time: `import nongate_np` {it['nongate_np']['median_ms']:.0f} ms "
                f"median (bare interpreter {it['bare']['median_ms']:.0f} ms); numba imported "
                f"eagerly: {it['numba_imported_eagerly']}"]
    for cfg, errs in res.get("errors", {}).items():
        for c, e in errs.items():
            out.append(f"\n**error** {cfg}/{c}: {e[-400:]}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
