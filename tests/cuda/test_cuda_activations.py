"""logsigmoid, mish, softsign, tanhshrink, glu, selu, celu, hardtanh, relu6, hardsigmoid,
hardswish, softshrink, hardshrink, threshold, rrelu and prelu (its weight's gradient too)
on the GPU (the simulator without one): values and gradients equal the CPU's, the results
and gradients stay on the device, the kinks and ±inf, NaN included."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
import nongate_np.nn.functional as F  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

# inf · 0, inf / inf, overflow: the simulator runs the kernels' arithmetic on NumPy scalars
# in threads that do not inherit the ops' np.errstate, so it warns where a GPU does not (and
# where the CPU's ops, under @ieee, do not); the values are checked
pytestmark = [pytest.mark.filterwarnings(f"ignore:{w}:RuntimeWarning") for w in (
    "invalid value encountered", "overflow encountered", "divide by zero encountered")]

X = np.array([[-np.inf, -800.0, -3.0, -0.5, -0.0, 0.0],
              [0.5, 3.0, 6.0, 30.0, np.inf, np.nan],
              [-1e4, -6.0, -1.0, 1e-9, 1.0, 1e4],
              [-2.5, 0.25, -0.75, 2.0, 4.5, -1e-9]])

OPS = {
    "logsigmoid": F.logsigmoid, "mish": F.mish, "softsign": F.softsign,
    "tanhshrink": F.tanhshrink, "glu": F.glu, "glu(0)": lambda t: F.glu(t, 0),
    "selu": F.selu, "celu(0.5)": lambda t: F.celu(t, 0.5), "hardtanh": F.hardtanh,
    "hardtanh(-3, 6)": lambda t: F.hardtanh(t, -3.0, 6.0), "relu6": F.relu6,
    "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "softshrink": F.softshrink,
    "hardshrink(1)": lambda t: F.hardshrink(t, 1.0),
    "threshold": lambda t: F.threshold(t, 0.5, -2.0), "rrelu": F.rrelu,
}


def _run(op, x, device, dtype):
    leaf = ng.tensor(x.astype(dtype), requires_grad=True)
    y = op(leaf.to(device))
    assert y.device == device and y.dtype == dtype
    v = np.linspace(0.5, 2.0, y.size).reshape(y.shape).astype(dtype)
    y.backward(ng.tensor(v).to(device))
    return y.to("cpu").numpy(), leaf.grad


def _assert_same(got, want, dtype, what):
    rtol, atol = (1e-15, 1e-300) if dtype == np.float64 else (1e-6, 4 * 2**-23)
    for g, w, part in zip(got, want, ("value", "gradient")):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{what} {part}")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what} {part}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(OPS))
def test_on_the_gpu_equal_the_cpu_with_the_gradient(name, dtype):
    got, want = _run(OPS[name], X, "cuda", dtype), _run(OPS[name], X, "cpu", dtype)
    _assert_same(got, want, dtype, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prelu_on_the_gpu_with_the_weights_gradient(dtype):
    """One slope per channel (dim 1), the weight a device parameter."""
    x = X.reshape(2, 3, 4).astype(dtype)
    results = {}
    for device in ("cuda", "cpu"):
        w = ng.tensor(np.array([0.1, -0.2, 0.3], dtype), requires_grad=True)
        t = ng.tensor(x, requires_grad=True)
        wd = w.to(device)
        wd.retain_grad()
        y = F.prelu(t.to(device), wd)
        y.backward(ng.tensor(np.ones(y.shape, dtype)).to(device))
        assert y.device == device and wd.grad is not None
        results[device] = (y.to("cpu").numpy(), t.grad, w.grad)
    for g, w_, part in zip(results["cuda"], results["cpu"], ("value", "x", "weight")):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w_), err_msg=part)
        np.testing.assert_allclose(g, w_, rtol=1e-15 if dtype == np.float64 else 1e-6,
                                   err_msg=part)


def test_modules_on_the_gpu():
    """A PReLU moved to the device, and a stateless module, in a Sequential."""
    model = ng.nn.Sequential(ng.nn.PReLU(3, dtype=np.float64), ng.nn.Hardswish()).to("cuda")
    x = ng.tensor(X[:, :3].copy()).to("cuda")
    y = model(x)
    assert y.device == "cuda" and model[0].weight.device == "cuda"
    y.sum().backward()
    assert model[0].weight.grad is not None
