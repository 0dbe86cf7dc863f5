"""Anomaly mode (issue 15): ``detect_anomaly`` raises at the first op whose forward output or
gradient holds a NaN or an inf, naming the op, the output or the input, and the line of this
file that called the op; off, nothing is checked or recorded."""

import doctest
import inspect
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import anomaly, autograd
from nongate_np.nn.multitask import MultiTaskSequenceModel

BACKENDS = ["numpy", "numba"]


def here(offset: int = 1) -> str:
    """``"this file:line"`` of the caller's line plus ``offset``."""
    frame = inspect.currentframe().f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno + offset}"


@pytest.fixture(autouse=True)
def numpy_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_forward_nan_names_the_op_output_and_line():
    x = ng.tensor([2.0, -1.0, 3.0], requires_grad=True)
    with ng.detect_anomaly(), pytest.raises(ng.AnomalyError) as info:
        site = here()
        ng.log(x)
    err = info.value
    assert isinstance(err, RuntimeError)
    assert (err.op, err.phase, err.index) == ("Log", "forward", 0)
    assert err.site.startswith(site + " ")
    message = str(err)
    assert "forward output 0 of 'Log'" in message and site in message
    assert "NaN (1 of 3 elements, the first at index (1,))" in message
    assert "from finite inputs" in message


def test_gradient_inf_names_the_op_input_and_line():
    """d sqrt(x)/dx = 1/(2 sqrt x) is inf at 0, from a finite forward (0 and 2)."""
    x = ng.tensor([0.0, 4.0], requires_grad=True)
    with ng.detect_anomaly():
        site = here()
        y = x ** 0.5
        np.testing.assert_array_equal(y.data, [0.0, 2.0])
        with pytest.raises(ng.AnomalyError) as info:
            y.sum().backward()
    err = info.value
    assert (err.op, err.phase, err.index) == ("Pow", "backward", 0)
    assert site in str(err)
    assert "gradient of 'Pow' with respect to its input 0 'a' holds inf (1 of 2 elements, " \
           "the first at index (0,))" in str(err)


def test_a_non_finite_value_from_outside_is_reported_at_the_first_op_it_reaches():
    x = ng.tensor([np.inf, 1.0], requires_grad=True)       # the user's data, not an op's
    with ng.detect_anomaly(), pytest.raises(ng.AnomalyError) as info:
        site = here()
        ng.exp(x) * 2.0
    assert info.value.op == "Exp" and site in str(info.value)
    assert "did not start there: input 0 'x' held inf" in str(info.value)


