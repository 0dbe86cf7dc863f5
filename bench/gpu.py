"""The GPU check and benchmark of issue 14, as one script for a lent GPU with a hard time limit.

Usage::

    python bench/gpu.py                     # on a GPU: everything, within --budget-s (540 s)
    python bench/gpu.py --skip-tests --configs S1,M2 --dtypes float32
    python bench/gpu.py --tiny              # tiny sizes, on numba's CUDA simulator if no GPU

On a machine with PyTorch (CUDA build), numba-cuda and CuPy and no network (the checkout is
put first on sys.path, so ``pip install --no-deps --no-build-isolation -e .`` is optional).
On a lent GPU whose run has a hard limit, e.g. 600 s: ``timeout 590 python bench/gpu.py
--out $OUT/gpu.json`` (SIGTERM still prints the tables and leaves the JSON; the ``.md``
beside it holds the tables). Sections, in this order, each guarded (an error is reported
in the output and the next section runs):

1. ``environment``: the device, the driver, CUDA toolkit and cuDNN versions, the packages.
2. ``reference_check``: the CUDA backend's kernels on device arrays against
   ``kernels.reference`` (NumPy) at S1 and S3, float64: every output and gradient of the
   LSTM (with and without lengths, both directions) and of gated attention pooling (with
   and without a mask).
3. ``tests``: ``pytest tests/cuda -q`` in a subprocess on the GPU (NUMBA_ENABLE_CUDASIM
   unset, NONGATE_NP_CUDA_REAL_SIZES=1 for the tests that enlarge their sizes), at most
   ``--tests-timeout`` seconds; pass/fail counts and time.
4. ``bench``: configurations S1, S3, M1, M2, L1, L2 of ``nongate_np.benchmark.configs``
   and LONG (T=1000, B=32, I=123, H=320); tasks ``infer`` (LSTM forward, no cache),
   ``train`` (forward with cache + backward of ``y.sum()``) and ``train_attn`` (LSTM
   forward, gated attention pooling with Q=1 and A=H, both backwards of
   ``pooled.sum()``); float32 first (the verdict), then float64. Ours: the contract
   functions of ``nongate_np.kernels.cuda`` on device arrays (the attention's (B, T, H)
   input is y (T, B, H) transposed on the device by ``_swap01`` here). Against:
   ``torch.nn.LSTM`` on the same GPU (cuDNN) with the attention in torch ops, the same
   weights (ours b = b_ih + b_hh) and data; float32 with TF32 off (the verdict) and with
   PyTorch's TF32 defaults beside it. CUDA-event timing after warm-up (one call, which
   compiles our kernels, then one to size the inner loop), ``--repeats`` samples of an
   inner loop of at least ``--min-time`` s, the median. Ratio = torch ms / ours ms (> 1:
   ours faster). Correctness: the largest |ours - torch| over every output and gradient,
   relative to max(1, max |torch|), within 2e-3 (float32) / 1e-9 (float64) as in the CPU
   benchmark; a cell that disagrees is WRONG and gets no ratio.
5. ``torch_kernels``: the names of the CUDA kernels one torch LSTM forward and backward
   launch (torch.profiler), per configuration, float32: PyTorch does not say which cuDNN
   RNN algorithm it chose; the kernel names are what can be observed.

Time: the whole run stops starting work once ``--budget-s`` seconds have passed since it
began (what is left is listed as skipped). The JSON (``--out``) is rewritten after every
measurement, so a run killed from outside still leaves its figures; the markdown tables
are printed at the end (also on SIGTERM) and saved beside the JSON (``.md``).

``--tiny``: one tiny configuration (T=3, B=2, I=3, H=4), one sample of one call, timing by
``time.perf_counter`` where CUDA events have no timing (the simulator), the reference check
at that size; without a GPU it runs on the simulator (NUMBA_ENABLE_CUDASIM=1). torch is
timed only on a CUDA device; otherwise its CPU result is the correctness reference.
tests/cuda/test_bench_gpu.py runs ``--tiny --skip-tests`` so this script cannot rot.

Exit status: 0 when every section ran and everything checked agreed; 1 when a section
raised or something disagreed or failed (see the JSON); 2 when it could not start (real
sizes without a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)                   # this checkout's package, installed or not

import numpy as np  # noqa: E402

from nongate_np.benchmark.configs import CONFIGS  # noqa: E402
from nongate_np.benchmark.run import name_list  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402
from nongate_np.kernels.contract import AttentionParams, LSTMParams, LSTMState  # noqa: E402

#: numba.cuda, imported by main() once the target (GPU or simulator) is chosen: numba fixes
#: it at import (nongate_np/kernels/gpu.py)
cuda: Any = None

#: name -> (T, B, I, H)
BENCH_CONFIGS = {**{k: CONFIGS[k] for k in ("S1", "S3", "M1", "M2", "L1", "L2")},
                 "LONG": (1000, 32, 123, 320)}
TINY_CONFIGS = {"TINY": (3, 2, 3, 4)}
REFERENCE_CONFIGS = ("S1", "S3")
TASKS = ("infer", "train", "train_attn")
DTYPES = ("float32", "float64")
#: max |ours - theirs| relative to max(1, max |theirs|), as the CPU benchmark
TOL = {"float32": 2e-3, "float64": 1e-9}
#: issue 14's goals: torch (cuDNN) ms / ours ms on the same GPU, float32 with TF32 off, and
#: float64 at small and medium sizes
GOALS = {"float32": {"S1": 0.7, "S3": 0.7, "M1": 0.7, "M2": 1.0, "LONG": 1.0, "L1": 0.7,
                     "L2": 0.5},
         "float64": {"S1": 1.0, "S3": 1.0, "M1": 1.0, "M2": 1.0}}
SWAP_THREADS = 128                          # threads per block of _swap01
NO_ALGO = ("PyTorch does not expose which cuDNN RNN algorithm nn.LSTM uses, so none is "
           "reported; the torch_kernels section lists the CUDA kernels it was seen to launch")
NO_MODEL = ("multi-task model training step on the GPU: not timed here (the kernels are); a "
            "whole model runs on the GPU with .to('cuda'), its steps checked against the NumPy "
            "backend by tests/cuda/test_cuda_model.py")


# -- the run's record: budget, incremental JSON, guarded sections --------------------------------
class Run:
    """The results so far, the time budget, and the JSON file rewritten after each step."""

    def __init__(self, out: str, budget_s: float, argv: list[str]):
        self.out, self.budget_s = out, budget_s
        self.t0 = time.monotonic()
        self.data: dict[str, Any] = {
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "argv": argv, "budget_s": budget_s, "finished": False, "environment": {},
            "notes": [], "errors": [], "skipped": [], "sections": {},
            "reference_check": [], "tests": None, "bench": [], "torch_kernels": {}}

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        """Seconds of the budget left (negative once spent)."""
        return self.budget_s - self.elapsed()

    def over(self, what: str) -> bool:
        """True (and ``what`` listed as skipped) once the budget is spent."""
        if self.left() > 0:
            return False
        self.data["skipped"].append(f"{what}: time budget of {self.budget_s:.0f} s spent")
        self.save()
        return True

    def note(self, text: str) -> None:
        if text not in self.data["notes"]:
            self.data["notes"].append(text)

    def error(self, where: str, err: BaseException) -> None:
        self.data["errors"].append({"where": where, "error": f"{type(err).__name__}: {err}",
                                    "traceback": traceback.format_exc()[-3000:]})
        print(f"[gpu.py] {where}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        self.save()

    def save(self) -> None:
        """Write the JSON whole, through a temporary file (a kill mid-write leaves the old)."""
        self.data["elapsed_s"] = round(self.elapsed(), 2)
        folder = os.path.dirname(os.path.abspath(self.out))
        os.makedirs(folder, exist_ok=True)
        tmp = self.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, default=_jsonable)
        os.replace(tmp, self.out)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (tuple, set)):
        return list(v)
    return str(v)


@contextlib.contextmanager
def section(run: Run, name: str) -> Iterator[None]:
    """Run a section: an exception is recorded as an error of ``name`` and not raised."""
    t = time.monotonic()
    print(f"[gpu.py] {name} ({run.elapsed():.0f} s into the run, {run.left():.0f} s left)",
          file=sys.stderr, flush=True)
    try:
        yield
    except Exception as err:
        run.error(name, err)
    finally:
        run.data["sections"][name] = round(time.monotonic() - t, 2)
        run.save()


# -- the environment ---------------------------------------------------------------------------
def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def environment(run: Run, torch: Any) -> None:
    """Fill ``run.data["environment"]``: each item guarded on its own."""
    env = run.data["environment"]
    env.update(python=platform.python_version(), platform=platform.platform(),
               numpy=np.__version__, numba=_version("numba"),
               numba_cuda=_version("numba-cuda"),
               cupy=next(filter(None, map(_version, ("cupy", "cupy-cuda13x", "cupy-cuda12x",
                                                     "cupy-cuda11x"))), None),
               torch=getattr(torch, "__version__", None), probe=gpu.probe().reason,
               simulator=gpu.simulator_requested())
    items: dict[str, Callable[[], Any]] = {
        "git": lambda: subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                      capture_output=True, text=True,
                                      timeout=10).stdout.strip() or None}
    if gpu.simulator_requested():
        env["device"] = "none: numba's CUDA simulator (no driver, no toolkit)"
    else:
        items.update({
            "device": _device_info,
            "cuda_driver": lambda: ".".join(map(str, cuda.cudadrv.driver.get_version())),
            "cuda_toolkit_nvrtc": lambda: ".".join(map(str, cuda.runtime.get_version())),
            "nvidia_smi": _nvidia_smi})
    if torch is not None:
        items.update({
            "torch_cuda": lambda: torch.version.cuda,
            "torch_cuda_available": lambda: torch.cuda.is_available(),
            "torch_device": lambda: torch.cuda.get_device_name(0)
            if torch.cuda.is_available() else "torch: no CUDA device",
            "cudnn_version": lambda: torch.backends.cudnn.version(),
            "cudnn_enabled": lambda: torch.backends.cudnn.enabled,
            "cudnn_benchmark": lambda: torch.backends.cudnn.benchmark,
            "tf32_defaults": lambda: tf32_defaults(torch),
            "fp32_precision": lambda: {
                "matmul": getattr(torch.backends.cuda.matmul, "fp32_precision", None),
                "cudnn": getattr(torch.backends.cudnn, "fp32_precision", None)}})
    for key, get in items.items():
        try:
            env[key] = get()
        except Exception as err:
            env[key] = f"unknown ({type(err).__name__}: {err})"
    run.save()


def _device_info() -> dict:
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    info = {"name": name}
    for key, attr in (("compute_capability", "compute_capability"),
                      ("multiprocessors", "MULTIPROCESSOR_COUNT")):
        with contextlib.suppress(Exception):
            info[key] = getattr(dev, attr)
    return info


def _nvidia_smi() -> str | None:
    try:
        p = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                            "clocks.max.sm,power.limit", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"not available ({type(err).__name__})"
    return p.stdout.strip() or p.stderr.strip()[-300:]


# -- weights and data, shared by ours and torch --------------------------------------------------
class Weights(NamedTuple):
    """One configuration's data and parameters, float64 (cast per dtype): torch's layout and
    its default initialisation U(-1/sqrt(H), 1/sqrt(H)); attention A = H, one query."""

    x: np.ndarray                  # (T, B, I)
    w_ih: np.ndarray               # (4H, I)
    w_hh: np.ndarray               # (4H, H)
    b_ih: np.ndarray               # (4H,)
    b_hh: np.ndarray               # (4H,)
    w_proj: np.ndarray             # (A, H)
    b_proj: np.ndarray             # (A,)
    w_gate: np.ndarray             # (A, H)
    b_gate: np.ndarray             # (A,)
    query: np.ndarray              # (1, A)


def make_weights(shape: tuple[int, int, int, int], seed: int = 0) -> Weights:
    T, B, I, H = shape
    A = H
    rng = np.random.default_rng(seed)
    k = 1 / math.sqrt(H)

    def u(*s: int, bound: float = k) -> np.ndarray:
        return rng.uniform(-bound, bound, s)
    return Weights(x=rng.standard_normal((T, B, I)), w_ih=u(4 * H, I), w_hh=u(4 * H, H),
                   b_ih=u(4 * H), b_hh=u(4 * H), w_proj=u(A, H), b_proj=u(A),
                   w_gate=u(A, H), b_gate=u(A), query=u(1, A, bound=1 / math.sqrt(A)))


def _swap01_kernel(src, dst):
    """dst[j, i, k] = src[i, j, k]: (T, B, D) <-> (B, T, D), one thread per element."""
    e = cuda.grid(1)
    J, D = src.shape[1], src.shape[2]
    if e >= src.shape[0] * J * D:
        return
    i = e // (J * D)
    j = (e // D) % J
    k = e % D
    dst[j, i, k] = src[i, j, k]


_swap01_compiled: Any = None


def swap01(src: Any) -> Any:
    """A device array (A, B, D) as a new C-contiguous device array (B, A, D)."""
    global _swap01_compiled
    if _swap01_compiled is None:
        _swap01_compiled = cuda.jit(_swap01_kernel)
    a, b, d = src.shape
    dst = cuda.device_array((b, a, d), src.dtype)
    n = a * b * d
    if n:
        threads = min(SWAP_THREADS, n)
        _swap01_compiled[(n + threads - 1) // threads, threads](src, dst)
    return dst


# -- the two contenders: each gives {task: step() -> {name: array}} -----------------------------
def ours_steps(K: Any, w: Weights, dtype: str) -> dict[str, Callable[[], dict]]:
    """The CUDA backend's contract functions on device arrays (uploaded once, here)."""
    T, B, I = w.x.shape
    H = w.w_hh.shape[1]

    def d(a: np.ndarray) -> Any:
        return cuda.to_device(np.ascontiguousarray(a, dtype))
    x = d(w.x)
    zeros_bh = np.zeros((B, H))
    state0 = LSTMState(d(zeros_bh), d(zeros_bh))
    params = LSTMParams(d(w.w_ih), d(w.w_hh), d(w.b_ih + w.b_hh))
    attn = AttentionParams(w_proj=d(w.w_proj), b_proj=d(w.b_proj), query=d(w.query),
                           w_gate=d(w.w_gate), b_gate=d(w.b_gate))
    dy_ones = d(np.ones((T, B, H)))                       # d(y.sum())/dy
    dstate0 = LSTMState(d(zeros_bh), d(zeros_bh))         # the final state is not in the loss
    dpooled = d(np.ones((B, 1, H)))                       # d(pooled.sum())/dpooled
    dweights = d(np.zeros((B, 1, T)))                     # the weights are not in the loss

    def lstm_grads(g: LSTMParams) -> dict:
        return {"w_ih": g.w_ih, "w_hh": g.w_hh, "b_ih": g.b, "b_hh": g.b}

    def infer() -> dict:
        y, state, _ = K.lstm_forward(x, state0, params, None, False, False)
        return {"y": y, "h": state.h, "c": state.c}

    def train() -> dict:
        y, _, cache = K.lstm_forward(x, state0, params, None, False, True)
        dx, _, g = K.lstm_backward(cache, dy_ones, dstate0)
        return {"y": y, "x.grad": dx, **lstm_grads(g)}

    def train_attn() -> dict:
        y, _, cache = K.lstm_forward(x, state0, params, None, False, True)
        pooled, weights, acache = K.attention_forward(swap01(y), attn, "gated", None, True)
        dh, ag = K.attention_backward(acache, dpooled, dweights)
        dx, _, g = K.lstm_backward(cache, swap01(dh), dstate0)
        return {"pooled": pooled, "weights": weights, "x.grad": dx, **lstm_grads(g),
                "w_proj": ag.w_proj, "b_proj": ag.b_proj, "w_gate": ag.w_gate,
                "b_gate": ag.b_gate, "query": ag.query}
    return {"infer": infer, "train": train, "train_attn": train_attn}


