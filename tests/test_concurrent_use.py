"""One model in a threaded application (a web server's request threads, a thread pool): the
threads share the model for ``encode``, ``predict``, an ``nn.LSTM`` under ``no_grad`` and a
``stream()`` each, released together by a barrier, and every call gives the bits of the
same call made alone; a thread's modes stay its own; a thread training another model, or
this one, changes nothing the others compute, and they change nothing it computes.

Every join has a timeout (a hang fails, it does not block), and every thread's error is
raised in the test. No timing is asserted."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import nn
from nongate_np.anomaly import is_anomaly_enabled
from nongate_np.data import SequenceDataset
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import Callback, fit, predict

pytest.importorskip("numba")
from nongate_np.kernels.cpu import threads, tuning  # noqa: E402  (after the importorskip)

pytestmark = pytest.mark.filterwarnings("error")     # a warning on any thread fails

TASKS = [{"name": "c", "kind": "classification", "num_classes": 3},
         {"name": "r", "kind": "regression", "output_size": 2},
         {"name": "t", "kind": "tagging", "num_classes": 4}]
JOIN_SECONDS = 120          # generous: a 2-core CI machine running other jobs beside


def together(*work, timeout=JOIN_SECONDS):
    """Run each callable on a thread of its own, all released at once by a barrier; their
    results in order. The first error of any thread is raised here; a thread still running
    after ``timeout`` fails the test (a hang); a thread left behind, other than the kernels'
    own pool (at most one thread fewer than the split), fails it too."""
    before = set(threading.enumerate())
    barrier = threading.Barrier(len(work))
    results, errors = [None] * len(work), []

    def run(k):
        try:
            barrier.wait(timeout)
            results[k] = work[k]()
        except BaseException as e:      # raised in the test below
            errors.append(e)
    workers = [threading.Thread(target=run, args=(k,), name=f"request-{k}")
               for k in range(len(work))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout)
    assert not any(w.is_alive() for w in workers), "a thread hung"
    if errors:
        raise errors[0]
    after = set(threading.enumerate())
    assert not after - before - _pool(after), after - before
    assert len(_pool(after)) <= max(len(_pool(before)), threads.num_threads() - 1)
    return results


def _pool(running):
    return {t for t in running if t.name.startswith("nongate_np-kernel-")}


def build(dtype, input_size, hidden_size, embed_size=32, seed=0):
    """The shared model, two layers with dropout between them (drawn in training mode, off
    in eval mode), and a bidirectional two-layer nn.LSTM with a projection beside it, in
    eval mode."""
    ng.seed(seed)
    model = MultiTaskSequenceModel(TASKS, input_size=input_size, embed_size=embed_size,
                                   hidden_size=hidden_size, num_layers=2, attn_size=16,
                                   dropout=0.3, dtype=dtype)
    lstm = nn.LSTM(input_size, hidden_size, num_layers=2, batch_first=True, dropout=0.3,
                   bidirectional=True, proj_size=hidden_size // 2, dtype=dtype).eval()
    return model, lstm


def request(B, T, input_size, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    return rng.standard_normal((B, T, input_size)), lengths


def serve(model, lstm, x, lengths):
    """What a request thread computes: encode, predict, an nn.LSTM under no_grad, and a
    stream of its own fed in three chunks."""
    got = {"encode": model.encode(x, lengths=lengths)}
    p = predict(model, x, lengths, attention=True)
    got.update(probabilities=p["probabilities"]["c"], regression=p["r"], tags=p["t"],
               attention=p["attention"]["c"])
    with ng.no_grad():
        y, (h, c) = lstm(ng.tensor(x.astype(lstm.dtype)), lengths=lengths)
    got.update(lstm=y.numpy(), h=h.numpy(), c=c.numpy())
    stream, T = model.stream(batch_size=len(x)), x.shape[1]
    step = -(-T // 3)
    for start in range(0, T, step):
        got["stream"] = stream.update(x[:, start:start + step],
                                      lengths=np.clip(lengths - start, 0, step))
    return got


def assert_same(got, want, who):
    for name in want:
        assert np.array_equal(got[name], want[name]), f"{who}: {name}"


SIZES = {
    # (B, T, input, hidden, embed, iterations)
    "tiny": (1, 5, 8, 8, 8, 20),
    # the step loops split their rows over the kernels' threads at the default thresholds
    "split": (32, 100, 128, 128, 32, 3),
    # an input layer whose product NumPy's BLAS rounds differently on one thread
    "wide input": (4, 25, 1000, 16, 100, 5),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("size", [*SIZES, "tiny, forced split"])
def test_threads_sharing_a_model_get_the_bits_of_serial_calls(size, dtype):
    B, T, inputs, hidden, embed, iterations = SIZES[size.split(",")[0]]
    model, lstm = build(dtype, inputs, hidden, embed)
    requests = [request(B, T, inputs, seed) for seed in range(4)]
    if size == "split" and threads.parallel_chunks(1, 0) > 1:
        assert len(threads.batch_chunks(B, T * B * hidden * 4 * hidden)) > 2

    def check():
        want = [serve(model, lstm, *r) for r in requests]

        def thread(k):
            return lambda: [assert_same(serve(model, lstm, *requests[k]), want[k],
                                        f"thread {k}, iteration {i}")
                            for i in range(iterations)]
        together(*(thread(k) for k in range(len(requests))))
    if size.endswith("forced split"):
        with tuning.force_split():
            check()
    else:
        check()
    assert model.training and lstm.training is False      # nothing switched


def test_each_threads_modes_stay_its_own():
    """Threads inside detect_anomaly, enable_grad, no_grad, evaluating() and the NumPy
    backend beside plain ones: each gets its own serial results, and the main thread's
    modes are as they were."""
    model, lstm = build(np.float32, 8, 8, 8)
    x, lengths = request(3, 6, 8, 0)
    want = serve(model, lstm, x, lengths)
    with ng.backend("numpy"):
        want_numpy = serve(model, lstm, x, lengths)

    def inside(block, expected):
        def run():
            for _ in range(10):
                with block():
                    assert_same(serve(model, lstm, x, lengths), expected, block.__name__)
        return run
    together(inside(ng.detect_anomaly, want), inside(ng.enable_grad, want),
             inside(ng.no_grad, want), inside(nn.evaluating, want),
             inside(lambda: ng.backend("numpy"), want_numpy))
    assert ng.is_grad_enabled() and not is_anomaly_enabled()
    assert ng.get_backend() == "numba" and model.training


def dataset(input_size, n=48, T=9, seed=5):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, n)
    x = rng.standard_normal((n, T, input_size))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS],
                           targets={"c": rng.integers(0, 3, n), "r": rng.normal(size=(n, 2)),
                                    "t": rng.integers(0, 4, (n, T))})


def trained(model, data, callbacks=()):
    """The model's weights after a short fit (its dropout draws masks at every step)."""
    fit(model, data, data, epochs=2, batch_size=16, seed=0, callbacks=callbacks)
    return model.state_dict()


