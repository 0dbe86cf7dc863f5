"""nongate_np.dask: the Dask encode of a corpus equals the single-process encode with the
same kernel thread count exactly and in order, on a LocalCluster of 2 worker processes,
including a run in which a worker is killed mid-way (Dask runs its tasks again). Skipped
without dask[distributed]."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data import DataError, SequenceDataset
from nongate_np.io import CheckpointError
from nongate_np.kernels.cpu.threads import num_threads
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import batches

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
ngd = pytest.importorskip("nongate_np.dask")

TASKS = [{"name": "c", "kind": "classification", "num_classes": 3},
         {"name": "r", "kind": "regression", "output_size": 2}]
BATCH = 32


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A saved token model, 700 sequences and their single-process encoding."""
    folder = tmp_path_factory.mktemp("dask")
    ng.seed(0)
    model = MultiTaskSequenceModel(TASKS, vocab_size=7, embed_size=4, hidden_size=8,
                                   attn_size=4)
    ng.save(model, folder / "model.npz")
    rng = np.random.default_rng(0)
    n, T = 700, 20
    lengths = rng.integers(1, T + 1, n)
    x = rng.integers(1, 7, (n, T))
    x[np.arange(T)[None] >= lengths[:, None]] = 0
    data = SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS],
                           targets={"c": rng.integers(0, 3, n), "r": rng.normal(size=(n, 2))})
    model.eval()
    want = np.concatenate([model.encode(xb, lb) for xb, lb, _ in batches(data, BATCH)])
    return folder, x, lengths, want


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """A saved float64 feature model (2 inputs) and the model itself, in eval mode."""
    path = tmp_path_factory.mktemp("dask_features") / "features.npz"
    ng.seed(0)
    model = MultiTaskSequenceModel(TASKS[:1], input_size=2, hidden_size=8, attn_size=8,
                                   dtype=np.float64)
    ng.save(model, path)
    return path, model.eval()


@pytest.fixture(scope="module")
def client():
    # NOTE: the workers' kernels split into as many threads as this process's, which the
    # bits depend on (corpus's `want` is computed here)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0",
                                  env={"NUMBA_NUM_THREADS": str(num_threads())}) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_array_bag_and_shards_equal_one_process_in_order(corpus, client, tmp_path):
    folder, x, lengths, want = corpus
    got = ngd.encode(folder / "model.npz", da.from_array(x, chunks=90), lengths,
                     batch_size=BATCH)
    assert got.shape == want.shape and got.numblocks[0] > 2       # several partitions
    np.testing.assert_array_equal(got.compute(), want)
    seqs = [x[i, :lengths[i]] for i in range(len(x))]
    bag = db.from_sequence(seqs, partition_size=4 * BATCH)
    np.testing.assert_array_equal(ngd.encode_bag(folder / "model.npz", bag,
                                                 batch_size=BATCH).compute(), want)
    index = ngd.write_shards(got, tmp_path / "shards")
    assert index == json.loads((tmp_path / "shards" / "index.json").read_text())
    assert index["shape"] == list(want.shape) and len(index["shards"]) == got.numblocks[0]
    parts = [np.load(tmp_path / "shards" / s["file"]) for s in index["shards"]]
    assert [s["start"] for s in index["shards"]] == list(np.cumsum([0] + [len(p) for p in
                                                                          parts[:-1]]))
    np.testing.assert_array_equal(np.concatenate(parts), want)


@pytest.fixture
def in_process():
    """Dask's synchronous scheduler, even where the module's client is the default."""
    with dask.config.set(scheduler="synchronous"):
        yield


def _never_computed(block):
    raise AssertionError("write_shards computed a chunk of a folder it refuses")


def _refusing(x, chunks):
    """x as a Dask array whose chunks raise when computed."""
    src = da.from_array(x, chunks=chunks)
    return src.map_blocks(_never_computed, meta=src._meta)


