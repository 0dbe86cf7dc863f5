"""load_ts on the UCR/UEA archive's own files and on tiny hand-written ones."""

import pathlib
import re

import numpy as np
import pytest

from nongate_np.data import DataError, load_sequences, load_ts, unpad_sequences

DATA = pathlib.Path(__file__).parent / "data"


def data_lines(path):
    """The lines after @data, split by hand: the reference the loader is checked against."""
    lines = path.read_text().splitlines()
    start = [line.strip().lower() for line in lines].index("@data") + 1
    return [line for line in lines[start:] if line.strip()]


@pytest.mark.parametrize("name, n, t, f, classes", [
    ("GunPoint_TRAIN", 50, 150, 1, ["1", "2"]),
    ("GunPoint_TEST", 150, 150, 1, ["1", "2"]),
    ("BasicMotions_TRAIN", 40, 100, 6, ["Standing", "Running", "Walking", "Badminton"]),
    ("BasicMotions_TEST", 40, 100, 6, ["Standing", "Running", "Walking", "Badminton"]),
])
def test_archive_files_equal_length(name, n, t, f, classes):
    path = DATA / f"{name}.ts"
    d = load_ts(path)
    assert d.x.shape == (n, t, f) and np.all(d.lengths == t)
    assert d.tasks == [{"name": "label", "kind": "classification",
                        "num_classes": len(classes), "classes": classes}]
    for i, line in enumerate(data_lines(path)):
        *dims, label = line.split(":")
        want = np.array([[float(v) for v in dim.split(",")] for dim in dims]).T
        np.testing.assert_array_equal(d.x[i], want, err_msg=f"{name} case {i}")
        assert classes[d.targets["label"][i]] == label


def test_archive_class_counts():
    """The class balance the archive documents: 24/26 in GunPoint's train split, 10 of
    each of the four activities in BasicMotions'."""
    np.testing.assert_array_equal(
        np.bincount(load_ts(DATA / "GunPoint_TRAIN.ts").targets["label"]), [24, 26])
    np.testing.assert_array_equal(
        np.bincount(load_ts(DATA / "BasicMotions_TRAIN.ts").targets["label"]), [10] * 4)


