"""The GPU namespace's element-wise functions (kernels/cuda/elementwise.py) against the CPU
namespace (``array_api.NUMPY``: NumPy's functions), on the simulator without a GPU:
broadcasting, 0-d and empty shapes, strided views, NumPy 2's dtypes (NEP 50 scalars), NaN
and infinities, and the errors. Results are NaN-poisoned, so an element a kernel does not
write shows. Exact where NumPy's result is one IEEE operation; the transcendental functions
within 1e-6 (float32) and 1e-15 (float64) relative."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from numba import cuda  # noqa: E402  (after the skip)

from nongate_np.kernels import array_api  # noqa: E402
from nongate_np.kernels.cuda import arrays, layout  # noqa: E402
from nongate_np.kernels.cuda import elementwise as ew  # noqa: E402

NUMPY = array_api.NUMPY
FLOATS = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-15}

ARITHMETIC = ["add", "subtract", "multiply", "divide", "maximum"]
COMPARISONS = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
TRANSCENDENTAL = ["exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sqrt", "sin",
                  "cos"]

# (shape of a, shape of b): broadcasting both ways, new axes, 0-d, empty axes
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (3,)),
               ((2, 3), ()), ((0, 3), (1, 3)), ((2, 0), (2, 1))]


def host(x):
    """The host value of a device array, or a scalar as it is (for the NumPy side)."""
    return x.copy_to_host() if arrays.is_device(x) else x


def call(name, *args):
    """(GPU result on the host, NumPy's result) of the function ``name``, both poisoned."""
    with arrays.poisoned():
        got = getattr(ew, name)(*args)
    assert arrays.is_device(got), name
    with np.errstate(all="ignore"):                       # NumPy's own inf/NaN warnings
        want = np.asarray(getattr(NUMPY, name)(*(host(x) for x in args)))
    return got.copy_to_host(), want


def assert_same(got, want, rtol=None, what=""):
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy {want.shape}"
    if rtol is None or want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=what)


def random(rng, shape, dtype):
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "i":
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_functions_broadcast_as_numpy(dtype, shapes):
    rng = np.random.default_rng(0)
    a, b = (cuda.to_device(random(rng, s, dtype)) for s in shapes)
    for name in ARITHMETIC + COMPARISONS:
        assert_same(*call(name, a, b), what=f"{name}{shapes}")
    base = cuda.to_device(np.abs(host(a)) + dtype(0.5))
    assert_same(*call("power", base, b), rtol=RTOL[np.dtype(dtype)], what=f"power{shapes}")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(3, 4), (), (0,), (2, 0, 3), (2, 3, 2)], ids=str)
