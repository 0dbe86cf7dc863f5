"""SequenceDataset: what it accepts, subset and split (stratified too), describe, and the
tasks the multi-task model takes."""

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.data import DataError, SequenceDataset, load_csv, pad_sequences
from nongate_np.nn.multitask import MultiTaskSequenceModel

DATA = pathlib.Path(__file__).parent / "data"


def make(n=10, t=5, f=2, labels=None, seed=0):
    """n feature sequences with lengths 1..t, a classification task "c" and a regression
    task "r"."""
    rng = np.random.default_rng(seed)
    x, lengths = pad_sequences([rng.standard_normal((rng.integers(1, t + 1), f))
                                for _ in range(n)])
    labels = np.arange(n) % 3 if labels is None else np.asarray(labels)
    tasks = [{"name": "c", "kind": "classification", "num_classes": int(labels.max()) + 1},
             {"name": "r", "kind": "regression", "output_size": 1}]
    return SequenceDataset(x, lengths, {"c": labels, "r": rng.standard_normal(n)}, tasks,
                           ids=np.arange(n) * 10, source="made")


def test_defaults_filled_and_shapes_normalised():
    d = make()
    assert d.targets["r"].shape == (10, 1) and d.targets["r"].dtype == np.float64
    assert d.tasks[0]["classes"] == ["0", "1", "2"]
    # the classes go into the model, so that its checkpoint names them
    assert d.model_tasks() == [{"name": "c", "kind": "classification", "num_classes": 3,
                                "classes": ["0", "1", "2"]},
                               {"name": "r", "kind": "regression", "output_size": 1}]
    assert len(d) == 10 and d.feature_size == 2 and not d.is_tokens
    assert d.max_len == d.lengths.max()


def test_tagging_targets_are_ignored_past_each_length():
    x = np.array([[3, 4, 0], [5, 0, 0]])
    y = np.array([[1, 0, 1], [2, 2, 2]])
    d = SequenceDataset(x, [2, 1], {"tag": y},
                        [{"name": "tag", "kind": "tagging", "num_classes": 3}],
                        vocab=["", "?", "a", "b", "c", "d"])
    np.testing.assert_array_equal(d.targets["tag"], [[1, 0, -100], [2, -100, -100]])
    np.testing.assert_array_equal(y, [[1, 0, 1], [2, 2, 2]], err_msg="caller's array kept")
    assert d.is_tokens and d.feature_size is None


@pytest.mark.parametrize("kw, match", [
    ({"x": np.ones((2, 3))}, r"x has shape \(2, 3\) and dtype float64; expected token ids "
                             r"\(N, T\) int or features \(N, T, F\) float \(one feature"),
    ({"x": [np.ones((3, 1)), np.ones((2, 1))]},
     r"x: item \[0\] has shape \(3, 1\) and item \[1\] \(2, 1\); sequences of different "
     r"lengths must be padded .*pad_sequences"),
    ({"x": np.ones((2, 3, 1)), "lengths": [3, 4]}, r"lengths must lie in \[1, T=3\]"),
    ({"x": np.ones((2, 3, 1)), "lengths": [3, 0]},
     r"lengths must lie in \[1, T=3\] \(a sequence has at least one step\): lengths\[1\] is 0 "
     r"\(the first of 1 outside\)"),
    ({"x": np.ones((2, 3, 1)), "lengths": [3, 2]},
     r"zero past each sequence's length \(padding\): sequence 1 \(length 2\) holds a "
     r"non-zero value at step 2, the first of 1 such steps"),
    ({"x": np.array([[1, 2, 3], [4, 5, 6]]), "lengths": [1, 3]},
     r"sequence 0 \(length 1\) holds a non-zero value at step 1, the first of 2 such steps"),
    ({"x": np.where(np.arange(6).reshape(2, 3, 1) == 4, np.nan, 1.0)},
     r"x\[1, 1, 0\] is nan \(sequence 1, step 1, feature 0; the first of 1\); expected "
     r"finite features$"),
    ({"x": np.where(np.arange(6).reshape(2, 3, 1) >= 2, -np.inf, 0.0), "lengths": [2, 3]},
     r"x\[0, 2, 0\] is -inf .*the first of 4\); past its length 2, in the padding, which "
     r"must hold zeros$"),
    ({"targets": {"c": np.array([0, 3])}}, r"target 'c' has class ids 0..3; expected ids in "
                                           r"\[0, 2\)"),
    ({"targets": {"c": np.array([0.0, 1.0])}}, r"target 'c' .* expected \(2,\) integer"),
    ({"targets": {}}, r"targets are given for \[\] but the tasks are \['c'\]"),
    ({"tasks": [{"name": "c", "kind": "ranking", "num_classes": 2}]}, "expected a dict with"),
    ({"tasks": [{"name": "c", "kind": "classification", "num_classes": 2,
                 "classes": ["a"]}]}, "1 class names for num_classes=2"),
    ({"ids": [1, 2, 3]}, r"ids has shape \(3,\); expected \(2,\)"),
    ({"vocab": ["", "a"]}, "vocab is given but x holds features"),
])
def test_construction_checks(kw, match):
    args = dict(x=np.ones((2, 3, 1)), lengths=[3, 3], targets={"c": np.array([0, 1])},
                tasks=[{"name": "c", "kind": "classification", "num_classes": 2}],
                source="here")
    args.update(kw)
    with pytest.raises(DataError, match=r"SequenceDataset \(here\): .*" + match):
        SequenceDataset(**args)


