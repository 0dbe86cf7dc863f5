"""Text every Python installation has: the standard library's own ``.py`` files, as
character sequences for the main job (``nongate-np train`` with no arguments).

Two tasks share each chunk of text:

* ``next_char`` (tagging): at every step, the id of the next character;
* ``package`` (classification): which standard-library package the chunk comes from.

Files are split into train, validation and test **by file**, within each package, so no file
feeds two splits and the held-out figures measure text the model has never seen. Each file
is cut into non-overlapping windows of ``chunk_len + 1`` characters: the first ``chunk_len``
are the input, the last ``chunk_len`` the next-character targets.

Token ids: 0 is padding, 1 stands for any character outside the vocabulary (built from the
training files), 2.. the vocabulary's characters in code-point order.
"""

from __future__ import annotations

import pathlib
import sysconfig
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .dataset import SequenceDataset
from .errors import DataError

__all__ = ["DEFAULT_PACKAGES", "TextCorpus", "CharVocab", "stdlib_corpus", "stdlib_root",
           "text_files", "unigram_bits_per_char", "majority_accuracy"]

# Eight packages present in every CPython 3.10-3.13 build (Debian splits tkinter and idlelib
# into packages of their own, so they are not here), each with at least five files.
DEFAULT_PACKAGES = ("asyncio", "ctypes", "email", "http", "importlib", "multiprocessing",
                    "unittest", "xml")
PAD, UNK = 0, 1
_SKIP_DIRS = {"test", "tests", "idle_test", "__pycache__"}


def stdlib_root() -> pathlib.Path:
    """The folder of this interpreter's standard library (``sysconfig``'s "stdlib")."""
    return pathlib.Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class CharVocab:
    """Characters to ids and back; ``chars[i]`` is id ``i + 2``'s character."""
    chars: tuple[str, ...]

    @classmethod
    def build(cls, texts, min_count: int = 2) -> "CharVocab":
        counts = Counter()
        for text in texts:
            counts.update(text)
        return cls(tuple(sorted(c for c, n in counts.items() if n >= min_count)))

    @property
    def size(self) -> int:
        """Number of ids, padding and unknown included."""
        return len(self.chars) + 2

    def tokens(self) -> list[str]:
        """Each id's text: ``""`` for padding, U+FFFD for an unknown character."""
        return ["", "\ufffd", *self.chars]

    def encode(self, text: str) -> np.ndarray:
        """int64 ids (len(text),); characters outside the vocabulary become ``UNK``."""
        index = {c: i + 2 for i, c in enumerate(self.chars)}
        return np.fromiter((index.get(c, UNK) for c in text), np.int64, len(text))

    def decode(self, ids) -> str:
        """The text of ``ids`` (any shape, read in order), leaving out padding: ``PAD`` and
        the -1 that ``predict`` gives past a sequence's length. Raises ValueError for another
        id outside [0, size), naming it (a negative id read the table from its end)."""
        flat = np.asarray(ids).ravel()
        if flat.dtype.kind not in "iu" and flat.size:
            raise TypeError(f"CharVocab.decode: expected integer ids, got dtype {flat.dtype}")
        bad = flat[(flat < -1) | (flat >= self.size)]
        if bad.size:
            raise ValueError(f"CharVocab.decode: id {int(bad[0])} is outside the vocabulary "
                             f"(ids 0..{self.size - 1}; -1 and {PAD} are padding)")
        table = self.tokens()
        return "".join(table[i] for i in flat.tolist() if i > PAD)


@dataclass
class TextCorpus:
    """The three splits of a text corpus and how they were made.

    ``train``, ``val``, ``test`` are :class:`~nongate_np.data.SequenceDataset`s: tokens
    ``x`` (N, chunk_len) int64, ``lengths`` (N,), targets ``next_char`` (N, chunk_len)
    (-100 past the length) and ``package`` (N,). ``files`` maps each split to the files
    (relative to ``root``) it was cut from.
    """
    train: SequenceDataset
    val: SequenceDataset
    test: SequenceDataset
    vocab: CharVocab
    packages: tuple[str, ...]
    files: dict
    root: str
    chunk_len: int


def _package_files(root: pathlib.Path, package: str) -> list[pathlib.Path]:
    base = root / package
    return sorted(f for f in base.rglob("*.py")
                  if not _SKIP_DIRS.intersection(f.relative_to(base).parts[:-1]))


def _split_files(files: list, fractions: tuple[float, float], rng) -> tuple[list, list, list]:
    """(train, val, test) with at least one file in each held-out split."""
    order = [files[i] for i in rng.permutation(len(files))]
    n_val = max(1, round(fractions[0] * len(files)))
    n_test = max(1, round(fractions[1] * len(files)))
    return order[n_val + n_test:], order[:n_val], order[n_val:n_val + n_test]


def _windows(text: str, chunk_len: int, min_len: int) -> list[str]:
    """Non-overlapping windows of ``chunk_len + 1`` characters; a last, shorter one is kept
    when it has at least ``min_len + 1``."""
    step = chunk_len
    out = [text[s:s + chunk_len + 1] for s in range(0, max(len(text) - 1, 0), step)]
    return [w for w in out if len(w) >= min_len + 1]


