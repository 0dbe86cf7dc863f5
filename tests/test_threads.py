"""The Numba backend's use of threads: split products agree with NumPy, BLAS is kept on one
thread inside a kernel and restored after it, and a fixed thread count gives the same bits
in every run and process (docs/math.md K4)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("numba")
from nongate_np.kernels.cpu import gemm, threads, tuning  # noqa: E402  (after the importorskip)


@pytest.fixture
def split_everything():
    """Split every product and every step, whatever its size."""
    if threads.parallel_chunks(1, 0) < 2:
        pytest.skip("one thread, or no BLAS thread control here")
    with tuning.force_split():
        yield


@given(m=st.integers(1, 9), k=st.integers(1, 9), n=st.integers(1, 9),
       transposed=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2 ** 16))
def test_split_matmul_equals_numpy(m, k, n, transposed, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if transposed else (m, k)).astype(dtype)
    a = a.T if transposed else a
    b = rng.standard_normal((k, n)).astype(dtype)
    with tuning.force_split():
        got = gemm.matmul(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))


@given(m=st.integers(1, 20), k=st.integers(1, 9), groups=st.integers(1, 2),
       extra=st.sampled_from([0, 3]), b_transposed=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), split=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_products_on_the_packed_kernel_equal_numpy(m, k, groups, extra, b_transposed, dtype,
                                                  split, seed):
    """From ``tuning.PACKED_PRODUCT_MIN_MACS`` (0 here) a product with a C-contiguous left
    operand and a width of whole panel groups runs on the packed kernel (K5), each thread
    packing b, transposed or not: the product to rounding, the same bits at every call. A
    width that is not whole panel groups, or a transposed left operand, stays on the BLAS."""
    from nongate_np.kernels.cpu.packed import panel_width
    n = panel_width(1, dtype) * groups + extra
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if b_transposed else (k, n)).astype(dtype)
    b = b.T if b_transposed else b
    with tuning.override(PACKED_PRODUCT_MIN_MACS=0), \
            tuning.force_split() if split else tuning.force_serial():
        assert (gemm._Plan(a, b).kernel is gemm.packed_dot) == (extra == 0)
        if m > 1 and k > 1:                       # a transposed C array: the BLAS
            assert gemm._Plan(np.asfortranarray(a), b).kernel is gemm.dot
        got, again = gemm.matmul(a, b), gemm.matmul(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))
    np.testing.assert_array_equal(got, again)


def test_the_packed_kernel_takes_only_small_right_operands():
    """A right operand above ``tuning.PACKED_PRODUCT_MAX_BYTES`` stays on the BLAS."""
    a, b = np.ones((4, 64), np.float32), np.ones((64, 32), np.float32)
    with tuning.override(PACKED_PRODUCT_MIN_MACS=0, PACKED_PRODUCT_MAX_BYTES=b.nbytes):
        assert gemm._Plan(a, b).kernel is gemm.packed_dot
    with tuning.override(PACKED_PRODUCT_MIN_MACS=0, PACKED_PRODUCT_MAX_BYTES=b.nbytes - 1):
        assert gemm._Plan(a, b).kernel is gemm.dot


@given(m=st.integers(2, 20), k=st.integers(2, 40), groups=st.integers(1, 2),
       extra=st.sampled_from([0, 3]), dtype=st.sampled_from([np.float32, np.float64]),
       split=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_weight_gradients_on_the_packed_kernel_equal_numpy(m, k, groups, extra, dtype, split,
                                                           seed):
    """From ``tuning.PACKED_TRANSPOSED_MIN_MACS`` (0 here; the parts' bound set as on a Zen
    core) a product with a transposed left operand (δᵀX) and a width of whole panel groups
    runs on the packed kernel, which reads a's C array in place, unsplit or split by the
    reduction index: the product to rounding, the same bits at every call. Split by rows (a
    large result), or with a part above ``tuning.PACKED_TRANSPOSED_MAX_ELEMENTS``, it stays
    on the BLAS."""
    from nongate_np.kernels.cpu.packed import panel_width
    n = panel_width(1, dtype) * groups + extra
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m)).astype(dtype).T    # the transpose of a C array (m, k > 1)
    b = rng.standard_normal((k, n)).astype(dtype)
    with tuning.override(PACKED_TRANSPOSED_MIN_MACS=0,
                         PACKED_TRANSPOSED_MAX_ELEMENTS=tuning.ZEN_TRANSPOSED_MAX_ELEMENTS), \
            tuning.force_split() if split else tuning.force_serial():
        plan = gemm._Plan(a, b)
        assert (plan.kernel is gemm.packed_dot) == (extra == 0)
        got, again = gemm.matmul(a, b), gemm.matmul(a, b)
        with tuning.override(PRODUCT_ROWS_MIN_BYTES=0):       # split by rows: the BLAS
            assert gemm._Plan(a, b).kernel is gemm.dot or len(plan.parts) == 1
        k_part = plan.parts[0][2].shape[0]
        with tuning.override(PACKED_TRANSPOSED_MAX_ELEMENTS=k_part * max(m, n) - 1):
            assert gemm._Plan(a, b).kernel is gemm.dot
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert got.dtype == dtype and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))
    np.testing.assert_array_equal(got, again)


@pytest.mark.parametrize("split", [False, True])
def test_products_in_one_split_equal_each_alone_bit_for_bit(split):
    """gemm.matmuls makes each product from the same parts as matmul, summed in the same
    order: the same bits, for products split by rows, by the reduction index, and too small
    to split, side by side (a product with fewer parts than the others included)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 24)).astype(np.float32)
    d = rng.standard_normal((64, 40)).astype(np.float32)
    w = rng.standard_normal((40, 24)).astype(np.float32)
    pairs = [(d, w), (d.T, x), (d[:1].T, x[:1]), (x[:2], w.T)]
    with tuning.force_split() if split else tuning.force_serial():
        together = gemm.matmuls(*pairs)
        alone = [gemm.matmul(a, b) for a, b in pairs]
    for got, want, (a, b) in zip(together, alone, pairs):
        assert got.shape == (a.shape[0], b.shape[1])
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64),
                                   rtol=1e-5, atol=1e-5)


