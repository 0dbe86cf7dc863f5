"""kernels/cuda/layout.py against NumPy (the CPU namespace ``NUMPY``), on the simulator
without a GPU (tests/conftest.py chooses): copy, reshape, transpose, concatenate, stack,
getitem, take, take_along_axis, add_at, copyto and matmul, on contiguous and strided device
arrays (a sliced view; in the simulator also a reversed one and a broadcast one, which
numba's GPU arrays make differently), 0-d and empty shapes, every dtype where it applies, and each
result NaN-poisoned before the kernels write it. Moves and gathers are compared exactly;
products with a tolerance (the tiled kernel sums in its own order)."""

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
import numba  # noqa: E402  (after the skip)
from numba import cuda  # noqa: E402

from nongate_np.kernels.array_api import NUMPY  # noqa: E402
from nongate_np.kernels.cuda import arrays  # noqa: E402
from nongate_np.kernels.cuda import layout as gpu  # noqa: E402

SIM = bool(numba.config.ENABLE_CUDASIM)
DTYPES = [np.float32, np.float64, np.bool_, np.int64]
KINDS = ["contiguous", "sliced"] + (["reversed", "broadcast"] if SIM else [])
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def data(shape, dtype=np.float64, seed=0):
    """Random values of ``dtype`` (small integers for the integer and bool types)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0 if dtype == np.bool_ else -9, 2 if dtype == np.bool_ else 9,
                        shape).astype(dtype)


def dev(x):
    return cuda.to_device(np.asarray(x, order="C"))


def case(shape, kind="contiguous", dtype=np.float64, seed=0):
    """(host array, device array) with the same elements; the device array is a strided
    view of a larger one unless ``kind`` is contiguous (or the shape is 0-d)."""
    shape = tuple(shape)
    if kind == "contiguous" or not shape:
        x = data(shape, dtype, seed)
        return x, dev(x)
    if kind == "sliced":            # every other element of the last axis
        base = data(shape[:-1] + (2 * shape[-1],), dtype, seed)
        step = (slice(None),) * (len(shape) - 1) + (slice(None, None, 2),)
        if base.size == 0:          # numba-cuda cannot slice an empty allocation on a GPU
            return base[step], dev(base[step])
        return base[step], dev(base)[step]
    if kind == "reversed":          # negative strides on the first axis
        base = data(shape, dtype, seed)
        return base[::-1], dev(base)[::-1]
    x = np.broadcast_to(data((1,) + shape[1:], dtype, seed), shape)    # stride 0
    return x, type(dev(x[:1]))(x)


def got(a):
    return a.copy_to_host()


def assert_same(result, want):
    """Device ``result`` equals NumPy's ``want`` exactly, shape and dtype included."""
    assert arrays.is_device(result)
    want = np.asarray(want)
    host = got(result)
    assert host.shape == want.shape and host.dtype == want.dtype
    np.testing.assert_array_equal(host, want)


# ------------------------------------------------------------------------- copy, reshape


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2), (), (0, 3)])
def test_copy_is_contiguous_and_equals_numpy(shape, kind):
    x, d = case(shape, kind)
    with arrays.poisoned():
        result = gpu.copy(d)
    assert_same(result, NUMPY.copy(x))
    assert result.is_c_contiguous()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, new", [((2, 3, 4), (4, -1)), ((2, 3), (6,)),
                                        ((6,), (1, 2, 1, 3)), ((), (1,)), ((1,), ()),
                                        ((2, 3), 6), ((0, 3), (3, 0)), ((0, 3), (-1, 6))])
def test_reshape_equals_numpy(shape, new, kind):
    x, d = case(shape, kind)
    with arrays.poisoned():
        assert_same(gpu.reshape(d, new), NUMPY.reshape(x, new))


def test_reshape_is_a_view_of_a_contiguous_array_and_a_copy_otherwise():
    x, d = case((2, 3))
    view = gpu.reshape(d, (6,))
    gpu.add_at(view, [4], 10.0)                         # element [1, 1]
    x[1, 1] += 10.0
    assert_same(d, x)
    y, s = case((2, 3), "sliced")
    base = got(s) + 0                                   # the view's elements now
    gpu.add_at(gpu.reshape(s, (6,)), [4], 10.0)
    assert_same(s, base)


