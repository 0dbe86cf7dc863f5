"""einsum, as torch 2.13's (docs/math.md E40): values and every gradient against torch in
float64 on named equations (products, traces, diagonals, transposes, sums, ellipsis
broadcasting, three operands, broadcast size-1 dims); random equations drawn by Hypothesis
against NumPy's einsum (values) and the library's own central-difference and complex-step
checks (gradients), and the GPU's composition of device functions run on the CPU against
NumPy; the call forms, dtypes, and the errors. (The GPU:
tests/cuda/test_cuda_einsum_attention.py.)"""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.kernels.array_api import NUMPY
from nongate_np.ops.einsum import _composed, _parse
from nongate_np.torch_names import HINTS
from tests.helpers import assert_gradients, assert_matches_torch

EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),                    # matmul
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),           # batched matmul
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),     # bilinear
    ("ii", [(3, 3)]),                                   # trace
    ("ii->i", [(3, 3)]),                                # diagonal
    ("i,j->ij", [(3,), (4,)]),                          # outer
    ("ij->", [(3, 4)]),                                 # sum
    ("ij->ji", [(3, 4)]),                               # transpose
    ("ijk->kij", [(2, 3, 4)]),
    ("ij->j", [(3, 4)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),        # ellipsis, broadcast
    ("...ij,...jk->...ik", [(3, 4), (2, 4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),         # three operands
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("iij->j", [(3, 3, 2)]),                            # a diagonal summed
    ("iji->j", [(3, 2, 3)]),
    ("iijj->ij", [(2, 2, 3, 3)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    ("ij,jk", [(2, 1), (3, 4)]),                        # a size-1 dim broadcast
    ("ij,ij->ij", [(2, 1), (1, 3)]),
    ("i,i->", [(1,), (4,)]),
    ("ab,cd->", [(2, 3), (4, 5)]),                      # dims summed in one operand alone
    ("ab,bc->b", [(2, 3), (3, 4)]),
    ("...ii->...i", [(4, 2, 2)]),
    ("i...i->i", [(2, 3, 2)]),
    ("ba", [(2, 3)]),                                   # implicit: torch's order
    ("Ab,bA", [(2, 3), (3, 2)]),
    ("bA", [(2, 3)]),
    ("...->...", [(2,)]),
    ("ij->...", [(2, 3)]),
    ("...ij->ij", [(2, 3, 4)]),                         # '...' summed
    (" i j , j k -> i k ", [(2, 3), (3, 4)]),           # spaces
    ("i->", [(0,)]),                                    # empty dims
    ("ij,jk->ik", [(0, 3), (3, 2)]),
    ("ij,jk->ik", [(2, 0), (0, 2)]),
    (",ij->ij", [(), (2, 3)]),                          # a 0-d operand
    ("", [()]),
]


def _operands(shapes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.torch
@pytest.mark.parametrize("equation, shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_values_and_gradients_equal_torchs(equation, shapes):
    import torch
    assert_matches_torch(lambda *xs: ng.einsum(equation, *xs),
                         lambda *xs: torch.einsum(equation, *xs), _operands(shapes),
                         rtol=1e-12, atol=1e-13)


@pytest.mark.torch
def test_the_list_and_sublist_forms_equal_torchs():
    import torch
    a, b = _operands([(2, 3), (3, 4)])
    want = torch.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(ng.einsum("ij,jk->ik", [a, b]).numpy(), want, rtol=1e-14)
    np.testing.assert_allclose(ng.einsum("ij,jk->ik", (a, b)).numpy(), want, rtol=1e-14)
    for args in [(a, [0, 1], b, [1, 2], [0, 2]), (a, [0, 1], b, [1, 2]),
                 (a, [Ellipsis, 1], b, [1, 2]), (a, [30, 1], b, [1, 51], [51, 30])]:
        theirs = [torch.tensor(x) if isinstance(x, np.ndarray) else x for x in args]
        np.testing.assert_allclose(ng.einsum(*args).numpy(), torch.einsum(*theirs).numpy(),
                                   rtol=1e-14, err_msg=str(args[1::2]))


def test_gradients_by_central_differences_and_complex_step():
    """The two hard cases of E40 (a diagonal, a dim summed in one operand alone) and a
    broadcast dim, without torch."""
    for equation, shapes in [("iij,jk->ik", [(3, 3, 2), (2, 4)]), ("ab,cd->c", [(2, 3), (4, 5)]),
                             ("ij,jk", [(2, 1), (3, 4)]), ("...ii->i", [(2, 3, 3)]),
                             ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)])]:
        assert_gradients(lambda *xs: ng.einsum(equation, *xs), _operands(shapes, 1))


def test_the_hard_cases_by_hand():
    """E40: the trace's gradient is dy·I, the diagonal's diag(dy), a sum's a broadcast."""
    x = ng.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    ng.einsum("ii", x).backward(np.float64(2.5))
    np.testing.assert_array_equal(x.grad, 2.5 * np.eye(3))
    x.grad = None
    ng.einsum("ii->i", x).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, np.diag([1.0, 2.0, 3.0]))
    y = ng.tensor(np.ones((2, 3)), requires_grad=True)
    ng.einsum("ij->i", y).backward(np.array([4.0, 5.0]))
    np.testing.assert_array_equal(y.grad, [[4.0] * 3, [5.0] * 3])


# -- random equations --------------------------------------------------------------------------

@st.composite
def equations(draw, max_operands=3):
    """(equation, shapes): 1-3 operands over a few subscripts, some repeated in a term, some
    dims of size 1 (broadcast), '...' in some terms, implicit or explicit output."""
    letters = draw(st.lists(st.sampled_from("abcdAB"), min_size=1, max_size=4, unique=True))
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    n_ellipsis = draw(st.integers(0, 2))
    ellipsis_shape = [draw(st.integers(1, 3)) for _ in range(n_ellipsis)]
    terms, shapes = [], []
    for _ in range(draw(st.integers(1, max_operands))):
        term = draw(st.lists(st.sampled_from(letters), max_size=3))
        shape = []
        for c in term:                           # a repeated subscript keeps its first size
            first = term.index(c)
            shape.append(shape[first] if first < len(shape) else
                         draw(st.sampled_from([sizes[c], 1])))
        if n_ellipsis and draw(st.booleans()):
            at = draw(st.integers(0, len(term)))
            own = draw(st.integers(0, n_ellipsis))
            dims = [draw(st.sampled_from([n, 1])) for n in ellipsis_shape[n_ellipsis - own:]]
            term = term[:at] + ["..."] + term[at:]
            shape = shape[:at] + dims + shape[at:]
        terms.append("".join(term))
        shapes.append(tuple(shape))
    equation = ",".join(terms)
    if draw(st.booleans()):                     # an explicit output
        used = sorted({c for t in terms for c in t if c != "."})
        out = draw(st.permutations(used)) if used else []
        out = list(out[:draw(st.integers(0, len(out)))])
        if any("..." in t for t in terms) and draw(st.booleans()):
            out.insert(draw(st.integers(0, len(out))), "...")
        equation += "->" + "".join(out)
    return equation, shapes


def _numpy_einsum(equation, arrays):
    """NumPy's einsum, which refuses an explicit output without '...' where the inputs have
    '...' dims: those are summed (torch's rule) after NumPy keeps them in front."""
    lhs, arrow, rhs = equation.partition("->")
    if arrow and "..." in lhs and "..." not in rhs:
        y = np.einsum(f"{lhs}->...{rhs}", *arrays)
        return y.sum(axis=tuple(range(y.ndim - len(rhs))))
    return np.einsum(equation, *arrays)


@given(case=equations(), seed=st.integers(0, 2**16))
@example(case=("ii,i->i", [(1, 1), (3,)]), seed=0)
@example(case=("a...a,...->", [(2, 1, 2), (3,)]), seed=0)
def test_random_equations_equal_numpys_einsum(case, seed):
    """The values, the shape and the dtype; and the GPU's composition of device functions
    (run here on NumPy) on the plan's operands."""
    equation, shapes = case
    xs = _operands(shapes, seed)
    got = ng.einsum(equation, *xs)
    want = _numpy_einsum(equation, xs)
    assert got.shape == want.shape and got.dtype == np.float64, equation
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13, err_msg=equation)
    plan = _parse(equation, shapes)
    composed = _composed(NUMPY, list(plan.inputs), plan.output,
                         [x.reshape(s) for x, s in zip(xs, plan.shapes)])
    np.testing.assert_allclose(composed, want, rtol=1e-12, atol=1e-13, err_msg=equation)


@given(case=equations(max_operands=2), seed=st.integers(0, 2**16))
@example(case=("iij,jk->ik", [(3, 3, 2), (2, 4)]), seed=0)
def test_random_equations_gradients(case, seed):
    """Central differences and the complex step (einsum is polynomial: exact to rounding)."""
    equation, shapes = case
    assert_gradients(lambda *xs: ng.einsum(equation, *xs), _operands(shapes, seed))


@pytest.mark.torch
@given(case=equations(), seed=st.integers(0, 2**16))
def test_random_equations_equal_torchs(case, seed):
    import torch
    equation, shapes = case
    assert_matches_torch(lambda *xs: ng.einsum(equation, *xs),
                         lambda *xs: torch.einsum(equation, *xs), _operands(shapes, seed),
                         rtol=1e-12, atol=1e-13)


# -- dtypes, views, names ----------------------------------------------------------------------

def test_dtypes():
    a, b = _operands([(2, 3), (3, 4)], dtype=np.float32)
    ta = ng.tensor(a, requires_grad=True)
    y = ng.einsum("ij,jk->ik", ta, b)
    assert y.dtype == np.float32
    y.sum().backward()
    assert ta.grad.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), a @ b, rtol=1e-6)
    i = ng.einsum("ij,j->i", np.arange(6).reshape(2, 3), np.arange(3))
    assert i.dtype == np.int64 and i.numpy().tolist() == [5, 14]
    with pytest.raises(TypeError, match="operand 0 is float32 and operand 1 is float64"):
        ng.einsum("ij,jk", a, b.astype(np.float64))


