"""nongate_np.distributed: data-parallel training over MPI gives the weights one process
gives on the whole batches (to float64 rounding), and a rank that fails ends the job.

The MPI runs start ``mpiexec -n 2`` (extra ``mpi``: mpi4py and MPICH from PyPI); they are
skipped where mpi4py or mpiexec is missing."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from nongate_np import distributed
from tests.cli_runs import TINY_TEXT

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent


def _mpiexec():
    pytest.importorskip("mpi4py")
    found = shutil.which("mpiexec", path=str(pathlib.Path(sys.executable).parent)) or \
        shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec (pip install mpi4py mpich)")
    return found


def _run(args, ranks=None, timeout=180):
    """python ARGS, alone or under mpiexec -n ranks; the completed process."""
    cmd = [sys.executable, *args]
    if ranks is not None:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


def test_split_bounds_cover_the_rows_with_shares_within_one():
    for n in range(0, 12):
        for parts in range(1, 5):
            b = distributed.split_bounds(n, parts)
            sizes = np.diff(b)
            assert b[0] == 0 and b[-1] == n and len(b) == parts + 1
            assert sizes.max() - sizes.min() <= 1 and np.all(np.diff(sizes) <= 0)


def test_launch_is_read_from_the_environment(monkeypatch):
    for var in distributed._LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    assert not distributed.launched_by_mpi()
    monkeypatch.setenv("PMI_RANK", "0")
    assert distributed.launched_by_mpi()


@pytest.mark.parametrize("form", [[], ["--explicit"]], ids=["two-lines", "explicit"])
def test_two_ranks_on_half_batches_give_the_weights_of_one_process(tmp_path, form):
    """The loop as the module docstring gives it (the reduction inside backward; on the
    last batch of one row, rank 1 runs it with weight 0), and with the reduction called by
    hand (rank 1 skips the last batch's forward)."""
    _mpiexec()
    alone, pair = tmp_path / "alone.npz", tmp_path / "pair.npz"
    for out, ranks in ((alone, None), (pair, 2)):
        done = _run(["tests/distributed/own_loop.py", str(out), *form], ranks)
        assert done.returncode == 0, done.stderr[-3000:]
    a, p = np.load(alone), np.load(pair)
    assert sorted(a.files) == sorted(p.files)
    moved = 0.0
    for name in a.files:
        # 9 optimizer steps; each rank's mean gradient weighed by its rows differs from the
        # whole batch's only by roundings
        np.testing.assert_allclose(p[name], a[name], rtol=1e-10, atol=1e-13, err_msg=name)
        moved = max(moved, float(np.abs(a[name]).max()))
    assert moved > 0


def test_backward_reduces_once_to_the_whole_batch_and_its_loss():
    """On each of 2 ranks (tests/distributed/hooks.py): one Allreduce per backward, the
    gradient and ``dp.loss`` of the whole batch, a share of one row weighted 0 on the rank
    without rows, micro-batches of one size accumulated in no_sync equal to one process
    (gradient and loss), uneven ones an error on both ranks, and an error naming dp.shares
    when no share was taken."""
    done = _run(["tests/distributed/hooks.py"], 2)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_rank_that_raises_ends_the_job_with_its_error(tmp_path):
    _mpiexec()
    start = time.monotonic()
    done = _run(["tests/distributed/own_loop.py", str(tmp_path / "x.npz"),
                 "--raise-on-rank", "1"], 2, timeout=120)
    assert done.returncode != 0
    assert "rank 1 of 2 failed" in done.stderr and "a deliberate failure at step 4" in \
        done.stderr, done.stderr[-3000:]
    # once: the hook alone, not the previous excepthook again after MPI_Abort returned
    assert done.stderr.count("a deliberate failure at step 4") == 1, done.stderr[-3000:]
    assert time.monotonic() - start < 100
    assert not (tmp_path / "x.npz").exists()


class _AbortReturns:
    """A communicator of 2 whose Abort returns, as MPICH's does in the calling rank."""

    def __init__(self):
        self.aborted = []

    def Get_rank(self):
        return 1

    def Get_size(self):
        return 2

    def Abort(self, status):
        self.aborted.append(status)


def test_the_failing_rank_prints_its_traceback_once(monkeypatch, capsys):
    pytest.importorskip("mpi4py")
    earlier = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: earlier.append(exc))
    comm = _AbortReturns()
    distributed.abort_on_error(comm)
    try:
        raise ValueError("a deliberate failure")
    except ValueError as err:
        sys.excepthook(type(err), err, err.__traceback__)
    said = capsys.readouterr().err
    assert comm.aborted == [1] and earlier == [], earlier
    assert said.count("ValueError: a deliberate failure") == 1, said
    assert said.startswith("nongate_np.distributed: rank 1 of 2 failed"), said


