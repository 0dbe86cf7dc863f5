"""load_csv: a long table, one row per step, grouped into sequences by the id column."""

import pathlib
import re

import numpy as np
import pytest

from nongate_np.data import DataError, load_csv, load_sequences

DATA = pathlib.Path(__file__).parent / "data"
TINY = DATA / "tiny_long.csv"


def test_order_column_and_several_label_columns():
    d = load_csv(TINY, id_col="subject", order_col="t",
                 label_cols=["activity", "fatigue", "phase"],
                 task_kinds={"fatigue": "regression", "phase": "tagging"})
    np.testing.assert_array_equal(d.ids, ["s2", "s1", "s3"])     # first appearance
    np.testing.assert_array_equal(d.lengths, [2, 3, 1])
    # speed, heart_rate; rows sorted by t within each sequence
    np.testing.assert_array_equal(d.x, [[[1.0, 100], [1.5, 101], [0, 0]],
                                        [[0.5, 79], [0.0, 80], [2.5, 81]],
                                        [[3.0, 120], [0, 0], [0, 0]]])
    assert [t["name"] for t in d.tasks] == ["activity", "fatigue", "phase"]
    assert d.tasks[0]["classes"] == ["run", "walk"]
    np.testing.assert_array_equal(d.targets["activity"], [1, 0, 0])
    np.testing.assert_array_equal(d.targets["fatigue"], [[0.5], [2.0], [-1.0]])
    assert d.tasks[2]["classes"] == ["a", "b"]
    np.testing.assert_array_equal(d.targets["phase"], [[0, 1, -100], [0, 0, 1],
                                                       [1, -100, -100]])


def test_file_order_without_an_order_column():
    d = load_csv(TINY, id_col="subject", feature_cols=["speed"], label_cols="activity")
    np.testing.assert_array_equal(d.x[1, :, 0], [0.0, 0.5, 2.5])      # s1 as in the file
    assert d.feature_size == 1


def test_defaults_numeric_columns_are_features_and_label_is_the_label(tmp_path):
    path = tmp_path / "walks.csv"
    path.write_text("id,step,x,y,comment,label\n"
                    "a,0,1,2,hello,10\n"
                    "a,1,3,4,,10\n"
                    "b,0,5,6,bye,2\n")
    d = load_csv(path)
    assert d.x.shape == (2, 2, 3)                       # step, x, y; comment is text
    assert d.feature_names == ["step", "x", "y"]
    assert "3 features (step, x, y)" in d.describe() and d.describe() in repr(d)
    np.testing.assert_array_equal(d.x[0], [[0, 1, 2], [1, 3, 4]])
    assert d.subset([1]).feature_names == d.feature_names
    assert d.tasks[0]["name"] == "label" and d.tasks[0]["classes"] == ["2", "10"]
    np.testing.assert_array_equal(d.targets["label"], [1, 0])


