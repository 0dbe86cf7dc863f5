"""einsum (its GPU path: the device's take, sum, transpose and matmul, docs/math.md E40)
on the GPU (the simulator without one): values and gradients equal the CPU's, results and
gradients stay on the device."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("iij->ji", [(3, 3, 2)]),                       # a diagonal: take, and add_at backward
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),     # broadcast '...'
    ("ab,cd->c", [(2, 3), (4, 2)]),                 # a dim summed in one operand alone
    ("i,i->", [(1,), (4,)]),                        # a size-1 dim broadcast
]


def _run(fn, arrays, device, dtype):
    leaves = [ng.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y = fn(*[x.to(device) for x in leaves])
    assert y.device == device and y.dtype == dtype
    v = np.linspace(0.5, 2.0, y.size).reshape(y.shape).astype(dtype)
    y.backward(ng.tensor(v).to(device))
    return [y.to("cpu").numpy()] + [x.grad for x in leaves]


def _same(fn, arrays, dtype, what):
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    for g, w in zip(_run(fn, arrays, "cuda", dtype), _run(fn, arrays, "cpu", dtype)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=what)


@pytest.mark.parametrize("equation, shapes, dtype",
                         [(e, s, np.float64) for e, s in EQUATIONS] +
                         [(e, s, np.float32) for e, s in EQUATIONS[:2]],
                         ids=[e for e, _ in EQUATIONS] + [f"{e} float32" for e, _ in
                                                          EQUATIONS[:2]])
def test_einsum_on_the_gpu_equals_the_cpu(equation, shapes, dtype):
    rng = np.random.default_rng(0)
    _same(lambda *xs: ng.einsum(equation, *xs), [rng.standard_normal(s) for s in shapes],
          dtype, equation)
