"""Pictures of a training run: the learning curves of ``metrics.jsonl`` and each task's
attention weights over held-out sequences (over the characters, for text).

Needs matplotlib (``pip install matplotlib``); importing this module does not. The
figures are ``matplotlib.figure.Figure`` objects drawn by the Agg canvas, never through
``pyplot``, so a program that uses pyplot keeps its own backend and figure list.

``history_figure`` / ``attention_figure`` build a Figure (for a notebook or further edits);
``plot_history`` / ``plot_attention`` build it and save it (PNG by the file's suffix).
"""

from __future__ import annotations

import math
import pathlib
import warnings

import numpy as np

from ..extras import install_hint

INSTALL_HINT = install_hint("plot")

# metric name -> (axis label with its unit, factor from the stored value to the drawn one)
METRIC_LABELS = {
    "loss": ("loss", 1.0),
    "accuracy": ("accuracy (%)", 100.0),
    "balanced_accuracy": ("balanced accuracy (%)", 100.0),
    "bits_per_char": ("bits per character", 1.0),
    "perplexity": ("perplexity", 1.0),
    "mse": ("mean squared error", 1.0),
    "rmse": ("root mean squared error", 1.0),
    "mae": ("mean absolute error", 1.0),
}
_SPLIT_STYLE = {"train": {"color": "C0", "marker": "o"}, "val": {"color": "C1", "marker": "s"}}
_NOT_METRICS = {"epoch", "seconds", "lr", "best"}
_FONT = {"title": 11, "label": 10, "tick": 9, "legend": 9, "note": 8}

# text attention: one monospace cell per character, in inches
_CELL_W, _CELL_H, _CHAR_PT = 0.088, 0.19, 9.5
_MONO = "DejaVu Sans Mono"  # ships with matplotlib, so every character cell has the same width
_VISIBLE = {"\n": "↵", "\t": "→", " ": "·", "\r": "␍"}


def matplotlib_available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401  (imported only to test that it is there)
    except ImportError:
        return False
    return True


