"""Checking other people's gradients: ``gradcheck(f, inputs, grad=vjp)`` on NumPy arrays (a
closed form, PyTorch), what a PyTorch/JAX array or function passed the old way is told, NumPy
ufuncs on a Tensor, and the exported ``Function`` with its documented example."""

import doctest
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import autograd
from nongate_np.check import GradcheckError, gradcheck
from nongate_np.check.foreign import library_in_traceback, library_of
from nongate_np.check.numdiff import layout_copy

METHODS = ["central", "complex_step", "directional"]
MAX_REL = {"central": 1e-6, "complex_step": 1e-12, "directional": 1e-6}


def f(x, w):
    """tanh(x W) on plain arrays; complex-capable, so complex-step applies."""
    return np.tanh(x @ w)


def f_vjp(x, w, v):
    dz = v * (1 - np.tanh(x @ w) ** 2)
    return dz @ w.T, x.T @ dz


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]


def _worst(message: str):
    m = re.search(r"worst\s+(\S+)\[([\d, ]+)\]: analytic=(\S+) numeric=(\S+)", message)
    assert m, message
    return (m.group(1), tuple(int(i) for i in m.group(2).split(",")), float(m.group(3)),
            float(m.group(4)))


# ---------------------------------------------------------------------------------------------
# grad=: a function on arrays and the vector-Jacobian product it claims
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_a_correct_vjp_passes_and_its_values_are_the_ones_compared(method):
    x, w = _inputs()
    seen = []

    def vjp(x, w, v):
        seen.append(v)
        return f_vjp(x, w, v)

    rep = gradcheck(f, [x, w], grad=vjp, names=["x", "w"], method=method)
    assert rep.passed and rep.max_rel_error <= MAX_REL[method], str(rep)
    assert [r.label for r in rep.inputs] == ["input 0 'x'", "input 1 'w'"]
    # v: gradcheck's cotangent (seed 0), one array shaped like the output; grad called twice
    v = np.random.default_rng(0).standard_normal((4, 2))
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], v, err_msg="cotangent handed to grad")
    dx, dw = f_vjp(x, w, v)
    np.testing.assert_array_equal(rep.inputs[0].analytic_grad, dx, err_msg="claimed dx")
    np.testing.assert_array_equal(rep.inputs[1].analytic_grad, dw, err_msg="claimed dw")


def test_a_scalar_function_gets_v_equal_to_one_and_one_input_may_return_a_bare_array():
    x = np.random.default_rng(1).standard_normal(5)
    seen = []

    def grad(x, v):
        seen.append(v)
        return v * 2 * x                       # d/dx Σ x² , a bare array for one input

    rep = gradcheck(lambda x: float(np.sum(x * x)), [x], grad=grad, method="central")
    assert rep.passed, str(rep)
    assert seen[0].shape == () and seen[0] == 1.0
    np.testing.assert_allclose(rep.inputs[0].numeric_grad, 2 * x, rtol=1e-8)


def test_several_outputs_get_a_tuple_of_cotangents():
    x, w = _inputs(2)

    def two(x, w):
        return np.tanh(x @ w), np.sum(x * x)

    def two_vjp(x, w, v):
        v0, v1 = v
        dx, dw = f_vjp(x, w, v0)
        return dx + 2 * x * v1, dw

    for method in METHODS:
        rep = gradcheck(two, [x, w], grad=two_vjp, method=method)
        assert rep.passed and rep.max_rel_error <= MAX_REL[method], str(rep)
    with pytest.raises(GradcheckError, match=r"d\(output\)/d\(input 0 'x'\) mismatch"):
        gradcheck(two, [x, w], grad=lambda x, w, v: f_vjp(x, w, v[0]), method="central")


W32 = np.random.default_rng(5).standard_normal((3, 2)).astype(np.float32)


def f32(x):
    """A float32 model fed float64: computes in float32, its result cast up."""
    return np.tanh(x.astype(np.float32) @ W32).astype(np.float64)


def f32_vjp(x, v):
    y = np.tanh(x.astype(np.float32) @ W32)
    return ((v.astype(np.float32) * (1 - y * y)) @ W32.T).astype(np.float64)


def test_a_float32_model_fed_float64_is_checked_at_float32_precision():
    """Its outputs are float32 values: gradcheck says so and takes float32's steps and
    tolerances, so the correct backward passes (with float64's steps, too small for fn's
    rounding, it failed with a wrong diagnosis) and a 30 % error at one element is named."""
    x = np.random.default_rng(6).standard_normal((4, 3))
    computes = r"fn computes in float32: its outputs are float32 values, while input 0 'x' is "
    with pytest.warns(UserWarning, match=computes + r"float64; .*model\.double\(\).*"
                                           r"jax_enable_x64"):
        rep = gradcheck(f32, [x], grad=f32_vjp, names=["x"], method="central")
    assert rep.passed and rep.inputs[0].tolerance.rtol == 1e-2, str(rep)

    def bug(x, v):
        g = f32_vjp(x, v)
        g[1, 2] *= 1.3
        return g
    with pytest.warns(UserWarning, match=computes):
        with pytest.raises(GradcheckError, match=r"(?s)method +central \(eps=\S+, float64 "
                                                  r"input, float32 steps and tolerances\).*"
                                                  r"failing +1 / 12 .*worst +x\[1, 2\].*"
                                                  r"note +fn computes in float32"):
            gradcheck(f32, [x], grad=bug, names=["x"], method="central")