@pytest.fixture
def shared_blas():
    """The tests of owns_cores's save and restore, which a BLAS other code shares (SciPy's)
    gets; test_save_and_restore_on_scipys_shared_blas runs them with NONGATE_NP_BLAS=scipy
    where the default is the private wheel."""
    from nongate_np.kernels.cpu import blas
    if blas.private():
        pytest.skip("the kernels' BLAS is the private wheel, kept on one thread: nothing "
                    "to restore (run with NONGATE_NP_BLAS=scipy)")


def test_a_private_blas_stays_on_one_thread_whatever_changes_it():
    from nongate_np.kernels.cpu import blas
    if threads.blas_threads() is None or not blas.private():
        pytest.skip("the kernels' BLAS is not the private wheel here")
    seen = []
    kernel = threads.owns_cores(lambda: seen.append(threads.blas_threads()))
    kernel()
    assert seen == [1] and threads.blas_threads() == 1
    threads._blas_thread_control()[1](3)     # as threadpoolctl or a restore could leave it
    kernel()
    assert seen == [1, 1] and threads.blas_threads() == 1, "a kernel ran on 3 BLAS threads"


def test_save_and_restore_on_scipys_shared_blas():
    """The shared_blas tests, in a process whose kernels call SciPy's BLAS."""
    from nongate_np.kernels.cpu import blas
    if not blas.private():
        pytest.skip("this process already runs them (SciPy's BLAS is the kernels' here)")
    tests = ("test_blas_runs_on_one_thread_inside_a_kernel_and_is_restored",
             "test_overlapping_kernels_in_python_threads_restore_the_count",
             "test_a_fork_child_gets_back_the_blas_count_a_running_kernel_had_saved")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(f"{__file__}::{name}" for name in tests)],
        env={**os.environ, blas.ENV_VAR: "scipy"}, capture_output=True,
        text=True, timeout=600)
    assert done.returncode == 0 and "3 passed" in done.stdout and "skipped" not in \
        done.stdout, done.stdout[-3000:]


def test_blas_runs_on_one_thread_inside_a_kernel_and_is_restored(shared_blas):
    if threads.blas_threads() is None:
        pytest.skip("the BLAS thread count cannot be read here")
    seen = []

    @threads.owns_cores
    def kernel():
        seen.append(threads.blas_threads())
        raise RuntimeError("inside")

    before = threads.blas_threads()
    with pytest.raises(RuntimeError, match="inside"):
        kernel()
    assert seen == [1] and threads.blas_threads() == before


