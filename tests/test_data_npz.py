"""load_npz: X, lengths, ids and one y_<task> array per task, each task's kind read from its
array's shape and dtype."""

import re
import warnings

import numpy as np
import pytest

from nongate_np.data import DataError, load_npz, load_sequences


def save(tmp_path, **arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_every_task_kind(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 2))
    lengths = np.array([5, 2, 3, 1])
    x[1, 2:] = np.nan                                  # padding: never read
    tags = rng.integers(0, 3, (4, 5))
    tags[0, 1] = -100                                  # a step no loss reads
    path = save(tmp_path, X=x, lengths=lengths, ids=np.array(["a", "b", "c", "d"]),
                y_kind=np.array([7, 3, 7, 3]), y_score=rng.standard_normal(4),
                y_pose=rng.standard_normal((4, 3)), y_tag=tags,
                y_name=np.array(["cat", "dog", "cat", "cat"]), y_flag=np.array([1, 0, 0, 1]) > 0)
    d = load_npz(path)
    np.testing.assert_array_equal(d.lengths, lengths)
    mask = np.arange(5)[None, :] < lengths[:, None]
    np.testing.assert_array_equal(d.x[mask], x[mask])
    assert np.all(d.x[~mask] == 0)
    np.testing.assert_array_equal(d.ids, ["a", "b", "c", "d"])
    kinds = {t["name"]: (t["kind"], t.get("classes", t.get("output_size"))) for t in d.tasks}
    assert kinds == {"kind": ("classification", ["3", "7"]), "score": ("regression", 1),
                     "pose": ("regression", 3), "tag": ("tagging", ["0", "1", "2"]),
                     "name": ("classification", ["cat", "dog"]),
                     "flag": ("classification", ["False", "True"])}
    np.testing.assert_array_equal(d.targets["kind"], [1, 0, 1, 0])
    np.testing.assert_array_equal(d.targets["pose"].shape, (4, 3))
    want_tags = np.where(mask, tags, -100)
    np.testing.assert_array_equal(d.targets["tag"], want_tags)


def test_lengths_default_to_t_and_classes_can_be_given(tmp_path):
    path = save(tmp_path, X=np.ones((3, 4, 1)), y_label=np.array([2, 0, 2]))
    d = load_npz(path, classes={"label": ["0", "1", "2"]})
    np.testing.assert_array_equal(d.lengths, [4, 4, 4])
    np.testing.assert_array_equal(d.targets["label"], [2, 0, 2])
    assert d.tasks[0]["num_classes"] == 3
    assert load_sequences(path).tasks[0]["classes"] == ["0", "2"]


def test_features_and_targets_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x, lengths = rng.standard_normal((6, 7, 3)), rng.integers(1, 8, 6)
    x[np.arange(7)[None, :] >= lengths[:, None]] = 0.0
    y = rng.integers(0, 4, 6)
    d = load_npz(save(tmp_path, X=x, lengths=lengths, y_label=y))
    np.testing.assert_array_equal(d.x, x)
    classes = np.array(d.tasks[0]["classes"], dtype=np.int64)
    np.testing.assert_array_equal(classes[d.targets["label"]], y)


