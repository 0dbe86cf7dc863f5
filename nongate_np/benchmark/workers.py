"""Subprocess workers of the benchmark: one contender (or one measurement) per process.

Each contender builds only the models its tasks need: the LSTM (and its gated attention
pooling) for ``infer``, ``train``, ``train_attn``; the GRU for ``gru_infer``, ``gru_train``.

Started by :mod:`nongate_np.benchmark.run` as ``python -m nongate_np.benchmark --worker KIND
ARGS_JSON``; each prints one JSON object on its last stdout line. The parent puts the thread
counts (``configs.THREAD_VARS``) in the worker's environment, so they hold before numpy is
imported. Nothing here imports torch unless the worker is a torch, ONNX or validation one,
and nothing imports numba unless it runs our "numba" backend, so each contender's thread
pools have the process to themselves.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time

from .configs import CONFIGS, GRU_TASKS, LSTM_TASKS, ONNX_TASKS


# -- shared weights and data (numpy only; torch's layout and initialisation) ----------------
def make_state(cfg: str, dtype: str, seed: int = 0):
    import numpy as np
    T, B, I, H = CONFIGS[cfg]
    A = max(1, H // 2)
    rng = np.random.default_rng(seed)
    u = lambda shape, k: rng.uniform(-k, k, shape).astype(dtype)  # noqa: E731
    k = 1 / math.sqrt(H)
    lstm = {"weight_ih_l0": u((4 * H, I), k), "weight_hh_l0": u((4 * H, H), k),
            "bias_ih_l0": u((4 * H,), k), "bias_hh_l0": u((4 * H,), k)}
    kd = 1 / math.sqrt(H)
    attn = {"proj.weight": u((A, H), kd), "proj.bias": u((A,), kd),
            "gate.weight": u((A, H), kd), "gate.bias": u((A,), kd),
            "query": u((1, A), 1 / math.sqrt(A))}
    x = rng.standard_normal((T, B, I)).astype(dtype)
    return lstm, attn, x


def make_gru_state(cfg: str, dtype: str, seed: int = 0):
    """The GRU tasks' weights (torch's names and U(-1/√H, 1/√H)) and input x (T, B, I)."""
    import numpy as np
    T, B, I, H = CONFIGS[cfg]
    rng = np.random.default_rng(seed)
    u = lambda shape, k: rng.uniform(-k, k, shape).astype(dtype)  # noqa: E731
    k = 1 / math.sqrt(H)
    gru = {"weight_ih_l0": u((3 * H, I), k), "weight_hh_l0": u((3 * H, H), k),
           "bias_ih_l0": u((3 * H,), k), "bias_hh_l0": u((3 * H,), k)}
    return gru, rng.standard_normal((T, B, I)).astype(dtype)


# -- contenders: each returns {task: step()} ------------------------------------------------
def ours_steps(cfg, dtype, lstm_sd=None, attn_sd=None, x=None):
    import numpy as np

    import nongate_np as ng
    T, B, I, H = CONFIGS[cfg]
    if lstm_sd is None:
        lstm_sd, attn_sd, x = make_state(cfg, dtype)
    lstm = ng.nn.LSTM(I, H, dtype=np.dtype(dtype).type)
    lstm.load_state_dict(lstm_sd)
    pool = ng.nn.AttentionPooling(H, max(1, H // 2), kind="gated", dtype=np.dtype(dtype).type)
    pool.load_state_dict(attn_sd)
    mods = {"lstm": lstm, "pool": pool}

    def infer():
        with ng.no_grad():
            y, (h, c) = lstm(x)
        return {"y": y, "h": h, "c": c}

    def train():
        lstm.zero_grad()
        xt = ng.Tensor(x, requires_grad=True)
        y, _ = lstm(xt)
        y.sum().backward()
        return {"y": y, "x.grad": xt.grad,
                **{"lstm." + n: p.grad for n, p in lstm.named_parameters()}}

    def train_attn():
        lstm.zero_grad()
        pool.zero_grad()
        xt = ng.Tensor(x, requires_grad=True)
        y, _ = lstm(xt)
        pooled, w = pool(y.transpose(0, 1))
        pooled.sum().backward()
        return {"pooled": pooled, "weights": w, "x.grad": xt.grad,
                **{"lstm." + n: p.grad for n, p in lstm.named_parameters()},
                **{"pool." + n: p.grad for n, p in pool.named_parameters()}}
    return {"infer": infer, "train": train, "train_attn": train_attn}, mods


def torch_steps(cfg, dtype, lstm_sd=None, attn_sd=None, x=None, threads=2):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    T, B, I, H = CONFIGS[cfg]
    if lstm_sd is None:
        lstm_sd, attn_sd, x = make_state(cfg, dtype)
    tdt = getattr(torch, dtype)
    lstm = torch.nn.LSTM(I, H, dtype=tdt)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm_sd.items()})
    ap = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in attn_sd.items()}
    xt0 = torch.from_numpy(x)

    def pool(h):  # h (B, T, D): gated attention pooling (Ilse et al.) in torch ops
        u = torch.tanh(F.linear(h, ap["proj.weight"], ap["proj.bias"])) * \
            torch.sigmoid(F.linear(h, ap["gate.weight"], ap["gate.bias"]))
        w = torch.softmax(u @ ap["query"].T, dim=1).transpose(1, 2)   # (B, 1, T)
        return w @ h, w

    def infer():
        with torch.no_grad():
            y, (h, c) = lstm(xt0)
        return {"y": y, "h": h, "c": c}

    def zero():
        for p in list(lstm.parameters()) + list(ap.values()):
            p.grad = None

    def train():
        zero()
        xt = xt0.clone().requires_grad_(True)
        y, _ = lstm(xt)
        y.sum().backward()
        return {"y": y, "x.grad": xt.grad,
                **{"lstm." + n: p.grad for n, p in lstm.named_parameters()}}

    def train_attn():
        zero()
        xt = xt0.clone().requires_grad_(True)
        y, _ = lstm(xt)
        pooled, w = pool(y.transpose(0, 1))
        pooled.sum().backward()
        return {"pooled": pooled, "weights": w, "x.grad": xt.grad,
                **{"lstm." + n: p.grad for n, p in lstm.named_parameters()},
                **{"pool." + n: p.grad for n, p in ap.items()}}
    return {"infer": infer, "train": train, "train_attn": train_attn}, lstm


def ours_gru_steps(cfg, dtype, gru_sd=None, x=None):
    """Ours' GRU tasks: ({"gru_infer": step, "gru_train": step}, the nn.GRU). The GRU runs
    the active backend's kernels (kernels/cpu/gru.py on "numba", kernels/gru_reference.py
    on "numpy")."""
    import numpy as np

    import nongate_np as ng
    T, B, I, H = CONFIGS[cfg]
    if gru_sd is None:
        gru_sd, x = make_gru_state(cfg, dtype)
    gru = ng.nn.GRU(I, H, dtype=np.dtype(dtype).type)
    gru.load_state_dict(gru_sd)

    def gru_infer():
        with ng.no_grad():
            y, h = gru(x)
        return {"y": y, "h": h}

    def gru_train():
        gru.zero_grad()
        xt = ng.Tensor(x, requires_grad=True)
        y, _ = gru(xt)
        y.sum().backward()
        return {"y": y, "x.grad": xt.grad,
                **{"gru." + n: p.grad for n, p in gru.named_parameters()}}
    return {"gru_infer": gru_infer, "gru_train": gru_train}, gru


def torch_gru_steps(cfg, dtype, gru_sd=None, x=None, threads=2):
    """torch's GRU tasks on the same weights and data: ({task: step}, the torch.nn.GRU)."""
    import torch
    torch.set_num_threads(threads)
    T, B, I, H = CONFIGS[cfg]
    if gru_sd is None:
        gru_sd, x = make_gru_state(cfg, dtype)
    gru = torch.nn.GRU(I, H, dtype=getattr(torch, dtype))
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in gru_sd.items()})
    xt0 = torch.from_numpy(x)

    def gru_infer():
        with torch.no_grad():
            y, h = gru(xt0)
        return {"y": y, "h": h}

    def gru_train():
        for p in gru.parameters():
            p.grad = None
        xt = xt0.clone().requires_grad_(True)
        y, _ = gru(xt)
        y.sum().backward()
        return {"y": y, "x.grad": xt.grad,
                **{"gru." + n: p.grad for n, p in gru.named_parameters()}}
    return {"gru_infer": gru_infer, "gru_train": gru_train}, gru


