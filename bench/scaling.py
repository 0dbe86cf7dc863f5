"""Strong scaling of data-parallel training (MPI) and of Dask encoding on this machine, and
the Allreduce cost behind the communication model of docs/distributed.md.

    python bench/scaling.py                 # about 3 minutes on 2 cores; prints markdown
    python bench/scaling.py --out r.json    # and writes the raw figures

* train: the main job's model (``nongate-np train``'s text defaults: hidden 128, batches
  of 32 chunks of 128 characters) for ``--steps`` optimizer steps after 3 warm-up steps,
  on 1 rank with 1 and 2 kernel threads and on 2 ranks with 1 thread each
  (``mpiexec -n 2``); ms per step on rank 0, and the part spent in
  ``DataParallel.all_reduce_gradients``.
* allreduce: ``MPI_Allreduce`` of float32 buffers from 8 bytes to 64 MiB on 2 ranks, µs per
  call (median of repeats), and the latency α and bandwidth β of ``t = α + bytes / β``
  fitted to them.
* encode: ``nongate_np.dask.encode`` of 4096 chunks of the same text on a LocalCluster of 1
  and 2 worker processes (1 thread each), against one process without Dask.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _corpus(max_chunks: int):
    from nongate_np.data import text
    return text.stdlib_corpus(text.DEFAULT_PACKAGES, chunk_len=128,
                              max_chunks_per_package=max_chunks, seed=0)


def train_worker(steps: int) -> dict:
    """Run under mpiexec (or alone): ms per step on this rank, and in the Allreduce."""
    from nongate_np.distributed import DataParallel
    from nongate_np.kernels.cpu.threads import single_threaded_blas
    from nongate_np.optim import Adam, clip_grad_norm_
    from nongate_np.training.jobs import TEXT_DEFAULTS, TrainOptions, build_model
    from nongate_np.training.loop import _train_step
    from nongate_np.training.metrics import MetricsMeter
    corpus = _corpus(200)
    opts = TrainOptions(hidden_size=TEXT_DEFAULTS["hidden_size"])
    model = build_model(corpus.train, opts, normalize_input=False)
    dp = DataParallel(model)
    reduce_time = [0.0]
    inner = dp.all_reduce_gradients

    def timed(*a, **k):
        t = time.perf_counter()
        out = inner(*a, **k)
        reduce_time[0] += time.perf_counter() - t
        return out

    dp.all_reduce_gradients = timed
    optimizer = Adam(model.parameters(), lr=3e-3)
    order = np.random.default_rng(0).permutation(len(corpus.train))
    meter = MetricsMeter(model.tasks)
    batch = TEXT_DEFAULTS["batch_size"]
    times = []
    with single_threaded_blas():            # as fit runs the steps
        for step in range(steps + 3):
            start = (step * batch) % (len(order) - batch)
            if step == 3:
                reduce_time[0] = 0.0
            t = time.perf_counter()
            _train_step(model, corpus.train, order[start:start + batch], optimizer, meter,
                        dp)
            clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            times.append(time.perf_counter() - t)
    params = sum(p.data.size for p in model.parameters())
    return {"rank": dp.rank, "ranks": dp.world_size, "ms_per_step":
            1e3 * float(np.median(times[3:])), "allreduce_ms_per_step":
            1e3 * reduce_time[0] / steps, "parameters": int(params),
            "allreduce_bytes": int(params * 4 + 4)}


def allreduce_worker() -> dict:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out = {}
    for size in [2 ** k for k in range(3, 27, 2)]:             # 8 B .. 64 MiB
        buf = np.ones(size // 4, np.float32)
        reps = max(5, min(2000, int(2e8 // max(size, 1)) // 100))
        times = []
        for _ in range(reps):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        out[size] = 1e6 * float(np.median(times))
    return {"rank": comm.Get_rank(), "us": out}


def _mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(pathlib.Path(sys.executable).parent)) or \
        shutil.which("mpiexec")
    if found is None:
        sys.exit("bench/scaling.py: no mpiexec; pip install mpi4py mpich")
    return found


def _launch(ranks: int, threads: int, *args) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, *args]
    if ranks > 1:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode:
        sys.exit(f"bench/scaling.py: {' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(next(s for s in done.stdout.splitlines() if s.startswith("{")))


def encode_scaling() -> dict:
    from distributed import Client, LocalCluster

    from nongate_np import dask as ngd
    from nongate_np import io, save
    from nongate_np.dask import worker_env
    from nongate_np.training.jobs import TEXT_DEFAULTS, TrainOptions, build_model
    corpus = _corpus(600)
    data = corpus.train.subset(np.arange(min(4096, len(corpus.train))))
    opts = TrainOptions(hidden_size=TEXT_DEFAULTS["hidden_size"])
    model = build_model(corpus.train, opts, normalize_input=False).eval()
    path = pathlib.Path("runs/bench_scaling_model.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model, path)
    model = io.load(path).model.eval()
    out = {"sequences": len(data)}
    t = time.perf_counter()
    for start in range(0, len(data), 256):
        model.encode(data.x[start:start + 256], data.lengths[start:start + 256])
    out["one_process_s"] = time.perf_counter() - t
    import dask.array as da
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", env=worker_env(workers)) as cluster, \
                Client(cluster) as client:
            x = da.from_array(data.x, chunks=(512, -1))
            client.run(_warm, str(path), data.x[:256], data.lengths[:256])  # every worker
            t = time.perf_counter()
            ngd.encode(path, x, data.lengths).compute()
            out[f"workers_{workers}_s"] = time.perf_counter() - t
    return out


def _warm(path: str, x, lengths) -> None:
    """A worker's kernels loaded and compiled before the timing."""
    from nongate_np import io
    io.load(path).model.eval().encode(x, lengths)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", help="write the raw figures here (JSON)")
    parser.add_argument("--worker", choices=("train", "allreduce"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:             # under mpiexec: rank 0 reports (ranks' lines would mix)
        res = train_worker(args.steps) if args.worker == "train" else allreduce_worker()
        if res["rank"] == 0:
            print(json.dumps(res))
        return 0
    from nongate_np.benchmark.host import machine_info
    res = {"machine": machine_info(),
           "train": {"1 rank x 1 thread": _launch(1, 1, "--worker", "train", "--steps",
                                                   str(args.steps)),
                     "1 rank x 2 threads": _launch(1, 2, "--worker", "train", "--steps",
                                                    str(args.steps)),
                     "2 ranks x 1 thread": _launch(2, 1, "--worker", "train", "--steps",
                                                    str(args.steps))},
           "allreduce": _launch(2, 1, "--worker", "allreduce")["us"],
           "encode": encode_scaling()}
    sizes = np.array([int(k) for k in res["allreduce"]], float)
    us = np.array(list(res["allreduce"].values()))
    big = sizes >= 2 ** 20
    beta = np.polyfit(sizes[big], us[big], 1)[0]                 # µs per byte
    res["model"] = {"alpha_us": float(us[0]), "beta_GB_per_s": float(1e-3 / beta)}
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(report(res))
    return 0


def report(res: dict) -> str:
    m = res["machine"]
    lines = [f"Machine: {m['cpu']} ({m['cpu_llvm_name']}, {m['isa']}), {m['cpus']} CPUs", "",
             "| training (main job's model, batch 32) | ms per step | of which Allreduce |",
             "|---|---|---|"]
    for name, r in res["train"].items():
        lines.append(f"| {name} | {r['ms_per_step']:.1f} | {r['allreduce_ms_per_step']:.2f} |")
    r = res["train"]["2 ranks x 1 thread"]
    lines += ["", f"Parameters {r['parameters']}, Allreduce {r['allreduce_bytes']} bytes per "
              "step.", "", "| Allreduce bytes (2 ranks) | µs |", "|---|---|"]
    lines += [f"| {int(k)} | {v:.1f} |" for k, v in res["allreduce"].items()]
    fit = res["model"]
    lines += ["", f"Fit t = α + bytes/β: α ≈ {fit['alpha_us']:.1f} µs, "
              f"β ≈ {fit['beta_GB_per_s']:.2f} GB/s.", "",
              "| encode (Dask) | s |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |"
              for k, v in res["encode"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
