"""The small torch Tensor API on the GPU (the simulator without one): ``isfinite``,
``isnan``, ``isinf`` by the device's comparisons, the comparisons, ``sort``/``argsort``
(the order found on the host, values and gradient on the device), ``mT``, ``type()``, and
the ``_like`` factories on the input's device; each against the same on the CPU."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import nongate_np as ng  # noqa: E402
from nongate_np.kernels import gpu  # noqa: E402

if not gpu.probe().usable:
    pytest.skip("no GPU and not on the CUDA simulator", allow_module_level=True)

SPECIAL = np.array([[0.0, -0.0, 1.5, np.nan], [np.inf, -np.inf, -2.0, 3e38]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("name", ["isfinite", "isnan", "isinf"])
def test_classifiers_on_the_gpu_equal_the_cpu(name, dtype):
    x = SPECIAL.astype(dtype) if dtype != np.int64 else np.array([[3, -1], [0, 7]])
    got = getattr(ng, name)(ng.tensor(x, device="cuda"))
    assert got.device == "cuda" and got.dtype == np.bool_
    np.testing.assert_array_equal(got.to("cpu").numpy(), getattr(np, name)(x), err_msg=name)


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_on_the_gpu(name):
    t = ng.tensor(SPECIAL, device="cuda")
    got = getattr(t, name)(1.5)
    assert got.device == "cuda"
    np.testing.assert_array_equal(got.to("cpu").numpy(),
                                  getattr(ng, name)(ng.tensor(SPECIAL), 1.5).numpy())


def test_sort_on_the_gpu_equals_the_cpu_with_the_gradient():
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = {}
    for device in ("cuda", "cpu"):
        leaf = ng.tensor(x, requires_grad=True)
        values, indices = leaf.to(device).sort(dim=0, descending=True)
        assert values.device == indices.device == device
        (values * ng.tensor(np.arange(12.0).reshape(3, 4)).to(device)).sum().backward()
        results[device] = (values.to("cpu").numpy(), indices.to("cpu").numpy(), leaf.grad)
        argsorted = ng.argsort(leaf.to(device), 0, True)
        assert argsorted.device == device
        np.testing.assert_array_equal(argsorted.to("cpu").numpy(), results[device][1])
    for got, want, what in zip(results["cuda"], results["cpu"], ("values", "indices", "grad")):
        np.testing.assert_array_equal(got, want, err_msg=what)


def test_mT_type_and_like_factories_stay_on_the_device():
    t = ng.tensor(np.arange(6.0).reshape(2, 3), device="cuda")
    assert t.mT.device == "cuda" and t.mT.shape == (3, 2)
    np.testing.assert_array_equal(t.mT.to("cpu").numpy(), np.arange(6.0).reshape(2, 3).T)
    assert t.type() == "torch.cuda.DoubleTensor"
    assert t.type(np.float32).device == "cuda" and t.type(np.float32).type() == \
        "torch.cuda.FloatTensor"
    assert ng.tensor([1.0]).type("torch.cuda.FloatTensor").device == "cuda"
    full = ng.full_like(t, 2.5)
    assert full.device == "cuda" and full.to("cpu").tolist() == [[2.5] * 3] * 2
    for name, value in (("zeros_like", 0.0), ("ones_like", 1.0)):
        made = getattr(ng, name)(t, dtype=np.float32)
        assert made.device == "cuda" and made.dtype == np.float32, name
        assert made.to("cpu").tolist() == [[value] * 3] * 2, name
    for name in ("randn_like", "rand_like"):
        ng.seed(1)
        got = getattr(ng, name)(t, dtype=np.float32)
        ng.seed(1)
        want = getattr(ng, name)(ng.zeros(2, 3), dtype=np.float32)
        assert got.device == "cuda" and got.dtype == np.float32
        np.testing.assert_array_equal(got.to("cpu").numpy(), want.numpy(), err_msg=name)
