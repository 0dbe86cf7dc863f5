"""Ops that move values: reshape, transpose, permute, concat, stack, indexing, embedding."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_reshape_flat_and_back(data, shape):
    x = data.draw(nt.arrays(shape))

    def f(t):
        return ng.reshape(t, (-1,)) * np.arange(t.size)
    assert_gradients(f, [x])


@pytest.mark.torch
@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_reshape_matches_torch(data, shape):
    x = data.draw(nt.arrays(shape))
    assert_matches_torch(lambda t: ng.reshape(t, shape[::-1]),
                         lambda t: t.reshape(shape[::-1]), [x])


@st.composite
def array_and_permutation(draw):
    shape = draw(nt.shapes(min_dims=2, max_dims=4))
    return draw(nt.arrays(shape)), tuple(draw(st.permutations(range(len(shape)))))


@given(case=array_and_permutation())
def test_permute_and_transpose(case):
    x, perm = case
    assert_gradients(lambda t: ng.permute(t, perm), [x])


@pytest.mark.torch
@given(case=array_and_permutation())
def test_permute_and_transpose_match_torch(case):
    x, perm = case
    assert_matches_torch(lambda t: ng.permute(t, perm), lambda t: t.permute(perm), [x])
    assert_matches_torch(lambda t: ng.transpose(t, 0, -1), lambda t: t.transpose(0, -1), [x])
    assert_matches_torch(lambda t: t.T, lambda t: t.permute(tuple(reversed(range(t.ndim)))),
                         [x])


@st.composite
def concat_and_stack_cases(draw):
    """An axis, n arrays that differ in size along it only (to concat), and n arrays of one
    shape (to stack)."""
    shape, n = draw(nt.shapes(min_dims=1)), draw(st.integers(1, 3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [draw(st.integers(1, 3)) for _ in range(n)]
    parts = []
    for s in sizes:
        shp = list(shape)
        shp[axis] = s
        parts.append(draw(nt.arrays(tuple(shp))))
    same = [draw(nt.arrays(shape)) for _ in range(n)]
    return axis, parts, same


@given(case=concat_and_stack_cases())
def test_concat_and_stack(case):
    axis, parts, same = case
    assert_gradients(lambda *ts: ng.concat(list(ts), axis=axis), parts)
    assert_gradients(lambda *ts: ng.stack(list(ts), axis=axis), same)


@pytest.mark.torch
@given(case=concat_and_stack_cases())
def test_concat_and_stack_match_torch(case):
    import torch
    axis, parts, same = case
    assert_matches_torch(lambda *ts: ng.concat(list(ts), axis=axis),
                         lambda *ts: torch.cat(ts, dim=axis), parts)
    assert_matches_torch(lambda *ts: ng.stack(list(ts), axis=axis),
                         lambda *ts: torch.stack(ts, dim=axis), same)
    # torch's keyword, as sum, softmax and the other ops with an axis take it
    assert_matches_torch(lambda *ts: ng.concat(list(ts), dim=axis),
                         lambda *ts: torch.cat(ts, dim=axis), parts)
    assert_matches_torch(lambda *ts: ng.stack(list(ts), dim=axis),
                         lambda *ts: torch.stack(ts, dim=axis), same)


def test_concat_and_stack_refuse_both_axis_and_dim():
    a = ng.Tensor(np.ones((2, 3)))
    for op in (ng.concat, ng.stack):
        with pytest.raises(TypeError, match="give axis or dim"):
            op([a, a], axis=0, dim=1)


@st.composite
def basic_index(draw, shape):
    parts = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "none"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.integers(0, n - 1))
            parts.append(slice(start, draw(st.integers(start + 1, n)), draw(st.integers(1, 2))))
        else:
            parts.append(slice(None))
    return tuple(parts)


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_getitem_basic(data, shape):
    x = data.draw(nt.arrays(shape))
    idx = data.draw(basic_index(shape))
    assert_gradients(lambda t: t[idx], [x])


@pytest.mark.torch
@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_getitem_basic_matches_torch(data, shape):
    x = data.draw(nt.arrays(shape))
    idx = data.draw(basic_index(shape))
    assert_matches_torch(lambda t: t[idx], lambda t: t[idx], [x])


@st.composite
def integer_index_cases(draw):
    """An array, row indices with repeats, and column indices (None for a 1-D array)."""
    shape = draw(nt.shapes(min_dims=1))
    x = draw(nt.arrays(shape))
    rows = draw(nt.index_arrays((draw(st.integers(1, 6)),), shape[0]))
    cols = draw(nt.index_arrays(rows.shape, shape[1])) if len(shape) > 1 else None
    return x, rows, cols


@given(case=integer_index_cases())
def test_getitem_integer_arrays_with_repeats(case):
    x, rows, cols = case
    assert_gradients(lambda t: t[rows], [x])
    if cols is not None:
        assert_gradients(lambda t: t[rows, cols], [x])


@pytest.mark.torch
@given(case=integer_index_cases())
def test_getitem_integer_arrays_match_torch(case):
    import torch
    x, rows, cols = case
    assert_matches_torch(lambda t: t[rows], lambda t: t[torch.tensor(rows)], [x])
    if cols is not None:
        assert_matches_torch(lambda t: t[rows, cols],
                             lambda t: t[torch.tensor(rows), torch.tensor(cols)], [x])


def _array_and_mask():
    x = np.random.default_rng(0).standard_normal((4, 3))
    return x, x[:, 0] > 0


def test_getitem_boolean_mask():
    x, mask = _array_and_mask()
    assert_gradients(lambda t: t[mask], [x])


@pytest.mark.torch
def test_getitem_boolean_mask_matches_torch():
    import torch
    x, mask = _array_and_mask()
    assert_matches_torch(lambda t: t[mask], lambda t: t[torch.tensor(mask)], [x])


@st.composite
def embedding_cases(draw, padding):
    """A weight (n, dim) and ids of 1 or 2 dims; padding_idx 0 drawn or not when padding."""
    n, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    w = draw(nt.arrays((n, dim)))
    ids = draw(nt.index_arrays(draw(nt.shapes(min_dims=1, max_dims=2)), n))
    return w, ids, (0 if padding and draw(st.booleans()) else None)


@given(case=embedding_cases(padding=False))
def test_embedding(case):
    # the padding row gets no gradient by design, so only torch is the reference there
    w, ids, _ = case
    assert_gradients(lambda t: ng.embedding(t, ids), [w])


@pytest.mark.torch
@given(case=embedding_cases(padding=True))
def test_embedding_matches_torch(case):
    import torch
    w, ids, padding_idx = case
    assert_matches_torch(
        lambda t: ng.embedding(t, ids, padding_idx=padding_idx),
        lambda t: torch.nn.functional.embedding(torch.tensor(ids), t, padding_idx), [w])


def test_embedding_rejects_out_of_range_and_float_ids():
    w = ng.Tensor(np.ones((3, 2)))
    with pytest.raises(IndexError, match="id 3 is out of range for 3 embeddings"):
        ng.embedding(w, np.array([0, 3]))
    with pytest.raises(TypeError, match="integer"):
        ng.embedding(w, np.array([0.0, 1.0]))


def test_shape_errors_name_the_shapes():
    a, b = ng.Tensor(np.ones((2, 3))), ng.Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"tensor 1 has shape \(2, 4\).*\(2, 3\)"):
        ng.stack([a, b])
    with pytest.raises(ValueError, match=r"tensor 1 has shape \(2, 4\).*\(2, 3\)"):
        ng.concat([a, b], axis=0)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) into shape \(4,\)"):
        a.reshape(4)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        a[5]


@st.composite
def array_and_axis(draw):
    """An array with some size-1 axes, and an axis in [-ndim, ndim)."""
    shape = draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=4)).copy()
    return draw(nt.arrays(tuple(shape))), draw(st.integers(-len(shape), len(shape) - 1))


@pytest.mark.torch
@given(case=array_and_axis())
def test_unsqueeze_squeeze_flatten_clone_match_torch(case):
    """torch's shape methods a torch user reaches for, with their gradients (reshapes)."""
    x, axis = case
    assert_matches_torch(lambda t: t.unsqueeze(axis), lambda t: t.unsqueeze(axis), [x])
    assert_matches_torch(lambda t: ng.unsqueeze(t, -1), lambda t: t.unsqueeze(-1), [x])
    assert_matches_torch(lambda t: t.squeeze(), lambda t: t.squeeze(), [x])
    assert_matches_torch(lambda t: t.squeeze(axis), lambda t: t.squeeze(axis), [x])
    assert_matches_torch(lambda t: t.flatten(), lambda t: t.flatten(), [x])
    assert_matches_torch(lambda t: t.flatten(axis), lambda t: t.flatten(axis), [x])
    assert_matches_torch(lambda t: t.flatten(0, axis), lambda t: t.flatten(0, axis), [x])
    assert_matches_torch(lambda t: t.clone() * 2.0, lambda t: t.clone() * 2.0, [x])
    t = ng.Tensor(x)
    assert t.numel() == x.size and t.dim() == x.ndim
    assert t.clone().data is not t.data