def test_a_bad_seed_gradient_is_reported_before_any_backward():
    x = ng.tensor([1.0, 2.0], requires_grad=True)
    with ng.detect_anomaly():
        y = ng.tanh(x)
        with pytest.raises(ng.AnomalyError, match="gradient reaching output 0 of 'Tanh' "
                                                  "holds NaN"):
            y.backward(np.array([1.0, np.nan]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_fused_lstm_is_checked_forward(backend):
    lstm = ng.nn.LSTM(2, 3, dtype=np.float64)
    x = np.ones((4, 2, 2))
    x[1, 0, 1] = np.nan
    with ng.backend(backend), ng.detect_anomaly(), pytest.raises(ng.AnomalyError) as info:
        site = here()
        lstm(x)
    assert info.value.op == "LSTMLayer" and info.value.phase == "forward"
    assert site in str(info.value) and "input 0 'x' held NaN" in str(info.value)
    assert f"{site} (in test_the_fused_lstm_is_checked_forward), via " \
           f"{os.path.join('nongate_np', 'nn', 'lstm.py')}:" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_fused_lstm_and_attention_are_checked_backward(backend):
    """An upstream gradient of 1e308 per element is finite; the weight gradients sum
    several such terms and overflow to inf inside the fused backward."""
    ng.seed(0)
    lstm = ng.nn.LSTM(2, 3, dtype=np.float64)
    pool = ng.nn.AttentionPooling(3, 2, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 2))
    h = ng.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
    with ng.backend(backend), ng.detect_anomaly():
        y, _ = lstm(x)
        with pytest.raises(ng.AnomalyError) as info:
            y.backward(np.full(y.shape, 1e308))
        assert (info.value.op, info.value.phase) == ("LSTMLayer", "backward")
        pooled, _ = pool(h)
        with pytest.raises(ng.AnomalyError) as info:
            pooled.backward(np.full(pooled.shape, 1e308))
        assert (info.value.op, info.value.phase) == ("AttentionPool", "backward")


def test_finite_training_is_unchanged_and_raises_nothing():
    """A masked multi-task step (lengths, padding, cross-entropy's ignored rows) in anomaly
    mode: no false alarm, and the same bits as without it."""
    tasks = [{"name": "c", "kind": "classification", "num_classes": 3},
             {"name": "t", "kind": "tagging", "num_classes": 2}]
    x, lengths = np.array([[1, 2, 3, 0], [4, 5, 0, 0]]), np.array([3, 2])
    targets = {"c": np.array([0, 2]), "t": np.array([[0, 1, 1, 0], [1, 0, 0, 0]])}
    grads = []
    for mode in (False, True):
        ng.seed(3)
        model = MultiTaskSequenceModel(tasks, vocab_size=6, embed_size=4, hidden_size=5,
                                       attn_size=3, dtype=np.float64)
        with ng.detect_anomaly() if mode else warnings.catch_warnings():
            loss, _ = model.loss(model(x, lengths=lengths), targets)
            loss.backward()
        grads.append([p.grad for p in model.parameters()])
    for off, on in zip(*grads):
        np.testing.assert_array_equal(off, on)


def test_off_by_default_checks_and_records_nothing():
    """Off, no function of anomaly.py runs (seen by a profiler) and no site is recorded."""
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == anomaly.__file__:
            calls.append(frame.f_code.co_name)

    x = ng.tensor([1.0, -1.0], requires_grad=True)
    sys.setprofile(profile)
    try:
        with np.errstate(invalid="ignore"):
            y = ng.log(x)
        y.sum().backward()
    finally:
        sys.setprofile(None)
    assert calls == []
    assert np.isnan(y.data[1]) and y._node.site is None
    np.testing.assert_array_equal(x.grad, [1.0, -1.0])


def test_nested_blocks_restore_the_mode_also_after_an_error():
    x = ng.tensor([-1.0])
    assert not anomaly.is_anomaly_enabled()
    with ng.detect_anomaly():
        with ng.detect_anomaly(check_nan=False), np.errstate(invalid="ignore"):
            assert np.isnan(ng.log(x).data[0])          # recorded, not checked
        with pytest.raises(ng.AnomalyError):
            ng.log(x)
        with pytest.raises(KeyError), ng.detect_anomaly(check_nan=False):
            raise KeyError("an error inside the inner block")
        assert anomaly.state.check_nan
        with pytest.raises(ng.AnomalyError):
            ng.log(x)
    assert not anomaly.is_anomaly_enabled()


def test_one_object_nests_and_decorates():
    mode = ng.detect_anomaly()
    with mode:
        with mode:
            assert anomaly.is_anomaly_enabled()
        assert anomaly.is_anomaly_enabled()
    assert not anomaly.is_anomaly_enabled()

    @ng.detect_anomaly()
    def f(x):
        return ng.log(x)

    with pytest.raises(ng.AnomalyError, match="'Log'"):
        f(ng.tensor([-1.0]))
    assert not anomaly.is_anomaly_enabled()


def test_the_mode_is_per_thread():
    seen = []
    with ng.detect_anomaly():
        thread = threading.Thread(target=lambda: seen.append(anomaly.is_anomaly_enabled()))
        thread.start()
        thread.join()
        assert anomaly.is_anomaly_enabled()
    assert seen == [False]


def test_one_object_shared_by_threads_restores_each_threads_mode():
    """Thread A enters, B enters, A leaves, B leaves: each gets back its own mode."""
    mode = ng.detect_anomaly()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    def a():
        with mode:
            a_in.set()
            b_in.wait(10)
        after["a"] = anomaly.is_anomaly_enabled()
        a_out.set()

    def b():
        a_in.wait(10)
        with ng.detect_anomaly(check_nan=False):     # B's own outer mode
            with mode:
                b_in.set()
                a_out.wait(10)
            after["b"] = (anomaly.is_anomaly_enabled(), anomaly.state.check_nan)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert after == {"a": False, "b": (True, False)}


def test_check_nan_false_records_where_a_failing_backward_was_called():
    class Broken(ng.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, dy):
            raise ValueError("broken backward")

    x = ng.tensor([1.0], requires_grad=True)
    with ng.detect_anomaly(check_nan=False):
        site = here()
        y = Broken.apply(x)
        assert y._node.site.startswith(site + " ")
        with pytest.raises(ValueError, match="broken backward") as info:
            y.sum().backward()
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:                   # Python 3.11+
        assert any("'Broken'" in n and site in n for n in notes)


def test_an_op_created_outside_the_block_says_so():
    x = ng.tensor([0.0], requires_grad=True)
    y = (x ** 0.5).sum()
    with ng.detect_anomaly(), pytest.raises(ng.AnomalyError, match="created outside "
                                            "detect_anomaly"):
        y.backward()


def test_bad_check_nan_says_what_was_expected():
    with pytest.raises(TypeError, match="check_nan must be a bool, got str 'yes'"):
        ng.detect_anomaly("yes")


def test_the_docstring_example_runs():
    (test,) = doctest.DocTestFinder(recurse=False).find(ng.detect_anomaly, globs={})
    assert doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test).failed == 0


def test_exported():
    assert "detect_anomaly" in ng.__all__ and "AnomalyError" in ng.__all__
    assert autograd.Node.__slots__[-1] == "site"


def test_gpu_arrays_are_checked_too():
    pytest.importorskip("numba.cuda")
    from nongate_np.kernels import gpu
    if not gpu.probe().usable:
        pytest.skip(gpu.probe().reason)
    x = ng.tensor([2.0, -1.0], requires_grad=True, device="cuda")
    # NOTE: the CUDA simulator runs kernels on Python threads, which the block's np.errstate
    # does not reach: NumPy warns there for inf and NaN, as a real GPU never does
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with ng.detect_anomaly(), pytest.raises(ng.AnomalyError) as info:
            site = here()
            ng.log(x)
        assert "forward output 0 of 'Log' holds NaN (1 of 2 elements, the first at index " \
               "(1,))" in str(info.value) and site in str(info.value)
        x = ng.tensor([0.0, 4.0], requires_grad=True, device="cuda")
        with ng.detect_anomaly():
            y = (x ** 0.5).sum()
            with pytest.raises(ng.AnomalyError, match="gradient of 'Pow' with respect to its "
                                                      "input 0 'a' holds inf"):
                y.backward()