def test_unary_functions_equal_numpy(dtype, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    signed, positive = cuda.to_device(x), cuda.to_device(np.abs(x) + dtype(0.1))
    for name in ["negative", "abs"]:
        assert_same(*call(name, signed), what=name)
    for name in TRANSCENDENTAL:
        arg = positive if name in ("log", "log1p", "sqrt") else signed
        assert_same(*call(name, arg), rtol=RTOL[np.dtype(dtype)], what=name)


@pytest.mark.parametrize("dtype", FLOATS)
def test_strided_views_are_read_through_their_strides(dtype):
    big = np.random.default_rng(2).standard_normal((6, 8)).astype(dtype)
    d = cuda.to_device(big)
    views = [d[::2, 1::3], d[1:4, 2:6], d.T, d[:, 3], d[2:5, ::4].T]
    for v in views:
        row = cuda.to_device(np.arange(host(v).shape[-1], dtype=dtype))
        assert_same(*call("multiply", v, row), what=f"view {v.strides}")
        assert_same(*call("where", cuda.to_device(host(v) > 0), v, row), what="where")
        assert_same(*call("exp", v), rtol=RTOL[np.dtype(dtype)], what="exp")
        with arrays.poisoned():
            copied = layout.copy(v)      # the namespace's copy (strided reads, as above)
        np.testing.assert_array_equal(copied.copy_to_host(), host(v))
        assert copied.is_c_contiguous()
    assert_same(*call("add", views[0], views[1][:3, :3]), what="two views")


def test_the_grid_stride_loop_covers_more_elements_than_threads():
    n = 2 * ew.THREADS * ew.MAX_BLOCKS + 5
    x = np.random.default_rng(3).standard_normal((n,))
    assert n > ew.THREADS * ew.MAX_BLOCKS
    assert_same(*call("add", cuda.to_device(x), 1.5), what="add")
    assert_same(*call("tanh", cuda.to_device(x)), rtol=RTOL[np.dtype(np.float64)], what="tanh")


@pytest.mark.parametrize("a, b", [
    (np.float32, 1.5), (1.5, np.float32), (np.float32, 2), (np.int64, 1.5), (np.int64, 3),
    (np.bool_, 2), (np.bool_, True), (np.int32, 7), (np.float32, np.float64),
    (np.int64, np.float32), (np.int32, np.int64), (np.bool_, np.float32),
    (np.float32, np.float64(2.5)),
], ids=str)
def test_dtypes_are_numpy_2s_with_python_scalars_weak(a, b):
    """NEP 50: a Python int/float scalar takes the array's dtype where its kind allows; a
    NumPy scalar and a 0-d array keep theirs."""
    rng = np.random.default_rng(4)

    def operand(t):
        return cuda.to_device(random(rng, (2, 3), t)) if isinstance(t, type) else t

    x, y = operand(a), operand(b)
    for name in ["add", "multiply", "divide", "maximum", "less", "not_equal"]:
        if name == "divide" and not arrays.is_device(y) and y == 0:
            continue
        assert_same(*call(name, x, y), what=f"{name}({a}, {b})")
    zero_d = cuda.to_device(np.asarray(2.5, np.float64))      # a 0-d array is not weak
    assert_same(*call("add", cuda.to_device(random(rng, (3,), np.float32)), zero_d),
                what="0-d float64")


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.int32])
def test_bool_and_integer_arrays_compute_as_numpy(dtype):
    rng = np.random.default_rng(5)
    a, b = (cuda.to_device(random(rng, s, dtype)) for s in ((3, 4), (4,)))
    names = ["add", "multiply", "maximum", "divide"] + COMPARISONS
    if dtype is not np.bool_:
        names.append("subtract")
        for name in ["negative", "abs", "exp", "tanh", "sigmoid", "softplus"]:
            rtol = 1e-15 if name not in ("negative", "abs") else None
            assert_same(*call(name, a), rtol=rtol, what=name)
    else:
        assert_same(*call("abs", a), what="abs of bool")
    for name in names:
        assert_same(*call(name, a, b), what=name)


def test_integer_powers_are_exact():
    base = cuda.to_device(np.arange(-4, 5, dtype=np.int64))
    for exponent in [0, 1, 2, 3, 7, cuda.to_device(np.arange(9, dtype=np.int64))]:
        assert_same(*call("power", base, exponent), what=f"power {exponent}")
    assert_same(*call("power", 3, base[4:]), what="scalar base")
    assert_same(*call("power", cuda.to_device(np.arange(5, dtype=np.int32)), 3),
                what="int32")
    with pytest.raises(ValueError, match="negative integer powers"):
        ew.power(base, -1)
    with pytest.raises(ValueError, match="negative integer powers"):
        ew.power(base, base)


# inf − inf, 0 · inf, overflow, 0 ** −1: the simulator runs the kernel's arithmetic on NumPy
# scalars, which warn where NumPy's arrays would (a GPU does not); the values are checked
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_and_infinities_as_numpy(dtype):
    largest = dtype(ew.EXP_MAX[np.dtype(dtype)])               # exp finite, the next inf
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 1e30, -1e30, 88.5,
                        709.0, 710.0, largest, np.nextafter(largest, dtype(1e3))], dtype)
    x = cuda.to_device(special[:, None])                      # every pair: (14, 14)
    y = cuda.to_device(special[None, :])
    for name in ARITHMETIC + COMPARISONS:
        assert_same(*call(name, x, y), what=name)
    assert_same(*call("power", x, y), rtol=RTOL[np.dtype(dtype)], what="power")
    for name in ["negative", "abs"] + TRANSCENDENTAL:
        assert_same(*call(name, y), rtol=RTOL[np.dtype(dtype)], what=name)
    for name in ["divide", "maximum"]:
        assert_same(*call(name, y, 0.0), what=f"{name} by 0")
        assert_same(*call(name, y, -0.0), what=f"{name} by -0")
        assert_same(*call(name, np.nan, y), what=f"{name} of NaN")
    got, _ = call("sqrt", cuda.to_device(np.array([-0.0], dtype)))
    assert np.signbit(got[0]), "sqrt(-0) is -0"


