"""Shared assertions: one call checks an op's gradients three ways, another against torch."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.check import gradcheck
from nongate_np.check import testing as nt

CENTRAL_MAX_REL = 1e-6        # the bound for central differences, float64
COMPLEX_STEP_MAX_REL = 1e-12  # the bound for complex-step, float64


def assert_gradients(fn, inputs, *, analytic: bool = True, names=None) -> None:
    """Central differences, complex-step (when ``fn`` is analytic) and the directional check,
    each with the issue's bound on the maximum relative error."""
    rep = gradcheck(fn, inputs, method="central", names=names)
    assert rep.max_rel_error <= CENTRAL_MAX_REL, str(rep)
    if analytic:
        rep = gradcheck(fn, inputs, method="complex_step", names=names)
        assert rep.max_rel_error <= COMPLEX_STEP_MAX_REL, str(rep)
    gradcheck(fn, inputs, method="directional", names=names)


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def assert_matches_torch(fn, torch_fn, inputs, *, rtol: float = 1e-12, atol: float = 1e-14,
                         seed: int = 0) -> None:
    """Outputs and gradients of ``fn`` (ours) equal ``torch_fn``'s on the same float64 inputs.

    Both sides backpropagate the same random cotangent; integer and boolean inputs are passed
    as constants (torch gets int64 / bool tensors). Call it from tests marked ``torch`` only:
    without torch it raises ImportError, where a skip would end a Hypothesis property after
    its first example and hide that its other checks stopped.
    """
    import torch
    ours = [ng.Tensor(a.copy(), requires_grad=True) if _is_float(a) else a for a in inputs]
    theirs = [torch.tensor(a, requires_grad=True) if _is_float(a) else
              (torch.tensor(a) if isinstance(a, np.ndarray) else a) for a in inputs]
    out, tout = fn(*ours), torch_fn(*theirs)
    got = out.data
    want = tout.detach().numpy()
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg="forward output")
    v = np.random.default_rng(seed).standard_normal(got.shape)
    out.backward(v)
    tout.backward(torch.tensor(v))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, ng.Tensor):
            want_g = b.grad.numpy() if b.grad is not None else np.zeros(a.shape)
            got_g = a.grad if a.grad is not None else np.zeros(a.shape)
            np.testing.assert_allclose(got_g, want_g, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {k}")


@st.composite
def shape_and_axis(draw):
    """A shape, an axis spec (None, an int or a tuple) and keepdims, for the reductions."""
    shape = draw(nt.shapes(min_dims=1))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = None if not axes else (axes[0] - len(shape) if len(axes) == 1 else tuple(axes))
    return shape, axis, draw(st.booleans())