def test_float64_outputs_that_are_float32_numbers_by_nature_warn_nothing():
    """Short values (0.5, 3.0, 0) are float32 numbers in any precision; so is exact float64
    arithmetic on inputs that are float32 numbers (data loaded as float32, then cast): no
    warning, and float64's steps, which do not cross relu's kink at an input 1e-3 from it
    (float32's, 4.9e-3, would)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: 2 * x, [np.array([0.5, 1.5, -2.0])],
                         grad=lambda x, v: 2 * v, method="central").passed
        x = np.float32([1e-3, -1e-3, 0.7, -1.3]).astype(np.float64)
        rep = gradcheck(lambda x: 2 * np.maximum(x, 0.0), [x],
                        grad=lambda x, v: 2 * v * (x > 0), method="central")
        assert rep.passed, str(rep)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_cotangent_comes_in_each_outputs_dtype(dtype):
    """A framework's VJP takes v in its output's dtype (JAX refuses a float64 cotangent for
    a float32 output): grad gets it so, and the check passes a correct gradient."""
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)

    def vjp(x, v):
        if v.dtype != x.dtype:
            raise TypeError(f"expected a {x.dtype} cotangent, got {v.dtype}")
        return v * (1 - np.tanh(x) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # "input 0 is float32; use float64"
        report = gradcheck(np.tanh, [x], grad=vjp, method="central", raise_exception=False)
    assert report.passed, str(report)


def test_a_kink_is_named_not_blamed_on_the_backward_or_the_step():
    """relu at 0: central differences average the slopes 0 and v; the report says fn is not
    differentiable there, with both one-sided slopes. A smooth function with a planted
    error keeps the usual note."""
    x = np.array([[0.0, 1.0, -2.0], [0.5, -0.3, 2.0]])

    def relu_vjp(x, v):
        return v * (x > 0)
    with pytest.raises(GradcheckError, match=r"note +fn is not differentiable at "
                                             r"x\[0, 0\]: its slope left of it is "
                                             r"\+0\.0000e\+00 and right of it \S+ \(one-sided"):
        gradcheck(lambda x: np.maximum(x, 0.0), [x], grad=relu_vjp, method="central")

    # complex-step: the real part picks relu's 0 branch at 0, the backward takes slope 1
    with pytest.raises(GradcheckError, match=r"note +fn is not differentiable at "
                                             r"x\[0, 0\]: .*complex-step the slope of "
                                             r"the branch the real part picks"):
        gradcheck(lambda x: np.where(x.real > 0, x, 0), [x],
                  grad=lambda x, v: v * (x >= 0), method="complex_step")

    def tanh_bug(x, v):
        g = v * (1 - np.tanh(x) ** 2)
        g[0, 1] *= 1.01
        return g
    for method in ("central", "complex_step"):
        with pytest.raises(GradcheckError) as info:
            gradcheck(np.tanh, [x], grad=tanh_bug, method=method)
        assert "not differentiable" not in str(info.value)
        assert "is not the cause" in str(info.value)


def test_an_error_beside_a_kink_is_named_too():
    """relu's kink at [0, 0] is the worst element; a planted 30 % error at [1, 0], where relu
    is smooth, was hidden behind the kink's note. Both are named now, by either method; a
    correct relu gets the kink's note alone."""
    x = np.array([[0.0, 1.0, -2.0], [0.5, -0.3, 2.0]])

    def relu_vjp(x, v, wrong=1.0):
        g = v * (x >= 0)
        g[1, 0] *= wrong
        return g
    for method, fn in (("central", lambda x: np.maximum(x, 0.0)),
                       ("complex_step", lambda x: np.where(x.real > 0, x, 0))):
        bad = gradcheck(fn, [x], grad=lambda x, v: relu_vjp(x, v, 1.3), method=method,
                        raise_exception=False)
        assert bad.inputs[0].worst_index == (0, 0), bad
        text = str(bad)
        assert "fn is not differentiable at x[0, 0]" in text, text
        assert re.search(r"note +beside the kink, x\[1, 0\] fails too, where fn is "
                         r"differentiable", text), text
        assert "step is not the cause" in text.split("beside the kink")[1], text
        right = gradcheck(fn, [x], grad=relu_vjp, method=method, raise_exception=False)
        assert "not differentiable at x[0, 0]" in str(right), right
        assert "beside the kink" not in str(right), right


def _tanh_and_norms(x, w):
    y = np.tanh(x @ w)
    return y, (y ** 2).sum(1), np.array(7.0)


def _tanh_and_norms_vjp(x, w, v, wrong=1.0):
    """Jᵀv of ``_tanh_and_norms``, with ``wrong`` scaling output 1's part only."""
    vy, vs, _ = v
    y = np.tanh(x @ w)
    gz = (vy + wrong * 2 * y * vs[:, None]) * (1 - y ** 2)
    return gz @ w.T, x.T @ gz


@pytest.mark.parametrize("method", ["central", "complex_step", "directional"])
def test_a_mismatch_is_traced_to_the_output_whose_part_is_wrong(method):
    """Three outputs, a 20 % error in the part of Jᵀv that comes from output 1: the report
    names output 1 with its two values, and outputs 0 and 2 as agreeing."""
    x, w = _inputs(3)
    bad = gradcheck(_tanh_and_norms, [x, w], names=["x", "w"], method=method,
                    grad=lambda x, w, v: _tanh_and_norms_vjp(x, w, v, wrong=1.2),
                    raise_exception=False)
    for r in bad.inputs:
        assert not r.passed
        notes = [n for n in r.notes if n.startswith("fn has 3 outputs")]
        assert len(notes) == 1, r.notes
        assert re.match(r"fn has 3 outputs: the mismatch at [xw]\[\d, \d\] lies in output "
                        r"1's part \(analytic \S+, numerical \S+\); those of outputs 0 and "
                        r"2 agree", notes[0]), notes[0]
    assert gradcheck(_tanh_and_norms, [x, w], grad=_tanh_and_norms_vjp, method=method).passed


def test_the_engine_path_traces_a_mismatch_to_its_output():
    """A Function with two outputs whose backward is wrong for the second only."""
    class SinCos(ng.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x), np.cos(x)

        @staticmethod
        def backward(ctx, ds, dc):
            (x,) = ctx.saved
            return ds * np.cos(x) + dc * np.sin(x)          # the sign of d cos is lost

    x = ng.tensor(np.linspace(0.3, 1.2, 5), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"fn has 2 outputs: the mismatch at \S+ lies in "
                                             r"output 1's part \(analytic \S+, numerical "
                                             r"\S+\); output 0's agrees"):
        gradcheck(SinCos.apply, [x], method="central")



