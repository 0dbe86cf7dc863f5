"""What the activation tests of tests/ops/test_activations_smooth.py and
test_activations_piecewise.py share: the edge values every op is compared with torch at,
and the comparison itself (values and the gradient of a fixed cotangent)."""

import numpy as np

import nongate_np as ng


def _around(k: float) -> list[float]:
    """k and its neighbouring floats."""
    return [np.nextafter(k, -np.inf), k, np.nextafter(k, np.inf)]


# 0 and both signed zeros, the kinks of every op at its defaults (±3, 6, ±0.5, ±1) with
# their neighbouring floats, the saturation of the exponentials (±20, ±40, -745, ±800),
# the large values (±1e4), the infinities and NaN
EDGES = np.array([-np.inf, -1e4, -800.0, -745.0, -40.0, -20.0, -6.0, *_around(-3.0), -2.0,
                  *_around(-1.0), *_around(-0.5), -0.3, -1e-8, -1e-300, -0.0, 0.0, 1e-300,
                  1e-8, 0.3, *_around(0.5), *_around(1.0), 2.0, *_around(3.0), *_around(6.0),
                  20.0, 40.0, 800.0, 1e4, np.inf, np.nan])


def cotangent(shape) -> np.ndarray:
    """A fixed cotangent with no zero (each element's gradient seen), of one sign."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.linspace(0.5, 2.0, n).reshape(shape)


def against_torch(ours, theirs, x, what, torch, *, rtol=1e-12, grad_rtol=None,
                  grad_where=None):
    """``ours`` (on nongate_np tensors) and ``theirs`` (on torch tensors) give the same
    values and gradients at ``x`` (float64): NaN exactly where torch's, within ``rtol``
    elsewhere, or a subnormal apart (torch's exp flushes e^{-745} to 0). ``grad_rtol``
    loosens the gradient's tolerance, ``grad_where`` (a mask of x's shape) limits the
    gradient's comparison to where torch's gradient is accurate (each such exception is
    checked against an exact reference in its own test)."""
    a, b = ng.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = ours(a), theirs(b)
    assert y.dtype == x.dtype and y.shape == tuple(z.shape), what
    v = cotangent(y.shape)
    y.backward(v)
    z.backward(torch.tensor(v))
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    keep = np.ones(x.shape, bool) if grad_where is None else grad_where
    for got, want, part, tol in ((y.numpy(), z.detach().numpy(), "value", rtol),
                                 (a.grad[keep], b.grad.numpy()[keep], "gradient", grad_rtol)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what} {part}")
        np.testing.assert_allclose(got, want, rtol=tol, atol=np.finfo(np.float64).tiny,
                                   err_msg=f"{what} {part}")