@pytest.mark.torch
@given(case=array_and_axis())
def test_reductions_and_softmax_take_torchs_dim_and_keepdim(case):
    x, axis = case
    for name in ("sum", "mean"):
        assert_matches_torch(lambda t: getattr(t, name)(dim=axis, keepdim=True),
                             lambda t: getattr(t, name)(dim=axis, keepdim=True), [x])
    assert_matches_torch(lambda t: t.amax(dim=axis), lambda t: t.amax(dim=axis), [x])
    assert_matches_torch(lambda t: t.softmax(dim=axis), lambda t: t.softmax(dim=axis), [x])
    assert_matches_torch(lambda t: ng.log_softmax(t, dim=axis),
                         lambda t: t.log_softmax(dim=axis), [x])
    with pytest.raises(TypeError, match=r"sum: give axis or dim \(torch's name for it\), not "
                                        r"both"):
        ng.sum(ng.Tensor(x), axis=axis, dim=axis)


def test_flatten_refuses_a_start_after_its_end():
    with pytest.raises(ValueError, match=r"flatten: start_dim 2 comes after end_dim 1"):
        ng.flatten(ng.Tensor(np.zeros((2, 3, 4))), 2, 1)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(3, 4, 5), (7,), (2, 0, 3), ()])
def test_size_is_numpys_count_and_torchs_method(shape):
    """t.size is the element count as in NumPy (an int: arithmetic, comparisons, JSON,
    pickle) and, called, torch's size(): the shape, or one axis's length (torch code's
    x.size(0) raised "'int' object is not callable")."""
    import json
    import pickle

    import torch
    x, tx = ng.tensor(np.zeros(shape)), torch.zeros(shape)
    assert x.size == tx.numel() == np.zeros(shape).size and isinstance(x.size, int)
    assert x.size + 1 == tx.numel() + 1 and json.loads(json.dumps(x.size)) == tx.numel()
    assert pickle.loads(pickle.dumps(x.size)) == tx.numel()
    assert x.size() == tuple(tx.size())
    for dim in range(-len(shape), len(shape)):
        assert x.size(dim) == tx.size(dim), dim
    for dim in (len(shape), -len(shape) - 1):
        with pytest.raises(IndexError):
            tx.size(dim)
        with pytest.raises(IndexError, match="size\\(\\): dimension"):
            x.size(dim)
    with pytest.raises(TypeError, match="size\\(\\): dim must be an int, got float"):
        x.size(1.0)
