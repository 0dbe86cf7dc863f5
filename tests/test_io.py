"""nongate_np.save / load: round trips (models, optimiser state, plain state dicts), the
atomic write (a writer killed mid-save), damaged and foreign files, and the registry of
savable module classes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections import OrderedDict

import numpy as np
import pytest

import nongate_np as ng
from nongate_np import io as ngio
from nongate_np import nn
from nongate_np.nn import savable as nn_savable
from tests.file_size_limit import file_size_limit, is_file_too_large

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _randomise(model: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with values no initialiser would draw, so a loaded model
    can only match by reading them from the file; returns the model."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.7, p.shape)
    return model


def _lstm() -> nn.LSTM:
    model = nn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3, batch_first=True,
                    dtype=np.float64)
    _randomise(model, 1)
    return model


def _sequential() -> nn.Sequential:
    pretrained = np.random.default_rng(2).normal(size=(13, 6)).astype(np.float32)
    model = nn.Sequential(OrderedDict([
        ("embed", nn.Embedding.from_pretrained(pretrained, freeze=True, padding_idx=0)),
        ("hidden", nn.Linear(6, 8)),
        ("act", nn.ReLU()),
        ("drop", nn.Dropout(0.25)),
        ("out", nn.Sequential(nn.Linear(8, 4, bias=False), nn.Tanh(), nn.Identity(),
                              nn.Linear(4, 2), nn.Sigmoid())),
    ]))
    _randomise(model, 3)
    return model.double().eval()


def _ids() -> np.ndarray:
    return np.random.default_rng(4).integers(0, 13, size=(3, 5))


def _lstm_input() -> np.ndarray:
    return np.random.default_rng(5).normal(size=(2, 6, 5))


def _assert_same_state(a: dict, b: dict, what: str) -> None:
    assert list(a) == list(b), f"{what}: keys differ: {list(a)} vs {list(b)}"
    for key in a:
        assert a[key].dtype == b[key].dtype, f"{what}: dtype of {key!r}"
        assert a[key].shape == b[key].shape, f"{what}: shape of {key!r}"
        assert a[key].tobytes() == b[key].tobytes(), f"{what}: {key!r} differs bitwise"


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------

def test_lstm_round_trip_is_bit_identical(tmp_path):
    model = _lstm()
    x = _lstm_input()
    y, (h, c) = model(x)
    ng.save(model, tmp_path / "lstm.npz")       # a pathlib.Path works as well as a str

    ng.seed(12345)                              # a different init: weights must come from disk
    ckpt = ng.load(str(tmp_path / "lstm.npz"))
    loaded = ckpt.model
    assert type(loaded) is nn.LSTM
    assert loaded.config() == model.config()
    assert loaded.config()["dtype"] == "float64" and loaded.proj_size == 3
    _assert_same_state(loaded.state_dict(), model.state_dict(), "LSTM state_dict")
    for p, q in zip(loaded.parameters(), model.parameters()):
        assert not np.shares_memory(p.data, q.data)
    y2, (h2, c2) = loaded(x)
    np.testing.assert_array_equal(y2.data, y.data, err_msg="LSTM output")
    np.testing.assert_array_equal(h2.data, h.data, err_msg="LSTM h_n")
    np.testing.assert_array_equal(c2.data, c.data, err_msg="LSTM c_n")
    assert ckpt.optimizer is None and ckpt.extra == {} and ckpt.version == ng.__version__


def test_sequential_round_trip_keeps_config_mode_and_frozen(tmp_path):
    model = _sequential()
    ids = _ids()
    expected = model(ids).data
    path = tmp_path / "seq.npz"
    ng.save(model, path, extra={"epoch": np.int64(7), "metrics": {"acc": np.float32(0.5)},
                                "history": (1.5, None, True, "x")})

    ckpt = ng.load(path)
    loaded = ckpt.model
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    assert loaded.config() == model.config()
    assert [n for n, _ in loaded.named_modules()] == [n for n, _ in model.named_modules()]
    # .double() after construction: the config records the dtype the weights have now
    assert loaded.hidden.weight.dtype == np.float64
    assert not any(m.training for m in loaded.modules()), "eval mode was not restored"
    assert loaded.embed.weight.requires_grad is False and loaded.hidden.weight.requires_grad
    assert loaded.embed.padding_idx == 0
    _assert_same_state(loaded.state_dict(), model.state_dict(), "Sequential state_dict")
    np.testing.assert_array_equal(loaded(ids).data, expected, err_msg="Sequential output")
    assert ckpt.extra == {"epoch": 7, "metrics": {"acc": 0.5},
                          "history": [1.5, None, True, "x"]}
    _assert_same_state(ng.load_weights(path), model.state_dict(), "load_weights")


def _train_steps(model: nn.LSTM, opt, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.normal(size=(2, 6, 5))
        target = rng.normal(size=(2, 6, 6))
        y, _ = model(x)
        opt.zero_grad()
        ng.mse_loss(y, target).backward()
        opt.step()


def _adam_groups(model):
    first = [p for n, p in model.named_parameters() if n.endswith("l0")]
    rest = [p for n, p in model.named_parameters() if not n.endswith("l0")]
    return ng.optim.Adam([{"params": first, "lr": 2e-2},
                          {"params": rest, "betas": (0.8, 0.99)}],
                         lr=1e-2, amsgrad=True, weight_decay=1e-3)


@pytest.mark.parametrize("make_opt", [
    _adam_groups,
    lambda m: ng.optim.AdamW(m.parameters(), lr=3e-2),
    lambda m: ng.optim.SGD(m.parameters(), lr=5e-2, momentum=0.9, nesterov=True),
], ids=["adam-groups-amsgrad", "adamw", "sgd-nesterov"])
def test_optimizer_continues_bit_identically(tmp_path, make_opt):
    model = _lstm()
    opt = make_opt(model)
    _train_steps(model, opt, 3, seed=10)
    ng.save(model, tmp_path / "ckpt.npz", optimizer=opt, extra={"step": 3})

    ckpt = ng.load(tmp_path / "ckpt.npz")
    assert type(ckpt.optimizer) is type(opt) and ckpt.extra == {"step": 3}
    assert ckpt.optimizer.defaults == opt.defaults
    saved, restored = opt.state_dict(), ckpt.optimizer.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    # continue both runs on the same data: every parameter must agree bit for bit
    _train_steps(model, opt, 2, seed=11)
    _train_steps(ckpt.model, ckpt.optimizer, 2, seed=11)
    _assert_same_state(ckpt.model.state_dict(), model.state_dict(), "after 2 more steps")


def test_plain_state_dict_round_trip(tmp_path):
    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "count": np.int64(4),
             "mask": np.array([True, False]), "t": ng.tensor([1.0, 2.0])}
    ng.save(state, tmp_path / "sd.npz", extra={"note": "plain"})
    ckpt = ng.load(tmp_path / "sd.npz")
    assert ckpt.model is None and ckpt.optimizer is None and ckpt.extra == {"note": "plain"}
    expected = {"w": state["w"], "count": np.asarray(4, np.int64), "mask": state["mask"],
                "t": np.array([1.0, 2.0])}
    _assert_same_state(ckpt.state_dict, expected, "plain state dict")
    _assert_same_state(ng.load_weights(tmp_path / "sd.npz"), expected, "load_weights")


def test_torchs_checkpoint_dict_is_refused_with_ours(tmp_path):
    """``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``: the
    error names torch's pattern and gives ours; nothing is written."""
    model = nn.Linear(2, 2)
    opt = ng.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"'model' is a dict.*a dict of state dicts is "
                       r"PyTorch's checkpoint.*ng.save\(model, path, optimizer=opt, "
                       r"extra=\{'epoch': 3\}\).*ng.save\(model.state_dict\(\), path\)"):
        ng.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
                tmp_path / "ckpt.npz")
    assert os.listdir(tmp_path) == []


