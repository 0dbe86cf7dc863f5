"""nongate_np.io.safetensors: weights in the safetensors format under PyTorch's key names. Round
trips through ``nongate_np.load``, PyTorch reading our files (and we reading PyTorch's) with
equal outputs, the header, the atomic write, bad files, and the missing package."""

from __future__ import annotations

import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import nongate_np as ng
from nongate_np import nn
from nongate_np.io.safetensors import load_safetensors, save_safetensors
from tests.file_size_limit import file_size_limit, is_file_too_large
from tests.test_io import _assert_same_state, _Net, _randomise

RTOL, ATOL = 1e-10, 1e-12     # float64 against torch, as tests/test_lstm_torch.py


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _lstm() -> nn.LSTM:
    return _randomise(nn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3,
                              batch_first=True, dtype=np.float64), 1)


def _multitask() -> nn.MultiTaskSequenceModel:
    model = nn.MultiTaskSequenceModel(
        [{"name": "topic", "kind": "classification", "num_classes": 3},
         {"name": "tags", "kind": "tagging", "num_classes": 4}],
        vocab_size=11, embed_size=5, hidden_size=6, attn_size=4, dtype=np.float64)
    return _randomise(model, 2).eval()


def _tokens() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 11, size=(2, 7))


def _raw_file(path, header: dict, data: bytes = b"") -> None:
    """A safetensors file written by hand: 8-byte little-endian header size, JSON, data."""
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


# ---------------------------------------------------------------------------------------------
# our own round trips
# ---------------------------------------------------------------------------------------------

def test_lstm_round_trips_through_load(tmp_path):
    model = _lstm()
    x = np.random.default_rng(4).normal(size=(2, 6, 5))
    y, (h, c) = model(x)
    path = tmp_path / "lstm.safetensors"
    save_safetensors(model, path, metadata={"epoch": "7"})

    ng.seed(12345)                      # another init: the weights must come from the file
    ckpt = ng.load(path)
    assert type(ckpt.model) is nn.LSTM and ckpt.model.config() == model.config()
    assert ckpt.extra == {"format": "pt", "epoch": "7"} and ckpt.optimizer is None
    _assert_same_state(ckpt.model.state_dict(), model.state_dict(), "LSTM via load")
    y2, (h2, c2) = ckpt.model(x)
    for name, a, b in (("output", y2, y), ("h_n", h2, h), ("c_n", c2, c)):
        np.testing.assert_array_equal(a.data, b.data, err_msg=f"loaded LSTM {name}")
    _assert_same_state(load_safetensors(path), model.state_dict(), "load_safetensors")
    _assert_same_state(ng.load_weights(path), model.state_dict(), "load_weights")


def test_multitask_model_keeps_mode_and_frozen_parameters(tmp_path):
    model = _multitask()
    model.embed.weight.requires_grad = False
    tokens = _tokens()
    path = tmp_path / "multitask.safetensors"
    save_safetensors(model, path)

    loaded = ng.load(path).model
    assert type(loaded) is nn.MultiTaskSequenceModel and loaded.task_names == ["topic", "tags"]
    assert not any(m.training for m in loaded.modules()), "eval mode was not restored"
    assert loaded.embed.weight.requires_grad is False and loaded.lstm.weight_ih_l0.requires_grad
    np.testing.assert_array_equal(loaded.encode(tokens), model.encode(tokens),
                                  err_msg="encode() of the loaded model")
    np.testing.assert_array_equal(loaded(tokens)["tags"].data, model(tokens)["tags"].data,
                                  err_msg="tagging logits of the loaded model")


def test_a_model_converted_after_construction_round_trips(tmp_path):
    """The per-weight dtypes travel in the metadata too: ``Net().double()`` loads."""
    model = _randomise(_Net(), 4).double()
    path = tmp_path / "net.safetensors"
    save_safetensors(model, path)
    loaded = ng.load(path).model
    _assert_same_state(loaded.state_dict(), model.state_dict(), "Net().double()")


