"""compare_arrays: two sets of arrays element by element. Each failing case is built by
perturbing known elements, so the worst element, the counts and the blocks are known before
the call; the verdicts are checked against numpy.isclose, the rule they document."""

import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.check import (
    ArrayReport,
    ComparisonError,
    ComparisonReport,
    compare_arrays,
    lstm_gate_blocks,
)

H = 3                                   # hidden size: an LSTM weight has 4H = 12 rows


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"weight_ih_l0": rng.standard_normal((4 * H, 2)),
            "weight_hh_l0": rng.standard_normal((4 * H, H)),
            "bias_ih_l0": rng.standard_normal(4 * H),
            "x": rng.standard_normal((2, 5))}


def _copy(arrays):
    return {k: v.copy() for k, v in arrays.items()}


def _row_line(report, name):
    """The table row of ``name``."""
    rows = [line for line in str(report).splitlines() if line.startswith(f"  {name} ")]
    assert len(rows) == 1, str(report)
    return rows[0]


# ---------------------------------------------------------------------------------------------
# Verdicts, the worst element, counts
# ---------------------------------------------------------------------------------------------

def test_equal_arrays_pass_with_zero_errors():
    ours = _weights()
    report = compare_arrays(ours, _copy(ours), raise_exception=True)
    assert isinstance(report, ComparisonReport) and report.passed
    assert [r.name for r in report] == list(ours)
    for r in report:
        assert isinstance(r, ArrayReport)
        assert r.n_failing == 0 and r.max_abs_error == 0 and r.max_rel_error == 0
        assert r.dtypes == ("float64", "float64") and (r.atol, r.rtol) == (1e-13, 1e-11)
    assert report.max_abs_error == 0 and not report.failing


def test_one_perturbed_element_is_the_worst_and_is_named_with_its_gate():
    ours = _weights()
    theirs = _copy(ours)
    theirs["weight_hh_l0"][H + 1, 2] *= 1 + 1e-6        # row H+1: gate f
    theirs["x"] *= 1 + 1e-14                            # rounding: passes
    report = compare_arrays(ours, theirs, blocks=lstm_gate_blocks(ours, H),
                            labels=("ours", "torch"))
    assert not report.passed and [r.name for r in report.failing] == ["weight_hh_l0"]
    r = report["weight_hh_l0"]
    assert r.worst_index == (H + 1, 2) and r.n_failing == 1 and r.n_total == 4 * H * H
    assert r.block == "f"
    assert [(label, n) for label, _, n in r.block_failing] == [("i", 0), ("f", 1), ("g", 0),
                                                               ("o", 0)]
    assert r.actual == ours["weight_hh_l0"][H + 1, 2]
    assert r.expected == theirs["weight_hh_l0"][H + 1, 2]
    assert r.max_abs_error == pytest.approx(abs(ours["weight_hh_l0"][H + 1, 2]) * 1e-6,
                                            rel=1e-6)
    assert r.max_rel_error == pytest.approx(1e-6, rel=1e-5)
    assert report["x"].passed and report["x"].max_rel_error <= 2e-14
    text = str(report)
    assert f"weight_hh_l0[{H + 1}, 2] (block 'f')" in _row_line(report, "weight_hh_l0")
    assert _row_line(report, "weight_hh_l0").endswith(f"1/{4 * H * H} FAIL")
    assert f"all in block 'f' (weight_hh_l0[{H}:{2 * H}])" in text
    assert text.splitlines()[0] == "compare_arrays ours vs torch: FAILED, 1 of 4 arrays differ"


def test_failures_in_several_gates_are_counted_per_block():
    ours = _weights()
    theirs = _copy(ours)
    w = theirs["weight_ih_l0"]
    w[0, 0] += 1e-3                     # gate i
    w[1, 1] += 1e-3                     # gate i
    w[4 * H - 1, 0] += 1e-2             # gate o: the largest, so the worst
    report = compare_arrays(ours, theirs, blocks=lstm_gate_blocks(list(ours), H))
    r = report["weight_ih_l0"]
    assert r.n_failing == 3 and r.worst_index == (4 * H - 1, 0) and r.block == "o"
    assert dict((label, n) for label, _, n in r.block_failing) == {"i": 2, "f": 0, "g": 0,
                                                                    "o": 1}
    assert r.n_outside_blocks == 0
    assert "by block 'i': 2, 'o': 1" in str(report)
    worst = [(row["name"], row["index"], row["block"]) for row in report.worst(3)]
    assert worst[0] == ("weight_ih_l0", (4 * H - 1, 0), "o")
    assert sorted(worst[1:]) == [("weight_ih_l0", (0, 0), "i"), ("weight_ih_l0", (1, 1), "i")]


