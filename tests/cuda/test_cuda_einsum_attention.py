"""einsum (its GPU path: the device's take, sum, transpose and matmul, docs/math.md E40),
scaled_dot_product_attention and nn.MultiheadAttention (E41, E42) on the GPU (the simulator
without one): values and gradients equal the CPU's, results and gradients stay on the
device."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
import nongate_np.nn.functional as F  # noqa: E402
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


def test_sdpa_on_the_gpu_with_a_masked_row_and_causal():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    mask = rng.random((3, 4)) > 0.4
    mask[1] = False
    _same(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask),
          [q, k, v], np.float64, "bool mask")
    _same(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
          [q, k, v], np.float64, "causal")


def test_multihead_attention_on_the_gpu():
    rng = np.random.default_rng(2)
    ng.manual_seed(0)
    cpu = ng.nn.MultiheadAttention(4, 2, kdim=3, add_bias_kv=True, dtype=np.float64)
    gpu_m = ng.nn.MultiheadAttention(4, 2, kdim=3, add_bias_kv=True, dtype=np.float64,
                                     device="cuda")
    gpu_m.load_state_dict(cpu.state_dict())
    x, k, v = (rng.standard_normal(s) for s in ((2, 2, 4), (3, 2, 3), (3, 2, 4)))
    kpm = np.array([[False, True, False], [True] * 3])
    results = []
    for m, device in ((cpu, "cpu"), (gpu_m, "cuda")):
        q = ng.tensor(x, requires_grad=True)
        out, w = m(q.to(device), ng.tensor(k).to(device), ng.tensor(v).to(device),
                   key_padding_mask=kpm)
        assert out.device == device and w.device == device
        (out.sum() + (w * w).sum()).backward()
        results.append([out.to("cpu").numpy(), w.to("cpu").numpy(), q.grad,
                        m.in_proj_bias.grad if device == "cpu" else
                        m.in_proj_bias.grad.copy_to_host()])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