def test_a_state_dict_of_any_layout_round_trips_by_value(tmp_path):
    big_endian = np.arange(4, dtype=">f8")
    state = {"transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
             "big_endian": big_endian, "count": np.int64(4), "mask": np.array([True, False]),
             "half": np.array([0.5, -2.0], np.float16), "tensor": ng.tensor([1.0, 2.0])}
    path = tmp_path / "state.safetensors"
    save_safetensors(state, path)
    got = load_safetensors(path)
    assert list(got) == list(state)
    want = {"transposed": state["transposed"], "big_endian": big_endian,
            "count": np.asarray(4, np.int64), "mask": state["mask"], "half": state["half"],
            "tensor": np.array([1.0, 2.0])}
    for key, value in want.items():
        assert got[key].dtype.name == value.dtype.name and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    assert all(arr.flags.writeable for arr in got.values())
    ckpt = ng.load(path)
    assert ckpt.model is None and sorted(ckpt.state_dict) == sorted(state)


def test_the_file_is_plain_safetensors_with_torch_keys_and_our_config(tmp_path):
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(3, 4)), ("act", nn.Tanh()),
                                       ("out", nn.Linear(4, 2, bias=False))]))
    path = tmp_path / "m.safetensors"
    save_safetensors(model, path, metadata={"note": "x"})
    tensors = safetensors.numpy.load_file(str(path))
    assert sorted(tensors) == ["hidden.bias", "hidden.weight", "out.weight"]
    np.testing.assert_array_equal(tensors["hidden.weight"], model.hidden.weight.data,
                                  err_msg="hidden.weight as safetensors.numpy reads it")
    with safetensors.safe_open(str(path), framework="np") as f:
        metadata = f.metadata()
    assert metadata["format"] == "pt", "Hugging Face transformers needs format=pt"
    assert metadata["note"] == "x"
    config = json.loads(metadata["nongate_np"])
    assert config["format"] == "nongate_np.checkpoint" and config["kind"] == "module"
    assert config["weights"] == ["hidden.weight", "hidden.bias", "out.weight"]
    assert config["model"]["class"] == "Sequential"


# ---------------------------------------------------------------------------------------------
# PyTorch reads ours, we read PyTorch's
# ---------------------------------------------------------------------------------------------

def _assert_lstm_outputs_close(ours, theirs, what: str) -> None:
    """``(output, (h_n, c_n))`` of our LSTM against torch's, float64."""
    (y, (h, c)), (yt, (ht, ct)) = ours, theirs
    for name, a, b in (("output", y, yt), ("h_n", h, ht), ("c_n", c, ct)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what}: {name}")


def _torch_lstm(torch, ours: nn.LSTM):
    return torch.nn.LSTM(ours.input_size, ours.hidden_size, num_layers=ours.num_layers,
                         bidirectional=ours.bidirectional, proj_size=ours.proj_size,
                         batch_first=ours.batch_first, dtype=torch.float64)


@pytest.mark.torch
def test_torch_loads_our_lstm_strictly_and_computes_the_same(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch
    ours = _lstm()
    save_safetensors(ours, tmp_path / "lstm.safetensors")
    theirs = _torch_lstm(torch, ours)
    theirs.load_state_dict(safetensors.torch.load_file(tmp_path / "lstm.safetensors"),
                           strict=True)
    x = np.random.default_rng(5).normal(size=(3, 6, 5))
    _assert_lstm_outputs_close(ours(x), theirs(torch.from_numpy(x)),
                               "torch LSTM from our file")


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["linear", "embedding"])
def test_torch_loads_our_linear_and_embedding(tmp_path, kind):
    torch = pytest.importorskip("torch")
    import safetensors.torch
    if kind == "linear":
        ours = _randomise(nn.Linear(4, 3, dtype=np.float64), 6)
        theirs = torch.nn.Linear(4, 3, dtype=torch.float64)
        x = np.random.default_rng(7).normal(size=(5, 4))
    else:
        ours = _randomise(nn.Embedding(9, 4, padding_idx=0, dtype=np.float64), 6)
        theirs = torch.nn.Embedding(9, 4, padding_idx=0, dtype=torch.float64)
        x = np.random.default_rng(7).integers(0, 9, size=(2, 5))
    save_safetensors(ours, tmp_path / "m.safetensors")
    theirs.load_state_dict(safetensors.torch.load_file(tmp_path / "m.safetensors"),
                           strict=True)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x).data, want, rtol=RTOL, atol=ATOL,
                               err_msg=f"torch {kind} from our file")


