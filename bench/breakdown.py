"""Where an LSTM training step of the Numba backend spends its time: its matrix products
alone, split over the threads exactly as the kernels split them, against the whole step.

    python bench/breakdown.py                  # M1 M2 L1 L2, float32 and float64
    python bench/breakdown.py --configs M1,M2  # the two issue 16 asks for

It first prints the host: the CPU (LLVM's name, vector ISA) and the library the kernels'
products call (version, OpenBLAS core type: ``benchmark.host.kernel_blas``). Then per config
and dtype, in ms (median of 7 samples after a warm-up):

* ``infer``: the whole forward kernel (no cache); ``train``: forward + backward kernels;
* ``proj``: the input term X W_ihᵀ over all T·B rows, as the kernels make it: where the
  step loop makes it (``lstm._project_in_loop``: inputs up to
  ``tuning.STEP_PROJECTION_MAX_INPUTS`` wide, chunks of enough rows), T per-step products of
  each chunk's rows with W_ihᵀ packed once, split as ``recur`` below; else one product
  before the loop (``gemm.matmul``);
* ``recur``: the T per-step recurrent products alone, split by batch rows as the step
  loop splits them (``threads.batch_chunks``), each chunk's T products on its own thread,
  through the kernels' own product with W_hhᵀ packed once (``kernels.cpu.packed``,
  docs/math.md K5): ``lstm._forward_steps``'s products, without the gate math;
* ``big_bwd``: dX, dW_ih, dW_hh (``gemm.matmul``);
* ``gemm_train``: every product of a training step: proj + big_bwd + 2·recur (the backward
  per-step products have the same size as the forward's);
* the single-thread GFLOP/s of one chunk's recurrent product ``h_k W_hhᵀ`` (B/n, 4H):
  packed, as the kernels make it, and as one call to the BLAS the kernels' other products
  call (``kernels.cpu.blas.gemm``), which packs W_hhᵀ at every call.

The differences ``infer − proj − recur`` and ``train − gemm_train`` are the element-wise
work (gates, their derivatives, masking, copies) plus the cost of starting and joining the
threads once per kernel call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from nongate_np.benchmark import host  # noqa: E402
from nongate_np.benchmark.configs import CONFIGS  # noqa: E402
from nongate_np.kernels.contract import LSTMParams, LSTMState  # noqa: E402
from nongate_np.kernels.cpu import gemm, lstm, threads  # noqa: E402
from nongate_np.kernels.cpu.blas import gemm as _blas_product  # noqa: E402
from nongate_np.kernels.cpu.packed import pack, packed_gemm, panel_width  # noqa: E402


@njit(nogil=True)
def _recurrent_products(h, w_p, b0, b1, a, T):
    """One chunk's T recurrent products, as ``lstm._forward_steps`` makes them."""
    for _ in range(T):
        packed_gemm(h[b0:b1], w_p, a[b0:b1])


@njit(nogil=True)
def _input_products(x, w_p, b0, b1, out):
    """One chunk's T input-term products, as ``lstm._forward_steps`` makes them."""
    for t in range(x.shape[0]):
        packed_gemm(x[t, b0:b1], w_p, out[b0:b1])


@njit(nogil=True)
def _repeat_blas(a, b, out, n):
    for _ in range(n):
        _blas_product(a, b, out)


@njit(nogil=True)
def _repeat_packed(a, b, out, n):
    for _ in range(n):
        packed_gemm(a, b, out)


def _ms(fn, samples=7):
    fn()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(name, dtype):
    T, B, I, H = CONFIGS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    w_ih = (rng.standard_normal((4 * H, I)) / np.sqrt(I)).astype(dtype)
    w_hh = (rng.standard_normal((4 * H, H)) / np.sqrt(H)).astype(dtype)
    b = np.zeros(4 * H, dtype)
    h0, c0 = np.zeros((B, H), dtype), np.zeros((B, H), dtype)
    bounds = threads.batch_chunks(B, T * B * H * 4 * H)
    w_t = np.ascontiguousarray(w_hh.T)
    w_p = pack(w_t, dtype)
    w_ih_p = pack(w_ih.T, dtype)
    a = np.empty((B, panel_width(4 * H, dtype)), dtype)
    x2 = x.reshape(T * B, I)
    da = rng.standard_normal((T * B, 4 * H)).astype(dtype)
    h_prev = rng.standard_normal((T * B, H)).astype(dtype)

    state0, params = LSTMState(h0, c0), LSTMParams(w_ih, w_hh, b)

    def train():
        y, state, cache = lstm.lstm_forward(x, state0, params, None, False, True)
        lstm.lstm_backward(cache, np.ones_like(y), LSTMState(*map(np.zeros_like, state)))

    @threads.owns_cores
    def input_term():
        if not lstm._project_in_loop(x, min(np.diff(bounds)), 4 * H):
            gemm.matmul(x2, w_ih.T)
            return
        threads.run_chunks(lambda k: _input_products(x, w_ih_p, int(bounds[k]),
                                                     int(bounds[k + 1]), a), len(bounds) - 1)

    @threads.owns_cores
    def big_backward():
        gemm.matmul(da, w_ih)
        gemm.matmul(da.T, x2)
        gemm.matmul(da.T, h_prev)

    r = {"chunks": len(bounds) - 1,
         "infer": _ms(lambda: lstm.lstm_forward(x, state0, params, None, False, False)),
         "train": _ms(train),
         "proj": _ms(input_term),
         "recur": _ms(threads.owns_cores(lambda: threads.run_chunks(
             lambda k: _recurrent_products(h0, w_p, int(bounds[k]), int(bounds[k + 1]), a,
                                           T), len(bounds) - 1))),
         "big_bwd": _ms(big_backward)}
    r["gemm_train"] = r["proj"] + r["big_bwd"] + 2 * r["recur"]
    h_k = h0[:bounds[1]]                  # chunk 0's rows
    flops = 2.0 * h_k.shape[0] * H * 4 * H * 50
    out = a[:h_k.shape[0]]
    r["gflops_packed"] = flops / _ms(lambda: _repeat_packed(h_k, w_p, out, 50)) / 1e6
    blas = threads.owns_cores(lambda: _repeat_blas(h_k, w_t, out[:, :4 * H], 50))
    r["gflops_blas"] = flops / _ms(blas) / 1e6
    return r


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="M1,M2,L1,L2")
    parser.add_argument("--dtypes", default="float32,float64")
    args = parser.parse_args(argv)
    cols = ("chunks", "infer", "proj", "recur", "train", "big_bwd", "gemm_train",
            "gflops_packed", "gflops_blas")
    configs, dtypes = args.configs.split(","), args.dtypes.split(",")
    bad = [c for c in configs if c not in CONFIGS] + \
          [d for d in dtypes if d not in ("float32", "float64")]
    if bad:
        parser.error(f"unknown config or dtype {', '.join(bad)}; configs: "
                     f"{', '.join(CONFIGS)}; dtypes: float32, float64")
    m = host.machine_info()
    print(f"Host: {m['cpu']} ({m['cpu_llvm_name']}, {m['isa']}), {m['cpus']} CPUs; "
          f"numpy {m['versions']['numpy']}, numba {m['versions']['numba']}, "
          f"scipy {m['versions']['scipy']}")
    print(f"The kernels' {host.describe_record({'kernel_blas': host.kernel_blas()})} "
          "(threads: outside a kernel; one inside)")
    print(f"NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}; times in ms")
    print("| cfg | dtype | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for name in configs:
        for dtype in dtypes:
            r = measure(name, np.dtype(dtype).type)
            cells = [f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols]
            print(f"| {name} | {dtype} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    main()