def onnx_steps(cfg, dtype, tasks=("infer",), threads=2):
    """ONNX Runtime on torch's exported LSTM (``infer``) and GRU (``gru_infer``), float32:
    ({task: step}, {task: why it is skipped}) for ``tasks``. An export that fails skips
    its task with torch's error as the reason."""
    import onnxruntime as ort  # noqa: F401  (ImportError -> unavailable)
    import torch
    torch.set_num_threads(1)
    T, B, I, H = CONFIGS[cfg]
    steps, skipped = {}, {}
    for task in tasks:
        if dtype != "float32":
            skipped[task] = "the ONNX Runtime contender runs float32 only"
        elif task not in ONNX_TASKS:
            skipped[task] = "ONNX Runtime runs inference only"
        else:
            if task == "infer":
                sd, _, x = make_state(cfg, dtype)
                model, outputs = torch.nn.LSTM(I, H, dtype=torch.float32), ["y", "h", "c"]
            else:
                sd, x = make_gru_state(cfg, dtype)
                model, outputs = torch.nn.GRU(I, H, dtype=torch.float32), ["y", "h"]
            model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
            try:
                sess = _onnx_session(model, x, outputs, threads)
            except Exception as err:  # reported: the skip's reason
                skipped[task] = (f"torch.onnx could not export {type(model).__name__}: "
                                 f"{type(err).__name__}: {str(err)[:300]}")
                continue
            steps[task] = _onnx_step(sess, x, outputs)
    return steps, skipped