def require_matplotlib() -> None:
    """Raise ``ImportError`` with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401  (imported only to test that it is there)
    except ImportError as err:
        raise ImportError(f"the pictures need matplotlib: {INSTALL_HINT}") from err


def _new_figure(width: float, height: float, dpi: int):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, facecolor="white")
    return path


# ---------------------------------------------------------------- learning curves

def _series(history: list[dict]) -> tuple[list, dict, list[str]]:
    """Epochs, {(task, metric): {split: [value per epoch]}} (task "" for the total loss; None
    where the key is absent, NaN where the value is not finite) and the non-finite keys."""
    if isinstance(history, dict) or not hasattr(history, "__len__") or len(history) == 0:
        raise ValueError("history: expected a non-empty list of per-epoch dicts "
                         f"(the lines of metrics.jsonl); got {type(history).__name__} "
                         f"of length {len(history) if hasattr(history, '__len__') else '?'}")
    epochs, panels, bad = [], {("", "loss"): {}}, []
    for i, row in enumerate(history):
        if not isinstance(row, dict):
            raise ValueError(f"history[{i}]: expected a dict of metrics; got "
                             f"{type(row).__name__}")
        epochs.append(row.get("epoch", i + 1))
        for key, value in row.items():
            parts = key.split("/")
            if key in _NOT_METRICS or len(parts) < 2:
                continue
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise ValueError(f"history[{i}][{key!r}]: expected a number; got {value!r}")
            if value is None or not math.isfinite(value):
                bad.append(f"{key} (epoch {epochs[-1]})")
                value = math.nan
            split, task, metric = parts[0], "/".join(parts[1:-1]), parts[-1]
            values = panels.setdefault((task, metric), {}).setdefault(split, [None] * len(history))
            values[i] = value
    return epochs, panels, bad


def _best_epoch(history: list[dict], epochs: list, val_loss) -> int | None:
    """The last epoch flagged ``best``, else the epoch of the lowest finite val/loss."""
    flagged = [e for e, row in zip(epochs, history) if row.get("best")]
    if flagged:
        return flagged[-1]
    finite = [(v, e) for e, v in zip(epochs, val_loss or []) if v is not None and math.isfinite(v)]
    return min(finite)[1] if finite else None


def history_figure(history: list[dict], *, title: str | None = None, dpi: int = 110):
    """The learning curves of a run as a matplotlib Figure (see ``plot_history``)."""
    epochs, panels, bad = _series(history)
    if not panels[("", "loss")]:
        del panels[("", "loss")]
    if not panels:
        raise ValueError("history: no metric keys such as 'train/loss' or "
                         f"'val/<task>/accuracy'; got keys {sorted(history[0])}")
    best = _best_epoch(history, epochs, panels.get(("", "loss"), {}).get("val"))
    ncols = 1 if len(panels) == 1 else 2 if len(panels) <= 4 else 3
    nrows = -(-len(panels) // ncols)
    fig = _new_figure(5.2 * ncols, 3.6 * nrows + (0.4 if title else 0), dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    from matplotlib.ticker import MaxNLocator

    for ax, ((task, metric), splits) in zip(axes, panels.items()):
        label, factor = METRIC_LABELS.get(metric, (metric.replace("_", " "), 1.0))
        ax.set_title(f"{task}: {label}" if task else f"total {label}", fontsize=_FONT["title"])
        ax.set_xlabel("epoch", fontsize=_FONT["label"])
        ax.set_ylabel(label, fontsize=_FONT["label"])
        ax.tick_params(labelsize=_FONT["tick"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        skipped = []
        for split, values in splits.items():
            # a NaN breaks the line, so a skipped epoch shows as a gap, not as a straight edge
            points = [(e, v * factor) for e, v in zip(epochs, values) if v is not None]
            skipped += [f"{split} epoch {e}" for e, v in points if not math.isfinite(v)]
            if any(math.isfinite(v) for _, v in points):
                x, y = zip(*points)
                ax.plot(x, y, label=split, markersize=4 if len(epochs) <= 30 else 2,
                        linewidth=1.6, **_SPLIT_STYLE.get(split, {"marker": "^"}))
        if best is not None:
            ax.axvline(best, color="0.35", linestyle=":", linewidth=1.3,
                       label=f"best epoch ({best})")
        if skipped:
            ax.text(0.01, 0.01, "not finite, not drawn: " + ", ".join(skipped),
                    transform=ax.transAxes, fontsize=_FONT["note"], color="C3", va="bottom")
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
        ax.legend(fontsize=_FONT["legend"], loc="best")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=_FONT["title"] + 1)
    if bad:
        warnings.warn(f"history: not finite, not drawn: {', '.join(bad)}", stacklevel=3)
    return fig


def plot_history(history: list[dict], path, *, title: str | None = None,
                 dpi: int = 110) -> pathlib.Path:
    """Draw the learning curves of a run and save them to ``path`` (PNG by its suffix).

    Parameters
    ----------
    history : list of dict
        One dict per epoch, as the lines of ``metrics.jsonl``: ``"epoch"`` (int; the 1-based
        position when absent), ``"train/loss"``, ``"val/loss"`` and per task
        ``"{split}/{task}/{metric}"`` such as ``"val/package/accuracy"`` (a fraction, drawn in
        %) or ``"val/next_char/bits_per_char"``. ``"seconds"``, ``"lr"`` and ``"best"`` are
        not drawn as curves; the epoch of the last ``"best": true`` (else of the lowest
        ``val/loss``) is marked by a dotted line. Missing keys (no validation split) are
        fine.
    path : str or PathLike
        The output file; its folder is created.
    title : str, optional
        A title above all panels.

    Returns
    -------
    pathlib.Path
        ``path``.

    One panel for the total loss and one per (task, metric), train and validation (and any
    other split) as lines with markers. A NaN, infinite or ``None`` value is left out of its
    line, named in a red note inside its panel and in a ``UserWarning``.

    Raises
    ------
    ImportError
        matplotlib is missing (the message says how to install it).
    ValueError
        ``history`` is empty or not a list of dicts, holds no metric key, or a metric value
        is not a number.
    """
    return _save(history_figure(history, title=title, dpi=dpi), path)


# ---------------------------------------------------------------- attention weights

def _check_weights(weights, lengths, tokens, titles, name: str):
    """Validated (weights (n, T) float64, lengths (n,) int, tokens or None)."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of shape (n, T); could not convert "
                         f"{type(weights).__name__}: {err}") from None
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"{name}: expected shape (n, T) = (sequences, steps) with n, T >= 1; "
                         f"got shape {w.shape}")
    n, T = w.shape
    if tokens is not None:
        if len(tokens) != n:
            raise ValueError(f"tokens: expected n = {n} lists (one per row of {name} "
                             f"{w.shape}); got {len(tokens)}")
        if lengths is None:
            lengths = [len(t) for t in tokens]
    if lengths is None:
        lengths = np.full(n, T)
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or lengths.dtype.kind not in "iu" or (
            n and (lengths.min() < 0 or lengths.max() > T)):
        raise ValueError(f"lengths: expected shape (n,) = ({n},) of integers in [0, T={T}] "
                         f"for {name} of shape {w.shape}; got shape {lengths.shape} "
                         f"{lengths.dtype} {lengths.tolist()[:8]}")
    if tokens is not None:
        short = [i for i in range(n) if len(tokens[i]) < lengths[i]]
        if short:
            i = short[0]
            raise ValueError(f"tokens[{i}]: expected at least lengths[{i}] = {lengths[i]} "
                             f"strings; got {len(tokens[i])}")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles: expected n = {n} labels (one per row of {name} {w.shape}); "
                         f"got {len(titles)}")
    valid = np.arange(T) < lengths[:, None]
    bad = np.argwhere(valid & ~np.isfinite(w))
    if len(bad):
        i, t = bad[0]
        raise ValueError(f"{name}: {len(bad)} weights are NaN or infinite, the first at "
                         f"sequence {i}, step {t} (the model's attention is broken)")
    leaked = np.where(valid, 0.0, np.nan_to_num(np.abs(w))).sum(axis=1)
    if leaked.max() > 1e-6:
        i = int(leaked.argmax())
        warnings.warn(f"{name}: sequence {i} puts {leaked[i]:.3g} of its attention on steps "
                      f"at or past its length {lengths[i]} (padding); drawn blank", stacklevel=4)
    return np.where(valid, w, np.nan), lengths


