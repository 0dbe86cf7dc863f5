"""``blas.gemm``, the BLAS product of the Numba backend, and the choice of its library
(``kernels/cpu/blas.py``).

The products equal NumPy's to rounding for every layout the kernels pass (and the layouts
gemm copies), float32 and float64, odd shapes and empty dimensions, and repeat bit for bit.
This process runs the library ``NONGATE_NP_BLAS`` picks (unset: the scipy-openblas32 wheel
when installed); subprocesses run the other one, the override's errors, a kernel loaded from
Numba's on-disk cache by a new process, and the fused kernels' agreement and determinism
tests on the other library."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numba import njit

blas = pytest.importorskip("nongate_np.kernels.cpu.blas")
from nongate_np.kernels.cpu import threads  # noqa: E402  (after the importorskip)


@njit
def gemm(a, b, out):
    """blas.gemm from jitted code (it is an intrinsic); each layout a signature of its own."""
    blas.gemm(a, b, out)


ROOT = Path(__file__).resolve().parent.parent
HAS_WHEEL = blas._wheel_library()[0] is not None
CURRENT = blas.describe()["library"]
OTHER = "scipy" if CURRENT == "scipy-openblas32" else "scipy-openblas32"


def _layouts(x):
    """``x`` (r, c) in the layouts gemm reads in place (those the kernels pass, and slices
    typed 'A'): name -> array with x's values."""
    r, c = x.shape
    wide = np.zeros((r + 3, 2 * c + 1), x.dtype)
    wide[1:r + 1, 1:c + 1] = x
    stacked = np.zeros((2, r, c), x.dtype)
    stacked[1] = x
    return {
        "C": np.ascontiguousarray(x),
        "transposed": np.asfortranarray(x),                # a C array's .T
        "row slice": wide[1:r + 1, 1:c + 1],               # rows of unit stride, ld > c
        "slice of transposed": np.asfortranarray(wide)[1:r + 1, 1:c + 1],
        "3-D slice": stacked[1],
    }


def _strided(x):
    """``x`` with no unit stride (gemm refuses it): name -> array."""
    return {"every other column": np.repeat(x, 2, axis=1)[:, ::2],
            "rows reversed": np.ascontiguousarray(x[::-1])[::-1]}