def test_failures_outside_every_block_are_counted_so():
    a = np.zeros((4, 2))
    e = a.copy()
    e[3, 1] = 1.0
    report = compare_arrays({"w": a}, {"w": e}, blocks={"w": [("top", np.s_[0:2])]})
    r = report["w"]
    assert r.block is None and r.n_outside_blocks == 1
    assert "outside every block: 1" in str(report)


@pytest.mark.parametrize("seed", range(5))
def test_the_verdict_is_numpys_isclose(seed):
    """|a - e| <= atol + rtol·|e|, element by element, e the reference: as np.isclose."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((6, 7)) * 10.0 ** rng.integers(-3, 3, (6, 7))
    a = e + rng.standard_normal(e.shape) * 10.0 ** rng.integers(-8, -2, e.shape)
    atol, rtol = 1e-5, 1e-4
    r = compare_arrays(a, e, atol=atol, rtol=rtol)["array"]
    assert r.n_failing == int(np.count_nonzero(~np.isclose(a, e, rtol=rtol, atol=atol)))
    violation = np.abs(a - e) / (atol + rtol * np.abs(e))
    assert r.worst_index == np.unravel_index(np.argmax(violation), e.shape)
    assert r.max_abs_error == np.max(np.abs(a - e))


def test_the_rule_at_its_boundary_and_its_asymmetry():
    # allowed = 0.25 + 0.5·1 = 0.75, exactly representable
    assert compare_arrays(np.array([1.75]), np.array([1.0]), atol=0.25, rtol=0.5).passed
    assert not compare_arrays(np.array([1.8]), np.array([1.0]), atol=0.25, rtol=0.5).passed
    # e is the reference: |2 - 1| > 0.5·1, but |1 - 2| <= 0.5·2
    assert not compare_arrays(np.array([2.0]), np.array([1.0]), atol=0, rtol=0.5).passed
    assert compare_arrays(np.array([1.0]), np.array([2.0]), atol=0, rtol=0.5).passed
    # atol=rtol=0: exact equality
    r = compare_arrays(np.array([1.0, 2.0]), np.array([1.0, np.nextafter(2.0, 3.0)]),
                       atol=0, rtol=0)["array"]
    assert r.n_failing == 1 and r.worst_index == (1,)


# ---------------------------------------------------------------------------------------------
# dtypes and their default tolerances
# ---------------------------------------------------------------------------------------------

def test_a_float32_side_gets_float32_tolerances():
    e = np.random.default_rng(1).standard_normal((5, 4))
    a = e.astype(np.float32)                            # rounding ~6e-8 relative
    report = compare_arrays({"w": a}, {"w": e})
    r = report["w"]
    assert report.passed and r.dtypes == ("float32", "float64")
    assert (r.atol, r.rtol) == (1e-5, 1e-4)
    assert 0 < r.max_rel_error < 1e-7
    assert "float32/float64" in _row_line(report, "w")
    # at float64's tolerances the same rounding fails
    assert not compare_arrays({"w": a}, {"w": e}, atol=1e-13, rtol=1e-11).passed
    # a 1e-3 error in float32 is caught
    a[2, 1] *= 1 + 1e-3
    assert compare_arrays({"w": a}, {"w": e})["w"].worst_index == (2, 1)


def test_other_dtypes_compare_in_float64_or_complex128():
    r = compare_arrays(np.arange(4), np.arange(4.0))["array"]
    assert r.passed and r.dtypes == ("int64", "float64") and r.rtol == 1e-11
    r = compare_arrays(np.ones(2, np.complex64), np.ones(2))["array"]
    assert r.passed and r.dtypes == ("complex64", "float64") and r.rtol == 1e-4
    r = compare_arrays(np.array([1 + 2j, 3j]), np.array([1 + 2j, 3.001j]))["array"]
    assert r.n_failing == 1 and r.worst_index == (1,) and r.expected == 3.001j
    assert r.max_abs_error == pytest.approx(1e-3)


# ---------------------------------------------------------------------------------------------
# NaN and inf
# ---------------------------------------------------------------------------------------------

def test_nan_matches_only_nan_and_inf_only_the_same_inf():
    a = np.array([np.nan, np.inf, -np.inf, 1.0, np.nan, np.inf, np.inf, 2.0])
    e = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0, -np.inf, 1e308, np.nan])
    r = compare_arrays(a, e)["array"]
    assert r.n_failing == 4 and r.n_non_finite == 4 and r.first_non_finite == (4,)
    assert r.max_abs_error == 0 and r.max_rel_error == 0    # the one finite pair agrees
    assert r.worst_index == (4,)            # the first of the equally infinite violations
    assert compare_arrays(a[:4], e[:4], raise_exception=True).passed
    text = str(compare_arrays(a, e))
    assert "; 2 NaN or inf in actual only (first array[4]: +nan vs +0.0000e+00)" in text, text
    assert "; 1 NaN or inf in expected only (first array[7]: +2.0000e+00 vs +nan)" in text
    assert "; 1 different NaN or inf on both sides (first array[5]: +inf vs -inf)" in text
    # complex: each part apart
    assert compare_arrays(np.array([complex(np.nan, 1)]), np.array([complex(np.nan, 1)])).passed
    assert not compare_arrays(np.array([complex(np.nan, 1)]),
                              np.array([complex(1, np.nan)])).passed


def test_no_finite_pair_shows_no_size_and_a_matching_nan_is_no_ones_worst():
    """A newcomer's row with NaN everywhere on one side read 'max abs 0.0e+00 ... 15/15
    FAIL'; a passing row named its NaN matching NaN as the worst element."""
    a = np.arange(15.0).reshape(3, 5)
    r = compare_arrays({"x": a}, {"x": np.full_like(a, np.nan)})["x"]
    assert r.n_finite == 0 and r.n_failing == 15
    assert re.search(r"x +\(3, 5\) +float64 +- +- +x\[0, 0\]",
                     str(compare_arrays({"x": a}, {"x": np.full_like(a, np.nan)})))
    b = a.copy()
    b[0, 0] = np.nan
    r = compare_arrays({"dh": b}, {"dh": b.copy()})["dh"]
    assert r.passed and r.n_finite == 14 and r.worst_index == (0, 1)
    assert np.isfinite(r.actual) and np.isfinite(r.expected)