def _visible(token: str) -> str:
    return "".join(_VISIBLE.get(c, chr(0x2400 + ord(c)) if ord(c) < 32 else c) for c in token)


def text_layout(tokens, wrap: int = 80) -> tuple[list[tuple[int, int, int, str]], int, int]:
    """Where each token goes when a sequence is written as lines of monospace cells.

    A token takes as many cells as its visible form has characters (at least one); a line
    ends after a token that holds a newline (drawn as '↵') or when the next token would pass
    ``wrap`` cells. Spaces are drawn as '·', tabs as '→', other control characters as their
    Unicode control pictures.

    Returns ``(cells, n_lines, n_columns)``, ``cells[k] = (line, column, width, glyph)`` for
    ``tokens[k]``; ``n_columns`` is the widest line.
    """
    cells, line, col, widest = [], 0, 0, 1
    for tok in tokens:
        glyph = _visible(str(tok))
        width = min(max(len(glyph), 1), wrap)
        if col + width > wrap:
            line, col = line + 1, 0
        cells.append((line, col, width, glyph))
        col += width
        widest = max(widest, col)
        if "\n" in str(tok):
            line, col = line + 1, 0
    return cells, max(line + (col > 0), 1), widest


def _norm(w):
    from matplotlib.colors import Normalize

    top = np.nanmax(w) if np.isfinite(w).any() else 0.0
    return Normalize(vmin=0.0, vmax=top if top > 0 else 1.0)