def _reference(a, b):
    """a @ b in float64, and the rounding bound 4 K ε (|a| |b|) of a float product."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    eps = np.finfo(a.dtype).eps
    return a64 @ b64, 4 * max(a.shape[1], 1) * eps * (np.abs(a64) @ np.abs(b64)) + 1e-300


SHAPES = [(1, 1, 1), (3, 5, 7), (8, 64, 33), (17, 3, 1), (1, 40, 9), (0, 3, 4), (3, 0, 4),
          (3, 4, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M, K, N", SHAPES)
def test_gemm_equals_numpy_for_every_layout(dtype, M, K, N):
    rng = np.random.default_rng(M * 100 + K * 10 + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    want, bound = _reference(a, b)
    for na, a_ in _layouts(a).items():
        for nb, b_ in _layouts(b).items():
            for no, out in (("C", np.full((M, N), np.nan, dtype)),
                            ("transposed", np.full((N, M), np.nan, dtype).T),
                            ("row slice", np.full((M + 2, N + 3), np.nan, dtype)[1:M + 1, :N]),
                            ("slice of transposed",
                             np.full((N + 2, M + 3), np.nan, dtype).T[1:M + 1, :N])):
                gemm(a_, b_, out)
                err = np.abs(out - want)
                assert np.all(err <= bound), f"{dtype.__name__} a {na}, b {nb}, out {no}: " \
                                             f"worst error {err.max()} ({CURRENT})"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_repeats_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((37, 129)).astype(dtype)
    b = rng.standard_normal((129, 65)).astype(dtype)
    first, second = np.empty((37, 65), dtype), np.empty((37, 65), dtype)
    gemm(a, b, first)
    gemm(a, b, second)
    assert np.array_equal(first, second)


def test_gemm_rejects_mismatched_shapes():
    a, b = np.ones((3, 4)), np.ones((5, 2))
    with pytest.raises(ValueError, match="shapes of a"):
        gemm(a, b, np.empty((3, 2)))
    with pytest.raises(ValueError, match="shapes of a"):
        gemm(a, np.ones((4, 2)), np.empty((2, 3)))


@pytest.mark.parametrize("M, K, N", [(3, 5, 7), (2, 2, 2)])
def test_gemm_rejects_operands_without_a_unit_stride(M, K, N):
    a, b, out = np.ones((M, K)), np.ones((K, N)), np.empty((M, N))
    for x in _strided(a).values():
        with pytest.raises(ValueError, match="no unit stride"):
            gemm(x, b, out)
    for x in _strided(b).values():
        with pytest.raises(ValueError, match="no unit stride"):
            gemm(a, x, out)
    for x in _strided(np.empty((M, N))).values():
        with pytest.raises(ValueError, match="no unit stride"):
            gemm(a, b, x)


def test_describe_names_the_library_the_products_call():
    d = blas.describe()
    assert set(d) == {"library", "path", "version", "core", "config", "threads", "interface",
                      "reason"}
    assert d["library"] in ("scipy-openblas32", "scipy")
    assert d["path"] and os.path.exists(d["path"])
    if os.environ.get(blas.ENV_VAR, "auto") in ("", "auto"):
        assert d["library"] == ("scipy-openblas32" if HAS_WHEEL else "scipy")
    if d["library"] == "scipy-openblas32":
        assert "scipy_openblas32" in d["path"] and d["version"] and d["core"]


def test_kernels_run_the_chosen_blas_on_one_thread():
    """``threads.owns_cores`` sets the library gemm calls, not another copy, to one thread."""
    if threads.blas_threads() is None:
        pytest.skip("the chosen BLAS has no thread control here")
    assert threads.blas_threads() == blas.describe()["threads"]
    seen = threads.owns_cores(lambda: blas.describe()["threads"])()
    assert seen == 1


def _run(script: str, choice: str | None, cwd: Path,
         **env_extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    env.pop(blas.ENV_VAR, None)
    if choice is not None:
        env[blas.ENV_VAR] = choice
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, cwd=cwd,
                          text=True, capture_output=True, timeout=600)


_OTHER_PATH = """
    import json, numpy as np
    from numba import njit
    from nongate_np.kernels.cpu import blas
    gemm = njit(lambda a, b, out: blas.gemm(a, b, out))
    rng = np.random.default_rng(0)
    worst = 0.0
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((9, 70)).astype(dtype)
        for b in (rng.standard_normal((70, 5)).astype(dtype),
                  np.asfortranarray(rng.standard_normal((70, 5)).astype(dtype))):
            out = np.empty((9, 5), dtype)
            gemm(a, b, out)
            want = a.astype(np.float64) @ b.astype(np.float64)
            bound = 4 * 70 * np.finfo(dtype).eps * (np.abs(a) @ np.abs(b)).astype(np.float64)
            worst = max(worst, float(np.max(np.abs(out - want) / bound)))
    print(json.dumps(dict(blas.describe(), worst=worst)))
"""


@pytest.mark.skipif(not HAS_WHEEL, reason="scipy-openblas32 is not installed: one library")
def test_the_other_library_gives_the_products(tmp_path):
    proc = _run(_OTHER_PATH, OTHER, tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["library"] == OTHER and out["reason"] == f"{blas.ENV_VAR}={OTHER}"
    assert out["worst"] <= 1, "products off by more than rounding"
    assert out["path"] != blas.describe()["path"]


def test_without_the_wheel_auto_falls_back_to_scipy_and_the_wheel_is_an_error(tmp_path):
    hide = "import sys; sys.modules['scipy_openblas32'] = None\n"
    proc = _run(hide + textwrap.dedent(_OTHER_PATH), "auto", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["library"] == "scipy" and "not installed" in out["reason"]
    assert out["worst"] <= 1
    proc = _run(hide + "import nongate_np.kernels.cpu.blas", "scipy-openblas32", tmp_path)
    assert proc.returncode != 0
    assert "NONGATE_NP_BLAS=scipy-openblas32 but scipy_openblas32 is not installed " \
           "(pip install scipy-openblas32)" in proc.stderr


def test_an_unknown_choice_is_an_error_naming_the_valid_ones(tmp_path):
    proc = _run("import nongate_np.kernels.cpu.blas", "mkl", tmp_path)
    assert proc.returncode != 0
    assert "ValueError: NONGATE_NP_BLAS='mkl'; expected one of 'auto', 'scipy-openblas32', " \
           "'scipy'" in proc.stderr


_CACHED = """
    import json, sys, warnings
    warnings.simplefilter("error")         # a NumbaWarning (no caching) fails the run
    import numpy as np
    sys.path.insert(0, {folder!r})
    import user_kernel
    from nongate_np.kernels.cpu import blas
    out = np.empty((3, 5), np.float32)
    user_kernel.twice(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32), out)
    stats = user_kernel.twice.stats
    print(json.dumps(dict(library=blas.describe()["library"], value=float(out[0, 0]),
                          hits=sum(stats.cache_hits.values()),
                          misses=sum(stats.cache_misses.values()))))