def torch_steps(torch: Any, w: Weights, dtype: str, device: str
                ) -> dict[str, Callable[[], dict]]:
    """torch.nn.LSTM (cuDNN on a GPU) and gated attention pooling in torch ops, as the CPU
    benchmark's (nongate_np/benchmark/workers.py), with attention size A = H."""
    F = torch.nn.functional
    T, B, I = w.x.shape
    H = w.w_hh.shape[1]

    def t(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a, dtype)).to(device)
    lstm = torch.nn.LSTM(I, H).to(device=device, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w.w_ih), ("weight_hh_l0", w.w_hh),
                            ("bias_ih_l0", w.b_ih), ("bias_hh_l0", w.b_hh)):
            getattr(lstm, name).copy_(t(value))
    lstm.flatten_parameters()
    ap = {k: torch.nn.Parameter(t(getattr(w, k)))
          for k in ("w_proj", "b_proj", "w_gate", "b_gate", "query")}
    x0 = t(w.x)

    def pool(h: Any) -> tuple[Any, Any]:     # h (B, T, H)
        u = torch.tanh(F.linear(h, ap["w_proj"], ap["b_proj"])) * \
            torch.sigmoid(F.linear(h, ap["w_gate"], ap["b_gate"]))
        weights = torch.softmax(u @ ap["query"].T, dim=1).transpose(1, 2)   # (B, 1, T)
        return weights @ h, weights

    def zero() -> None:
        for p in list(lstm.parameters()) + list(ap.values()):
            p.grad = None

    def lstm_grads() -> dict:
        return {"w_ih": lstm.weight_ih_l0.grad, "w_hh": lstm.weight_hh_l0.grad,
                "b_ih": lstm.bias_ih_l0.grad, "b_hh": lstm.bias_hh_l0.grad}

    def infer() -> dict:
        with torch.no_grad():
            y, (h, c) = lstm(x0)
        return {"y": y, "h": h[0], "c": c[0]}

    def train() -> dict:
        zero()
        xt = x0.clone().requires_grad_(True)
        y, _ = lstm(xt)
        y.sum().backward()
        return {"y": y, "x.grad": xt.grad, **lstm_grads()}

    def train_attn() -> dict:
        zero()
        xt = x0.clone().requires_grad_(True)
        y, _ = lstm(xt)
        pooled, weights = pool(y.transpose(0, 1))
        pooled.sum().backward()
        return {"pooled": pooled, "weights": weights, "x.grad": xt.grad, **lstm_grads(),
                **{k: p.grad for k, p in ap.items()}}
    return {"infer": infer, "train": train, "train_attn": train_attn}


