"""The benchmark's parent process: options, the order of the worker processes, the results.

What is measured, per configuration (``configs.CONFIGS``: T, B, I, H) and dtype:

* ``infer``      LSTM forward under no_grad;
* ``train``      zero grads + LSTM forward + ``out.sum().backward()`` (gradients of the
                 parameters and of the input);
* ``train_attn`` the same through LSTM + gated attention pooling (attention size H/2, one
                 query, loss = ``pooled.sum()``);
* ``gru_infer``, ``gru_train``: ``infer`` and ``train`` with a GRU (``nn.GRU``, one layer,
                 one direction) in the LSTM's place. Only when ``--tasks`` names them (a
                 full run's default is the LSTM's three). Ours' GRU runs its Numba kernels
                 on "numba" and its NumPy reference kernels on "numpy"; no goals,

for the contenders ``numba`` (ours, backend "numba"), ``numpy`` (ours, backend "numpy"),
``torch`` (PyTorch CPU, same weights and data; the gated attention in torch ops) and
``onnx`` (ONNX Runtime, float32 inference only, torch's LSTM and GRU exported with
``dynamo=False``; skipped when onnxruntime is not installed). A contender that cannot run
here (no torch, a backend raising BackendUnavailable) is reported as unavailable; a task
one does not run (ONNX Runtime's training, float64, an export that fails) is recorded
with its reason under ``skipped``.

Method:

* Threads: the same count for everyone (``--threads``, default 2): OMP/OPENBLAS/MKL/
  NUMBA_NUM_THREADS are set in each worker's environment before it starts (so before numpy
  and torch are imported), torch also gets ``torch.set_num_threads`` and ONNX Runtime
  ``intra_op_num_threads``. One fixed count keeps the comparison "same resources".
* Every thread pool here busy-waits after a call, so two pools in one process steal each
  other's core: **each contender runs in its own subprocess**, one process per (contender,
  config, repeat) in a full run, one per (contender, repeat) covering all configs in a
  quick run.
* Inside a worker: one warm-up call, then ``samples`` samples, each an inner loop of at
  least ``min_time`` seconds; the worker reports the median per call. The parent runs the
  contenders **alternately** (the order rotates each repeat) and reports the **median over
  repeats**. Differences under ~15 % are noise on a shared 2-core machine.
* Correctness gate: a separate process compares ours (each backend measured) with torch on
  torch's own weights: outputs and every gradient, the LSTM's and the GRU's; the max abs
  diff (relative to max(1, |ref|)) must be <= 2e-3 (float32) / 1e-9 (float64). A failing
  cell is flagged and gets no ratio. Without torch there is no gate and no ratio.
* Full run only: the peak RSS (ru_maxrss delta) of one L1 float32 training step, the cold
  Numba compile of every kernel per dtype (each in a new process with its own fresh
  NUMBA_CACHE_DIR; an S1 training + attention step for the serial paths, then an M1 one
  for the threaded ones) and the same first calls in another new process with that cache
  warm.
* Quick run only: each cell's first call in a fresh worker (for ours: the kernels loaded
  from the Numba cache, or compiled if it is cold).
* Every run: numpy's matmul 1024³ GFLOP/s (the GEMM peak) and the training steps' GFLOP/s
  against it (FLOPs from ``configs.task_gflop``); ``import nongate_np`` time (median of 7
  fresh subprocesses, one in a quick run).
* The host (:mod:`.host`): the CPU, and per contender the BLAS and OpenMP libraries its
  worker loaded (version, OpenBLAS core type, threads), for ours the library the kernels'
  products call, for torch its CPU capability and oneDNN; printed in the report's header.
* ``--load blas2`` / ``spin2`` (:mod:`.load`): the loaded-machine run, another process
  keeping the cores busy from before the first worker to after the last;
  ``--against IDLE.json`` compares its ratios with an idle run's (:mod:`.compare`).
* ``--compile-only``: the cold and warm compile alone, per dtype (``--dtypes``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import site
import statistics
import subprocess
import sys
import tempfile
import time

from . import load
from .compare import compare
from .configs import CONFIGS, CONTENDERS, DTYPES, FULL, GRU_TASKS, QUICK, TASKS, THREAD_VARS
from .host import machine_info
from .report import BENCH_HINT, add_ratios, report

#: the folder holding the nongate_np package this code was imported from
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- options ----------------------------------------------------------------------------------
def name_list(valid):
    """An argparse type: a comma-separated list of names, each one of ``valid``."""
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in valid]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(valid)}; got {text!r}")
        return names
    return parse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser, default_out: str | None = None) -> None:
    """Add the benchmark's options to ``parser`` (``nongate-np bench`` and ``bench/run.py``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A parser or subparser; :func:`run` takes the namespace it parses.
    default_out : str or None
        Where the raw results (JSON) go without ``--out``; None: not saved.
    """
    q = QUICK
    parser.add_argument("--quick", action="store_true",
                        help=f"about 20 s (a first run's compile: 10 s more): "
                             f"{','.join(q['configs'])}, {','.join(q['dtypes'])}, "
                             f"{' and '.join(q['tasks'])}, "
                             f"{' vs '.join(q['contenders'])}, {q['repeats']} repeats, "
                             "short samples, no memory or cold-compile measurement")
    parser.add_argument("--configs", type=name_list(CONFIGS), metavar="LIST",
                        help=f"comma-separated, of {','.join(CONFIGS)} (sizes T, B, I, H: "
                             + "; ".join(f"{k} {v}" for k, v in CONFIGS.items())
                             + f"; default all, quick {','.join(q['configs'])})")
    parser.add_argument("--contenders", type=name_list(CONTENDERS), metavar="LIST",
                        help=f"of {','.join(CONTENDERS)} (default all, quick "
                             f"{','.join(q['contenders'])})")
    parser.add_argument("--tasks", type=name_list(TASKS), metavar="LIST",
                        help=f"of {','.join(TASKS)} (default {','.join(FULL['tasks'])}, "
                             f"quick {','.join(q['tasks'])}; the GRU's "
                             f"{','.join(GRU_TASKS)} run only when named here, e.g. "
                             f"--tasks {','.join(GRU_TASKS)}; no goals for the GRU)")
    parser.add_argument("--dtypes", type=name_list(DTYPES), metavar="LIST",
                        help=f"of {','.join(DTYPES)} "
                             f"(default both, quick {','.join(q['dtypes'])})")
    parser.add_argument("--repeats", type=positive_int, metavar="N",
                        help=f"alternating runs per contender (default {FULL['repeats']}, "
                             f"quick {q['repeats']})")
    parser.add_argument("--threads", type=positive_int, default=2, metavar="N",
                        help="threads for every contender (default 2)")
    parser.add_argument("--out", metavar="JSON", default=default_out,
                        help="write the raw results here (default: "
                             + (default_out or "not saved") + ")")
    parser.add_argument("--report", metavar="JSON",
                        help="only print the tables of a saved run")
    parser.add_argument("--load", choices=tuple(load.LOADS), default="none",
                        help="the loaded-machine run: for the whole measurement another "
                             "process keeps the cores busy; blas2: "
                             + load.LOADS["blas2"] + "; spin2: " + load.LOADS["spin2"]
                             + " (default none)")
    parser.add_argument("--against", metavar="JSON",
                        help="after the tables (of this run, or of --report's), compare its "
                             "torch/ours ratios cell by cell with this saved run's (the idle "
                             "one): both ratios, loaded/idle, and whether >= the 0.7 goal")
    parser.add_argument("--compile-only", action="store_true",
                        help="measure only the cold compile (fresh Numba cache) and the warm "
                             "first call, per dtype, against the 10 s goal; nothing else")


def build_parser(default_out: str | None = None, prog: str | None = None
                 ) -> argparse.ArgumentParser:
    """The benchmark's own parser (``python -m nongate_np.benchmark``, ``bench/run.py``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Time nongate_np's LSTM (and, with --tasks gru_infer,gru_train, its GRU) "
                    "against PyTorch CPU (and ONNX Runtime) on the same model, weights and "
                    "data, each contender in its own process.")
    add_arguments(parser, default_out)
    return parser