def test_overlapping_kernels_in_python_threads_restore_the_count(shared_blas):
    """Calls that overlap in time (a server's threads) keep BLAS on one thread while any
    runs, and leave the original count when the last one ends, whatever order they end in
    (a per-call save/restore fails both: the first to leave restores too early, the last
    restores the 1 it found)."""
    import threading
    if threads.blas_threads() is None:
        pytest.skip("the BLAS thread count cannot be read here")
    before = threads.blas_threads()
    first_inside, may_leave = threading.Event(), threading.Event()

    @threads.owns_cores
    def first():
        first_inside.set()
        may_leave.wait(10)

    @threads.owns_cores
    def second(worker):
        may_leave.set()
        worker.join(10)            # first() has left while second() is still inside
        return threads.blas_threads()

    worker = threading.Thread(target=first)
    worker.start()
    first_inside.wait(10)
    assert second(worker) == 1, "a kernel still running lost its single-threaded BLAS"
    assert threads.blas_threads() == before


def test_batch_chunks_cover_the_rows_in_order(split_everything):
    for batch in (2, 5, 31, 32, 33, 128, 1000):
        bounds = threads.batch_chunks(batch, 1)
        assert bounds[0] == 0 and bounds[-1] == batch and np.all(np.diff(bounds) > 0)
        assert len(bounds) == min(threads.num_threads(), batch) + 1
    assert len(threads.batch_chunks(1, 1)) == 2, "one row cannot be split"


def test_run_chunks_runs_each_chunk_once_off_the_calling_thread():
    import threading
    seen = {}

    def chunk(k):
        seen[k] = threading.get_ident()

    threads.run_chunks(chunk, 3)
    assert sorted(seen) == [0, 1, 2]
    assert seen[0] == threading.get_ident()
    assert threading.get_ident() not in (seen[1], seen[2])


def test_run_chunks_keeps_nothing_of_its_chunks_once_they_end():
    """A pool thread drops the split's closure when its chunk ends: kept until the next
    split, it kept that split's arrays out of the kernels' buffer pool."""
    import gc
    import weakref

    class Big:
        pass

    big = Big()
    gone = weakref.ref(big)
    threads.run_chunks(lambda k, held=big: held, 2)
    del big
    gc.collect()
    assert gone() is None


def test_run_chunks_raises_only_after_every_chunk_has_ended():
    """A failing chunk must not let the caller free buffers another chunk still writes."""
    import threading
    import time
    ended = threading.Event()

    def chunk(k):
        if k == 0:
            raise ValueError("chunk 0 failed")
        time.sleep(0.2)
        ended.set()

    with pytest.raises(ValueError, match="chunk 0 failed"):
        threads.run_chunks(chunk, 2)
    assert ended.is_set()


def test_run_chunks_from_a_pool_thread_runs_serially_and_returns():
    """A kernel started from one of the pool's own threads cannot wait on the pool."""
    inner = []

    def outer(k):
        if k == 1:
            threads.run_chunks(inner.append, 3)

    threads.run_chunks(outer, 2)
    assert inner == [0, 1, 2]


def test_run_chunks_raises_a_worker_chunks_error_and_the_pool_still_works():
    def chunk(k):
        if k == 1:
            raise KeyError("chunk 1 failed")

    with pytest.raises(KeyError, match="chunk 1 failed"):
        threads.run_chunks(chunk, 2)
    done = []
    threads.run_chunks(done.append, 2)
    assert sorted(done) == [0, 1]


def _slow_second_chunk(out, seconds):
    import time

    def chunk(k):
        if k == 1:
            time.sleep(seconds)
        out[k] = k
    return chunk


@pytest.mark.skipif(os.name == "nt", reason="os.kill(pid, SIGINT) ends the process on Windows")
def test_ctrl_c_during_a_split_is_raised_when_every_chunk_has_ended():
    """Ctrl-C while the caller waits for a worker's chunk: KeyboardInterrupt comes once the
    chunk has written its results, and the next split waits for its own chunks, not for
    a release left over from the interrupted one."""
    import signal
    import threading
    threads.run_chunks(lambda k: None, 2)       # the pool's threads up, its wait compiled
    out = [None, None]
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        threads.run_chunks(_slow_second_chunk(out, 0.5), 2)
    assert out == [0, 1]
    for _ in range(3):
        out = [None, None]
        threads.run_chunks(_slow_second_chunk(out, 0.2), 2)
        assert out == [0, 1], "a split returned before its chunks had ended"


