"""Labels as the user wrote them, to class ids and back: one rule shared by every loader."""

from __future__ import annotations

import math

import numpy as np

from .errors import DataError, UnknownLabelError

__all__ = ["sorted_labels", "resolve_classes", "encode_labels", "preview"]


def preview(items, limit: int = 8) -> str:
    """``['a', 'b', ... (12 in all)]``: a list short enough for an error message."""
    items = list(items)
    shown = ", ".join(repr(s) for s in items[:limit])
    return f"[{shown}]" if len(items) <= limit else f"[{shown}, ... ({len(items)} in all)]"


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def sorted_labels(labels) -> list[str]:
    """The distinct labels in a stable order: numeric order when every label is a number
    (so "2" comes before "10"), text order otherwise."""
    distinct = set(labels)
    numbers = {label: _number(label) for label in distinct}
    if all(v is not None for v in numbers.values()):
        return sorted(distinct, key=lambda label: (numbers[label], label))
    return sorted(distinct)


def resolve_classes(classes, task_names: list[str], path) -> dict[str, list[str]]:
    """The ``classes=`` argument of a loader as a dict {task: [label, ...]}.

    ``classes`` is None, a dict from task name to its class list (for example
    ``{t["name"]: t["classes"] for t in train.tasks if "classes" in t}``), or a plain list
    when the file has exactly one labelled task. Classes of tasks that the file does not
    label are left out, so a training set's classes can be passed to any file, an
    unlabelled one included.
    """
    if classes is None or not task_names:
        return {}
    if isinstance(classes, dict):
        resolved = {name: labels for name, labels in classes.items() if name in task_names}
    elif len(task_names) == 1:
        resolved = {task_names[0]: classes}
    else:
        raise DataError(f"{path}: classes= is a list but the file has {len(task_names)} "
                        f"labelled tasks {task_names}; give a dict {{task: [label, ...]}}")
    out = {}
    for name, labels in resolved.items():
        labels = [str(label) for label in labels]
        if not labels or len(set(labels)) != len(labels):
            raise DataError(f"{path}: classes= for task {name!r} must be a non-empty list of "
                            f"distinct labels, got {preview(labels)}")
        out[name] = labels
    return out


def encode_labels(labels, classes: list[str], locate) -> np.ndarray:
    """Class ids (N,) int64 of ``labels`` (N,) str, each the position of its label in
    ``classes``; ``locate(i)`` names where label ``i`` came from, for the error.

    Raises
    ------
    UnknownLabelError
        A label is not in ``classes`` (a DataError).
    """
    index = {label: k for k, label in enumerate(classes)}
    ids = np.empty(len(labels), np.int64)
    for i, label in enumerate(labels):
        k = index.get(label)
        if k is None:
            raise UnknownLabelError(f"{locate(i)}: label {label!r} is not one of the "
                                    f"{len(classes)} classes {preview(classes)}")
        ids[i] = k
    return ids
