"""Boolean and mask ops against torch: ~, &, |, ^ (reflected too), logical_*, any, all,
masked_fill (docs/math.md E8) and sign, values, dtypes, gradients and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

torch = pytest.importorskip("torch")

DTYPES = [np.bool_, np.int32, np.int64, np.uint8, np.float64]


def _torch(a):
    return torch.from_numpy(np.array(a, copy=True))   # 0-d stays 0-d


def _same(ours, theirs, what):
    want = theirs.numpy()
    assert ours.dtype == want.dtype, f"{what}: dtype {ours.dtype}, torch {want.dtype}"
    assert ours.shape == want.shape, f"{what}: shape {ours.shape}, torch {want.shape}"
    np.testing.assert_array_equal(ours.numpy(), want, err_msg=what)
    assert not ours.requires_grad, f"{what}: a bool/int result has no graph"


@st.composite
def int_or_bool_pairs(draw):
    sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                    max_side=3)).input_shapes
    da, db = (draw(st.sampled_from([np.bool_, np.int32, np.int64])) for _ in "ab")
    return (draw(hnp.arrays(da, sa, elements=st.integers(-5, 5) if da != np.bool_ else None)),
            draw(hnp.arrays(db, sb, elements=st.integers(-5, 5) if db != np.bool_ else None)))


@given(ab=int_or_bool_pairs())
def test_bitwise_operators_match_torch(ab):
    a, b = ab
    ta, tb = ng.tensor(a), ng.tensor(b)
    for name, ours, theirs in [("&", ta & tb, _torch(a) & _torch(b)),
                               ("|", ta | tb, _torch(a) | _torch(b)),
                               ("^", ta ^ tb, _torch(a) ^ _torch(b)),
                               ("~a", ~ta, ~_torch(a)),
                               ("reflected &", a & tb, _torch(a) & _torch(b)),
                               ("reflected |", 1 | tb, 1 | _torch(b)),
                               ("reflected ^", True ^ tb, True ^ _torch(b))]:
        _same(ours, theirs, name)


@given(ab=int_or_bool_pairs(), fa=st.booleans(), fb=st.booleans())
def test_logical_ops_match_torch(ab, fa, fb):
    a, b = ab
    # floats too: their truth is != 0, NaN true
    a = np.where(a != 0, np.nan, 0.0) if fa else a
    b = b.astype(np.float32) if fb else b
    for op in ("logical_and", "logical_or", "logical_xor"):
        _same(getattr(ng, op)(a, b), getattr(torch, op)(_torch(a), _torch(b)), op)
        _same(getattr(ng.tensor(a), op)(b), getattr(torch, op)(_torch(a), _torch(b)), op)
    _same(ng.logical_not(a), torch.logical_not(_torch(a)), "logical_not")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_ops_refuse_floats_as_torch(dtype):
    x = ng.tensor(np.ones(2, dtype))
    for _name, fn in [("~", lambda: ~x), ("&", lambda: x & x), ("|", lambda: x | True),
                      ("^", lambda: 1 ^ x)]:
        with pytest.raises(TypeError, match="bool and integer"):
            fn()
    with pytest.raises((TypeError, NotImplementedError)):
        ~_torch(np.ones(2, dtype))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ng.tensor([True, False]) & ng.tensor([True, False, True])


@st.composite
def reduce_cases(draw):
    shape = draw(nt.shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    dtype = draw(st.sampled_from(DTYPES))
    x = draw(hnp.arrays(dtype, shape, elements=st.integers(0, 2) if dtype != np.bool_
                        else None))
    dims = draw(st.one_of(st.none(), st.just(()),
                          st.lists(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1),
                                   min_size=1, max_size=len(shape), unique_by=lambda d:
                                   d % max(len(shape), 1)).map(tuple)
                          if shape else st.just(0)))
    return x, dims, draw(st.booleans())


@given(case=reduce_cases())
def test_any_all_match_torch(case):
    x, dims, keep = case
    for op in ("any", "all"):
        t = _torch(x)
        want = getattr(t, op)() if dims is None else \
            getattr(t, op)(dim=dims if dims != () else tuple(range(x.ndim)), keepdim=keep)
        if dims == () and x.ndim == 0:
            want = getattr(t, op)(dim=(), keepdim=keep)
        got = getattr(ng, op)(x) if dims is None else \
            getattr(ng.tensor(x), op)(dim=dims, keepdim=keep)
        _same(got, want, f"{op}(dim={dims}, keepdim={keep})")


def test_any_all_take_no_graph():
    x = ng.tensor([0.0, 1.0], requires_grad=True)
    assert not ng.any(x).requires_grad and not x.all(0).requires_grad
    assert ng.all(ng.tensor(np.zeros((0, 3)))).item() and not ng.any(np.zeros(0)).item()


@st.composite
def masked_cases(draw):
    sx, sm = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                    max_side=3)).input_shapes
    return (draw(nt.arrays(sx)), draw(hnp.arrays(np.bool_, sm)),
            draw(st.floats(-3, 3) | st.integers(-3, 3)))


@pytest.mark.torch
@given(case=masked_cases())
def test_masked_fill_matches_torch(case):
    x, mask, value = case
    assert_matches_torch(lambda t: ng.masked_fill(t, mask, value),
                         lambda t: t.masked_fill(_torch(mask), value), [x])
    # a 0-d tensor value gets the sum of the gradient where the mask is true (E8)
    assert_matches_torch(lambda t, v: t.masked_fill(mask, v),
                         lambda t, v: t.masked_fill(_torch(mask), v),
                         [x, np.array(float(value))])


@given(case=masked_cases())
def test_masked_fill_gradcheck(case):
    x, mask, _ = case
    assert_gradients(lambda t, v: ng.masked_fill(t, mask, v), [x, np.array(0.5)])


def test_masked_fill_dtype_and_errors_as_torch():
    for dtype, value in [(np.int64, 1.5), (np.bool_, 2), (np.int32, -7), (np.float32, 0.1)]:
        x = np.zeros(3, dtype)
        m = np.array([True, False, True])
        _same(ng.masked_fill(x, m, value), _torch(x).masked_fill(_torch(m), value),
              f"masked_fill({dtype.__name__}, {value})")
    x = ng.tensor(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="mask must be a bool"):
        x.masked_fill(np.array([1, 0]), 1.0)
    with pytest.raises(ValueError, match="0-d tensor"):
        x.masked_fill(np.array([True, False]), ng.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        x.masked_fill(np.ones(3, bool), 1.0)
    with pytest.raises(ValueError, match="int32"):
        ng.masked_fill(np.zeros(2, np.int32), np.ones(2, bool), 2**40)
    assert x.masked_fill(np.ones(2, bool), ng.tensor(1.0)).dtype == np.float32
    for value in (1e300, ng.tensor(1e300)):       # beyond float32's range, as torch
        with pytest.raises(ValueError, match="1e.300 cannot be converted to float32"):
            x.masked_fill(np.ones(2, bool), value)
        theirs = value if isinstance(value, float) else _torch(value.numpy())
        with pytest.raises(RuntimeError, match="without overflow"):
            _torch(x.numpy()).masked_fill(_torch(np.ones(2, bool)), theirs)
    assert np.isposinf(x.masked_fill(np.ones(2, bool), np.inf).numpy()).all()


@pytest.mark.parametrize("dtype", DTYPES + [np.float32])
def test_sign_matches_torch(dtype):
    x = np.array([-2, 0, 3, 1, 0]).astype(dtype) if dtype != np.bool_ else np.array([True, False])
    if dtype in (np.float32, np.float64):
        x = np.array([-2.5, -0.0, 0.0, 3.0, np.nan, -np.inf], dtype)
    _ours = ng.sign(x)
    want = torch.sign(_torch(x))
    assert _ours.dtype == want.numpy().dtype
    np.testing.assert_array_equal(_ours.numpy(), want.numpy(), err_msg="sign")


@pytest.mark.torch
@given(data=st.data(), shape=nt.shapes())
def test_sign_gradient_is_zero_as_torch(data, shape):
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(lambda t: ng.sign(t) * t, lambda t: torch.sign(t) * t, [x])
