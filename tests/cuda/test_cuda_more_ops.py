"""log1p, expm1 (the unary kernel's new op codes), square, erf, softplus, elu, tril, triu and
prod (its products on the host) on the GPU (the simulator without one): values and
gradients equal the CPU's, the results and gradients stay on the device; type_as and
as_tensor move to the other tensor's device."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
import nongate_np.nn.functional as F  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

X = np.array([[-800.0, -3.0, -0.5, -1e-9, 0.0],
              [1e-9, 0.25, 2.0, 30.0, np.nan],
              [-0.0, 0.0, -2.0, 5.0, 1.5],
              [0.0, 0.75, 0.0, -1.25, 3.0]])

OPS = {
    "log1p": ng.log1p, "expm1": ng.expm1, "square": ng.square, "erf": ng.erf,
    "softplus": F.softplus, "softplus(2, 10)": lambda t: F.softplus(t, 2.0, 10.0),
    "elu": F.elu, "elu(0.5)": lambda t: F.elu(t, 0.5), "tril": ng.tril,
    "triu(1)": lambda t: ng.triu(t, 1), "tril(-2) batched": lambda t: ng.tril(
        ng.reshape(t, (2, 2, 5)), -2),
    "prod": ng.prod, "prod(1)": lambda t: ng.prod(t, 1), "prod(0, keepdim)": lambda t:
        t.prod(0, keepdim=True),
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
    x = X.copy()
    if name == "log1p":
        x[0, 0] = -1.0                                     # -inf, and an inf gradient
    # NOTE: float32's atol: expm1's gradient dy (y + 1) turns a 1-ulp difference in y near
    # -1 (the device's expm1f and NumPy's) into a relative one of e^{-x} ulp (E5a)
    rtol, atol = (1e-15, 1e-300) if dtype == np.float64 else (1e-6, 16 * 2**-23)
    got, want = _run(OPS[name], x, "cuda", dtype), _run(OPS[name], x, "cpu", dtype)
    for g, w, part in zip(got, want, ("value", "gradient")):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{name} {part}")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{name} {part}")


def test_prod_with_zeros_on_the_gpu():
    """E9a's products of the others, exact at zeros, computed on the host and moved back."""
    leaf = ng.tensor(np.array([[1.5, 0.0, 2.0], [0.0, 3.0, 0.0]]), requires_grad=True)
    ng.prod(leaf.to("cuda"), 1).sum().backward()
    np.testing.assert_array_equal(leaf.grad, [[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])


def test_type_as_and_as_tensor_take_the_device():
    other = ng.zeros(1, dtype=np.float32).to("cuda")
    x = ng.tensor([1.5, -2.0], requires_grad=True)
    y = x.type_as(other)
    assert y.device == "cuda" and y.dtype == np.float32 and y.type() == "torch.cuda.FloatTensor"
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    t = ng.as_tensor(np.arange(3.0), device="cuda")
    assert t.device == "cuda" and t.to("cpu").tolist() == [0.0, 1.0, 2.0]
    assert ng.as_tensor(t) is t and ng.as_tensor(t, device="cuda") is t
