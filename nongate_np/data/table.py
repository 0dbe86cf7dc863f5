"""Sequences from a long CSV table: one row per step, rows grouped into sequences by an id
column (the layout of a tidy or "long" time-series table)."""

from __future__ import annotations

import csv
import math

import numpy as np

from .dataset import IGNORE_INDEX, TASK_KINDS, SequenceDataset
from .errors import DataError, UnknownLabelError, where
from .labels import encode_labels, preview, resolve_classes, sorted_labels
from .padding import pad_sequences

__all__ = ["load_csv"]


def _read_rows(path, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows, each with its line number; blank lines skipped."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        # NOTE: csv's own TypeError was a traceback from train csv --delimiter
        raise DataError(f"{path}: delimiter (--delimiter) must be one character, got "
                        f"{delimiter!r}")
    try:
        # NOTE: utf-8-sig drops the byte-order mark spreadsheet programs write
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header, rows = None, []
            for fields in reader:
                if not any(cell.strip() for cell in fields):
                    continue
                if header is None:
                    header = [name.strip() for name in fields]
                    continue
                if len(fields) != len(header):
                    raise DataError(f"{where(path, reader.line_num)}: expected "
                                    f"{len(header)} fields (one per header column), found "
                                    f"{len(fields)}")
                rows.append((reader.line_num, [cell.strip() for cell in fields]))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a UTF-8 text file ({err.reason} at byte "
                        f"{err.start}); expected a CSV table") from None
    except csv.Error as err:
        raise DataError(f"{path}: not a readable CSV table ({err})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header row, then one row "
                        f"per step")
    if len(set(header)) != len(header):
        twice = sorted({name for name in header if header.count(name) > 1})
        raise DataError(f"{path}: the header names columns {twice} more than once")
    if not rows:
        raise DataError(f"{path}: a header but no data rows")
    return header, rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(path, line: int, column: str, cell: str, what: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{where(path, line, column)}: expected a finite number ({what}), "
                        f"found {cell!r}")
    return value


def _extent(rows, groups: dict, columns: list[int]) -> str:
    """" (the first of 7 such cells, in 3 sequences: 'a', 'b', 'c')": the feature cells
    that are not finite numbers, and their sequences."""
    def bad(cell: str) -> bool:
        try:
            return not math.isfinite(float(cell))
        except ValueError:
            return True
    count, where_bad = 0, []
    for seq_id, members in groups.items():
        n = sum(bad(rows[r][1][c]) for r in members for c in columns)
        count += n
        if n:
            where_bad.append(seq_id)
    shown = ", ".join(repr(i) for i in where_bad[:5]) + (", ..." if len(where_bad) > 5 else "")
    return (f" (the first of {count} such cells, in {len(where_bad)} sequence"
            f"{'s' if len(where_bad) != 1 else ''}: {shown})")


def _numeric_columns(path, header, rows, col, used) -> list[str]:
    """The default features: every column but those ``used`` whose non-empty cells are all
    numbers. A column of text is left out; one of numbers with some text is an error that
    names the first text cell, so a typo in a feature column cannot drop it unnoticed."""
    chosen = []
    for name in header:
        if name in used:
            continue
        cells = [(line, r[col[name]]) for line, r in rows if r[col[name]]]
        numeric = [_is_number(cell) for _, cell in cells]
        if cells and all(numeric):
            chosen.append(name)
        elif any(numeric):
            line, cell = cells[numeric.index(False)]
            raise DataError(f"{where(path, line, name)}: expected a number, found {cell!r}; "
                            f"column {name!r} holds numbers on other lines, so it is read "
                            f"as a feature: fix the cell, or name the features "
                            f"(feature_cols, --feature-cols) to leave {name!r} out")
    return chosen


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    """A header read as one column holding another separator: say which, and how."""
    if len(header) != 1:
        return ""
    found = next((d for d in (";", "\t", "|", ",") if d != delimiter and d in header[0]),
                 None)
    # NOTE: both spellings: load_csv, load_sequences and read_as_trained take delimiter=,
    #       train csv, predict and encode --delimiter
    return "" if found is None else (f", one column holding {found!r}: is that the "
                                     f"separator? (--delimiter {found!r} on the command "
                                     f"line, delimiter={found!r} in Python)")


def load_csv(path, *, id_col: str = "id", order_col: str | None = None, feature_cols=None,
             label_cols=None, task_kinds=None, classes=None,
             delimiter: str = ",") -> SequenceDataset:
    """Read sequences from a long table: a header row, then one row per step.

    Rows with the same ``id_col`` value form one sequence; sequences keep the order in
    which their ids first appear, and rows of one sequence need not be adjacent.

    Parameters
    ----------
    path : str or path-like
    id_col : str
        The sequence-id column (default "id").
    order_col : str, optional
        A numeric column that orders the steps within each sequence (a time stamp or step
        number); two rows of one sequence with the same value are an error. Default: the
        rows' order in the file.
    feature_cols : list of str, optional
        The feature columns, in this order. Default: every column other than the id,
        order and label columns whose non-empty cells are all numbers; text columns are
        left out, and a column of numbers with a text cell is an error. The dataset's
        ``feature_names`` says which were read.
    label_cols : str or list of str, optional
        The label columns, each one task named after its column. Default: the column
        "label" if there is one, else none (an unlabelled table, for ``encode`` and
        ``predict``).
    task_kinds : dict of str to str, optional
        Each label column's kind: "classification" (the default), "regression" (one value
        per sequence) or "tagging" (one class per step). A classification or regression
        label must be the same on every row of a sequence.
    classes : dict of str to list of str, optional
        The class labels of classification and tagging tasks (for example the training
        file's, when loading a test file; a plain list when there is one such task);
        tasks the file does not have are ignored. Default: the labels found, in numeric
        order if all are numbers, else in text order.
    delimiter : str
        The field separator (default ",").

    Returns
    -------
    SequenceDataset
        x (N, T, F) float64, ``ids`` the sequence ids (str), one task per label column.

    Raises
    ------
    DataError
        The file is missing, empty or not UTF-8; a named column is absent (a label column:
        UnknownLabelError, a DataError) or used twice;
        a row has the wrong number of fields; a feature or order cell is not a finite
        number (without ``feature_cols``: a column of numbers with a text cell); a
        sequence-level label changes within a sequence or is empty; a label is not in
        ``classes``. Messages give the file, line and column.
    """
    header, rows = _read_rows(path, delimiter)
    label_cols = (["label"] if "label" in header else []) if label_cols is None else (
        _as_list(label_cols))
    used = [id_col] + ([order_col] if order_col else []) + label_cols
    for name, role in zip(used, ["id"] + (["order"] if order_col else [])
                          + ["label"] * len(label_cols)):
        if name not in header:
            # NOTE: without its labels a table's sequences can still be read (predict)
            error = UnknownLabelError if role == "label" else DataError
            raise error(f"{path}: no {role} column {name!r}; the columns are "
                        f"{preview(header)}{_delimiter_hint(header, delimiter)}")
    if len(set(used)) != len(used):
        raise DataError(f"{path}: a column is used twice among id, order and label columns "
                        f"{used}")
    col = {name: k for k, name in enumerate(header)}
    if feature_cols is None:
        feature_cols = _numeric_columns(path, header, rows, col, used)
    else:
        feature_cols = _as_list(feature_cols)
        for name in feature_cols:
            if name not in header:
                raise DataError(f"{path}: no feature column {name!r}; the columns are "
                                f"{preview(header)}")
            if name in used:
                raise DataError(f"{path}: feature column {name!r} is also the id, order "
                                f"or a label column")
    if not feature_cols:
        raise DataError(f"{path}: no numeric feature column; the columns are "
                        f"{preview(header)} (id {id_col!r}, labels {label_cols})")
    kinds = dict.fromkeys(label_cols, "classification")
    for name, kind in (task_kinds or {}).items():
        if name not in kinds or kind not in TASK_KINDS:
            raise DataError(f"{path}: task_kinds has {name!r}: {kind!r}; expected label "
                            f"columns {label_cols} mapped to one of {TASK_KINDS}")
        kinds[name] = kind

    # Group the rows into sequences, in the order the ids first appear.
    groups: dict[str, list[int]] = {}
    for r, (line, cells) in enumerate(rows):
        if not cells[col[id_col]]:
            raise DataError(f"{where(path, line, id_col)}: empty sequence id")
        groups.setdefault(cells[col[id_col]], []).append(r)
    if order_col:
        order = [_number(path, line, order_col, cells[col[order_col]], "the step order")
                 for line, cells in rows]
        for seq_id, members in groups.items():
            members.sort(key=lambda r: order[r])      # stable: ties keep file order
            for a, b in zip(members, members[1:]):
                if order[a] == order[b]:
                    raise DataError(f"{where(path, rows[b][0], order_col)}: sequence "
                                    f"{seq_id!r} has two steps with order {order[a]:g} "
                                    f"(lines {rows[a][0]} and {rows[b][0]})")
    try:
        steps = [[[_number(path, rows[r][0], name, rows[r][1][col[name]], "a feature")
                   for name in feature_cols] for r in members] for members in groups.values()]
    except DataError as err:     # the first bad cell, and how many more: one fix, not many
        raise DataError(f"{err}{_extent(rows, groups, [col[n] for n in feature_cols])}") \
            from None
    x, lengths = pad_sequences(steps, dtype=np.float64)

    given = resolve_classes(classes, [n for n in label_cols if kinds[n] != "regression"],
                            path)
    tasks, targets = [], {}
    for name in label_cols:
        task, targets[name] = _label_task(path, rows, list(groups.items()), name, col[name],
                                          kinds[name], given.get(name), x.shape[1])
        tasks.append(task)
    return SequenceDataset(x, lengths, targets, tasks, ids=np.array(list(groups)),
                           source=str(path), feature_names=list(feature_cols))


def _label_task(path, rows, groups, name: str, c: int, kind: str, classes, width: int):
    """The task dict and target array of label column ``name`` (index ``c``)."""
    for members in (m for _, m in groups):
        for r in members:
            if not rows[r][1][c]:
                raise DataError(f"{where(path, rows[r][0], name)}: empty label; every row "
                                f"needs one")
    if kind == "tagging":
        labels = [rows[r][1][c] for _, members in groups for r in members]
        lines = [rows[r][0] for _, members in groups for r in members]
        classes = classes or sorted_labels(labels)
        flat = encode_labels(labels, classes, lambda k: where(path, lines[k], name))
        y = np.full((len(groups), width), IGNORE_INDEX, np.int64)
        start = 0
        for i, (_, members) in enumerate(groups):
            y[i, :len(members)] = flat[start:start + len(members)]
            start += len(members)
        return {"name": name, "kind": kind, "num_classes": len(classes),
                "classes": classes}, y
    # A sequence-level label: the same on every row of the sequence.
    for seq_id, members in groups:
        first = rows[members[0]]
        for r in members[1:]:
            if rows[r][1][c] != first[1][c]:
                raise DataError(f"{where(path, rows[r][0], name)}: sequence {seq_id!r} has "
                                f"label {rows[r][1][c]!r} here but {first[1][c]!r} on line "
                                f"{first[0]}; a {kind} label is one value per sequence "
                                f"(per-step labels: --label-cols {name}:tagging, "
                                f"task_kinds={{{name!r}: 'tagging'}} in Python)")
    labels = [rows[members[0]][1][c] for _, members in groups]
    lines = [rows[members[0]][0] for _, members in groups]
    if kind == "regression":
        y = np.array([[_number(path, line, name, label, "a regression target")]
                      for line, label in zip(lines, labels)])
        return {"name": name, "kind": kind, "output_size": 1}, y
    classes = classes or sorted_labels(labels)
    y = encode_labels(labels, classes, lambda k: where(path, lines[k], name))
    return {"name": name, "kind": kind, "num_classes": len(classes), "classes": classes}, y
