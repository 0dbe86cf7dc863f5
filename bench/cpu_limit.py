"""Ours and PyTorch under a container's CPU limit: each with its default thread count, and
each on one thread, in a cgroup limited to ``--cpus`` CPUs (what ``docker run --cpus``
imposes). Needs root, a mounted cgroup CPU controller (``nongate_np.benchmark.cgroup``) and
torch (``pip install -e '.[bench]'``).

    sudo .venv/bin/python bench/cpu_limit.py               # about 4 minutes; prints markdown
    sudo .venv/bin/python bench/cpu_limit.py --out r.json  # and writes the raw figures

Each cell is the mean time per call over ``--seconds`` of calls (not a median of short
samples: under a limit, Linux stops the group's threads for the rest of each 100 ms
period once they have used its quota, and a median of samples shorter than a period would
leave those stops out). In the one-thread runs every library's thread variables are 1, as
``bench/run.py`` sets them; in the default runs none is set and each library picks its own
count (ours: the cores the process may use, the limit counted; torch: its own default).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))                 # this checkout's package, installed or not

from nongate_np.benchmark.configs import CONFIGS  # noqa: E402
from nongate_np.benchmark.run import name_list, positive_int  # noqa: E402

TASKS = ("infer", "train_attn")


def worker(who: str, threads: int, configs: list[str], dtype: str, seconds: float) -> dict:
    """Mean ms per call of each task and config, in this process (threads 0: defaults)."""
    from nongate_np.benchmark import workers
    if who == "ours":
        from nongate_np.kernels.cpu.threads import num_threads
        used = num_threads()
    else:
        import torch
        used = threads or torch.get_num_threads()
    out = {"threads": used}
    for cfg in configs:
        steps = (workers.ours_steps(cfg, dtype)[0] if who == "ours"
                 else workers.torch_steps(cfg, dtype, threads=used)[0])
        for task in TASKS:
            fn = steps[task]
            for _ in range(3):
                fn()                            # compile, allocate, start the pools
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds or calls < 5:
                fn()
                calls += 1
            out[f"{cfg} {task}"] = 1e3 * (time.perf_counter() - start) / calls
    return out


def launch(procs: str | None, who: str, threads: int, args) -> dict:
    """Run one worker, in the limited group when ``procs`` is its cgroup.procs file."""
    from nongate_np.benchmark.configs import THREAD_VARS
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads:
        env.update({k: str(threads) for k in THREAD_VARS})
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, __file__, "--worker", who, str(threads), "--configs",
           ",".join(args.configs), "--dtype", args.dtype, "--seconds", str(args.seconds)]
    if procs is not None:       # the child moves itself into the group before Python starts
        cmd = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode:
        sys.exit(f"bench/cpu_limit.py: {who} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def _thread_counts(text: str) -> list[int]:
    try:
        counts = [int(n) for n in text.split(",")]
    except ValueError:
        counts = [-1]
    if not counts or min(counts) < 0:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated thread counts >= 0 (0: the default); got {text!r}")
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--cpus", type=_positive_float, default=1.0,
                        help="the limit, in CPUs (default 1)")
    parser.add_argument("--configs", type=name_list(CONFIGS), default=["S3", "M1", "M2"],
                        metavar="LIST", help="sizes, comma-separated (default S3,M1,M2)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seconds", type=_positive_float, default=3.0,
                        help="time per cell, many 100 ms periods long (default 3)")
    parser.add_argument("--rounds", type=positive_int, default=2, help="default 2")
    parser.add_argument("--threads", type=_thread_counts, default=[0, 1], metavar="LIST",
                        help="thread counts to run, comma-separated, 0: each library's "
                             "default (default 0,1)")
    parser.add_argument("--out", help="write the raw figures here (JSON)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.configs,
                                args.dtype, args.seconds)))
        return 0
    if importlib.util.find_spec("torch") is None:
        sys.exit("bench/cpu_limit.py: needs PyTorch, the other contender: "
                 "pip install -e '.[bench]' (torch==2.13.0, CPU build)")
    from nongate_np.benchmark.cgroup import CgroupError, cpu_limited
    from nongate_np.benchmark.host import machine_info
    res = {"machine": machine_info(), "cpus": args.cpus, "dtype": args.dtype,
           "seconds": args.seconds, "rounds": []}
    try:
        with cpu_limited(args.cpus) as procs:
            for _ in range(args.rounds):        # alternated: the host's speed drifts
                res["rounds"].append({f"{who} {threads or 'default'}":
                                      launch(procs, who, threads, args)
                                      for who in ("ours", "torch") for threads in args.threads})
    except CgroupError as e:
        sys.exit(f"bench/cpu_limit.py: {e}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(report(res))
    return 0


def _column(run: str, threads: int) -> str:
    """"ours default" run on 2 threads -> "ours, default (2 threads)"; "torch 1" ->
    "torch, 1 thread"."""
    who, count = run.split(" ", 1)
    plural = "" if threads == 1 else "s"
    return f"{who}, default ({threads} thread{plural})" if count == "default" else \
        f"{who}, {threads} thread{plural}"


def report(res: dict) -> str:
    m = res["machine"]
    runs = list(res["rounds"][0])
    ratio = "ours default" in runs and "torch default" in runs
    head = [_column(r, res["rounds"][0][r]["threads"]) for r in runs]
    head += ["torch default / ours default"] if ratio else []
    lines = [f"Machine: {m['cpu']} ({m['cpu_llvm_name']}, {m['isa']}), {m['cpus']} CPUs; "
             f"cgroup limit {res['cpus']:g} CPU{'' if res['cpus'] == 1 else 's'}, "
             f"{res['dtype']}, mean ms per call, rounds separated by /", "",
             "| cell | " + " | ".join(head) + " |",
             "|---" * (len(head) + 1) + "|"]
    for cell in (k for k in res["rounds"][0][runs[0]] if k != "threads"):
        row = [" / ".join(f"{rd[r][cell]:.2f}" for rd in res["rounds"]) for r in runs]
        if ratio:
            row.append(" / ".join(f"{rd['torch default'][cell] / rd['ours default'][cell]:.2f}"
                                  for rd in res["rounds"]))
        lines.append(f"| {cell} | " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