def test_a_checkpoint_given_to_load_state_dict_names_its_state_dict(tmp_path):
    model = nn.Linear(2, 2)
    ng.save(model, tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"expected a mapping of names to arrays, got "
                       r"Checkpoint.*ng.load\(path\).state_dict.*ng.load_weights\(path\)"):
        model.load_state_dict(ng.load(tmp_path / "m.npz"))


def test_the_file_is_a_plain_npz_with_a_json_config(tmp_path):
    model = nn.Linear(3, 2)
    ng.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["__config__", "model/bias", "model/weight"]
        np.testing.assert_array_equal(data["model/weight"], model.weight.data)
        config = json.loads(data["__config__"].tobytes().decode("utf-8"))
    assert config["format"] == "nongate_np.checkpoint" and config["format_version"] == 1
    assert config["model"] == {"class": "Linear", "module": "nongate_np.nn.layers", "config": {
        "in_features": 3, "out_features": 2, "bias": True, "dtype": "float32"}}


# ---------------------------------------------------------------------------------------------
# save-time errors: nothing is written
# ---------------------------------------------------------------------------------------------

class _Unregistered(nn.Module):
    def __init__(self, n=2):
        super().__init__()
        self.w = nn.Parameter(np.zeros(n))


class _MyLinear(nn.Linear):     # a subclass of a registered class is not itself registered
    pass