@pytest.mark.parametrize("arrays, match", [
    ({"lengths": np.array([1])}, r"no array 'X'; the archive holds \['lengths'\]"),
    ({"X": np.ones((2, 3))}, r"array 'X': has shape \(2, 3\) .* expected \(N, T, F\) .* "
                             r"X\[\.\.\., None\]"),
    ({"X": np.ones((2, 0, 1))}, r"array 'X': has shape \(2, 0, 1\)"),
    ({"X": np.ones((2, 3), np.int64)}, r"array 'X': has shape \(2, 3\) and dtype int64; .*; "
                                       r"token ids \(N, T\) are not read from .npz files"),
    ({"X": np.ones((2, 3, 1)), "lengths": np.array([3])},
     r"array 'lengths': has shape \(1,\) .* expected \(2,\) integers"),
    ({"X": np.ones((2, 3, 1)), "lengths": np.array([3.0, 1.0])},
     r"array 'lengths': .* dtype float64; expected \(2,\) integers"),
    ({"X": np.ones((2, 3, 1)), "lengths": np.array([3, 4])},
     r"array 'lengths': sequence 1 has length 4; expected 1 <= length <= T = 3"),
    ({"X": np.ones((2, 3, 1)), "lengths": np.array([0, 3])}, r"sequence 0 has length 0"),
    ({"X": np.array([[[1.0], [np.nan]], [[1.0], [1.0]]])},
     r"array 'X': sequence 0, step 1 holds nan; expected finite numbers within each length "
     r"\(the first of 1 such values, in 1 sequence: 0\)"),
    ({"X": np.array([[[1.0], [np.nan]], [[np.inf], [-np.inf]], [[2.0], [np.nan]]]),
      "lengths": np.array([2, 2, 1])},         # the last NaN is past its length: padding
     r"sequence 0, step 1 holds nan; .* \(the first of 3 such values, in 2 sequences: 0, "
     r"1\)"),
    ({"X": np.ones((2, 3, 1)), "y_label": np.array([1, 2, 3])},
     r"array 'y_label': has shape \(3,\); expected 2 rows"),
    ({"X": np.ones((2, 3, 1)), "y_label": np.ones((2, 3, 4))},
     r"array 'y_label': has shape \(2, 3, 4\) and dtype float64; expected \(2,\) integers"
     r".*, or a kind named in task_kinds \(--task-kinds\)$"),
    ({"X": np.ones((2, 3, 1)), "y_tag": np.ones((2, 5), np.int64)},
     r"array 'y_tag': has shape \(2, 5\) and dtype int64.*\(2, 3\) integers \(tagging\)"),
    ({"X": np.ones((2, 3, 1)), "y_score": np.array([1.0, np.inf])},
     "array 'y_score': sequence 1 has a non-finite target"),
    ({"X": np.ones((2, 3, 1)), "length": np.array([3, 3])},
     r"unknown arrays \['length'\]; expected 'X', optional 'lengths'"),
    ({"X": np.ones((2, 3, 1)), "y_": np.array([0, 1])}, r"unknown arrays \['y_'\]"),
])
def test_bad_archives(tmp_path, arrays, match):
    path = save(tmp_path, **arrays)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*" + match):
        load_npz(path)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = save(tmp_path, X=np.ones((2, 3, 1)), y_label=np.array([{"a": 1}, None]))
    with pytest.raises(DataError, match="array 'y_label': holds Python objects"):
        load_npz(path)


def test_a_ragged_x_is_refused_with_how_to_pad_it(tmp_path):
    """X saved as an object array of sequences of different lengths: the message says how
    to save them padded, with their lengths (a cast as for other object arrays cannot
    work), and is not unpickled to find out."""
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.ones((3, 2)), np.ones((5, 2))
    path = tmp_path / "ragged.npz"
    np.savez(path, X=ragged, y_label=np.array(["a", "b"]))
    with pytest.raises(DataError) as err:
        load_npz(path)
    message = str(err.value)
    assert message.startswith(f"{path}, array 'X': holds Python objects"), message
    assert "X, lengths = nongate_np.data.pad_sequences(sequences)" in message, message
    assert "np.savez(path, X=X, lengths=lengths, " in message, message
    assert "astype" not in message, message


