"""The kernels' buffer pool: a buffer is reused only once no array or view uses it."""

import gc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nongate_np.kernels.contract import LSTMParams, LSTMState
from nongate_np.kernels.cpu import tuning, workspace


@pytest.fixture(autouse=True)
def empty_pool():
    gc.collect()            # arrays of earlier tests return now, not during this test
    workspace.release()
    yield
    workspace.release()


def _address(a):
    return a.__array_interface__["data"][0]


def test_a_freed_array_is_reused_for_the_same_size():
    big = (256, 1024)                                   # 1 MiB of float32
    a = workspace.empty(big, np.float32)
    where = _address(a)
    del a
    gc.collect()
    assert workspace.kept_bytes() == 256 * 1024 * 4
    b = workspace.empty((1024, 256), np.float32)        # same bytes, another shape
    assert _address(b) == where and b.shape == (1024, 256) and b.flags.c_contiguous
    assert b.flags.writeable and workspace.kept_bytes() == 0


def test_a_view_keeps_the_buffer_out_of_the_pool():
    a = workspace.empty((512, 512), np.float64)
    a[...] = 7.0
    views = (a[1:], a.T, a.reshape(-1)[::3])
    del a
    gc.collect()
    assert workspace.kept_bytes() == 0                  # the views still use it
    b = workspace.empty((512, 512), np.float64)
    b[...] = -1.0
    assert all(np.all(v == 7.0) for v in views)         # not handed out twice
    del views
    gc.collect()
    assert workspace.kept_bytes() == 512 * 512 * 8


def test_ascontiguous_copies_into_a_pooled_buffer_only_when_it_must():
    h = np.random.default_rng(0).standard_normal((32, 100, 64))     # 1.6 MB of float64
    assert workspace.ascontiguous(h, np.float64) is h                # nothing to copy
    for view, dtype in ((h.transpose(1, 0, 2), np.float64), (h, np.float32)):
        workspace.release()
        first = workspace.ascontiguous(view, dtype)
        np.testing.assert_array_equal(first, np.ascontiguousarray(view, dtype))
        assert first.flags.c_contiguous and first.dtype == dtype
        where, nbytes = _address(first), first.nbytes
        del first
        gc.collect()
        assert workspace.kept_bytes() == workspace.size_class(nbytes)   # back in the pool
        again = workspace.ascontiguous(view, dtype)                   # the same buffer
        assert _address(again) == where and workspace.kept_bytes() == 0
        np.testing.assert_array_equal(again, np.ascontiguousarray(view, dtype))
        del again
        gc.collect()


def _pooled(a):
    """Whether ``a`` views a buffer of the pool (NumPy keeps the pool's memoryview as the
    root base; an array NumPy allocated has none)."""
    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(a, memoryview)


def test_the_kernels_copies_of_transposed_inputs_come_from_the_pool():
    """The per-step copies that faulted their pages in (KERNEL_NOTES, "Workspace: pooled
    buffers"): attention's copy of a (B, T, D) view it cannot read in place (every other
    step of a longer array; the LSTM's time-major output it reads where it lies), and the
    LSTM backward's (T, B, H) view of a gradient."""
    from nongate_np.kernels.contract import AttentionParams
    from nongate_np.kernels.cpu import attention, lstm
    rng = np.random.default_rng(0)
    T, B, I, H, A = 50, 16, 8, 64, 32                # (T, B, H) float64: 400 KiB, pooled
    y = rng.standard_normal((T, B, H))
    params = AttentionParams(w_proj=rng.standard_normal((A, H)), b_proj=np.zeros(A),
                             query=rng.standard_normal((1, A)))
    _, _, cache = attention.attention_forward(y.transpose(1, 0, 2), params, "additive", None,
                                              True)
    assert np.shares_memory(cache.h2, y) and not _pooled(cache.h2)     # read in place
    every_other = rng.standard_normal((B, 2 * T, H))[:, ::2]
    _, _, cache = attention.attention_forward(every_other, params, "additive", None, True)
    assert _pooled(cache.h2)
    del cache

    x = rng.standard_normal((T, B, I))
    params = LSTMParams(rng.standard_normal((4 * H, I)), rng.standard_normal((4 * H, H)),
                        np.zeros(4 * H))
    state = LSTMState(np.zeros((B, H)), np.zeros((B, H)))
    y, _, cache = lstm.lstm_forward(x, state, params, None, False, True)
    dy = rng.standard_normal((B, T, H))
    kept = []
    for grad in (np.ascontiguousarray(dy.transpose(1, 0, 2)), dy.transpose(1, 0, 2)):
        gc.collect()
        workspace.release()
        lstm.lstm_backward(cache, grad, state)
        gc.collect()
        kept.append(workspace.kept_bytes())
    assert kept[1] - kept[0] == workspace.size_class(dy.nbytes)   # the view's copy went back too


