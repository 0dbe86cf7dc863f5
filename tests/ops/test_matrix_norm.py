"""Matrix norms and singular values (E47): ``linalg.matrix_norm``, ``linalg.norm``'s
dispatch, ``norm(p='nuc')``, ``linalg.svdvals``, against torch in float64 and by gradient
checks; repeated and zero singular values (where only the subgradient conditions are
promised), empty matrices and batches, non-finite entries and bad arguments.

Tolerances: 1e-12 (relative) where no SVD is involved, as every torch port. Where one is,
torch's LAPACK and NumPy's differ by their backward errors: σ by about ε‖A‖, the singular
vectors by about ε‖A‖/gap; the test matrices are built with singular values at least 0.5
apart and ‖A‖ ≤ 4, so both agree to about 1e-15, and 1e-10 leaves a wide margin without
hiding a wrong formula (a wrong gradient is off by O(1))."""

import re

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.check import gradcheck
from tests.helpers import assert_gradients, assert_matches_torch

pytestmark = pytest.mark.filterwarnings("error")

ORDS = ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]
SVD_ORDS = ("nuc", 2, -2)
SVD_TOL = {"rtol": 1e-10, "atol": 1e-12}


def _tol(ord) -> dict:
    return SVD_TOL if ord in SVD_ORDS else {}


def _orthonormal(rng, n: int, k: int) -> np.ndarray:
    """n × k with orthonormal columns (the Q of a random matrix's QR)."""
    return np.linalg.qr(rng.standard_normal((n, n)))[0][:, :k]


def _matrices(shape: tuple, dims=(-2, -1), sigma=None, seed: int = 0) -> np.ndarray:
    """An array of ``shape`` whose matrices along ``dims`` (rows, columns) are
    U diag(σ) Vᵀ with random U, V and σ = ``sigma`` (default: distinct, from 3.7 down by
    0.5 steps, each matrix scaled by its own factor in [0.8, 1.1])."""
    rng = np.random.default_rng(seed)
    rows, cols = (shape[d] for d in dims)
    rest = tuple(n for a, n in enumerate(shape) if a not in {d % len(shape) for d in dims})
    k = min(rows, cols)
    base = np.asarray(sigma, float) if sigma is not None else 3.7 - 0.5 * np.arange(k)
    out = np.empty(rest + (rows, cols))
    for index in np.ndindex(*rest):
        s = base * (rng.uniform(0.8, 1.1) if sigma is None else 1.0)
        out[index] = _orthonormal(rng, rows, k) @ np.diag(s) @ _orthonormal(rng, cols, k).T
    return np.moveaxis(out, (-2, -1), dims)


# -- against torch -------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("shape, dim, keepdim", [
    ((4, 3), (-2, -1), False), ((3, 5), (0, 1), True), ((2, 4, 3), (-2, -1), False),
    ((2, 4, 3), (-2, -1), True), ((3, 2, 4), (0, 2), False), ((3, 2, 4), (0, 2), True),
    ((3, 2, 4), (2, 0), False), ((2, 1, 3, 3), (1, 3), True)])
def test_matrix_norm_as_torch(ord, shape, dim, keepdim):
    import torch
    x = _matrices(shape, dim)
    assert_matches_torch(lambda t: ng.linalg.matrix_norm(t, ord, dim, keepdim),
                         lambda t: torch.linalg.matrix_norm(t, ord, dim, keepdim), [x],
                         **_tol(ord))


@pytest.mark.torch
def test_svdvals_as_torch():
    import torch
    for shape in ((4, 3), (3, 4), (2, 3, 3), (2, 1, 2, 5)):
        x = _matrices(shape, seed=len(shape))
        assert_matches_torch(ng.linalg.svdvals, torch.linalg.svdvals, [x], **SVD_TOL)
    got = ng.linalg.svdvals(_matrices((3, 2)).astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), np.linalg.svd(_matrices((3, 2)),
                                                          compute_uv=False), rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("args, kwargs", [
    ((), {}), ((None,), {}), ((2,), {}), (("nuc",), {}), ((-np.inf,), {}), ((1,), {}),
    (("fro",), {}), ((None, (0, 1)), {}), ((-2, (1, 0), True), {}), ((np.inf, [0, 1]), {}),
    ((3.5, 1), {}), ((None, 0, True), {}), ((1, -1), {})])
