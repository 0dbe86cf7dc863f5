"""F.pad, one_hot, normalize, cosine_similarity; bmm, linspace, randint; torch.as_tensor and
torch.tensor of a host tensor (its __dlpack__): each against torch in float64, with
gradchecks and errors; and the new ops on the CUDA simulator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nongate_np as ng
import nongate_np.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _grads_match(ours, theirs, arrays, what):
    ts = [ng.tensor(a, requires_grad=True) for a in arrays]
    rs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, z = ours(*ts), theirs(*rs)
    assert y.shape == tuple(z.shape) and y.dtype == np.float64, what
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-12, atol=1e-14,
                               err_msg=f"{what} values")
    g = _x(z.shape, 5)
    y.backward(ng.tensor(g))
    z.backward(torch.tensor(g))
    for k, (t, r) in enumerate(zip(ts, rs)):
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"{what} gradient {k}")


@pytest.mark.parametrize("pad", [(1, 2), (0, 0), (2, 1, 0, 3), (-1, 2, 3, -1),
                                 (0, 0, -1, -1, 1, 1), (-4, 0)])
def test_pad_matches_torch(pad):
    _grads_match(lambda t: F.pad(t, pad, value=1.5), lambda r: TF.pad(r, pad, value=1.5),
                 [_x((2, 3, 4))], f"pad {pad}")


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3), data=st.data())
def test_pad_over_shapes(shape, data):
    n = data.draw(st.integers(1, len(shape)))
    pad = tuple(data.draw(st.integers(0, 2)) for _ in range(2 * n))
    x = _x(tuple(shape))
    np.testing.assert_array_equal(F.pad(ng.tensor(x), pad).numpy(),
                                  TF.pad(torch.tensor(x), pad).numpy(), err_msg=str(pad))


def test_pad_dtypes_and_errors():
    ints = F.pad(ng.tensor(np.array([1, 2])), (1, 1), value=2.7)
    np.testing.assert_array_equal(ints.numpy(), TF.pad(torch.tensor([1, 2]), (1, 1),
                                                       value=2.7).numpy())
    assert ints.dtype == np.int64
    assert F.pad(ng.tensor(np.zeros(2, np.float32)), (1, 0)).dtype == np.float32
    x = ng.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="only mode='constant'"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="covers more axes"):
        F.pad(x, (1,) * 6)
    with pytest.raises(ValueError, match="negative size"):
        F.pad(x, (-2, -2))
    with pytest.raises(TypeError, match="sequence of ints"):
        F.pad(x, (1.0, 1))


def test_one_hot_matches_torch():
    ids = np.array([[0, 3], [2, 1]])
    for n in (-1, 6):
        got, want = F.one_hot(ng.tensor(ids), n), TF.one_hot(torch.tensor(ids), n)
        assert got.dtype == np.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert F.one_hot(ng.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)
    with pytest.raises(TypeError, match="expected int64 class ids"):
        F.one_hot(ng.tensor(np.array([1], np.int32)))
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(ng.tensor(np.array([-1, 2])))
    with pytest.raises(ValueError, match="smaller than num_classes=2"):
        F.one_hot(ng.tensor(np.array([3])), 2)
    with pytest.raises(ValueError, match="empty tensor"):
        F.one_hot(ng.tensor(np.zeros(0, np.int64)))


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize_matches_torch(p, dim):
    x = _x((3, 4, 2))
    x[0, :, 0] = 0.0                    # a zero slice: the eps clamp
    _grads_match(lambda t: F.normalize(t, p, dim), lambda r: TF.normalize(r, p, dim), [x],
                 f"normalize p={p} dim={dim}")
    t = ng.tensor(_x((3, 4)), requires_grad=True)
    w = ng.tensor(_x((3, 4), 9))         # a weighted sum: a plain one of unit rows is flat
    ng.gradcheck(lambda a: (F.normalize(a, p, -1) * w).sum(), [t])


@pytest.mark.parametrize("s1, s2, dim", [((3, 4), (3, 4), 1), ((2, 1, 4), (2, 3, 4), -1),
                                         ((5, 3), (3,), 1), ((4, 2), (4, 2), 0)])
def test_cosine_similarity_matches_torch(s1, s2, dim):
    _grads_match(lambda a, b: F.cosine_similarity(a, b, dim),
                 lambda a, b: TF.cosine_similarity(a, b, dim), [_x(s1, 1), _x(s2, 2)],
                 f"cosine_similarity {s1} {s2}")
    ts = [ng.tensor(_x(s, k), requires_grad=True) for k, s in enumerate((s1, s2))]
    ng.gradcheck(lambda a, b: F.cosine_similarity(a, b, dim), ts)
    with pytest.raises(ValueError, match="do not broadcast"):
        F.cosine_similarity(ng.tensor(_x((2, 3))), ng.tensor(_x((4, 3))))


def test_bmm_matches_torch_and_checks_shapes():
    _grads_match(ng.bmm, torch.bmm, [_x((2, 3, 4), 1), _x((2, 4, 5), 2)], "bmm")
    for a, b, match in [((3, 4), (4, 5), "input must be a 3-D"),
                        ((2, 3, 4), (4, 5), "mat2 must be a 3-D"),
                        ((2, 3, 4), (3, 4, 5), r"mat2 must have shape \(2, 4, P\)"),
                        ((1, 3, 4), (2, 4, 5), r"mat2 must have shape \(1, 4, P\)"),
                        ((2, 3, 4), (2, 5, 5), r"mat2 must have shape \(2, 4, P\)")]:
        with pytest.raises(ValueError, match=match):
            ng.bmm(ng.tensor(_x(a)), ng.tensor(_x(b)))
    with pytest.raises(TypeError, match="dtype"):
        ng.bmm(ng.tensor(_x((1, 2, 2)).astype(np.float32)), ng.tensor(_x((1, 2, 2))))


@pytest.mark.parametrize("args", [(-7.3, 11.1, 9), (0, 1, 5), (3.0, -2.0, 1), (0.1, 0.7, 0),
                                  (-1e3, 2.5, 1001), (2.5, -1e-3, 7)])
@pytest.mark.parametrize("dtype", [None, np.float32, np.int64])
def test_linspace_matches_torch(args, dtype):
    tdtype = {None: torch.float64, np.float32: torch.float32, np.int64: torch.int64}[dtype]
    got, want = ng.linspace(*args, dtype=dtype), torch.linspace(*args, dtype=tdtype).numpy()
    assert got.dtype == (want.dtype if dtype is not None else np.float64)
    if want.dtype.kind == "i":
        np.testing.assert_array_equal(got.numpy(), want)
    else:       # torch's vectorised loop may round one ulp away (its FMA)
        scale = max(abs(args[0]), abs(args[1]))
        np.testing.assert_allclose(got.numpy(), want, rtol=0,
                                   atol=4 * np.finfo(want.dtype).eps * scale)


def test_linspace_errors():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        ng.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="steps must be an int"):
        ng.linspace(0, 1, 2.0)
    with pytest.raises(TypeError, match="start and end must be real numbers"):
        ng.linspace("0", 1, 2)


def test_randint_is_reproducible_in_range_and_int64():
    ng.manual_seed(3)
    a = ng.randint(2, 9, (4, 5))
    ng.manual_seed(3)
    b = ng.randint(2, 9, (4, 5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.int64 and a.shape == (4, 5)
    assert a.numpy().min() >= 2 and a.numpy().max() < 9
    c = ng.randint(3, (1000,))
    assert set(np.unique(c.numpy())) == {0, 1, 2}
    assert ng.randint(0, 4, (3,), dtype=np.int32).dtype == np.int32
    with pytest.raises(ValueError, match="expected low < high"):
        ng.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="got no size"):
        ng.randint(5)
    with pytest.raises(TypeError, match="low and high must be ints"):
        ng.randint(0.5, 3, (2,))


@pytest.mark.parametrize("make", [lambda: np.arange(6.0).reshape(2, 3),
                                  lambda: np.arange(6, dtype=np.int32).reshape(3, 2).T,
                                  lambda: np.array([True, False]), lambda: np.array(2.5),
                                  lambda: np.zeros((0, 3), np.float32),
                                  lambda: np.arange(5.0)[::-1],
                                  lambda: np.broadcast_to(np.arange(3.0), (2, 3))])
def test_torch_reads_a_host_tensor(make):
    a = make()
    t = ng.from_numpy(a) if a.flags.writeable and all(s >= 0 for s in a.strides) \
        else ng.tensor(a)
    for convert in (torch.as_tensor, torch.tensor):
        got = convert(t)
        assert got.shape == a.shape and str(got.dtype) == f"torch.{a.dtype}"
        np.testing.assert_array_equal(got.numpy(), a)
    # as_tensor shares the memory of a writeable array, as torch does for an ndarray;
    # torch.tensor copies
    if a.size and a.dtype == np.float64 and t.numpy().flags.writeable:
        first = (0,) * a.ndim
        torch.as_tensor(t)[first] = 42.0
        assert t.numpy().flat[0] == 42.0
        torch.tensor(t)[first] = -1.0
        assert t.numpy().flat[0] == 42.0


def test_a_tensor_keeps_its_graph_after_torch_reads_it():
    t = ng.tensor([1.0, 2.0], requires_grad=True)
    y = (t * t).sum()
    np.testing.assert_array_equal(torch.as_tensor(t).numpy(), [1.0, 2.0])
    y.backward()
    np.testing.assert_array_equal(t.grad, [2.0, 4.0])
    assert np.from_dlpack(t).tolist() == [1.0, 2.0]


# ---- the CUDA simulator


def _gpu_ready():
    pytest.importorskip("numba.cuda")
    from nongate_np.kernels import gpu
    if not gpu.probe().usable:
        pytest.skip("no GPU and not on the CUDA simulator")



def test_new_ops_on_the_gpu_equal_the_cpus():
    _gpu_ready()
    x, y = _x((2, 3), 1), _x((2, 3), 2)
    calls = {
        "gelu": lambda a, b: F.gelu(a), "gelu_tanh": lambda a, b: F.gelu(a, "tanh"),
        "silu": lambda a, b: F.silu(a), "leaky_relu": lambda a, b: F.leaky_relu(a, 0.1),
        "logsumexp": lambda a, b: ng.logsumexp(a, 1), "pad": lambda a, b: F.pad(a, (1, -1)),
        "normalize": lambda a, b: F.normalize(a), "cosine": F.cosine_similarity,
        "bmm": lambda a, b: ng.bmm(a.reshape(1, 2, 3), b.reshape(1, 3, 2)),
    }
    for name, call in calls.items():
        cpu = [ng.tensor(v, requires_grad=True) for v in (x, y)]
        gpu = [ng.tensor(v, device="cuda", requires_grad=True) for v in (x, y)]
        want, got = call(*cpu), call(*gpu)
        assert got.device == "cuda", name
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=name)
        want.sum().backward()
        got.sum().backward()
        for c, g in zip(cpu, gpu):
            if c.grad is not None:
                np.testing.assert_allclose(g.grad.copy_to_host(), c.grad, rtol=1e-12,
                                           atol=1e-14, err_msg=f"{name} gradient")
    ids = np.array([2, 0, 1])
    got = F.one_hot(ng.tensor(ids, device="cuda"))
    assert got.device == "cuda"
    np.testing.assert_array_equal(got.numpy(), F.one_hot(ng.tensor(ids)).numpy())