@pytest.mark.parametrize("new, message", [((4,), r"cannot reshape array of size 6 into "
                                                  r"shape \(4,\)"),
                                          ((-1, -1), "only specify one unknown"),
                                          ((-2, -3), "only specify one unknown"),
                                          ((-1, 4), r"size 6 into shape \(-1, 4\)")])
def test_reshape_refuses_as_numpy(new, message):
    with pytest.raises(ValueError, match=message):
        gpu.reshape(dev(np.zeros((2, 3))), new)
    with pytest.raises(ValueError):
        NUMPY.reshape(np.zeros((2, 3)), new)


# ---------------------------------------------------------------------------- transpose


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, axes", [((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, 0, 1)),
                                         ((3, 4), None), ((), ()), ((0, 3), (1, 0)),
                                         ((4,), (0,)), ((2, 1, 3, 2), (3, 1, 0, 2))])
def test_transpose_equals_numpy(shape, axes, kind):
    x, d = case(shape, kind)
    with arrays.poisoned():
        result = gpu.transpose(d, axes)
    assert_same(result, NUMPY.transpose(x, axes))
    assert result.is_c_contiguous()                     # a copy in the new order


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_keeps_every_dtype(dtype):
    x, d = case((3, 2, 4), "sliced", dtype)
    with arrays.poisoned():
        assert_same(gpu.transpose(d, (1, 2, 0)), NUMPY.transpose(x, (1, 2, 0)))


def test_transpose_refuses_as_numpy():
    d = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="don't match"):
        gpu.transpose(d, (0,))
    with pytest.raises(ValueError, match="repeated axis"):
        gpu.transpose(d, (1, -1))
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
        gpu.transpose(d, (0, 2))
    with pytest.raises(TypeError, match="complex128 arrays are not supported"):
        gpu.transpose(np.zeros((2, 2), complex), (1, 0))


# -------------------------------------------------------------------- concatenate, stack


@pytest.mark.parametrize("shapes, axis", [([(2, 3), (1, 3)], 0), ([(2, 3), (2, 0), (2, 2)], 1),
                                          ([(2, 2, 3), (2, 2, 1)], -1),
                                          ([(2, 3), (4,)], None), ([(0, 3), (0, 3)], 0),
                                          ([(3,)], 0)])
def test_concatenate_equals_numpy(shapes, axis):
    xs, ds = zip(*(case(s, KINDS[i % len(KINDS)], seed=i) for i, s in enumerate(shapes)))
    with arrays.poisoned():
        assert_same(gpu.concatenate(list(ds), axis), NUMPY.concatenate(list(xs), axis))


@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float32, np.float32),
                                    (np.bool_, np.int64), (np.int64, np.float32),
                                    (np.bool_, np.bool_)])
def test_concatenate_and_stack_promote_as_numpy(dtypes):
    xs, ds = zip(*(case((2, 3), "sliced", t, seed=i) for i, t in enumerate(dtypes)))
    with arrays.poisoned():
        assert_same(gpu.concatenate(ds, 1), NUMPY.concatenate(list(xs), 1))
        assert_same(gpu.stack(ds, 1), NUMPY.stack(list(xs), 1))


@pytest.mark.parametrize("shape, axis", [((2, 3), 0), ((2, 3), 1), ((2, 3), 2), ((2, 3), -1),
                                         ((), 0), ((0, 2), 1)])
def test_stack_equals_numpy(shape, axis):
    xs, ds = zip(*(case(shape, KINDS[i % len(KINDS)], seed=i) for i in range(3)))
    with arrays.poisoned():
        assert_same(gpu.stack(list(ds), axis), NUMPY.stack(list(xs), axis))