def test_gunpoint_reproduces_the_archives_euclidean_baseline():
    """1-NN with Euclidean distance on the parsed files makes the archive's published test
    error, 0.0867 (13 of 150; Dau et al. 2019, the UCR archive's "ED (w=0)" column)."""
    train, test = load_ts(DATA / "GunPoint_TRAIN.ts"), load_ts(DATA / "GunPoint_TEST.ts")
    a, b = train.x.reshape(len(train), -1), test.x.reshape(len(test), -1)
    nearest = ((b[:, None, :] - a[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    errors = np.sum(train.targets["label"][nearest] != test.targets["label"])
    assert errors == 13


@pytest.mark.parametrize("split", ["TRAIN", "TEST"])
def test_archive_file_unequal_length(split):
    path = DATA / f"PickupGestureWiimoteZ_{split}.ts"
    d = load_ts(path)
    lines = data_lines(path)
    assert len(d) == len(lines) == 50 and d.feature_size == 1
    assert d.tasks[0]["classes"] == [str(k) for k in range(1, 11)]
    assert d.lengths.min() < d.lengths.max() == d.x.shape[1]
    for i, (got, line) in enumerate(zip(unpad_sequences(d.x, d.lengths), lines)):
        values, label = line.split(":")
        np.testing.assert_array_equal(got[:, 0], [float(v) for v in values.split(",")],
                                      err_msg=f"case {i}")
        assert d.tasks[0]["classes"][d.targets["label"][i]] == label


def test_test_file_with_the_train_files_classes():
    train = load_ts(DATA / "BasicMotions_TRAIN.ts")
    reordered = ["Walking", "Badminton", "Standing", "Running"]
    test = load_ts(DATA / "BasicMotions_TEST.ts", classes=reordered)
    default = load_ts(DATA / "BasicMotions_TEST.ts")
    assert test.tasks[0]["classes"] == reordered
    np.testing.assert_array_equal(
        np.array(reordered)[test.targets["label"]],
        np.array(train.tasks[0]["classes"])[default.targets["label"]])
    same = load_ts(DATA / "BasicMotions_TEST.ts", classes={"label": reordered})
    np.testing.assert_array_equal(same.targets["label"], test.targets["label"])


def test_tiny_univariate_keeps_header_class_order():
    d = load_ts(DATA / "tiny_univariate.ts")
    assert d.tasks[0]["classes"] == ["b", "a"]
    np.testing.assert_array_equal(d.targets["label"], [1, 0, 1])
    np.testing.assert_array_equal(d.x[:, :, 0], [[1, 2, 3, 4], [-1.5, 0.5, 25, 0],
                                                 [0.25] * 4])


def test_tiny_multivariate_unequal():
    d = load_ts(DATA / "tiny_multivariate_unequal.ts")
    np.testing.assert_array_equal(d.lengths, [3, 1, 2])
    np.testing.assert_array_equal(d.x, [[[1, 10], [2, 20], [3, 30]],
                                        [[4, 40], [0, 0], [0, 0]],
                                        [[5, 50], [6, 60], [0, 0]]])
    assert d.tasks[0]["classes"] == ["walk", "run"]
    np.testing.assert_array_equal(d.targets["label"], [1, 0, 0])


def test_tiny_regression():
    d = load_ts(DATA / "tiny_regression.ts")
    assert d.tasks == [{"name": "target", "kind": "regression", "output_size": 1}]
    np.testing.assert_array_equal(d.targets["target"], [[0.5], [-2.25]])
    np.testing.assert_array_equal(d.lengths, [3, 2])


def test_missing_values_carried_forward_and_trailing_ones_trimmed():
    d = load_ts(DATA / "tiny_missing.ts")
    np.testing.assert_array_equal(d.lengths, [3, 5])
    np.testing.assert_array_equal(d.x[0, :3], [[1, 20], [1, 20], [3, 20]])
    np.testing.assert_array_equal(d.x[1], [[2, 10], [2, 20], [3, 30], [4, 40], [5, 40]])


def test_unlabelled_file_has_no_tasks():
    d = load_ts(DATA / "tiny_unlabelled.ts")
    assert d.tasks == [] and d.targets == {} and len(d) == 2


def test_load_sequences_dispatches_on_the_suffix():
    d = load_sequences(str(DATA / "GunPoint_TRAIN.ts"))
    np.testing.assert_array_equal(d.x, load_ts(DATA / "GunPoint_TRAIN.ts").x)


HEADER = ("@problemName Bad\n@timeStamps false\n@univariate true\n@equalLength false\n"
          "@classLabel true a b\n@data\n")


@pytest.mark.parametrize("text, kw, match", [
    (HEADER + "1,2,3:c\n", {}, r"line 7: label 'c' is not one of the 2 classes \['a', 'b'\]"),
    (HEADER + "1,2,3:a\n4,x,6:b\n", {}, r"line 8: dimension 1, value 2: expected a number or "
                                        r"'\?', found 'x'"),
    (HEADER + "1,,3:a\n", {}, r"line 7: dimension 1, value 2: expected a number or '\?', "
                              r"found ''"),
    (HEADER + "1,inf:a\n", {}, r"line 7: dimension 1, value 2: expected a finite number, "
                               r"found 'inf'"),
    (HEADER + "1,2:3,4:a\n", {}, r"line 7: expected 1 dimension separated by ':', found 2"),
    (HEADER + "1,2,3\n", {}, r"line 7: no label; expected 'values:\.\.\.:label'"),
    (HEADER + "?,?:a\n", {}, r"line 7: every value is missing"),
    (HEADER, {}, "no series after '@data'"),
    (HEADER + "1,2:b\n", {"classes": ["b"]}, None),
    (HEADER + "1,2:a\n", {"classes": ["b"]}, r"line 7: label 'a' is not one of the 1 classes"),
    (HEADER.replace("@data\n", ""), {}, r"no '@data' line"),
    (HEADER.replace("@univariate true", "@univariate maybe"), {},
     r"line 3: @univariate expects true or false, found 'maybe'"),
    (HEADER.replace("@classLabel true a b", "@classLabel true"), {},
     r"line 5: @classLabel true lists no labels"),
    (HEADER.replace("@classLabel true a b", "@classLabel yes a b"), {},
     r"line 5: @classLabel expects 'true <label> <label> \.\.\.' or 'false'"),
    (HEADER.replace("@classLabel true a b\n", ""), {},
     r"the header has neither @classLabel nor @targetLabel"),
    (HEADER.replace("@classLabel true a b", "@classLabel true a b\n@targetLabel true"), {},
     r"both @classLabel true and @targetLabel true"),
    (HEADER.replace("@timeStamps false", "@timeStamps true"), {},
     r"@timeStamps true is not supported"),
    (HEADER + "(2007-01-01 00:00:00,241.97),(2007-01-01 00:01:00,241.75):a\n", {},
     r"line 7: timestamped values '\(time,value\)' are not supported"),
    ("1,2,3:a\n", {}, r"line 1: expected a header tag such as '@problemName' or '@data'"),
    ("@problemName M\n@univariate false\n@dimensions 2\n@classLabel true a\n@data\n"
     "1,2:3:a\n", {}, r"line 6: the dimensions have different lengths \[2, 1\]"),
    ("@problemName M\n@univariate false\n@dimensions 2\n@classLabel true a\n@data\n"
     "1,2:a\n", {}, r"line 6: expected 2 dimensions separated by ':', found 1"),
    ("@problemName M\n@univariate false\n@dimensions 2\n@classLabel true a\n@data\n"
     "1,2:?,?:a\n", {}, r"line 6: dimension 2 has only missing values"),
    ("@univariate true\n@dimensions 3\n@classLabel false\n@data\n1\n", {},
     r"@univariate true but @dimensions 3"),
    ("@dimensions two\n@classLabel false\n@data\n1\n", {},
     r"line 1: @dimensions expects a positive integer, found 'two'"),
    ("@equalLength true\n@seriesLength 3\n@classLabel false\n@data\n1,2,3\n1,2\n", {},
     r"line 6: expected @seriesLength 3 values, found 2"),
    ("@targetLabel true\n@classLabel false\n@data\n1,2:high\n", {},
     r"line 4: expected a number as the regression target, found 'high'"),
    ("@targetLabel true\n@classLabel false\n@data\n1,2:0.5\n", {"classes": ["a"]}, None),
    ("@targetLabel true\n@classLabel false\n@data\n1,2:0.5\n",
     {"classes": {"label": ["a"]}}, None),
    ("@classLabel false\n@data\n1,2\n", {"classes": ["a"]}, None),
    (HEADER + "1:a\n", {"classes": {"other": ["b"]}}, None),
])
def test_bad_ts_files(tmp_path, text, kw, match):
    path = tmp_path / "bad.ts"
    path.write_text(text)
    if match is None:                                 # the control: a good file loads
        assert len(load_ts(path, **kw)) == 1
        return
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*" + match):
        load_ts(path, **kw)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"nope.ts: no such file"):
        load_ts(tmp_path / "nope.ts")
    binary = tmp_path / "binary.ts"
    binary.write_bytes(b"@data\n\xff\xfe\x00")
    with pytest.raises(DataError, match=r"binary.ts: not a UTF-8 text file"):
        load_ts(binary)
    with pytest.raises(DataError, match=r"data.arff: unsupported file type '.arff'; expected "
                                        r"one of .ts, .csv, .npz"):
        load_sequences(tmp_path / "data.arff")
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        load_sequences(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"nope.npz: no such file"):
        load_sequences(tmp_path / "nope.npz")
    for suffix in (".ts", ".csv", ".npz"):
        folder = tmp_path / f"folder{suffix}"
        folder.mkdir()
        with pytest.raises(DataError, match=re.escape(str(folder)) + ": (cannot read|not a "
                                                                     "readable)"):
            load_sequences(folder)