def _files(folder):
    """Every file in ``folder`` by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _read_shards(folder):
    index = json.loads((folder / "index.json").read_text())
    return index, np.concatenate([np.load(folder / s["file"]) for s in index["shards"]])


def test_write_shards_refuses_a_folder_of_shards_and_writes_nothing(in_process, tmp_path):
    """A folder holding an earlier call's shards, or only its index or one shard, is
    refused before anything is computed, naming the folder, its files and overwrite=True;
    every file keeps its bytes. Other files alone are no reason to refuse."""
    folder = tmp_path / "emb"
    old = np.arange(60, dtype=np.float32).reshape(20, 3)
    ngd.write_shards(da.from_array(old, chunks=4), folder)          # 5 shards
    before = _files(folder)
    assert sorted(before) == ["index.json"] + [f"part-0000{k}.npy" for k in range(5)]
    new = _refusing(np.ones((6, 3), np.float32), 3)
    with pytest.raises(FileExistsError) as caught:
        ngd.write_shards(new, folder)
    message = str(caught.value)
    assert str(folder) in message and "overwrite=True" in message
    assert "(index.json, part-00000.npy, part-00001.npy, ...)" in message
    assert _files(folder) == before
    np.testing.assert_array_equal(_read_shards(folder)[1], old)
    for leftover in ("index.json", "part-00003.npy"):      # either one is an earlier run's
        alone = tmp_path / f"only-{leftover}"
        alone.mkdir()
        (alone / leftover).write_bytes(b"old")
        with pytest.raises(FileExistsError, match=rf"only-{leftover} holds shards of an "
                                                  rf"earlier run \({leftover}\)"):
            ngd.write_shards(new, alone)
        assert _files(alone) == {leftover: b"old"}
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("the user's")
    (other / "part-1.npy").write_bytes(b"not a shard's name")
    index = ngd.write_shards(da.from_array(old, chunks=10), other)
    assert [s["file"] for s in index["shards"]] == ["part-00000.npy", "part-00001.npy"]
    assert (other / "notes.txt").read_text() == "the user's"
    assert (other / "part-1.npy").read_bytes() == b"not a shard's name"


@pytest.mark.parametrize("first, second", [(4, 10), (10, 4)])
def test_write_shards_overwrite_leaves_exactly_the_new_shards(in_process, tmp_path, first, second):
    """overwrite=True replaces the shards and index, removes the earlier call's shards the
    new index does not list (it had more chunks) and leaves other files as they were."""
    folder = tmp_path / "emb"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's")
    old = np.arange(60, dtype=np.float32).reshape(20, 3)
    ngd.write_shards(da.from_array(old, chunks=first), folder)
    new = -np.arange(42, dtype=np.float64).reshape(14, 3)
    index = ngd.write_shards(da.from_array(new, chunks=second), folder, overwrite=True)
    shards = [f"part-{k:05d}.npy" for k in range(-(-14 // second))]
    assert [s["file"] for s in index["shards"]] == shards
    assert sorted(_files(folder)) == sorted(["index.json", "notes.txt"] + shards)
    assert (folder / "notes.txt").read_text() == "the user's"
    written, got = _read_shards(folder)
    assert written == index and index["shape"] == [14, 3] and index["dtype"] == "float64"
    np.testing.assert_array_equal(got, new)


def test_write_shards_overwrite_that_fails_leaves_no_index(in_process, tmp_path):
    """The old index goes before anything is computed: a failed overwrite leaves no
    index.json describing a mix of old and new shards."""
    folder = tmp_path / "emb"
    ngd.write_shards(da.from_array(np.zeros((8, 2)), chunks=4), folder)
    broken = _refusing(np.ones((8, 2)), 4)
    with pytest.raises(AssertionError, match="computed a chunk"):
        ngd.write_shards(broken, folder, overwrite=True)
    assert not (folder / "index.json").exists()


def test_write_shards_into_a_file_is_refused_naming_it(in_process, tmp_path):
    path = tmp_path / "emb"
    path.write_text("the user's file")
    for overwrite in (False, True):
        with pytest.raises(NotADirectoryError, match=rf"{path} is not a folder \(a file is "
                                                     rf"there\)"):
            ngd.write_shards(da.from_array(np.zeros((4, 2)), chunks=2), path,
                             overwrite=overwrite)
    assert path.read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb"]


def _gate(block, event_name):
    """The last chunk of the input waits until the test has killed a worker."""
    distributed.Event(event_name).wait(timeout=60)
    return block


def test_a_worker_killed_mid_way_still_gives_every_row_in_order(corpus, client):
    folder, x, lengths, want = corpus
    event = distributed.Event("nongate-go", client=client)
    event.clear()
    chunks = 64 * np.ones(len(x) // 64, int).tolist() + [len(x) % 64]
    src = da.from_array(x, chunks=(tuple(c for c in chunks if c), -1))
    last = src.numblocks[0] - 1
    gated = da.concatenate([src.blocks[:last],
                            src.blocks[last:].map_blocks(_gate, "nongate-go",
                                                         meta=src._meta)])
    future = client.compute(ngd.encode(folder / "model.npz", gated, lengths,
                                       batch_size=BATCH))
    deadline = time.monotonic() + 60
    while sum(len(k) for k in client.has_what().values()) < 4:      # results held
        assert time.monotonic() < deadline and not future.done()
        time.sleep(0.05)
    pids = client.run(os.getpid)
    holder = max(client.has_what().items(), key=lambda kv: len(kv[1]))[0]
    os.kill(pids[holder], signal.SIGKILL)          # its results are lost mid-computation
    assert not future.done()
    event.set()
    np.testing.assert_array_equal(future.result(timeout=120), want)
    assert set(client.run(os.getpid).values()) != set(pids.values())   # a new worker


def test_bad_input_is_refused_with_what_was_given(corpus, tmp_path):
    folder, x, lengths, _ = corpus
    with pytest.raises(ValueError, match=r"x must be \(N, T\) or \(N, T, F\) and lengths "
                                         r"\(N,\), got shapes \(700, 20\) and \(699,\)"):
        ngd.encode(folder / "model.npz", x, lengths[:-1])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        ngd.encode(folder / "model.npz", x, lengths, batch_size=0)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        ngd.encode(tmp_path / "missing.npz", x, lengths)


def test_the_command_line_on_two_workers_writes_the_one_process_array(tmp_path,
                                                                      monkeypatch):
    from tests.cli_runs import command, process_env, run_cli
    from tests.test_cli_train import _write_npz
    monkeypatch.chdir(tmp_path)
    _write_npz(tmp_path / "train.npz", seed=1, n=40)
    _write_npz(tmp_path / "more.npz", seed=2, n=600)
    code, _, err = run_cli("train", "npz", "train.npz", "--epochs", "1", "--hidden-size", "4",
                           "--quiet", "--out", "run")
    assert code == 0, err
    outs = {}
    for name, extra in (("two.npy", ["--workers", "2"]), ("shards", ["--workers", "2"])):
        code, printed, err = run_cli("encode", "run/model.npz", "more.npz", "--out", name,
                                     *extra)
        assert code == 0, err
        outs[name] = printed
    # the one-process run with the workers' kernel thread count: the same bits
    threads = ngd.worker_env(2)["NUMBA_NUM_THREADS"]
    done = subprocess.run(command("encode", "run/model.npz", "more.npz", "--out", "one.npy",
                                  console_script=False), capture_output=True, text=True,
                          timeout=180, env=dict(process_env(), NUMBA_NUM_THREADS=threads))
    assert done.returncode == 0, done.stderr
    one = np.load("one.npy")
    assert one.shape[0] == 600
    np.testing.assert_array_equal(np.load("two.npy"), one)
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    np.testing.assert_array_equal(np.concatenate([np.load(tmp_path / "shards" / s["file"])
                                                  for s in index["shards"]]), one)
    # the folder of shards again: refused without --overwrite, replaced whole with it
    code, _, err = run_cli("encode", "run/model.npz", "train.npz", "--out", "shards",
                           "--workers", "2")
    assert code == 2 and "--overwrite" in err, err
    assert json.loads((tmp_path / "shards" / "index.json").read_text()) == index
    code, _, err = run_cli("encode", "run/model.npz", "train.npz", "--out", "shards",
                           "--workers", "2", "--overwrite")
    assert code == 0, err
    before, index = index, json.loads((tmp_path / "shards" / "index.json").read_text())
    assert len(index["shards"]) < len(before["shards"])       # so some were left stale
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == \
        sorted(["index.json"] + [s["file"] for s in index["shards"]])   # no stale shard
    assert sum(np.load(tmp_path / "shards" / s["file"]).shape[0]
               for s in index["shards"]) == 40
    code, _, err = run_cli("encode", "run/model.npz", "more.npz", "--out", "x.npy",
                           "--dask-scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "--dask-scheduler tcp://127.0.0.1:1" in err, err


def test_the_command_line_on_a_scheduler_address(corpus, client, tmp_path, monkeypatch):
    """--dask-scheduler ADDRESS: a cluster started elsewhere (here the module's)."""
    from tests.cli_runs import run_cli
    from tests.test_cli_train import _write_npz
    monkeypatch.chdir(tmp_path)
    _write_npz(tmp_path / "train.npz", seed=1, n=40)
    code, _, err = run_cli("train", "npz", "train.npz", "--epochs", "1", "--hidden-size", "4",
                           "--quiet", "--out", "run")
    assert code == 0, err
    for name, extra in (("one.npy", []), ("there.npy", ["--dask-scheduler",
                                                        client.scheduler.address])):
        code, _, err = run_cli("encode", "run/model.npz", "train.npz", "--out", name, *extra)
        assert code == 0, err
    np.testing.assert_array_equal(np.load("there.npy"), np.load("one.npy"))


def test_a_bag_is_padded_in_the_type_of_all_its_sequences(features):
    """A partition whose first sequence is int64 (or float32) is padded as float64, as
    model.encode of the padded floats: the first's type truncated (or rounded) the rest."""
    path, model = features
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((L, 2)) for L in (5, 7, 3, 6)]
    for first in (np.array([[1, 0], [2, 1], [0, 3]]), seqs[0].astype(np.float32)):
        given = [first] + seqs[1:]
        padded = np.zeros((4, 7, 2))
        for i, s in enumerate(given):
            padded[i, :len(s)] = s
        with dask.config.set(scheduler="synchronous"):
            got = ngd.encode_bag(path, db.from_sequence(given, npartitions=1)).compute()
        np.testing.assert_array_equal(got, model.encode(padded, [len(s) for s in given]))