def _read(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def stdlib_corpus(packages=DEFAULT_PACKAGES, *, chunk_len: int = 128,
                  max_chunks_per_package: int | None = 400, split=(0.15, 0.15),
                  seed: int = 0, root=None, min_len: int = 16) -> TextCorpus:
    """Cut the standard library's ``.py`` files of ``packages`` into chunks.

    Parameters
    ----------
    packages : sequence of str
        Top-level standard-library packages; each is one class of the ``package`` task.
        ``test``/``tests`` folders are left out.
    chunk_len : int
        Steps per chunk (characters of input).
    max_chunks_per_package : int or None
        At most this many chunks per package in each split (drawn at random, so that a
        large package does not dominate the classes); None keeps all.
    split : (float, float)
        The fractions of each package's files for validation and test (at least one file
        each).
    seed : int
        Seeds the file split and the chunk sampling.
    root : path, optional
        The standard library folder (default :func:`stdlib_root`).

    Raises
    ------
    DataError
        A package is missing or has fewer than three files, or fewer than two packages.
    """
    root = pathlib.Path(root) if root is not None else stdlib_root()
    packages = tuple(packages)
    if len(packages) < 2:
        raise DataError(f"stdlib_corpus: need at least two packages to classify, got "
                        f"{packages!r}")
    if chunk_len < 2 or min_len < 1 or min_len > chunk_len:
        raise DataError(f"stdlib_corpus: need 1 <= min_len <= chunk_len and chunk_len >= 2, "
                        f"got chunk_len={chunk_len}, min_len={min_len}")
    rng = np.random.default_rng(seed)
    names = ("train", "val", "test")
    by_split = {name: [] for name in names}            # (package id, file) pairs
    for k, package in enumerate(packages):
        files = _package_files(root, package)
        if len(files) < 3:
            raise DataError(f"stdlib_corpus: the package {package!r} has {len(files)} .py "
                            f"files under {root}; need at least 3 (one per split)")
        for name, part in zip(names, _split_files(files, split, rng)):
            by_split[name] += [(k, f) for f in part]
    texts = {f: _read(f) for pairs in by_split.values() for _, f in pairs}
    vocab = CharVocab.build(texts[f] for _, f in by_split["train"])
    datasets = {}
    for name in names:
        chunks, labels = [], []
        for k in range(len(packages)):
            windows = [w for pk, f in by_split[name] if pk == k
                       for w in _windows(texts[f], chunk_len, min_len)]
            if max_chunks_per_package is not None and len(windows) > max_chunks_per_package:
                keep = np.sort(rng.choice(len(windows), max_chunks_per_package, replace=False))
                windows = [windows[i] for i in keep]
            chunks += windows
            labels += [k] * len(windows)
        datasets[name] = _to_dataset(chunks, np.asarray(labels, np.int64), vocab, packages,
                                     chunk_len, f"{root} ({name} files)")
    files = {name: [str(f.relative_to(root)) for _, f in by_split[name]] for name in names}
    return TextCorpus(datasets["train"], datasets["val"], datasets["test"], vocab, packages,
                      files, str(root), chunk_len)


def text_files(paths, vocab: CharVocab, *, chunk_len: int = 128, min_len: int = 16):
    """Text files (or folders, read for ``*.py``) cut into chunks as for training: a
    :class:`~nongate_np.data.SequenceDataset` with the ``next_char`` targets and ids
    ``"<file>:<offset>"``, for ``encode``, ``predict`` and evaluation on any text.

    Raises
    ------
    DataError
        A path that does not exist, or no chunk of at least ``min_len`` characters.
    """
    files = []
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    chunks, ids = [], []
    for f in files:
        windows = _windows(_read(f), chunk_len, min_len)
        chunks += windows
        ids += [f"{f}:{k * chunk_len}" for k in range(len(windows))]
    if not chunks:
        raise DataError(f"{', '.join(map(str, paths))}: no text chunk of at least {min_len} "
                        "characters")
    data = _to_dataset(chunks, None, vocab, None, chunk_len, ", ".join(map(str, paths)))
    data.ids = np.asarray(ids)
    return data


def _to_dataset(chunks, labels, vocab: CharVocab, packages, chunk_len: int,
                source: str) -> SequenceDataset:
    n = len(chunks)
    x = np.zeros((n, chunk_len), np.int64)
    target = np.full((n, chunk_len), -100, np.int64)
    lengths = np.zeros(n, np.int64)
    for i, window in enumerate(chunks):
        ids = vocab.encode(window)
        lengths[i] = len(ids) - 1
        x[i, :lengths[i]] = ids[:-1]
        target[i, :lengths[i]] = ids[1:]
    tokens = vocab.tokens()
    tasks = [{"name": "next_char", "kind": "tagging", "num_classes": vocab.size,
              "classes": tokens}]
    targets = {"next_char": target}
    if labels is not None:
        tasks.append({"name": "package", "kind": "classification",
                      "num_classes": len(packages), "classes": list(packages)})
        targets["package"] = labels
    return SequenceDataset(x=x, lengths=lengths, targets=targets, tasks=tasks, vocab=tokens,
                           source=source)


def unigram_bits_per_char(train, test) -> float:
    """Bits per character of the test split's next-character targets under the training
    split's character frequencies (add-one smoothed over the vocabulary): the baseline a
    model that ignores context reaches."""
    size = train.tasks[0]["num_classes"]
    ref = train.targets["next_char"]
    counts = np.bincount(ref[ref >= 0], minlength=size).astype(np.float64) + 1.0
    counts[PAD] = 0.0                                   # never a target
    p = counts / counts.sum()
    target = test.targets["next_char"]
    return float(-np.mean(np.log2(p[target[target >= 0]])))


def majority_accuracy(train, test, task: str = "package") -> float:
    """Test accuracy of always answering the training split's most frequent class."""
    majority = np.bincount(train.targets[task]).argmax()
    return float(np.mean(test.targets[task] == majority))
