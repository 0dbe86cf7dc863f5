"""var, std (E24) and norm (E25) over drawn axes, against torch in float64 and by gradient
checks; their zero-spread and zero-vector gradients, magnitudes near the float range, too
few elements, empty axes and bad arguments."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import testing as nt
from tests.helpers import assert_gradients, assert_matches_torch, shape_and_axis

pytestmark = pytest.mark.filterwarnings("error")     # every warning fails the test


def _count(shape, axis):
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _torch_dim(shape, axis):
    return tuple(range(len(shape))) if axis is None else axis


CORRECTIONS = [0, 1, 0.5, 2, -1]


# -- var and std (E24) ----------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data(), spec=shape_and_axis(), correction=st.sampled_from(CORRECTIONS))
def test_var_std_match_torch(name, data, spec, correction):
    import torch
    shape, axis, keepdim = spec
    if _count(shape, axis) <= correction:
        correction = 0
    x = data.draw(nt.arrays(shape))
    dim = _torch_dim(shape, axis)
    assert_matches_torch(
        lambda t: getattr(ng, name)(t, axis, correction=correction, keepdim=keepdim),
        lambda t: getattr(torch, name)(t, dim, correction=correction, keepdim=keepdim), [x])


@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data(), spec=shape_and_axis(), correction=st.sampled_from(CORRECTIONS))
def test_var_std_gradients(name, data, spec, correction):
    shape, axis, keepdims = spec
    if _count(shape, axis) <= correction:
        correction = 0
    x = data.draw(nt.arrays(shape))
    if _count(shape, axis) == 1 and name == "std":
        return              # s = 0 for every x: the kink of E24 everywhere
    assert_gradients(lambda t: getattr(ng, name)(t, axis=axis, keepdims=keepdims,
                                                 correction=correction), [x])


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_spellings_agree(name):
    """dim/keepdim (torch), axis/keepdims (NumPy), unbiased (torch's old flag), the method."""
    x = ng.tensor(np.arange(12.0).reshape(3, 4) ** 1.5)
    op = getattr(ng, name)
    want = op(x, 1, correction=1, keepdim=True).numpy()
    for got in (op(x, dim=1, keepdim=True), op(x, axis=1, keepdims=True),
                op(x, 1, unbiased=True, keepdim=True), getattr(x, name)(1, keepdim=True)):
        np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(op(x, 1, unbiased=False).numpy(),
                                  op(x, 1, correction=0).numpy())
    assert op(x).shape == () and op(x, (0, 1)).shape == ()
    with pytest.raises(TypeError, match=rf"{name}: give axis or dim"):
        op(x, 1, dim=1)
    with pytest.raises(TypeError, match=rf"{name}: give correction or unbiased"):
        op(x, 1, correction=1, unbiased=True)


@pytest.mark.torch
def test_std_at_zero_spread_has_gradient_zero_as_torch():
    """E24's subgradient: a constant slice has s = 0 and dx = 0 (torch's too); an infinite
    upstream gradient still gives 0 there (a select, not 0 · inf)."""
    import torch
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0], [-3.0, -3.0, -3.0]])
    for correction in (0, 1):
        assert_matches_torch(lambda t: ng.std(t, 1, correction=correction),
                             lambda t: torch.std(t, 1, correction=correction), [x])
    t = ng.tensor(x, requires_grad=True)
    ng.std(t, 1).backward(np.array([np.inf, 1.0, -np.inf]))
    np.testing.assert_array_equal(t.grad[[0, 2]], 0.0)
    assert np.all(np.isfinite(t.grad))


def test_var_std_near_the_float_range_are_finite():
    """Scaled by the largest |x| (E24): finite wherever the result is (in the second case
    max|x|² overflows, the variance does not), against a longdouble reference (x86's has
    range to 1e4932, so it neither overflows nor underflows here)."""
    cases = [np.array([1e200, -1e200, 3e199]), np.array([1.5e154, 1.4e154, 1.45e154]),
             np.array([1e-300, 3e-300, -2e-300]), np.array([3e-320, 1e-320, 0.0]),
             np.array([1.7e308, 1.7e308, -1.7e308])]
    for x in cases:
        ref = np.var(x.astype(np.longdouble), ddof=1)
        for name, want in (("std", np.sqrt(ref)), ("var", ref)):
            t = ng.tensor(x, requires_grad=True)
            y = getattr(ng, name)(t)
            if not want <= np.finfo(np.float64).max:        # the true result overflows
                assert y.item() == np.inf, f"{name}{x}"
                continue
            np.testing.assert_allclose(y.item(), float(want), rtol=1e-14, atol=0,
                                       err_msg=f"{name}{x}")
            y.backward()
            assert np.all(np.isfinite(t.grad)), f"{name}{x}: gradient {t.grad}"
    for dtype in (np.float32, np.float64):      # log2 of the maximum rounds up to maxexp
        biggest = np.finfo(dtype).max
        assert ng.var(ng.tensor(np.array([biggest], dtype)), correction=0).item() == 0.0
        assert ng.std(ng.tensor(np.array([biggest, biggest], dtype))).item() == 0.0
        assert ng.norm(ng.tensor(np.array([biggest, 0.0], dtype))).item() == biggest
    t = ng.tensor(np.array([1e200, -1e200]), requires_grad=True)
    ng.std(t).backward()            # d std/dx = (x − x̄) / ((N − 1) s) = ±1/√2
    np.testing.assert_allclose(t.grad, [2 ** -0.5, -(2 ** -0.5)], rtol=1e-15)


