"""torch's names a porter types, on the GPU (the simulator without one): ``scatter_add``
(E44) and ``scatter_add_``, ``scatter`` and ``scatter_`` (E45), ``index_add``,
``index_copy``, ``index_fill`` (E46), ``scatter_reduce`` (E48), ``repeat_interleave``
(E43), ``unbind``, ``cdist``, ``clamp_min``, ``masked_fill_``, ``linalg.vector_norm``,
``linalg.matrix_norm``, ``linalg.svdvals`` (E47, the SVD on the host), the ``new_*``
methods and ``nn.Embedding(max_norm=...)``: values and gradients equal the CPU's, results
and gradients on the device."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

INDEX = np.array([[0, 1, 2, 0], [2, 2, 0, 1]])
MASK = np.array([True, False, True, False])


def _in_place(name, args):
    def run(t, s):
        u = t * 1.0
        getattr(u, name)(*args(s))
        return u
    return run


OPS = {
    "scatter_add": lambda t, s: ng.scatter_add(t, 0, INDEX, s),
    "scatter_add_": _in_place("scatter_add_", lambda s: (0, ng.tensor(INDEX), s)),
    "scatter": lambda t, s: ng.scatter(t, 0, INDEX, s),
    "scatter value": lambda t, s: t.scatter(1, INDEX[:, :2] + 1, -2.0) + s.sum(),
    "scatter_": _in_place("scatter_", lambda s: (0, ng.tensor(INDEX), s)),
    "scatter_reduce": lambda t, s: ng.scatter_reduce(t, 0, INDEX, s, "prod") +
    ng.scatter_reduce(t, 0, INDEX, s, "amax", include_self=False),
    "index_add": lambda t, s: ng.index_add(t, 0, [2, 0], s, alpha=1.5),
    "index_add_": _in_place("index_add_", lambda s: (0, ng.tensor([1, 1]), s)),
    "index_copy": lambda t, s: t.index_copy(0, ng.tensor([2, 0]), s),
    "index_fill": lambda t, s: t.index_fill(1, [0, 2], 1.5) * s.sum(),
    "repeat_interleave": lambda t, s: t.repeat_interleave(ng.tensor([2, 0, 1]), 0) * s.sum(),
    "unbind": lambda t, s: ng.stack(t.unbind(1), 0) + s.sum(),
    "cdist": lambda t, s: ng.cdist(t, s),
    "clamp_min": lambda t, s: t.clamp_min(0.1) + s.sum(),
    "masked_fill_": _in_place("masked_fill_", lambda s: (ng.tensor(MASK).to(s.device),
                                                         s.sum())),
    "vector_norm": lambda t, s: ng.linalg.vector_norm(t, 3, 1) + s.sum(),
    # the SVD on the host (E47), the compositions on the device
    "svdvals": lambda t, s: ng.linalg.svdvals(t) * s.sum(),
    "matrix_norm nuc": lambda t, s: ng.linalg.matrix_norm(t, "nuc") + s.sum(),
    "matrix_norm 2": lambda t, s: ng.linalg.matrix_norm(s, 2, (1, 0), True) * t.sum(),
    "matrix_norm -2": lambda t, s: ng.linalg.norm(t, -2) + s.sum(),
    "matrix_norm 1": lambda t, s: ng.linalg.matrix_norm(t, 1) + s.sum(),
    "matrix_norm -inf": lambda t, s: ng.linalg.norm(t, -np.inf, (0, 1), True) + s.sum(),
    "norm nuc": lambda t, s: t.norm("nuc") * s.sum(),
}


def _run(op, device):
    rng = np.random.default_rng(0)
    x = ng.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    s = ng.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    y = op(x.to(device), s.to(device))
    assert y.device == device
    y.backward(ng.tensor(np.linspace(0.5, 2.0, y.size).reshape(y.shape)).to(device))
    return y.to("cpu").numpy(), x.grad, s.grad


@pytest.mark.parametrize("name", sorted(OPS))
def test_on_the_gpu_equal_the_cpu_with_the_gradient(name):
    got, want = _run(OPS[name], "cuda"), _run(OPS[name], "cpu")
    for g, w, part in zip(got, want, ("value", "dx", "dsrc")):
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-300, err_msg=f"{name} {part}")


def test_new_methods_on_the_gpu():
    x = ng.tensor(np.zeros(2), device="cuda")
    for made in (x.new_tensor([1, 2]), x.new_zeros(2), x.new_ones(2), x.new_empty(2),
                 x.new_full((2,), 3.0), ng.repeat_interleave(ng.tensor([2, 1], device="cuda"))):
        assert made.device == "cuda"
    assert x.new_ones(2, device="cpu").device == "cpu"


def test_embedding_max_norm_on_the_gpu():
    """The rows renormalised on the host, the table copied back (E17's lookup after)."""
    w = np.random.default_rng(1).normal(size=(5, 3)) * 3
    tables = []
    for device in ("cuda", "cpu"):
        emb = ng.nn.Embedding(5, 3, max_norm=1.0, _weight=w, dtype=np.float64).to(device)
        y = emb(ng.tensor([[0, 3, 3]], device=device))
        assert y.device == device
        tables.append((emb.weight.to("cpu").numpy(), y.to("cpu").numpy()))
    for g, w_ in zip(*tables):
        np.testing.assert_allclose(g, w_, rtol=1e-14)
