"""The benchmark's Markdown report, and the speed ratios it and the JSON file hold."""

from __future__ import annotations

from ..extras import install_hint
from .configs import (
    COMPILE_GOAL_S,
    GOALS,
    GRU_TASKS,
    NUMPY_GOALS,
    ONNX_GOALS,
    TASKS,
    task_gflop,
)
from .host import describe_record

OURS = ("numba", "numpy")
BENCH_HINT = install_hint("bench")


def add_ratios(res: dict) -> dict:
    """Store ``res["ratios"][config]["dtype/task"][ours] = {"ratio", "best", "checked", "ok"}``
    and return ``res``.

    ``ratio`` is torch's median ms / ours' median ms (> 1: ours is faster), ``best`` the same
    of each side's fastest repeat; both are None unless torch and ours were timed and ours
    passed the correctness gate (``ok``; ``checked`` False when there was no gate, e.g.
    without torch).
    """
    ratios = res["ratios"] = {}
    for cfg, cell in res.get("timings", {}).items():
        val = res.get("validation", {}).get(cfg, {})
        for key, times in cell.items():
            torch = times.get("torch", {})
            for c in OURS:
                mine = times.get(c)
                if mine is None:
                    continue
                gate = val.get(c, {}).get(key) if isinstance(val.get(c), dict) else None
                ok = bool(gate and gate.get("ok"))
                timed = bool(torch.get("ms") and mine.get("ms"))
                ratios.setdefault(cfg, {}).setdefault(key, {})[c] = {
                    "ratio": torch["ms"] / mine["ms"] if timed and ok else None,
                    "best": torch["min_ms"] / mine["min_ms"] if timed and ok else None,
                    "checked": gate is not None, "ok": ok if gate is not None else None}
    return res


def fmt(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}g}"


