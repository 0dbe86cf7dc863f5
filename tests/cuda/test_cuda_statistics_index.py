"""On the GPU (the simulator without one) as on the CPU: var, std and norm (docs/math.md
E24-E25) with their gradients, zero spread and zero vectors included; gather (E26) with
repeated indices and topk (E27) with ties and NaN, values, indices and gradients."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

X = np.array([[1.5, -2.0, 0.25, 3.0], [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0]])


def _host(a):
    return a if isinstance(a, np.ndarray) else a.copy_to_host()


def _on_both(fn, x, dtype=np.float64):
    """fn's output and x's gradient (the output's backward against fixed weights), on the
    CPU and on the GPU."""
    results = []
    for device in ("cpu", "cuda"):
        t = ng.tensor(x.astype(dtype), device=device, requires_grad=True)
        out = fn(t)
        out.backward(ng.tensor(np.arange(1.0, out.size + 1).reshape(out.shape).astype(dtype),
                               device=device))
        assert out.device == device and out.dtype == dtype
        results.append((out.numpy(), _host(t.grad)))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("what, fn", [
    ("var(x, 1)", lambda t: ng.var(t, 1)),
    ("std(x, 1, keepdim)", lambda t: ng.std(t, 1, keepdim=True)),
    ("std(x, 0, correction=0)", lambda t: ng.std(t, 0, correction=0)),
    ("norm(x, 2, 1)", lambda t: ng.norm(t, 2, 1)),
    ("norm(x, 1, 0)", lambda t: ng.norm(t, 1, 0)),
    ("norm(x, 3)", lambda t: ng.norm(t, 3)),
    ("norm(x, inf, 1)", lambda t: ng.norm(t, np.inf, 1)),
    ("norm(x, -inf, 0)", lambda t: ng.norm(t, -np.inf, 0)),
])
def test_var_std_norm_on_the_gpu_equal_the_cpus(what, fn, dtype):
    (want, want_grad), (got, got_grad) = _on_both(fn, X, dtype)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=what)
    np.testing.assert_allclose(got_grad, want_grad, rtol=rtol, atol=0, err_msg=f"{what}: grad")


def test_gather_on_the_gpu_equals_the_cpus():
    index = np.array([[3, 3, 0], [1, 0, 1]])        # repeats: their gradients add up
    for idx in (index, ng.tensor(index, device="cuda")):
        (want, want_grad), (got, got_grad) = _on_both(lambda t: ng.gather(t, 1, idx), X)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_grad, want_grad)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_on_the_gpu_equals_the_cpus(largest):
    x = np.array([[1.0, np.nan, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    on_cpu, on_gpu = (ng.topk(ng.tensor(x, device=d), 3, largest=largest)
                      for d in ("cpu", "cuda"))
    assert on_gpu.indices.device == "cuda" and on_gpu.indices.dtype == np.int64
    np.testing.assert_array_equal(on_gpu.indices.numpy(), on_cpu.indices.numpy())
    (want, want_grad), (got, got_grad) = _on_both(
        lambda t: ng.topk(t, 3, 1, largest).values, x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_grad, want_grad)
