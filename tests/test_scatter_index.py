"""The overwriting scatter (docs/math.md E45), the ops on slices by a 1-d index (E46) and
the reducing scatter (E48): ``scatter`` / ``scatter_``, ``index_add``, ``index_copy``,
``index_fill``, ``scatter_reduce`` and their ``_`` forms. Against torch (values and
gradients, 1e-12) where no target repeats or torch's rule is the same; where not, against a
sequential loop (the last write kept), finite differences (only the kept value has a
gradient) or the even split of a tie; and the errors each names."""

import re

import numpy as np
import pytest

import nongate_np as ng
from tests.helpers import assert_gradients, assert_matches_torch

pytestmark = pytest.mark.filterwarnings("error")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
DISTINCT = np.array([[2, 0, 1, 1], [0, 2, 2, 0]])     # each column's targets distinct
REPEATED = np.array([[0, 1, 2, 0], [2, 2, 0, 1], [0, 1, 1, 1]])


def _looped(x, axis, index, src):
    """E45 by a sequential loop over index's positions in row-major order."""
    y = x.copy()
    for i in np.ndindex(*index.shape):
        target = list(i)
        target[axis] = index[i]
        y[tuple(target)] = src[i]
    return y


# -- scatter (E45) ------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dim, index", [(0, DISTINCT), (1, DISTINCT.T[:3, :2] + 1),
                                        (-1, np.array([[3, 1], [0, 2], [1, 0]])),
                                        (0, np.zeros((0, 4), np.int64))])
def test_scatter_as_torch(dim, index):
    import torch
    src = RNG.standard_normal(index.shape)
    assert_matches_torch(lambda x, i, s: ng.scatter(x, dim, i, s),
                         lambda x, i, s: torch.scatter(x, dim, i, s), [X.copy(), index, src])
    assert_matches_torch(lambda x, i, s: x.scatter(dim, i, s),
                         lambda x, i, s: x.scatter(dim, i, s), [X.copy(), index, src])
    assert_matches_torch(lambda x, i: x.scatter(dim, i, -1.5),
                         lambda x, i: x.scatter(dim, i, -1.5), [X.copy(), index])
    assert_matches_torch(lambda x, i: ng.scatter(x, dim, i, value=2.0),
                         lambda x, i: torch.scatter(x, dim, i, value=2.0), [X.copy(), index])

    def in_place(x, i, s):
        u = x * 1.0
        assert u.scatter_(dim, i, s) is u
        return u
    assert_matches_torch(in_place, in_place, [X.copy(), index, src])


def test_scatter_keeps_the_last_write_and_only_its_value_has_a_gradient():
    src = RNG.standard_normal(REPEATED.shape)
    for dim in (0, 1):
        index = REPEATED if dim == 0 else REPEATED[:, :3] % 4
        want = _looped(X, dim, index, src)
        np.testing.assert_array_equal(ng.scatter(ng.tensor(X), dim, index,
                                                 ng.tensor(src)).numpy(), want)
        assert_gradients(lambda x, s: ng.scatter(x, dim, index, s), [X.copy(), src.copy()])
    x, s = ng.tensor(X, requires_grad=True), ng.tensor(src, requires_grad=True)
    ng.scatter(x, 0, REPEATED, s).sum().backward()
    kept = np.zeros(REPEATED.shape, bool)
    for i in np.ndindex(*REPEATED.shape):           # kept: no later write to its target
        later = [j for j in np.ndindex(*REPEATED.shape) if j > i and j[1] == i[1]
                 and REPEATED[j] == REPEATED[i]]
        kept[i] = not later
    np.testing.assert_array_equal(s.grad, kept.astype(float))
    written = np.zeros(X.shape, bool)
    for i in np.ndindex(*REPEATED.shape):
        written[REPEATED[i], i[1]] = True
    np.testing.assert_array_equal(x.grad, (~written).astype(float))


def test_scatter_writes_values_exactly():
    """-0.0, inf and NaN written as they are; int and complex dtypes too."""
    src = np.array([[-0.0, np.inf, np.nan, -np.inf]])
    y = ng.scatter(ng.tensor(np.ones((2, 4))), 0, np.array([[1, 0, 1, 0]]),
                   ng.tensor(src)).numpy()
    assert np.signbit(y[1, 0]) and y[1, 0] == 0
    assert y[0, 1] == np.inf and np.isnan(y[1, 2]) and y[0, 3] == -np.inf
    np.testing.assert_array_equal(y[[0, 1, 0, 1], [0, 1, 2, 3]], 1.0)
    big = np.array([[2**62, -7]], np.int64)
    got = ng.scatter(ng.tensor(np.full((2, 2), 5, np.int64)), 0, np.array([[1, 0]]),
                     ng.tensor(big)).numpy()
    np.testing.assert_array_equal(got, [[5, -7], [2**62, 5]])