def main(argv: list[str] | None = None, *, default_out: str | None = None,
         prog: str | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The options (``--quick``, ``--configs S1,M1``, ...; see :func:`add_arguments`).
    default_out : str, optional
        Where the raw results go without ``--out`` (default: not saved).
    prog : str, optional
        The command's name in usage and error lines, e.g. ``"nongate-np bench"``.

    Returns
    -------
    int
        0, or 2 after a one-line error on stderr when ``--report``'s file cannot be read or
        ``--out``'s folder cannot be written. Bad options exit with status 2 and argparse's
        one-line error (``SystemExit``).
    """
    parser = build_parser(default_out, prog)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except BenchmarkError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2


# -- workers ----------------------------------------------------------------------------------
def worker_env(threads: int, **extra) -> dict:
    """The environment of a worker: the thread counts, and where to find this package."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    # a checkout run without installing (bench/run.py) finds the package through
    # sys.path; a worker needs it on PYTHONPATH. An installed one is found anyway.
    site_dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    if _PACKAGE_PARENT not in site_dirs:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT,
                                                        env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def run_worker(kind: str, args: dict, timeout: float, cwd: str, **env_extra) -> dict:
    """Run one worker (``python -m nongate_np.benchmark --worker KIND ARGS``); its JSON
    result, or ``{"error": ...}`` when it failed or timed out."""
    cmd = [sys.executable, "-m", "nongate_np.benchmark", "--worker", kind, json.dumps(args)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                           env=worker_env(args.get("threads", 2), **env_extra))
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        return {"error": f"exit {p.returncode}: {p.stderr[-1500:]}"}
    return json.loads(lines[-1])


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def import_time(n: int, threads: int, cwd: str) -> dict:
    res = {}
    for label, code in (("bare", "pass"), ("nongate_np", "import nongate_np"),
                        ("nongate_np_numba_loaded", "import nongate_np, sys; "
                         "assert 'numba' not in sys.modules")):
        ts, ok = [], True
        for _ in range(n):
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                               env=worker_env(threads))
            ts.append((time.perf_counter() - t) * 1e3)
            ok = ok and p.returncode == 0
        res[label] = {"median_ms": statistics.median(ts), "min_ms": min(ts), "ok": ok}
    res["numba_imported_eagerly"] = not res.pop("nongate_np_numba_loaded")["ok"]
    return res