@pytest.mark.parametrize("make, name", [
    (lambda: _Unregistered(), "_Unregistered"),
    (lambda: nn.Sequential(nn.Linear(2, 2), _Unregistered()), "_Unregistered"),
    (lambda: _MyLinear(2, 2), "_MyLinear"),
])
def test_unregistered_class_is_refused_by_name(tmp_path, make, name):
    with pytest.raises(TypeError, match=f"{name}.*register_savable"):
        ng.save(make(), tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("extra, where", [
    ({"w": np.zeros(2)}, r"extra\['w'\] is a ndarray"),
    ({1: "a"}, "key 1"),
    ({"f": {1.0, 2.0}}, r"extra\['f'\] is a set"),
])
def test_non_json_extra_is_refused_and_the_old_file_kept(tmp_path, extra, where):
    path = tmp_path / "m.npz"
    ng.save(nn.Linear(2, 2), path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=where):
        ng.save(nn.Linear(2, 2), path, extra=extra)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


def test_optimizer_over_foreign_parameters_is_refused(tmp_path):
    model, other = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = ng.optim.SGD(list(model.parameters()) + list(other.parameters()), lr=0.1)
    with pytest.raises(ValueError, match="not parameters of the Linear"):
        ng.save(model, tmp_path / "m.npz", optimizer=opt)
    with pytest.raises(TypeError, match="optimizer= needs the model.*got a dict"):
        ng.save(model.state_dict(), tmp_path / "m.npz", optimizer=opt)


# ---------------------------------------------------------------------------------------------
# atomicity
# ---------------------------------------------------------------------------------------------

# The writer is killed by the kernel (SIGXFSZ) once the temporary file reaches KILLED_AT
# bytes: half of the big weight (960 000 bytes of float64) has reached the disk by then.
KILLED_AT = 500_000
_WRITER = textwrap.dedent('''
    import resource, signal, sys
    import numpy as np
    import nongate_np as ng

    path, mode, killed_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = ng.nn.Sequential(ng.nn.Linear(300, 400, dtype=np.float64), ng.nn.Tanh())
    for p in model.parameters():
        p.data[...] = 0.25                       # unlike the checkpoint already at path
    if mode == "killed":
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)      # CPython ignores it by default
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (killed_at, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    ng.save(model, path)
''')


def _run_writer(tmp_path, path, mode):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    return subprocess.run([sys.executable, str(script), str(path), mode, str(KILLED_AT)],
                          capture_output=True, text=True, timeout=120)


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    ckdir = tmp_path / "ck"
    ckdir.mkdir()
    path = ckdir / "model.npz"
    model = nn.Sequential(nn.Linear(300, 400, dtype=np.float64), nn.Tanh())
    _randomise(model, 7)
    x = np.random.default_rng(8).normal(size=(4, 300))
    expected = model(x).data
    ng.save(model, path)
    before = path.read_bytes()

    proc = _run_writer(tmp_path, path, "killed")
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr
    temps = [n for n in os.listdir(ckdir) if n != "model.npz"]
    assert len(temps) == 1 and temps[0].startswith(".model.npz.") and \
        temps[0].endswith(".tmp"), os.listdir(ckdir)
    assert os.path.getsize(ckdir / temps[0]) == KILLED_AT, "killed elsewhere than mid-save"

    assert path.read_bytes() == before, "the previous checkpoint was touched"
    loaded = ng.load(path).model
    np.testing.assert_array_equal(loaded(x).data, expected, err_msg="after the killed save")
    # what a non-atomic save would have left at the path is detected as damaged
    with pytest.raises(ng.CheckpointError, match="damaged"):
        ng.load(ckdir / temps[0])


def test_the_same_writer_left_to_finish_replaces_the_checkpoint(tmp_path):
    """The control for the test above: the writer does target ``path``."""
    path = tmp_path / "model.npz"
    ng.save(nn.Linear(2, 2), path)
    proc = _run_writer(tmp_path, path, "finish")
    assert proc.returncode == 0, proc.stderr
    loaded = ng.load(path).model
    assert isinstance(loaded, nn.Sequential)
    assert np.all(loaded[0].weight.data == 0.25)
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "writer.py"]