def test_small_arrays_and_every_dtype_and_shape_form():
    small = workspace.empty((3, 4), np.float32)
    assert small.shape == (3, 4) and small.dtype == np.float32
    del small
    gc.collect()
    assert workspace.kept_bytes() == 0                  # below POOL_MIN_BYTES: not pooled
    for shape in (tuning.POOL_MIN_BYTES // 8, (tuning.POOL_MIN_BYTES // 8,), [2, 4, 8192]):
        a = workspace.empty(shape, "float64")
        assert a.dtype == np.float64 and a.size == np.prod(shape)


def test_pooled_arrays_and_small_ones_asked_for_start_on_a_cache_line():
    """The step loops' threads split rows at multiples of 16 float32: each chunk must start
    a cache line, whatever offset the allocator returned."""
    for _ in range(4):
        big = [workspace.empty((k, 1000), np.float32) for k in (300, 301, 303)]
        small = [workspace.empty((k, 3), np.float64, align=True) for k in (1, 2, 5, 7)]
        assert all(_address(a) % workspace.ALIGN == 0 for a in big + small)
        assert all(a.flags.c_contiguous and a.flags.writeable for a in big + small)
        del big
        gc.collect()                                    # the next round reuses the buffers


@pytest.mark.parametrize("align", [False, True])
def test_arrays_from_one_block_are_separate_aligned_and_keep_their_block(align):
    """empty_many's arrays have the shapes asked for, start on a cache line when aligned,
    never overlap (a write to one leaves the others as they were), and outlive the name
    of the block they were carved from; sizes that fill no whole line and empty shapes
    included, and a block large enough to come from the pool."""
    shapes = [(2, 3, 5), (7,), (0, 4), (1, 1), (tuning.POOL_MIN_BYTES // 8,)]
    arrays = workspace.empty_many(shapes, np.float64, align)
    assert [a.shape for a in arrays] == shapes
    assert all(a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable
               for a in arrays)
    if align:
        assert all(_address(a) % workspace.ALIGN == 0 for a in arrays if a.size)
    for k, a in enumerate(arrays):
        a[...] = k
    gc.collect()
    for k, a in enumerate(arrays):
        assert np.all(a == k), f"array {k} was overwritten by another"


@pytest.mark.parametrize("groups", [
    [[(4, 64), (2, 4, 64)], [(4, 64), (2, 4, 64)]],          # S3's two chunks, in part
    [[(3, 5)], [(0, 7), (1,)], [(700, 3)]],                    # odd sizes, an empty one
    [[(tuning.POOL_MIN_BYTES // 8,)], [(2,)]],                 # a block from the pool
])
def test_groups_apart_lie_in_pages_of_their_own(groups):
    """empty_apart gives each group the arrays empty_many would (shapes, cache-line
    starts, no overlap), and no page holds arrays of two groups."""
    out = workspace.empty_apart(groups, np.float32)
    assert [[a.shape for a in g] for g in out] == groups
    pages = []
    for g in out:
        assert all(a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
                   for a in g)
        assert all(_address(a) % workspace.ALIGN == 0 for a in g if a.size)
        spans = [(_address(a), _address(a) + a.nbytes) for a in g if a.size]
        pages.append({p for lo, hi in spans
                      for p in range(lo // workspace.PAGE, (hi - 1) // workspace.PAGE + 1)})
    for i in range(len(pages)):
        for j in range(i + 1, len(pages)):
            assert not pages[i] & pages[j], f"groups {i} and {j} share a page"
    for k, a in enumerate(a for g in out for a in g):
        a[...] = k
    gc.collect()
    for k, a in enumerate(a for g in out for a in g):
        assert np.all(a == k), f"array {k} was overwritten by another"


@given(st.integers(1, 1 << 40))
def test_a_size_class_wastes_at_most_a_quarter(nbytes):
    size = workspace.size_class(nbytes)
    assert nbytes <= size <= nbytes * 1.25
    top = 1 << (size.bit_length() - 1)
    assert size % (top // 4 or 1) == 0                  # 2^k times 1, 1.25, 1.5 or 1.75
    assert workspace.size_class(size) == size


def test_varying_shapes_reuse_buffers_of_their_class():
    """A service's requests of ever new shapes: each array takes a free buffer of its size
    class, so the pool holds one buffer per class used, not one per shape."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(1 << 20, 2 << 20, 200)         # 1 to 2 MiB, 200 different sizes
    for n in sizes:
        a = workspace.empty(int(n), np.uint8)
        a[-1] = 1                                       # the array's own bytes are usable
        del a                   # freed by its count: no gc.collect (200 of them took minutes)
    classes = {workspace.size_class(int(n)) for n in sizes}
    assert len(classes) <= 5 and workspace.kept_bytes() == sum(classes)


def test_set_limit_trims_the_pool_and_rejects_a_bad_value():
    m = tuning.POOL_MIN_BYTES
    saved = workspace.limit()
    try:
        arrays = [workspace.empty(m, np.uint8) for _ in range(4)]
        del arrays
        gc.collect()
        assert workspace.kept_bytes() == 4 * m
        workspace.set_limit(2 * m)
        assert workspace.limit() == 2 * m and workspace.kept_bytes() == 2 * m
        workspace.set_limit(0)
        assert workspace.kept_bytes() == 0
        for bad in (-1, 1.5, "64M", True):
            with pytest.raises(ValueError, match="expected a non-negative number of bytes"):
                workspace.set_limit(bad)
        assert workspace.limit() == 0
    finally:
        workspace.set_limit(saved)


@pytest.mark.parametrize("text, expected", [("", 1 << 29), ("65536", 65536), ("256M", 256 << 20),
                                            ("1g", 1 << 30), ("64 KiB", 64 << 10),
                                            ("0", 0)])
def test_the_limit_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv("NONGATE_NP_WORKSPACE_LIMIT", text)
    assert tuning._bytes_from_environment("NONGATE_NP_WORKSPACE_LIMIT", 1 << 29) == expected


@pytest.mark.parametrize("text", ["abc", "-5", "1.5G", "12 T"])
def test_a_bad_limit_in_the_environment_names_the_variable(monkeypatch, text):
    monkeypatch.setenv("NONGATE_NP_WORKSPACE_LIMIT", text)
    with pytest.raises(ValueError, match=r"NONGATE_NP_WORKSPACE_LIMIT: expected a number of "
                                         r"bytes such as 268435456 or 256M, got"):
        tuning._bytes_from_environment("NONGATE_NP_WORKSPACE_LIMIT", 1 << 29)


def test_the_pool_keeps_at_most_its_limit():
    m = tuning.POOL_MIN_BYTES
    with tuning.override(POOL_LIMIT_BYTES=3 * m):
        arrays = [workspace.empty(m, np.uint8) for _ in range(5)]
        del arrays
        gc.collect()
        assert workspace.kept_bytes() == 3 * m
    workspace.release()
    assert workspace.kept_bytes() == 0


def test_the_buffers_freed_longest_ago_go_first():
    m = tuning.POOL_MIN_BYTES
    with tuning.override(POOL_LIMIT_BYTES=4 * m):
        old = workspace.empty(2 * m, np.uint8)
        del old
        gc.collect()
        new = [workspace.empty(m, np.uint8) for _ in range(3)]
        del new
        gc.collect()                                    # 2m + 3m > 4m: the 2m one goes
        assert workspace.kept_bytes() == 3 * m
        again = workspace.empty(2 * m, np.uint8)        # a new buffer: nothing taken
        assert workspace.kept_bytes() == 3 * m
        small = workspace.empty(m, np.uint8)            # from the pool
        assert workspace.kept_bytes() == 2 * m
        del again, small
    workspace.release()
    assert workspace.kept_bytes() == 0


def test_kernel_results_survive_later_calls():
    """The LSTM cache and outputs stay intact while later calls reuse the pool."""
    from nongate_np.kernels.cpu import lstm
    rng = np.random.default_rng(0)
    T, B, I, H = 20, 16, 32, 64                       # the cache arrays are pooled
    x, h0, c0, *weights = [rng.standard_normal(s) for s in (
        (T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (4 * H,))]

    def forward(shift):
        return lstm.lstm_forward(x + shift, LSTMState(h0 + shift, c0 + shift),
                                 LSTMParams(*(w + shift for w in weights)), None, False, True)
    y1, _, cache1 = forward(0.0)
    y_copy, gates_copy = y1.copy(), cache1.gates.copy()
    for _ in range(3):                                 # other inputs, fresh results
        out = forward(1.0)
        del out
        gc.collect()
    np.testing.assert_array_equal(y1, y_copy)
    np.testing.assert_array_equal(cache1.gates, gates_copy)


def test_threads_never_share_a_buffer():
    """Python threads allocating and dropping pooled arrays at once: each array keeps the
    values its thread wrote (a buffer handed out twice would be overwritten)."""
    import threading
    errors = []

    def work(tag):
        for _ in range(200):
            a = workspace.empty(tuning.POOL_MIN_BYTES // 8, np.float64)
            a.fill(tag)
            b = workspace.empty(tuning.POOL_MIN_BYTES // 8, np.float64)
            b.fill(-tag)
            if not (np.all(a == tag) and np.all(b == -tag)):
                errors.append(tag)
            del a, b

    workers = [threading.Thread(target=work, args=(k + 1,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