def test_concatenate_and_stack_refuse_as_numpy():
    a, b, s = dev(np.zeros((2, 3))), dev(np.zeros((2, 4))), dev(np.zeros(()))
    with pytest.raises(ValueError, match="need at least one array"):
        gpu.concatenate([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        gpu.concatenate([s, s])
    with pytest.raises(ValueError, match="same number of dimensions"):
        gpu.concatenate([a, dev(np.zeros(3))])
    with pytest.raises(ValueError, match="along dimension 1, the array at index 0 has size 3 "
                                         "and the array at index 1 has size 4"):
        gpu.concatenate([a, b])
    with pytest.raises(np.exceptions.AxisError):
        gpu.concatenate([a, a], 2)
    with pytest.raises(ValueError, match="need at least one array"):
        gpu.stack([])
    with pytest.raises(ValueError, match="same shape"):
        gpu.stack([a, b])
    with pytest.raises(np.exceptions.AxisError):
        gpu.stack([a, a], 3)


# ------------------------------------------------------------------------------ getitem

INDICES = [1, -1, (slice(None, None, -1),), (None, Ellipsis, 1), (slice(1, None, 2), None, -2),
           (Ellipsis,), (), (0, 1, 2), (-3, slice(4, 0, -2)), (slice(5, 1),), (Ellipsis, None),
           (1, slice(None), slice(None, None, -3)), (0, Ellipsis, 3), (slice(-2, None), 2),
           (np.int64(2), slice(1, 3))]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_equals_numpy(index, kind):
    x, d = case((3, 4, 5), kind)
    with arrays.poisoned():
        assert_same(gpu.getitem(d, index), NUMPY.getitem(x, index))


def test_getitem_of_0d_and_empty_arrays():
    x, d = case(())
    with arrays.poisoned():
        assert_same(gpu.getitem(d, ()), x[()])
        assert_same(gpu.getitem(d, None), x[None])
        assert_same(gpu.getitem(dev(np.zeros((0, 3))), (slice(None), 1)), np.zeros(0))


def test_getitem_views_a_contiguous_block_and_copies_a_strided_selection():
    x, d = case((3, 4))
    gpu.add_at(gpu.getitem(d, 1), [2], 10.0)            # a row: a view, as NumPy's
    x[1, 2] += 10.0
    assert_same(d, x)
    gpu.add_at(gpu.getitem(d, (slice(None), 2)), [0], 10.0)    # a column: a copy
    assert_same(d, x)


@pytest.mark.parametrize("index, error, message", [
    (5, IndexError, "index 5 is out of bounds for axis 0 with size 3"),
    ((0, -5), IndexError, "index -5 is out of bounds for axis 1 with size 4"),
    ((0, 0, 0, 0), IndexError, "too many indices"), ((Ellipsis, Ellipsis), IndexError,
                                                     "single ellipsis"),
    (slice(None, None, 0), ValueError, "slice step cannot be zero"),
    (1.5, IndexError, "only integers"), (True, IndexError, "only integers"),
    (np.array([0]), IndexError, "only integers")], ids=repr)
def test_getitem_refuses_as_numpy(index, error, message):
    with pytest.raises(error, match=message):
        gpu.getitem(dev(np.zeros((3, 4, 5))), index)


# ---------------------------------------------------------------- take, take_along_axis


def device_indices(values, dtype):
    return dev(np.asarray(values, dtype))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, indices, axis", [
    ((3, 4), [2, 0, 2], 0), ((3, 4), np.array([[0, -1], [1, 1]], np.int32), 1),
    ((2, 3, 4), -1, -1), ((2, 3, 4), [], 1), ((3, 4), [11, 0, -12], None),
    ((0, 3), [1], 1)])
def test_take_equals_numpy(shape, indices, axis, kind):
    x, d = case(shape, kind)
    with arrays.poisoned():
        assert_same(gpu.take(d, indices, axis), NUMPY.take(x, indices, axis))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", DTYPES)
def test_take_with_device_indices_every_dtype(dtype, index_dtype):
    x, d = case((4, 3), "sliced", dtype)
    ids = [[3, 0, -1], [1, 1, -4]]                       # an embedding lookup
    with arrays.poisoned():
        assert_same(gpu.take(d, device_indices(ids, index_dtype)), NUMPY.take(x, ids, 0))


