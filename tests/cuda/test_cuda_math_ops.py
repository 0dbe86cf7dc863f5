"""The ops of docs/math.md E32-E39 on the GPU (the simulator without one): tan … logaddexp,
atan2, hypot (the device kernels of elementwise_math), floor … frac, cumprod (on the host,
as cumsum), diagonal, diag_embed, diag, trace and roll (gathers on the device); values and
gradients equal the CPU's, results and gradients stay on the device; unique and the
factories' device= put their results there."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

# NOTE: the simulator runs the kernels' arithmetic on NumPy scalars in Python threads, which
# np.errstate does not reach: they warn for inf − inf, 0 · inf, x / 0 (a GPU is silent)
pytestmark = [pytest.mark.filterwarnings(f"ignore:{what} encountered:RuntimeWarning")
              for what in ("invalid value", "overflow", "divide by zero")]

X = np.array([[-800.0, -3.0, -0.5, -1e-9, 0.0, 0.25],
              [1e-9, 0.25, 2.0, 30.0, np.nan, 0.75],
              [-0.0, 1.0, -1.0, 5.0, 1.5, 0.5],
              [0.0, 0.75, 2.5, -1.25, 3.0, np.inf]])
Y = np.linspace(-2.0, 3.0, 6)

OPS = {
    **{name: getattr(ng, name) for name in (
        "tan", "atan", "asin", "acos", "sinh", "cosh", "asinh", "acosh", "atanh", "log2",
        "log10", "exp2", "rsqrt", "reciprocal", "erfc", "logit", "floor", "ceil", "trunc",
        "round", "frac", "trace", "diag")},
    "logit(eps)": lambda t: ng.logit(t, eps=0.1),
    "round(1)": lambda t: ng.round(t, decimals=1),
    "round(-1)": lambda t: ng.round(t, decimals=-1),
    "atan2": lambda t: ng.atan2(t, ng.tensor(Y).to(t.device).to(t.dtype)),
    "hypot": lambda t: ng.hypot(ng.tensor(Y).to(t.device).to(t.dtype), t),
    "logaddexp": lambda t: ng.logaddexp(t, ng.tensor(Y[:, None][:4]).to(t.device).to(t.dtype)),
    "cumprod(1)": lambda t: ng.cumprod(t, 1),
    "cumprod(0)": lambda t: t.cumprod(0),
    "diagonal(1)": lambda t: ng.diagonal(t, 1),
    "diag_embed": lambda t: ng.diag_embed(t, -1, 0, 2),
    "diag(-2)": lambda t: ng.diag(t, -2),
    "diag of a row": lambda t: ng.diag(t[1], 1),
    "roll": lambda t: ng.roll(t, (1, -2), (0, 1)),
    "roll flat": lambda t: t.roll(5),
}


def _run(op, x, device, dtype):
    leaf = ng.tensor(x.astype(dtype), requires_grad=True)
    y = op(leaf.to(device))
    assert y.device == device and y.dtype == dtype
    v = np.linspace(0.5, 2.0, y.size).reshape(y.shape).astype(dtype)
    y.backward(ng.tensor(v).to(device))
    return y.to("cpu").numpy(), leaf.grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(OPS))
def test_on_the_gpu_equal_the_cpu_with_the_gradient(name, dtype):
    rtol, atol = (1e-14, 1e-300) if dtype == np.float64 else (1e-5, 1e-30)
    with np.errstate(all="ignore"):
        got, want = _run(OPS[name], X, "cuda", dtype), _run(OPS[name], X, "cpu", dtype)
    for g, w, part in zip(got, want, ("value", "gradient")):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{name} {part}")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{name} {part}")


def test_cumprod_with_zeros_on_the_gpu():
    """E37's p_k S_k, exact at zeros, computed on the host and moved back."""
    leaf = ng.tensor(np.array([[2.0, 0.0, 3.0, 0.0, 5.0]]), requires_grad=True)
    ng.cumprod(leaf.to("cuda"), 1).backward(ng.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]).to("cuda"))
    np.testing.assert_array_equal(leaf.grad, [[1.0, 22.0, 0.0, 0.0, 0.0]])


def test_unique_and_factories_on_the_gpu():
    x = ng.tensor([3.0, 1.0, 3.0, np.nan]).to("cuda")
    values, inverse, counts = ng.unique(x, return_inverse=True, return_counts=True)
    assert values.device == inverse.device == counts.device == "cuda"
    np.testing.assert_array_equal(values.to("cpu").numpy(), [1.0, 3.0, np.nan])
    assert inverse.to("cpu").tolist() == [1, 0, 1, 2] and counts.to("cpu").tolist() == [1, 2, 1]
    for t in (ng.eye(2, 3, device="cuda"), ng.empty(2, device="cuda"),
              ng.randperm(4, device="cuda"), ng.empty_like(x)):
        assert t.device == "cuda"
    assert ng.empty_like(x, device="cpu").device == "cpu"
    np.testing.assert_array_equal(ng.eye(2, device="cuda").to("cpu").numpy(), np.eye(2))