@pytest.mark.parametrize("bad, other", [(np.nan, 0.0), (np.inf, 0.0), (-np.inf, 2.5),
                                        (np.nan, np.inf), (np.inf, -np.inf), (np.inf, np.inf),
                                        (-np.inf, -np.inf), (np.nan, np.nan)])
@pytest.mark.parametrize("side", ["actual", "expected"])
def test_a_nan_or_inf_on_one_side_is_counted_and_named_and_the_sizes_are_the_finite_ones(
        bad, other, side):
    """A NaN against 0 has no size: max abs and rel are those of the finite pairs (here one
    element 1e-3 off, computed again below), the non-finite elements are counted and the
    first named. The verdict is numpy.testing.assert_allclose's with equal_nan=True: NaN
    equals NaN at the same place and inf the same inf."""
    rng = np.random.default_rng(0)
    e = rng.standard_normal((4, 5))
    a = e.copy()
    a[1, 2] += 1e-3
    where = [(2, 3), (3, 0)]
    for idx in where:
        a[idx], e[idx] = (bad, other) if side == "actual" else (other, bad)
    r = compare_arrays(a, e, atol=1e-8, rtol=1e-6)["array"]
    finite = np.isfinite(a) & np.isfinite(e)
    gap = np.abs(a[finite] - e[finite])
    assert r.max_abs_error == np.max(gap), str(r)
    assert r.max_rel_error == pytest.approx(np.max(
        gap / np.maximum(np.abs(a[finite]), np.abs(e[finite]))), rel=1e-12)
    try:
        np.testing.assert_allclose(a[2:], e[2:], atol=1e-8, rtol=1e-6, equal_nan=True)
        equal = True
    except AssertionError:
        equal = False
    text = str(compare_arrays(a, e, atol=1e-8, rtol=1e-6))
    assert "inf" not in re.search(r"array +\(4, 5\) +float64 +(\S+) +(\S+)", text).group(0)
    if equal:
        assert r.n_failing == 1 and r.n_non_finite == 0 and r.first_non_finite is None, text
        assert "NaN or inf" not in text and "; worst array[1, 2]: |a-e|=1.00e-03" in text
        return
    assert r.n_failing == 3 and r.n_non_finite == 2 and r.first_non_finite == where[0], text
    assert r.worst_index == where[0]          # an infinite violation, the first of them
    kind = "different NaN or inf on both sides" if not (np.isfinite(bad) or np.isfinite(other)) \
        else f"NaN or inf in {side} only"
    shown = (bad, other) if side == "actual" else (other, bad)
    assert f"; 2 {kind} (first array[2, 3]: {ng.check.report.format_value(shown[0])} vs " \
        f"{ng.check.report.format_value(shown[1])})" in text, text
    assert "; worst finite array[1, 2]: |a-e|=1.00e-03" in text, text


