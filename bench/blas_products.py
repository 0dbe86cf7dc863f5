"""The step loop's products on each BLAS the Numba backend can call, and the recurrent ones
with the weight packed once (bench/KERNEL_NOTES.md, "BLAS: which library the products
call", "Step loop: packed recurrent weight").

One thread, CPU time per call (the best of 5 samples), float32 and float64, from an
``@njit`` loop as the kernels call them: ``blas.gemm`` on the scipy-openblas32 wheel and
on SciPy's BLAS (each in its own process, ``NONGATE_NP_BLAS``), and Numba's ``np.dot``
(SciPy's BLAS, the call the kernels made before ``blas.py``); for the recurrent products
also ``packed``, the kernels' own product on the weight packed once (``packed.packed_gemm``,
docs/math.md K5). Shapes, per configuration (T, B, I, H; P = H):

* ``fwd n``: the recurrent product of a step with the batch split in n chunks,
  (B/n, P) @ (P, 4H);
* ``bwd n``: the backward's, (B/n, 4H) @ (4H, P);
* ``x W_ihᵀ``: the input projection (T·B, I) @ (I, 4H) (W_ih transposed in place);
* ``δAᵀ X``: dW_ih, (4H, T·B) @ (T·B, I) with δA transposed in place.

Usage::

    python bench/blas_products.py                     # every configuration, both dtypes
    python bench/blas_products.py --configs M1,M2 --dtypes float32
    OPENBLAS_CORETYPE=Haswell python bench/blas_products.py   # OpenBLAS's AVX2 kernels

Record ``python -m numba -s | grep "CPU Name"`` beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))      # this checkout's package, installed or not

LIBRARIES = ("scipy-openblas32", "scipy")


def _cases(configs):
    """(cfg, name, (M, K, N), which operand is transposed in place, recurrent?)"""
    from nongate_np.benchmark.configs import CONFIGS
    for cfg in configs:
        T, B, I, H = CONFIGS[cfg]
        P = H
        for n in (1, 2):
            rows = -(-B // n)
            yield cfg, f"fwd n={n}", (rows, P, 4 * H), "", True
            yield cfg, f"bwd n={n}", (rows, 4 * H, P), "", True
        yield cfg, "x W_ihᵀ", (T * B, I, 4 * H), "b", False
        yield cfg, "δAᵀ X", (4 * H, T * B, I), "a", False


def _worker(configs, dtypes, samples, min_time):
    """Time every case on this process's library; print one JSON line per case."""
    import numpy as np
    from numba import njit

    from nongate_np.kernels.cpu import blas
    from nongate_np.kernels.cpu.packed import pack, packed_gemm, panel_width

    def timed(product):
        """A loop of ``reps`` products through ``product``."""
        @njit(nogil=True)
        def loop(a, b, c, reps):
            for _ in range(reps):
                product(a, b, c)
        return loop

    with_gemm = timed(blas.gemm)
    calls = {"blas.gemm": with_gemm}
    if blas.describe()["library"] == "scipy":
        calls["np.dot"] = timed(np.dot)
    with_packed = timed(packed_gemm)
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        for cfg, name, (M, K, N), transposed, recurrent in _cases(configs):
            a = rng.standard_normal((K, M) if transposed == "a" else (M, K)).astype(dtype)
            b = rng.standard_normal((N, K) if transposed == "b" else (K, N)).astype(dtype)
            a = a.T if transposed == "a" else a
            b = b.T if transposed == "b" else b
            c = np.empty((M, N), dtype)
            args = {what: (a, b, c) for what in calls}
            if recurrent:
                calls["packed"] = with_packed
                args["packed"] = (a, pack(b, dtype), np.empty((M, panel_width(N, dtype)),
                                                              dtype))
            for what, call in calls.items():
                call(*args[what], 1)                           # compile
            t0 = time.thread_time()
            with_gemm(a, b, c, 1)
            reps = max(1, int(min_time / max(time.thread_time() - t0, 1e-7)))
            best = dict.fromkeys(calls, float("inf"))
            for _ in range(samples):
                for what, call in calls.items():
                    t0 = time.thread_time()
                    call(*args[what], reps)
                    best[what] = min(best[what], (time.thread_time() - t0) / reps)
            calls.pop("packed", None)
            print(json.dumps({"cfg": cfg, "dtype": dtype, "case": name,
                              "shape": f"{M}x{K}x{N}",
                              "us": {k: v * 1e6 for k, v in best.items()}}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="S1,S3,M1,M2,L1,L2")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.02,
                        help="seconds of CPU time per sample (at least one call)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configs, dtypes = args.configs.split(","), args.dtypes.split(",")
    if args.worker:
        _worker(configs, dtypes, args.samples, args.min_time)
        return 0
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    results, described = {}, {}
    for library in LIBRARIES:
        env["NONGATE_NP_BLAS"] = library
        probe = subprocess.run([sys.executable, "-c", "import json; from nongate_np.kernels."
                                "cpu import blas; print(json.dumps(blas.describe()))"],
                               env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"# {library}: unavailable ({probe.stderr.strip().splitlines()[-1]})")
            continue
        described[library] = json.loads(probe.stdout)
        proc = subprocess.run([sys.executable, __file__, "--worker", "--configs", args.configs,
                               "--dtypes", args.dtypes, "--samples", str(args.samples),
                               "--min-time", str(args.min_time)],
                              env=env, capture_output=True, text=True, check=True)
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            key = (row["cfg"], row["dtype"], row["case"], row["shape"])
            for call, us in row["us"].items():      # packed: the same code in each library's run
                results.setdefault(key, {})[call if call == "packed" else f"{call} {library}"] = us
    for library, d in described.items():
        print(f"# {library}: {d['config']} ({d['path']})")
    columns = sorted({c for r in results.values() for c in r}, reverse=True)
    print("| cfg | dtype | product | " + " | ".join(columns) + " |")
    print("|---" * (3 + len(columns)) + "|")
    for (cfg, dtype, case, shape), row in results.items():
        cells = " | ".join(f"{row[c]:.3g}" if c in row else "–" for c in columns)
        print(f"| {cfg} | {dtype} | {case} {shape} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
