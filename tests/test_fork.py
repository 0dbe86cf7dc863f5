"""A library process is safe to fork after it has computed (issue 15, report 5).

The report: a parent runs ``nn.LSTM(1, 64)`` on ``np.ones((1, 31, 1), float32)`` (T = 1,
B = 31: B·P·4H = 507,904 multiply-adds per step, just over the threaded step loop's
threshold), then a ``multiprocessing`` fork pool runs the same call; GNU OpenMP aborts the
child ("fork() called from a process already using GNU OpenMP, this is unsafe") and
``Pool.map`` never returns. The right behaviour: the child computes, on the serial paths, so
its results are bit-identical to the parent's serial results.

The parent runs in a subprocess of its own, in a new session, with a time limit, so a hang
fails this test (and its pool is killed) instead of hanging the suite.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")
if not hasattr(os, "fork"):
    pytest.skip("no fork on this platform", allow_module_level=True)

_REPORT = textwrap.dedent("""
    import hashlib, json, multiprocessing, numpy as np, nongate_np as ng
    from nongate_np.kernels.cpu import threads, tuning

    X = np.ones((1, 31, 1), np.float32)          # (T, B, I): batch_first=False

    def digest(arrays):
        return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes()
                                       for a in arrays)).hexdigest()

    def forward(_):
        ng.seed(0)
        y, (h, c) = ng.nn.LSTM(1, 64)(X)
        return digest([y.data, h.data, c.data]), float(h.data.sum())

    def train_step(_):
        ng.seed(0)
        lstm = ng.nn.LSTM(1, 64)
        opt = ng.optim.SGD(lstm.parameters(), lr=0.1)
        y, (h, c) = lstm(X)
        ((y * y).sum() + c.sum()).backward()
        grads = [p.grad for p in lstm.parameters()]
        opt.step()
        return digest(grads + [p.data for p in lstm.parameters()]), 0.0

    def forward_numpy_backend(_):
        with ng.backend("numpy"):
            return forward(_)

    def numpy_product(_):                       # NumPy's own OpenBLAS, threaded by size
        a = np.arange(512 * 512, dtype=np.float64).reshape(512, 512) % 7
        return digest([a @ a]), 0.0

    def splits(_):
        return threads.parallel_chunks(2 ** 40, 0), 0.0

    if __name__ == "__main__":
        ng.set_global_backend("numba")
        parent = {"splits": splits(0)[0],
                  "threaded": [forward(0), train_step(0)]}   # launches the parallel region
        with tuning.force_serial():
            parent["serial"] = [forward(0), train_step(0)]
        parent["numpy"] = numpy_product(0)
        parent["numpy_backend"] = forward_numpy_backend(0)
        child = {}
        with multiprocessing.get_context("fork").Pool(2) as pool:
            for name, fn in [("forward", forward), ("train_step", train_step),
                             ("numpy", numpy_product), ("splits", splits),
                             ("numpy_backend", forward_numpy_backend)]:
                try:
                    child[name] = pool.map_async(fn, range(2)).get(timeout=120)
                except multiprocessing.TimeoutError:
                    child[name] = "hung"
                    pool.terminate()
                    break
        print(json.dumps({"parent": parent, "child": child}))
""")


def _run_report() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", _REPORT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # the parent and its pool's workers
        proc.communicate()
        pytest.fail("the forked pool hung past the time limit")
    assert proc.returncode == 0, err
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def report():
    return _run_report()


def test_forked_children_compute_instead_of_dying(report):
    child = report["child"]
    assert "hung" not in child.values(), f"a forked child died or hung: {child}"
    assert set(child) == {"forward", "train_step", "numpy", "splits", "numpy_backend"}


def test_a_forked_child_runs_the_serial_paths_bit_identically(report):
    parent, child = report["parent"], report["child"]
    serial_forward, serial_step = parent["serial"]
    assert child["forward"] == [serial_forward] * 2
    assert child["train_step"] == [serial_step] * 2
    assert child["splits"] == [[1, 0.0]] * 2
    assert child["numpy"] == [parent["numpy"]] * 2
    assert child["numpy_backend"] == [parent["numpy_backend"]] * 2


def test_the_parent_keeps_splitting_and_agrees_with_the_serial_path(report):
    parent = report["parent"]
    if parent["splits"] < 2:
        pytest.skip("this machine does not split (one thread, or no OpenMP/TBB layer): the "
                    "report's parallel region never ran in the parent")
    (_, h_threaded), _ = parent["threaded"]
    (_, h_serial), _ = parent["serial"]
    assert h_threaded == pytest.approx(h_serial, rel=1e-6)