def test_subset_keeps_rows_together():
    d = make()
    s = d.subset([7, 2])
    np.testing.assert_array_equal(s.ids, [70, 20])
    np.testing.assert_array_equal(s.x, d.x[[7, 2]])
    np.testing.assert_array_equal(s.targets["c"], d.targets["c"][[7, 2]])
    np.testing.assert_array_equal(s.targets["r"], d.targets["r"][[7, 2]])
    np.testing.assert_array_equal(d.subset(d.targets["c"] == 1).ids, [10, 40, 70])


@given(n=st.integers(2, 40), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 99),
       stratify=st.booleans())
def test_split_sizes_and_disjoint_cover(n, fraction, seed, stratify):
    d = make(n=n, seed=seed)
    rest, held = d.split(fraction, seed=seed, stratify="c" if stratify else None)
    assert len(held) == min(max(round(fraction * n), 1), n - 1)
    assert sorted(np.concatenate([rest.ids, held.ids])) == list(d.ids)
    assert np.all(np.diff(held.ids) > 0) and np.all(np.diff(rest.ids) > 0), "original order"


def test_split_is_reproducible_and_seeded():
    d = make(n=30)
    a, b, c = (d.split(0.3, seed=s)[1].ids for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    d = make(n=100, labels=labels)
    for seed in range(5):
        rest, held = d.split(0.2, seed=seed, stratify="c")
        np.testing.assert_array_equal(np.bincount(held.targets["c"]), [10, 6, 4])
        np.testing.assert_array_equal(np.bincount(rest.targets["c"]), [40, 24, 16])


def test_stratified_split_rounds_by_largest_remainder():
    d = make(n=10, labels=np.repeat([0, 1, 2], [7, 2, 1]))
    for seed in range(5):                           # quotas 2.1, 0.6, 0.3: the seat left
        _, held = d.split(0.3, seed=seed, stratify="c")         # goes to class 1
        np.testing.assert_array_equal(np.bincount(held.targets["c"], minlength=3), [2, 1, 0])


def test_stratified_split_breaks_ties_at_random():
    d = make(n=10, labels=np.repeat([0, 1, 2], [5, 3, 2]))
    seen = set()
    for seed in range(20):                          # quotas 2.5, 1.5, 1.0: a tie
        _, held = d.split(0.5, seed=seed, stratify="c")
        seen.add(tuple(np.bincount(held.targets["c"], minlength=3)))
    assert seen == {(3, 1, 1), (2, 2, 1)}


@pytest.mark.parametrize("call, match", [
    (lambda d: d.split(0.0), r"fraction must lie in \(0, 1\), got 0.0"),
    (lambda d: d.split(1.0), r"fraction must lie in \(0, 1\)"),
    (lambda d: d.subset([0]).split(0.5), "need at least 2 sequences to split, found 1"),
    (lambda d: d.split(0.5, stratify="r"), "stratify='r' must name a classification task"),
])
def test_bad_splits(call, match):
    with pytest.raises(DataError, match=match):
        call(make())


def test_describe_one_line():
    d = load_csv(DATA / "tiny_long.csv", id_col="subject", order_col="t",
                 label_cols=["activity", "fatigue", "phase"],
                 task_kinds={"fatigue": "regression", "phase": "tagging"})
    text = d.describe()
    assert "\n" not in text
    assert text == (f"{DATA / 'tiny_long.csv'}: 3 sequences, lengths 1..3 (mean 2.0), "
                    f"2 features (speed, heart_rate); "
                    f"activity (classification, 2 classes: run=2, walk=1); "
                    f"fatigue (regression, 1 output, mean 0.5, std 1.225); "
                    f"phase (tagging, 2 classes: a=3, b=3)")


def test_describe_quotes_labels_that_would_break_the_line():
    x = np.array([[2, 3, 4]])
    d = SequenceDataset(x, [3], {"next": np.array([[3, 4, 1]])},
                        [{"name": "next", "kind": "tagging",
                          "classes": ["", "\n", " ", "a", "b"]}], vocab=["", "\n", " ", "a", "b"])
    text = d.describe()
    assert "\n" not in text
    assert text.endswith("next (tagging, 5 classes: ''=0, '\\n'=1, ' '=0, a=1, b=1)")
    # one class reads as one ("1 class", not "1 classes")
    one = SequenceDataset(x, [3], {"next": np.array([[0, 0, 0]])},
                          [{"name": "next", "kind": "tagging", "classes": ["a"]}])
    assert one.describe().endswith("next (tagging, 1 class: a=3)"), one.describe()


def test_the_multitask_model_takes_the_tasks_and_targets():
    d = load_csv(DATA / "tiny_long.csv", id_col="subject", order_col="t",
                 label_cols=["activity", "fatigue", "phase"],
                 task_kinds={"fatigue": "regression", "phase": "tagging"})
    ng.seed(0)
    model = MultiTaskSequenceModel(d.model_tasks(), input_size=d.feature_size, embed_size=3,
                                   hidden_size=4, attn_size=3, dtype=np.float64)
    with ng.backend("numpy"):
        out = model(d.x, lengths=d.lengths)
        total, parts = model.loss(out, d.targets)
    assert sorted(parts) == ["activity", "fatigue", "phase"]
    assert np.isfinite(total.item())
