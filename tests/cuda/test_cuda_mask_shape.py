"""On the GPU (the simulator without one) as on the CPU: the mask ops (~, &, |, ^,
logical_*, any, all, masked_fill, sign) and the shape ops (expand, repeat, chunk, split, t,
flip, index_select, cumsum, new_*), values, dtypes and gradients (docs/math.md E8, E16a,
E17a, E29)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

X = np.array([[1.5, -2.0, 0.0], [2.0, np.nan, -0.5]])
MASK = np.array([True, False, True])


def _host(a):
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


@pytest.mark.parametrize("what, fn", [
    ("~(x > 0)", lambda t: ~(t > 0)),
    ("(x > 0) & mask", lambda t: (t > 0) & ng.tensor(MASK, device=t.device)),
    ("mask | (x > 0)", lambda t: ng.tensor(MASK, device=t.device) | (t > 0)),
    ("(x > 0) ^ True", lambda t: (t > 0) ^ True),
    ("int ~, &", lambda t: ~(t > 0).long() & 3),
    ("logical_and", lambda t: ng.logical_and(t, t > 1)),
    ("logical_or", lambda t: t.logical_or(0.0)),
    ("logical_xor", lambda t: ng.logical_xor(t, t < 0)),
    ("logical_not", lambda t: t.logical_not()),
    ("any(1)", lambda t: t.any(1)),
    ("all(0, keepdim)", lambda t: (t != 0).all(0, keepdim=True)),
    ("all()", lambda t: ng.all(t)),
])
def test_mask_ops_on_gpu_as_on_cpu(what, fn):
    want = fn(ng.tensor(X)).numpy()
    got = fn(ng.tensor(X, device="cuda"))
    assert got.device == "cuda" and got.dtype == want.dtype, what
    np.testing.assert_array_equal(got.numpy(), want, err_msg=what)


W = np.arange(1.0, 7.0).reshape(2, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("what, fn", [
    ("masked_fill", lambda t: t.masked_fill(ng.tensor(MASK, device=t.device), -1.0)),
    ("sign", lambda t: ng.sign(t) + t),
    ("expand", lambda t: t[:, :1].expand(2, 2, 4)),
    ("repeat", lambda t: t.repeat(2, 1, 2)),
    ("chunk", lambda t: ng.cat([p * (k + 1.0) for k, p in enumerate(t.chunk(2, 1))], 1)),
    ("split", lambda t: ng.cat([p * (k + 1.0) for k, p in enumerate(t.split([1, 1], 0))])),
    ("t", lambda t: t.t()),
    ("flip", lambda t: t.flip(0, 1)),
    ("index_select", lambda t: t.index_select(1, [2, 0, 2])),
    ("cumsum", lambda t: t.cumsum(1)),
])
def test_shape_ops_and_gradients_on_gpu_as_on_cpu(what, fn, dtype):
    x = np.where(np.isnan(X), 0.75, X).astype(dtype)
    results = []
    for device in ("cpu", "cuda"):
        t = ng.tensor(x, device=device, requires_grad=True)
        out = fn(t)
        assert out.device == device and out.dtype == dtype, what
        out.backward(ng.tensor(np.arange(1.0, out.size + 1).reshape(out.shape).astype(dtype),
                               device=device))
        results.append((out.numpy(), _host(t.grad)))
    (cpu_y, cpu_g), (gpu_y, gpu_g) = results
    np.testing.assert_allclose(gpu_y, cpu_y, rtol=1e-6, err_msg=f"{what}: value")
    np.testing.assert_allclose(gpu_g, cpu_g, rtol=1e-6, err_msg=f"{what}: gradient")


def test_new_factories_on_gpu():
    x = ng.tensor(np.ones(2, np.float32), device="cuda")
    for y, value in [(x.new_zeros(2, 3), 0.0), (x.new_ones((3,)), 1.0),
                     (x.new_full((2,), 2.5), 2.5)]:
        assert y.device == "cuda" and y.dtype == np.float32
        np.testing.assert_array_equal(y.numpy(), np.full(y.shape, value, np.float32))