def test_zero_padded_x_without_lengths_warns_and_still_loads(tmp_path):
    """No 'lengths' and X zero-padded: every sequence would be read at full length, its
    padding as data. One warning names how many sequences end in all-zero steps and the
    fix; the file loads as before (zeros can be real data), and with 'lengths', or
    without zero endings, nothing is said."""
    rng = np.random.default_rng(0)
    lengths = np.array([5, 2, 3, 5, 4, 1])
    x = rng.standard_normal((6, 5, 2)) + 3
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0
    path = save(tmp_path, X=x, y_label=np.arange(6) % 2)
    with pytest.warns(UserWarning) as caught:
        d = load_npz(path)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"{path}: 4 of 6 sequences end in all-zero steps, read as data: without an array "
        f"'lengths' every sequence is T = 5 steps long; if the zeros are padding, save "
        f"each sequence's length: np.savez(path, X=X, lengths=lengths, y_label=y)")
    np.testing.assert_array_equal(d.lengths, [5] * 6)
    np.testing.assert_array_equal(d.x, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_npz(save(tmp_path, X=x, lengths=lengths, y_label=np.arange(6) % 2))
        load_npz(save(tmp_path, X=x + 10, y_label=np.arange(6) % 2))
        x[0, -1] = 0                # one sequence of twenty: its zeros are likely data
        load_npz(save(tmp_path, X=np.concatenate([x[:1], np.repeat(x[:1] + 10, 19, axis=0)]),
                      y_label=np.arange(20) % 2))


def test_unknown_label_with_given_classes(tmp_path):
    path = save(tmp_path, X=np.ones((2, 3, 1)), y_label=np.array([0, 5]))
    with pytest.raises(DataError, match=r"array 'y_label', sequence 1: label '5' is not one "
                                        r"of the 2 classes \['0', '1'\]"):
        load_npz(path, classes={"label": ["0", "1"]})


def test_not_an_archive(tmp_path):
    text = tmp_path / "x.npz"
    text.write_text("hello")
    with pytest.raises(DataError, match=r"x.npz: not a readable .npz archive"):
        load_npz(text)
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(DataError, match=r"single.npz: holds a single array \(3,\), not an "
                                        r"\.npz archive"):
        load_npz(single)


def test_task_kinds_read_integer_targets_as_a_regression(tmp_path):
    """Integer targets (a count, a year) are classes unless task_kinds names their kind;
    a regression target may be (N,) or (N, k) integers; a kind for a task the file lacks
    is ignored (an unlabelled file read as the training file was)."""
    year = np.array([1999, 2004, 2011])
    counts = np.array([[0, 3], [2, 5], [7, 1]])
    path = save(tmp_path, X=np.ones((3, 4, 1)), y_year=year, y_counts=counts,
                y_label=np.array([1, 0, 1]))
    with pytest.raises(DataError, match=r"'y_counts': has shape \(3, 2\) and dtype int64; "
                                        r"expected .* or a kind named in task_kinds"):
        load_npz(path)
    assert load_npz(path, task_kinds={"counts": "regression"}).tasks[0] == {
        "name": "year", "kind": "classification", "num_classes": 3,
        "classes": ["1999", "2004", "2011"]}
    d = load_npz(path, task_kinds={"year": "regression", "counts": "regression",
                                   "label": "classification", "absent": "tagging"})
    kinds = {t["name"]: (t["kind"], t.get("output_size")) for t in d.tasks}
    assert kinds == {"year": ("regression", 1), "counts": ("regression", 2),
                     "label": ("classification", None)}
    np.testing.assert_array_equal(d.targets["year"], year[:, None].astype(np.float64))
    np.testing.assert_array_equal(d.targets["counts"], counts.astype(np.float64))
    assert d.targets["year"].dtype == np.float64
    np.testing.assert_array_equal(d.targets["label"], [1, 0, 1])


@pytest.mark.parametrize("arrays, kinds, match", [
    ({"y_v": np.array([0.0, 1.0])}, {"v": "classification"},
     r"array 'y_v': declared classification \(task_kinds, --task-kinds\), but has shape "
     r"\(2,\) and dtype float64; a classification target is \(2,\) integers, booleans or "
     r"strings; class labels that are floats: y.astype\(int\)"),
    ({"y_v": np.array([0, 1])}, {"v": "tagging"},
     r"array 'y_v': declared tagging .* has shape \(2,\) and dtype int64; a tagging target "
     r"is \(2, 3\) integers"),
    ({"y_v": np.array(["a", "b"])}, {"v": "regression"},
     r"array 'y_v': declared regression .* dtype <U1; a regression target is \(2,\) or "
     r"\(2, k\) numbers"),
    ({"y_v": np.array([0, 1])}, {"v": "regresion"},
     r"task_kinds has 'v': 'regresion'; expected one of \('classification', 'regression', "
     r"'tagging'\)"),
])
def test_a_kind_that_cannot_apply_is_named(tmp_path, arrays, kinds, match):
    path = save(tmp_path, X=np.ones((2, 3, 1)), **arrays)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*" + match):
        load_npz(path, task_kinds=kinds)
