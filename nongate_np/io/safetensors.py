"""Weights exchanged with PyTorch and Hugging Face: the safetensors format.

``save_safetensors(model, "model.safetensors")`` writes a model's ``state_dict`` (or a plain
state dict) in the safetensors format (https://huggingface.co/docs/safetensors): each tensor
under PyTorch's key name (``weight_ih_l0``, ``lstm.bias_hh_l0``, ``heads.0.weight``: our
``state_dict`` keys are torch's), in its own dtype, C order. PyTorch reads the file with
``safetensors.torch.load_file`` and loads it into the equivalent ``torch.nn`` module with
``load_state_dict(strict=True)``. ``load_safetensors(path)`` reads any safetensors file, one
written by ``safetensors.torch.save_file`` included, as ``{key: ndarray}`` for
``module.load_state_dict``.

The header's metadata (str to str) holds:

==============  ===========================================================================
key             value
==============  ===========================================================================
``format``      ``"pt"``: the tensors are laid out as PyTorch's (Hugging Face
                ``transformers`` refuses a safetensors file without it)
``nongate_np``  the JSON config ``nongate_np.save`` writes (see ``nongate_np.io``): format
                version, model class and constructor arguments, train/eval mode, frozen
                and tied parameters, the weights in ``state_dict`` order; no optimiser
(yours)         the ``metadata=`` given to ``save_safetensors``
==============  ===========================================================================

so ``nongate_np.load(path)`` rebuilds the model from a file ``save_safetensors`` wrote, as it
does from a ``.npz`` checkpoint (the two are told apart by content, not by name), and its
``.extra`` is the metadata. Unlike a ``.npz`` checkpoint, a safetensors file holds no
optimiser state (keep ``nongate_np.save`` for resuming training) and no checksum (the
header is validated, a flipped byte inside a tensor goes unnoticed); tied parameters are
stored once per key. Writes are atomic, as ``nongate_np.save``'s. Loading runs no code: the
file is raw tensors and a JSON header, and its model class is looked up among the
registered savable classes.

Needs the ``safetensors`` package: ``pip install safetensors``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from ..extras import install_hint
from . import atomic
from .checkpoint import CheckpointError, describe, parse_config
from .paths import fspath

__all__ = ["save_safetensors", "load_safetensors", "METADATA_KEY"]

METADATA_KEY = "nongate_np"
INSTALL_HINT = install_hint("safetensors")
# safetensors' dtype names for the NumPy dtypes it holds; NumPy has no bfloat16 or float8.
_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16,
           "I16": np.int16, "U32": np.uint32, "I32": np.int32, "U64": np.uint64,
           "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
           "C64": np.complex64}
_NUMPY_NAMES = sorted(np.dtype(t).name for t in _DTYPES.values())


def _safetensors():
    """The ``safetensors`` package, or an ImportError that says how to install it."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as exc:
        raise ImportError(f"reading and writing .safetensors files needs the safetensors "
                          f"package, which is not installed: {INSTALL_HINT}") from exc
    return safetensors


# -- save ------------------------------------------------------------------------------------
def save_safetensors(obj, path, *, metadata: Mapping[str, str] | None = None) -> None:
    """Write the weights of ``obj`` to ``path`` in the safetensors format, under PyTorch's
    key names, with the model's config in the metadata (see the module docstring).

    Parameters
    ----------
    obj : Module or mapping of str to array
        A model whose class (and every sub-module's class) is registered with
        ``register_savable``, or a plain ``state_dict`` (ndarrays or Tensors).
    path : str or os.PathLike
        The file to write, exactly as named (``.safetensors`` by convention). An existing
        file is replaced atomically; a symlink is followed.
    metadata : mapping of str to str, optional
        Kept in the header (``format`` defaults to ``"pt"``; the key ``"nongate_np"`` is
        reserved). Read back as ``nongate_np.load(path).extra``.

    Raises
    ------
    ImportError
        The ``safetensors`` package is not installed (the message says how to install it).
    TypeError
        Unregistered module class; a weight whose dtype safetensors cannot hold with NumPy
        (bool, int8-64, uint8-64, float16/32/64 and complex64 can be saved); metadata that
        is not str to str.
    ValueError
        ``metadata`` uses the reserved key ``"nongate_np"``.
    FileNotFoundError
        The directory of ``path`` does not exist.
    """
    safetensors = _safetensors()
    path = fspath("save_safetensors", path)
    header = {"format": "pt", **_user_metadata(metadata)}
    config, state = describe(obj, "save_safetensors")
    tensors = {}
    for key, arr in state.items():
        if arr.dtype.name not in _NUMPY_NAMES:
            raise TypeError(f"save_safetensors: the weight {key!r} has dtype {arr.dtype}; the "
                            f"safetensors format holds {', '.join(_NUMPY_NAMES)} (convert it "
                            "with .astype, or save it with nongate_np.save)")
        # NOTE: safetensors.numpy copies the array's memory as it lies, ignoring strides
        # (and np.ascontiguousarray would turn a 0-d array into shape (1,)).
        tensors[key] = np.asarray(arr, order="C")
    header[METADATA_KEY] = json.dumps(config, ensure_ascii=False)
    blob = safetensors.numpy.save(tensors, metadata=header)
    with atomic.replacing(path, "save_safetensors") as f:
        f.write(blob)