def test_a_split_left_by_an_exception_retires_its_workers(monkeypatch):
    """An exception that leaves a split before its joins (a second Ctrl-C at the wrong
    moment, say) may leave a worker out of step with its locks: the pool replaces the
    split's workers, so later splits still wait for every chunk."""
    import time
    threads.run_chunks(lambda k: None, 2)
    before = list(threads._pool)

    def interrupted_join(self):
        raise KeyboardInterrupt("simulated Ctrl-C escaping join")

    with monkeypatch.context() as m:
        m.setattr(threads._Worker, "join", interrupted_join)
        with pytest.raises(KeyboardInterrupt):
            threads.run_chunks(_slow_second_chunk([None, None], 0.3), 2)
    assert before[0] not in threads._pool
    time.sleep(0.4)                 # the orphaned chunk ends
    for _ in range(3):
        out = [None, None]
        threads.run_chunks(_slow_second_chunk(out, 0.2), 2)
        assert out == [0, 1], "a split returned before its chunks had ended"


def test_run_chunks_from_two_threads_at_once_runs_every_chunk_of_both():
    """A second caller while the pool is busy runs its chunks itself, not after waiting."""
    import threading
    import time
    seen = {"a": [], "b": []}
    started = threading.Event()

    def slow(k):
        started.set()
        time.sleep(0.2)
        seen["a"].append(k)

    other = threading.Thread(target=threads.run_chunks, args=(slow, 2))
    other.start()
    started.wait(5)
    threads.run_chunks(seen["b"].append, 3)           # the pool is busy with "a"
    assert seen["a"] == [], "the second caller waited for the first one's chunks"
    other.join(5)
    assert sorted(seen["a"]) == [0, 1] and seen["b"] == [0, 1, 2]


def test_overrides_nest_and_are_restored_after_an_error():
    start = (tuning.STEP_SPLIT_MIN_MACS, tuning.PRODUCT_SPLIT_MIN_MACS)
    with pytest.raises(RuntimeError, match="inside"):
        with tuning.force_serial():
            assert tuning.STEP_SPLIT_MIN_MACS > 2 ** 60
            with tuning.force_split():
                assert (tuning.STEP_SPLIT_MIN_MACS, tuning.PRODUCT_SPLIT_MIN_MACS) == (0, 0)
            assert tuning.PRODUCT_SPLIT_MIN_MACS > 2 ** 60
            raise RuntimeError("inside")
    assert (tuning.STEP_SPLIT_MIN_MACS, tuning.PRODUCT_SPLIT_MIN_MACS) == start


def test_forced_serial_never_splits():
    with tuning.force_serial():
        assert len(threads.batch_chunks(4096, 2 ** 40)) == 2


@pytest.mark.parametrize("call, error, match", [
    (lambda: tuning.override(PARALLEL_MIN_MACS=0), TypeError, "unknown knob 'PARALLEL_MIN_MACS'"),
    (lambda: tuning.override(POOL_LIMIT_BYTES=-1), ValueError, "non-negative int, got -1"),
    (lambda: tuning.override(STEP_SPLIT_MIN_MACS=0.5), ValueError, "got 0.5"),
])
def test_bad_overrides_say_what_was_expected(call, error, match):
    before = tuning.POOL_LIMIT_BYTES
    with pytest.raises(error, match=match):
        with call():
            pass
    assert tuning.POOL_LIMIT_BYTES == before


_TRAIN = textwrap.dedent("""
    import hashlib, numpy as np, nongate_np as ng
    from nongate_np.kernels.cpu import tuning
    from nongate_np.nn.multitask import MultiTaskSequenceModel
    ng.seed(5)
    tasks = [{"name": "a", "kind": "classification", "num_classes": 3}]
    model = MultiTaskSequenceModel(tasks, vocab_size=20, embed_size=8, hidden_size=40,
                                   attn_size=8, dtype=np.float32, num_layers=2)
    opt = ng.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    with tuning.force_split():
        for _ in range(3):
            x, lengths = rng.integers(1, 20, (6, 9)), rng.integers(1, 10, 6)
            loss, _ = model.loss(model(x, lengths=lengths), {"a": rng.integers(0, 3, 6)})
            opt.zero_grad()
            loss.backward()
            opt.step()
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(np.ascontiguousarray(p.data).tobytes())
    print(ng.get_backend(), digest.hexdigest())
""")