def test_outputs_are_named_as_fn_numbers_them_when_an_integer_output_comes_first():
    """An integer output before the floating ones is left out of L; the note still names
    outputs by their place in fn's tuple (it said "2 outputs ... output 1" for output 2 of
    3), through grad= and through the engine."""
    x = np.random.default_rng(3).standard_normal(4)

    def fn(x):
        return np.argsort(x), np.sin(x), np.exp(x)

    def vjp(x, v):                          # output 2's part doubled
        return (v[1] * np.cos(x) + 2 * v[2] * np.exp(x),)

    expected = (r"fn has 3 outputs \(1 not floating-point, left out\): the mismatch at \S+ "
                r"lies in output 2's part \(analytic \S+, numerical \S+\); output 1's agrees")
    with pytest.raises(GradcheckError, match=expected):
        gradcheck(fn, [x], grad=vjp, method="central")

    class SinExp(ng.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x), np.exp(x)

        @staticmethod
        def backward(ctx, ds, de):
            (x,) = ctx.saved
            return ds * np.cos(x) + 2 * de * np.exp(x)

    def engine_fn(t):
        return (np.argsort(t.numpy()), *SinExp.apply(t))

    with pytest.raises(GradcheckError, match=expected):
        gradcheck(engine_fn, [ng.tensor(x, requires_grad=True)], method="central")

def _affine_tanh_vjp(x, w, b, v, bug):
    z = (1 - np.tanh(x @ w + b) ** 2) * v
    gx, gw, gb = z @ w.T, x.T @ z, z.sum(0)
    gw[bug] *= 1.1
    return gx, gw, gb


@pytest.mark.parametrize("bug, region", [
    (np.s_[:, 2], "exactly w[:, 2]"),                 # one column
    (np.s_[1, 4:8], "exactly w[1, 4:8]"),            # one gate's run in one row
    (np.s_[:, ::2], "exactly w[:, 0:8:2]"),           # every other column
    (np.s_[[0, 3], 5], "exactly w[[0, 3], 5]"),       # two rows of one column
    (np.s_[[0, 1, 1], [1, 1, 6]], "all within w[0:2, [1, 6]]"),   # a partial box
    # two list axes would read as NumPy's two elements (0, 0) and (2, 2): one list at most
    (np.s_[[0, 2], [0, 2]], "all within w[[0, 2], :]"),
])
def test_the_failing_line_says_where_in_the_input_the_failures_lie(bug, region):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 8)), rng.standard_normal(8)
    report = gradcheck(lambda x, w, b: np.tanh(x @ w + b), [x, w, b], names=["x", "w", "b"],
                       grad=lambda *a: _affine_tanh_vjp(*a, bug), method="central",
                       raise_exception=False)
    line = next(line for line in str(report).splitlines() if "failing" in line)
    expected = np.zeros((4, 8), bool)
    expected[bug] = True
    assert line.endswith(f"failing     {expected.sum()} / 32 elements "
                         f"({100 * expected.sum() / 32:.1f}%), {region}"), line
    assert report["x"].passed and report["b"].passed


def test_failures_without_a_pattern_or_alone_get_no_region():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 8)), rng.standard_normal(8)
    for bug in (np.s_[[0, 1, 2, 3, 0], [0, 2, 5, 7, 4]], np.s_[2, 3]):
        report = gradcheck(lambda x, w, b: np.tanh(x @ w + b), [x, w, b], names=["x", "w", "b"],
                           grad=lambda *a: _affine_tanh_vjp(*a, bug), method="central",
                           raise_exception=False)
        line = next(line for line in str(report).splitlines() if "failing" in line)
        assert re.fullmatch(r" +failing +\d+ / 32 elements \(\S+%\)", line), line


def test_a_vjp_that_cannot_take_v_is_told_how_it_is_called():
    """A VJP written without v, or taking the inputs as one list, fails before it runs with
    gradcheck's call grad(*inputs, v) and grad's own signature; the library's TypeError,
    not Python's bare "takes 2 positional arguments"."""
    x, w = _inputs()
    for bad, sig in ((lambda x, w: f_vjp(x, w, 1.0), r"\(x, w\)"),
                     (lambda inputs, v: f_vjp(*inputs, v), r"\(inputs, v\)")):
        with pytest.raises(TypeError, match=r"grad is called as grad\(\*inputs, v\), with "
                                            r"fn's 2 input\(s\) and the cotangent v .* 3 "
                                            r"positional arguments; grad" + sig +
                                            r" cannot take them"):
            gradcheck(f, [x, w], grad=bad, method="central")
    assert gradcheck(f, [x, w], grad=lambda *a: f_vjp(*a), method="central").passed


def test_no_checkable_input_names_what_each_input_is():
    """Lists and integer arrays are held constant; when nothing is left, the message says
    what each input was."""
    x, w = _inputs()
    with pytest.raises(ValueError, match=r"no input to check \(input 0 'x' is a list; input 1 "
                                         r"'w' is an ndarray of dtype int64\): pass "
                                         r"floating-point ndarrays"):
        gradcheck(f, [x.tolist(), w.astype(np.int64)], grad=f_vjp, method="central")
    with pytest.raises(ValueError, match=r"input 0 't' is a float64 Tensor without "
                                         r"requires_grad"):
        gradcheck(lambda t: (t * t).sum(), [ng.tensor(x)])


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_vjp_fails_naming_the_input_the_element_and_both_values(method):
    x, w = _inputs(3)

    def vjp_bug(x, w, v):                      # a missing factor in one element of dW
        dx, dw = f_vjp(x, w, v)
        dw[2, 1] *= 0.5
        return dx, dw

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [x, w], grad=vjp_bug, names=["x", "w"], method=method, name="layer")
    msg = str(info.value)
    assert msg.startswith("layer: d(output)/d(input 1 'w') mismatch\n"), msg   # no backend
    assert "input 0" not in msg
    name, idx, analytic, numeric = _worst(msg)
    _, dw = f_vjp(x, w, np.random.default_rng(0).standard_normal((4, 2)))
    assert (name, idx) == ("w", (2, 1))
    assert analytic == pytest.approx(0.5 * dw[2, 1], rel=1e-4)
    assert numeric == pytest.approx(dw[2, 1], rel=1e-4)
    assert "failing     1 / 6 elements" in msg
    # the reproduce line carries grad= and reruns the same failure
    line = re.search(r"reproduce   (gradcheck\(.*\))", msg).group(1)
    failed_by = "complex_step" if method == "complex_step" else "central"
    assert line == f'gradcheck(f, inputs, grad=vjp_bug, names=["x", "w"], only="w", seed=0, ' \
        f'method="{failed_by}")'
    with pytest.raises(GradcheckError) as again:
        eval(line, {"gradcheck": gradcheck, "f": f, "inputs": [x, w], "vjp_bug": vjp_bug})
    assert again.value.report.inputs[0].worst_index == (2, 1)