def test_test_file_with_the_training_classes(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("id,v,label\nq,1,walk\n")
    d = load_csv(path, classes={"label": ["run", "walk", "swim"]})
    assert d.tasks[0]["num_classes"] == 3
    np.testing.assert_array_equal(d.targets["label"], [1])


def test_unlabelled_table_ignores_the_training_classes(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("id,v\nq,1\nq,2\n")
    d = load_csv(path, classes={"label": ["run", "walk"]})
    assert d.tasks == [] and d.x.shape == (1, 2, 1)


def test_semicolons_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid;v;label\nq;1.5;x\n".encode("utf-8"))
    d = load_sequences(path, delimiter=";")
    assert d.x[0, 0, 0] == 1.5 and d.tasks[0]["classes"] == ["x"]


@pytest.mark.parametrize("text, kw, match", [
    ("id,v,label\na,1,x\na,2,y\n", {}, r"line 3, column 'label': sequence 'a' has label 'y' "
                                       r"here but 'x' on line 2; .*\(per-step labels: "
                                       r"--label-cols label:tagging, task_kinds=\{'label': "
                                       r"'tagging'\} in Python\)"),
    ("id,t,v\na,0,1\na,0,2\n", {"order_col": "t"}, r"line 3, column 't': sequence 'a' has two "
                                                   r"steps with order 0 \(lines 2 and 3\)"),
    ("id,t,v\na,x,1\n", {"order_col": "t"}, r"line 2, column 't': expected a finite number "
                                            r"\(the step order\), found 'x'"),
    ("id,v,w\na,1,2\na,oops,3\n", {"feature_cols": ["v", "w"]},
     r"line 3, column 'v': expected a finite number \(a feature\), found 'oops'"),
    ("id,v\na,nan\n", {}, r"line 2, column 'v': expected a finite number \(a feature\), "
                          r"found 'nan' \(the first of 1 such cells, in 1 sequence: 'a'\)"),
    ("id,v,w\na,1,inf\nb,2,3\nc,nan,\nc,1,-inf\n", {},
     r"line 2, column 'w': .*found 'inf' \(the first of 4 such cells, in 2 sequences: 'a', "
     r"'c'\)"),
    ("id,v\na,\na,1\n", {}, r"line 2, column 'v': expected a finite number"),
    ("id,v,label\na,1,x\nb,2\n", {}, "line 3: expected 3 fields .* found 2"),
    ("seq,v\na,1\n", {}, r"no id column 'id'; the columns are \['seq', 'v'\]"),
    ("id,v\na,1\n", {"label_cols": ["y"]}, r"no label column 'y'"),
    ("id,v\na,1\n", {"feature_cols": ["w"]}, r"no feature column 'w'"),
    ("id,v,label\na,1,x\n", {"feature_cols": ["label"]},
     "feature column 'label' is also the id, order or a label column"),
    ("id,name,label\na,bob,x\n", {}, r"no numeric feature column"),
    ("id,v,w\na,1,2\na,2,x\na,3,4\n", {}, r"line 3, column 'w': expected a number, found "
                                        r"'x'; column 'w' holds numbers on other lines.*"
                                        r"feature_cols"),
    ("id,v,v\na,1,2\n", {}, r"names columns \['v'\] more than once"),
    ("id,v,label\na,1,\n", {}, "line 2, column 'label': empty label"),
    (",v\n,1\n", {"id_col": ""}, "empty sequence id"),
    ("", {}, "the file is empty"),
    # a TypeError of the csv module, a traceback from train csv --delimiter
    ("id,v\na,1\n", {"delimiter": "ab"}, r"delimiter \(--delimiter\) must be one "
                                           r"character, got 'ab'"),
    ("id,v\n", {}, "a header but no data rows"),
    ("id,v,label\na,1,x\n", {"task_kinds": {"label": "ranking"}},
     r"task_kinds has 'label': 'ranking'"),
    ("id,v,label\na,1,x\n", {"classes": {"label": ["y", "z"]}},
     r"line 2, column 'label': label 'x' is not one of the 2 classes \['y', 'z'\]"),
    ("id,v,score\na,1,high\n", {"label_cols": "score", "task_kinds": {"score": "regression"}},
     r"line 2, column 'score': expected a finite number \(a regression target\), found 'high'"),
])
def test_bad_tables(tmp_path, text, kw, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*" + match):
        load_csv(path, **kw)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,v,label\na,1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        load_csv(path)


def test_a_table_with_another_separator_is_named_and_reads_with_it(tmp_path):
    """A semicolon table read as one column: the message asks whether ';' is the
    separator and names both ways to give it; with it, the table reads as the comma one."""
    rows = ["id,t,f,label", "a,0,1.5,x", "a,1,2.5,x", "b,0,0.5,y"]
    comma, semi = tmp_path / "c.csv", tmp_path / "s.csv"
    comma.write_text("\n".join(rows) + "\n")
    semi.write_text("\n".join(r.replace(",", ";") for r in rows) + "\n")
    with pytest.raises(DataError, match=re.escape(
            "one column holding ';': is that the separator? (--delimiter ';' on the command "
            "line, delimiter=';' in Python)")):
        load_csv(semi)
    a, b = load_csv(comma, order_col="t"), load_csv(semi, order_col="t", delimiter=";")
    np.testing.assert_array_equal(a.x, b.x)
    assert a.targets["label"].tolist() == b.targets["label"].tolist()