def test_same_seed_same_bits_across_processes_with_split_steps(split_everything):
    runs = [subprocess.run([sys.executable, "-c", _TRAIN], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert runs[0][0] == "numba"
    assert runs[0] == runs[1]


def test_single_threaded_blas_sets_every_openblas_and_restores_it():
    """NumPy's and SciPy's OpenBLAS copies both run on one thread inside the block (their
    idle workers would spin on the cores the step loop splits over), as found before after."""
    import scipy.linalg
    assert scipy.linalg.blas            # loads SciPy's copy too
    controls = threads._every_openblas()
    if not controls:
        pytest.skip("no OpenBLAS found in /proc/self/maps (not Linux, or another BLAS)")
    assert len(controls) >= 2          # NumPy and SciPy each bundle one
    before = [get() for get, _ in controls]
    controls[0][1](2)                  # a count other than 1 to restore
    try:
        expected = [get() for get, _ in controls]
        with threads.single_threaded_blas():
            assert [get() for get, _ in controls] == [1] * len(controls)
            np.ones((64, 64)) @ np.ones((64, 64))
        assert [get() for get, _ in controls] == expected
    finally:
        for (_, set_), n in zip(controls, before):
            set_(n)


def test_single_threaded_blas_scans_the_loaded_libraries_again_only_after_an_import(
        monkeypatch):
    """Reading /proc/self/maps took about 0.7 ms at every block, more than a small encode,
    predict or stream update computes; the copies found are kept until a module is
    imported (NumPy's and SciPy's come with one): the same scan's list comes back."""
    import types
    scan = threads._every_openblas()        # a scan, unless one was made since the last import
    for _ in range(3):
        with threads.single_threaded_blas():
            pass
        assert threads._every_openblas() is scan
    monkeypatch.setitem(sys.modules, "nongate_np_test_new_module", types.ModuleType("new"))
    again = threads._every_openblas()
    assert again is not scan and len(again) == len(scan)
    assert threads._every_openblas() is again


def test_fit_runs_numpy_blas_on_one_thread():
    import nongate_np as ng
    from nongate_np.training import loop
    from nongate_np.training.callbacks import Callback
    controls = threads._every_openblas()
    if not controls:
        pytest.skip("no OpenBLAS found in /proc/self/maps (not Linux, or another BLAS)")
    seen = []

    class BlasThreads(Callback):
        def on_epoch_begin(self, epoch, steps):
            seen.append([get() for get, _ in controls])

    data = ng.data.SequenceDataset(x=np.array([[1, 1, 1], [1, 1, 0]]),
                                   lengths=np.array([3, 2]),
                                   tasks=[{"name": "y", "kind": "classification",
                                           "num_classes": 2}],
                                   targets={"y": np.array([0, 1])})
    model = ng.nn.MultiTaskSequenceModel(data.model_tasks(), vocab_size=2, hidden_size=2,
                                         embed_size=2, attn_size=2)
    before = [get() for get, _ in controls]
    controls[0][1](2)                  # a count other than 1 for fit to change
    try:
        with ng.backend("numba"):
            loop.fit(model, data, data, epochs=1, callbacks=[BlasThreads()])
        assert controls[0][0]() == 2, "fit did not restore the count it found"
    finally:
        for (_, set_), n in zip(controls, before):
            set_(n)
    assert seen and all(n == 1 for n in seen[0])


def _in_fork_child(check) -> int:
    """The exit code of a forked child that runs ``check()`` (0 if it returns True), waiting
    at most 60 s (a hung child is killed and counts as failed)."""
    import os
    import signal
    import time
    pid = os.fork()
    if pid == 0:                                    # the child: never back into pytest
        try:
            code = 0 if check() else 1
        except BaseException:
            code = 2
        os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -1


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork here")
def test_a_fork_child_never_splits_and_its_parent_still_does():
    """The pool's threads are not copied into a fork child (issue 15, report 5: the full
    replay is tests/test_fork.py), so a child runs every kernel serially."""
    assert _in_fork_child(lambda: threads.forked and
                          threads.parallel_chunks(2 ** 40, 0) == 1) == 0
    assert not threads.forked
    assert threads.parallel_chunks(2 ** 40, 0) == threads.parallel_chunks(2 ** 40, 1)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork here")
def test_a_fork_child_gets_back_the_blas_count_a_running_kernel_had_saved(shared_blas):
    """A kernel running on another thread at the fork has set BLAS to one thread; that thread
    does not exist in the child, which gets the saved count back and owns the cores anew."""
    import threading
    if threads.blas_threads() is None:
        pytest.skip("the BLAS thread count cannot be read here")
    get, set_ = threads._blas_thread_control()
    before = get()
    set_(3)                                         # a count other than 1 to give back
    inside, may_leave = threading.Event(), threading.Event()

    @threads.owns_cores
    def kernel():
        inside.set()
        may_leave.wait(10)

    def child() -> bool:
        seen = []
        threads.owns_cores(lambda: seen.append(threads.blas_threads()))()
        return get() == 3 and seen == [1]

    worker = threading.Thread(target=kernel)
    try:
        worker.start()
        inside.wait(10)
        assert threads.blas_threads() == 1
        assert _in_fork_child(child) == 0
    finally:
        may_leave.set()
        worker.join(10)
        assert get() == 3
        set_(before)


_POOLS = textwrap.dedent("""
    import sys, numpy as np, numba
    from numba.np.ufunc import parallel
    from nongate_np.kernels.contract import LSTMParams, LSTMState
    from nongate_np.kernels.cpu import lstm, threads, tuning
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)
    p = LSTMParams(*(rng.standard_normal(s).astype(np.float32) for s in ((16, 3), (16, 4), (16,))),
                   None)
    s0 = LSTMState(np.zeros((6, 4), np.float32), np.zeros((6, 4), np.float32))
    with tuning.force_split():
        y, st, cache = lstm.lstm_forward(x, s0, p, None, False, True)
        lstm.lstm_backward(cache, y, st)
        print("SPLIT", len(threads.batch_chunks(6, 1)) - 1, "NUMBA_POOL", parallel._is_initialized)
        numba.set_num_threads(1)
        print("AFTER_SET", len(threads.batch_chunks(6, 1)) - 1)
""")


def test_the_kernels_never_start_numbas_pool_and_follow_its_thread_count():
    """No OpenMP threads are started (none to spin on a busy machine), and
    ``numba.set_num_threads`` still sets how many threads the kernels split into."""
    import os
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    run = subprocess.run([sys.executable, "-c", _POOLS], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    if "SPLIT 1" in run.stdout:
        pytest.skip("no BLAS thread control here: the kernels run serially")
    assert "SPLIT 2 NUMBA_POOL False" in run.stdout
    assert "AFTER_SET 1" in run.stdout


@pytest.fixture
def openblas_at_two():
    """The first loaded OpenBLAS's (get, set), its thread count set to 2 (restored after)."""
    controls = threads._every_openblas()
    if not controls:
        pytest.skip("no OpenBLAS found in /proc/self/maps (not Linux, or another BLAS)")
    get, set_ = controls[0]
    before = get()
    set_(2)
    yield get, set_
    set_(before)


def test_overlapping_single_threaded_blas_blocks_restore_the_count_once(openblas_at_two):
    """Two predict calls on two threads: the second block saved the first's 1 and, leaving
    last, left NumPy's BLAS on one thread for the rest of the process."""
    get, _ = openblas_at_two
    first, second = threads.single_threaded_blas(), threads.single_threaded_blas()
    first.__enter__()
    second.__enter__()                  # opened while the first holds BLAS at 1
    assert get() == 1
    first.__exit__(None, None, None)
    assert get() == 1                   # the second block is still open
    second.__exit__(None, None, None)
    assert get() == 2


def test_a_kernel_call_and_a_single_threaded_blas_block_share_the_saved_count(openblas_at_two):
    """A kernel on SciPy's BLAS (not the private wheel) and a predict block on another
    thread each saved and restored it: the kernel, ending first, put it back to 2 inside
    the block, and the block, ending last, left it at 1."""
    get, set_ = openblas_at_two
    kernel = threads._ownership.enter(                  # as owns_cores does
        lambda: [(threads._address(set_), get, set_)])
    block = threads.single_threaded_blas()
    block.__enter__()
    threads._ownership.leave(kernel)
    assert get() == 1                   # the block still holds it
    block.__exit__(None, None, None)
    assert get() == 2