def _onnx_session(model, x, outputs, threads):
    """An ONNX Runtime session (``threads`` intra-op threads) of torch's export of
    ``model`` called on ``x`` (the legacy TorchScript exporter, ``dynamo=False``)."""
    import tempfile
    import warnings

    import onnxruntime as ort
    import torch
    path = os.path.join(tempfile.mkdtemp(prefix="nongate_onnx_"), "model.onnx")
    with warnings.catch_warnings():
        # NOTE: the legacy exporter's deprecation and tracer warnings, about a fixed model
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), path, input_names=["x"],
                          output_names=outputs, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _onnx_step(sess, x, outputs):
    def infer():
        return dict(zip(outputs, sess.run(None, {"x": x})))
    return infer


def contender_steps(contender, cfg, dtype, tasks, threads=2):
    """One contender's ``({task: step}, {task: why it is skipped})`` for ``tasks`` at one
    config and dtype, building only the models those tasks need (the LSTM and its pooling,
    the GRU). ImportError when the contender's package is missing."""
    steps: dict = {}
    skipped: dict = {}
    lstm, gru = (any(t in family for t in tasks) for family in (LSTM_TASKS, GRU_TASKS))
    if contender == "onnx":
        steps, skipped = onnx_steps(cfg, dtype, tasks, threads=threads)
    elif contender == "torch":
        if lstm:
            steps.update(torch_steps(cfg, dtype, threads=threads)[0])
        if gru:
            steps.update(torch_gru_steps(cfg, dtype, threads=threads)[0])
    else:
        if lstm:
            steps.update(ours_steps(cfg, dtype)[0])
        if gru:
            steps.update(ours_gru_steps(cfg, dtype)[0])
    return {t: steps[t] for t in tasks if t in steps}, skipped


# -- timing ---------------------------------------------------------------------------------
def measure(fn, min_time: float, samples: int) -> dict:
    """Median ms per call over ``samples`` samples, each an inner loop of >= min_time s;
    ``first_ms`` is the warm-up call (for ours: the kernels' load from the Numba cache, or
    their compile)."""
    t = time.perf_counter()
    fn()                                        # warm-up (allocations, JIT, thread pools)
    first = time.perf_counter() - t
    t = time.perf_counter()
    fn()
    one = time.perf_counter() - t
    n = max(1, math.ceil(min_time / max(one, 1e-7)))
    per = []
    for _ in range(samples):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        per.append((time.perf_counter() - t) / n * 1e3)
    per.sort()
    mid = len(per) // 2
    med = per[mid] if len(per) % 2 else 0.5 * (per[mid - 1] + per[mid])
    return {"ms": med, "min": per[0], "max": per[-1], "inner": n, "first_ms": first * 1e3}