def test_scatter_and_index_ops_pass_gradcheck_with_a_larger_src():
    """Beyond index's shape src is not read: its gradient there is 0 (E45)."""
    src = RNG.standard_normal((3, 5))
    assert_gradients(lambda x, s: ng.scatter(x, 1, DISTINCT.T[:2, :2], s),
                     [X.copy(), src])
    j = np.array([2, 0, 2])
    assert_gradients(lambda x, s: ng.index_add(x, 1, j, s, alpha=-0.5),
                     [X.copy(), RNG.standard_normal((3, 3))])
    assert_gradients(lambda x, s: ng.index_copy(x, 1, j, s),
                     [X.copy(), RNG.standard_normal((3, 3))])
    assert_gradients(lambda x: ng.index_fill(x, 0, [1], 3.0), [X.copy()])


# -- index_add, index_copy, index_fill (E46) ----------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("dim, index", [(0, np.array([2, 0])), (1, np.array([3, 0, 1])),
                                        (-1, np.array([1])), (0, np.zeros(0, np.int64))])
def test_index_ops_as_torch(dim, index):
    import torch
    shape = list(X.shape)
    shape[dim] = index.size
    source = RNG.standard_normal(shape)
    for alpha in (1, -2.5):
        assert_matches_torch(lambda x, i, s: ng.index_add(x, dim, i, s, alpha=alpha),
                             lambda x, i, s: torch.index_add(x, dim, i, s, alpha=alpha),
                             [X.copy(), index, source])
    assert_matches_torch(lambda x, i, s: x.index_copy(dim, i, s),
                         lambda x, i, s: x.index_copy(dim, i, s), [X.copy(), index, source])
    assert_matches_torch(lambda x, i: x.index_fill(dim, i, -4.0),
                         lambda x, i: x.index_fill(dim, i, -4.0), [X.copy(), index])
    for name in ("index_add_", "index_copy_", "index_fill_"):
        def in_place(x, i, *s, name=name):
            u = x * 1.0
            assert getattr(u, name)(dim, i, *(s or (0.5,))) is u
            return u
        inputs = [X.copy(), index] + ([source] if name != "index_fill_" else [])
        assert_matches_torch(in_place, in_place, inputs)


def test_index_add_sums_repeats_and_index_copy_keeps_the_last():
    j = np.array([1, 1, 0, 1])
    source = RNG.standard_normal((4, 4))
    added = ng.index_add(ng.tensor(X), 0, j, ng.tensor(source)).numpy()
    want = X.copy()
    np.add.at(want, j, source)
    np.testing.assert_allclose(added, want, rtol=1e-15)
    copied = ng.index_copy(ng.tensor(X), 0, j, ng.tensor(source)).numpy()
    np.testing.assert_array_equal(copied, _looped(X, 0, np.broadcast_to(j[:, None], (4, 4)),
                                                  source))
    s = ng.tensor(source, requires_grad=True)
    ng.index_copy(ng.tensor(X), 0, j, s).sum().backward()
    np.testing.assert_array_equal(s.grad[:, 0], [0.0, 0.0, 1.0, 1.0])


def test_index_ops_on_a_0d_tensor():
    x = ng.tensor(2.0, requires_grad=True)
    s = ng.tensor(3.0, requires_grad=True)
    y = ng.index_add(x, 0, [0], s, alpha=2) + ng.index_copy(x, 0, np.array(0), s)
    assert y.shape == () and y.item() == 11.0
    y.backward()
    assert x.grad == 1.0 and s.grad == 3.0
    assert ng.index_fill(ng.tensor(2.0), 0, [0], 9).item() == 9.0


def test_index_fill_takes_a_0d_tensor_value_and_scatter_on_the_tensor_method():
    y = ng.tensor(X).index_fill(1, [0, 3], ng.tensor(-1.0))
    want = X.copy()
    want[:, [0, 3]] = -1.0
    np.testing.assert_array_equal(y.numpy(), want)