def test_errors_name_the_rows_of_the_input_and_shapes_are_checked_before_compute(
        corpus, features):
    folder, x, lengths, _ = corpus
    bad = x.copy()
    bad[300, 0] = 9                                       # outside the vocabulary of 7
    emb = ngd.encode(folder / "model.npz", da.from_array(bad, chunks=128), lengths,
                     batch_size=BATCH)
    with dask.config.set(scheduler="synchronous"), \
            pytest.raises(DataError, match=r"x\[300, 0\] is 9, the first of 1 in rows "
                                           r"288-319"):
        emb.compute()
    short = lengths.copy()
    short[650] = 0
    with dask.config.set(scheduler="synchronous"), \
            pytest.raises(DataError, match=r"lengths\[650\] is 0"):
        ngd.encode(folder / "model.npz", x, short, batch_size=BATCH).compute()
    # refused when the graph is built, no compute
    with pytest.raises(ValueError, match="lengths must be 700 integers .* got dtype float64"):
        ngd.encode(folder / "model.npz", x, lengths.astype(float))
    with pytest.raises(ValueError, match=r"takes token ids, an integer array \(N, T\), got "
                                         r"dtype float64 and shape \(700, 20, 2\)"):
        ngd.encode(folder / "model.npz", np.zeros((700, 20, 2)), lengths)
    with pytest.raises(ValueError, match=r"takes real features \(N, T, 2\), got dtype "
                                         r"float64 and shape \(700, 20, 3\)"):
        ngd.encode(features[0], np.zeros((700, 20, 3)), lengths)


