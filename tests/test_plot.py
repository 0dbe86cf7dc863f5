"""Pictures: learning curves and attention weights are written as PNGs that show the data
(padding blank, accuracy in %, non-finite values named), bad input is refused by name, and
without matplotlib the message says how to install it."""

import math
import subprocess
import sys

import numpy as np
import pytest

from nongate_np.training import plot

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402  (after the skip: needs matplotlib)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(epochs=10, *, val=True, best=None):
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train/loss": 3.0 / e, "train/next_char/bits_per_char": 4.0 / e,
               "train/package/accuracy": 0.3 + 0.05 * e, "seconds": 2.0 * e, "lr": 0.01}
        if val:
            row.update({"val/loss": 3.2 / e + 0.1 * max(0, e - 6) ** 2,
                        "val/next_char/bits_per_char": 4.2 / e,
                        "val/package/accuracy": 0.25 + 0.05 * e})
        if best is not None:
            row["best"] = e == best
        rows.append(row)
    return rows


def pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)


def pixel_at(fig, ax, x, y) -> np.ndarray:
    """The RGB (0-255) of the pixel under data point (x, y) of ``ax``."""
    img = pixels(fig)
    px, py = ax.transData.transform((x, y))
    return img[img.shape[0] - 1 - int(py), int(px)]


def rgb(color) -> np.ndarray:
    return np.round(np.asarray(color[:3]) * 255).astype(int)


def assert_png(path, min_size=(300, 500)):
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"
    img = imread(path)
    assert img.shape[0] >= min_size[0] and img.shape[1] >= min_size[1], img.shape
    return img


# ---------------------------------------------------------------- learning curves

def test_history_png_is_written_and_changes_with_the_data(tmp_path):
    first = assert_png(plot.plot_history(history(), tmp_path / "a.png", title="run"))
    again = assert_png(plot.plot_history(history(), tmp_path / "b.png", title="run"))
    other = history()
    other[4]["val/package/accuracy"] = 0.9
    changed = assert_png(plot.plot_history(other, tmp_path / "c.png", title="run"))
    np.testing.assert_array_equal(first, again, err_msg="same history, different picture")
    assert first.shape == changed.shape and np.abs(first - changed).max() > 0.1


def test_history_has_a_panel_per_task_metric_with_units_and_the_best_epoch():
    fig = plot.history_figure(history(best=4))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in axes]
    assert titles == ["total loss", "next_char: bits per character", "package: accuracy (%)"]
    acc = axes[2]
    assert acc.get_ylabel() == "accuracy (%)" and acc.get_xlabel() == "epoch"
    lines = {line.get_label(): line for line in acc.get_lines()}
    np.testing.assert_allclose(lines["val"].get_ydata(),
                               [100 * (0.25 + 0.05 * e) for e in range(1, 11)],
                               err_msg="val accuracy drawn in %")
    assert list(lines["best epoch (4)"].get_xdata()) == [4, 4]
    assert {"train", "val"} <= set(lines) and axes[0].get_legend() is not None


def test_best_epoch_without_flags_is_the_lowest_validation_loss():
    fig = plot.history_figure(history())   # val/loss is lowest at epoch 6, then rises
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "best epoch (6)" in labels, labels


def test_history_with_one_epoch_and_no_validation(tmp_path):
    fig = plot.history_figure(history(1, val=False))
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["train"]
    assert lines[0].get_marker() == "o", "a single epoch needs a marker to be seen"
    assert_png(plot.plot_history(history(1, val=False), tmp_path / "one.png"))


def test_non_finite_values_are_left_out_and_named():
    rows = history(6)
    rows[2]["val/loss"] = math.nan
    rows[3]["val/next_char/bits_per_char"] = math.inf
    with pytest.warns(UserWarning, match=r"val/loss \(epoch 3\).*bits_per_char \(epoch 4\)"):
        fig = plot.history_figure(rows)
    loss, bpc = fig.axes[0], fig.axes[1]
    val = next(line for line in loss.get_lines() if line.get_label() == "val")
    assert np.isnan(val.get_ydata()[2]), "the NaN epoch must be a gap in the line"
    assert any("val epoch 3" in t.get_text() for t in loss.texts)
    assert any("val epoch 4" in t.get_text() for t in bpc.texts)