def manual_training(dtype):
    """A hand-written loop on an LSTM with dropout, seeded with ng.seed: its weights."""
    ng.seed(11)
    lstm = nn.LSTM(8, 8, num_layers=2, batch_first=True, dropout=0.4, dtype=dtype)
    head = nn.Linear(8, 1, dtype=dtype)
    opt = ng.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 10, 8)).astype(dtype), rng.standard_normal((16, 1))
    for _ in range(4):
        opt.zero_grad()
        out, _ = lstm(ng.tensor(x))
        ng.mse_loss(head(out[:, -1]), ng.tensor(y.astype(dtype))).backward()
        opt.step()
    return lstm.state_dict()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_training_beside_serving_changes_neither(dtype):
    """A thread fitting one model, and a thread training another by hand, while two threads
    serve a third: every thread's results are those of its calls made alone."""
    served, lstm = build(dtype, 8, 8, 8)
    requests = [request(4, 7, 8, seed) for seed in range(2)]
    want = [serve(served, lstm, *r) for r in requests]
    data = dataset(8)
    want_fit = trained(build(dtype, 8, 8, 8, seed=3)[0], data)
    want_manual = manual_training(dtype)

    def serving(k):
        return lambda: [assert_same(serve(served, lstm, *requests[k]), want[k], f"thread {k}")
                        for _ in range(8)]
    model = build(dtype, 8, 8, 8, seed=3)[0]        # built here: building draws from ng.seed's
    fitted, manual, *_ = together(lambda: trained(model, data), lambda: manual_training(dtype),
                                  serving(0), serving(1))
    assert_same(fitted, want_fit, "fit")
    assert_same(manual, want_manual, "manual loop")


def test_serving_a_model_while_another_thread_fits_it():
    """The serving threads draw nothing and change nothing: the fit ends with the weights
    of a fit alone, and it ends in training mode, as fit leaves it."""
    data = dataset(8)
    want = trained(build(np.float64, 8, 8, 8, seed=3)[0], data)
    model, lstm = build(np.float64, 8, 8, 8, seed=3)
    x, lengths = request(4, 7, 8, 0)

    def serving():
        for _ in range(10):
            got = serve(model, lstm, x, lengths)
            assert np.isfinite(got["encode"]).all() and np.isfinite(got["stream"]).all()
    fitted, *_ = together(lambda: trained(model, data), serving, serving)
    assert_same(fitted, want, "fit")
    assert model.training


class Pause(Callback):
    """At the start of each epoch, hands over to another thread and waits until it is done."""

    def __init__(self):
        self.go, self.done = threading.Event(), threading.Event()

    def on_epoch_begin(self, epoch, steps):
        self.done.clear()
        self.go.set()
        assert self.done.wait(JOIN_SECONDS)