def test_a_transpose_or_diagonal_is_a_copy_not_a_view_of_its_operand():
    x = np.arange(9.0).reshape(3, 3)
    for equation in ("ij->ji", "ii->i", "ij->ij"):
        y = ng.einsum(equation, x)
        assert not np.may_share_memory(y.numpy(), x), equation


def test_the_name_is_here():
    assert ng.einsum is ng.ops.einsum and "einsum" in ng.__all__
    assert "einsum" not in HINTS


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk", [(3, 3)], r"names 2 operand\(s\) .* got 1"),
    ("i", [(2,), (3,)], r"names 1 operand\(s\) .* got 2"),
    ("ij", [(3,)], r"operand 0 has 1 dim\(s\) \(shape \(3,\)\) but its subscripts 'ij' name 2"),
    ("...ijk", [(2, 3)], r"operand 0 has 2 dim\(s\).*'...ijk' name 3"),
    ("ij,jk", [(2, 2), (3, 4)], r"subscript 'j' has size 2 in operand 0 .* and 3 in operand 1"),
    ("...i,...i", [(2, 3), (4, 3)], r"'...' broadcast dims has size 2 .* and 4"),
    ("ii->i", [(2, 3)], r"subscript 'i' is repeated in operand 0 .* sizes 2 and 3"),
    ("i1", [(3, 3)], r"invalid subscript '1' at index 1"),
    ("i-j", [(3, 3)], r"invalid subscript '-' at index 1"),
    ("i.j", [(3, 3)], r"'.' at index 1 .* not part of an ellipsis"),
    ("...i...", [(2, 3)], r"a second '...'"),
    ("ij->k", [(3, 3)], r"output subscript 'k' .* appears in no operand"),
    ("ij->ii", [(3, 3)], r"output subscript 'i' appears more than once"),
    ("i->j->k", [(2,)], r"more than one '->'"),
    ("i->i,i", [(2,)], r"the output .* has a ','"),
])
def test_errors(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        ng.einsum(equation, *[np.ones(s) for s in shapes])


def test_errors_of_the_call():
    with pytest.raises(TypeError, match="the first argument must be the equation"):
        ng.einsum()
    with pytest.raises(TypeError, match="the first argument must be the equation"):
        ng.einsum(np.ones(2))
    with pytest.raises(ValueError, match="needs at least one operand"):
        ng.einsum("ij")
    with pytest.raises(ValueError, match=r"holds 52; a sublist holds ints in \[0, 52\)"):
        ng.einsum(np.ones(2), [52])