def test_lengths_are_optional_as_in_model_encode(corpus):
    """Token ids without lengths end after their last non-padding token."""
    folder, x, lengths, want = corpus
    with dask.config.set(scheduler="synchronous"):
        got = ngd.encode(folder / "model.npz", da.from_array(x, chunks=96), None,
                         batch_size=BATCH).compute()
    np.testing.assert_array_equal(got, want)


def test_a_ragged_list_or_a_model_is_told_what_to_give(corpus):
    folder, x, lengths, _ = corpus
    with pytest.raises(ValueError, match="sequences of different lengths: encode them with "
                                         "encode_bag"):
        ngd.encode(folder / "model.npz", [x[0, :3], x[1, :5]], [3, 5])
    with pytest.raises(TypeError, match=r"checkpoint must be the path .* got "
                                        r"MultiTaskSequenceModel.*nongate_np.save\(model"):
        ngd.encode(ng.load(folder / "model.npz").model, x, lengths)


def test_a_class_unknown_on_the_workers_names_the_checkpoint_and_preload(client, tmp_path):
    """The class is registered here only (inside the test: no worker imports it), so the
    workers cannot rebuild the model: the error names the user's file, not a copy."""
    @ng.nn.register_savable(name="test_dask.Custom")
    class Custom(MultiTaskSequenceModel):
        pass

    ng.seed(0)
    ng.save(Custom(TASKS[:1], input_size=2, hidden_size=4, attn_size=4), tmp_path / "c.npz")
    emb = ngd.encode(tmp_path / "c.npz", np.zeros((4, 3, 2)), np.full(4, 3))
    with pytest.raises(CheckpointError, match=rf"^{tmp_path / 'c.npz'}: unknown module class "
                                              r"'test_dask.Custom'.*--preload"):
        emb.compute()


def test_an_ndarray_is_cut_so_that_every_worker_gets_partitions(corpus, client):
    folder, x, lengths, want = corpus
    got = ngd.encode(folder / "model.npz", x, lengths, batch_size=BATCH)
    assert got.numblocks[0] >= 4 * 2 and set(got.chunks[0][:-1]) == {96}  # whole batches
    np.testing.assert_array_equal(got.compute(), want)
