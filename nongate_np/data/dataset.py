"""``SequenceDataset``: padded sequences, their lengths and one target array per task, the
one shape every loader returns and the fit loop reads."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .padding import ragged_error

__all__ = ["SequenceDataset", "TASK_KINDS", "IGNORE_INDEX"]

TASK_KINDS = ("classification", "regression", "tagging")
IGNORE_INDEX = -100        # a tagging target no loss reads (PyTorch's ignore_index)


@dataclass
class SequenceDataset:
    """N sequences, zero-padded to a common length T, and their targets.

    Attributes
    ----------
    x : ndarray
        Features (N, T, F) float64, or token ids (N, T) int64; zero past each sequence's
        length.
    lengths : ndarray (N,) int64
        Each in [1, T].
    targets : dict of str to ndarray
        One array per task: class ids (N,) int64 for classification, values (N, k) float64
        for regression, class ids (N, T) int64 for tagging (``-100`` past each length, set
        here; ``-100`` inside a sequence marks a step no loss reads).
    tasks : list of dict
        ``{"name", "kind", "num_classes" | "output_size", "classes"}`` in task order; kind
        is "classification", "regression" or "tagging"; ``classes[k]`` is the original
        label of class id k (classification and tagging; default ``"0", "1", ...``).
    vocab : list of str or None
        Token input: ``vocab[i]`` is token i's text (id 0 is padding).
    ids : ndarray (N,) or None
        Each sequence's id in its source (the CSV id column, for example).
    source : str
        Where the data came from (a file name), for messages.
    feature_names : list of str or None
        The name of each of the F features (a CSV file's columns), or None.

    Raises
    ------
    DataError
        On construction, when a shape, dtype, length or target does not match the above;
        the message names ``source``.
    """
    x: np.ndarray
    lengths: np.ndarray
    targets: dict
    tasks: list
    vocab: list | None = None
    ids: np.ndarray | None = None
    source: str = "<arrays>"
    feature_names: list | None = None

    def __post_init__(self):
        try:
            x = np.asarray(self.x)
        except ValueError:
            ragged = ragged_error(self.x, "x")
            if ragged is None:
                raise
            raise self._error(str(ragged)) from None
        self.x = self._check_x(x)
        n, t = self.x.shape[:2]
        self.lengths = self._check_lengths(np.asarray(self.lengths), n, t)
        if self.x.ndim == 3 and not np.all(np.isfinite(self.x)):
            k, step, f = (int(i) for i in np.argwhere(~np.isfinite(self.x))[0])
            where = (f"past its length {self.lengths[k]}, in the padding, which must hold "
                     f"zeros" if step >= self.lengths[k] else "expected finite features")
            self._fail(f"x[{k}, {step}, {f}] is {self.x[k, step, f]} (sequence {k}, step "
                       f"{step}, feature {f}; the first of "
                       f"{int(np.sum(~np.isfinite(self.x)))}); {where}")
        past = ~self.valid_mask()
        nonzero = np.argwhere(past & (self.x.any(axis=2) if self.x.ndim == 3 else self.x != 0))
        if nonzero.size:
            k, step = (int(i) for i in nonzero[0])
            self._fail(f"x must be zero past each sequence's length (padding): sequence {k} "
                       f"(length {self.lengths[k]}) holds a non-zero value at step {step}, "
                       f"the first of {len(nonzero)} such steps; pad_sequences pads with "
                       f"zeros, or pass the lengths the data has")
        self.tasks = [self._check_task(k, task) for k, task in enumerate(self.tasks)]
        self.targets = self._check_targets(self.targets)
        if self.ids is not None:
            self.ids = np.asarray(self.ids)
            if self.ids.shape != (n,):
                self._fail(f"ids has shape {self.ids.shape}; expected ({n},), one per sequence")
        if self.feature_names is not None:
            self.feature_names = [str(v) for v in self.feature_names]
            if self.is_tokens or len(self.feature_names) != self.x.shape[2]:
                self._fail(f"feature_names has {len(self.feature_names)} names; expected one "
                           f"per feature of x, shape {self.x.shape}")
        if self.vocab is not None:
            if not self.is_tokens:
                self._fail("vocab is given but x holds features, not token ids")
            self.vocab = [str(v) for v in self.vocab]
            if self.x.max() >= len(self.vocab):
                self._fail(f"token id {self.x.max()} is outside the vocabulary of "
                           f"{len(self.vocab)} tokens")

    # -- validation -------------------------------------------------------------------------

    def _error(self, message: str) -> DataError:
        return DataError(f"SequenceDataset ({self.source}): {message}")

    def _fail(self, message: str):
        raise self._error(message)

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 2 and x.dtype.kind in "biu":
            x = x.astype(np.int64, copy=False)
            if x.size and x.min() < 0:
                self._fail(f"token ids must be >= 0, found {x.min()}")
        elif x.ndim == 3 and x.dtype.kind in "biuf":
            x = x.astype(np.float64, copy=False)
        else:
            hint = " (one feature per step: add an axis, x[..., None])" if (
                x.ndim == 2 and x.dtype.kind == "f") else ""
            self._fail(f"x has shape {x.shape} and dtype {x.dtype}; expected token ids "
                       f"(N, T) int or features (N, T, F) float{hint}")
        if 0 in x.shape:
            self._fail(f"x has shape {x.shape}; need at least one sequence, step and "
                       f"feature")
        return x

    def _check_lengths(self, lengths: np.ndarray, n: int, t: int) -> np.ndarray:
        if lengths.shape != (n,) or lengths.dtype.kind not in "iu":
            self._fail(f"lengths has shape {lengths.shape} and dtype {lengths.dtype}; "
                       f"expected ({n},) integers")
        outside = np.flatnonzero((lengths < 1) | (lengths > t))
        if outside.size:
            k = int(outside[0])
            self._fail(f"lengths must lie in [1, T={t}] (a sequence has at least one "
                       f"step): lengths[{k}] is {lengths[k]} (the first of {outside.size} "
                       f"outside)")
        return lengths.astype(np.int64, copy=False)

    def _check_task(self, k: int, task) -> dict:
        if not isinstance(task, dict) or task.get("kind") not in TASK_KINDS or not isinstance(
                task.get("name"), str):
            self._fail(f"task {k} is {task!r}; expected a dict with a 'name' and a 'kind' "
                       f"in {TASK_KINDS}")
        task = dict(task)
        size_key = "output_size" if task["kind"] == "regression" else "num_classes"
        size = task.get(size_key, len(task["classes"]) if "classes" in task else None)
        if not isinstance(size, numbers.Integral) or size < 1:
            self._fail(f"task {task['name']!r} ({task['kind']}) needs {size_key} >= 1, got "
                       f"{size!r}")
        task[size_key] = int(size)
        if task["kind"] != "regression":
            classes = [str(c) for c in task.get("classes", range(size))]
            if len(classes) != size:
                self._fail(f"task {task['name']!r} has {len(classes)} class names for "
                           f"num_classes={size}")
            task["classes"] = classes
        return task

    def _check_targets(self, targets: dict) -> dict:
        names = [task["name"] for task in self.tasks]
        if len(set(names)) != len(names):
            self._fail(f"task names repeat: {names}")
        if sorted(targets) != sorted(names):
            self._fail(f"targets are given for {sorted(targets)} but the tasks are {names}")
        n, t = self.x.shape[:2]
        out = {}
        for task in self.tasks:
            name, kind = task["name"], task["kind"]
            y = np.asarray(targets[name])
            if kind == "regression":
                if y.ndim == 1:
                    y = y[:, None]
                k = task["output_size"]
                if y.shape != (n, k) or y.dtype.kind not in "biuf":
                    self._fail(f"target {name!r} has shape {y.shape} and dtype {y.dtype}; "
                               f"expected ({n}, {k}) numbers (regression)")
                y = y.astype(np.float64)
                if not np.all(np.isfinite(y)):
                    self._fail(f"target {name!r} holds NaN or infinity")
            else:
                shape = (n,) if kind == "classification" else (n, t)
                if y.shape != shape or y.dtype.kind not in "biu":
                    self._fail(f"target {name!r} has shape {y.shape} and dtype {y.dtype}; "
                               f"expected {shape} integer class ids ({kind})")
                y = y.astype(np.int64)      # a copy: the -100s below never reach the caller
                if kind == "tagging":
                    y[~self.valid_mask()] = IGNORE_INDEX
                read = y[y != IGNORE_INDEX] if kind == "tagging" else y
                c = task["num_classes"]
                if read.size and (read.min() < 0 or read.max() >= c):
                    self._fail(f"target {name!r} has class ids {read.min()}..{read.max()}; "
                               f"expected ids in [0, {c})")
            out[name] = y
        return out

    # -- views ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.x)

    @property
    def is_tokens(self) -> bool:
        """True for token-id input (N, T), False for features (N, T, F)."""
        return self.x.ndim == 2

    @property
    def feature_size(self) -> int | None:
        """F for feature input, None for token ids."""
        return None if self.is_tokens else self.x.shape[2]

    @property
    def max_len(self) -> int:
        """The longest sequence's length."""
        return int(self.lengths.max())

    def valid_mask(self) -> np.ndarray:
        """(N, T) bool: True at the steps inside each sequence."""
        return np.arange(self.x.shape[1])[None, :] < self.lengths[:, None]

    def model_tasks(self) -> list[dict]:
        """The tasks as ``MultiTaskSequenceModel(tasks=...)`` takes them, with their
        "classes": the model keeps them, and so does its checkpoint."""
        return [dict(task) for task in self.tasks]

    def subset(self, idx) -> "SequenceDataset":
        """The sequences ``idx`` selects (an index array, a boolean mask or a slice), in
        that order; the padded width T stays the same."""
        rows = np.arange(len(self))[idx]
        if rows.ndim != 1:
            raise DataError(f"SequenceDataset.subset: expected a 1-D index, got shape "
                            f"{rows.shape}")
        return SequenceDataset(
            self.x[rows], self.lengths[rows], {k: v[rows] for k, v in self.targets.items()},
            [dict(task) for task in self.tasks], self.vocab,
            None if self.ids is None else self.ids[rows], self.source, self.feature_names)

    def split(self, fraction: float, *, seed: int = 0, stratify: str | None = None):
        """Split at random into ``(rest, held_out)``, for a validation set.

        Parameters
        ----------
        fraction : float in (0, 1)
            ``held_out`` gets ``round(fraction * N)`` sequences, at least 1 and at most
            N - 1.
        seed : int
            Seeds the draw; the same seed gives the same split.
        stratify : str, optional
            A classification task's name: each class is held out in proportion to its
            count (largest remainders take the seats left, ties drawn at random), as
            scikit-learn's ``train_test_split(stratify=...)`` does.

        Returns
        -------
        rest, held_out : SequenceDataset
            Each keeps the sequences in their original order.

        Raises
        ------
        DataError
            ``fraction`` outside (0, 1), fewer than 2 sequences, or ``stratify`` not a
            classification task.
        """
        n = len(self)
        if not 0 < fraction < 1:
            raise DataError(f"split: fraction must lie in (0, 1), got {fraction!r}")
        if n < 2:
            raise DataError(f"split ({self.source}): need at least 2 sequences to split, "
                            f"found {n}")
        n_held = min(max(round(fraction * n), 1), n - 1)
        rng = np.random.default_rng(seed)
        if stratify is None:
            held = rng.permutation(n)[:n_held]
        else:
            kinds = {t["name"]: t["kind"] for t in self.tasks}
            if kinds.get(stratify) != "classification":
                raise DataError(f"split: stratify={stratify!r} must name a classification "
                                f"task; the tasks are {kinds}")
            held = _stratified_draw(self.targets[stratify], n_held, rng)
        mask = np.zeros(n, bool)
        mask[held] = True
        return self.subset(np.flatnonzero(~mask)), self.subset(np.flatnonzero(mask))

    def __repr__(self) -> str:
        return f"<SequenceDataset {self.describe()}>"

    def describe(self) -> str:
        """One line: source, N, the length range, F (or the vocabulary size) and each task
        with its class counts."""
        lo, hi = int(self.lengths.min()), int(self.lengths.max())
        span = f"length {lo}" if lo == hi else (
            f"lengths {lo}..{hi} (mean {self.lengths.mean():.1f})")
        width = (f"vocabulary of {len(self.vocab)} tokens" if self.vocab is not None else
                 "token ids" if self.is_tokens else
                 f"{self.feature_size} feature{'s' if self.feature_size != 1 else ''}")
        if self.feature_names is not None:
            width += f" ({', '.join(self.feature_names[:8])}" + \
                (", ...)" if len(self.feature_names) > 8 else ")")
        tasks = "; ".join(self._describe_task(t) for t in self.tasks) or "no labels"
        return f"{self.source}: {len(self)} sequences, {span}, {width}; {tasks}"

    def _describe_task(self, task: dict) -> str:
        y = self.targets[task["name"]]
        if task["kind"] == "regression":
            return (f"{task['name']} (regression, {task['output_size']} output"
                    f"{'s' if task['output_size'] != 1 else ''}, mean {y.mean():.4g}, "
                    f"std {y.std():.4g})")
        counts = np.bincount(y[y != IGNORE_INDEX], minlength=task["num_classes"])
        pairs = zip(task["classes"][:6], counts)
        shown = ", ".join(f"{_shown(label)}={c}" for label, c in pairs)
        more = ", ..." if task["num_classes"] > 6 else ""
        n = task["num_classes"]
        return f"{task['name']} ({task['kind']}, {n} class{'es' if n != 1 else ''}: {shown}{more})"


def _shown(label: str) -> str:
    """A label as it reads on one line: quoted when empty, padded or unprintable ("\\n")."""
    plain = label and label.isprintable() and label.strip() == label
    return label if plain else repr(label)


def _stratified_draw(labels: np.ndarray, n_held: int, rng) -> np.ndarray:
    """``n_held`` indices, each class's share proportional to its count."""
    classes, counts = np.unique(labels, return_counts=True)
    quota = n_held * counts / len(labels)
    take = np.floor(quota).astype(np.int64)
    # NOTE: the seats the floors leave go to the largest remainders; a random order first
    #       so that ties do not always favour the smallest class id
    order = rng.permutation(len(classes))
    order = order[np.argsort(-(quota - take)[order], kind="stable")]
    take[order[:n_held - take.sum()]] += 1
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=False)
                           for c, k in zip(classes, take)])