def _user_metadata(metadata) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"save_safetensors: metadata must be a dict of str to str, got "
                        f"{type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"save_safetensors: metadata must map str to str (the "
                            f"safetensors header holds text only), got {key!r}: {value!r} "
                            f"({type(key).__name__}: {type(value).__name__}); write other "
                            "values with json.dumps")
    if METADATA_KEY in metadata:
        raise ValueError(f"save_safetensors: the metadata key {METADATA_KEY!r} is reserved "
                         "for the model's config; choose another key")
    return dict(metadata)


# -- load ------------------------------------------------------------------------------------
def load_safetensors(path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as ``{key: ndarray}``, for
    ``module.load_state_dict(load_safetensors(path))``.

    Reads files from any library (``safetensors.torch.save_file``, Hugging Face); keys are
    as stored (PyTorch's, for a PyTorch model). For a file ``save_safetensors`` wrote, the
    keys come in ``state_dict`` order; otherwise in the file's order.

    Returns
    -------
    dict of str to ndarray
        New, writable arrays in the stored dtypes and shapes (native byte order).

    Raises
    ------
    ImportError
        The ``safetensors`` package is not installed.
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        Not a safetensors file, or a truncated or damaged one; a tensor whose dtype NumPy
        lacks (bfloat16, float8: convert it before saving, e.g. ``v.float()`` in PyTorch);
        a nongate_np config in the metadata that does not match the tensors. The message
        names the path.
    """
    path = fspath("load_safetensors", path)
    metadata, tensors = _read(path)
    if METADATA_KEY not in metadata:
        return tensors
    config = _config(path, metadata, tensors)
    return {key: tensors[key] for key in config["weights"]}


def is_safetensors(path: str) -> bool:
    """Whether the file begins as a safetensors file does: an 8-byte little-endian header
    size, then the header's JSON object (an ``.npz`` begins ``PK``, an ``.npy`` ``\\x93NUMPY``).
    """
    with open(path, "rb") as f:          # FileNotFoundError, PermissionError: as they are
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def read_checkpoint(path: str) -> tuple[dict, dict]:
    """For ``nongate_np.load``: the validated config (``"extra"`` set to the user's metadata)
    and the weights, from a file ``save_safetensors`` wrote."""
    metadata, tensors = _read(path)
    if METADATA_KEY not in metadata:
        raise CheckpointError(
            f"{path}: a safetensors file without a nongate_np config (its metadata keys: "
            f"{', '.join(sorted(metadata)) or 'none'}), so the model cannot be rebuilt from "
            "it; build the model and call model.load_state_dict(load_safetensors(path))")
    config = _config(path, metadata, tensors)
    config["extra"] = {k: v for k, v in metadata.items() if k != METADATA_KEY}
    return config, {key: tensors[key] for key in config["weights"]}


def _read(path: str) -> tuple[dict, dict]:
    """The header's metadata and every tensor, read eagerly (so a damaged file is reported
    here, naming ``path``)."""
    safetensors = _safetensors()
    with open(path, "rb"):               # FileNotFoundError, PermissionError: as they are
        pass
    try:
        with safetensors.safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            dtypes = {key: f.get_slice(key).get_dtype() for key in f.keys()}
            lacking = [f"{key!r} ({dtype})" for key, dtype in dtypes.items()
                       if dtype not in _DTYPES]
            if lacking:
                raise CheckpointError(
                    f"{path}: the tensors {', '.join(lacking[:5])}"
                    f"{', ...' if len(lacking) > 5 else ''} have dtypes NumPy has no type "
                    f"for (it reads {', '.join(_DTYPES)}); convert them before saving, e.g. "
                    "in PyTorch {k: v.float() for k, v in state_dict.items()}")
            tensors = {key: f.get_tensor(key) for key in dtypes}
    except safetensors.SafetensorError as exc:
        raise CheckpointError(f"{path}: not a safetensors file, or the file is damaged "
                              f"({exc})") from exc
    return metadata, tensors


def _config(path: str, metadata: dict, tensors: dict) -> dict:
    """The nongate_np config in ``metadata``, checked against the tensors the file holds."""
    config = parse_config(path, metadata[METADATA_KEY],
                          f"the safetensors metadata key {METADATA_KEY!r}")
    listed = config["weights"]
    missing = [key for key in listed if key not in tensors]
    unlisted = [key for key in tensors if key not in set(listed)]
    if missing or unlisted or len(set(listed)) != len(listed):
        raise CheckpointError(f"{path}: the nongate_np config in the metadata does not match "
                              f"the tensors (listed but absent: {missing[:5]}; present but "
                              f"not listed: {unlisted[:5]}); the file is damaged or was "
                              "edited")
    return config