# -- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda: ng.scatter(X, 0, DISTINCT, np.ones((2, 4)), reduce="add"), ValueError,
     "reduce='add' is not supported: use scatter_add"),
    (lambda: ng.scatter(X, 0, DISTINCT, np.ones((2, 4)), reduce="multiply"), ValueError,
     "reduce='multiply' is not supported"),
    (lambda: ng.scatter(X, 0, DISTINCT, np.ones((2, 4)), value=1.0), TypeError,
     "give src or value, not both"),
    (lambda: ng.scatter(X, 0, DISTINCT), TypeError, "give src (a tensor) or value"),
    (lambda: ng.scatter(X, 0, DISTINCT, "1"), TypeError, "src must be a tensor, got str"),
    (lambda: ng.scatter(X, 0, DISTINCT, value="1"), TypeError,
     "value must be a number, got str"),
    (lambda: ng.scatter(X, 0, DISTINCT + 1, np.ones((2, 4))), IndexError,
     "scatter: index 3 is out of range for dim 0 of size 3"),
    (lambda: ng.scatter(X, 0, DISTINCT, np.ones((2, 4), np.float32)), TypeError,
     "scatter: src is float32 and input float64"),
    (lambda: ng.scatter(X, 0, DISTINCT[0], np.ones((2, 4))), ValueError,
     "must have one number of dimensions"),
    (lambda: ng.index_add(X, 0, [0, 1], np.ones((2, 3))), ValueError,
     "index_add: source has shape (2, 3); expected input's shape (3, 4) with dim 0 of "
     "len(index) = 2: (2, 4)"),
    (lambda: ng.index_copy(X, 1, [[0]], np.ones((3, 1))), IndexError,
     "index_copy: index must be a vector (1-d), got shape (1, 1)"),
    (lambda: ng.index_copy(X, 1, [4], np.ones((3, 1))), IndexError,
     "index_copy: index 4 is out of range for dim 1 of size 4"),
    (lambda: ng.index_add(X, 1, [0.5], np.ones((3, 1))), TypeError,
     "index_add: index must be an integer array"),
    (lambda: ng.index_add(X, 1, [0], np.ones((3, 1), np.float32)), TypeError,
     "index_add: source is float32 and input float64"),
    (lambda: ng.index_fill(X, 2, [0], 1.0), ValueError, "axis 2 is out of range"),
    (lambda: ng.index_fill(X, 0, [0], ng.tensor([1.0, 2.0])), ValueError,
     "index_fill: value must be a number or a 0-d tensor, got shape (2,)"),
    (lambda: ng.scatter(np.zeros(3, np.int64), 0, np.array([1]), np.nan), ValueError,
     "scatter: 1 value(s) cannot be converted to int64 without overflow (the first: nan)"),
    (lambda: ng.index_fill(ng.tensor(1.0), 0, [0, 0], 1.0), IndexError,
     "index_fill: a 0-d tensor takes 1 index, got 2"),
])
def test_errors_name_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_in_place_forms_refuse_a_leaf_requiring_grad():
    x = ng.tensor(X, requires_grad=True)
    for name, args in (("scatter_", (0, DISTINCT, 1.0)), ("index_add_", (0, [0], X[:1])),
                       ("index_copy_", (0, [0], X[:1])), ("index_fill_", (0, [0], 1.0))):
        with pytest.raises(RuntimeError, match=re.escape(f"{name} on a leaf tensor")):
            getattr(x, name)(*args)


def test_adding_inf_to_minus_inf_gives_nan_without_a_warning():
    """IEEE's inf + (-inf) = NaN, as torch's, without NumPy's RuntimeWarning (the module
    turns warnings into errors); a fuzz run found index_add warning."""
    x = ng.tensor(np.array([np.inf, 1.0], np.float32))
    s = ng.tensor(np.array([-np.inf], np.float32))
    for y in (ng.index_add(x, 0, [0], s), ng.scatter_add(x, 0, np.array([0]), s)):
        assert np.isnan(y.numpy()[0]) and y.numpy()[1] == 1.0


# -- scatter_reduce (E48) -----------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim, index", [(0, REPEATED), (1, REPEATED[:, :3] % 4)])
def test_scatter_reduce_as_torch(reduce, include_self, dim, index):
    """Values and gradients against torch's, targets repeated; random values, so no two
    tie (where torch's amax/amin split differs, below)."""
    import torch
    src = RNG.standard_normal(index.shape)
    assert_matches_torch(
        lambda x, i, s: ng.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
        lambda x, i, s: torch.scatter_reduce(x, dim, i, s, reduce, include_self=include_self),
        [X.copy(), index, src])

    def in_place(x, i, s):
        u = x * 1.0
        assert u.scatter_reduce_(dim, i, s, reduce, include_self=include_self) is u
        return u
    assert_matches_torch(in_place, in_place, [X.copy(), index, src])