def test_take_refuses_out_of_range_and_non_integer_indices():
    d = dev(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        gpu.take(d, [0, 3])
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1 with size 4"):
        gpu.take(d, -5, axis=1)
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 3"):
        gpu.take(d, device_indices([0, 7, 1], np.int64))       # found by the kernel
    with pytest.raises(IndexError, match="index -4 is out of bounds"):
        gpu.take(d, device_indices([-4], np.int32))
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
        gpu.take(dev(np.zeros((0, 3))), [0])
    with pytest.raises(IndexError, match="integers"):
        gpu.take(d, [0.5])
    with pytest.raises(IndexError, match="integer array"):
        gpu.take(d, dev(np.zeros(2)))
    with pytest.raises(np.exceptions.AxisError):
        gpu.take(d, [0], axis=2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape, index_shape, axis", [
    ((3, 4), (3, 2), 1), ((3, 4), (2, 4), 0), ((3, 4), (1, 2), 1), ((1, 4), (3, 2), 1),
    ((2, 3, 4), (2, 3, 1), -1), ((2, 3), (4,), None), ((3, 4), (3, 0), 1)])
def test_take_along_axis_equals_numpy(shape, index_shape, axis, kind):
    x, d = case(shape, kind)
    size = x.size if axis is None else shape[axis]
    ids = np.random.default_rng(3).integers(-size, size, index_shape)
    with arrays.poisoned():
        assert_same(gpu.take_along_axis(d, ids, axis), NUMPY.take_along_axis(x, ids, axis))
        assert_same(gpu.take_along_axis(d, device_indices(ids, np.int32), axis),
                    NUMPY.take_along_axis(x, ids, axis))


def test_take_along_axis_refuses_as_numpy():
    d = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        gpu.take_along_axis(d, np.zeros(2, int), 1)
    with pytest.raises(IndexError, match="cannot be broadcast"):
        gpu.take_along_axis(d, np.zeros((3, 1), int), 1)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
        gpu.take_along_axis(d, device_indices([[3], [0]], np.int64), 1)


# ------------------------------------------------------------------------------- add_at


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("a_shape, ids, values_shape", [
    ((5, 3), [[0, 3, 3, 1], [3, 0, 4, 3]], (2, 4, 3)),      # the embedding's dW, repeats
    ((5, 3), [2, 2, -1], (3,)), ((5, 3), [1, 1], ()), ((6,), [0, 5, 0, 0, -1], (5,)),
    ((4, 2, 2), 3, (2, 2)), ((5, 3), [], (0, 3))])
def test_add_at_accumulates_repeated_indices_as_numpy(a_shape, ids, values_shape, dtype):
    # small integers as values: every order of the atomic adds gives NumPy's sums exactly
    a, values = data(a_shape, dtype, 1), data(values_shape, dtype, 2)
    want = a.copy()
    NUMPY.add_at(want, ids, values)
    d = dev(a)
    assert gpu.add_at(d, ids, dev(values)) is None
    assert_same(d, want)
    d = dev(a)
    gpu.add_at(d, device_indices(ids, np.int32), values)         # host values, device ids
    assert_same(d, want)


def test_add_at_writes_through_a_strided_view_and_casts_values():
    base = data((4, 6), np.float32, 1)
    d = dev(base)
    view = d[:, ::2]
    gpu.add_at(view, [1, 3, 1], data((3, 3), np.float64, 2))
    np.add.at(base[:, ::2], [1, 3, 1], data((3, 3), np.float64, 2).astype(np.float32))
    assert_same(d, base)


def test_add_at_refuses_as_numpy():
    d = dev(np.zeros((3, 2)))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        gpu.add_at(d, [0, 3], 1.0)
    with pytest.raises(IndexError, match="index -9 is out of bounds for axis 0 with size 3"):
        gpu.add_at(d, device_indices([0, -9], np.int64), 1.0)
    with pytest.raises(ValueError, match=r"values of shape \(3,\) cannot be broadcast"):
        gpu.add_at(d, [0, 1], np.ones(3))
    with pytest.raises(TypeError, match="device array"):
        gpu.add_at(np.zeros((3, 2)), [0], 1.0)
    with pytest.raises(TypeError, match="bool"):
        gpu.add_at(dev(np.zeros(3, bool)), [0], True)