@pytest.mark.torch
def test_torch_loads_the_multitask_encoder_and_tagging_head(tmp_path):
    """The parts torch has (Embedding, LSTM, the per-step Linear head) load strictly from the
    model's file under their prefixes, and give the tagging logits."""
    torch = pytest.importorskip("torch")
    import safetensors.torch
    ours = _multitask()
    save_safetensors(ours, tmp_path / "multitask.safetensors")
    state = safetensors.torch.load_file(tmp_path / "multitask.safetensors")

    def part(prefix):
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

    embed = torch.nn.Embedding(11, 5, padding_idx=0, dtype=torch.float64)
    lstm = torch.nn.LSTM(5, 6, batch_first=True, dtype=torch.float64)
    head = torch.nn.Linear(6, 4, dtype=torch.float64)
    for module, prefix in ((embed, "embed."), (lstm, "lstm."), (head, "heads.1.")):
        module.load_state_dict(part(prefix), strict=True)
    tokens = _tokens()
    with torch.no_grad():
        want = head(lstm(embed(torch.from_numpy(tokens)))[0]).numpy()
    np.testing.assert_allclose(ours(tokens)["tags"].data, want, rtol=RTOL, atol=ATOL,
                               err_msg="tagging logits: ours vs torch from our file")


@pytest.mark.torch
def test_we_load_a_file_torch_saved_and_compute_the_same(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=2,
                           dtype=torch.float64)
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), path, metadata={"format": "pt"})

    ours = nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64)
    ours.load_state_dict(load_safetensors(path), strict=True)
    x = np.random.default_rng(8).normal(size=(6, 3, 4))
    _assert_lstm_outputs_close(ours(x), theirs(torch.from_numpy(x)),
                               "our LSTM from torch's file")
    _assert_same_state(ng.load_weights(path), load_safetensors(path), "load_weights")
    # no nongate_np config in torch's file: load() says how to use the weights instead
    with pytest.raises(ng.CheckpointError, match=r"without a nongate_np config \(its metadata "
                       r"keys: format\).*load_state_dict\(load_safetensors\(path\)\)") as info:
        ng.load(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# bad files: a CheckpointError naming the path
# ---------------------------------------------------------------------------------------------

def _good_bytes(tmp_path) -> bytes:
    path = tmp_path / "good.safetensors"
    save_safetensors(_randomise(nn.Linear(30, 40, dtype=np.float64), 9), path)
    return path.read_bytes()


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-1], "damaged.*not fully covered"),
    (lambda raw: raw[: len(raw) // 2], "damaged"),
    (lambda raw: raw[:20], "damaged"),
    (lambda raw: b"", "damaged"),
    (lambda raw: b"epoch,loss\n1,0.5\n", "damaged"),
], ids=["truncated-1-byte", "truncated-half", "truncated-header", "empty", "text"])
def test_damaged_and_foreign_files_are_refused_naming_the_path(tmp_path, damage, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(_good_bytes(tmp_path)))
    for read in (load_safetensors, ng.load, ng.load_weights):
        with pytest.raises(ng.CheckpointError, match=message) as info:
            read(bad)
        assert str(bad) in str(info.value), read.__name__