def test_linalg_norm_dispatches_as_torch(args, kwargs):
    """A string ord, or a number over two dims (given, or a 2-d A), is a matrix norm; the
    rest vector norms."""
    import torch
    x = _matrices((4, 3))
    assert_matches_torch(lambda t: ng.linalg.norm(t, *args, **kwargs),
                         lambda t: torch.linalg.norm(t, *args, **kwargs), [x], **SVD_TOL)
    if len(args) == 1 and args[0] is not None and not isinstance(args[0], str):
        v = np.random.default_rng(3).standard_normal(5)         # a 1-d A: a vector norm
        assert_matches_torch(lambda t: ng.linalg.norm(t, *args),
                             lambda t: torch.linalg.norm(t, *args), [v])


@pytest.mark.torch
@pytest.mark.parametrize("ord, dim", [(2, (0, 2)), ("nuc", (1, 2)), ("fro", (2, 0)),
                                      (-1, (0, 1)), (None, (1, 2)), (np.inf, (2, 1))])
def test_linalg_norm_over_two_dims_of_3d_as_torch(ord, dim):
    import torch
    x = _matrices((3, 4, 2), dim)
    for keepdim in (False, True):
        assert_matches_torch(lambda t: ng.linalg.norm(t, ord, dim, keepdim),
                             lambda t: torch.linalg.norm(t, ord, dim, keepdim), [x],
                             **SVD_TOL)


@pytest.mark.torch
def test_norm_nuc_as_torch():
    """torch.norm's p='nuc': the nuclear norm over dim (None: of a 2-d x); also as a
    method."""
    import torch
    x2, x3 = _matrices((4, 3)), _matrices((3, 2, 4), (0, 2))
    assert_matches_torch(lambda t: ng.norm(t, "nuc"), lambda t: torch.norm(t, "nuc"), [x2],
                         **SVD_TOL)
    assert_matches_torch(lambda t: t.norm("nuc", dim=(0, 2), keepdim=True),
                         lambda t: t.norm("nuc", dim=(0, 2), keepdim=True), [x3], **SVD_TOL)
    assert_matches_torch(lambda t: ng.norm(t, "nuc", axis=(2, 0)),
                         lambda t: torch.norm(t, "nuc", dim=(2, 0)), [x3], **SVD_TOL)


@pytest.mark.torch
def test_dtype_casts_first_as_torch():
    import torch
    x = _matrices((3, 3)).astype(np.float32)
    for ord in ORDS:
        got = ng.linalg.matrix_norm(x, ord, dtype=np.float64)
        want = torch.linalg.matrix_norm(torch.tensor(x), ord, dtype=torch.float64)
        assert got.dtype == np.float64, ord
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, err_msg=str(ord))
        assert ng.linalg.matrix_norm(x, ord).dtype == np.float32


# -- gradient checks -----------------------------------------------------------------------

@pytest.mark.parametrize("ord", ["fro", 1, -1, np.inf, -np.inf])
@pytest.mark.parametrize("shape, dim", [((4, 3), (-2, -1)), ((3, 2, 4), (0, 2)),
                                        ((2, 3, 3), (2, 1))])
def test_composed_norm_gradients(ord, shape, dim):
    """Compositions of E25 and E9: central, complex-step (analytic away from ties and zero
    entries, which these matrices have none of) and directional."""
    x = _matrices(shape, dim)
    assert_gradients(lambda t: ng.linalg.matrix_norm(t, ord, dim), [x])


@pytest.mark.parametrize("ord", SVD_ORDS)
@pytest.mark.parametrize("shape, dim", [((4, 3), (-2, -1)), ((3, 5), (-2, -1)),
                                        ((3, 2, 4), (0, 2)), ((2, 3, 3), (2, 1))])
def test_singular_value_norm_gradients(ord, shape, dim):
    """E47 at distinct nonzero singular values: central differences and the directional
    check. Not complex-step: NumPy's SVD of a complex matrix is not its analytic
    continuation, and the op refuses complex input."""
    x = _matrices(shape, dim)
    assert_gradients(lambda t: ng.linalg.matrix_norm(t, ord, dim), [x], analytic=False)
    assert_gradients(lambda t: ng.linalg.svdvals(t), [_matrices(shape)], analytic=False)
    with pytest.raises(TypeError, match="singular values of complex input are not here"):
        gradcheck(lambda t: ng.linalg.matrix_norm(t, ord, dim), [x], method="complex_step")


