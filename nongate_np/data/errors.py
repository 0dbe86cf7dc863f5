"""``DataError``: what every loader raises for a bad file or a bad value, and the one helper
that says where in a file the problem is."""

from __future__ import annotations

__all__ = ["DataError", "UnknownLabelError", "where"]


class DataError(ValueError):
    """A data file or an array is not what the loader expects.

    The message names the file (and the line, column or array where known), what was
    expected and what was found, so the command line can print it as a one-line error.
    """


class UnknownLabelError(DataError):
    """A label that is not one of the classes given (``classes=``, the training file's), or
    a label column the table lacks: the file's sequences can be read, its labels cannot be
    scored."""


def where(path, line: int | None = None, column: str | None = None,
          array: str | None = None) -> str:
    """``"data.csv, line 7, column 'speed'"``: the prefix of a DataError message."""
    parts = [str(path)]
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column {column!r}")
    if array is not None:
        parts.append(f"array {array!r}")
    return ", ".join(parts)