@pytest.mark.torch
def test_scatter_reduce_prod_with_zeros_and_an_integer_mean_as_torch():
    import torch
    x = np.array([1.0, 0.0, 3.0, 2.0, 4.0])
    for src in (np.array([0.0, 2.0, 7.0, 0.0, 5.0]), np.array([3.0, 0.0, 7.0, 5.0, 0.5]),
                np.array([3.0, 2.0, 7.0, 5.0, 0.5])):
        for include_self in (True, False):
            assert_matches_torch(
                lambda x, i, s: ng.scatter_reduce(x, 0, i, s, "prod",
                                                  include_self=include_self),
                lambda x, i, s: torch.scatter_reduce(x, 0, i, s, "prod",
                                                     include_self=include_self),
                [x, np.array([1, 1, 2, 1, 4]), src])
    xi, si, j = np.array([-1, 5, 3, 2]), np.array([-5, 2, 7, 4]), np.array([1, 1, 2, 1])
    for include_self in (True, False):
        for s in (si, -si):
            got = ng.scatter_reduce(ng.tensor(xi), 0, j, ng.tensor(s), "mean",
                                    include_self=include_self).numpy()
            want = torch.scatter_reduce(torch.tensor(xi), 0, torch.tensor(j), torch.tensor(s),
                                        "mean", include_self=include_self).numpy()
            np.testing.assert_array_equal(got, want)


def test_scatter_reduce_passes_gradcheck():
    src = RNG.standard_normal(REPEATED.shape)
    for reduce in ("sum", "prod", "mean"):
        for include_self in (True, False):
            assert_gradients(lambda x, s: ng.scatter_reduce(x, 0, REPEATED, s, reduce,
                                                            include_self=include_self),
                             [X.copy(), src.copy()])
    for reduce in ("amax", "amin"):             # no complex step: max has no continuation
        for include_self in (True, False):
            assert ng.gradcheck(lambda x, s: ng.scatter_reduce(
                x, 0, REPEATED, s, reduce, include_self=include_self), [X.copy(), src.copy()],
                method="central").passed


def test_scatter_reduce_amax_splits_dy_evenly_among_the_values_reduced():
    """At a tie every value equal to the result gets dy / k; without include_self input's
    own value is not one of them (torch counts it, and its shares then sum to less than
    dy); the shares always sum to dy."""
    x = np.array([1.0, 5.0, 3.0, 2.0])
    src, j = np.array([5.0, 2.0, 7.0, 5.0]), np.array([1, 1, 2, 1])
    dy = np.array([1.0, 2.0, 3.0, 4.0])
    for include_self, want_x, want_src in ((True, [1.0, 2 / 3, 0.0, 4.0], [2 / 3, 0, 3, 2 / 3]),
                                           (False, [1.0, 0.0, 0.0, 4.0], [1.0, 0, 3, 1.0])):
        xt, st = ng.tensor(x, requires_grad=True), ng.tensor(src, requires_grad=True)
        y = ng.scatter_reduce(xt, 0, j, st, "amax", include_self=include_self)
        np.testing.assert_array_equal(y.numpy(), [1.0, 5.0, 7.0, 2.0])
        y.backward(ng.tensor(dy))
        np.testing.assert_allclose(xt.grad, want_x, rtol=1e-15)
        np.testing.assert_allclose(st.grad, want_src, rtol=1e-15)
        assert xt.grad[1] + st.grad[[0, 1, 3]].sum() == pytest.approx(dy[1], rel=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("reduce", ["amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_amax_of_a_nan_gives_nan_gradients_as_torch(reduce, include_self):
    """A NaN result equals none of its values: each gets a NaN gradient (it got 0, which
    hid the NaN), as torch's; the other targets keep theirs."""
    import torch
    x = np.array([1.0, 5.0, 3.0])
    src, j = np.array([np.nan, 2.0, 7.0]), np.array([1, 1, 2])
    assert_matches_torch(
        lambda x, i, s: ng.scatter_reduce(x, 0, i, s, reduce, include_self=include_self),
        lambda x, i, s: torch.scatter_reduce(x, 0, i, s, reduce, include_self=include_self),
        [x, j, src])
    xt, st = ng.tensor(x, requires_grad=True), ng.tensor(src, requires_grad=True)
    ng.scatter_reduce(xt, 0, j, st, reduce, include_self=include_self).sum().backward()
    assert np.isnan(st.grad[:2]).all() and np.isfinite(st.grad[2])


@pytest.mark.parametrize("call, error, message", [
    (lambda: ng.scatter_reduce(X, 0, DISTINCT, np.ones((2, 4)), "max"), ValueError,
     "scatter_reduce: reduce must be one of sum, prod, mean, amax, amin, got 'max'"),
    (lambda: ng.scatter_reduce(X.astype(complex), 0, DISTINCT, np.ones((2, 4), complex),
                               "amax"), TypeError, "reduce='amax' of complex values"),
    (lambda: ng.scatter_reduce(X, 0, DISTINCT + 1, np.ones((2, 4)), "sum"), IndexError,
     "scatter_reduce: index 3 is out of range for dim 0 of size 3"),
    (lambda: ng.scatter_reduce(X, 0, DISTINCT, np.ones((2, 4), np.float32), "sum"),
     TypeError, "scatter_reduce: src is float32 and input float64"),
])
def test_scatter_reduce_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
