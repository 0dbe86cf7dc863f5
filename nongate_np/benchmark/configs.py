"""What the benchmark measures: the model sizes, the tasks, the contenders and the goals.

The configurations (the yardsticks every run compares on; the LSTM, and the GRU of the
``gru_*`` tasks, is one layer, one direction, PyTorch layout, input ``x`` of shape
(T, B, I), hidden size H):

======  ====  ====  =====  =====  ==============================================
name    T     B     I      H      regime
======  ====  ====  =====  =====  ==============================================
S1      64    1     16     32     per-step overhead (one sequence)
S3      100   8     64     64     per-step overhead
M1      100   32    128    128    transcendentals + small matrix products
M2      100   32    128    256    mixed
L1      100   64    512    512    bound by the matrix products (GEMM)
L2      32    64    1024   1024   bound by the matrix products (GEMM)
======  ====  ====  =====  =====  ==============================================

T: steps, B: sequences in the batch, I: input features, H: hidden size.
"""

from __future__ import annotations

#: name -> (T, B, I, H); see the table above
CONFIGS = {"S1": (64, 1, 16, 32), "S3": (100, 8, 64, 64), "M1": (100, 32, 128, 128),
           "M2": (100, 32, 128, 256), "L1": (100, 64, 512, 512), "L2": (32, 64, 1024, 1024)}
#: infer: forward under no_grad; train: forward + backward of the LSTM; train_attn: the
#: same through the LSTM and gated attention pooling
LSTM_TASKS = ("infer", "train", "train_attn")
#: gru_infer, gru_train: the same as infer and train with a GRU (nn.GRU) in the LSTM's place.
#: Run only when ``--tasks`` names them (not in FULL: a full run stays the LSTM's)
GRU_TASKS = ("gru_infer", "gru_train")
TASKS = LSTM_TASKS + GRU_TASKS
#: the tasks ONNX Runtime runs (it has no training): the others are skipped, with this reason
ONNX_TASKS = ("infer", "gru_infer")
DTYPES = ("float32", "float64")
#: ours with the "numba" and the "numpy" backend, PyTorch CPU, ONNX Runtime (inference)
CONTENDERS = ("numba", "numpy", "torch", "onnx")
#: the thread-count variables every worker's environment sets before numpy is imported
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: what ``--quick`` measures unless an option says otherwise
QUICK = {"configs": ("S1", "M1"), "dtypes": ("float32",), "tasks": ("infer", "train"),
         "contenders": ("numba", "torch"), "repeats": 2, "samples": 3, "min_time": 0.01}
#: what a full run measures unless an option says otherwise
FULL = {"configs": tuple(CONFIGS), "dtypes": DTYPES, "tasks": LSTM_TASKS,
        "contenders": CONTENDERS, "repeats": 5, "samples": 5, "min_time": 0.05}

#: issue 16's goals: (dtype, task) -> {config: torch time / ours at least}; none for the GRU
GOALS = {("float32", "train_attn"): dict(S1=3, S3=1.2, M1=1.2, M2=1.2, L1=1.05, L2=1.05),
         ("float32", "infer"): dict(S1=3, S3=1.0, M1=1.0, M2=1.0, L1=1.0, L2=1.0),
         ("float64", "train_attn"): {cfg: 1.5 for cfg in CONFIGS}}
#: ours at least ONNX Runtime's speed (ONNX Runtime time / ours at least this)
ONNX_GOALS = {("float32", "infer"): dict(S3=1.0, M1=1.0)}
#: the Numba backend at least this many times the NumPy backend's speed, every task timed
#: but the GRU's (which has no goals)
NUMPY_GOALS = {"M1": 5.0}
#: a cold compile (fresh cache) of every kernel a model uses, per dtype, at most (s)
COMPILE_GOAL_S = 10.0
#: beside another process's two-thread BLAS loop (--load blas2), each torch/ours ratio at
#: least this fraction of its idle value
LOADED_GOAL = 0.7

def task_gflop(cfg: str, task: str) -> float:
    """GFLOP of a task's matrix products.

    The LSTM's products 2·T·B·4H·(I+H) once for ``infer`` and three times for training
    (forward, input and weight gradients), plus for ``train_attn`` the gated attention's two
    projections (attention size H/2), also three times; the GRU's 2·T·B·3H·(I+H) once for
    ``gru_infer``, three times for ``gru_train``. Element-wise work is not counted.
    """
    T, B, I, H = CONFIGS[cfg]
    passes = 1 if task in ("infer", "gru_infer") else 3
    gates = 3 if task in GRU_TASKS else 4
    flops = passes * 2 * T * B * gates * H * (I + H)
    if task == "train_attn":
        flops += passes * 2 * T * B * H * (H // 2) * 2
    return flops / 1e9