@pytest.mark.parametrize("name", ["var", "std"])
def test_too_few_elements_for_the_correction_is_a_value_error(name):
    """torch gives NaN (inf for N − c < 0) with a warning; here the call is refused:
    finite input gives a finite result or an error (docs/reliability.md)."""
    op = getattr(ng, name)
    with pytest.raises(ValueError, match=rf"{name}: 1 element\(s\) over axis \(1,\) .*"
                                         r"correction=1 .*N − correction > 0"):
        op(ng.tensor(np.ones((3, 1))), 1)
    with pytest.raises(ValueError, match=r"3 element\(s\) .*correction=3"):
        op(ng.tensor(np.ones(3)), correction=3)
    with pytest.raises(ValueError, match=r"0 element\(s\) over axis \(0,\) of a tensor of "
                                         r"shape \(0, 3\)"):
        op(ng.tensor(np.ones((0, 3))), 0, correction=-1)
    assert op(ng.tensor(np.array([5.0])), correction=0).item() == 0.0
    assert op(ng.tensor(np.array(5.0)), correction=0).item() == 0.0     # 0-d: N = 1


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_of_empty_tensors_over_non_empty_axes(name):
    x = ng.tensor(np.ones((0, 3)), requires_grad=True)
    y = getattr(ng, name)(x, 1)
    assert y.shape == (0,)
    y.backward(np.ones(0))
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_argument_errors(name):
    op = getattr(ng, name)
    x = ng.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=rf"{name}: .*floating-point tensor, got dtype int64"):
        op(ng.tensor(np.ones(3, np.int64)))
    with pytest.raises(TypeError, match=rf"{name}: .*floating-point tensor, got dtype bool"):
        op(ng.tensor(np.ones(3, bool)))
    with pytest.raises(TypeError, match=rf"{name}: correction must be a real number, got 'x'"):
        op(x, correction="x")
    with pytest.raises(TypeError, match=rf"{name}: correction must be a real number, got True"):
        op(x, correction=True)
    with pytest.raises(ValueError, match=rf"{name}: correction must be finite, got nan"):
        op(x, correction=float("nan"))
    with pytest.raises(TypeError, match=rf"{name}: unbiased must be True or False"):
        op(x, unbiased=1)
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range"):
        op(x, 2)
    with pytest.raises(TypeError, match=rf"{name}: axis must be an int or a tuple"):
        op(x, 1.5)


# -- norm (E25) -----------------------------------------------------------------------------

NORMS = [2, 1, 3, 0.5, 1.5, np.inf, -np.inf, 0, "fro"]


@pytest.mark.torch
@pytest.mark.parametrize("p", NORMS)
@given(data=st.data(), spec=shape_and_axis())
def test_norm_matches_torch(p, data, spec):
    import torch
    shape, axis, keepdim = spec
    x = data.draw(nt.distinct_arrays(shape))
    dim = _torch_dim(shape, axis)
    # torch.norm's 'fro' is a matrix norm over more than two dims (an error): the 2-norm
    order = 2 if p == "fro" else p
    assert_matches_torch(lambda t: ng.norm(t, p, axis, keepdim),
                         lambda t: torch.linalg.vector_norm(t, order, dim, keepdim), [x])
    if p != "fro" or len(shape) <= 2:
        assert_matches_torch(lambda t: ng.norm(t, p, dim=axis, keepdim=keepdim),
                             lambda t: torch.norm(t, p, dim, keepdim), [x])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 1.5, np.inf, -np.inf])