def to_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "copy_to_host"):
        return v.copy_to_host()
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def compare(ref: dict, got: dict, tol: float) -> dict:
    """The largest |got - ref| over every array of ``ref``, relative to max(1, max |ref|)
    of that array (the CPU benchmark's rule); ``ok`` when it is within ``tol``."""
    worst_rel, worst = 0.0, None
    for key, r in ref.items():
        r = to_numpy(r).astype(np.float64)
        g = got.get(key)
        g = None if g is None else to_numpy(g)
        if g is None or g.shape != r.shape:
            return {"ok": False, "max_rel": None,
                    "worst": f"{key}: missing or shape {None if g is None else g.shape} "
                             f"where {r.shape}"}
        if not r.size:
            continue
        diff = np.abs(g.astype(np.float64) - r)
        rel = float(np.max(diff)) / max(1.0, float(np.max(np.abs(r))))
        if not math.isfinite(rel):              # NaN or inf in ours
            return {"ok": False, "max_rel": None, "worst": f"{key}: not finite"}
        if rel >= worst_rel:
            worst_rel, worst = rel, key
    return {"ok": worst_rel <= tol, "max_rel": worst_rel, "worst": worst}


# -- timing ------------------------------------------------------------------------------------
def event_timing_available() -> bool:
    """CUDA events with timing (a GPU); the simulator has none (``event(timing=True)``
    raises TypeError there)."""
    try:
        cuda.event(timing=True)
        return True
    except TypeError:
        return False


