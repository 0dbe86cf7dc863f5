"""expand, expand_as, repeat, chunk, split, t, contiguous, flip, index_select, cumsum and
new_zeros/new_ones/new_full against torch (docs/math.md E16a, E17a, E29): values, dtypes,
gradients, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch

torch = pytest.importorskip("torch")


@st.composite
def expand_cases(draw):
    """x, and sizes for expand: new leading dims, -1 to keep, 1s stretched."""
    shape = draw(nt.shapes(max_dims=3, max_side=3))
    shape = tuple(draw(st.sampled_from([1, n])) for n in shape)
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    sizes = lead + tuple(draw(st.sampled_from([-1, n] if n != 1 else [-1, 1, 2, 3]))
                         for n in shape)
    return draw(nt.arrays(shape)), sizes


@pytest.mark.torch
@given(case=expand_cases())
def test_expand_matches_torch(case):
    x, sizes = case
    if sizes:       # no sizes at all: a TypeError, as torch's (test_expand_is_a_view...)
        assert_matches_torch(lambda t: t.expand(*sizes) * 1.0,
                             lambda t: t.expand(*sizes) * 1.0, [x])
    assert_matches_torch(lambda t: ng.expand(t, sizes), lambda t: t.expand(sizes), [x])
    other = np.zeros(torch.empty(x.shape).expand(sizes).shape)
    assert_matches_torch(lambda t: t.expand_as(ng.tensor(other)),
                         lambda t: t.expand_as(torch.from_numpy(other)), [x])


@given(case=expand_cases())
def test_expand_gradcheck(case):
    x, sizes = case
    assert_gradients(lambda t: ng.expand(t, sizes) * 2.0, [x])


def test_expand_is_a_view_and_errors_as_torch():
    x = ng.tensor(np.ones((2, 1)))
    assert np.shares_memory(x.expand(2, 3).numpy(), x.numpy())
    for sizes in [(3,), (3, 1), (-1, 2, 1), (2, -2)]:
        with pytest.raises(RuntimeError):
            torch.ones(2, 1).expand(*sizes)
        with pytest.raises(ValueError, match="expand"):
            x.expand(*sizes)
    with pytest.raises(TypeError, match="int"):
        x.expand(2.0, 1)
    with pytest.raises(TypeError):
        torch.ones(2, 1).expand()
    with pytest.raises(TypeError, match="missing the sizes"):
        x.expand()


@st.composite
def repeat_cases(draw):
    x = draw(nt.arrays(draw(nt.shapes(max_dims=3, max_side=3))))
    reps = tuple(draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim + 2)))
    return x, reps


@pytest.mark.torch
@given(case=repeat_cases())
def test_repeat_matches_torch(case):
    x, reps = case
    if reps:
        assert_matches_torch(lambda t: t.repeat(*reps), lambda t: t.repeat(*reps), [x])
    assert_matches_torch(lambda t: ng.repeat(t, reps), lambda t: t.repeat(reps), [x])


@given(case=repeat_cases())
def test_repeat_gradcheck(case):
    x, reps = case
    assert_gradients(lambda t: ng.repeat(t, reps) * 3.0, [x])


def test_repeat_errors():
    with pytest.raises(ValueError, match="at least 2"):
        ng.repeat(np.ones((2, 2)), (2,))
    with pytest.raises(ValueError, match="non-negative"):
        ng.tensor(np.ones(2)).repeat(-1)


def _weighted_cat(pieces, dim, cat):
    """The pieces joined again, piece k scaled by k + 1 (so each gradient is told apart)."""
    return cat([p * float(k + 1) for k, p in enumerate(pieces)], dim)


@st.composite
def split_cases(draw):
    shape = draw(nt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    sizes = draw(st.one_of(st.integers(1, n + 1),
                           st.lists(st.integers(0, n), min_size=1, max_size=3)
                           .map(lambda s: sorted(s))
                           .map(lambda c: [b - a for a, b in zip([0] + c, c + [n])])))
    return draw(nt.arrays(shape)), dim, sizes, draw(st.integers(1, 6))


@pytest.mark.torch
@given(case=split_cases())
def test_split_and_chunk_match_torch(case):
    x, dim, sizes, chunks = case
    got = ng.split(x, sizes, dim)
    want = torch.split(torch.from_numpy(x), sizes, dim)
    assert [p.shape for p in got] == [tuple(p.shape) for p in want]
    assert [p.shape for p in ng.chunk(x, chunks, dim)] == \
        [tuple(p.shape) for p in torch.chunk(torch.from_numpy(x), chunks, dim)]
    assert_matches_torch(lambda t: _weighted_cat(t.split(sizes, dim), dim, ng.cat),
                         lambda t: _weighted_cat(t.split(sizes, dim), dim, torch.cat), [x])
    assert_matches_torch(lambda t: _weighted_cat(t.chunk(chunks, dim), dim, ng.cat),
                         lambda t: _weighted_cat(t.chunk(chunks, dim), dim, torch.cat), [x])


@given(case=split_cases())
def test_split_gradcheck(case):
    x, dim, sizes, chunks = case
    assert_gradients(lambda t: _weighted_cat(ng.split(t, sizes, dim), dim, ng.cat), [x])
    assert_gradients(lambda t: _weighted_cat(ng.chunk(t, chunks, dim), dim, ng.cat), [x])


def test_split_and_chunk_edges_as_torch():
    for n, chunks in [(0, 2), (0, 1), (5, 3), (6, 4)]:
        assert [p.shape for p in ng.chunk(np.zeros(n), chunks)] == \
            [tuple(p.shape) for p in torch.chunk(torch.zeros(n), chunks)]
    for n, size in [(0, 0), (0, 2), (5, 9), (5, [5, 0])]:
        assert [p.shape for p in ng.split(np.zeros(n), size)] == \
            [tuple(p.shape) for p in torch.split(torch.zeros(n), size)]
    x = ng.tensor(np.arange(5.0))
    for bad, error in [(0, ValueError), (-1, ValueError), ([1, 3], ValueError),
                       ([2, -1, 4], ValueError), (1.5, TypeError)]:
        with pytest.raises(error, match="split"):
            x.split(bad)
    with pytest.raises(ValueError, match="chunks must be at least 1"):
        x.chunk(0)
    with pytest.raises(ValueError, match="0-d"):
        ng.chunk(ng.tensor(1.0), 1)
    pieces = x.chunk(2)
    assert all(np.shares_memory(p.numpy(), x.numpy()) for p in pieces)


@pytest.mark.torch
@given(data=st.data(), shape=nt.shapes(max_dims=2))
def test_t_and_contiguous_match_torch(data, shape):
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(lambda a: a.t(), lambda a: a.t(), [x])
    assert_matches_torch(lambda a: ng.t(a) * 2.0, lambda a: torch.t(a) * 2.0, [x])
    assert_matches_torch(lambda a: a.t().contiguous(), lambda a: a.t().contiguous(), [x])
    t = ng.tensor(x)
    assert t.contiguous() is t


def test_t_refuses_3d():
    with pytest.raises(RuntimeError):
        torch.ones(1, 1, 1).t()
    with pytest.raises(ValueError, match="<= 2 dims"):
        ng.tensor(np.ones((1, 1, 1))).t()


@st.composite
def flip_cases(draw):
    shape = draw(nt.shapes(max_dims=3, max_side=3))
    n = max(len(shape), 1)
    dims = tuple(draw(st.lists(st.integers(-n, n - 1), max_size=len(shape),
                               unique_by=lambda d: d % n)))
    return draw(nt.arrays(shape)), dims


@pytest.mark.torch
@given(case=flip_cases())
def test_flip_matches_torch(case):
    x, dims = case
    assert_matches_torch(lambda t: t.flip(dims), lambda t: t.flip(dims), [x])
    assert_matches_torch(lambda t: ng.flip(t, dims), lambda t: torch.flip(t, dims), [x])


@given(case=flip_cases())
def test_flip_gradcheck_and_copy(case):
    x, dims = case
    assert_gradients(lambda t: ng.flip(t, dims) * np.arange(1.0, x.size + 1).reshape(x.shape),
                     [x])
    t = ng.tensor(x)
    assert not np.shares_memory(ng.flip(t, dims).numpy(), x)     # torch's flip copies


def test_flip_errors():
    with pytest.raises(ValueError, match="repeats"):
        ng.flip(np.ones((2, 2)), (0, -2))
    with pytest.raises(ValueError, match="out of range"):
        ng.flip(np.ones(2), (1,))


@st.composite
def index_select_cases(draw):
    shape = draw(nt.shapes(min_dims=1, max_dims=3, max_side=3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    idx = draw(st.lists(st.integers(0, shape[dim] - 1), max_size=5))
    return draw(nt.arrays(shape)), dim, np.array(idx, np.int64)


@pytest.mark.torch
@given(case=index_select_cases())
def test_index_select_matches_torch(case):
    x, dim, idx = case
    assert_matches_torch(lambda t: t.index_select(dim, idx),
                         lambda t: t.index_select(dim, torch.from_numpy(idx)), [x])
    assert_matches_torch(lambda t: ng.index_select(t, dim, ng.tensor(idx[:1])),
                         lambda t: torch.index_select(t, dim, torch.from_numpy(idx[:1])), [x])


@given(case=index_select_cases())
def test_index_select_gradcheck(case):
    x, dim, idx = case
    assert_gradients(lambda t: ng.index_select(t, dim, idx) * 2.0, [x])


def test_index_select_edges_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ng.index_select(x, 1, np.int64(2)).numpy(),
                                  torch.index_select(torch.from_numpy(x), 1,
                                                     torch.tensor(2)).numpy())
    np.testing.assert_array_equal(ng.index_select(np.array(5.0), 0, [0]).numpy(),
                                  torch.index_select(torch.tensor(5.0), 0,
                                                     torch.tensor([0])).numpy())
    with pytest.raises(IndexError, match="out of range"):
        ng.index_select(x, 1, [3])
    with pytest.raises(IndexError, match="out of range"):
        ng.index_select(x, 1, [-1])
    with pytest.raises(IndexError, match="1-d"):
        ng.index_select(x, 1, [[0]])
    with pytest.raises(TypeError, match="integer"):
        ng.index_select(x, 1, [1.0])


@st.composite
def cumsum_cases(draw):
    shape = draw(nt.shapes(max_dims=3, max_side=4))
    n = max(len(shape), 1)
    return draw(nt.arrays(shape)), draw(st.integers(-n, n - 1))


@pytest.mark.torch
@given(case=cumsum_cases())
def test_cumsum_matches_torch(case):
    x, dim = case
    assert_matches_torch(lambda t: t.cumsum(dim), lambda t: t.cumsum(dim), [x])
    assert_matches_torch(lambda t: ng.cumsum(t, dim=dim), lambda t: torch.cumsum(t, dim=dim),
                         [x])


@given(case=cumsum_cases())
def test_cumsum_gradcheck(case):
    x, dim = case
    assert_gradients(lambda t: ng.cumsum(t, dim) * np.arange(1.0, x.size + 1).reshape(x.shape),
                     [x])


@pytest.mark.parametrize("dtype, target", [(np.bool_, None), (np.int32, None),
                                           (np.float32, None), (np.float32, np.float64),
                                           (np.int64, np.float32)])
def test_cumsum_dtypes_as_torch(dtype, target):
    x = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    tdt = None if target is None else getattr(torch, np.dtype(target).name)
    want = torch.cumsum(torch.from_numpy(x), 1, dtype=tdt).numpy()
    got = ng.cumsum(x, 1, dtype=target)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)


def test_new_factories_as_torch():
    for dtype in (np.float32, np.int64, np.bool_):
        x = ng.tensor(np.ones(2, dtype))
        tx = torch.from_numpy(np.ones(2, dtype))
        for ours, theirs in [(x.new_zeros(2, 3), tx.new_zeros(2, 3)),
                             (x.new_zeros((2, 3)), tx.new_zeros((2, 3))),
                             (x.new_ones([2]), tx.new_ones([2])),
                             (x.new_full((2,), 3.7), tx.new_full((2,), 3.7)),
                             (x.new_zeros(2, dtype=np.float64),
                              tx.new_zeros(2, dtype=torch.float64))]:
            want = theirs.numpy()
            assert ours.dtype == want.dtype and ours.device == x.device
            np.testing.assert_array_equal(ours.numpy(), want)
    y = ng.tensor(np.ones(1, np.float32)).new_zeros(2, requires_grad=True)
    assert y.requires_grad and y.is_leaf