"""


def test_a_kernel_calling_gemm_loads_from_numbas_cache_in_a_new_process(tmp_path):
    """The compiled code names the BLAS function, no address: a second process (on either
    library) loads it from the cache instead of compiling, and Numba does not refuse to
    cache it."""
    (tmp_path / "user_kernel.py").write_text(textwrap.dedent("""
        from numba import njit
        from nongate_np.kernels.cpu.blas import gemm

        @njit(cache=True)
        def twice(a, b, out):
            gemm(a, b, out)
            gemm(a, b, out)
    """))
    script = _CACHED.format(folder=str(tmp_path))
    cache = str(tmp_path / "numba")
    runs = [(None, "misses"), (None, "hits")] + ([(OTHER, "hits")] if HAS_WHEEL else [])
    for choice, want in runs:
        proc = _run(script, choice, tmp_path, NUMBA_CACHE_DIR=cache)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.splitlines()[-1])
        assert out["value"] == 4.0
        assert out[want] == 1 and out["hits" if want == "misses" else "misses"] == 0, out


@pytest.mark.slow
@pytest.mark.skipif(not HAS_WHEEL, reason="scipy-openblas32 is not installed: one library")
def test_the_fused_kernels_agree_and_repeat_on_the_other_library(tmp_path):
    """tests/test_backends_agree.py (serial and threaded step loops) and
    tests/test_determinism.py for the Numba backend, with the library this process did not
    choose."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", "numba",
         str(ROOT / "tests" / "test_backends_agree.py"),
         str(ROOT / "tests" / "test_determinism.py")],
        env=dict(os.environ, **{blas.ENV_VAR: OTHER}), cwd=ROOT, text=True,
        capture_output=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_takes_every_layout_pair_serial_and_split(dtype):
    """``gemm.matmul``'s one call on the calling thread (C arrays and flags, no copies) and
    its splits over the threads (a transposed ``a`` by the reduction index, and by rows of
    the result from ``PRODUCT_ROWS_MIN_BYTES``, here 0) give NumPy's product for C and
    transposed operands."""
    from nongate_np.kernels.cpu import gemm as cpu_gemm
    from nongate_np.kernels.cpu import tuning
    rng = np.random.default_rng(2)
    a = rng.standard_normal((13, 70)).astype(dtype)
    b = rng.standard_normal((70, 9)).astype(dtype)
    for force, rows_min in ((tuning.force_serial, tuning.PRODUCT_ROWS_MIN_BYTES),
                            (tuning.force_split, tuning.PRODUCT_ROWS_MIN_BYTES),
                            (tuning.force_split, 0)):
        with force(), tuning.override(PRODUCT_ROWS_MIN_BYTES=rows_min):
            for a_ in (a, np.asfortranarray(a), a[:, ::2].repeat(2, axis=1)):
                for b_ in (b, np.asfortranarray(b)):
                    want, bound = _reference(a_, b_)
                    got = cpu_gemm.matmul(a_, b_)
                    assert got.shape == want.shape
                    assert np.all(np.abs(got - want) <= bound), (force.__name__, rows_min)
                    np.testing.assert_array_equal(cpu_gemm.matmul(a_, b_), got)