def ours_timer(events: bool) -> Callable[[Callable[[], Any], int], tuple[float, float]]:
    """(event ms per call, wall ms per call) of ``n`` calls: numba.cuda events when
    ``events``, else perf_counter for both."""
    def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
        cuda.synchronize()
        w = time.perf_counter()
        if events:
            start, end = cuda.event(timing=True), cuda.event(timing=True)
            start.record()
        for _ in range(n):
            fn()
        if events:
            end.record()
            end.synchronize()
        cuda.synchronize()
        wall = (time.perf_counter() - w) * 1e3 / n
        return (cuda.event_elapsed_time(start, end) / n if events else wall), wall
    return timed


def torch_timer(torch: Any) -> Callable[[Callable[[], Any], int], tuple[float, float]]:
    """(event ms per call, wall ms per call) of ``n`` calls on torch's current stream."""
    def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
        torch.cuda.synchronize()
        w = time.perf_counter()
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        for _ in range(n):
            fn()
        end.record()
        torch.cuda.synchronize()
        wall = (time.perf_counter() - w) * 1e3 / n
        return start.elapsed_time(end) / n, wall
    return timed


def measure(run: Run, fn: Callable[[], dict], timed: Callable, samples: int,
            min_time: float) -> tuple[dict, dict]:
    """(timing, the first call's outputs). The first call is the warm-up (ours: the
    kernels' compile); a second sizes the inner loop to >= ``min_time`` s (skipped when
    ``min_time`` is 0); then up to ``samples`` samples of that loop, fewer once the budget
    is spent. ``ms``: the median of the samples' event times per call."""
    t = time.perf_counter()
    outputs: dict = {}

    def first() -> None:
        outputs.update(fn())
    timed(first, 1)
    first_ms = (time.perf_counter() - t) * 1e3
    n = 1
    if min_time > 0:
        one, _ = timed(fn, 1)
        n = max(1, math.ceil(min_time * 1e3 / max(one, 1e-3)))
    per, walls = [], []
    for _ in range(samples):
        if per and run.left() <= 0:
            break
        ms, wall = timed(fn, n)
        per.append(ms)
        walls.append(wall)
    return ({"ms": statistics.median(per), "min": min(per), "max": max(per),
             "wall_ms": statistics.median(walls), "inner": n, "samples": len(per),
             "first_ms": first_ms}, outputs)