def test_fits_dropout_masks_are_its_own_whatever_other_threads_draw():
    """fit drew its dropout masks from the library's one generator, which it reseeded at
    every epoch: another thread drawing from it (a model built, ng.randn) or reseeding it
    meanwhile changed the masks, so two fits running at once, or a fit beside a thread that
    builds models, gave other weights than the same fit alone; and the fit reseeded the
    generator under the other thread's own seeded draws. Each fit now draws from a
    generator of its own (``rng.generator()`` in the fitting thread), seeded as before."""
    data = dataset(8)
    want = trained(build(np.float64, 8, 8, 8, seed=3)[0], data)
    ng.seed(7)
    seven = [ng.randn(3).numpy() for _ in range(2)]      # the other thread's stream
    model = build(np.float64, 8, 8, 8, seed=3)[0]
    pause = Pause()

    def other():
        """At each epoch's start: a draw from its own seeded stream, then a model built
        and the generator reseeded; a last draw while the fit runs on."""
        ng.seed(7)
        draws = []
        for _ in range(2):
            assert pause.go.wait(JOIN_SECONDS)
            pause.go.clear()
            draws.append(ng.randn(3).numpy())
            build(np.float64, 8, 8, 8, seed=9)
            ng.seed(7)
            ng.randn(3)
            pause.done.set()
        return draws + [ng.randn(3).numpy()]
    fitted, draws = together(lambda: trained(model, data, [pause]), other)
    assert_same(fitted, want, "fit")
    for got, expected in zip(draws, seven + seven[1:]):     # fit reseeded nothing
        np.testing.assert_array_equal(got, expected)

    # two fits at once, on two models (built first: building draws from ng.seed's
    # generator), each with the weights of the fit alone
    models = [build(np.float64, 8, 8, 8, seed=3)[0] for _ in range(2)]
    first, second = together(*(lambda m=m: trained(m, data) for m in models))
    assert_same(first, want, "first fit")
    assert_same(second, want, "second fit")


def test_encode_and_stream_beside_a_thread_inside_predict():
    """predict (and evaluate, fit) put NumPy's BLAS, which the products outside the fused
    kernels call, on one thread while they run, process-wide; encode and stream did not, so
    a product that BLAS rounds differently on one thread (a wide input layer here) gave
    encode and stream other bits while another thread was inside predict than alone. Both
    now hold it on one thread too, as predict does."""
    model, lstm = build(np.float64, 1000, 16, 100)
    x, lengths = request(4, 25, 1000, 0)
    alone = model.encode(x, lengths=lengths), model.stream(4).update(x, lengths=lengths)
    inside, leave = threading.Event(), threading.Event()

    def predicting():           # what predict holds while it runs
        with threads.single_threaded_blas():
            inside.set()
            assert leave.wait(JOIN_SECONDS)
    other = threading.Thread(target=predicting)
    other.start()
    try:
        assert inside.wait(JOIN_SECONDS)
        beside = model.encode(x, lengths=lengths), model.stream(4).update(x, lengths=lengths)
    finally:
        leave.set()
        other.join(JOIN_SECONDS)
    np.testing.assert_array_equal(beside[0], alone[0])
    np.testing.assert_array_equal(beside[1], alone[1])


_PER_THREAD_COUNT = """
import concurrent.futures, threading, numba, numpy as np, nongate_np as ng
from nongate_np.kernels.cpu import threads
from nongate_np.nn import MultiTaskSequenceModel
ng.seed(0)
model = MultiTaskSequenceModel([{"name": "c", "kind": "classification", "num_classes": 3}],
                               input_size=64, hidden_size=64, dtype=np.float32)
x = np.random.default_rng(0).standard_normal((32, 60, 64))
print("SPLITS", threads.parallel_chunks(1, 0))
default = model.encode(x)
numba.set_num_threads(1)                # in the main thread only: Numba's rule
alone = model.encode(x)

def request():
    return threads.num_threads(), model.encode(x)
with concurrent.futures.ThreadPoolExecutor(2) as plain:
    count, got = plain.submit(request).result(60)
print("PLAIN", count, np.array_equal(got, default))
with concurrent.futures.ThreadPoolExecutor(2, initializer=numba.set_num_threads,
                                           initargs=(1,)) as pool:
    count, got = pool.submit(request).result(60)
print("INITIALIZED", count, np.array_equal(got, alone))
"""


def test_numbas_thread_count_is_set_per_thread():
    """What the README says of ``numba.set_num_threads`` in a server: it sets the split of
    the calling thread's calls only (Numba keeps the count per thread), so request threads
    keep the default split, and bits, unless each sets it too (an executor's initializer).
    In a subprocess: ``numba.set_num_threads`` starts Numba's own pool, which the kernels
    never start in this one."""
    run = subprocess.run([sys.executable, "-c", _PER_THREAD_COUNT], capture_output=True,
                         text=True, env={**os.environ, "NUMBA_NUM_THREADS": "2"},
                         timeout=JOIN_SECONDS)
    assert run.returncode == 0, run.stderr
    if "SPLITS 1" in run.stdout:
        pytest.skip("no BLAS thread control here: the kernels run serially")
    assert "PLAIN 2 True" in run.stdout, run.stdout
    assert "INITIALIZED 1 True" in run.stdout, run.stdout