# ---------------------------------------------------------------------------------------------
# The forms of the arguments, and the errors
# ---------------------------------------------------------------------------------------------

def test_two_arrays_and_two_sequences():
    a, b = np.ones(3), np.zeros((2, 2))
    report = compare_arrays([a, b], (a.copy(), b + 1))
    assert [r.name for r in report] == ["arrays[0]", "arrays[1]"]
    assert report[1] is report["arrays[1]"] and not report[1].passed
    assert report[1].worst_index == (0, 0) and "arrays[1][0, 0]" in str(report)
    assert compare_arrays(2.5, np.float64(2.5))["array"].shape == ()
    assert "  array " in str(compare_arrays(2.5, 2.5))


def test_nongate_np_tensors_are_read_as_arrays():
    x = ng.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = (x * 2).sum()
    report = compare_arrays({"x": x, "y": y}, {"x": np.arange(6.0).reshape(2, 3), "y": 30.0})
    assert report.passed and report["y"].shape == ()


def test_different_names_are_listed_on_both_sides():
    with pytest.raises(ValueError, match=re.escape(
            "the names differ: in ours only: ['a', 'c']; in torch only: ['b']")):
        compare_arrays({"a": 1.0, "c": 1.0, "d": 1.0}, {"b": 1.0, "d": 1.0},
                       labels=("ours", "torch"))
    with pytest.raises(ValueError, match="actual has 2 arrays, expected 1"):
        compare_arrays([1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="actual is a mapping and expected is a sequence"):
        compare_arrays({"a": 1.0}, [1.0])


def test_different_shapes_are_refused_with_both_and_a_hint():
    w = np.zeros((2, 3))
    with pytest.raises(ValueError, match=re.escape(
            "'w': actual (2, 3), expected (3, 2) ((2, 3) is the transpose of (3, 2))")):
        compare_arrays({"w": w, "b": np.zeros(3)}, {"w": w.T, "b": np.zeros(3)})
    with pytest.raises(ValueError, match=re.escape(
            "'w': actual (2, 3), expected (6,) (the same number of elements in another "
            "shape")):
        compare_arrays({"w": w}, {"w": w.ravel()})
    with pytest.raises(ValueError, match=re.escape(
            "'w': actual (2, 3), expected (1, 2, 3) (the same but for axes of length 1")):
        compare_arrays({"w": w}, {"w": w[None]})
    with pytest.raises(ValueError, match=r"'w': actual \(2, 3\), expected \(2, 4\)$"):
        compare_arrays({"w": w}, {"w": np.zeros((2, 4))})


def test_bad_entries_and_options_are_refused():
    with pytest.raises(TypeError, match=r"torch\['w'\] is None"):
        compare_arrays({"w": np.ones(2)}, {"w": None}, labels=("ours", "torch"))
    with pytest.raises(TypeError, match="strings and Python objects"):
        compare_arrays(np.array(["a"]), np.array(["a"]))
    with pytest.raises(ValueError, match="rtol must be a finite number >= 0"):
        compare_arrays(1.0, 1.0, rtol=-1.0)
    with pytest.raises(TypeError, match="atol must be a real number"):
        compare_arrays(1.0, 1.0, atol="1e-8")
    with pytest.raises(TypeError, match="labels must be two strings"):
        compare_arrays(1.0, 1.0, labels=("ours",))
    with pytest.raises(ValueError, match=r"blocks= names \['W'\], which are not compared"):
        compare_arrays({"w": np.ones(4)}, {"w": np.ones(4)}, blocks={"W": [("a", 0)]})
    with pytest.raises(ValueError, match="block 'a' of 'w'.*shape \\(4,\\)"):
        compare_arrays({"w": np.ones(4)}, {"w": np.ones(4)}, blocks={"w": [("a", (0, 1))]})


# ---------------------------------------------------------------------------------------------
# The table and the exception
# ---------------------------------------------------------------------------------------------

def _printed_values(line):
    return [float(v) for v in re.findall(r"[+-]\d\.\d+e[+-]\d+", line)]


@pytest.mark.parametrize("rel", [1e-9, 3e-16])
def test_the_table_prints_the_two_values_so_that_they_differ(rel):
    e = np.array([[0.5, -1.2345678901234567], [3.0, 4.0]])
    a = e.copy()
    a[0, 1] = e[0, 1] * (1 + rel)
    if a[0, 1] == e[0, 1]:
        a[0, 1] = np.nextafter(e[0, 1], 0)          # one ulp
    report = compare_arrays({"weight": a}, {"weight": e}, atol=0, rtol=0)
    line = _row_line(report, "weight")
    assert "weight[0, 1]" in line and line.endswith("1/4 FAIL")
    printed_a, printed_e = _printed_values(line)
    assert printed_a != printed_e
    # each printed value is its own, rounded to the digits shown
    assert printed_a == pytest.approx(a[0, 1], rel=0.1 * rel + 1e-16)
    assert printed_e == pytest.approx(e[0, 1], rel=0.1 * rel + 1e-16)


def test_equal_values_print_short():
    line = _row_line(compare_arrays({"w": np.array([0.25])}, {"w": np.array([0.25])}), "w")
    assert "+2.5000e-01 +2.5000e-01" in re.sub(r"\s+", " ", line)


def test_raise_exception_gives_the_table_failing_rows_first():
    ours = _weights()
    theirs = _copy(ours)
    theirs["x"][1, 3] += 1.0
    with pytest.raises(ComparisonError) as info:
        compare_arrays(ours, theirs, raise_exception=True)
    err = info.value
    assert isinstance(err, AssertionError) and err.report is not None
    assert not err.report.passed
    lines = str(err).splitlines()
    assert lines[0] == "compare_arrays actual vs expected: FAILED, 1 of 4 arrays differ"
    assert lines[3].startswith("  x ") and lines[3].endswith("FAIL")       # after the header
    assert [line.split()[0] for line in lines[4:7]] == ["weight_ih_l0", "weight_hh_l0",
                                                        "bias_ih_l0"]
    assert "x[1, 3]" in lines[3]
    # the report's own str keeps the given order
    assert str(err.report).splitlines()[3].startswith("  weight_ih_l0 ")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and isinstance(again, ComparisonError)


def test_an_empty_array_compares_nothing_and_passes():
    report = compare_arrays({"e": np.zeros((0, 3))}, {"e": np.zeros((0, 3))})
    assert report.passed and report["e"].worst_index is None
    assert _row_line(report, "e").endswith("0/0 pass")
    with pytest.raises(KeyError, match="the compared names are 'e'"):
        report["f"]


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------

def test_the_module_does_not_import_torch():
    code = ("import sys, nongate_np.check.compare, numpy as np\n"
            "nongate_np.check.compare.compare_arrays(np.ones(2), np.ones(2))\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.torch
def test_torch_tensors_are_read_detached_in_their_dtype():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.randn(4 * H, 2, dtype=torch.float64))    # requires grad
    f32 = torch.ones(3, dtype=torch.float32)
    expected = {"weight_ih_l0": w.detach().numpy().copy(), "f": np.ones(3)}
    expected["weight_ih_l0"][2 * H, 1] += 1e-6                             # gate g
    report = compare_arrays({"weight_ih_l0": w, "f": f32}, expected,
                            blocks=lstm_gate_blocks(expected, H))
    r = report["weight_ih_l0"]
    assert r.worst_index == (2 * H, 1) and r.block == "g" and r.n_failing == 1
    assert report["f"].passed and report["f"].dtypes == ("float32", "float64")
    assert w.requires_grad                                  # the caller's tensor untouched
    # lazily conjugated and negated views (torch's .numpy() refuses them) read as values
    z = torch.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    assert compare_arrays(z.conj(), np.array([1 - 2j, 3 + 1j])).passed
    assert compare_arrays(z.detach().conj().imag, np.array([-2.0, 1.0])).passed
    with pytest.raises(TypeError, match="bfloat16 tensor.*t.float\\(\\)"):
        compare_arrays(torch.ones(2, dtype=torch.bfloat16), np.ones(2))


@pytest.mark.torch
def test_the_torch_example_in_the_docstring_runs_and_agrees():
    pytest.importorskip("torch")
    doc = compare_arrays.__doc__
    code = doc.split("the same weights in both::")[1]
    namespace = {"np": np}
    exec(compile("\n".join(line[8:] for line in code.splitlines()), "compare_arrays.__doc__",
                 "exec"), namespace)
    report = namespace["report"]
    assert report.passed, str(report)
    assert [r.name for r in report] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                        "bias_hh_l0"]
    assert all(r.block in "ifgo" for r in report)
