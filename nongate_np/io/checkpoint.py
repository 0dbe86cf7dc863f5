"""Checkpoints without pickle: ``save(model, path)`` and ``load(path)``.

A checkpoint is one ``.npz`` file (a zip of ``.npy`` arrays, readable by ``np.load`` alone):

================================  ===========================================================
entry                             holds
================================  ===========================================================
``__config__``                    uint8 array: UTF-8 JSON, described below
``model/<key>``                   one per ``state_dict`` entry, under torch's key name
                                  (``model/weight_ih_l0``, ``model/0.bias``), dtype kept
``optimizer/state/<i>/<name>``    the optimiser's per-parameter arrays (``exp_avg``, ...)
================================  ===========================================================

The JSON config::

    {"format": "nongate_np.checkpoint", "format_version": 1, "library_version": "0.1.0",
     "kind": "module",                        # or "state_dict" (a plain dict was saved)
     "model": {"class": "LSTM", "module": "nongate_np.nn.lstm",  # module: see below
               "config": {"input_size": 8, ..., "dtype": "float64"}},
     "training": true,                        # the model's mode, restored on load
     "frozen": ["embed.weight"],              # parameters with requires_grad False
     "tied": [["a.weight", "b.weight"]],      # state keys that are one shared array
     "dtypes": {"weight_ih_l0": "float64", ...},  # each floating weight's dtype (see below)
     "weights": ["weight_ih_l0", ...],        # state_dict keys, in order
     "optimizer": {"class": "Adam", "defaults": {...},
                   "param_groups": [{"params": ["weight_ih_l0", ...], "lr": 0.001, ...}],
                   "state": {"0": {"scalars": {"step": 3},
                                   "arrays": {"exp_avg": "optimizer/state/0/exp_avg"}}}},
     "extra": {...}}                          # the user's JSON, as given

``"dtypes"`` lets a model converted after construction (``Net().double()``, whose
``config()`` does not record a dtype) load: ``load`` builds the model from its config, gives
each floating parameter and buffer the dtype listed for it, then refuses any weight stored
in a dtype other than its parameter's, as for a file without ``"dtypes"`` (written before
they were recorded), where the config alone decides.

Models are rebuilt by registered class name (``nn.savable.register_savable``), never by
import path, and files are read with ``np.load(..., allow_pickle=False)`` only: loading a
checkpoint runs no code from it. Every class nongate_np defines is registered by ``import
nongate_np``; for another class, the spec's ``"module"`` (its ``__module__``; absent in older
checkpoints) lets the error name the module to import, which ``load`` itself never does.
Writes are atomic: a temporary file in the target's directory is written, flushed, fsync'ed
and renamed over the target, so a crash during ``save`` leaves the previous file intact (and,
at worst, a stale ``.<name>.<tag>-<pid>.*.tmp`` file, which the next save of that path
removes once its writer is gone: ``atomic.remove_stale_temporaries``).

A checkpoint is untrusted input. Loading runs no code from it (no pickle; classes by
registered name only), and what it costs is bounded by the file, whatever sizes it
declares: each ``.npy`` member's header (shape x dtype) must match the bytes the zip holds
for it, and the zip's sizes the file's, before NumPy allocates anything (a bare ``.npy`` is
refused unread); the model a config describes may register no more parameter and buffer
bytes than twice the weights stored, plus 1 MiB (``nn.module.build_budget``), checked
before its weights are initialised; a safetensors header is limited to 100 MB and its
offsets checked against the file by the ``safetensors`` package. Every config field is
type-checked, so a damaged or edited file is a CheckpointError naming the path, never a
TypeError from deep inside ``load``.

``load`` and ``load_weights`` also read a ``.safetensors`` file (told apart by its content):
``safetensors.save_safetensors`` keeps the same config, less the optimiser, in the safetensors
metadata, so ``load`` rebuilds the model from it too (see ``nongate_np.io.safetensors``).
"""

from __future__ import annotations