# -- torch's TF32 switches -----------------------------------------------------------------------
TF32_DEFAULTS: dict[str, bool] = {}


def tf32_defaults(torch: Any) -> dict[str, bool]:
    """PyTorch's TF32 switches as they were before this script first changed them."""
    if not TF32_DEFAULTS:
        TF32_DEFAULTS.update(matmul=torch.backends.cuda.matmul.allow_tf32,
                             cudnn=torch.backends.cudnn.allow_tf32)
    return dict(TF32_DEFAULTS)


def set_tf32(torch: Any, on: bool | None) -> None:
    """TF32 off for both matmul and cuDNN (``False``), or PyTorch's defaults (``None``)."""
    default = tf32_defaults(torch)
    torch.backends.cuda.matmul.allow_tf32 = default["matmul"] if on is None else on
    torch.backends.cudnn.allow_tf32 = default["cudnn"] if on is None else on


# -- section 2: ours against the NumPy reference -----------------------------------------------
def reference_check(run: Run, K: Any, configs: dict[str, tuple[int, int, int, int]]) -> None:
    """The CUDA kernels on device arrays against kernels.reference, float64, every output
    and gradient; one row per (configuration, case) in ``run.data["reference_check"]``."""
    from nongate_np.kernels import reference as ref
    dtype = "float64"
    for cfg, (T, B, I, H) in configs.items():
        rng = np.random.default_rng(1)
        w = make_weights((T, B, I, H), seed=2)
        lengths = rng.integers(1, T + 1, B)
        lengths[0] = T
        mask = np.arange(T)[None, :] < lengths[:, None]
        h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
        params = LSTMParams(w.w_ih, w.w_hh, w.b_ih + w.b_hh)
        attn = AttentionParams(w_proj=w.w_proj, b_proj=w.b_proj, query=w.query,
                               w_gate=w.w_gate, b_gate=w.b_gate)
        dy, dh, dc = (rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H)))
        hseq = rng.standard_normal((B, T, H))
        dpooled, dweights = rng.standard_normal((B, 1, H)), rng.standard_normal((B, 1, T))

        def d(a: Any) -> Any:
            return None if a is None else cuda.to_device(np.ascontiguousarray(a, dtype))

        def lstm_case(lens: Any, reverse: bool) -> tuple[dict, dict]:
            results = []
            for mod, put in ((ref, lambda a: a), (K, d)):
                mod_lens = lens if mod is ref or lens is None else \
                    cuda.to_device(lens.astype(np.int64))
                y, st, cache = mod.lstm_forward(put(w.x), LSTMState(put(h0), put(c0)),
                                                LSTMParams(*map(put, params)), mod_lens,
                                                reverse, True)
                dx, dst, g = mod.lstm_backward(cache, put(dy), LSTMState(put(dh), put(dc)))
                results.append({"y": y, "h_n": st.h, "c_n": st.c, "dx": dx, "dh0": dst.h,
                                "dc0": dst.c, "dw_ih": g.w_ih, "dw_hh": g.w_hh, "db": g.b})
            return results[0], results[1]

        def attention_case(m: Any) -> tuple[dict, dict]:
            results = []
            for mod, put in ((ref, lambda a: a), (K, d)):
                p = AttentionParams(*map(put, attn))
                mod_m = m if mod is ref or m is None else cuda.to_device(m)
                pooled, weights, cache = mod.attention_forward(put(hseq), p, "gated", mod_m,
                                                               True)
                dhs, g = mod.attention_backward(cache, put(dpooled), put(dweights))
                results.append({"pooled": pooled, "weights": weights, "dh": dhs,
                                **{"d" + k: v for k, v in g._asdict().items()
                                   if v is not None}})
            return results[0], results[1]

        cases = {"lstm": lambda: lstm_case(None, False),
                 "lstm lengths reverse": lambda: lstm_case(lengths, True),
                 "attention gated": lambda: attention_case(None),
                 "attention gated mask": lambda: attention_case(mask)}
        for case, fn in cases.items():
            if run.over(f"reference check {cfg} {case}"):
                return
            row: dict[str, Any] = {"config": cfg, "shape": (T, B, I, H), "dtype": dtype,
                                   "case": case}
            try:
                want, got = fn()
                row.update(compare(want, got, TOL[dtype]))
            except Exception as err:
                row.update(ok=False, error=f"{type(err).__name__}: {err}")
                run.error(f"reference check {cfg} {case}", err)
            run.data["reference_check"].append(row)
            run.save()