def test_a_dtype_numpy_lacks_is_named(tmp_path):
    path = tmp_path / "bf16.safetensors"
    _raw_file(path, {"__metadata__": {"format": "pt"},
                     "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                     "emb": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 8]}},
              np.float32(1.0).tobytes() + b"\x80\x3f\x00\x40")
    with pytest.raises(ng.CheckpointError, match=r"'emb' \(BF16\).*NumPy has no type.*"
                       r"v\.float\(\)") as info:
        load_safetensors(path)
    assert str(path) in str(info.value) and "'w'" not in str(info.value)


def _linear_file(path):
    """A saved Linear(2, 2) as parts to edit: its tensors, metadata and config."""
    save_safetensors(nn.Linear(2, 2), path)
    with safetensors.safe_open(str(path), framework="np") as f:
        metadata = f.metadata()
    return safetensors.numpy.load_file(str(path)), metadata, json.loads(metadata["nongate_np"])


def _rewrite(path, tensors, metadata, config) -> None:
    safetensors.numpy.save_file(tensors, str(path),
                                metadata={**metadata, "nongate_np": json.dumps(config)})


def test_a_config_that_does_not_match_the_tensors_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors, metadata, config = _linear_file(path)
    del tensors["bias"]                                # the config still lists it
    _rewrite(path, tensors, metadata, config)
    for read in (load_safetensors, ng.load):
        with pytest.raises(ng.CheckpointError, match=r"listed but absent: \['bias'\]"):
            read(path)
    config["format_version"] += 1
    _rewrite(path, tensors, metadata, config)
    with pytest.raises(ng.CheckpointError, match="Upgrade nongate_np"):
        ng.load(path)
    safetensors.numpy.save_file(tensors, str(path), metadata={"nongate_np": "{not json"})
    with pytest.raises(ng.CheckpointError, match="config cannot be read"):
        ng.load(path)


def test_an_unknown_class_in_the_metadata_names_its_module(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors, metadata, config = _linear_file(path)
    config["model"].update({"class": "Gain", "module": "userpkg.models"})
    _rewrite(path, tensors, metadata, config)
    with pytest.raises(ng.CheckpointError, match=r"unknown module class 'Gain'.*import "
                       r"userpkg\.models \(which defines and registers 'Gain'\)"):
        ng.load(path)
    assert "userpkg" not in sys.modules
    assert sorted(load_safetensors(path)) == ["bias", "weight"]    # the weights still load


def test_a_missing_file_raises_file_not_found(tmp_path):
    for read in (load_safetensors, ng.load):
        with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
            read(tmp_path / "nothing.safetensors")


# ---------------------------------------------------------------------------------------------
# save: refused before anything is written; atomic
# ---------------------------------------------------------------------------------------------

class _Unregistered(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.zeros(2))


@pytest.mark.parametrize("obj, kwargs, error, message", [
    (nn.Linear(2, 2), {"metadata": {"epoch": 3}}, TypeError, r"str to str.*'epoch': 3"),
    (nn.Linear(2, 2), {"metadata": ["a"]}, TypeError, "dict of str to str, got list"),
    (nn.Linear(2, 2), {"metadata": {"nongate_np": "{}"}}, ValueError, "reserved"),
    ({"w": np.zeros(2, np.complex128)}, {}, TypeError, r"'w' has dtype complex128.*float64"),
    ({"w": np.array(["a"])}, {}, TypeError, r"'w' has dtype <U1"),
    (_Unregistered(), {}, TypeError, "_Unregistered.*register_savable"),
    ([1, 2], {}, TypeError, "expected a Module or a state dict"),
], ids=["metadata-int", "metadata-list", "metadata-reserved", "complex128", "str-array",
        "unregistered", "list"])
def test_bad_input_is_refused_and_the_old_file_kept(tmp_path, obj, kwargs, error, message):
    path = tmp_path / "m.safetensors"
    save_safetensors(nn.Linear(3, 3), path)
    before = path.read_bytes()
    with pytest.raises(error, match=message):
        save_safetensors(obj, path, **kwargs)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]


def test_save_refuses_a_safetensors_name(tmp_path):
    with pytest.raises(ValueError, match=r"names a \.safetensors file.*save_safetensors"):
        ng.save(nn.Linear(2, 2), tmp_path / "model.safetensors")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save_safetensors(nn.Linear(2, 2), path)
    before = path.read_bytes()
    with pytest.raises(OSError) as err, file_size_limit(len(before) // 2):
        save_safetensors(nn.Linear(3, 3), path)
    assert is_file_too_large(err.value), err.value
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]
    os.chmod(path, 0o640)
    save_safetensors(nn.Linear(3, 3), path)
    assert os.stat(path).st_mode & 0o777 == 0o640, "the replaced file's permissions"
    assert load_safetensors(path)["weight"].shape == (3, 3)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .*nowhere"):
        save_safetensors(nn.Linear(2, 2), tmp_path / "nowhere" / "m.safetensors")


# ---------------------------------------------------------------------------------------------
# without the safetensors package
# ---------------------------------------------------------------------------------------------

def test_without_safetensors_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_safetensors(nn.Linear(2, 2), path)
    for name in ("safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, name, None)     # makes `import safetensors` fail
    hint = r"pip install safetensors \(or, in the checkout, pip install -e '\.\[safetensors\]'\)"
    with pytest.raises(ImportError, match=hint):
        save_safetensors(nn.Linear(2, 2), tmp_path / "other.safetensors")
    for read in (load_safetensors, ng.load):
        with pytest.raises(ImportError, match=hint):
            read(path)
    ng.save(nn.Linear(2, 2), tmp_path / "m.npz")      # .npz checkpoints need no safetensors
    assert type(ng.load(tmp_path / "m.npz").model) is nn.Linear