import collections
import inspect
import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import __version__, optim
from ..arguments import check_flag
from ..nn.module import BuildBudgetError, Module, StateDictError, build_budget
from ..nn.savable import build_module, module_spec
from ..tensor import Tensor
from .atomic import write_npz_atomically
from .paths import fspath

__all__ = ["save", "load", "load_weights", "Checkpoint", "CheckpointError", "FORMAT",
           "FORMAT_VERSION"]

FORMAT = "nongate_np.checkpoint"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"
_MODEL = "model/"
_OPTIMIZERS = {cls.__name__: cls for cls in (optim.SGD, optim.Adam, optim.AdamW)}


class CheckpointError(ValueError):
    """A file that is not a readable nongate_np checkpoint: damaged, truncated, foreign,
    written by a newer format, or naming a model class this process does not know."""


@dataclass(repr=False)
class Checkpoint:
    """What :func:`load` returns.

    Attributes
    ----------
    model : Module or None
        The rebuilt model with its weights, mode (train/eval) and frozen parameters
        restored; None when a plain state dict was saved.
    optimizer : Optimizer or None
        Rebuilt over ``model.parameters()`` with its hyper-parameters and state, so
        training continues exactly; None when none was saved.
    extra : dict
        The ``extra=`` given to :func:`save` (after a JSON round trip: tuples are lists).
    config : dict
        The whole JSON config (see the module docstring).
    version : str
        The nongate_np version that wrote the file.
    state_dict : dict of str to ndarray
        The saved weights under their ``state_dict`` keys.
    optimizer_state : dict or None
        The optimiser's ``state_dict()`` as saved, for loading into an optimiser you build.
    path : str
    """

    model: Module | None
    optimizer: optim.Optimizer | None
    extra: dict
    config: dict
    version: str
    state_dict: dict = field(default_factory=dict)
    optimizer_state: dict | None = None
    path: str = ""

    def __repr__(self) -> str:
        model, opt = (None if x is None else type(x).__name__
                      for x in (self.model, self.optimizer))
        return (f"Checkpoint(path={self.path!r}, model={model}, optimizer={opt}, "
                f"version={self.version!r}, "
                f"weights={len(self.state_dict)}, extra keys={sorted(self.extra)})")


# -- save ------------------------------------------------------------------------------------
def save(obj, path, *, optimizer: optim.Optimizer | None = None,
         extra: dict | None = None) -> None:
    """Write ``obj`` (and optionally its optimiser) to ``path`` as one ``.npz`` checkpoint.

    Parameters
    ----------
    obj : Module or mapping of str to array
        A model whose class (and every sub-module's class) is registered with
        ``register_savable``, or a plain ``state_dict``.
    path : str or os.PathLike
        The file to write, exactly as named (no ``.npz`` is appended). An existing file is
        replaced atomically; a symlink is followed.
    optimizer : Optimizer, optional
        SGD, Adam or AdamW over parameters of ``obj`` (which must then be a Module).
    extra : dict, optional
        JSON-ready values to keep (epoch, metrics, ...): str keys; str, int, float, bool,
        None, lists and dicts (NumPy scalars are converted, tuples become lists). A
        ``collections.Counter`` of int keys (MultiStepLR's ``milestones`` in its
        ``state_dict()``, torch's form) is written with its keys as str, as JSON writes
        them, and comes back as a dict of str keys, which MultiStepLR's
        ``load_state_dict`` reads.

    Raises
    ------
    TypeError
        Unregistered module class, non-JSON values in ``extra`` or a config, object arrays.
    ValueError
        The optimiser holds parameters that are not in ``obj``; ``path`` ends in
        ``.safetensors`` (use ``save_safetensors`` for that format).
    """
    path = fspath("save", path)
    if path.lower().endswith(".safetensors"):
        raise ValueError(f"save: {path!r} names a .safetensors file, but save writes the "
                         ".npz checkpoint format (which other libraries cannot read under "
                         "that name); use save_safetensors(obj, path) from "
                         "nongate_np.io, or name the file .npz")
    config, arrays = _pack(obj, optimizer, extra)
    blob = json.dumps(config, ensure_ascii=False).encode("utf-8")
    arrays = {CONFIG_KEY: np.frombuffer(blob, dtype=np.uint8), **arrays}
    write_npz_atomically(os.path.realpath(path), arrays)