def test_an_exception_mid_save_removes_the_temporary_file(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Linear(2, 2), path)
    before = path.read_bytes()
    with pytest.raises(OSError) as err, file_size_limit(len(before) // 2):
        ng.save(nn.Linear(3, 3), path)
    assert is_file_too_large(err.value), err.value
    assert str(path) in str(err.value) and "unchanged" in str(err.value)    # it named no path
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


def test_an_os_error_without_an_errno_keeps_its_message(tmp_path):
    """An OSError raised with a message only (a quota a file system reports so) was rebuilt
    as "[Errno None] ... (None)"."""
    from nongate_np.io.atomic import replacing
    path = tmp_path / "m.npz"
    with pytest.raises(OSError, match=r"^save: cannot write .*m\.npz' \(quota exceeded\); "
                                      r"the file there, if any, is unchanged$"):
        with replacing(str(path)):
            raise OSError("quota exceeded")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_save_onto_a_named_pipe_or_a_device_refuses_and_leaves_it(tmp_path):
    """The temporary file was renamed over whatever the path named, so a FIFO became a
    regular file (and, run as root, ng.save(m, "/dev/null") would delete /dev/null)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"save: .*fifo' is a named pipe \(FIFO\), not a "
                                         r"regular file"):
        ng.save(nn.Linear(2, 2), fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["fifo"]
    with pytest.raises(ValueError, match=r"'/dev/null' is a character device"):
        ng.save(nn.Linear(2, 2), "/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_save_keeps_the_replaced_files_permissions(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Linear(2, 2), path)
    os.chmod(path, 0o640)
    ng.save(nn.Linear(2, 2), path)
    assert os.stat(path).st_mode & 0o777 == 0o640


# ---------------------------------------------------------------------------------------------
# damaged, foreign and hostile files
# ---------------------------------------------------------------------------------------------

def _good_file(tmp_path):
    path = tmp_path / "good.npz"
    model = nn.Sequential(nn.Linear(200, 300, dtype=np.float64), nn.Tanh())
    ng.save(model, path)
    return path, path.read_bytes()


def _flip_middle(raw):
    b = bytearray(raw)
    mid = len(b) // 2
    b[mid:mid + 8] = bytes(v ^ 0xFF for v in b[mid:mid + 8])
    return bytes(b)


@pytest.mark.parametrize("damage, message", [
    (_flip_middle, "damaged.*Bad CRC"),
    (lambda raw: raw[: len(raw) // 2], "damaged"),
    (lambda raw: raw[:-1], "damaged"),
    (lambda raw: b"", "damaged"),
    (lambda raw: b"epoch,loss\n1,0.5\n", "damaged"),
], ids=["flipped-bytes", "truncated-half", "truncated-1-byte", "empty", "text"])
def test_damaged_file_raises_checkpoint_error_naming_it(tmp_path, damage, message):
    _, raw = _good_file(tmp_path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(damage(raw))
    with pytest.raises(ng.CheckpointError, match=message) as info:
        ng.load(bad)
    assert str(bad) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ng.CheckpointError):
        ng.load_weights(bad)


def test_single_byte_flips_are_detected_or_harmless(tmp_path):
    """Flip sampled bytes of a small checkpoint: every load either raises CheckpointError or
    returns exactly the saved weights and config (a flip in an unused zip header field)."""
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2))
    opt = ng.optim.Adam(model.parameters())
    model[2](model[1](model[0](np.ones((2, 3)))).astype(np.float32)).sum().backward()
    opt.step()
    path = tmp_path / "m.npz"
    ng.save(model, path, optimizer=opt)
    ref = ng.load(path)
    raw = path.read_bytes()
    bad = tmp_path / "bad.npz"
    outcomes = {"detected": 0, "harmless": 0}
    for i in np.random.default_rng(0).choice(len(raw), size=200, replace=False):
        b = bytearray(raw)
        b[i] ^= 0x5A
        bad.write_bytes(bytes(b))
        try:
            ckpt = ng.load(bad)
        except ng.CheckpointError:
            outcomes["detected"] += 1
            continue
        assert ckpt.config == ref.config, f"byte {i}: config changed silently"
        _assert_same_state(ckpt.state_dict, ref.state_dict, f"byte {i}")
        s, r = ckpt.optimizer.state_dict()["state"], ref.optimizer.state_dict()["state"]
        for k in r:
            for name in r[k]:
                assert np.array_equal(s[k][name], r[k][name]), f"byte {i}: {name}"
        outcomes["harmless"] += 1
    assert outcomes["detected"] > 100, outcomes


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        ng.load(tmp_path / "nothing.npz")


def test_saving_onto_a_directory_names_it_and_leaves_it_alone(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "kept.txt").write_text("mine")
    with pytest.raises(IsADirectoryError, match=r"save: '.*runs' is a directory; give the "
                                                r"path of a file"):
        ng.save(ng.nn.Linear(2, 3), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["kept.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]     # no temporary left


def test_foreign_npz_and_npy_are_refused(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3), b=np.ones(2))
    with pytest.raises(ng.CheckpointError, match="not a nongate_np checkpoint.*entries: a, b"
                       ) as info:
        ng.load(foreign)
    assert str(foreign) in str(info.value)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ng.CheckpointError, match="single .npy array") as info:
        ng.load(single)
    assert str(single) in str(info.value)


_UNPICKLED = []


class _Hostile:
    def __reduce__(self):
        return (_UNPICKLED.append, ("ran code from the file",))


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "hostile.npz"
    ng.save(nn.Linear(2, 2), path)
    with np.load(path) as data:
        entries = {name: data[name] for name in data.files}
    entries["model/weight"] = np.array([_Hostile()], dtype=object)
    np.savez(path, **entries)                  # np.savez pickles the object array
    with pytest.raises(ng.CheckpointError, match="model/weight.*cannot be read") as info:
        ng.load(path)
    assert str(path) in str(info.value)
    assert _UNPICKLED == [], "load unpickled an object array"


def _rewrite_config(path, edit):
    with np.load(path) as data:
        entries = {name: data[name] for name in data.files}
    config = json.loads(entries["__config__"].tobytes().decode("utf-8"))
    edit(config)
    entries["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(path, **entries)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Linear(2, 2), path)
    _rewrite_config(path, lambda c: c.update(format_version=ngio.FORMAT_VERSION + 1,
                                             library_version="9.0"))
    with pytest.raises(ng.CheckpointError, match=r"nongate_np 9\.0 in checkpoint format 2.*"
                       r"reads formats up to 1.*Upgrade") as info:
        ng.load(path)
    assert str(path) in str(info.value)


def test_unknown_model_class_lists_the_registered_ones(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Linear(2, 2), path)
    _rewrite_config(path, lambda c: c["model"].update({"class": "Unheard"}))
    with pytest.raises(ng.CheckpointError, match=r"unknown module class 'Unheard'.*'LSTM'.*"
                       r"'Linear'") as info:
        ng.load(path)
    assert str(path) in str(info.value)
    ng.load_weights(path)       # the weights alone still load


def test_a_checkpoint_without_the_module_key_still_loads(tmp_path):
    """Checkpoints written before specs recorded the defining module."""
    path = tmp_path / "m.npz"
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    ng.save(model, path)

    def drop_module(config):
        del config["model"]["module"]
        for child in config["model"]["config"]["modules"]:
            del child["module"]

    _rewrite_config(path, drop_module)
    loaded = ng.load(path).model
    _assert_same_state(loaded.state_dict(), model.state_dict(), "old-format checkpoint")
    _rewrite_config(path, lambda c: c["model"].update({"class": "Unheard"}))
    with pytest.raises(ng.CheckpointError, match="import the module that defines and "
                       "registers the class before loading"):
        ng.load(path)


def test_weights_that_do_not_fit_the_config_raise_state_dict_error(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), path)
    _rewrite_config(path, lambda c: c["model"]["config"]["modules"][0]["config"].update(
        out_features=4))
    with pytest.raises(nn.StateDictError, match=r"shape mismatch for '0.weight'") as info:
        ng.load(path)
    assert str(path) in str(info.value)
    assert info.value.shape_mismatches[0][0] == "0.weight"


def test_a_config_the_class_refuses_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "m.npz"
    ng.save(nn.Dropout(0.1), path)
    _rewrite_config(path, lambda c: c["model"]["config"].update(p=3.0))
    with pytest.raises(ng.CheckpointError, match=r"\(Dropout\) cannot be rebuilt.*p must be"):
        ng.load(path)


def test_shared_children_that_the_constructor_does_not_tie_are_refused(tmp_path):
    shared = nn.Linear(3, 3)
    path = tmp_path / "tied.npz"
    ng.save(nn.Sequential(shared, nn.Tanh(), shared), path)
    with pytest.raises(ng.CheckpointError, match="silently change which weights are tied"):
        ng.load(path)


# ---------------------------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------------------------

@nn_savable.register_savable(name="test_io.Scaler")
class _Scaler(nn.Module):
    def __init__(self, size, dtype="float32"):
        super().__init__()
        self.w = nn.Parameter(np.ones(size, dtype))
        self.register_buffer("calls", np.zeros((), np.int64))

    def config(self):
        return {"size": self.w.shape[0], "dtype": str(self.w.dtype)}

    def forward(self, x):
        return x * self.w


def test_a_user_class_registers_and_round_trips(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64), _Scaler(3, "float64"))
    _randomise(model, 9)
    model[1].calls[...] = 5
    ng.save(model, tmp_path / "m.npz")
    loaded = ng.load(tmp_path / "m.npz").model
    assert type(loaded[1]) is _Scaler and int(loaded[1].calls) == 5
    x = np.random.default_rng(1).normal(size=(2, 4))
    np.testing.assert_array_equal(loaded(x).data, model(x).data, err_msg="custom module")
    assert nn_savable.savable_modules()["test_io.Scaler"] is _Scaler


@nn_savable.register_savable(name="test_io.Net")
class _Net(nn.Module):
    """A user's model whose config() records no dtype: it is converted after construction."""

    def __init__(self):
        super().__init__()
        self.l = nn.Linear(3, 2)
        self.register_buffer("scale", np.full(2, 0.5, np.float32))

    def config(self):
        return {}

    def forward(self, x):
        return self.l(x) * self.scale


def _net_steps(model: nn.Module, opt, seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=(4, 3))
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()


@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.l.double()],
                         ids=["double", "mixed"])
