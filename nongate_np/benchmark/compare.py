"""Two saved runs side by side: a loaded-machine run against the idle one (issue 16).

The goal: beside another process's two-thread BLAS loop (``--load blas2``), each torch/ours
ratio at least ``configs.LOADED_GOAL`` (0.7) times its idle value. Per cell the table
gives both runs' times for torch and ours, both ratios, loaded / idle, and whether the
goal holds; two idle runs (or two loaded ones) are compared the same way, without the goal.
"""

from __future__ import annotations

from .configs import GOALS, LOADED_GOAL
from .report import OURS, fmt


def _load_kind(res: dict) -> str:
    # NOTE: runs saved before --load existed were idle runs
    return res.get("load", {}).get("kind", "none")


def _label(res: dict) -> str:
    m = res.get("machine", {})
    return (f"load {_load_kind(res)}, {'quick' if res.get('quick') else 'full'} run, "
            f"{m.get('cpu_llvm_name') or m.get('cpu') or '?'}")


def compare(run: dict, against: dict) -> str:
    """The Markdown comparison of ``run``'s torch/ours ratios with ``against``'s.

    Parameters
    ----------
    run, against : dict
        Saved runs with their ratios (``report.add_ratios``). When exactly one of them ran
        with a load, it is the "loaded" side and the other the "idle" one, whichever order
        they were given in; otherwise ``against`` is the baseline ("A") and ``run`` "B".

    Returns
    -------
    str
        A heading, the runs' descriptions, one row per (config, dtype, task, ours) both runs
        timed, and a summary line: how many of the goals' cells (``configs.GOALS``, ours on
        Numba, config in bold) meet the loaded goal, and the worst of them.
    """
    loaded_run, loaded_against = _load_kind(run) != "none", _load_kind(against) != "none"
    if loaded_against and not loaded_run:
        run, against = against, run
    with_goal = loaded_run != loaded_against
    a, b = ("idle", "loaded") if with_goal else ("A", "B")
    out = [f"## {b.capitalize() if with_goal else 'Run B'} against {a}"
           + (f" (goal: loaded ratio >= {LOADED_GOAL} x idle)" if with_goal else ""), "",
           f"* {a}: {_label(against)}", f"* {b}: {_label(run)}"]
    if run.get("load", {}).get("processes"):
        out.append(f"* the load: {run['load'].get('what', '?')}; " + ", ".join(
            f"{p.get('iterations')} iterations in {p.get('seconds') or 0:.0f} s"
            for p in run["load"]["processes"]))
    if (run.get("machine", {}).get("cpu") != against.get("machine", {}).get("cpu")):
        out.append("* **the two runs ran on different CPUs**: the ratios are not comparable")
    differ = [k for k in ("threads", "quick", "repeats") if run.get(k) != against.get(k)]
    if differ:
        out.append("* the runs differ in " + ", ".join(
            f"{k} ({against.get(k)} against {run.get(k)})" for k in differ))
    out.append("")
    hdr = ["cfg", "dtype", "task", "ours", f"torch ms {a}", f"torch ms {b}", f"ours ms {a}",
           f"ours ms {b}", f"ratio {a}", f"ratio {b}", f"{b}/{a}"]
    if with_goal:
        hdr.append(f">= {LOADED_GOAL}")
    out += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    # NOTE: the goal is about the goals' ratios (configs.GOALS); the other cells are shown
    met, worst, rows = 0, None, 0
    for cfg in run.get("configs", {}):
        if cfg not in against.get("configs", {}):
            continue
        for key in run.get("timings", {}).get(cfg, {}):
            ta = against.get("timings", {}).get(cfg, {}).get(key)
            tb = run["timings"][cfg][key]
            if not ta:
                continue
            for c in OURS:
                if c not in ta or c not in tb:
                    continue
                ra = against.get("ratios", {}).get(cfg, {}).get(key, {}).get(c, {}).get("ratio")
                rb = run.get("ratios", {}).get(cfg, {}).get(key, {}).get(c, {}).get("ratio")
                rel = rb / ra if ra and rb else None
                dtype, task = key.split("/")
                row = [cfg, dtype, task, c, fmt(ta.get("torch", {}).get("ms")),
                       fmt(tb.get("torch", {}).get("ms")), fmt(ta[c].get("ms")),
                       fmt(tb[c].get("ms")), fmt(ra), fmt(rb), fmt(rel, 2)]
                is_goal = c == "numba" and cfg in GOALS.get((dtype, task), {})
                if with_goal:
                    ok = rel is not None and rel >= LOADED_GOAL
                    row.append("–" if rel is None else "yes" if ok else
                               f"**no** ({100 * (LOADED_GOAL - rel) / LOADED_GOAL:.0f} % short)")
                if rel is not None and (is_goal or not with_goal):
                    rows += 1
                    met += rel >= LOADED_GOAL
                    if worst is None or rel < worst[0]:
                        worst = (rel, f"{cfg} {key} {c}")
                if is_goal:
                    row[0] = f"**{cfg}**"
                out.append("| " + " | ".join(row) + " |")
    out.append("")
    if not rows:
        out.append("No " + ("goal " if with_goal else "") + "cell has a ratio in both runs "
                   "(same configs, dtypes and tasks, torch and ours timed and checked?).")
    elif with_goal:
        out.append(f"Goal met in {met} of {rows} goal cells (config in **bold**: the cells of "
                   f"configs.GOALS, ours on Numba); the worst: {worst[1]} at "
                   f"{worst[0]:.2f} x its idle ratio.")
    else:
        out.append(f"{rows} cells; the lowest B/A: {worst[1]} at {worst[0]:.2f}.")
    return "\n".join(out)