@pytest.mark.parametrize("dtype", FLOATS)
def test_softplus_is_the_references_at_large_and_special_arguments(dtype):
    # E15: x + log1p(e^{-x}) for x ≥ 0, else log1p(e^x); e^{-|x|} ≤ 1, so no argument overflows
    tiny = np.finfo(dtype).tiny
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 800.0, -800.0, 100.0,
                  -100.0, 40.0, -40.0, 20.0, -20.0, 1e-10, -1e-10, tiny, -tiny, 3.0, -3.0],
                 dtype)
    got, want = call("softplus", cuda.to_device(x))
    assert_same(got, want, rtol=RTOL[np.dtype(dtype)], what="softplus")
    exact = ~np.isfinite(x) | (np.abs(x) >= 100)            # x + 0, or 0 (e^{-|x|} tiny)
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_array_equal(got[[1, 2, 5, 6]], [np.inf, 0.0, dtype(1e30), 0.0])
    assert np.isnan(got[0]) and got[3] == got[4] == want[3]  # log 2 at ±0


def test_where_broadcasts_three_ways_and_promotes_as_numpy():
    rng = np.random.default_rng(6)
    cond = cuda.to_device(rng.random((2, 1, 3)) < 0.5)
    a32 = cuda.to_device(random(rng, (4, 1), np.float32))
    b64 = cuda.to_device(random(rng, (3,), np.float64))
    i64 = cuda.to_device(random(rng, (4, 3), np.int64))
    for a, b in [(a32, b64), (a32, 0.0), (0.0, a32), (i64, 0.5), (i64, 2), (1, 2.5),
                 (True, False), (i64, cuda.to_device(random(rng, (3,), np.bool_)))]:
        assert_same(*call("where", cond, a, b), what=f"where {host(a)!r:.20}")
    floats = cuda.to_device(np.array([0.0, -0.0, np.nan, 2.0]))        # truth values
    assert_same(*call("where", floats, 1.0, 0.0), what="float condition")
    assert_same(*call("where", True, a32, b64), what="scalar condition")
    assert_same(*call("where", cuda.to_device(np.zeros((0, 3), bool)), b64, 1.0),
                what="empty")


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")   # 3.5e38 to float32: inf
def test_astype_converts_as_numpy_and_keeps_an_array_of_its_dtype():
    x = np.array([[0.0, -0.0, 1.7, -2.7], [np.nan, 3.5e38, 1e-40, 5.0]])
    d = cuda.to_device(x)
    assert ew.astype(d, np.float64) is d
    for dtype in [np.float32, np.bool_]:
        assert_same(*call("astype", d, dtype), what=str(dtype))
    ints = cuda.to_device(np.array([[0.0, -0.0, 1.7, -2.7], [9.99, -9.99, 1e15, 5.0]]))
    assert_same(*call("astype", ints, np.int64), what="float to int64 (truncates)")
    assert_same(*call("astype", ints[:, :2], np.int32), what="a view to int32")
    flags = cuda.to_device(np.array([True, False, True]))
    for dtype in [np.float32, np.int64]:
        assert_same(*call("astype", flags, dtype), what=f"bool to {dtype}")
    assert_same(*call("astype", cuda.to_device(np.arange(-3, 3)), np.bool_), what="to bool")


def test_broadcast_to_materialises_numpys_broadcast():
    rng = np.random.default_rng(7)
    row = cuda.to_device(random(rng, (3,), np.float32))
    for a, shape in [(row, (2, 3)), (cuda.to_device(random(rng, (1, 3), np.float64)),
                                     (4, 2, 3)),
                     (cuda.to_device(np.asarray(2.5)), (2, 2)), (1.5, (2,)), (row, (0, 3)),
                     (cuda.to_device(random(rng, (4, 6), np.int64))[::2, ::3], (3, 2, 2))]:
        got, want = call("broadcast_to", a, shape)
        assert_same(got, np.ascontiguousarray(want), what=f"{shape}")
    with pytest.raises(ValueError, match=r"broadcast_to: shape \(3,\) cannot be broadcast "
                                         r"to \(4,\)"):
        ew.broadcast_to(row, (4,))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ew.broadcast_to(cuda.to_device(np.ones((2, 3))), (3,))


