"""Ops that move values: reshape, transpose, permute, concat, stack, indexing, embedding."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nongate_np as ng
from nongate_np import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_reshape_flat_and_back(data, shape):
    x = data.draw(nt.arrays(shape))

    def f(t):
        return ng.reshape(t, (-1,)) * np.arange(t.size)
    assert_gradients(f, [x])
    assert_matches_torch(lambda t: ng.reshape(t, shape[::-1]),
                         lambda t: t.reshape(shape[::-1]), [x])


@given(data=st.data(), shape=nt.shapes(min_dims=2, max_dims=4))
def test_permute_and_transpose(data, shape):
    x = data.draw(nt.arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    assert_gradients(lambda t: ng.permute(t, perm), [x])
    assert_matches_torch(lambda t: ng.permute(t, perm), lambda t: t.permute(perm), [x])
    assert_matches_torch(lambda t: ng.transpose(t, 0, -1), lambda t: t.transpose(0, -1), [x])
    assert_matches_torch(lambda t: t.T, lambda t: t.permute(tuple(reversed(range(t.ndim)))),
                         [x])


@given(data=st.data(), shape=nt.shapes(min_dims=1), n=st.integers(1, 3))
def test_concat_and_stack(data, shape, n):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(n)]
    parts = []
    for s in sizes:
        shp = list(shape)
        shp[axis] = s
        parts.append(data.draw(nt.arrays(tuple(shp))))
    torch = pytest.importorskip("torch")
    assert_gradients(lambda *ts: ng.concat(list(ts), axis=axis), parts)
    assert_matches_torch(lambda *ts: ng.concat(list(ts), axis=axis),
                         lambda *ts: torch.cat(ts, dim=axis), parts)
    same = [data.draw(nt.arrays(shape)) for _ in range(n)]
    assert_gradients(lambda *ts: ng.stack(list(ts), axis=axis), same)
    assert_matches_torch(lambda *ts: ng.stack(list(ts), axis=axis),
                         lambda *ts: torch.stack(ts, dim=axis), same)


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
    assert_matches_torch(lambda t: t[idx], lambda t: t[idx], [x])


@given(data=st.data(), shape=nt.shapes(min_dims=1))
def test_getitem_integer_arrays_with_repeats(data, shape):
    x = data.draw(nt.arrays(shape))
    rows = data.draw(nt.index_arrays((data.draw(st.integers(1, 6)),), shape[0]))
    assert_gradients(lambda t: t[rows], [x])
    torch = pytest.importorskip("torch")
    assert_matches_torch(lambda t: t[rows], lambda t: t[torch.tensor(rows)], [x])
    if len(shape) > 1:
        cols = data.draw(nt.index_arrays(rows.shape, shape[1]))
        assert_gradients(lambda t: t[rows, cols], [x])
        assert_matches_torch(lambda t: t[rows, cols],
                             lambda t: t[torch.tensor(rows), torch.tensor(cols)], [x])


def test_getitem_boolean_mask():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 3))
    mask = x[:, 0] > 0
    assert_gradients(lambda t: t[mask], [x])
    assert_matches_torch(lambda t: t[mask], lambda t: t[torch.tensor(mask)], [x])


@given(data=st.data(), ids_shape=nt.shapes(min_dims=1, max_dims=2),
       n=st.integers(1, 5), dim=st.integers(1, 3), pad=st.booleans())
def test_embedding(data, ids_shape, n, dim, pad):
    w = data.draw(nt.arrays((n, dim)))
    ids = data.draw(nt.index_arrays(ids_shape, n))
    padding_idx = 0 if pad else None

    def f(t):
        return ng.embedding(t, ids, padding_idx=padding_idx)
    # NOTE: the padding row gets no gradient by design, so only torch is the reference there.
    if padding_idx is None:
        assert_gradients(f, [w])
    torch = pytest.importorskip("torch")
    assert_matches_torch(
        f, lambda t: torch.nn.functional.embedding(torch.tensor(ids), t, padding_idx), [w])


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