# -- section 3: the CUDA tests in a subprocess ---------------------------------------------------
def run_tests(run: Run, timeout_s: float) -> None:
    """``pytest tests/cuda -q`` on the GPU (NUMBA_ENABLE_CUDASIM unset), killed after
    ``timeout_s``; counts, time and the failures' names in ``run.data["tests"]``."""
    res: dict[str, Any] = {"command": "pytest tests/cuda -q", "timeout_s": round(timeout_s)}
    run.data["tests"] = res
    missing = [m for m in ("pytest", "hypothesis") if importlib.util.find_spec(m) is None]
    if missing:
        res["error"] = f"not installed here: {', '.join(missing)} (tests/conftest.py needs both)"
        run.save()
        return
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NONGATE_NP_CUDA_REAL_SIZES"] = "1"
    cmd = [sys.executable, "-m", "pytest", "tests/cuda", "-q", "-p", "no:cacheprovider",
           "--ignore", "tests/cuda/test_bench_gpu.py"]      # that one runs this script
    t = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        res["returncode"] = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)             # pytest and what it started
        out, _ = proc.communicate()
        res["error"] = f"timed out after {timeout_s:.0f} s (killed)"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    res["seconds"] = round(time.monotonic() - t, 1)
    out = out or ""
    counts = {}
    for line in reversed(out.splitlines()):            # pytest's summary line, the last
        found = re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", line)
        if found:
            counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n)
                      for n, kind in found}
            break
    if not counts:         # killed before its summary: the progress characters so far
        progress = "".join(ln.split(" ")[0] for ln in out.splitlines()
                           if re.fullmatch(r"[.FEsxX]+( +\[ *\d+%\])?", ln.strip()))
        counts = {"passed": progress.count("."), "failed": progress.count("F"),
                  "error": progress.count("E"), "skipped": progress.count("s"),
                  "partial": True}
    res["counts"] = counts
    res["failures"] = [ln for ln in out.splitlines()
                       if ln.startswith(("FAILED", "ERROR"))][:40]
    res["output_tail"] = out[-4000:]
    run.save()


# -- section 4: the benchmark ---------------------------------------------------------------------
def bench(run: Run, K: Any, torch: Any, configs: dict, tasks: list[str], dtypes: list[str],
          samples: int, min_time: float) -> None:
    """One row per (configuration, dtype, task) in ``run.data["bench"]``, saved as measured."""
    ours_timed = ours_timer(event_timing_available())
    run.data["timer"] = {"ours": "numba.cuda events" if event_timing_available()
                         else "time.perf_counter (no CUDA event timing: the simulator)"}
    torch_cuda = torch is not None and torch.cuda.is_available()
    if torch is None:
        run.note("torch: not installed; no comparison")
    elif not torch_cuda:
        run.note("torch: no CUDA device; torch is not timed, its CPU results are the "
                 "correctness reference")
    else:
        run.data["timer"]["torch"] = "torch.cuda events"
    torch_timed = torch_timer(torch) if torch_cuda else None
    for dtype in dtypes:
        for cfg, shape in configs.items():
            rows = [{"config": cfg, "shape": shape, "dtype": dtype, "task": task}
                    for task in tasks]
            if run.over(f"bench {cfg} {dtype}"):
                for row in rows:
                    row["skipped"] = "time budget spent"
                run.data["bench"].extend(rows)
                continue
            run.data["bench"].extend(rows)
            try:
                bench_config(run, K, torch, torch_timed, ours_timed, shape, dtype, rows,
                             samples, min_time)
            except Exception as err:
                run.error(f"bench {cfg} {dtype}", err)
            finally:
                if torch_cuda:
                    torch.cuda.empty_cache()


def bench_config(run: Run, K: Any, torch: Any, torch_timed: Any, ours_timed: Any,
                 shape: tuple, dtype: str, rows: list[dict], samples: int,
                 min_time: float) -> None:
    """The rows of one configuration and dtype: ours, torch TF32 off, torch TF32 default."""
    w = make_weights(shape)
    ours = theirs = None
    if K is not None:
        try:
            ours = ours_steps(K, w, dtype)
        except Exception as err:
            run.error(f"bench {rows[0]['config']} {dtype}: ours' setup", err)
    if torch is not None:
        device = "cuda" if torch_timed is not None else "cpu"
        theirs = torch_steps(torch, w, dtype, device)
    for row in rows:
        task, where = row["task"], f"bench {row['config']} {dtype} {row['task']}"
        if run.over(where):
            row["skipped"] = "time budget spent"
            continue
        ref = got = None
        if theirs is not None:
            try:
                if torch_timed is not None:
                    set_tf32(torch, False)
                    row["torch"], ref = measure(run, theirs[task], torch_timed, samples,
                                                min_time)
                    if dtype == "float32" and not run.over(where + " (TF32 default)"):
                        set_tf32(torch, None)
                        row["torch_tf32"], _ = measure(run, theirs[task], torch_timed,
                                                       samples, min_time)
                        set_tf32(torch, False)
                else:
                    ref = theirs[task]()
                row["checked_against"] = f"torch {'cuda' if torch_timed else 'cpu'}"
            except Exception as err:
                row["torch_error"] = f"{type(err).__name__}: {err}"
                run.error(where + " (torch)", err)
            run.save()
        if ours is not None:
            try:
                row["ours"], got = measure(run, ours[task], ours_timed, samples, min_time)
            except Exception as err:
                row["ours_error"] = f"{type(err).__name__}: {err}"
                run.error(where + " (ours)", err)
        else:
            row["ours_error"] = "the CUDA backend is unavailable"
        if ref is not None and got is not None:
            try:
                row.update(compare(ref, got, TOL[dtype]))
            except Exception as err:
                row.update(ok=False, compare_error=f"{type(err).__name__}: {err}")
        if "ours" in row and "torch" in row and row.get("ok"):
            row["ratio"] = row["torch"]["ms"] / row["ours"]["ms"]
            if "torch_tf32" in row:
                row["ratio_tf32"] = row["torch_tf32"]["ms"] / row["ours"]["ms"]
        run.save()
        print(f"[gpu.py] {where}: " + _row_line(row), file=sys.stderr, flush=True)


