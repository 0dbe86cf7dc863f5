"""Hypothesis strategies for fuzzing differentiable functions: the ones this project's own
tests use, public so you can fuzz your functions the same way.

Shapes are drawn by Hypothesis (so failures shrink to small shapes); values come from a NumPy
generator seeded by a Hypothesis-drawn integer, spread evenly over a range and kept away from
points where a function is not differentiable (``relu`` at 0, ties in ``max``) or not defined
(``log`` at 0), so finite differences and complex-step see a smooth function.

Example::

    from hypothesis import given
    import nongate_np as ng
    from nongate_np.check import testing as nt

    @given(nt.arrays(nt.shapes(min_dims=1)))
    def test_tanh_grad(x):
        ng.gradcheck(lambda t: ng.tanh(t), [x], method="complex_step")

Requires Hypothesis (``pip install hypothesis``).
"""

from __future__ import annotations

import numpy as np

from ..extras import install_hint

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(f"nongate_np.check.testing needs Hypothesis: "
                      f"{install_hint('test')}") from err

__all__ = ["shapes", "broadcastable_shapes", "matmul_shapes", "arrays", "positive_arrays",
           "distinct_arrays", "index_arrays", "lstm_sizes", "scaled_arrays"]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes; sides of 1 are always possible, so broadcasting edge cases appear."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (some axes stretched from 1,
    some shapes shorter than others)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side,
    ).map(lambda bs: bs.input_shapes)


@st.composite
def matmul_shapes(draw, max_batch_dims: int = 2, max_side: int = 4):
    """Pairs ``(shape_a, shape_b)`` valid for ``matmul``: 1-D operands, batched operands and
    batch axes that broadcast against each other."""
    m, k, n = (draw(st.integers(1, max_side)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, 0, max_batch_dims, max_side=3))
    a = (k,) if draw(st.booleans()) and not batch_a else batch_a + (m, k)
    b = (k,) if draw(st.booleans()) and not batch_b else batch_b + (k, n)
    return a, b


def _values(seed: int, shape: tuple, low: float, high: float, away_from: tuple,
            margin: float, dtype) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=shape)
    for point in away_from:
        near = np.abs(x - point) < margin
        # Push values out of the band around the kink, keeping their side.
        x = np.where(near, point + np.where(x >= point, margin, -margin), x)
    return x.astype(dtype)


@st.composite
def arrays(draw, shape, *, dtype=np.float64, low: float = -2.0, high: float = 2.0,
           away_from: tuple = (), margin: float = 0.05):
    """Well-conditioned arrays: values in [low, high], at least ``margin`` from every point
    in ``away_from`` (e.g. ``away_from=(0,)`` for relu). ``shape`` is a tuple or a strategy."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    return _values(seed, shape, low, high, tuple(away_from), margin, dtype)


def positive_arrays(shape, *, dtype=np.float64, low: float = 0.5, high: float = 2.0):
    """Arrays bounded away from 0 (domains of log, of a pow base, of a divisor)."""
    return arrays(shape, dtype=dtype, low=low, high=high)


@st.composite
def distinct_arrays(draw, shape, *, dtype=np.float64, low: float = -2.0, high: float = 2.0):
    """Arrays whose elements differ pairwise by at least (high - low) / (4 n): no near-ties,
    so ``max`` and sorting are differentiable at them."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape, dtype=np.int64))
    slots = rng.permutation(n) + 0.5 + rng.uniform(-0.25, 0.25, size=n)
    return (low + (high - low) * slots / max(n, 1)).reshape(shape).astype(dtype)


@st.composite
def index_arrays(draw, shape, n: int, *, dtype=np.int64):
    """Integer arrays with values in [0, n), repeats included (tests scatter-add paths)."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(0, n, size=shape).astype(dtype)


@st.composite
def lstm_sizes(draw, max_T: int = 5, max_B: int = 3, max_I: int = 4, max_H: int = 4):
    """(T, B, I, H) for recurrent layers, including the edge cases T = 1, B = 1, H = 1."""
    return tuple(draw(st.integers(1, m)) for m in (max_T, max_B, max_I, max_H))


@st.composite
def scaled_arrays(draw, shape, *, min_exp: int = -8, max_exp: int = 8, mixed=None,
                  signed: bool = True, dtype=np.float64):
    """Arrays of any magnitude: each |x_i| = m_i·10^e with a mantissa m_i in [1, 10) and an
    exponent e in [min_exp, max_exp]: one e for the whole array (one scale), or one per
    element (scales mixed in one array; drawn by Hypothesis when ``mixed`` is None, always
    including both ends of the range). Signs are random when ``signed``, else positive; no
    element is 0, so a function's kinks and poles at 0 stay out of reach."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    if mixed is None:
        mixed = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape, dtype=np.int64))
    if mixed:
        exponents = rng.integers(min_exp, max_exp + 1, size=n)
        exponents[:2] = (min_exp, max_exp)[:n]          # the extremes, where there is room
        exponents = rng.permutation(exponents)
    else:
        exponents = np.full(n, draw(st.integers(min_exp, max_exp)))
    x = rng.uniform(1.0, 10.0, size=n) * 10.0 ** exponents.astype(np.float64)
    if signed:
        x *= rng.choice([-1.0, 1.0], size=n)
    return x.reshape(shape).astype(dtype)