@pytest.mark.parametrize("bad, match", [
    ([], "non-empty list"),
    ({"epoch": 1, "train/loss": 1.0}, "non-empty list"),
    ([{"epoch": 1, "seconds": 2.0}], "no metric keys"),
    (["train/loss"], r"history\[0\]: expected a dict"),
    ([{"epoch": 1, "train/loss": "1.0"}], r"'train/loss'.*expected a number"),
])
def test_bad_history_is_refused_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        plot.history_figure(bad)


# ---------------------------------------------------------------- attention weights

def peaked(n=3, T=40, lengths=None, peaks=(5, 17, 30), seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.full(n, T) if lengths is None else np.asarray(lengths)
    w = np.zeros((n, T))
    for i in range(n):
        e = rng.normal(0, 0.3, lengths[i])
        e[peaks[i] % lengths[i]] += 4.0
        w[i, :lengths[i]] = np.exp(e) / np.exp(e).sum()
    return w


def test_heatmap_png_changes_with_the_weights(tmp_path):
    a = assert_png(plot.plot_attention(peaked(), tmp_path / "a.png"), (150, 500))
    b = assert_png(plot.plot_attention(peaked(peaks=(9, 3, 21)), tmp_path / "b.png"),
                   (150, 500))
    again = assert_png(plot.plot_attention(peaked(), tmp_path / "c.png"), (150, 500))
    np.testing.assert_array_equal(a, again, err_msg="same weights, different picture")
    assert a.shape == b.shape and np.abs(a - b).max() > 0.1


def test_heatmap_draws_padding_blank_and_zero_weight_in_the_lowest_colour():
    w = peaked(2, 40, lengths=[40, 20])
    fig = plot.attention_figure(w, lengths=[40, 20])
    ax = fig.axes[0]
    viridis = matplotlib.colormaps["viridis"]
    np.testing.assert_array_equal(pixel_at(fig, ax, 30, 1), [255, 255, 255],
                                  err_msg="padding (step 30 of a length-20 row) must be blank")
    i, t = np.unravel_index(w.argmax(), w.shape)
    np.testing.assert_allclose(pixel_at(fig, ax, t, i), rgb(viridis(1.0)), atol=2,
                               err_msg="the largest weight in the top colour")
    # the same zeros, counted as valid steps, are drawn in the colormap's lowest colour
    fig = plot.attention_figure(w)
    np.testing.assert_allclose(pixel_at(fig, fig.axes[0], 30, 1), rgb(viridis(0.0)), atol=2,
                               err_msg="a valid zero weight is not blank")


def test_weight_on_padding_is_reported_and_not_drawn():
    w = peaked(2, 40, lengths=[40, 20])
    w[1, 25] = 0.3
    with pytest.warns(UserWarning, match="sequence 1 puts 0.3 .* past its length 20"):
        fig = plot.attention_figure(w, lengths=[40, 20])
    np.testing.assert_array_equal(pixel_at(fig, fig.axes[0], 25, 1), [255, 255, 255])


def test_text_layout_breaks_lines_at_newlines_and_wraps():
    cells, n_lines, n_columns = plot.text_layout(list("ab\n\tc d"), wrap=80)
    assert [c[3] for c in cells] == ["a", "b", "↵", "→", "c", "·", "d"]
    assert [(c[0], c[1]) for c in cells] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2),
                                             (1, 3)]
    assert (n_lines, n_columns) == (2, 4)
    cells, n_lines, n_columns = plot.text_layout(list("abcdefg"), wrap=3)
    assert [(c[0], c[1]) for c in cells][-1] == (2, 0) and (n_lines, n_columns) == (3, 3)
    cells, _, n_columns = plot.text_layout(["def", " ", "f"], wrap=80)
    assert [c[1:3] for c in cells] == [(0, 3), (3, 1), (4, 1)] and n_columns == 5