def _draw_heatmap(fig, w, lengths, titles, cmap):
    import matplotlib

    ax = fig.add_subplot()
    cmap = matplotlib.colormaps[cmap or "viridis"].with_extremes(bad=(0, 0, 0, 0))
    image = ax.imshow(np.ma.masked_invalid(w), cmap=cmap, norm=_norm(w), aspect="auto",
                      interpolation="nearest")
    ax.set_xlabel("step", fontsize=_FONT["label"])
    ax.set_ylabel("sequence", fontsize=_FONT["label"])
    ax.set_yticks(range(len(w)), titles or [f"{i} (length {n})" for i, n in enumerate(lengths)])
    ax.tick_params(labelsize=_FONT["tick"])
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label("attention weight", fontsize=_FONT["label"])


def _draw_text(fig, w, lengths, tokens, titles, cmap, layouts, columns):
    import matplotlib

    cmap = matplotlib.colormaps[cmap or "Reds"]
    norm = _norm(w)
    axes = fig.subplots(len(w), 1, squeeze=False,
                        height_ratios=[n for _, n, _ in layouts]).ravel()
    for i, (cells, n_lines, _) in enumerate(layouts):
        ax = axes[i]
        shade = np.full((n_lines, columns), np.nan)
        for t, (line, col, width, _) in enumerate(cells):
            shade[line, col:col + width] = w[i, t]
        ax.imshow(np.ma.masked_invalid(shade), cmap=cmap.with_extremes(bad=(0, 0, 0, 0)),
                  norm=norm, interpolation="nearest", aspect=_CELL_H / _CELL_W,
                  extent=(0, columns, n_lines, 0))
        for t, (line, col, width, glyph) in enumerate(cells):
            dark = norm(w[i, t]) > 0.6
            faint = str(tokens[i][t]) in _VISIBLE  # a stand-in for white space: grey
            ax.text(col + width / 2, line + 0.5, glyph, ha="center", va="center",
                    family=_MONO, fontsize=_CHAR_PT,
                    color=("0.85" if dark else "0.6") if faint else ("white" if dark else "black"))
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_color("0.8")
        head = titles[i] if titles else f"sequence {i} ({lengths[i]} characters)"
        ax.set_title(head, fontsize=_FONT["label"], loc="left")
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, orientation="horizontal",
                       fraction=0.6 / sum(n for _, n, _ in layouts), aspect=40, pad=0.01)
    bar.set_label("attention weight (darker: more)", fontsize=_FONT["label"])
    bar.ax.tick_params(labelsize=_FONT["tick"])