def test_constants_and_only_narrow_the_check():
    x, w = _inputs(4)
    ids = np.array([0, 2])

    def g(x, w, ids):
        return np.tanh(x[ids] @ w)

    def g_vjp(x, w, ids, v):
        dz = v * (1 - np.tanh(x[ids] @ w) ** 2)
        dx = np.zeros_like(x)
        np.add.at(dx, ids, dz @ w.T)
        return dx, x[ids].T @ dz, None

    rep = gradcheck(g, [x, w, ids], grad=g_vjp, method="central")
    assert [r.index for r in rep.inputs] == [0, 1] and rep.passed, str(rep)
    rep = gradcheck(g, [x, w, ids], grad=g_vjp, method="central", only=1)
    assert [r.index for r in rep.inputs] == [1]


def test_the_callers_arrays_are_left_alone():
    x, w = _inputs(5)
    x0, w0 = x.copy(), w.copy()

    def scribbling_vjp(x, w, v):
        out = f_vjp(x, w, v)
        x[...] = 0.0                             # grad gets copies: this must not leak
        v[...] = 0.0
        return out

    assert gradcheck(f, [x, w], grad=scribbling_vjp, method="central").passed
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("method", METHODS)
def test_fn_and_grad_see_the_memory_layout_the_caller_passed(method):
    """A transposed (Fortran-ordered) x and a strided w[:, ::2] reached fn and grad as
    C-contiguous copies, so a function that mishandles such inputs (a custom op assuming
    a contiguous buffer) was never run on them; torch.autograd.gradcheck perturbs the input
    as given. Every call now sees the caller's strides (complex-step: the same layout at
    complex128's item size)."""
    rng = np.random.default_rng(10)
    x = np.asfortranarray(rng.standard_normal((4, 3)))
    w = rng.standard_normal((3, 4))[:, ::2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    seen = set()

    def layout(a):
        scale = a.dtype.itemsize // 8           # 2 for complex128
        return tuple(st // scale for st in a.strides)

    def f_seen(x, w):
        seen.add((layout(x), layout(w)))
        return f(x, w)

    def vjp_seen(x, w, v):
        seen.add((layout(x), layout(w)))
        return f_vjp(x, w, v)

    rep = gradcheck(f_seen, [x, w], grad=vjp_seen, method=method)
    assert rep.passed, str(rep)
    assert seen == {(x.strides, w.strides)}


def _allocation(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory, at the end of its ``.base`` chain (through
    as_strided's wrapper too)."""
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("view", [np.s_[::2], np.s_[::-3], np.s_[::15], np.s_[:, 1::5]])
def test_a_layout_copy_takes_no_more_memory_than_the_input_spans_or_twice_its_size(dtype,
                                                                                   view):
    """layout_copy kept any gap up to 16 times an input's size at the copy's own item
    size: complex-step's complex128 copy of a float32 x[::15] took 240 bytes per element
    (60 times x's 4), 4 times the memory x itself spans. The copy now takes no more than
    x spans or twice a dense copy, whichever is larger, and keeps x's strides exactly
    where its dtype is x's."""
    x = np.arange(900, dtype=dtype).reshape(30, 30)[view]
    low, high = np.lib.array_utils.byte_bounds(x)
    for cast in (None, np.complex128):
        out = layout_copy(x, cast)
        np.testing.assert_array_equal(out, x, err_msg=f"{x.dtype} {view} as {cast}")
        allocated = _allocation(out).nbytes
        assert allocated <= max(high - low, 2 * out.nbytes), \
            (x.dtype, view, cast, allocated, high - low, out.nbytes)
    assert layout_copy(x).strides == x.strides


def test_a_function_sees_the_memory_layout_the_caller_passed():
    seen = set()

    class Tanh(ng.Function):
        @staticmethod
        def forward(ctx, x):
            seen.add(x.strides if x.dtype == np.float64 else "complex")
            y = np.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved
            return dy * (1 - y * y)

    x = np.random.default_rng(11).standard_normal((5, 6))[::-1, 1::2]
    for method in METHODS:
        assert gradcheck(Tanh.apply, [x], method=method).passed
    assert seen == {x.strides, "complex"}
    # a broadcast view's elements share memory: it is checked as a dense copy, one element
    # moved at a time (moving the shared one would move a whole column)
    assert gradcheck(Tanh.apply, [np.broadcast_to(x[0], (3, 3))], method="central").passed


def test_an_integer_output_beside_the_values_is_left_out_and_grad_gets_none_for_it():
    """fn returning (values, indices), as torch.max(x, dim=1) does, was refused with grad=
    ("returned dtype int64 as output 1"), where a function of Tensors has its integer
    outputs left out of L. Now they are left out here too, and grad's v holds None in
    their place (torch.autograd.grad's grad_outputs take None there)."""
    x = np.random.default_rng(12).standard_normal((3, 4))
    seen = []

    def row_max(x):
        return np.max(np.exp(x), axis=1), np.argmax(x, axis=1)

    def row_max_vjp(x, v, scale=1.0):
        seen.append(v[1])
        g = np.zeros_like(x)
        rows = np.arange(x.shape[0])
        g[rows, np.argmax(x, axis=1)] = scale * v[0] * np.exp(np.max(x, axis=1))
        return (g,)

    for method in METHODS:
        rep = gradcheck(row_max, [x], grad=row_max_vjp, method=method)
        assert rep.passed, str(rep)
    assert seen and all(v is None for v in seen)
    with pytest.raises(GradcheckError, match=r"worst\s+x\[\d, \d\]"):
        gradcheck(row_max, [x], grad=lambda x, v: row_max_vjp(x, v, 1.5), method="central")


def test_none_for_a_checked_input_counts_as_zero_and_is_explained():
    x, w = _inputs(6)
    with pytest.raises(GradcheckError, match="grad returned None for this input"):
        gradcheck(f, [x, w], grad=lambda x, w, v: (f_vjp(x, w, v)[0], None),
                  method="central")


def test_complex_step_needs_a_function_that_computes_in_complex():
    x, w = _inputs(7)

    def real_only(x, w):
        return np.tanh(x.real @ w.real)

    with pytest.raises(TypeError, match="complex-step is not applicable: every output is real"):
        gradcheck(real_only, [x, w], grad=f_vjp, method="complex_step")

    def refuses_complex(x, w):
        if np.iscomplexobj(x) or np.iscomplexobj(w):
            raise RuntimeError("expected scalar type Double but found ComplexDouble")
        return np.tanh(x @ w)

    with pytest.raises(TypeError, match=r"complex-step is not applicable: fn raised "
                                        r"RuntimeError \(expected scalar type Double.*"
                                        r"method='central' or 'directional'"):
        gradcheck(refuses_complex, [x, w], grad=f_vjp, method="complex_step")
    assert gradcheck(refuses_complex, [x, w], grad=f_vjp, method="central").passed


# ---------------------------------------------------------------------------------------------
# grad=: what a wrong call is told
# ---------------------------------------------------------------------------------------------

def test_a_gradient_of_the_wrong_shape_names_the_input():
    x, w = _inputs(8)
    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [x, w], grad=lambda x, w, v: (f_vjp(x, w, v)[0], f_vjp(x, w, v)[1].T),
                  names=["x", "w"])
    assert str(info.value).startswith("f: d(output)/d(input 1 'w') has shape (2, 3), "
                                      "expected the input's shape (3, 2)"), str(info.value)


def test_a_wrong_number_of_gradients_is_refused():
    x, w = _inputs(9)
    with pytest.raises(TypeError, match="grad returned 1 values; expected a tuple/list of 2 "
                                        "gradients, one per input"):
        gradcheck(f, [x, w], grad=lambda x, w, v: [f_vjp(x, w, v)[0]])
    with pytest.raises(TypeError, match="grad returned ndarray; expected a tuple/list of 2"):
        gradcheck(f, [x, w], grad=lambda x, w, v: f_vjp(x, w, v)[0])


def test_a_grad_that_is_not_deterministic_is_reported():
    x, w = _inputs(10)
    noise = np.random.default_rng()

    def noisy(x, w, v):
        dx, dw = f_vjp(x, w, v)
        return dx + 1e-9 * noise.standard_normal(dx.shape), dw

    with pytest.raises(GradcheckError, match="input 0 'x'\\) is not reentrant: two calls of "
                                             "grad differ"):
        gradcheck(f, [x, w], grad=noisy)


def test_inputs_with_grad_are_arrays_in_a_list():
    x, w = _inputs(11)
    with pytest.raises(TypeError, match="pass the inputs as a list \\(names= names them\\)"):
        gradcheck(f, {"x": x, "w": w}, grad=f_vjp)
    with pytest.raises(TypeError, match="input 0 is a nongate_np Tensor.*pass t.numpy\\(\\)"):
        gradcheck(f, [ng.tensor(x), w], grad=f_vjp)
    with pytest.raises(TypeError, match="returned dtype int64 as output 0; expected a "
                                        "floating-point ndarray"):
        gradcheck(lambda x, w: np.argsort(x, axis=None), [x, w], grad=f_vjp)


# ---------------------------------------------------------------------------------------------
# Foreign arrays and functions, recognised without importing their framework
# ---------------------------------------------------------------------------------------------

class FakeTorchTensor:
    """Stands for torch.Tensor: recognised by the module that defines its type."""
    __module__ = "torch"

    def __init__(self, data):
        self.data = np.asarray(data)


class FakeJaxArray:
    __module__ = "jaxlib.xla_extension"


def test_foreign_arrays_are_recognised_by_module_name():
    assert library_of(FakeTorchTensor([1.0])) == "PyTorch"
    assert library_of(FakeJaxArray()) == "JAX"
    assert library_of(np.ones(2)) is None and library_of(ng.tensor([1.0])) is None
    assert library_of(np) is None


def test_a_foreign_array_in_inputs_says_how_to_convert_it():
    x = np.ones(3)
    with pytest.raises(TypeError) as info:
        gradcheck(lambda a, b: (a * b).sum(), [x, FakeTorchTensor(x)])
    msg = str(info.value)
    assert "input 1 is a PyTorch array (torch.FakeTorchTensor)" in msg
    assert "x.detach().numpy()" in msg and "float64" in msg and "grad=vjp" in msg
    with pytest.raises(TypeError, match="input 0 is a JAX array.*np.asarray\\(x, "
                                        "dtype=np.float64\\)"):
        gradcheck(f, [FakeJaxArray(), x], grad=f_vjp)
    with pytest.raises(TypeError, match="numeric_gradient: input 0 is a PyTorch array"):
        ng.numeric_gradient(lambda a: a.sum(), [FakeTorchTensor(x)])


def test_foreign_outputs_and_gradients_say_how_to_convert_them():
    x, w = _inputs(12)
    with pytest.raises(TypeError, match="returned a PyTorch array \\(torch.FakeTorchTensor\\) "
                                        "as output 0; with grad=, fn returns NumPy arrays"):
        gradcheck(lambda x, w: FakeTorchTensor(f(x, w)), [x, w], grad=f_vjp)
    with pytest.raises(TypeError, match="grad returned a PyTorch array for input 1 'w'; "
                                        "return NumPy arrays: convert it with "
                                        "x.detach\\(\\).numpy\\(\\)"):
        gradcheck(f, [x, w], grad=lambda x, w, v: (f_vjp(x, w, v)[0], FakeTorchTensor(w)),
                  names=["x", "w"])


def test_the_failing_frame_is_traced_to_its_framework():
    fake_torch = type(sys)("torch")               # a module named torch, not the real one

    def tanh(t):
        raise TypeError("tanh(): argument 'input' (position 1) must be Tensor, not Tensor")

    fake_torch.tanh = tanh
    tanh.__module__ = "torch"

    def user_fn(t):
        return fake_torch.tanh(t)

    with pytest.raises(TypeError) as info:
        user_fn(1.0)
    assert library_in_traceback(info.value) == "PyTorch"
    with pytest.raises(TypeError) as info:
        gradcheck(user_fn, [np.ones(3)])
    msg = str(info.value)
    assert msg.startswith("gradcheck: user_fn calls PyTorch, which cannot take the nongate_np "
                          "Tensors gradcheck passes to it (tanh(): argument 'input' "
                          "(position 1) must be Tensor, not Tensor)"), msg
    assert "grad=vjp" in msg and "torch.autograd.grad(out, inputs, grad_outputs=v)" in msg
    assert isinstance(info.value.__cause__, TypeError)
    # numeric_gradient hands fn Tensors on purpose: it says to convert them
    with pytest.raises(TypeError, match=r"numeric_gradient: user_fn calls PyTorch.*convert "
                                        r"each Tensor t with np.asarray\(t\)"):
        ng.numeric_gradient(user_fn, [np.ones(3)])
    # a TypeError of the user's own making is left as it is

    def own_bug(t):
        raise TypeError("my own bug")

    with pytest.raises(TypeError, match="^my own bug$"):
        gradcheck(own_bug, [np.ones(3)])


def test_recognising_a_framework_never_imports_it():
    code = ("import sys, numpy as np, nongate_np as ng\n"
            "class T:\n    __module__ = 'torch'\n"
            "try:\n    ng.gradcheck(lambda a: a.sum(), [T()])\n"
            "except TypeError as err:\n    assert 'PyTorch' in str(err), err\n"
            "assert 'torch' not in sys.modules and 'jax' not in sys.modules\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# ---------------------------------------------------------------------------------------------
# Real PyTorch: its function and its autograd, checked by finite differences
# ---------------------------------------------------------------------------------------------

@pytest.mark.torch
def test_torch_autograd_checked_through_grad():
    torch = pytest.importorskip("torch")
    x, w = _inputs(13)

    def tf(x, w):
        dt = np.result_type(x, w)                 # complex128 while complex-stepping
        return torch.sigmoid(torch.from_numpy(x.astype(dt)) @
                             torch.from_numpy(w.astype(dt))).numpy()

    def tf_vjp(x, w, v):
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        gx, gw = torch.autograd.grad(torch.sigmoid(xt @ wt), (xt, wt), torch.from_numpy(v))
        return gx.numpy(), gw.numpy()

    for method in METHODS:
        rep = gradcheck(tf, [x, w], grad=tf_vjp, method=method)
        assert rep.passed and rep.max_rel_error <= MAX_REL[method], f"{method}\n{rep}"


@pytest.mark.torch
def test_a_torch_function_passed_the_old_way_is_told_to_use_grad():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as info:
        gradcheck(lambda t: torch.tanh(t).sum(), [np.ones(3)])
    msg = str(info.value)
    assert "must be Tensor, not Tensor" in msg and "calls PyTorch" in msg
    assert "grad=vjp" in msg
    with pytest.raises(TypeError, match="input 0 is a PyTorch array \\(torch.Tensor\\)"):
        gradcheck(lambda t: ng.tanh(t).sum(), [torch.ones(3, dtype=torch.float64)])


@pytest.mark.torch
def test_the_torch_example_in_the_docstring_runs():
    pytest.importorskip("torch")
    doc = ng.gradcheck.__doc__
    code = doc.split("A PyTorch function and the gradient PyTorch computes for it::")[1]
    code = code.split("\n    With JAX")[0]
    namespace = {"np": np, "gradcheck": gradcheck}
    exec(compile("\n".join(line[8:] for line in code.splitlines()), "gradcheck.__doc__",
                 "exec"), namespace)
    # NOTE: complex-step raised ComplexStepNotApplicable (complex x @ float64 w) before the
    # example cast both to their common dtype
    for method in METHODS:
        rep = gradcheck(namespace["f"], [namespace["x"], namespace["w"]],
                        grad=namespace["f_vjp"], method=method)
        assert rep.passed and [r.name for r in rep.inputs] == ["x", "w"], str(rep)


# ---------------------------------------------------------------------------------------------
# NumPy ufuncs on a Tensor; Function exported and documented
# ---------------------------------------------------------------------------------------------

def test_a_numpy_ufunc_on_a_tensor_names_the_op_to_use():
    t = ng.tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"^np.tanh does not take a nongate_np Tensor: use "
                                        r"ng.tanh\(t\), which autograd records, or "
                                        r"np.tanh\(t.numpy\(\)\) for the raw values"):
        np.tanh(t)
    with pytest.raises(TypeError, match=r"^np.sin does not take a nongate_np Tensor: use "
                                        r"ng.sin\(t\)"):
        np.sin(t)
    with pytest.raises(TypeError, match=r"^np.cbrt does not take a nongate_np Tensor: use "
                                        r"np.cbrt\(t.numpy\(\)\)"):
        np.cbrt(t)                          # no ng.cbrt: only NumPy's, on the values
    with pytest.raises(TypeError, match=r"^np.arctan does not take a nongate_np Tensor: use "
                                        r"ng.arctan\(t\)"):
        np.arctan(t)
    a = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="write a = a \\+ t"):
        a += t
    np.testing.assert_array_equal(a, [1.0, 2.0])


@pytest.mark.parametrize("call, op", [
    (lambda t: np.sum(t), "ng.sum"), (lambda t: np.mean(t, axis=0), "ng.mean"),
    (lambda t: np.dot(t, t), "ng.matmul"), (lambda t: np.concatenate([t, t]), "ng.concat"),
    (lambda t: np.linalg.norm(t), "ng.norm"), (lambda t: np.fft.fft(t), None)])
def test_a_numpy_function_on_a_tensor_names_the_op_to_use(call, op):
    """Not an ndarray result without a gradient (np.dot gave a float), nor a failure inside
    NumPy (np.sum called the Tensor's sum with out=)."""
    t = ng.tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"^np\.[\w.]+ does not take a nongate_np Tensor: use "
                                        + (re.escape(op) + ", which autograd records, or "
                                           if op else "") + r"np\.[\w.]+ on t.numpy\(\)"):
        call(t)
    with pytest.raises(TypeError, match="does not take a nongate_np Tensor"):
        ng.gradcheck(lambda a: call(a), [np.ones(2)])


def test_numpy_functions_whose_result_carries_no_gradient_read_the_tensor():
    t = ng.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    a = t.numpy()
    assert np.shape(t) == (1, 3) and np.ndim(t) == 2 and np.size(t) == 3
    assert np.allclose(t, a) and np.array_equal(t, a) and not np.any(np.isclose(t, a + 1))
    assert np.argmax(t) == 2 and np.argsort(t, axis=None).tolist() == [1, 0, 2]
    assert np.count_nonzero(t) == 3 and np.nonzero(t)[1].tolist() == [0, 1, 2]


def test_ndarray_operators_with_a_tensor_still_record_the_graph():
    t = ng.tensor([0.5, -1.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    y = a * t + a / t - a ** t + (a @ t) - (a - t)
    assert isinstance(y, ng.Tensor)
    y.sum().backward()
    # a @ t is a scalar added to both elements: it contributes 2a to d(Σy)/dt
    expect = a - a / t.data ** 2 - a ** t.data * np.log(a) + 2 * a + 1
    np.testing.assert_allclose(t.grad, expect, rtol=1e-14, err_msg="d/dt of ndarray (op) t")
    lt = a < t
    assert isinstance(lt, ng.Tensor) and lt.data.tolist() == [False, False]
    assert (a == ng.tensor([3.0, 0.0])).data.tolist() == [True, False]


def test_function_is_exported_and_its_docstring_example_runs():
    assert ng.Function is autograd.Function       # needs the export in nongate_np/__init__.py
    finder = doctest.DocTestFinder(recurse=False)
    (test,) = finder.find(autograd.Function, "Function", globs={})
    assert len(test.examples) >= 8
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.failed == 0
    for name in ("save_for_backward", "ctx.saved", "ctx.needs_grad"):
        assert name in autograd.Function.__doc__


def _tanh_and_count(x, w):
    """tanh(x @ w) beside a large output that does not move (a running count)."""
    return np.tanh(x @ w), np.array(1e12) + 0.0 * x.sum()


def _vjp_and_count(x, w, v, wrong=1.0):
    dz = v[0] * (1 - np.tanh(x @ w) ** 2)
    return wrong * (dz @ w.T), x.T @ dz


@pytest.mark.parametrize("method", ["central", "directional"])
def test_a_large_output_that_does_not_move_hides_no_error(method):
    """An output of 1e12 beside the real one: its |v·f| went into the noise allowance, and
    the sum L rounded the other output's change away, so a 50 % error in dx passed (and a
    correct dW, checked on that rounded L, would have failed). Each output's change is now
    taken before the sum, and only outputs that move count in the allowance."""
    x, w = _inputs(7)
    ok = gradcheck(_tanh_and_count, [x, w], grad=_vjp_and_count, method=method)
    assert ok.passed, ok
    bad = gradcheck(_tanh_and_count, [x, w], method=method, raise_exception=False,
                    grad=lambda x, w, v: _vjp_and_count(x, w, v, wrong=1.5))
    assert not bad.inputs[0].passed and bad.inputs[1].passed, bad


def test_a_function_that_changes_its_input_in_place_is_refused():
    """x -= x.mean() inside fn: every estimate read its step back from the moved x, so a
    wrong backward passed the directional check and central blamed a kink."""
    x, w = _inputs(7)

    def centres_in_place(x, w):
        x -= x.mean()
        return np.tanh(x @ w)
    with pytest.raises(ValueError, match=r"gradcheck: fn changed input 0 'x' in place .* work "
                                         r"on a copy"):
        gradcheck(centres_in_place, [x, w], grad=f_vjp)


def test_a_named_scalar_input_is_said_to_be_held_constant():
    x, _ = _inputs(7)
    with pytest.warns(UserWarning, match=r"input 1 't' is a scalar \(float\), held constant "
                                         r"and not checked; pass np.array\(2.0\)"):
        gradcheck(lambda x, t: np.tanh(x * t), [x, 2.0], names=["x", "t"],
                  grad=lambda x, t, v: (v * t * (1 - np.tanh(x * t) ** 2), None))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11's")
def test_an_error_inside_grad_says_how_gradcheck_called_it():
    x, w = _inputs(7)

    def swapped(x, w, v):                  # the arguments in the wrong order
        return f_vjp(v, x, w)
    with pytest.raises(ValueError) as info:
        gradcheck(f, [x, w], grad=swapped)
    assert info.value.__notes__ == ["gradcheck called grad(*inputs, v) with the inputs "
                                    "float64 (4, 3), float64 (3, 2) and v, one array of shape "
                                    "(4, 2)"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11's")
def test_an_error_inside_grad_says_v_is_a_tuple_and_which_inputs_are_integers():
    """A newcomer's vjp for two outputs took v as one array and failed inside torch with
    'expected np.ndarray (got tuple)'; another made an integer input require grad. The note
    says v is a tuple, one per output, and that integer inputs are passed as they are."""
    x = np.random.default_rng(1).standard_normal((3, 2))
    k = np.arange(3)

    def two_outputs(x, k):
        return np.tanh(x) * k[:, None], np.sin(x)

    def one_array_vjp(x, k, v):
        d = np.zeros(v.shape)                  # a tuple has no shape: AttributeError
        return d + v * (1 - np.tanh(x) ** 2) * k[:, None] + np.cos(x) * v, None
    with pytest.raises(AttributeError) as info:
        gradcheck(two_outputs, [x, k], grad=one_array_vjp)
    assert info.value.__notes__ == ["gradcheck called grad(*inputs, v) with the inputs "
                                    "float64 (3, 2), int64 (3,) and v, a tuple of 2 (one per "
                                    "output of fn: (3, 2), (3, 2)); integer and bool inputs "
                                    "are passed as they are and not checked: grad may return "
                                    "None for them"]


def test_complex_step_through_abs_lets_the_central_difference_decide_both_ways():
    """|x|² + sin x, as torch.abs(t)**2 computes it: abs of a complex value is real, so
    complex-step sees no |x|² term. The right vjp 2x + cos x FAILED by complex-step (while a
    note said central agreed with it), and a wrong one, cos x, agreeing with complex-step,
    was decided by central. Now complex-step's estimate, off the central difference beyond
    central's error bound, does not apply to either: central decides both, and the report
    says which elements, why, and to use method="central"."""
    x = np.random.default_rng(0).standard_normal((3, 4))

    def abs2(x):
        return (np.abs(x) ** 2 + np.sin(x)).sum()

    def right(x, v):
        return v * (2 * x + np.cos(x))

    def wrong(x, v):
        return v * np.cos(x)                # misses the |x|² term, as complex-step does

    for grad, passes in ((right, True), (wrong, False)):
        report = gradcheck(abs2, [x], grad=grad, names=["x"], method="complex_step",
                           raise_exception=False)
        r = report.inputs[0]
        assert report.passed is passes and r.checked_by == "complex_step → central", report
        np.testing.assert_allclose(r.numeric_grad, right(x, 1.0), rtol=1e-6,
                                   err_msg="the central gradient that decided")
        assert re.match(r"complex-step does not apply: its estimate is off the central "
                        r"difference by more than central's error bound at 12 / 12 elements "
                        r"\(x\[\d, \d\]: complex-step \S+, central \S+; also x\[\d, \d\], "
                        r"x\[\d, \d\], \.\.\.\), so fn is likely not complex-analytic",
                        r.inapplicable), r.inapplicable
        assert r.inapplicable.endswith('check fn with method="central"'), r.inapplicable
        shown = f"  {r.label}: {r.inapplicable}" if passes else f"  note        {r.inapplicable}"
        assert shown in str(report).splitlines(), str(report)
    assert 'method="central"' in report.reproduce(r)
    assert r.notes[0].startswith("complex-step agreed with the claimed gradient (max rel "), r


def test_complex_step_consistent_with_central_fails_a_bug_only_it_can_see():
    """A vjp rounded to float32 (a relative 1e-8) is within central differences' error bound,
    and central passes it. Complex-step's estimate agrees with central's there (sin is
    analytic), so complex-step applies, and its tight tolerance fails the gradient; the
    report says central agrees with complex-step's estimate."""
    x = np.random.default_rng(3).standard_normal((3, 4))

    def stray_float32(x, v):
        return (v * np.cos(x)).astype(np.float32).astype(np.float64)

    assert gradcheck(np.sin, [x], grad=stray_float32, method="central").passed
    report = gradcheck(np.sin, [x], grad=stray_float32, method="complex_step",
                       raise_exception=False)
    r = report.inputs[0]
    assert not report.passed and r.checked_by == "complex_step" and not r.inapplicable, report
    assert any(n.startswith("central differences agree with complex-step's estimate within "
                            "their error bound at every element, so fn is complex-analytic "
                            "here") for n in r.notes), r.notes
    assert 'method="complex_step"' in report.reproduce(r)


def test_complex_step_through_abs_does_not_pass_a_gradient_that_misses_the_abs_term():
    """softsign x / (1 + |x|): complex-step differentiates |x| as a constant (np.abs of a
    complex value is real), so a vjp that misses the derivative through |x| agreed with it
    to 1e-16 and passed. A directional central check of complex-step's estimate now confirms
    every complex-step pass; it fails here, complex-step's estimate is off the full central
    difference, so central decides (G2b), and the notes say why complex-step agreed."""
    x = np.random.default_rng(8).standard_normal((3, 4))

    def softsign(x):
        return x / (1 + np.abs(x))

    def wrong(x, v):
        return v / (1 + np.abs(x))          # misses the abs term: should be squared

    def right(x, v):
        return v / (1 + np.abs(x)) ** 2

    assert gradcheck(softsign, [x], grad=right, method="central").passed
    report = gradcheck(softsign, [x], grad=wrong, method="complex_step",
                       raise_exception=False)
    r = report.inputs[0]
    assert not report.passed and r.checked_by == "complex_step → central"
    v = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_allclose(r.numeric_grad, right(x, v), rtol=1e-6,
                               err_msg="the central gradient that decided")
    assert r.notes[0].startswith("complex-step agreed with the claimed gradient (max rel ")
    assert "fn is likely not complex-analytic" in r.inapplicable
    assert 'method="central"' in report.reproduce(r)


def test_the_central_check_confirming_complex_step_takes_the_callers_tolerances():
    """A gradient 3e-5 off (rel) with rtol=1e-4 passed complex-step, and the central check
    confirming it ran with the default rtol=1e-6: it failed, blaming an fn (sin) that is
    analytic, and its reproduce line (with rtol=1e-4) passed. The caller's atol and rtol
    apply to both; the missing |x| term is still found under them."""
    x = np.random.default_rng(12).standard_normal(5)

    def near(x, v):
        return v * np.cos(x) * (1 + 3e-5)

    report = gradcheck(np.sin, [x], grad=near, method="complex_step", rtol=1e-4,
                       raise_exception=False)
    assert report.passed, str(report)
    assert report.inputs[0].checked_by == "complex_step"
    assert not gradcheck(np.sin, [x], grad=near, method="complex_step",
                         raise_exception=False).passed

    def softsign(x):
        return x / (1 + np.abs(x))

    with pytest.raises(GradcheckError, match="complex-step agreed with the claimed gradient"):
        gradcheck(softsign, [x], grad=lambda x, v: v / (1 + np.abs(x)),
                  method="complex_step", rtol=1e-4, atol=1e-6)


def test_complex_step_through_abs_in_a_function_is_confirmed_by_central_too():
    """The engine path: a Function whose forward takes np.abs of its input and whose
    backward misses that term passed by complex-step."""
    class Softsign(ng.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x / (1 + np.abs(x))

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved
            return dy / (1 + np.abs(x))     # should be squared

    x = np.random.default_rng(9).standard_normal(5)
    with pytest.raises(GradcheckError, match="complex-step agreed with the backward"):
        gradcheck(Softsign.apply, [x], method="complex_step")


@pytest.mark.parametrize("method", ["central", "directional"])
def test_a_constant_offset_that_swamps_the_differences_is_inconclusive(method):
    """L + 1e10 (a loss's constant offset): its rounding alone allows more than half of
    every element, so a 50 % error passed; now the verdict fails as inconclusive, for the
    right gradient too, and says what to do; complex step tells them apart."""
    x, w = _inputs(7)

    def offset(x, w):
        return (np.tanh(x @ w) ** 2).sum() + 1e10

    def vjp(x, w, v, wrong=1.0):
        t = np.tanh(x @ w)
        dz = v * 2 * t * (1 - t ** 2)
        return wrong * (dz @ w.T), x.T @ dz
    for grad in (vjp, lambda x, w, v: vjp(x, w, v, wrong=1.5)):
        report = gradcheck(offset, [x, w], grad=grad, method=method, raise_exception=False)
        assert not report.passed, report
        assert any(n.startswith("inconclusive: the rounding of fn's outputs at x") and
                   "method='complex_step'" in n for n in report.inputs[0].notes), report
    assert gradcheck(offset, [x, w], grad=vjp, method="complex_step").passed
    assert not gradcheck(offset, [x, w], grad=lambda x, w, v: vjp(x, w, v, wrong=1.5),
                         method="complex_step", raise_exception=False).passed
