"""The file name every save and load takes, checked before anything is read or written."""

from __future__ import annotations

import os


def fspath(where: str, path) -> str:
    """``os.fspath(path)`` as a str; a TypeError naming ``where`` and the type given when
    ``path`` is not a file name (``None``, a number, an open file)."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{where}: path must be a file name (str or os.PathLike), got "
                        f"{type(path).__name__}") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path