def report(res, configs, tasks, dtypes, contenders) -> str:
    """The Markdown report of one run (``res`` as :func:`run.measure_all` returns it)."""
    m = res["machine"]
    cpu = m["cpu"] + (f" ({m['cpu_llvm_name']}, {m['isa']})" if m.get("cpu_llvm_name") else "")
    kind = ("compile-only" if res.get("compile_only") else "quick" if res["quick"] else "full")
    busy = res.get("load", {}).get("kind", "none")
    out = [f"## nongate_np yardsticks ({kind} run"
           + (f", loaded machine: --load {busy}" if busy != "none" else "") + ")", "",
           f"Machine: {cpu}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}; "
           + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
           + f"; threads {res['threads']}; OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}"
           + "".join(f", {k}={v}" for k, v in m.get("isa_overrides", {}).items()) + "."
           + ("" if res.get("compile_only") else
              f" Medians of {res['repeats']} alternating runs (each a median of "
              f"{res['samples']} samples of >= {res['min_time_s'] * 1e3:.0f} ms)."), ""]
    out += _host_lines(res)
    la = res.get("loadavg", {})
    # the end figure includes this run's own workers (2 busy threads): only the start
    # tells whether something else was running
    out.append(f"Load average (1 min) at start {la.get('start', [0])[0]:.2f}, at end "
               f"{la.get('end', [0])[0]:.2f} (this run's own workers included)"
               + (" — **the machine was busy with other work at the start; treat the times "
                  "as noisy**" if la.get('start', [0])[0] > 0.5 and busy == "none" else "")
               + ".")
    out.append("")
    if res.get("compile_only"):
        return "\n".join(out + _jit_lines(res))
    if "onnx" in res["unavailable"]:
        out.append(f"* **onnx unavailable**: {res['unavailable']['onnx']}")
    if "torch" in res["unavailable"]:
        out.append(f"* **torch unavailable, so no ratios and no correctness check**: "
                   f"{res['unavailable']['torch']}. For the comparison: `{BENCH_HINT}`.")
    for cfg, d in res.get("unavailable_by_config", {}).items():
        for c, why in d.items():
            if c != "torch":
                out.append(f"* **{c} unavailable for {cfg}**: {why}")
    out += _skipped_lines(res)
    out += ["", "Times in ms; ratio = torch ms / ours ms (> 1: we are faster); best = the same "
            "ratio of each contender's fastest repeat (less sensitive to the machine's slow "
            "phases, which hit every contender); onnx/ours = "
            "ONNX Runtime ms / ours ms. max rel diff = max |ours - torch| / max(1, |torch|) "
            "over every output and gradient; ok = <= 2e-3 f32, 1e-9 f64; "
            "WRONG = fast but disagrees, no ratio. "
            "⚠ = the repeats of that cell differ by > 1.5x (raw runs and minima in the JSON).",
            ""]
    ours = [c for c in OURS if c in contenders]
    cols = list(contenders)
    ratios = res.get("ratios", {})
    hdr = ["cfg", "dtype", "task"] + [f"{c} ms" for c in cols] + \
          [f"torch/{c}" for c in ours] + [f"torch/{c} best" for c in ours] + \
          (["onnx/" + ours[0]] if "onnx" in cols and ours else []) + \
          [f"{c} max rel diff (ok)" for c in ours]
    out += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for cfg in configs:
        cell, val = res["timings"].get(cfg, {}), res["validation"].get(cfg, {})
        for dtype in dtypes:
            for task in tasks:
                key = f"{dtype}/{task}"
                t = {c: cell.get(key, {}).get(c, {}).get("ms") for c in cols}
                gate = {c: val.get(c, {}).get(key, {}) if isinstance(val.get(c), dict) else {}
                        for c in ours}
                rat = {c: ratios.get(cfg, {}).get(key, {}).get(c, {}) for c in ours}
                noisy = {c: cell.get(key, {}).get(c, {}).get("noisy") for c in cols}
                row = [cfg, dtype, task] + [fmt(t[c]) + (" ⚠" if noisy[c] else "") for c in cols]
                for c in ours:
                    row.append(fmt(rat[c].get("ratio")) if rat[c].get("ratio")
                               else ("WRONG" if t[c] and gate[c] and not gate[c].get("ok")
                                     else "–"))
                for c in ours:
                    row.append(fmt(rat[c].get("best")))
                if "onnx" in cols and ours:
                    best = next((c for c in ours if t[c]), None)
                    row.append(fmt(t["onnx"] / t[best]) if t.get("onnx") and best else "–")
                for c in ours:
                    row.append(_gate_cell(gate[c]) if gate[c]
                               else ("unavail." if c in res.get("unavailable_by_config", {})
                                     .get(cfg, {}) else "–"))
                out.append("| " + " | ".join(row) + " |")
        if "error" in val:
            out.append(f"\nvalidation of {cfg} failed: {val['error']}\n")
    if res["quick"]:
        out += _first_calls(res, configs, tasks, dtypes, cols)
    out += _gflops(res, configs, tasks, dtypes, ours)
    if "memory_L1_float32_train" in res:
        out += ["", "### Peak memory, one L1 float32 training step (ru_maxrss delta, MiB)", ""]
        for c, r in res["memory_L1_float32_train"].items():
            out.append(f"* {c}: " + (f"first step +{r['delta_first_mib']:.0f}, after 3 steps "
                                     f"+{r['delta_3_mib']:.0f} (baseline {r['baseline_mib']:.0f})"
                                     if "delta_first_mib" in r else
                                     r.get("unavailable") or r.get("error", "?")[:300]))
    out += _jit_lines(res)
    out += goal_lines(res, configs)
    it = res.get("import_time", {})
    if it:
        out += ["", f"### Import time: `import nongate_np` {it['nongate_np']['median_ms']:.0f} ms "
                f"median (bare interpreter {it['bare']['median_ms']:.0f} ms); numba imported "
                f"eagerly: {it['numba_imported_eagerly']}"]
    for cfg, errs in res.get("errors", {}).items():
        for c, e in errs.items():
            out.append(f"\n**error** {cfg}/{c}: {e[-400:]}")
    return "\n".join(out)