def attention_figure(weights, *, lengths=None, tokens=None, task: str | None = None,
                     titles=None, max_rows: int = 8, wrap: int = 80, cmap: str | None = None,
                     dpi: int = 130):
    """The attention weights of one task, or of each task of a dict side by side, as a
    matplotlib Figure (see ``plot_attention``)."""
    by_task = weights if isinstance(weights, dict) else {task or "": weights}
    if isinstance(weights, dict) and task is not None:
        raise ValueError("task: names a single weights array; a dict of weights is named by "
                         f"its keys {list(weights)}")
    if not by_task:
        raise ValueError("weights: expected an array (n, T) or a non-empty dict of them; "
                         "got an empty dict")
    if max_rows < 1:
        raise ValueError(f"max_rows: expected an integer >= 1; got {max_rows}")
    checked = {}
    for name, w in by_task.items():
        key = f"weights[{name!r}]" if isinstance(weights, dict) else "weights"
        checked[name] = _check_weights(w, lengths, tokens, titles, key)
    shapes = {w.shape for w, _ in checked.values()}
    if len(shapes) > 1:
        raise ValueError(f"weights: every task must have the same shape (n, T); got "
                         f"{ {k: w.shape for k, (w, _) in checked.items()} }")
    n, T = shapes.pop()
    rows = min(n, max_rows)
    shown = f"sequences 0-{rows - 1} of {n}" if rows < n else f"{n} sequences"
    if tokens is not None:
        lens = next(iter(checked.values()))[1]
        layouts = [text_layout(tokens[i][:lens[i]], wrap) for i in range(rows)]
        columns = max(c for _, _, c in layouts)
        lines = sum(n_lines for _, n_lines, _ in layouts)
        width = max(columns * _CELL_W + 0.5, 6.0)
        height = lines * _CELL_H + rows * 0.32 + 1.3
        grid = (1, len(checked))  # tasks side by side: the same text at the same height
    else:
        width, height = min(max(T * 0.08, 6.0), 14.0) + 2.5, 1.5 + 0.32 * rows
        grid = (len(checked), 1)  # heatmaps are wide and short: tasks one above the other
    fig = _new_figure(width * grid[1], height * grid[0], dpi)
    subfigs = fig.subfigures(*grid, squeeze=False).ravel()
    row_titles = list(titles[:rows]) if titles is not None else None
    for sub, (name, (w, lens)) in zip(subfigs, checked.items()):
        head = f"task '{name}': attention" if name else "attention"
        if tokens is None:
            sub.suptitle(f"{head} weights over the steps of {shown} (blank: padding)",
                         fontsize=_FONT["title"])
            _draw_heatmap(sub, w[:rows], lens[:rows], row_titles, cmap)
        else:
            sub.suptitle(f"{head} weights over the characters of {shown}",
                         fontsize=_FONT["title"])
            _draw_text(sub, w[:rows], lens[:rows], tokens, row_titles, cmap, layouts, columns)
    return fig


def plot_attention(weights, path, *, lengths=None, tokens=None, task: str | None = None,
                   titles=None, max_rows: int = 8, wrap: int = 80, cmap: str | None = None,
                   dpi: int = 130) -> pathlib.Path:
    """Draw where a task's attention pooling looks in each of a few sequences; save to ``path``.

    Parameters
    ----------
    weights : ndarray (n, T) or dict of str to ndarray (n, T)
        The attention weights of one task over the T steps of n sequences: α of docs/math.md
        A3, or ω = γ ⊙ α (A4) for the weight-gated kind, whose rows sum to at most 1. Steps
        at or past a sequence's length are drawn blank, not as weight 0 (A14); weight found
        there gets a ``UserWarning``. A dict draws every task, each with its own colour
        scale: side by side with ``tokens`` (the same text at the same height), one above
        the other for heatmaps.
    path : str or PathLike
        The output file (PNG by its suffix); its folder is created.
    lengths : array of int (n,), optional
        Valid steps per sequence; default ``len(tokens[i])`` with ``tokens``, else T.
    tokens : list of n lists of str, optional
        One short string per step (a character for text). Each sequence is then written out
        as lines of monospace characters, each on a background coloured by its weight, as in
        the attention pictures of Yang et al. 2016 (HAN): a newline is drawn as '↵' and ends
        the line, a space as '·', a tab as '→', and lines wrap at ``wrap`` cells (see
        ``text_layout``). Without ``tokens``: a heatmap, sequences by steps.
    task : str, optional
        The task's name, for the titles (a dict names its tasks by its keys).
    titles : list of n str, optional
        A label per sequence (for example its true and predicted class).
    max_rows : int
        Draw the first ``max_rows`` sequences only.
    wrap, cmap, dpi
        Line width in characters; a matplotlib colormap name (default 'Reds' for text,
        'viridis' for the heatmap, whose lowest colour differs from the blank padding);
        pixels per inch.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImportError
        matplotlib is missing (the message says how to install it).
    ValueError
        ``weights`` is not (n, T) (the message gives the expected and the given shape), the
        tasks' shapes differ, ``lengths``, ``tokens`` or ``titles`` do not match n and T, or a
        weight within a sequence's length is NaN or infinite.
    """
    fig = attention_figure(weights, lengths=lengths, tokens=tokens, task=task, titles=titles,
                           max_rows=max_rows, wrap=wrap, cmap=cmap, dpi=dpi)
    return _save(fig, path)