# -- repeated and zero singular values (E47) --------------------------------------------------

def _nuclear(g: np.ndarray) -> float:
    return float(np.sum(np.linalg.svd(g, compute_uv=False)))


def _grad(fn, x: np.ndarray, dy: float = 1.0) -> np.ndarray:
    t = ng.tensor(x, requires_grad=True)
    fn(t).backward(np.array(dy))
    return t.grad


@pytest.mark.torch
def test_nuclear_norm_at_a_repeated_singular_value_is_torchs():
    """U Vᵀ does not depend on the basis LAPACK picks within a repeated block."""
    import torch
    x = _matrices((4, 3), sigma=[2.0, 2.0, 1.0], seed=5)
    assert_matches_torch(lambda t: ng.linalg.matrix_norm(t, "nuc"),
                         lambda t: torch.linalg.matrix_norm(t, "nuc"), [x], **SVD_TOL)


@pytest.mark.torch
@pytest.mark.parametrize("ord, sigma, value", [(2, [2.0, 2.0, 1.0], 2.0),
                                               (-2, [3.0, 1.0, 1.0], 1.0)])
def test_extreme_singular_value_at_a_repeated_one_is_a_subgradient(ord, sigma, value):
    """What both promise where σ_1 (σ_min) repeats: ⟨G, A⟩ = the norm and the nuclear norm
    of G is 1 (G = U_B W V_Bᵀ, W ⪰ 0 of trace 1); the two G need not be equal."""
    import torch
    x = _matrices((4, 3), sigma=sigma, seed=6)
    ours = _grad(lambda t: ng.linalg.matrix_norm(t, ord), x)
    t = torch.tensor(x, requires_grad=True)
    torch.linalg.matrix_norm(t, ord).backward()
    for name, g in (("ours", ours), ("torch's", t.grad.numpy())):
        np.testing.assert_allclose(np.sum(g * x), value, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(_nuclear(g), 1.0, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(ng.linalg.matrix_norm(x, ord).item(), value, rtol=1e-12)


@pytest.mark.torch
def test_zero_singular_values_drop_their_term():
    """At an exact zero σ the term u vᵀ is dropped (E47): of diag(3, 2, 0) the nuclear
    norm's gradient is diag(1, 1, 0), the least-norm subgradient; torch's keeps a ±1 there
    (its LAPACK's null vectors), another subgradient. svdvals([[a]]) = |a| has E19's
    gradient sign(a), 0 at a = 0 (torch's: 1)."""
    import torch
    x = np.diag([3.0, 2.0, 0.0])
    ours = _grad(lambda t: ng.linalg.matrix_norm(t, "nuc"), x)
    np.testing.assert_array_equal(np.abs(ours), np.diag([1.0, 1.0, 0.0]))
    t = torch.tensor(x, requires_grad=True)
    torch.linalg.matrix_norm(t, "nuc").backward()
    for name, g in (("ours", ours), ("torch's", t.grad.numpy())):
        np.testing.assert_allclose(np.sum(g * x), 5.0, rtol=1e-12, err_msg=name)
        assert np.linalg.norm(g, 2) <= 1 + 1e-12, name      # the dual (spectral) norm
    for a in (-1.5, 0.0, 2.0):
        g = _grad(lambda t: ng.linalg.svdvals(t).sum(), np.array([[a]]))
        assert g[0, 0] == np.sign(a), a


@pytest.mark.parametrize("ord", ORDS)
def test_gradient_at_zero_is_zero(ord):
    """At A = 0 every matrix norm's gradient is 0 (E25, E47), an infinite upstream too."""
    for shape in ((3, 3), (2, 4)):
        g = _grad(lambda t: ng.linalg.matrix_norm(t, ord), np.zeros(shape), np.inf)
        np.testing.assert_array_equal(g, 0.0, err_msg=f"ord={ord} shape={shape}")


def test_non_finite_matrices_give_nan_alone():
    """A matrix with a NaN or inf entry: NaN singular values and gradient; its batch's
    other matrices their own (LAPACK would refuse the whole batch)."""
    x = _matrices((3, 3, 2))
    x[1, 0, 0], x[2, 1, 1] = np.nan, np.inf
    t = ng.tensor(x, requires_grad=True)
    y = ng.linalg.matrix_norm(t, "nuc")
    y.backward(np.ones(3))
    np.testing.assert_allclose(y.numpy()[0], ng.linalg.matrix_norm(x[0], "nuc").item(),
                               rtol=1e-15)
    assert np.all(np.isnan(y.numpy()[1:])) and np.all(np.isnan(t.grad[1:]))
    assert np.all(np.isfinite(t.grad[0]))


# -- empty matrices and batches --------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 3), (2, 3, 0), (0, 0)])
def test_empty_as_torch(ord, shape):
    """An empty batch gives an empty result; an empty matrix's 'fro', 'nuc', 1, 2, inf
    norms are 0; -1, -inf, -2 over an empty dim raise (torch raises too)."""
    import torch
    x = np.zeros(shape)
    try:
        want = torch.linalg.matrix_norm(torch.tensor(x), ord)
    except IndexError:          # torch's error for a minimum over nothing
        with pytest.raises(ValueError, match="is a minimum over nothing"):
            ng.linalg.matrix_norm(x, ord)
        return
    t = ng.tensor(x, requires_grad=True)
    y = ng.linalg.matrix_norm(t, ord)
    assert y.shape == tuple(want.shape)
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    y.backward(np.ones(y.shape))            # no element: the gradient is x's, empty
    assert t.grad.shape == shape


# -- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, args, error, message", [
    (ng.linalg.matrix_norm, (np.ones((2, 2)), 3), ValueError,
     "ord must be 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2, got 3"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), "nu"), ValueError,
     "unknown ord 'nu'; expected 'fro', 'nuc'"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), None), TypeError, "ord must be 'fro'"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), True), TypeError, "got True"),
    (ng.linalg.matrix_norm, (np.ones((2, 2), np.int64),), TypeError,
     "expected a floating-point tensor, got dtype int64"),
    (ng.linalg.matrix_norm, (np.ones(3),), ValueError,
     "needs A of at least 2 dims (*, m, n), got shape (3,)"),
    (ng.linalg.matrix_norm, (np.ones((2, 2, 2)), "fro", (0, 1, 2)), ValueError,
     "takes two dims (rows, columns), got dim=(0, 1, 2)"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), "fro", 0), ValueError, "got dim=(0,)"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), "fro", (1, -1)), ValueError,
     "dim (1, -1) names dim 1 twice"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), "fro", (0, 2)), ValueError,
     "axis 2 is out of range"),
    (ng.linalg.matrix_norm, (np.ones((2, 2)), "fro", "a"), TypeError,
     "dim must be a tuple of two ints (rows, columns), got 'a'"),
    (ng.linalg.matrix_norm, (np.ones((2, 2), np.complex128), "nuc"), TypeError,
     "linalg.matrix_norm (ord='nuc'): singular values of complex input are not here"),
    (ng.linalg.matrix_norm, (np.ones((2, 2), np.float16), 2), TypeError,
     "(ord=2): singular values need a float32 or float64 tensor, got dtype float16"),
    (ng.linalg.svdvals, (np.ones(3),), ValueError, "at least 2 dims (*, m, n)"),
    (ng.linalg.svdvals, (np.ones((2, 2), np.int64),), TypeError,
     "float32 or float64 tensor, got dtype int64"),
    (ng.norm, (np.ones((2, 2, 2)), "nuc"), ValueError, "norm: a matrix norm takes two dims"),
    (ng.norm, (np.ones(3), "nuc"), ValueError, "norm: a matrix norm needs A of at least 2"),
    (ng.linalg.norm, (np.ones((2, 2, 2)), 2), ValueError,
     "with ord=2 and no dim, A must be 1-d or 2-d"),
    (ng.linalg.norm, (np.ones((2, 2, 2)), "nuc"), ValueError, "A must be 1-d or 2-d"),
    (ng.linalg.norm, (np.ones(3), "fro"), ValueError, "needs A of at least 2 dims"),
    (ng.linalg.norm, (np.ones((2, 2, 2)), None, (0, 1, 2)), ValueError,
     "dim must be one dim or two"),
    (ng.linalg.norm, (np.ones((2, 2, 2)), "nuc", 1), ValueError, "takes two dims"),
])
def test_errors(fn, args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fn(*args)