def _skipped_lines(res) -> list[str]:
    """One line per contender and reason: the cells it did not run (``res["skipped"]``:
    {config: {contender: {"dtype/task": reason}}}), e.g. ONNX Runtime's training tasks."""
    groups: dict = {}
    for cfg, per in res.get("skipped", {}).items():
        for c, why in per.items():
            for key, reason in why.items():
                dtype, task = key.split("/")
                g = groups.setdefault((c, reason), ({}, {}, {}))
                for d, v in zip(g, (task, dtype, cfg)):
                    d[v] = None
    out = []
    order = {t: i for i, t in enumerate(TASKS)}
    for (c, reason), (tasks, dtypes, cfgs) in groups.items():
        every = set(cfgs) >= set(res.get("configs", {}))
        out.append(f"* {c} skipped {', '.join(sorted(tasks, key=lambda t: order.get(t, 99)))}"
                   f" ({', '.join(sorted(dtypes))}; "
                   + ("every config" if every else ", ".join(cfgs)) + f"): {reason}")
    return out


def _jit_lines(res) -> list[str]:
    """The first calls with a cold and a warm Numba cache, and the compile goal per dtype."""
    if "jit" not in res:
        return []
    out = ["", "### Numba JIT (first call, ms)", ""]
    for w, r in res["jit"].items():
        dtypes = [d for d in ("float32", "float64") if d in r]
        if dtypes:
            out.append(f"* {w}: import kernels {r['import_ms']:.0f}; " + "; ".join(
                f"{d} first {r[d]['first_call_ms']:.0f}" + (
                    f" = S1 step {r[d]['small_sizes_ms']:.0f} + M1 step (threaded paths) "
                    f"{r[d]['threaded_ms']:.0f}" if "threaded_ms" in r[d] else "")
                + f" (second {r[d]['second_call_ms']:.2f})"
                for d in dtypes) + (f" — {r['note']}" if "note" in r else ""))
        else:
            out.append(f"* {w}: {r.get('unavailable') or r.get('error', '?')[:300]}")
    cold = res["jit"].get("cold_cache", {})
    for d in ("float32", "float64"):
        if d in cold:
            s = cold[d]["first_call_ms"] / 1e3
            out.append(f"* goal: cold compile {d} {s:.1f} s <= {COMPILE_GOAL_S:g} s: "
                       + ("met" if s <= COMPILE_GOAL_S else
                          f"**missed** by {s - COMPILE_GOAL_S:.1f} s "
                          f"({s / COMPILE_GOAL_S:.2f}x the goal)"))
    return out


def _verdict(value: float | None, goal: float) -> str:
    """"met" or "missed by N %" (how far ``value`` falls short of ``goal``)."""
    if value is None:
        return "–"
    return "met" if value >= goal else f"**missed** by {100 * (goal - value) / goal:.0f} %"


def goal_lines(res, configs) -> list[str]:
    """Each of issue 16's speed goals this run measured: the ratio, the goal, met or missed
    by how much (a goal counts when two full runs meet it, on each host)."""
    rows = goal_values(res, configs)
    if not rows:
        return []
    out = ["", "### The speed goals in this run (bench/RESULTS.md)", "",
           "A goal counts when two full runs on a host meet it; a quick or loaded run is a "
           "check, not a verdict.", "", "| goal | this run | at least | |", "|---|---|---|---|"]
    out += [f"| {name} | {fmt(v)} | {g:g} | {_verdict(v, g)} |" for name, v, g in rows]
    return out


def goal_values(res, configs) -> list[tuple[str, float | None, float]]:
    """(goal's name, this run's value, the goal) for each of issue 16's speed goals the run
    ``res`` measured on ``configs``: torch/ours (configs.GOALS), ONNX Runtime/ours
    (ONNX_GOALS) and the NumPy backend/ours (NUMPY_GOALS)."""
    rows: list[tuple[str, float | None, float]] = []
    timings = res.get("timings", {})
    for (dtype, task), goals in GOALS.items():
        for cfg in configs:
            if cfg in goals and f"{dtype}/{task}" in timings.get(cfg, {}):
                r = res.get("ratios", {}).get(cfg, {}).get(f"{dtype}/{task}", {})
                ratio = r.get("numba", {}).get("ratio")
                rows.append((f"torch/ours {dtype} {task} {cfg}", ratio, goals[cfg]))
    for (dtype, task), goals in ONNX_GOALS.items():
        for cfg in configs:
            t = timings.get(cfg, {}).get(f"{dtype}/{task}", {})
            if cfg in goals and "onnx" in t and t.get("numba", {}).get("ms"):
                rows.append((f"onnx/ours {dtype} {task} {cfg}",
                             t["onnx"]["ms"] / t["numba"]["ms"], goals[cfg]))
    for cfg, goal in NUMPY_GOALS.items():
        for key, t in timings.get(cfg, {}).items():
            if key.split("/")[1] in GRU_TASKS:
                continue                   # no goals for the GRU
            if t.get("numpy", {}).get("ms") and t.get("numba", {}).get("ms"):
                rows.append((f"numpy backend/ours {key.replace('/', ' ')} {cfg}",
                             t["numpy"]["ms"] / t["numba"]["ms"], goal))
    return rows