def _row_line(row: dict) -> str:
    parts = [f"{k} {row[k]['ms']:.4g} ms" for k in ("ours", "torch", "torch_tf32") if k in row]
    if "ratio" in row:
        parts.append(f"ratio {row['ratio']:.3g}")
    if "ok" in row:
        parts.append(f"ok={row['ok']} ({row.get('max_rel')})")
    return ", ".join(parts) or "nothing measured"


# -- section 5: which kernels torch launches -----------------------------------------------------
def torch_kernels(run: Run, torch: Any, configs: dict) -> None:
    """The CUDA kernel names of one torch LSTM forward + backward per configuration
    (float32, TF32 off), from torch.profiler: observed, not an algorithm PyTorch reports."""
    from torch.profiler import ProfilerActivity, profile
    set_tf32(torch, False)
    for cfg, shape in configs.items():
        if run.over(f"torch kernels {cfg}"):
            return
        step = torch_steps(torch, make_weights(shape), "float32", "cuda")["train"]
        step()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        names = sorted({e.key for e in prof.key_averages()
                        if re.search(r"rnn|lstm|persist|elementwise|gemm|cudnn|cutlass|xmma",
                                     e.key, re.IGNORECASE)})
        run.data["torch_kernels"][cfg] = [n[:160] for n in names][:30]
        run.save()


# -- the report ---------------------------------------------------------------------------------
def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3g}" if v < 100 else f"{v:.0f}"


def markdown(data: dict) -> str:
    env = data["environment"]
    dev = env.get("device")
    name = dev.get("name") if isinstance(dev, dict) else dev
    lines = [f"## GPU benchmark, {data['started']}", "",
             f"- device: {name} ({env.get('probe')}); nvidia-smi: {env.get('nvidia_smi')}",
             f"- CUDA driver {env.get('cuda_driver')}, CUDA toolkit (NVRTC) "
             f"{env.get('cuda_toolkit_nvrtc')}, cuDNN {env.get('cudnn_version')} "
             f"(torch built for CUDA {env.get('torch_cuda')}); torch {env.get('torch')}, "
             f"numba {env.get('numba')}, numba-cuda {env.get('numba_cuda')}, "
             f"CuPy {env.get('cupy')}, NumPy {env.get('numpy')}, Python {env.get('python')}",
             f"- timing: {data.get('timer')}; TF32 defaults {env.get('tf32_defaults')}",
             f"- run: {data.get('elapsed_s')} s of a {data['budget_s']:.0f} s budget; "
             f"finished: {data['finished']}; commit {env.get('git')}"]
    lines += [f"- note: {n}" for n in data["notes"]] + [""]
    lines += ["| cfg | T, B, I, H | dtype | task | ours ms | cuDNN ms (TF32 off) | ratio "
              "| goal | cuDNN ms (TF32 default) | ratio | agrees (max rel diff) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in data["bench"]:
        ms = {k: r[k]["ms"] if k in r else None for k in ("ours", "torch", "torch_tf32")}
        if "skipped" in r:
            agrees = f"skipped: {r['skipped']}"
        elif "ok" in r:
            agrees = ("ok" if r["ok"] else "WRONG") + f" ({_fmt(r.get('max_rel'))}"
            agrees += f", {r.get('worst')}, vs {r.get('checked_against')})"
        else:
            agrees = r.get("ours_error") or r.get("torch_error") or "not checked"
        goal = GOALS.get(r["dtype"], {}).get(r["config"])
        met = "" if goal is None else f">= {goal}" + (
            "" if "ratio" not in r else " met" if r["ratio"] >= goal else " NOT met")
        lines.append(f"| {r['config']} | {', '.join(map(str, r['shape']))} | {r['dtype']} "
                     f"| {r['task']} | {_fmt(ms['ours'])} | {_fmt(ms['torch'])} "
                     f"| {_fmt(r.get('ratio'))} | {met} | {_fmt(ms['torch_tf32'])} "
                     f"| {_fmt(r.get('ratio_tf32'))} | {agrees} |")
    if data["reference_check"]:
        lines += ["", "| reference check (float64, ours vs kernels.reference) | case | agrees "
                  "(max rel diff) |", "| --- | --- | --- |"]
        for r in data["reference_check"]:
            verdict = "ok" if r.get("ok") else "WRONG"
            lines.append(f"| {r['config']} {tuple(r['shape'])} | {r['case']} | {verdict} "
                         f"({_fmt(r.get('max_rel'))}, {r.get('worst') or r.get('error')}) |")
    tests = data.get("tests")
    if tests:
        lines += ["", f"- tests (`{tests.get('command')}`, NUMBA_ENABLE_CUDASIM unset, "
                  f"NONGATE_NP_CUDA_REAL_SIZES=1): {tests.get('counts')} in "
                  f"{tests.get('seconds')} s; {tests.get('error') or ''} "
                  + ("failures: " + "; ".join(tests["failures"]) if tests.get("failures")
                     else "")]
    for cfg, names in data.get("torch_kernels", {}).items():
        lines.append(f"- torch kernels, {cfg} float32 train: {', '.join(names)}")
    lines += [""] + [f"- skipped: {s}" for s in data["skipped"]]
    lines += [f"- error: {e['where']}: {e['error']}" for e in data["errors"]]
    return "\n".join(lines) + "\n"


def failed(data: dict) -> bool:
    """Whether anything raised, disagreed or failed (the exit status 1)."""
    tests = data.get("tests") or {}
    return bool(data["errors"]) or \
        any(r.get("ok") is False for r in data["bench"] + data["reference_check"]) or \
        bool(tests.get("error")) or bool(tests.get("returncode")) or \
        bool((tests.get("counts") or {}).get("failed"))


# -- main ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true",
                   help="tiny sizes (T=3, B=2, I=3, H=4), one sample; the CUDA simulator "
                        "when there is no GPU")
    p.add_argument("--skip-tests", action="store_true", help="do not run pytest tests/cuda")
    p.add_argument("--budget-s", type=float, default=540.0,
                   help="start no new work after this many seconds (default 540)")
    p.add_argument("--tests-timeout", type=float, default=150.0,
                   help="the most seconds pytest tests/cuda may take (default 150)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "gpu-latest.json"),
                   help="the JSON results, rewritten as they come "
                        "(default bench/results/gpu-latest.json)")
    p.add_argument("--configs", type=name_list(list(BENCH_CONFIGS)),
                   help=f"of {','.join(BENCH_CONFIGS)} (default all; ignored with --tiny)")
    p.add_argument("--tasks", type=name_list(TASKS), default=list(TASKS),
                   help=f"of {','.join(TASKS)} (default all)")
    p.add_argument("--dtypes", type=name_list(DTYPES), default=list(DTYPES),
                   help="of float32,float64 (default both)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed samples per cell; the median is reported (default 5, "
                        "tiny 1)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds of one sample's inner loop (default 0.05, tiny 0)")
    p.add_argument("--no-profile", action="store_true",
                   help="skip the torch.profiler list of torch's kernels")
    return p