def w_time(a) -> dict:
    """{config: {"dtype/task": measure(...)}} of one contender over ``a["configs"]``, and
    under ``"skipped"`` {config: {"dtype/task": reason}} for the cells it does not run."""
    contender, out = a["contender"], {}
    if contender in ("numba", "numpy"):
        from nongate_np.kernels.registry import BackendUnavailable, set_global_backend
        try:
            set_global_backend(contender)
        except BackendUnavailable as err:
            return {"unavailable": str(err)}
    skipped: dict = {}
    for cfg in a["configs"]:
        cell = out[cfg] = {}
        for dtype in a["dtypes"]:
            try:
                steps, why = contender_steps(contender, cfg, dtype, a["tasks"], a["threads"])
            except ImportError as err:
                return {"unavailable": f"{type(err).__name__}: {err}"}
            for task, reason in why.items():
                skipped.setdefault(cfg, {})[f"{dtype}/{task}"] = reason
            for task, step in steps.items():
                cell[f"{dtype}/{task}"] = measure(step, a["min_time"], a["samples"])
    if skipped:
        out["skipped"] = skipped
    return out


# -- other measurements ---------------------------------------------------------------------
def _np(v):
    import numpy as np
    if v is None:
        return None
    if hasattr(v, "detach"):      # torch tensor or nongate_np Tensor
        return np.asarray(v.detach().numpy())
    return np.asarray(v)


def w_validate(a) -> dict:
    """Ours vs torch on the same weights (torch's state_dict loaded into ours) and data, for
    the LSTM's tasks and the GRU's (each model built only when its tasks are asked for):
    {config: {backend: {"dtype/task": {"max_abs_diff", "worst", "scale", "ok"}}}}."""
    try:
        import torch
    except ImportError as err:
        return {"unavailable": f"the check against PyTorch needs torch ({err})"}
    from nongate_np.kernels.registry import BackendUnavailable, backend
    out = {}
    lstm, gru = (any(t in family for t in a["tasks"]) for family in (LSTM_TASKS, GRU_TASKS))
    for cfg in a["configs"]:
        for dtype in a["dtypes"]:
            tsteps = {}
            if lstm:
                torch.manual_seed(0)
                _, tlstm = torch_steps(cfg, dtype, threads=a["threads"])
                lstm_sd = {k: v.detach().numpy().copy() for k, v in tlstm.state_dict().items()}
                _, attn_sd, x = make_state(cfg, dtype)
                tsteps.update(torch_steps(cfg, dtype, lstm_sd, attn_sd, x,
                                          threads=a["threads"])[0])
            if gru:
                gru_sd, xg = make_gru_state(cfg, dtype)
                tsteps.update(torch_gru_steps(cfg, dtype, gru_sd, xg, threads=a["threads"])[0])
            ref = {task: {k: _np(v) for k, v in tsteps[task]().items()} for task in a["tasks"]}
            for name in a["backends"]:
                try:
                    with backend(name):
                        steps = {}
                        if lstm:
                            steps.update(ours_steps(cfg, dtype, lstm_sd, attn_sd, x)[0])
                        if gru:
                            steps.update(ours_gru_steps(cfg, dtype, gru_sd, xg)[0])
                        got = {task: {k: _np(v) for k, v in steps[task]().items()}
                               for task in a["tasks"]}
                except BackendUnavailable as err:
                    out.setdefault(cfg, {})[name] = {"unavailable": str(err)}
                    continue
                tol = 2e-3 if dtype == "float32" else 1e-9
                for task in a["tasks"]:
                    out.setdefault(cfg, {}).setdefault(name, {})[f"{dtype}/{task}"] = \
                        _compare(ref[task], got[task], tol)
    return out


def _compare(ref: dict, got: dict, tol: float) -> dict:
    """The largest |got - ref| over every output and gradient, relative to max(1, |ref|)."""
    import numpy as np
    worst, where, scale = 0.0, None, 1.0
    for k, r in ref.items():
        g = got.get(k)
        if g is None or np.shape(g) != np.shape(r):
            worst, where = float("inf"), f"{k}: missing or shape {np.shape(g)}"
            break
        d = float(np.max(np.abs(g.astype(np.float64) - r))) if r.size else 0.0
        s = max(1.0, float(np.max(np.abs(r))) if r.size else 1.0)
        if d / s > worst / scale:
            worst, where, scale = d, k, s
    return {"max_abs_diff": worst if math.isfinite(worst) else None, "worst": where,
            "scale": scale, "ok": bool(worst <= tol * scale)}


def w_gemm(a) -> dict:
    """GFLOP/s of one numpy matmul 1024 x 1024 x 1024 per dtype (the BLAS behind it: the
    worker's ``host`` record)."""
    import numpy as np
    n, res = 1024, {}
    for dtype in a["dtypes"]:
        rng = np.random.default_rng(0)
        x, y = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        r = measure(lambda: x @ y, a["min_time"], a["samples"])
        res[dtype] = {"ms": r["ms"], "gflops": 2 * n ** 3 / (r["ms"] * 1e-3) / 1e9}
    res["numpy"] = np.__version__
    return res