def _host_lines(res) -> list[str]:
    """What each contender's worker loaded, and the load, under the header's machine line."""
    out = []
    busy = res.get("load", {})
    if busy.get("kind", "none") != "none":
        procs = busy.get("processes", [])
        out.append(f"**Loaded machine** (--load {busy['kind']}): {busy.get('what', '?')}, "
                   "running from before the first worker to after the last"
                   + (" (" + ", ".join(f"{p.get('iterations')} iterations in "
                                      f"{p.get('seconds') or 0:.0f} s" for p in procs) + ")"
                      if procs else "") + ".")
        out.append("")
    hosts = {c: r for c, r in res.get("host", {}).items() if r}
    if hosts:
        out += ["Libraries each worker loaded (version, OpenBLAS core, threads outside a "
                "kernel):", ""]
        out += [f"* {c}: {describe_record(r)}" for c, r in hosts.items()]
        out.append("")
    return out


def _first_calls(res, configs, tasks, dtypes, cols) -> list[str]:
    """The first call of each cell in a fresh worker (median over the repeats)."""
    out = ["", "### First call in a fresh process (ms)", "",
           "Each worker measures the cells in this order; for ours the first call of a cell "
           "loads from the Numba cache (or compiles, when the cache is cold) the kernels no "
           "earlier cell needed. The correctness check ran before, so the cache is warm "
           "unless caching is off.", "",
           "| cfg | dtype | task | " + " | ".join(cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
    for cfg in configs:
        for dtype in dtypes:
            for task in tasks:
                cell = res["timings"].get(cfg, {}).get(f"{dtype}/{task}", {})
                out.append(f"| {cfg} | {dtype} | {task} | "
                           + " | ".join(fmt(cell.get(c, {}).get("first_ms")) for c in cols) + " |")
    return out


def _gflops(res, configs, tasks, dtypes, ours) -> list[str]:
    g = res.get("gemm_peak", {})
    out = ["", "### Training-step GFLOP/s vs GEMM peak (numpy matmul 1024³, same run)", ""]
    peaks = [d for d in dtypes if d in g]
    if not peaks:
        return out + [f"GEMM peak failed: {g}"]
    out.append("Peak: " + ", ".join(f"{d} {g[d]['gflops']:.0f} GFLOP/s" for d in peaks) + ".")
    who = ours + ["torch"]
    out += ["", "GFLOP/s (% of the peak of that dtype); FLOPs = 3 x the LSTM's GEMMs (+ "
            "attention projections), or the GRU's (3H gates, gru_train).", "",
            "| cfg | dtype | task | " + " | ".join(who) + " |",
            "|---|---|---|" + "---|" * len(who)]
    for cfg in configs:
        for dtype in peaks:
            for task in ("train", "train_attn", "gru_train"):
                if task not in tasks:
                    continue
                row = [cfg, dtype, task]
                for c in who:
                    cell = res["timings"].get(cfg, {}).get(f"{dtype}/{task}", {})
                    ms = cell.get(c, {}).get("ms")
                    gf = task_gflop(cfg, task) / (ms * 1e-3) if ms else None
                    row.append(f"{gf:.1f} ({100 * gf / g[dtype]['gflops']:.0f} %)" if gf else "–")
                out.append("| " + " | ".join(row) + " |")
    return out + goal_bounds(res, configs)


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


def _gate_cell(d: dict) -> str:
    """The correctness gate's cell: the relative difference it judged, and its verdict."""
    diff = d.get("max_abs_diff")
    rel = None if diff is None else diff / d.get("scale", 1.0)
    return f"{fmt(rel, 2)} ({'ok' if d['ok'] else 'FAIL: ' + str(d['worst'])})"