def test_ranks_with_different_models_are_refused(tmp_path):
    _mpiexec()
    script = tmp_path / "differ.py"
    script.write_text(textwrap.dedent("""
        import pathlib, sys
        from mpi4py import MPI
        import nongate_np as ng
        from nongate_np.distributed import DataParallel
        rank = MPI.COMM_WORLD.Get_rank()
        try:
            DataParallel(ng.nn.Linear(3, 2 + rank))
        except ValueError as err:
            pathlib.Path(sys.argv[1], f"rank{rank}.txt").write_text(str(err))
    """))
    done = _run([str(script), str(tmp_path)], 2)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):              # every rank refuses, so none waits for the others
        said = (tmp_path / f"rank{rank}.txt").read_text()
        assert "rank 1's parameter 0 is ('weight', (3, 3), 'float32') against rank 0's " \
               "('weight', (2, 3), 'float32')" in said, said


def test_every_rank_starts_from_the_root_buffers(tmp_path):
    """The statistics a model keeps in buffers (input_mean, target_std) are rank 0's on
    every rank after DataParallel, as its weights are: a rank that set its own from its
    share of the data would standardise with other values."""
    _mpiexec()
    script = tmp_path / "buffers.py"
    script.write_text(textwrap.dedent("""
        import pathlib, sys
        import numpy as np
        from mpi4py import MPI
        from nongate_np.distributed import DataParallel
        from nongate_np.nn import MultiTaskSequenceModel
        rank = MPI.COMM_WORLD.Get_rank()
        tasks = [{"name": "y", "kind": "regression", "output_size": 2}]
        model = MultiTaskSequenceModel(tasks, input_size=3, hidden_size=4, attn_size=4,
                                       normalize_input=True, normalize_targets=True)
        model.set_input_normalization(np.full(3, rank + 1.0), np.full(3, rank + 2.0))
        model.set_target_normalization("y", [rank, -rank], [rank + 3.0, rank + 4.0])
        DataParallel(model)
        np.savez(pathlib.Path(sys.argv[1], f"rank{rank}.npz"),
                 **{n: b for n, b in model.named_buffers()})
    """))
    done = _run([str(script), str(tmp_path)], 2)
    assert done.returncode == 0, done.stderr[-3000:]
    root, other = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    assert sorted(root.files) == ["input_mean", "input_std", "target_mean", "target_std"]
    for name in root.files:
        np.testing.assert_array_equal(other[name], root[name], err_msg=name)
    np.testing.assert_array_equal(root["target_std"], [3.0, 4.0])    # rank 0's own


# what each case of tests/distributed/disagree.py gives rank 1 otherwise: the ranks'
# disagreement as fit names it
DISAGREEMENTS = {
    "epochs": "epochs (2 on rank 0, 3 on rank 1)",                    # would wait forever
    "initial_epoch": "initial_epoch (0 on rank 0, 1 on rank 1)",
    "rows": "train items (24 on rank 0, 20 on rank 1); train data (x, lengths, targets) (",
    "batch_size": "batch_size (7 on rank 0, 5 on rank 1)",          # MPI: Message truncated
    "seed": "seed (0 on rank 0, 1 on rank 1)",                      # silently wrong
    "shard": "train data (x, lengths, targets) (",
    "clip": "clip_grad_norm (5.0 on rank 0, 1.0 on rank 1)",
    "scheduler": "scheduler and its state (",
}