def test_a_model_converted_after_construction_round_trips_with_its_optimizer(tmp_path,
                                                                              convert):
    """``Net().double()`` whose config() does not say so: the file records each floating
    weight's dtype, load converts the rebuilt model to it; the optimiser's state follows."""
    model = _randomise(_Net(), 5)
    convert(model)
    opt = ng.optim.Adam(model.parameters(), lr=0.01)
    _net_steps(model, opt, seed=6)
    path = tmp_path / "net.npz"
    ng.save(model, path, optimizer=opt)

    ckpt = ng.load(path)
    _assert_same_state(ckpt.model.state_dict(), model.state_dict(), "converted model")
    assert ckpt.model.l.weight.dtype == np.float64
    for saved, restored in zip(opt.state_dict()["state"].values(),
                               ckpt.optimizer.state_dict()["state"].values()):
        assert restored["exp_avg"].dtype == saved["exp_avg"].dtype == np.float64
    _net_steps(model, opt, seed=7)
    _net_steps(ckpt.model, ckpt.optimizer, seed=7)
    _assert_same_state(ckpt.model.state_dict(), model.state_dict(), "after one more step")


def _store_as(key: str, dtype):
    def edit(entries):
        entries["model/" + key] = entries["model/" + key].astype(dtype)
    return edit