def _choose_target(tiny: bool) -> str | None:
    """Set NUMBA_ENABLE_CUDASIM before numba.cuda is imported: the simulator for --tiny
    without a GPU. Returns why the run cannot start, or None."""
    status = gpu.probe()
    if tiny:
        if not status.usable or status.simulator:
            os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        return None
    if not status.usable:
        return f"real sizes need a GPU: {status.reason} (--tiny runs on the simulator)"
    if status.simulator:
        return "real sizes on the CUDA simulator would take hours: unset " \
               "NUMBA_ENABLE_CUDASIM, or use --tiny"
    return None


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)          # unwinds through main's finally: JSON and tables


def main(argv: list[str] | None = None) -> int:
    global cuda
    args = build_parser().parse_args(argv)
    run = Run(args.out, args.budget_s, sys.argv[:1] + (argv or sys.argv[1:]))
    run.data["tiny"] = args.tiny
    signal.signal(signal.SIGTERM, _terminate)
    why_not = _choose_target(args.tiny)
    if why_not:
        run.data["errors"].append({"where": "start", "error": why_not})
        run.save()
        print(f"bench/gpu.py: {why_not}", file=sys.stderr)
        return 2
    configs = TINY_CONFIGS if args.tiny else \
        {k: BENCH_CONFIGS[k] for k in (args.configs or BENCH_CONFIGS)}
    ref_configs = TINY_CONFIGS if args.tiny else \
        {k: BENCH_CONFIGS[k] for k in REFERENCE_CONFIGS}
    samples, min_time = (1, 0.0) if args.tiny else (max(1, args.repeats), args.min_time)
    run.note(NO_ALGO)
    run.note(NO_MODEL)
    # NOTE: small grids are the point at S1 and S3; numba would warn at every new size
    os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")
    try:
        from numba import cuda as numba_cuda
        cuda = numba_cuda
        torch = None
        try:
            import torch
        except ImportError as err:
            run.note(f"torch: not installed ({err})")
        with section(run, "environment"):
            environment(run, torch)
        K = None
        with section(run, "backend"):
            from nongate_np.kernels import registry
            try:
                with registry.backend("cuda") as K:
                    pass
            except registry.BackendUnavailable as err:
                K = None
                run.note(f"ours: {err}")
                raise
        if K is not None:
            with section(run, "reference_check"):
                reference_check(run, K, ref_configs)
        if not args.skip_tests and not run.over("tests"):
            with section(run, "tests"):
                run_tests(run, max(10.0, min(args.tests_timeout, run.left())))
        with section(run, "bench"):
            bench(run, K, torch, configs, args.tasks, args.dtypes, samples, min_time)
        if torch is not None and torch.cuda.is_available() and not args.no_profile:
            with section(run, "torch_kernels"):
                torch_kernels(run, torch, configs)
        run.data["finished"] = True
    finally:
        run.data["markdown"] = markdown(run.data)
        run.save()
        with open(os.path.splitext(run.out)[0] + ".md", "w") as f:
            f.write(run.data["markdown"])
        print(run.data["markdown"], flush=True)
    return 1 if failed(run.data) else 0


if __name__ == "__main__":
    sys.exit(main())