# -- the run ----------------------------------------------------------------------------------
class BenchmarkError(ValueError):
    """An option that cannot be used (``--report`` or ``--against`` unreadable, ``--out``
    unwritable, a load that does not start)."""


def _read_run(option: str, path: str) -> dict:
    """A saved run (``--report``, ``--against``), its ratios recomputed."""
    try:
        with open(path) as f:
            r = json.load(f)
        list(r["configs"]), r["machine"], r["timings"]
        return add_ratios(r)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BenchmarkError(f"{option} {path}: cannot read a saved run ({err})") from err


def run(args: argparse.Namespace) -> int:
    """Run the benchmark the options in ``args`` (from :func:`add_arguments`) describe.

    Prints the Markdown report on stdout and progress on stderr; writes the raw results to
    ``args.out`` (JSON) unless it is None. Returns 0.

    Raises
    ------
    BenchmarkError
        (a ValueError) when ``--report``'s file cannot be read or ``--out``'s folder cannot
        be created or written, before anything is measured.
    """
    against = _read_run("--against", args.against) if args.against else None
    if args.report:
        r = _read_run("--report", args.report)
        configs = list(r["configs"])
        tasks, dtypes = r.get("tasks", FULL["tasks"]), r.get("dtypes", DTYPES)
        cols = r.get("contenders") or [c for c in CONTENDERS
                                       if c != "onnx" or "onnx" not in r["unavailable"]]
        print(report(r, configs, tasks, dtypes, cols))
        if against is not None:
            print("\n" + compare(r, against))
        return 0
    if args.out:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        except OSError as err:
            raise BenchmarkError(f"--out {args.out}: cannot create its folder ({err})") from err
        if not os.access(os.path.dirname(os.path.abspath(args.out)), os.W_OK):
            raise BenchmarkError(f"--out {args.out}: its folder is not writable")
    try:
        # NOTE: workers start in an empty folder, so no nongate_np folder in the caller's
        # current directory shadows the package being measured
        with load.sigterm_unwinds(), \
                tempfile.TemporaryDirectory(prefix="nongate_bench_") as cwd, \
                load.background(args.load) as busy:
            if busy["pids"]:
                log(f"# load {args.load}: {busy['what']}, pids {busy['pids']}")
            res = measure_all(args, cwd, busy)
    except load.LoadError as err:
        raise BenchmarkError(f"--load {args.load}: {err}") from err
    if busy["processes"]:
        log("# load stopped: " + ", ".join(
            f"pid {p['pid']} ran {p['iterations']} iterations in {p['seconds'] or 0:.0f} s"
            for p in busy["processes"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    print(report(res, res["configs"], res["tasks"], res["dtypes"], res["contenders"]))
    if against is not None:
        print("\n" + compare(res, against))
    log(f"# raw results: {args.out or 'not saved (--out FILE keeps them)'}; "
        f"wall {res['wall_s']:.0f} s")
    return 0


def measure_all(args: argparse.Namespace, cwd: str, busy: dict | None = None) -> dict:
    """Every measurement of one run, as the dict the report and the JSON file hold;
    ``busy`` is the load's record (:func:`load.background`), kept as ``res["load"]``."""
    plan = QUICK if args.quick else FULL
    compile_only = getattr(args, "compile_only", False)
    configs = [] if compile_only else args.configs or list(plan["configs"])
    tasks, dtypes = args.tasks or list(plan["tasks"]), args.dtypes or list(plan["dtypes"])
    contenders = list(args.contenders or plan["contenders"])
    repeats, samples, min_time = args.repeats or plan["repeats"], plan["samples"], plan["min_time"]
    timeout = 300 if args.quick else 900
    t_start = time.time()
    res = {"machine": machine_info(), "threads": args.threads, "quick": args.quick,
           "repeats": repeats, "samples": samples, "min_time_s": min_time,
           "configs": {c: dict(zip("TBIH", CONFIGS[c])) for c in configs},
           "tasks": tasks, "dtypes": dtypes, "unavailable": {}, "skipped": {}, "timings": {},
           "validation": {}, "loadavg": {"start": os.getloadavg()},
           "load": busy or {"kind": "none"}, "compile_only": compile_only, "host": {}}
    if "onnx" in contenders and importlib.util.find_spec("onnxruntime") is None:
        contenders.remove("onnx")
        res["unavailable"]["onnx"] = "onnxruntime is not installed (skipped)"
    res["contenders"] = contenders
    base = {"threads": args.threads, "samples": samples, "min_time": min_time}

    if compile_only:
        _measure_jit(res, base, dtypes, timeout, cwd, t_start)
        res["wall_s"] = time.time() - t_start
        res["loadavg"]["end"] = os.getloadavg()
        return add_ratios(res)

    log(f"# GEMM peak (numpy matmul 1024^3) ... ({time.time() - t_start:.0f} s)")
    res["gemm_peak"] = run_worker("gemm", {**base, "dtypes": dtypes}, timeout, cwd)
    res["host"]["gemm (numpy)"] = res["gemm_peak"].pop("host", None)

    # a full run measures one config per worker, a quick one all configs in each worker
    # (one process start per contender and repeat instead of one per config as well)
    groups = [configs] if args.quick else [[c] for c in configs]
    ours = [c for c in ("numba", "numpy") if c in contenders]
    for group in groups:
        log(f"# {','.join(group)}: correctness against torch ... ({time.time() - t_start:.0f} s)")
        val = run_worker("validate", {**base, "configs": group, "tasks": tasks,
                                      "dtypes": dtypes, "backends": ours}, timeout, cwd)
        failed = "error" in val or "unavailable" in val
        for cfg in group:
            res["validation"][cfg] = val if failed else val.get(cfg, {})
        if "unavailable" in val:
            log(f"  no check against torch: {val['unavailable']}")
        runs = {c: [] for c in contenders}
        for c in ours:
            res["unavailable"].pop(c, None)   # retried per config (kernels may land mid-run)
        for rep in range(repeats):
            order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
            for c in order:
                if c in res["unavailable"]:
                    continue
                r = run_worker("time", {**base, "contender": c, "configs": group,
                                        "tasks": tasks, "dtypes": dtypes}, timeout, cwd)
                if "unavailable" in r:
                    res["unavailable"][c] = r["unavailable"]
                    for cfg in group:
                        missing = res.setdefault("unavailable_by_config", {})
                        missing.setdefault(cfg, {})[c] = r["unavailable"]
                    log(f"  {c}: unavailable: {r['unavailable']}"
                        + (f" (for the comparison: {BENCH_HINT})" if c == "torch" else ""))
                    continue
                for cfg, why in r.pop("skipped", {}).items():
                    for key, reason in why.items():
                        res["skipped"].setdefault(cfg, {}).setdefault(c, {})[key] = reason
                if "error" in r:
                    log(f"  {c}: ERROR {r['error'][-300:]}")
                elif c not in res["host"]:
                    res["host"][c] = r.get("host")
                runs[c].append(r)
            log(f"  repeat {rep + 1}/{repeats} done ({time.time() - t_start:.0f} s, "
                f"load {os.getloadavg()[0]:.2f})")
        for cfg in group:
            res["loadavg"][cfg] = os.getloadavg()
            res["timings"][cfg] = _medians(cfg, runs)
            for c, rs in runs.items():
                errs = [r["error"] for r in rs if "error" in r]
                if errs:
                    res.setdefault("errors", {}).setdefault(cfg, {})[c] = errs[0][-1500:]

    if not args.quick:
        log(f"# peak RSS of one L1 float32 training step ... ({time.time() - t_start:.0f} s)")
        res["memory_L1_float32_train"] = {
            c: run_worker("mem", {**base, "contender": c, "config": "L1", "dtype": "float32",
                                  "task": "train"}, timeout, cwd)
            for c in ("numba", "numpy", "torch") if c in contenders}
        _measure_jit(res, base, dtypes, timeout, cwd, t_start)

    log(f"# import time ... ({time.time() - t_start:.0f} s)")
    res["import_time"] = import_time(1 if args.quick else 7, args.threads, cwd)
    res["wall_s"] = time.time() - t_start
    res["loadavg"]["end"] = os.getloadavg()
    return add_ratios(res)


def _measure_jit(res: dict, base: dict, dtypes: list, timeout: float, cwd: str,
                 t_start: float) -> None:
    """``res["jit"]``: per dtype, the first calls in a new process with a fresh Numba cache
    (``cold_cache``), then in another new process with that cache warm (``warm_cache``).

    Each dtype gets its own fresh cache and processes: a model uses one dtype, so its first
    run pays Numba's own start-up and every kernel it needs, nothing compiled for the other.
    """
    log(f"# numba JIT: cold cache, then warm cache in a new process, per dtype ... "
        f"({time.time() - t_start:.0f} s)")
    res["jit"] = {"cold_cache": {}, "warm_cache": {}}
    for dtype in dtypes:
        with tempfile.TemporaryDirectory(prefix="nongate_numba_cache_") as cache:
            for w in ("cold_cache", "warm_cache"):
                r = run_worker("jit", {**base, "dtypes": [dtype]}, timeout, cwd,
                               NUMBA_CACHE_DIR=cache)
                if w == "cold_cache":
                    res["host"].setdefault("numba", r.get("host"))
                r.pop("host", None)
                r.pop("cache_dir", None)             # a temporary folder, gone
                # NOTE: one dict per cache state, as before: import_ms of the first dtype,
                # an error or "unavailable" of any
                for key, value in r.items():
                    res["jit"][w].setdefault(key, value)


def _medians(cfg: str, runs: dict) -> dict:
    """{"dtype/task": {contender: {runs_ms, ms, min_ms, noisy, first_runs_ms, first_ms}}}
    of one config from every repeat's worker result."""
    cell: dict = {}
    for c, rs in runs.items():
        for r in rs:
            for key, m in r.get(cfg, {}).items():
                entry = cell.setdefault(key, {}).setdefault(
                    c, {"runs_ms": [], "first_runs_ms": []})
                entry["runs_ms"].append(m["ms"])
                entry["first_runs_ms"].append(m["first_ms"])
    for per_contender in cell.values():
        for entry in per_contender.values():
            rr = entry["runs_ms"]
            entry.update(ms=statistics.median(rr), min_ms=min(rr), noisy=max(rr) > 1.5 * min(rr),
                         first_ms=statistics.median(entry["first_runs_ms"]))
    return cell