def test_fit_on_ranks_asked_for_different_runs_raises_on_every_rank(tmp_path):
    """Before any step, fit's one allgather finds what differs, and every rank raises
    the same error naming it (rather than waiting in a collective the other rank never
    reaches, meeting one of another size, or training a model that is no one's)."""
    _mpiexec()
    done = _run(["tests/distributed/disagree.py", str(tmp_path)], 2, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for case, what in DISAGREEMENTS.items():
        for rank in (0, 1):
            message = said[rank][case]
            assert message is not None and message.startswith(
                f"fit: the ranks disagree on {what}"), (case, rank, message)
            assert f"(this is rank {rank}); every rank must call fit with the same " \
                   "arguments and the whole dataset" in message, message
    assert said[0]["clip"].count(" on rank ") == 2, said[0]["clip"]     # nothing else differs
    # a rank whose own arguments are refused tells the others, which raise too
    assert said[1]["refused"] == "fit: batch_size must be an int >= 1, got 0"
    assert said[0]["refused"] == ("fit: rank 1 refused its arguments, so every rank stops: "
                                  "ValueError: fit: batch_size must be an int >= 1, got 0 "
                                  "(this is rank 0)")
    assert said[0]["same"] is None and said[1]["same"] is None


# what each case of tests/distributed/evaluate.py gives rank 1 otherwise: the ranks'
# disagreement as evaluate names it
EVALUATE_DISAGREEMENTS = {
    "rows": "items (30 on rank 0, 20 on rank 1); data (x, lengths, targets) (",   # silent
    "data": "data (x, lengths, targets) (",                                        # silent
    "weights": "model state (weights, buffers) (",                                 # silent
    "tasks": "tasks evaluated (['c', 'r'] on rank 0, ['c'] on rank 1); data (",   # truncated
}


def test_evaluate_on_ranks_asked_for_different_evaluations_raises_on_every_rank(tmp_path):
    """evaluate(data_parallel=dp) checks in one allgather, as fit does, that the ranks
    evaluate the same data with the same weights: other rows, data or weights added up
    metrics that are no one's without an error, other tasks died in MPI's "Message
    truncated", and a rank whose arguments were refused left the other waiting forever.
    Ranks that agree (each with its own batch size) give one process's metrics."""
    _mpiexec()
    done = _run(["tests/distributed/evaluate.py", str(tmp_path)], 2, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for case, what in EVALUATE_DISAGREEMENTS.items():
        for rank in (0, 1):
            message = said[rank][case]
            assert isinstance(message, str) and message.startswith(
                f"evaluate: the ranks disagree on {what}"), (case, rank, message)
            assert f"(this is rank {rank}); every rank must call evaluate with the same " \
                   "model and the whole dataset" in message, message
    assert said[0]["weights"].count(" on rank ") == 2, said[0]["weights"]   # nothing else
    assert said[1]["refused"] == "evaluate: batch_size must be an int >= 1, got 0"
    assert said[0]["refused"] == ("evaluate: rank 1 refused its arguments, so every rank "
                                  "stops: ValueError: evaluate: batch_size must be an int "
                                  ">= 1, got 0 (this is rank 0)")
    assert said[1]["none"].startswith("evaluate: data must be a SequenceDataset, got "
                                      "NoneType"), said[1]["none"]
    assert said[0]["none"].startswith("evaluate: rank 1 refused its arguments, so every "
                                      "rank stops: TypeError: evaluate: data must be a "
                                      "SequenceDataset"), said[0]["none"]
    for rank in (0, 1):
        alone = said[rank]["alone"]
        assert len(alone) == 5
        for case in ("same", "batch_size"):
            assert said[rank][case].keys() == alone.keys(), (case, rank)
            for key, value in alone.items():
                assert said[rank][case][key] == pytest.approx(value, rel=1e-12), \
                    (case, rank, key)


# what each case of tests/distributed/uneven.py gives rank 1 otherwise: its rows (or none)
# at the first batch that differs
UNEVEN = {
    "fewer": "batch 2: 4 rows on rank 0, no batch left on rank 1",   # rank 0 waited forever
    "more": "batch 2: no batch left on rank 0, 4 rows on rank 1",
    "size": "batch 1: 4 rows on rank 0, 3 rows on rank 1",           # mis-weighted
    "empty": "batch 1: 4 rows on rank 0, 0 rows on rank 1",
    "first": "batch 0: 4 rows on rank 0, no batch left on rank 1",
    "rows": "batch 1: 4 rows on every rank, other rows on rank 1 than on rank 0",
}


def test_shares_of_generators_that_differ_raises_on_every_rank(tmp_path):
    """Over a generator, shares compares each batch's row count and indices between the
    ranks before yielding it: a rank that runs out first, or draws a batch of another size
    or other rows, fails on
    every rank with the batch named (rather than leaving the other waiting in its
    Allreduce, or weighing the shares wrongly), and generators that agree train as the
    same batches given as a list do."""
    _mpiexec()
    done = _run(["tests/distributed/uneven.py", str(tmp_path)], 2, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    said = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for case, what in UNEVEN.items():
        for rank in (0, 1):
            assert said[rank][case] == (
                f"DataParallel: the ranks drew different batches: {what} (this is rank "
                f"{rank}); draw the same batches on every rank (the same seed), and for an "
                "uneven end drop the last batch or pad it"), (case, rank, said[rank][case])
    assert said[0]["same"] is None and said[1]["same"] is None
    root = np.load(tmp_path / "rank0.npz")
    for rank in (0, 1):
        weights = np.load(tmp_path / f"rank{rank}.npz")
        for name in ("weight", "bias"):
            np.testing.assert_allclose(weights[f"generator/{name}"], root[f"list/{name}"],
                                       rtol=1e-12, err_msg=f"rank {rank}: {name}")
    assert np.abs(root["generator/weight"] - root["start/weight"]).max() > 1e-3   # trained


def test_without_mpi4py_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install mpi4py mpich \(or, in the checkout, "
                                          r"pip install -e '\.\[mpi\]'\)"):
        distributed.DataParallel(None)


def _train(out, ranks, *args, data=TINY_TEXT):
    """nongate-np train DATA ARGS --out OUT, alone or under mpiexec -n ranks; stdout."""
    done = _run(["-m", "nongate_np", "train", *data, "--dtype", "float64",
                 "--batch-size", "7", *args, "--out", str(out)], ranks)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _assert_same_run(a, b):
    """Two runs' last.npz weights and optimizer state to float64 rounding, and every
    metric of their epochs."""
    import nongate_np as ng
    ca, cb = ng.load(a / "last.npz"), ng.load(b / "last.npz")
    for name, value in ca.state_dict.items():
        np.testing.assert_allclose(cb.state_dict[name], value, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    ra, rb = ca.extra["history"], cb.extra["history"]
    assert [r["epoch"] for r in ra] == [r["epoch"] for r in rb]
    for x, y in zip(ra, rb):
        metrics = [k for k in x if k.startswith(("train/", "val/"))]
        assert metrics and sorted(metrics) == sorted(k for k in y if k.startswith(
            ("train/", "val/")))
        for key in metrics:
            assert y[key] == pytest.approx(x[key], rel=1e-9), key


def test_train_under_mpiexec_equals_one_process_and_resumes_the_same(tmp_path):
    """The main job (tagging and classification) with batches of 7 split 4 + 3 on two ranks:
    the weights of one process, written once by rank 0; then --resume under MPI continues
    as one process does."""
    _mpiexec()
    alone, pair = tmp_path / "alone", tmp_path / "pair"
    printed = _train(alone, None, "--epochs", "2")
    printed_pair = _train(pair, 2, "--epochs", "2")
    assert printed_pair.count("trained 2 epoch(s)") == 1       # rank 0 reports, once
    assert printed.count("trained 2 epoch(s)") == 1
    _assert_same_run(alone, pair)
    _train(alone, None, "--epochs", "3", "--resume")
    _train(pair, 2, "--epochs", "3", "--resume")
    _assert_same_run(alone, pair)


def test_train_on_a_small_file_under_mpiexec_equals_one_process(tmp_path):
    """An npz file of 30 sequences (a classification and a regression task; 24 train
    them, batches of 7: 7, 7, 7, 3, the last split 2 + 1)."""
    _mpiexec()
    from tests.test_cli_train import _write_npz
    _write_npz(tmp_path / "small.npz", seed=3, n=30)
    data = ["npz", str(tmp_path / "small.npz"), "--hidden-size", "6", "--quiet"]
    alone, pair = tmp_path / "alone", tmp_path / "pair"
    _train(alone, None, "--epochs", "3", data=data)
    _train(pair, 2, "--epochs", "3", data=data)
    _assert_same_run(alone, pair)


def test_train_with_other_options_per_rank_fails_on_every_rank(tmp_path):
    """mpiexec's MPMD form with --epochs 3 on rank 0 and 2 on rank 1: each rank says
    what differs and the job ends (it waited forever)."""
    from tests.test_cli_train import _write_npz
    mpiexec = _mpiexec()
    _write_npz(tmp_path / "small.npz", seed=3, n=30)
    cmd = [sys.executable, "-m", "nongate_np", "train", "npz", str(tmp_path / "small.npz"),
           "--hidden-size", "6", "--quiet", "--out", str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([mpiexec, "-n", "1", *cmd, "--epochs", "3", ":", "-n", "1", *cmd,
                           "--epochs", "2"], capture_output=True, text=True, timeout=90,
                          env=env, cwd=ROOT)
    assert done.returncode != 0
    assert "error (rank" in done.stderr and "fit: the ranks disagree on epochs (3 on rank " \
        "0, 2 on rank 1)" in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "run" / "last.npz").exists()


def test_train_with_a_test_file_on_one_rank_only_fails_before_training(tmp_path):
    """mpiexec's MPMD form with --test on rank 0 only: rank 0 waited forever in the test
    split's evaluation after the training, which rank 1 never joined; now both ranks say
    what differs before any step."""
    from tests.test_cli_train import _write_npz
    mpiexec = _mpiexec()
    _write_npz(tmp_path / "small.npz", seed=3, n=30)
    _write_npz(tmp_path / "test.npz", seed=4, n=12)
    cmd = [sys.executable, "-m", "nongate_np", "train", "npz", str(tmp_path / "small.npz"),
           "--hidden-size", "6", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([mpiexec, "-n", "1", *cmd, "--test", str(tmp_path / "test.npz"),
                           ":", "-n", "1", *cmd], capture_output=True, text=True, timeout=90,
                          env=env, cwd=ROOT)
    assert done.returncode != 0
    for rank in (0, 1):
        assert f"error (rank {rank} of 2): train: the ranks disagree on test items (12 on " \
            f"rank 0, 0 on rank 1); test data (x, lengths, targets) (" in done.stderr, \
            done.stderr[-3000:]
    assert "same --test file" in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "run" / "last.npz").exists()


def test_train_into_a_run_under_mpiexec_is_refused_on_every_rank(tmp_path):
    """Rank 0, which writes, finds an earlier run in --out and refuses; the other rank
    hears of it in the agreement before any step and stops too (not a wait in fit's
    collectives), and the earlier run's files are untouched."""
    from tests.test_cli_train import _write_npz
    mpiexec = _mpiexec()
    _write_npz(tmp_path / "small.npz", seed=3, n=30)
    data = ["npz", str(tmp_path / "small.npz"), "--hidden-size", "6", "--quiet"]
    _train(tmp_path / "run", None, "--epochs", "1", data=data)
    before = (tmp_path / "run" / "last.npz").read_bytes()
    cmd = [sys.executable, "-m", "nongate_np", "train", *data, "--epochs", "2", "--out",
           str(tmp_path / "run")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([mpiexec, "-n", "2", *cmd], capture_output=True, text=True,
                          timeout=90, env=env, cwd=ROOT)
    assert done.returncode != 0
    said = f"--out {tmp_path / 'run'} holds an earlier run (model.npz, last.npz, " \
           "metrics.jsonl, ..., 1 epoch(s)); --resume continues it, --overwrite replaces it"
    assert f"error (rank 0 of 2): {said}" in done.stderr, done.stderr[-3000:]
    assert "error (rank 1 of 2): train: rank 0 refused its arguments, so every rank stops: " \
           f"FileExistsError: {said}" in done.stderr, done.stderr[-3000:]
    assert (tmp_path / "run" / "last.npz").read_bytes() == before


def test_a_train_error_on_one_rank_ends_every_rank(tmp_path):
    """--resume with nothing to resume fails on both ranks at once here; the job ends with
    the error, not a hang."""
    _mpiexec()
    done = _run(["-m", "nongate_np", "train", *TINY_TEXT, "--resume", "--out",
                 str(tmp_path / "none")], 2, timeout=120)
    assert done.returncode != 0
    assert "error (rank" in done.stderr and "no earlier run" in done.stderr, done.stderr


def test_train_started_by_a_launcher_without_mpi4py_says_what_to_install(monkeypatch,
                                                                          tmp_path):
    from tests.cli_runs import run_cli
    monkeypatch.setenv("PMI_RANK", "0")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    code, _, err = run_cli("train", *TINY_TEXT, "--out", tmp_path / "x")
    assert code == 2 and "pip install mpi4py mpich (or, in the checkout, pip install -e " \
        "'.[mpi]')" in err, err


_WITHOUT_ABORT = """
import sys, warnings
import nongate_np as ng
from nongate_np.distributed import DataParallel, abort_on_error
if sys.argv[1] == "abort":
    abort_on_error()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    DataParallel(ng.nn.Linear(2, 2))
print("warned" if any("waiting forever" in str(w.message) for w in caught) else "quiet")
"""


def test_data_parallel_without_abort_on_error_warns_on_every_rank():
    """A rank that raises without abort_on_error leaves the others in their next Allreduce
    for good: the job hangs (docs/distributed.md). Building DataParallel so says."""
    for how, want in (("plain", "warned"), ("abort", "quiet")):
        done = _run(["-c", _WITHOUT_ABORT, how], ranks=2, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        other = "quiet" if want == "warned" else "warned"     # the ranks' lines may interleave
        assert done.stdout.count(want) == 2 and other not in done.stdout, \
            (how, done.stdout, done.stderr[-2000:])
