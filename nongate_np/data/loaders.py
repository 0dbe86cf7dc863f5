"""``load_sequences``: one entry point that picks the loader from the file's suffix."""

from __future__ import annotations

import pathlib

from .dataset import SequenceDataset
from .errors import DataError
from .npz import load_npz
from .table import load_csv
from .ts import load_ts

__all__ = ["LOADERS", "load_sequences"]

LOADERS = {".ts": load_ts, ".csv": load_csv, ".npz": load_npz}


def load_sequences(path, **kwargs) -> SequenceDataset:
    """Load a sequence file with the loader its suffix names (case-insensitive).

    ``.ts`` -> :func:`load_ts`, ``.csv`` -> :func:`load_csv`, ``.npz`` -> :func:`load_npz`;
    ``kwargs`` go to that loader.

    Raises
    ------
    DataError
        An unsupported suffix (the message lists the supported ones), or whatever the
        loader raises.
    """
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in LOADERS:
        raise DataError(f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
                        f"expected one of {', '.join(LOADERS)}")
    return LOADERS[suffix](path, **kwargs)