def test_text_shows_each_valid_character_on_its_weight_colour(tmp_path):
    text = ["def f(x):\n\treturn x + 1\n", "import os\nos.getcwd()\n"]
    T = max(map(len, text))
    tokens = [list(t) for t in text]
    w = np.zeros((2, T))
    for i, t in enumerate(text):
        w[i, :len(t)] = 0.2 / len(t)
    w[0, text[0].index("r")] += 0.8
    w[1, text[1].index("g")] += 0.5
    fig = plot.attention_figure(w, tokens=tokens, task="package", titles=["a.py", "b.py"])
    first = fig.axes[0]
    drawn = [t.get_text() for t in first.texts]
    assert "".join(drawn) == "def·f(x):↵→return·x·+·1↵"
    assert first.get_title(loc="left") == "a.py"
    reds = matplotlib.colormaps["Reds"]
    cells, _, _ = plot.text_layout(tokens[0])
    line, col, _, _ = cells[text[0].index("r")]
    # near the top of the cell, above the glyph's ink
    np.testing.assert_allclose(pixel_at(fig, first, col + 0.5, line + 0.1), rgb(reds(1.0)),
                               atol=2, err_msg="the most-attended character's background")
    line, col, _, _ = cells[-1]
    np.testing.assert_array_equal(pixel_at(fig, first, col + 1.5, line + 0.1),
                                  [255, 255, 255], err_msg="past the text: blank")
    second = fig.axes[1]
    assert len(second.texts) == len(text[1]), "only the valid steps are written"
    path = plot.plot_attention(w, tmp_path / "text.png", tokens=tokens, task="package")
    assert_png(path, (150, 300))


def test_a_dict_of_tasks_draws_one_column_per_task():
    w = peaked(2, 12)
    tokens = [list("hello world!"), list("print(1)\nx=2")]
    fig = plot.attention_figure({"package": w, "next_char": w[:, ::-1]}, tokens=tokens)
    heads = [sub.get_suptitle() for sub in fig.subfigs]
    assert len(heads) == 2 and "'package'" in heads[0] and "'next_char'" in heads[1]
    with pytest.raises(ValueError, match=r"same shape.*'next_char': \(2, 11\)"):
        plot.attention_figure({"package": w, "next_char": w[:, :11]})


def test_max_rows_limits_the_sequences_drawn():
    fig = plot.attention_figure(peaked(3, 40), max_rows=2)
    assert fig.axes[0].images[0].get_array().shape == (2, 40)
    assert "sequences 0-1 of 3" in fig.subfigs[0].get_suptitle()


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": np.ones(5)}, r"expected shape \(n, T\).*got shape \(5,\)"),
    ({"weights": np.ones((2, 3, 4))}, r"got shape \(2, 3, 4\)"),
    ({"weights": np.ones((2, 0))}, r"got shape \(2, 0\)"),
    ({"weights": [[1.0, 2.0], [1.0]]}, "could not convert"),
    ({"lengths": [4, 9]}, r"lengths: expected shape \(n,\) = \(2,\) of integers in \[0, T=4\]"),
    ({"lengths": [4]}, r"got shape \(1,\)"),
    ({"lengths": [1.5, 2.0]}, "integers"),
    ({"tokens": [list("abcd")]}, "tokens: expected n = 2 lists"),
    ({"tokens": [list("abcd"), list("ab")], "lengths": [4, 3]},
     r"tokens\[1\]: expected at least lengths\[1\] = 3"),
    ({"titles": ["only one"]}, "titles: expected n = 2 labels"),
    ({"max_rows": 0}, "max_rows"),
])
def test_bad_attention_input_is_refused_by_name(kwargs, match):
    kwargs = {"weights": np.full((2, 4), 0.25), **kwargs}
    with pytest.raises(ValueError, match=match):
        plot.attention_figure(**kwargs)


def test_nan_weights_are_refused_inside_the_sequence_and_ignored_in_padding():
    w = np.full((2, 4), 0.25)
    w[1, 3] = math.nan
    with pytest.raises(ValueError, match="sequence 1, step 3"):
        plot.attention_figure(w)
    plot.attention_figure(w, lengths=[4, 3])


def test_without_matplotlib_the_message_says_how_to_install_it(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from nongate_np.training import plot\n"
        "assert not plot.matplotlib_available()\n"
        "for call in (plot.require_matplotlib,\n"
        "             lambda: plot.plot_history([{'train/loss': 1.0}], 'h.png')):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as err:\n"
        "        print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert out.count("pip install matplotlib (or, in the checkout, pip install -e "
                     "'.[plot]')") == 2, out
    assert not (tmp_path / "h.png").exists()
    assert plot.matplotlib_available()


def test_pyplot_state_is_left_alone(tmp_path):
    pyplot = pytest.importorskip("matplotlib.pyplot")
    backend, figures = matplotlib.get_backend(), pyplot.get_fignums()
    plot.plot_history(history(3), tmp_path / "h.png")
    plot.plot_attention(peaked(), tmp_path / "a.png", tokens=[list("x" * 40)] * 3)
    assert (matplotlib.get_backend(), pyplot.get_fignums()) == (backend, figures)
