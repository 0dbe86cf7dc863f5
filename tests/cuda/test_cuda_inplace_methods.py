"""torch's named in-place methods on a GPU tensor (the simulator without one): recorded in
the graph as on the CPU, the gradients the CPU's, the argument on either device, and the
saved-output check of ``exp_`` (docs/math.md E23)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

RNG = np.random.default_rng(5)
X = RNG.standard_normal((2, 3))
SRC = RNG.standard_normal(3).astype(np.float32)


def _run(device, method, args_of, src_device):
    """x (on ``device``) -> y = 1.5 x -> before = 3 y -> y.method(*args) -> a loss of y and
    ``before``; the gradients of x and of the source (made on ``src_device``)."""
    x = ng.tensor(X, device=device, requires_grad=True)
    src = ng.tensor(SRC, device=src_device, requires_grad=True)
    y = x * 1.5
    before = y * 3.0
    array = y.data
    assert getattr(y, method)(*args_of(src)) is y and y.data is array
    assert y.device == device and y.dtype == np.float64
    ((y * y).sum() + (before * before).sum()).backward()

    def host(a):
        return a if type(a) is np.ndarray else a.copy_to_host()
    return y.numpy(), host(x.grad), None if src.grad is None else host(src.grad)


@pytest.mark.parametrize("method, args_of", [
    ("copy_", lambda src: (src,)),
    ("add_", lambda src: (src,)),
    ("mul_", lambda src: (src,)),
    ("fill_", lambda src: (src[1],)),
    ("zero_", lambda src: ()),
    ("clamp_", lambda src: (-0.5, 0.5)),
    ("exp_", lambda src: ()),
    ("sigmoid_", lambda src: ()),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_gpu_tensor_changed_in_place_gives_the_cpus_values_and_gradients(method, args_of):
    """The source on the GPU for the binary methods; copy_ reads it from either device
    (torch's copy_ moves it), its gradient returning to that device in float32."""
    want = _run("cpu", method, args_of, "cpu")
    src_devices = ("cuda", "cpu") if method == "copy_" else ("cuda",)
    for src_device in src_devices:
        got = _run("cuda", method, args_of, src_device)
        for name, g, w in zip(("values", "dx", "dsrc"), got, want):
            if w is None:
                assert g is None, (method, name)
                continue
            assert g.dtype == w.dtype, (method, name)
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=0,
                                       err_msg=f"{method} from {src_device}: {name}")


def test_exp_in_place_then_another_change_raises_at_backward_on_the_gpu():
    x = ng.tensor(X, device="cuda", requires_grad=True)
    y = (x * 2.0).exp_().add_(1.0)
    with pytest.raises(RuntimeError, match=r"'Exp' saved an array of shape \(2, 3\)"):
        y.sum().backward()


def test_a_view_read_after_its_base_changed_raises_on_the_gpu():
    """As on the CPU (tests/test_inplace_methods.py): the view's gradient would go to the
    old values' producer."""
    x = ng.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device="cuda")
    w = ng.tensor(np.ones((2, 3)), requires_grad=True, device="cuda")
    a = x * 1
    b = a[0:1]
    a.mul_(w)
    with pytest.raises(RuntimeError, match=r"read a view \('GetItem'\)"):
        (b * b).sum().backward()