def _pack(obj, optimizer, extra) -> tuple[dict, dict]:
    """The JSON config and the arrays to store, everything validated before any write."""
    if optimizer is not None and not isinstance(obj, Module):
        raise TypeError(f"save: optimizer= needs the model itself (a Module), so that its "
                        f"parameters can be named; got a {type(obj).__name__}")
    config, state = describe(obj, "save")
    arrays = {_MODEL + key: arr for key, arr in state.items()}
    config["optimizer"] = None
    if optimizer is not None:
        params = list(obj.named_parameters(remove_duplicate=False))
        config["optimizer"], opt_arrays = _pack_optimizer(optimizer, params, type(obj))
        arrays.update(opt_arrays)
    config["extra"] = _json_ready({} if extra is None else extra, "extra")
    if not isinstance(config["extra"], dict):
        raise TypeError(f"save: extra must be a dict, got {type(extra).__name__}")
    return config, arrays


def describe(obj, caller: str) -> tuple[dict, dict]:
    """The config of a Module or state dict (format, kind, model, training, frozen, tied,
    weights; no optimiser, no extra) and its ``state_dict``, validated for any container
    (``caller`` prefixes the errors). Shared with ``safetensors.save_safetensors``."""
    config = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "library_version": __version__}
    if isinstance(obj, Module):
        spec = _json_ready(module_spec(obj), f"the config of {type(obj).__name__}", caller)
        state = obj.state_dict()
        config.update(kind="module", model=spec, training=bool(obj.training),
                      frozen=[n for n, p in obj.named_parameters() if not p.requires_grad],
                      tied=_tied_groups(obj), dtypes={key: arr.dtype.name for key, arr
                                                      in state.items() if arr.dtype.kind == "f"})
    elif isinstance(obj, Mapping):
        nested = [key for key, value in obj.items() if isinstance(value, Mapping)]
        if nested:
            raise TypeError(f"{caller}: state {nested[0]!r} is a dict: a dict of state dicts is "
                            "PyTorch's checkpoint ({'model': model.state_dict(), 'optimizer': "
                            "opt.state_dict(), 'epoch': 3}); here save the model itself, "
                            "ng.save(model, path, optimizer=opt, extra={'epoch': 3}), which "
                            "ng.load rebuilds with its optimiser, or ng.save(model.state_dict(), "
                            "path) for the weights alone")
        state = {_check_key(k, caller): _state_array(v) for k, v in obj.items()}
        config.update(kind="state_dict")
    else:
        raise TypeError(f"{caller}: expected a Module or a state dict (mapping of names to "
                        f"arrays), got {type(obj).__name__}")
    for key, arr in state.items():
        if arr.dtype.hasobject:
            raise TypeError(f"{caller}: state {key!r} has dtype {arr.dtype}; only numeric "
                            "arrays can be saved (object arrays would need pickle)")
    config["weights"] = list(state)
    return config, state


def _pack_optimizer(opt, named_params, model_cls) -> tuple[dict, dict]:
    cls_name = type(opt).__name__
    if _OPTIMIZERS.get(cls_name) is not type(opt):
        raise TypeError(f"save: cannot save a {cls_name} optimiser; supported are "
                        f"{sorted(_OPTIMIZERS)} (save opt.state_dict() arrays yourself)")
    names = {}
    for name, p in named_params:
        names.setdefault(id(p), name)
    sd = opt.state_dict()
    groups = []
    for k, (group, packed) in enumerate(zip(opt.param_groups, sd["param_groups"])):
        foreign = [i for i, p in enumerate(group["params"]) if id(p) not in names]
        if foreign:
            raise ValueError(f"save: the optimiser's parameter group {k} holds "
                             f"{len(foreign)} parameter(s) (positions {foreign[:5]}) that are "
                             f"not parameters of the {model_cls.__name__} being saved")
        hp = {key: value for key, value in packed.items() if key != "params"}
        groups.append({"params": [names[id(p)] for p in group["params"]], **hp})
    state, arrays = {}, {}
    for idx, entries in sd["state"].items():
        scalars, stored = {}, {}
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                stored[key] = f"optimizer/state/{idx}/{key}"
                arrays[stored[key]] = value
            else:
                scalars[key] = value
        state[str(idx)] = {"scalars": scalars, "arrays": stored}
    defaults = {k: v for k, v in opt.defaults.items() if v is not optim.required}
    packed = {"class": cls_name, "defaults": defaults, "param_groups": groups, "state": state}
    return _json_ready(packed, f"the {cls_name} optimiser's state"), arrays