@given(data=st.data(), spec=shape_and_axis())
def test_norm_gradients(p, data, spec):
    shape, axis, keepdims = spec
    # away from 0 (E25's kink for p <= 1) and from ties (p = ±inf)
    x = data.draw(nt.distinct_arrays(shape, low=0.1, high=2.0))
    x = x * np.where(np.arange(x.size).reshape(shape) % 2, -1.0, 1.0)
    assert_gradients(lambda t: ng.norm(t, p, axis=axis, keepdims=keepdims), [x])


@pytest.mark.torch
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, np.inf, -np.inf, "fro"])
def test_norm_at_zero_has_gradient_zero_as_torch(p):
    """E25's subgradient at x = 0 (and at zero entries) is 0, as torch's; ties of the
    inf-norm share the gradient, as torch's."""
    import torch
    x = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, -4.0], [-2.0, 2.0, 1.0]])
    assert_matches_torch(lambda t: ng.norm(t, p, 1), lambda t: torch.norm(t, p, 1), [x])
    t = ng.tensor(x, requires_grad=True)
    ng.norm(t, p, 1).backward(np.array([np.inf, 1.0, 1.0]))
    np.testing.assert_array_equal(t.grad[0], 0.0, err_msg="inf upstream at x = 0")


def test_norm_near_the_float_range_is_finite():
    """Scaled by the largest |x| (E25): torch's norm of [1e200, 1e200] is inf; subnormals
    keep their digits (3-4-5 in units of the smallest subnormal)."""
    big = ng.tensor(np.array([1e200, 1e200]), requires_grad=True)
    y = ng.norm(big)
    np.testing.assert_allclose(y.item(), np.sqrt(2.0) * 1e200, rtol=1e-15)
    y.backward()
    np.testing.assert_allclose(big.grad, [2 ** -0.5, 2 ** -0.5], rtol=1e-15)
    tiny = np.array([3.0, 4.0]) * 5e-324
    assert ng.norm(ng.tensor(tiny)).item() == 5 * 5e-324
    assert ng.norm(ng.tensor(np.array([1e308, 1e308, 1e308])), 1).item() == np.inf  # 3e308


@pytest.mark.parametrize("dtype, p", [(np.float32, 150.0), (np.float64, 1100.0)])
def test_norm_of_a_large_p_is_finite(dtype, p):
    """|x/m|^p never overflows (m a power of two at least max |x|): ‖[1.9, 1]‖_p is 1.9 to
    within (1 + 1.9^-p)^(1/p) - 1, far below an ulp (it was inf; torch's is inf)."""
    x = ng.tensor(np.array([1.9, 1.0], dtype), requires_grad=True)
    y = ng.norm(x, p)
    assert y.item() == dtype(1.9)
    y.backward()
    assert np.all(np.isfinite(x.grad)) and x.grad[0] == 1.0


@pytest.mark.torch
def test_norm_of_empty_axes_as_torch():
    import torch
    x = np.ones((0, 3))
    for p in (2, 1, 3, 0):
        assert_matches_torch(lambda t: ng.norm(t, p, 0), lambda t: torch.norm(t, p, 0), [x])
        assert ng.norm(ng.tensor(x), p, 1).shape == (0,)
    for p in (np.inf, -np.inf):
        with pytest.raises(ValueError, match=r"norm: cannot reduce over axis 0 of size 0 .*"
                                             r"\(0, 3\)"):
            ng.norm(ng.tensor(x), p, 0)
        assert ng.norm(ng.tensor(x), p, 1).shape == (0,)


def test_norm_argument_errors():
    x = ng.tensor(np.ones((2, 3)))
    for p in (-1, -0.5, float("nan")):
        with pytest.raises(ValueError, match=r"norm: p must be 'fro', 'nuc', inf, -inf or a "
                                             r"number >= 0, got"):
            ng.norm(x, p)
    for p in ("x", None, True):
        with pytest.raises(TypeError, match=r"norm: p must be 'fro', 'nuc', inf, -inf or a "
                                            r"number"):
            ng.norm(x, p)
    with pytest.raises(TypeError, match=r"norm: .*floating-point tensor, got dtype int64"):
        ng.norm(ng.tensor(np.ones(3, np.int64)))
    with pytest.raises(TypeError, match=r"norm: give axis or dim"):
        ng.norm(x, 2, 1, axis=1)
    np.testing.assert_array_equal(x.norm(2, 1).numpy(), ng.norm(x, axis=1).numpy())
    np.testing.assert_array_equal(ng.norm(x, 2, 1, True).numpy(),
                                  ng.norm(x, dim=1, keepdims=True).numpy())