@pytest.mark.parametrize("shape, value, dtype", [
    ((2, 3), 1.5, np.float32), ((4,), 2.7, np.int64), ((), -1.0, np.float64),
    ((0, 3), 1.0, np.float32), ((2, 2), 0, np.bool_), ((3,), 7, None), ((2,), 0.5, None),
    (5, True, None),
], ids=str)
def test_full_equals_numpy(shape, value, dtype):
    assert_same(*call("full", shape, value, dtype), what="full")


def test_errors_are_numpys_in_our_words():
    a, b = cuda.to_device(np.ones((2, 3))), cuda.to_device(np.ones((4,)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be "
                                         r"broadcast together"):
        ew.add(a, b)
    with pytest.raises(ValueError, match=r"where: shapes \(2, 3\), \(2, 3\) and \(4,\)"):
        ew.where(a, a, b)
    flags = cuda.to_device(np.ones(3, bool))
    with pytest.raises(TypeError, match="subtract: numpy boolean subtract"):
        ew.subtract(flags, flags)
    with pytest.raises(TypeError, match="negative: The numpy boolean negative"):
        ew.negative(flags)
    with pytest.raises(TypeError, match="exp: NumPy computes bool in float16"):
        ew.exp(flags)
    with pytest.raises(TypeError, match="power: NumPy computes bool and bool in int8"):
        ew.power(flags, flags)
    with pytest.raises(TypeError, match="complex operands run on the CPU only"):
        ew.multiply(a, 1j)
    with pytest.raises(TypeError, match="expected a numba.cuda device array"):
        ew.add(np.ones(3), a)
    with pytest.raises(TypeError, match="astype: float64 to complex128"):
        ew.astype(a, np.complex128)
    with pytest.raises(TypeError, match="a device array of float16"):
        ew.exp(cuda.to_device(np.ones(3, np.float16)))
    with pytest.raises(TypeError, match="full: the value is a scalar"):
        ew.full((2,), a, np.float64)
    with pytest.raises(ValueError, match=r"negative strides \(-8,\)"):
        ew.exp(cuda.to_device(np.arange(4.0))[::-1])


def test_scalars_alone_give_0d_device_arrays():
    for name, args in [("add", (2, 3.5)), ("less", (1, 2)), ("exp", (1.0,)),
                       ("negative", (3,)), ("where", (True, 1, 2.5)), ("maximum", (np.nan, 1.0)),
                       ("astype", (2.7, np.int64))]:
        assert_same(*call(name, *args), what=name)


@pytest.mark.parametrize("dtype", FLOATS)
def test_log1p_and_expm1_near_their_edges_as_numpy(dtype):
    """E5a: log1p −inf at −1 and NaN below it, accurate near 0 (where log(1 + x) would give
    0); expm1 −1 at −inf and inf past exp's largest finite argument, accurate near 0."""
    tiny, eps = np.finfo(dtype).tiny, np.finfo(dtype).eps
    largest = dtype(ew.EXP_MAX[np.dtype(dtype)])
    x = np.array([-1.0, np.nextafter(dtype(-1), dtype(0)), -1.0 - 4 * eps, -2.0, 1e-10,
                  -1e-10, tiny, -tiny, 0.0, -0.0, 1e-30, 0.5, -0.5, np.nan, np.inf, -np.inf,
                  largest, np.nextafter(largest, dtype(1e3)), -50.0], dtype)
    for name in ("log1p", "expm1"):
        got, want = call(name, cuda.to_device(x))
        assert_same(got, want, rtol=RTOL[np.dtype(dtype)], what=name)
    got, _ = call("log1p", cuda.to_device(x[:4]))
    assert got[0] == -np.inf and np.isfinite(got[1]) and np.isnan(got[2]) and np.isnan(got[3])
    got, _ = call("log1p", cuda.to_device(x[4:6]))
    small = x[4:6].astype(np.float64)                       # the series' first two terms
    np.testing.assert_allclose(got, small - small**2 / 2, rtol=RTOL[np.dtype(dtype)])
    got, _ = call("expm1", cuda.to_device(x[[4, 15, 17]]))
    np.testing.assert_allclose(got[0], small[0] + small[0]**2 / 2, rtol=RTOL[np.dtype(dtype)])
    assert got[1] == -1 and got[2] == np.inf