def w_mem(a) -> dict:
    """ru_maxrss delta (MiB) of one training step; baseline after model + input creation."""
    import gc
    contender, cfg, dtype = a["contender"], a["config"], a["dtype"]
    if contender == "torch":
        steps, _ = torch_steps(cfg, dtype, threads=a["threads"])
    else:
        from nongate_np.kernels.registry import BackendUnavailable, set_global_backend
        try:
            set_global_backend(contender)
        except BackendUnavailable as err:
            return {"unavailable": str(err)}
        steps, _ = ours_steps(cfg, dtype)
    gc.collect()
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # noqa: E731
    base = rss()
    steps[a["task"]]()
    first = rss() - base
    for _ in range(2):
        steps[a["task"]]()
    return {"baseline_mib": base, "delta_first_mib": first, "delta_3_mib": rss() - base}


def w_jit(a) -> dict:
    """First-call time of the numba kernels (compile from a cold or warm NUMBA_CACHE_DIR)."""
    import numpy as np
    t = time.perf_counter()
    try:
        import nongate_np.kernels.cpu as K
        from nongate_np.kernels.contract import LSTMParams, LSTMState
    except ImportError as err:
        return {"unavailable": str(err)}
    out = {"import_ms": (time.perf_counter() - t) * 1e3,
           "cache_dir": os.environ.get("NUMBA_CACHE_DIR")}
    from nongate_np.kernels.registry import BackendUnavailable, set_global_backend
    try:
        set_global_backend("numba")
        full = True
    except BackendUnavailable as err:
        full = False
        out["note"] = f"whole backend unavailable ({err}); timed the LSTM kernels only"
    for dtype in a.get("dtypes", ("float32", "float64")):
        if full:
            # every kernel of the backend for this dtype: one LSTM + gated attention training
            # step at S1 (the serial step loops, single-call products), then at M1 (the step
            # loops split over threads, the split products); each compiles what it meets first
            parts = {}
            for cfg in ("S1", "M1"):
                fn = ours_steps(cfg, dtype)[0]["train_attn"]
                t = time.perf_counter()
                fn()
                parts[cfg] = (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            fn()
            out[dtype] = {"first_call_ms": sum(parts.values()), "small_sizes_ms": parts["S1"],
                          "threaded_ms": parts["M1"],
                          "second_call_ms": (time.perf_counter() - t) * 1e3}
            continue
        T, B, I, H = 8, 2, 4, 8
        rng = np.random.default_rng(0)
        x = rng.standard_normal((T, B, I)).astype(dtype)
        h0, c0 = np.zeros((B, H), dtype), np.zeros((B, H), dtype)
        w_ih = rng.standard_normal((4 * H, I)).astype(dtype)
        w_hh = rng.standard_normal((4 * H, H)).astype(dtype)
        b = np.zeros(4 * H, dtype)

        state0, params = LSTMState(h0, c0), LSTMParams(w_ih, w_hh, b)

        def fn():
            y, state, cache = K.lstm_forward(x, state0, params, None, False, True)
            K.lstm_backward(cache, np.ones_like(y), LSTMState(*map(np.zeros_like, state)))
        t = time.perf_counter()
        fn()
        first = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        fn()
        out[dtype] = {"first_call_ms": first, "second_call_ms": (time.perf_counter() - t) * 1e3}
    return out


WORKERS = {"time": w_time, "validate": w_validate, "gemm": w_gemm, "mem": w_mem, "jit": w_jit}
#: the workers whose result also says what the process ran on (host.worker_record), and
#: as which contender when the arguments do not say
RECORDED = {"time": None, "gemm": "numpy", "jit": "numba"}


def main(kind: str, args_json: str) -> None:
    a = json.loads(args_json)
    try:
        res = WORKERS[kind](a)
        if kind in RECORDED and "unavailable" not in res:
            from .host import worker_record
            res["host"] = worker_record(a.get("contender") or RECORDED[kind])
    except Exception as err:  # reported, not fatal: the parent marks the cell as an error
        import traceback
        res = {"error": f"{type(err).__name__}: {err}",
               "traceback": traceback.format_exc()[-2000:]}
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    sys.stdout.flush()