# ------------------------------------------------------------------------------- copyto

SOURCES = {"scalar": lambda shape: 2.5, "host": lambda shape: data(shape, np.float64, 3),
           "host row": lambda shape: data(shape[-1:], np.float64, 3),
           "device": lambda shape: dev(data(shape, np.float64, 3)),
           "device float32 row": lambda shape: dev(data(shape[-1:], np.float32, 3))}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "broadcast"])    # read-only
@pytest.mark.parametrize("shape", [(3, 4), (), (0, 3)])
def test_copyto_writes_through_any_strides_as_numpy(shape, kind, source):
    """``copyto`` writes dst in place (a memcpy or the strided kernel), the source
    broadcast and cast as NumPy's ``copyto`` does."""
    host, d = case(shape, kind, np.float64, 1)
    src = SOURCES[source](shape)
    want = host.copy()
    NUMPY.copyto(want, got(src) if arrays.is_device(src) else src)
    assert gpu.copyto(d, src) is None
    assert_same(d, want)


def test_copyto_leaves_the_rest_of_a_sliced_array_alone():
    base = data((3, 4), np.float64, 1)
    d = dev(base)
    gpu.copyto(d[:, ::2], 0.0)
    base[:, ::2] = 0.0
    assert_same(d, base)


def test_copyto_casts_and_refuses_as_numpy():
    d = dev(np.zeros(3, np.int64))
    gpu.copyto(d, dev(np.array([1.7, -2.2, 3.0])), casting="unsafe")
    assert_same(d, np.array([1, -2, 3]))
    with pytest.raises(TypeError, match="cannot cast float64 to int64 according to the rule "
                                        "'same_kind'"):
        gpu.copyto(d, dev(np.ones(3)))
    with pytest.raises(TypeError, match=r"copyto: Cannot cast .*float64.*int64.*'same_kind'"):
        gpu.copyto(d, 1.5)
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot be broadcast to the "
                                         r"destination's shape \(3, 2\)"):
        gpu.copyto(dev(np.zeros((3, 2))), dev(np.ones(3)))
    with pytest.raises(TypeError, match="dst must be a device array"):
        gpu.copyto(np.zeros(3), 1.0)


# ------------------------------------------------------------------------------- matmul


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.float32, np.float64)])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((4, 3), (3, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)),
    ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4,)), ((0, 4), (4, 3)),
    ((3, 0), (0, 2)), ((2, 0, 3, 4), (4, 2)), ((2, 3, 0), (0, 2))])
def test_matmul_equals_numpy(a_shape, b_shape, dtypes):
    (a, da), (b, db) = (case(s, "sliced" if len(s) > 1 else "contiguous", t, seed=i)
                        for i, (s, t) in enumerate(zip((a_shape, b_shape), dtypes)))
    with arrays.poisoned():
        result = gpu.matmul(da, db)
    want = NUMPY.matmul(a, b)
    host = got(result)
    assert host.shape == want.shape and host.dtype == want.dtype
    tol = TOL[want.dtype.type]
    np.testing.assert_allclose(host, want, rtol=tol, atol=tol)


def test_matmul_refuses_as_numpy():
    a = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"inner dimensions differ \(3 != 2\)"):
        gpu.matmul(a, a)
    with pytest.raises(ValueError, match="batch dimensions cannot be broadcast"):
        gpu.matmul(dev(np.zeros((2, 2, 3))), dev(np.zeros((3, 3, 4))))
    with pytest.raises(ValueError, match="0-dimensional"):
        gpu.matmul(dev(np.zeros(())), a)
    with pytest.raises(TypeError, match="int64"):
        gpu.matmul(dev(np.zeros((3, 2), np.int64)), a)