def _declare(key: str, dtype: str):
    def edit(entries):
        config = json.loads(entries["__config__"].tobytes().decode("utf-8"))
        config["dtypes"][key] = dtype
        entries["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    return edit


@pytest.mark.parametrize("edit, message", [
    (_store_as("l.weight", np.float32), r"'l.weight' saved as float64, but .* float32"),
    (_store_as("l.bias", np.float16), r"'l.bias' saved as float64, but .* float16"),
    (_declare("l.weight", "float32"), r"'l.weight' is stored as float64 but .*float32"),
    (_declare("l.weight", "float16"), r"'l.weight' saved as float16, but .* float64"),
    (_declare("l.weight", "int64"), r"'l.weight' saved as int64, but .* float64"),
], ids=["weight-edited", "bias-edited", "declared-float32", "declared-float16",
        "declared-int64"])
def test_stored_dtypes_that_disagree_with_the_declared_ones_are_refused(tmp_path, edit,
                                                                         message):
    path = tmp_path / "net.npz"
    ng.save(_Net().double(), path)
    with np.load(path) as data:
        entries = {name: data[name] for name in data.files}
    edit(entries)
    np.savez(path, **entries)
    with pytest.raises(ng.CheckpointError, match=message) as info:
        ng.load(path)
    assert str(path) in str(info.value) and "damaged or was edited" in str(info.value)


def test_a_checkpoint_without_dtypes_loads_as_before(tmp_path):
    """Files written before the per-weight dtypes: the config alone decides, as it did."""
    path = tmp_path / "old.npz"
    model = _randomise(nn.Sequential(nn.Linear(2, 3), nn.Tanh()).double(), 8)
    ng.save(model, path)
    _rewrite_config(path, lambda c: c.pop("dtypes"))
    _assert_same_state(ng.load(path).model.state_dict(), model.state_dict(), "old file")
    ng.save(_Net().double(), path)
    _rewrite_config(path, lambda c: c.pop("dtypes"))
    with pytest.raises(ng.CheckpointError, match="'l.weight' is stored as float64 but the "
                       "saved config builds float32"):
        ng.load(path)


@nn_savable.register_savable(name="test_io.NoArgs")
class _NoArgs(nn.Module):
    """An ``__init__`` callable with no arguments, and no config(): the default serves."""

    def __init__(self, size=3, *args, **kwargs):
        super().__init__()
        self.w = nn.Parameter(np.arange(size, dtype=np.float64))


@nn_savable.register_savable(name="test_io.NeedsSize")
class _NeedsSize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.w = nn.Parameter(np.zeros(size))


def test_a_class_callable_without_arguments_needs_no_config(tmp_path):
    model = _NoArgs()
    model.w.data[...] = [4.0, 5.0, 6.0]
    assert model.config() == {}
    ng.save(model, tmp_path / "m.npz")
    loaded = ng.load(tmp_path / "m.npz").model
    assert type(loaded) is _NoArgs
    _assert_same_state(loaded.state_dict(), model.state_dict(), "_NoArgs")


def test_a_class_whose_init_needs_arguments_must_define_config(tmp_path):
    with pytest.raises(NotImplementedError, match=r"_NeedsSize does not define config\(\): "
                       r"add a method returning its constructor arguments.*requires size"):
        ng.save(_NeedsSize(2), tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_a_taken_name_is_not_silently_reused():
    with pytest.raises(ValueError, match="'Linear' is taken by nongate_np.nn.layers.Linear"):
        @nn_savable.register_savable(name="Linear")
        class Other(nn.Module):
            pass
    with pytest.raises(TypeError, match="subclass of Module"):
        nn_savable.register_savable(int)


# ---------------------------------------------------------------------------------------------
# loading in a fresh process: no import but nongate_np's own
# ---------------------------------------------------------------------------------------------

def _run_python(code: str, *args, env_path=None) -> str:
    env = dict(os.environ)
    if env_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(env_path), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"the subprocess failed:\n{proc.stderr}"
    return proc.stdout


def test_a_multitask_model_loads_after_import_nongate_np_alone(tmp_path):
    """The README's "In an application" snippet: one process trains and saves, another only
    imports nongate_np and loads."""
    _run_python("""
        import sys
        import numpy as np
        import nongate_np as ng
        from nongate_np.nn.multitask import MultiTaskSequenceModel

        path, out = sys.argv[1], sys.argv[2]
        model = MultiTaskSequenceModel(
            [{"name": "topic", "kind": "classification", "num_classes": 3},
             {"name": "tags", "kind": "tagging", "num_classes": 4}],
            vocab_size=11, embed_size=5, hidden_size=6, attn_size=4, dtype=np.float64)
        rng = np.random.default_rng(0)
        for p in model.parameters():
            p.data[...] = rng.normal(0.0, 0.5, p.shape)
        tokens = rng.integers(1, 11, size=(2, 7))
        with ng.backend("numpy"):
            np.save(out, model.encode(tokens))
        np.save(out.replace(".npy", "_tokens.npy"), tokens)
        ng.save(model.eval(), path)
    """, tmp_path / "model.npz", tmp_path / "saved.npy")
    stdout = _run_python("""
        import sys
        import numpy as np
        import nongate_np as ng

        path, tokens, out = sys.argv[1:]
        model = ng.load(path).model
        print(type(model).__module__, type(model).__name__, model.training)
        with ng.backend("numpy"):
            np.save(out, model.encode(np.load(tokens)))
    """, tmp_path / "model.npz", tmp_path / "saved_tokens.npy", tmp_path / "loaded.npy")
    assert stdout.split() == ["nongate_np.nn.multitask", "MultiTaskSequenceModel", "False"]
    np.testing.assert_array_equal(np.load(tmp_path / "loaded.npy"),
                                  np.load(tmp_path / "saved.npy"),
                                  err_msg="encode() of the model loaded in a fresh process")


def test_import_nongate_np_registers_every_savable_class_the_library_defines():
    """Importing every module of the package registers no class that ``import nongate_np``
    had not already registered (a new savable class must be imported by nongate_np.nn)."""
    stdout = _run_python("""
        import importlib, json, pkgutil
        import nongate_np
        from nongate_np.nn.savable import savable_modules

        before = sorted(savable_modules())
        skipped = []
        for info in pkgutil.walk_packages(nongate_np.__path__, "nongate_np."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:   # an optional dependency (cuda, matplotlib)
                if (exc.name or "").startswith("nongate_np"):
                    raise
                skipped.append(info.name)
        after = {name: cls.__module__ for name, cls in savable_modules().items()}
        print(json.dumps({"before": before, "after": after, "skipped": skipped}))
    """)
    found = json.loads(stdout.splitlines()[-1])
    library = {name for name, module in found["after"].items()
               if module.split(".")[0] == "nongate_np"}
    assert "MultiTaskSequenceModel" in library and "LSTM" in library, found
    missing = sorted(library - set(found["before"]))
    assert missing == [], (f"savable classes that `import nongate_np` does not register: "
                           f"{[(n, found['after'][n]) for n in missing]}; import them in "
                           f"nongate_np/nn/__init__.py")


_USER_MODELS = '''
import numpy as np
from nongate_np import nn


@nn.register_savable
class Gain(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.weight = nn.Parameter(np.full(size, 2.0))

    def config(self):
        return {"size": self.weight.shape[0]}

    def forward(self, x):
        return x * self.weight
'''


def test_an_unknown_user_class_names_the_module_to_import(tmp_path):
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(_USER_MODELS)
    path = tmp_path / "gain.npz"
    _run_python("""
        import sys
        import nongate_np as ng
        from userpkg.models import Gain

        ng.save(ng.nn.Sequential(ng.nn.Linear(2, 3), Gain(3)), sys.argv[1])
    """, path, env_path=tmp_path)

    # this process never imported userpkg.models (nor can it: it is not on sys.path)
    assert "userpkg.models" not in sys.modules
    with pytest.raises(ng.CheckpointError, match=r"unknown module class 'Gain'.*import "
                       r"userpkg\.models \(which defines and registers 'Gain'\) before "
                       r"loading") as info:
        ng.load(path)
    assert str(path) in str(info.value)
    assert "userpkg.models" not in sys.modules, "load imported the module named in the file"

    # following the message's advice loads it
    stdout = _run_python("""
        import sys
        import nongate_np as ng
        import userpkg.models

        print(type(ng.load(sys.argv[1]).model[1]).__name__)
    """, path, env_path=tmp_path)
    assert stdout.split() == ["Gain"]


def test_a_class_defined_in_a_script_says_so(tmp_path):
    path = tmp_path / "gain.npz"
    _run_python(_USER_MODELS + """
import sys
import nongate_np as ng
ng.save(Gain(3), sys.argv[1])
""", path)
    with pytest.raises(ng.CheckpointError, match=r"'Gain'.*defined in the script that saved "
                       r"it \(__main__\): move 'Gain' into a module"):
        ng.load(path)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_save_that_cannot_create_its_temporary_file_names_the_target():
    """/proc takes no new files: the error names the path the user gave, not our temporary."""
    with pytest.raises(OSError, match=r"save: cannot write '/proc/x\.npz': a temporary file"):
        ng.save(ng.nn.Linear(2, 1), "/proc/x.npz")


@pytest.mark.parametrize("call, where, given", [
    (lambda: ng.load(None), "load", "NoneType"),
    (lambda: ng.save(ng.nn.Linear(2, 2), 3), "save", "int"),
    (lambda: ngio.load_weights(1.5), "load_weights", "float"),
])
def test_a_path_that_is_not_a_file_name_is_a_type_error_naming_the_function(call, where,
                                                                          given):
    with pytest.raises(TypeError, match=rf"^{where}: path must be a file name \(str or "
                                        rf"os.PathLike\), got {given}$"):
        call()


_DEFINE_AND_SAVE = """
import sys, numpy as np, nongate_np as ng
@ng.nn.register_savable
class Tiny(ng.nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.n = n
        self.w = ng.nn.Parameter(np.arange(n, dtype=np.float64))
    def config(self):
        return {"n": self.n}
model = Tiny()
opt = ng.optim.Adam(model.parameters(), lr=0.1)
(model.w * model.w).sum().backward()
opt.step()
ng.save(model, sys.argv[1], optimizer=opt, extra={"epoch": 4})
"""

_READ_ELSEWHERE = """
import sys, json, numpy as np, nongate_np as ng
try:
    ng.load(sys.argv[1])
except ng.CheckpointError as e:
    print("REFUSED", "Tiny" in str(e))
ckpt = ng.load(sys.argv[1], rebuild=False)
state = ckpt.optimizer_state["state"]
print(json.dumps({"model": ckpt.model is None, "optimizer": ckpt.optimizer is None,
                  "w": ckpt.state_dict["w"].tolist(), "extra": ckpt.extra,
                  "steps": [int(np.asarray(s["step"])) for s in state.values()]}))
"""


def test_load_without_rebuilding_reads_the_states_in_a_process_without_the_class(tmp_path):
    """A process that only moves the states on (to torch, say) need not have the model's
    class: load(rebuild=False) gives the weights, the optimiser's state and extra."""
    path = str(tmp_path / "tiny.npz")
    subprocess.run([sys.executable, "-c", _DEFINE_AND_SAVE, path], check=True)
    run = subprocess.run([sys.executable, "-c", _READ_ELSEWHERE, path], check=True,
                         capture_output=True, text=True)
    refused, read = run.stdout.strip().splitlines()
    assert refused == "REFUSED True"                  # the default still rebuilds
    got = json.loads(read)
    assert got["model"] and got["optimizer"]          # nothing rebuilt
    # Adam's first step moves each weight by lr against its gradient's sign (2w: 0 stays)
    np.testing.assert_allclose(got["w"], [0.0, 0.9, 1.9], atol=1e-6)
    assert got["extra"] == {"epoch": 4} and got["steps"] == [1]


def test_load_rebuild_must_be_a_flag(tmp_path):
    ng.save(nn.Linear(2, 2), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="load: rebuild must be True or False"):
        ng.load(tmp_path / "m.npz", rebuild="no")
    assert ng.load(tmp_path / "m.npz", rebuild=False).model is None