def _tied_groups(model: Module) -> list[list[str]]:
    """State keys that name one shared array, e.g. ``[["enc.weight", "dec.weight"]]``."""
    by_id: dict[int, list[str]] = {}
    for name, value in [*model.named_parameters(remove_duplicate=False),
                        *model.named_buffers(remove_duplicate=False)]:
        by_id.setdefault(id(value), []).append(name)
    return [names for names in by_id.values() if len(names) > 1]


def _check_key(key, caller: str) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"{caller}: state dict keys must be non-empty str, got {key!r}")
    return key


def _state_array(value) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    return arr


def _json_ready(value, where: str, caller: str = "save"):
    """A copy of ``value`` that ``json`` writes and reads back unchanged, or a TypeError
    naming where the bad value sits (``extra['metrics'][2]``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, f"{where}[{k}]", caller) for k, v in enumerate(value)]
    if isinstance(value, collections.Counter) and all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in value):
        # NOTE: MultiStepLR's milestones (torch's form): its load_state_dict takes str keys
        value = {str(k): v for k, v in value.items()}
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{caller}: {where} has the key {k!r} ({type(k).__name__}); "
                                "JSON keys must be str (json would silently turn it into a "
                                "str)")
            out[k] = _json_ready(v, f"{where}[{k!r}]", caller)
        return out
    hint = " (use .tolist(), or save arrays as weights)" if isinstance(value, np.ndarray) \
        else ""
    raise TypeError(f"{caller}: {where} is a {type(value).__name__}, which JSON cannot hold; "
                    f"use str, int, float, bool, None, lists and dicts{hint}")


# -- load ------------------------------------------------------------------------------------
def load(path, *, rebuild: bool = True) -> Checkpoint:
    """Read a checkpoint written by :func:`save` (or a ``.safetensors`` file written by
    ``safetensors.save_safetensors``) and rebuild what it holds.

    ``rebuild=False`` reads it without rebuilding the model or the optimiser (no class
    needs to be registered: a process that only reads the states, such as one moving them
    to torch): ``.model`` and ``.optimizer`` are None, everything else as saved.

    Returns
    -------
    Checkpoint
        ``.model`` (weights loaded strictly; same train/eval mode and frozen parameters as
        when saved), ``.optimizer``, ``.extra``, ``.config``, ``.version``,
        ``.state_dict``, ``.optimizer_state``. From a safetensors file: no optimiser, and
        ``.extra`` is the header's metadata (str to str).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    IsADirectoryError, PermissionError
        ``path`` is a directory, or cannot be read (as ``open`` raises them, naming it).
    CheckpointError
        Neither an npz nor a safetensors file (text, empty, truncated, corrupted, a PNG, a
        torch ``.pt``), one without a nongate_np config, a newer format version, an
        unregistered model class (the message names the module that defined it), a config
        the class refuses or that is malformed, an entry whose declared shape needs more
        bytes than the file holds for it, a config describing a bigger model than the
        weights stored; the message names the path.
    ImportError
        A safetensors file, and the ``safetensors`` package is not installed.
    StateDictError
        The weights do not fit the model the config builds (message prefixed by the path).
    """
    path = fspath("load", path)
    check_flag(rebuild, "rebuild", "load")
    config, arrays = _read_any(path)
    weights = {key: arrays[_MODEL + key] for key in config["weights"]}
    ckpt = Checkpoint(model=None, optimizer=None, extra=config.get("extra") or {},
                      config=config, version=config.get("library_version", "?"),
                      state_dict=weights, path=path)
    if config["kind"] == "module":
        if rebuild:
            ckpt.model = _rebuild_model(path, config, weights)
    elif config["kind"] != "state_dict":
        raise CheckpointError(f"{path}: unknown checkpoint kind {config['kind']!r}; expected "
                              "'module' or 'state_dict'")
    if config.get("optimizer") is not None:
        ckpt.optimizer_state = _optimizer_state(path, config["optimizer"], arrays)
        if ckpt.model is not None:
            ckpt.optimizer = _rebuild_optimizer(path, config["optimizer"],
                                                ckpt.optimizer_state, ckpt.model)
    return ckpt


def load_weights(path) -> dict[str, np.ndarray]:
    """Only the saved ``state_dict`` (``{key: ndarray}``), without rebuilding the model:
    for ``my_model.load_state_dict(load_weights(path))``. Reads a checkpoint and any
    ``.safetensors`` file (``safetensors.load_safetensors``). Raises as :func:`load`."""
    path = fspath("load_weights", path)
    st = _safetensors()
    if st.is_safetensors(path):
        return st.load_safetensors(path)
    config, arrays = _read(path)
    return {key: arrays[_MODEL + key] for key in config["weights"]}


def _safetensors():
    # NOTE: imported on use: io.safetensors imports this module.
    from . import safetensors
    return safetensors


def _read_any(path: str) -> tuple[dict, dict]:
    """``_read`` for a checkpoint; the same (config, arrays) from a ``.safetensors`` file
    that ``safetensors.save_safetensors`` wrote (told apart by content, not by name)."""
    st = _safetensors()
    if st.is_safetensors(path):
        config, weights = st.read_checkpoint(path)
        return config, {_MODEL + key: arr for key, arr in weights.items()}
    return _read(path)


def _read(path: str) -> tuple[dict, dict]:
    """The validated JSON config and every array it names, read eagerly (so a damaged
    member is reported here, naming ``path``)."""
    damaged = f"{path}: not a nongate_np checkpoint, or the file is damaged"
    with open(path, "rb") as f:          # FileNotFoundError, PermissionError: as they are
        head = f.read(6)
        f.seek(0)
        if head.startswith(b"\x93NUMPY"):
            # NOTE: refused unread: np.load would allocate whatever shape its header claims.
            raise CheckpointError(f"{path}: holds a single .npy array, not a nongate_np "
                                  "checkpoint (an .npz archive with a config)")
        if not head.startswith(b"PK"):
            raise CheckpointError(f"{damaged} (it is neither an .npz archive nor a "
                                  f".safetensors file; it starts with {head!r})")
        try:
            data = np.load(f, allow_pickle=False)
        except Exception as exc:
            raise CheckpointError(f"{damaged} (it is not a .safetensors file and cannot be "
                                  f"read as an .npz archive: {type(exc).__name__}: {exc})"
                                  ) from exc
        with data:
            if CONFIG_KEY not in data.files and any(
                    name.endswith("data.pkl") for name in data.files):
                raise CheckpointError(
                    f"{path}: a PyTorch file (torch.save's archive, pickled), not a nongate_np "
                    f"checkpoint; in PyTorch, load it and pass {{k: v.numpy() for k, v in "
                    f"state_dict.items()}} to model.load_state_dict, or save it with "
                    f"safetensors.torch.save_file and read that with ng.load_safetensors")
            if CONFIG_KEY not in data.files:
                names = ", ".join(data.files[:8]) + (", ..." if len(data.files) > 8 else "")
                raise CheckpointError(f"{path}: an .npz archive but not a nongate_np "
                                      f"checkpoint: it has no {CONFIG_KEY!r} entry (its "
                                      f"entries: {names or 'none'}); read it with np.load")
            config = _parse_config(path, _member(data, CONFIG_KEY, path, damaged))
            names = [_MODEL + key for key in config["weights"]]
            opt = config.get("optimizer")
            if opt is not None:
                names += [a for e in opt["state"].values() for a in e["arrays"].values()]
            arrays = {name: _member(data, name, path, damaged) for name in names}
    return config, arrays


def _member(data, name: str, path: str, damaged: str) -> np.ndarray:
    if name not in data.files:
        raise CheckpointError(f"{damaged}: the entry {name!r} that its config lists is "
                              "missing")
    try:
        _check_member_size(data.zip, name, path, damaged)
        return data[name]
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{damaged}: the entry {name!r} cannot be read "
                              f"({type(exc).__name__}: {exc})") from exc


# Deflate expands at most 1032-fold, so a member claiming more than this many bytes per
# stored byte is a lie, whatever its CRC (a "zip bomb").
_DEFLATE_MAX_RATIO = 1032


def _check_member_size(archive, name: str, path: str, damaged: str) -> None:
    """Refuse an ``.npy`` member whose header declares more data than the file holds, before
    NumPy allocates the declared shape (``np.load`` trusts the header: a forged shape of
    10**12 floats would allocate 4 TB; one whose product overflows int64 a wrong size).

    The zip's own sizes are checked against the file too: the stored bytes must lie inside
    the file, and the unpacked size must be reachable from them (equal when stored,
    at most 1032-fold when deflated). Then the data the header declares (shape x itemsize,
    in Python ints) must be exactly the member's size less its header. So no load allocates
    more than the file can fill (for the uncompressed members ``save`` writes: the file's
    own size)."""
    info = archive.getinfo(name + ".npy")
    size = os.fstat(archive.fp.fileno()).st_size
    if info.compress_size > size - info.header_offset or info.file_size < 0 or \
            info.file_size > max(info.compress_size, 1) * (
                1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO):
        raise CheckpointError(f"{damaged}: the zip directory gives the entry {name!r} "
                              f"{info.file_size} bytes ({info.compress_size} stored), more "
                              f"than the {size}-byte file can hold")
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)(member)
        except Exception as exc:
            raise CheckpointError(f"{damaged}: the entry {name!r} has no valid .npy header "
                                  f"({type(exc).__name__}: {exc})") from exc
        header = member.tell()
    if dtype.hasobject:
        raise CheckpointError(f"{damaged}: the entry {name!r} cannot be read: it holds "
                              f"Python objects (dtype {dtype}), which would need pickle")
    declared = math.prod(shape) * dtype.itemsize
    if declared != info.file_size - header:
        raise CheckpointError(f"{damaged}: the entry {name!r} declares shape {shape} of "
                              f"{dtype} ({declared} bytes of data) but holds "
                              f"{info.file_size - header} bytes; nothing was allocated")


def _parse_config(path: str, raw: np.ndarray) -> dict:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: not a nongate_np checkpoint, or the file is damaged "
                              f"(its config cannot be read: {CONFIG_KEY} has dtype "
                              f"{raw.dtype} and shape {raw.shape}, expected 1-D uint8 "
                              "(UTF-8 JSON))")
    return parse_config(path, raw.tobytes(), f"a {CONFIG_KEY!r} entry")


def parse_config(path: str, blob: bytes | str, where: str) -> dict:
    """The checkpoint config in ``blob`` (UTF-8 JSON), validated; ``where`` names what held
    it in the file (the npz entry, the safetensors metadata key) for the errors."""
    try:
        config = json.loads(blob.decode("utf-8") if isinstance(blob, bytes) else blob)
        if not isinstance(config, dict):
            raise ValueError(f"the config is a JSON {type(config).__name__}, not an object")
    except (ValueError, RecursionError) as exc:   # Unicode/JSONDecodeError; deep nesting
        raise CheckpointError(f"{path}: not a nongate_np checkpoint, or the file is damaged "
                              f"(its config cannot be read: {exc})") from exc
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: has {where} but its format is "
                              f"{config.get('format')!r}, not {FORMAT!r}")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by nongate_np {config.get('library_version', '?')} in checkpoint "
            f"format {version}; this nongate_np ({__version__}) reads formats up to "
            f"{FORMAT_VERSION}. Upgrade nongate_np to load it")
    problems = [f"{key} ({words})" for key, (kind, words) in _SCHEMA.items()
                if (key in config or key in ("kind", "weights"))
                and not _fits(config.get(key), kind)]
    if config.get("kind") == "module" and not _fits(config.get("model"), _MODEL_SPEC):
        problems.append("model (a dict with str 'class' and dict 'config')")
    if problems:
        raise CheckpointError(f"{path}: the config is malformed (missing or invalid: "
                              f"{'; '.join(problems)}); the file is damaged or was edited")
    opt = config.get("optimizer")
    if opt is not None and not _fits(opt, _OPTIMIZER_SPEC):
        raise CheckpointError(f"{path}: the optimiser section of the config is malformed "
                              "(expected class: str, defaults: dict, param_groups: a list of "
                              "dicts with a list of str 'params', state: str to {scalars: "
                              "dict, arrays: str to str}); the file is damaged or was edited")
    return config


# The shape of a config, checked before any field is used, so a damaged or edited one is a
# CheckpointError and never a TypeError deep inside load: a type, or [item] for a list of
# items, {str: value} for a dict of values, or {"key": kind, ...} for required keys.
_STRS = [str]
_SCHEMA = {"kind": (str, "a str"), "weights": (_STRS, "a list of str"),
           "library_version": (str, "a str"), "training": (bool, "a bool"),
           "frozen": (_STRS, "a list of str"), "tied": ([_STRS], "a list of lists of str"),
           "extra": (dict, "a dict"), "model": (dict, "a dict"),
           "dtypes": ({str: str}, "a dict of str to str")}
_MODEL_SPEC = {"class": str, "config": dict}
_OPTIMIZER_SPEC = {"class": str, "defaults": dict,
                   "param_groups": [{"params": _STRS}],
                   "state": {str: {"scalars": dict, "arrays": {str: str}}}}


def _fits(value, kind) -> bool:
    """Whether the JSON ``value`` has the shape ``kind`` describes (see ``_SCHEMA``)."""
    if isinstance(kind, type):
        return isinstance(value, kind)
    if isinstance(kind, list):
        return isinstance(value, list) and all(_fits(v, kind[0]) for v in value)
    if not isinstance(value, dict):
        return False
    if str in kind:
        return all(_fits(v, kind[str]) for v in value.values())
    return all(key in value and _fits(value[key], sub) for key, sub in kind.items())


def _later(version, than: str) -> bool:
    """Whether the release ``version`` ("0.2.0") comes after ``than``; False for anything
    that is not numbers and dots."""
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))
    try:
        return parts(version) > parts(than)
    except (AttributeError, ValueError):
        return False


def _rebuild_model(path: str, config: dict, weights: dict) -> Module:
    spec = config.get("model")
    stored = sum(arr.nbytes for arr in weights.values())
    try:
        # NOTE: the config could describe any size of model; the one it may build is bounded
        # by the weights the file holds (twice, and 1 MiB, for buffers not saved).
        with build_budget(2 * stored + 2**20):
            model = build_module(spec)
    except KeyError as exc:        # an unregistered class name
        raise CheckpointError(f"{path}: {exc.args[0]}") from exc
    except BuildBudgetError as exc:
        raise CheckpointError(f"{path}: its config describes a bigger model than the "
                              f"{stored} bytes of weights it stores ({exc}); the file is "
                              "damaged or was edited") from exc
    except Exception as exc:
        cls = spec.get("class") if isinstance(spec, dict) else None
        written = config.get("library_version")
        newer = f" (written by nongate_np {written}; this is {__version__}, which may not " \
            "know all of its options)" if _later(written, __version__) else ""
        raise CheckpointError(f"{path}: the model ({cls}) cannot be rebuilt from its saved "
                              f"config: {type(exc).__name__}: {exc}{newer}") from exc
    _to_saved_dtypes(path, model, config.get("dtypes", {}), weights)
    targets = [*model.named_parameters(remove_duplicate=False),
               *model.named_buffers(remove_duplicate=False)]
    for key, target in targets:
        dest = target.data if isinstance(target, Tensor) else target
        if key in weights and weights[key].dtype != dest.dtype:
            raise CheckpointError(f"{path}: the weight {key!r} is stored as "
                                  f"{weights[key].dtype} but the saved config builds "
                                  f"{dest.dtype}; the file is damaged or was edited")
    try:
        model.load_state_dict(weights, strict=True)
    except StateDictError as exc:
        raise StateDictError(f"{path}: the weights do not fit the model its config builds. "
                             f"{exc}", exc.missing_keys, exc.unexpected_keys,
                             exc.shape_mismatches) from exc
    saved_ties = {frozenset(g) for g in config.get("tied", [])}
    if {frozenset(g) for g in _tied_groups(model)} != saved_ties:
        raise CheckpointError(f"{path}: the saved model shared parameters as "
                              f"{sorted(map(sorted, saved_ties))}, but its class's constructor "
                              f"rebuilds {sorted(map(sorted, _tied_groups(model)))}; loading "
                              "would silently change which weights are tied. Build the model "
                              "yourself and use load_weights()")
    params = dict(model.named_parameters())
    for name in config.get("frozen", []):
        if name not in params:
            raise CheckpointError(f"{path}: the config lists the frozen parameter {name!r}, "
                                  "which the model does not have; the file is damaged")
        params[name].requires_grad = False
    model.train(bool(config.get("training", True)))
    return model


def _to_saved_dtypes(path: str, model: Module, dtypes: dict, weights: dict) -> None:
    """Give each parameter and buffer of ``model`` the floating dtype ``dtypes`` lists for
    it, where its config built another (a model converted after construction). Only to the
    dtype its weight is stored in, so the model stays within the build budget."""
    for prefix, module in model.named_modules():
        for key, value in [*module.named_parameters(prefix, recurse=False),
                           *module.named_buffers(prefix, recurse=False)]:
            declared = dtypes.get(key)
            if declared is None or declared == value.dtype.name or key not in weights:
                continue                   # a missing weight: the strict load reports it
            stored = weights[key].dtype
            if stored.kind != "f" or stored.name != declared:
                raise CheckpointError(f"{path}: its config lists the weight {key!r} saved as "
                                      f"{declared}, but the file stores it as {stored} and "
                                      f"the config builds {value.dtype}; the file is damaged "
                                      "or was edited")
            if isinstance(value, Tensor):
                value.data = value.data.astype(stored)
            else:
                setattr(module, key.rpartition(".")[2], value.astype(stored))


def _optimizer_state(path: str, opt: dict, arrays: dict) -> dict:
    """The optimiser's ``state_dict()`` form: parameters numbered across the groups."""
    try:
        groups, start = [], 0
        for group in opt["param_groups"]:
            n = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": list(range(start, start + n))})
            start += n
        state = {int(idx): {**entry.get("scalars", {}),
                            **{k: arrays[a] for k, a in entry["arrays"].items()}}
                 for idx, entry in opt["state"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the optimiser section of the config is malformed "
                              f"({type(exc).__name__}: {exc})") from exc
    return {"state": state, "param_groups": groups}


def _rebuild_optimizer(path: str, opt: dict, state: dict, model: Module):
    cls = _OPTIMIZERS.get(opt.get("class"))
    if cls is None:
        raise CheckpointError(f"{path}: unknown optimiser class {opt.get('class')!r}; "
                              f"expected one of {sorted(_OPTIMIZERS)}")
    params = dict(model.named_parameters())
    try:
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [params[name] for name in g["params"]]}
                  for g in opt["param_groups"]]
        accepted = inspect.signature(cls).parameters
        # NOTE: JSON turned tuple hyper-parameters (betas) into lists; optim keeps tuples.
        defaults = {k: tuple(v) if isinstance(v, list) else v
                    for k, v in opt.get("defaults", {}).items() if k in accepted}
        optimizer = cls(groups, **defaults)
        optimizer.load_state_dict(state)
    except Exception as exc:
        raise CheckpointError(f"{path}: the {cls.__name__} optimiser cannot be rebuilt from "
                              f"its saved state: {type(exc).__name__}: {exc}") from exc
    return optimizer
