"""The UCR/UEA ``.ts`` time-series format (the format of timeseriesclassification.com, read
by sktime's and aeon's ``load_from_ts_file``), parsed here with no dependency.

A file is comment lines (``#`` or ``%``), header tags, ``@data``, then one case per line::

    @problemName BasicMotions
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.07,-0.90,...:0.39,0.39,-0.23,...: ... :Standing

Dimensions are separated by ``:``, values by ``,``, and the last field is the class label
(``@classLabel true <labels>``) or the regression target (``@targetLabel true``). Tags are
case-insensitive.
"""

from __future__ import annotations

import numpy as np

from .dataset import SequenceDataset
from .errors import DataError, where
from .labels import encode_labels, resolve_classes
from .padding import pad_sequences

__all__ = ["load_ts"]

_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
_MISSING = ("?", "nan")


def _read_lines(path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a UTF-8 text file ({err.reason} at byte "
                        f"{err.start}); expected a .ts file") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None


def _parse_header(path, lines: list[str]) -> tuple[dict, int]:
    """The header's tags and the index of the first line after ``@data``."""
    header = {"dimensions": None, "serieslength": None, "classlabel": None}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line[0] in "#%":
            continue
        if not line.startswith("@"):
            raise DataError(f"{where(path, i + 1)}: expected a header tag such as "
                            f"'@problemName' or '@data' before the data, found "
                            f"{line[:40]!r}")
        tag, _, value = line[1:].partition(" ")
        tag, value = tag.lower(), value.strip()
        words = value.split()
        if tag == "data":
            return header, i + 1
        if tag in _BOOLEAN_TAGS:
            if value.lower() not in ("true", "false"):
                raise DataError(f"{where(path, i + 1)}: @{tag} expects true or false, "
                                f"found {value!r}")
            header[tag] = value.lower() == "true"
        elif tag in ("dimensions", "serieslength"):
            if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
                raise DataError(f"{where(path, i + 1)}: @{tag} expects a positive integer, "
                                f"found {value!r}")
            header[tag] = int(words[0])
        elif tag == "classlabel":
            if not words or words[0].lower() not in ("true", "false"):
                raise DataError(f"{where(path, i + 1)}: @classLabel expects 'true <label> "
                                f"<label> ...' or 'false', found {value!r}")
            header["classlabel"] = words[1:] if words[0].lower() == "true" else False
            if header["classlabel"] == []:
                raise DataError(f"{where(path, i + 1)}: @classLabel true lists no labels; "
                                f"expected '@classLabel true <label> <label> ...'")
        # NOTE: other tags (@problemName, and any a newer writer adds) carry nothing we use
    raise DataError(f"{path}: no '@data' line; expected header tags, then '@data', then "
                    f"one series per line")


def _check_header(path, header: dict) -> None:
    if header.get("timestamps"):
        raise DataError(f"{path}: @timeStamps true is not supported; expected plain values "
                        f"(save the series without timestamps, one value per step)")
    if header["classlabel"] and header.get("targetlabel"):
        raise DataError(f"{path}: both @classLabel true and @targetLabel true; a .ts file "
                        f"has one target, a class or a value")
    if header["classlabel"] is None and "targetlabel" not in header:
        raise DataError(f"{path}: the header has neither @classLabel nor @targetLabel; "
                        f"expected '@classLabel true <labels>', '@classLabel false' (no "
                        f"labels) or '@targetLabel true' (regression)")
    if header.get("univariate") and header["dimensions"] not in (None, 1):
        raise DataError(f"{path}: @univariate true but @dimensions {header['dimensions']}")


def _number(path, line_no: int, dim: int, k: int, token: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise DataError(f"{where(path, line_no)}: dimension {dim + 1}, value {k + 1}: "
                        f"expected a number or '?', found {token!r}") from None


def _parse_values(path, line_no: int, dim: int, text: str) -> np.ndarray:
    """One dimension's values, with NaN for each missing ``?``."""
    tokens = [t.strip() for t in text.split(",")]
    tokens = ["nan" if t.lower() in _MISSING else t for t in tokens]
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:               # find the culprit, one value at a time
        values = np.array([_number(path, line_no, dim, k, t) for k, t in enumerate(tokens)])
    if np.any(np.isinf(values)):
        k = int(np.flatnonzero(np.isinf(values))[0])
        raise DataError(f"{where(path, line_no)}: dimension {dim + 1}, value {k + 1}: "
                        f"expected a finite number, found {tokens[k]!r}")
    return values


def _fill_missing(path, line_no: int, series: np.ndarray) -> np.ndarray:
    """Trailing steps missing in every dimension end the series; other missing values take
    the last observed value of their dimension (the first observed one at the start)."""
    observed = ~np.isnan(series)
    steps = np.flatnonzero(observed.any(axis=1))
    if len(steps) == 0:
        raise DataError(f"{where(path, line_no)}: every value is missing ('?'); expected at "
                        f"least one number")
    series = series[:steps[-1] + 1]
    for d in range(series.shape[1]):
        column = series[:, d]
        seen = np.flatnonzero(~np.isnan(column))
        if len(seen) == 0:
            raise DataError(f"{where(path, line_no)}: dimension {d + 1} has only missing "
                            f"values ('?'); cannot fill it")
        # index of the last observed step at or before each step (the first one before it)
        last = np.maximum.accumulate(np.where(np.isnan(column), -1, np.arange(len(column))))
        series[:, d] = column[np.where(last < 0, seen[0], last)]
    return series


def load_ts(path, *, classes=None) -> SequenceDataset:
    """Read a UCR/UEA ``.ts`` file (time-series classification or regression).

    Univariate and multivariate (dimensions become features), equal and unequal length.
    Missing values (``?`` or ``NaN``): steps missing in every dimension at the end of a
    series shorten it (this is how unequal lengths are padded in some archive files);
    any other missing value is filled by carrying the last observed value of its
    dimension forward (a dimension's leading missing values take its first observed
    value).

    Parameters
    ----------
    path : str or path-like
    classes : list of str or dict, optional
        The class labels to map to ids 0, 1, ... (for example the TRAIN file's, when
        loading the TEST file: ``classes=train.tasks[0]["classes"]``, or a dict
        ``{"label": [...]}``); ignored when the file has no class labels. Default: the
        header's ``@classLabel`` labels, in header order.

    Returns
    -------
    SequenceDataset
        x (N, T, F) float64 with F the number of dimensions; one task: "label"
        (classification) for ``@classLabel true``, "target" (regression, (N, 1)) for
        ``@targetLabel true``, none for ``@classLabel false``.

    Raises
    ------
    DataError
        The file is missing or not UTF-8 text; a header tag is malformed or ``@data`` is
        absent; ``@timeStamps true`` (not supported); a line has the wrong number of
        dimensions or values, a dimension of a different length from the others, a value
        that is not a number, or a label not in the classes. Messages give the file and
        line.
    """
    lines = _read_lines(path)
    header, start = _parse_header(path, lines)
    _check_header(path, header)
    labelled = bool(header["classlabel"]) or bool(header.get("targetlabel"))
    # None: @univariate false without @dimensions, so the first series sets the count
    declared_dims = header["dimensions"] or (1 if header.get("univariate") else None)
    series, labels, line_numbers = [], [], []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line[0] in "#%":
            continue
        if line.startswith("("):
            raise DataError(f"{where(path, i + 1)}: timestamped values '(time,value)' are "
                            f"not supported; expected plain comma-separated values")
        fields = line.split(":")
        if labelled:
            if len(fields) < 2:
                raise DataError(f"{where(path, i + 1)}: no label; expected "
                                f"'values:...:label' (the header says the file is labelled)")
            labels.append(fields.pop().strip())
        dims = declared_dims or (series[0].shape[1] if series else len(fields))
        if len(fields) != dims:
            raise DataError(f"{where(path, i + 1)}: expected {dims} dimension"
                            f"{'s' if dims > 1 else ''} separated by ':', found {len(fields)}")
        values = [_parse_values(path, i + 1, d, text) for d, text in enumerate(fields)]
        if len({len(v) for v in values}) > 1:
            raise DataError(f"{where(path, i + 1)}: the dimensions have different lengths "
                            f"{[len(v) for v in values]}; each step needs one value per "
                            f"dimension")
        if header.get("equallength") and header["serieslength"] not in (None, len(values[0])):
            raise DataError(f"{where(path, i + 1)}: expected @seriesLength "
                            f"{header['serieslength']} values, found {len(values[0])}")
        series.append(_fill_missing(path, i + 1, np.stack(values, axis=1)))
        line_numbers.append(i + 1)
    if not series:
        raise DataError(f"{path}: no series after '@data'")
    x, lengths = pad_sequences(series, dtype=np.float64)
    tasks, targets = [], {}
    if header["classlabel"]:
        given = resolve_classes(classes, ["label"], path)
        names = given.get("label", header["classlabel"])
        ids = encode_labels(labels, names, lambda k: where(path, line_numbers[k]))
        tasks = [{"name": "label", "kind": "classification", "num_classes": len(names),
                  "classes": names}]
        targets = {"label": ids}
    elif header.get("targetlabel"):
        values = np.empty((len(labels), 1))
        for k, label in enumerate(labels):
            try:
                values[k, 0] = float(label)
            except ValueError:
                raise DataError(f"{where(path, line_numbers[k])}: expected a number as the "
                                f"regression target, found {label!r}") from None
            if not np.isfinite(values[k, 0]):
                raise DataError(f"{where(path, line_numbers[k])}: the regression target "
                                f"is {label!r}; expected a finite number")
        tasks = [{"name": "target", "kind": "regression", "output_size": 1}]
        targets = {"target": values}
    return SequenceDataset(x, lengths, targets, tasks, source=str(path))

