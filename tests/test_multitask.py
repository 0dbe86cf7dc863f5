"""The multi-task model, its streaming encoder, and the main training job."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nongate_np as ng
from nongate_np.data import SequenceDataset, make_two_trigger
from nongate_np.nn.multitask import MultiTaskSequenceModel
from nongate_np.training import fit, predict

TASKS = [{"name": "topic", "kind": "classification", "num_classes": 3},
         {"name": "score", "kind": "regression", "output_size": 2},
         {"name": "tags", "kind": "tagging", "num_classes": 4}]


def small_model(**kw):
    ng.seed(kw.pop("seed", 0))
    args = dict(vocab_size=10, embed_size=5, hidden_size=6, attn_size=4, dtype=np.float64)
    args.update(kw)
    return MultiTaskSequenceModel(TASKS, **args)


@given(kind=st.sampled_from(["additive", "gated", "weight_gated"]), value_proj=st.booleans(),
       layers=st.integers(1, 2), data=st.data())
def test_streaming_equals_encode(kind, value_proj, layers, data):
    m = small_model(attention=kind, value_proj=value_proj, num_layers=layers)
    B, T = 3, data.draw(st.integers(1, 8))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = rng.integers(1, 10, (B, T))
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(T - 1, 1)), max_size=3))))
    bounds = list(zip([0] + cuts, cuts + [T])) if T > 1 else [(0, T)]
    stream = m.stream(B)
    for a, b in bounds:
        out = stream.update(x[:, a:b], np.clip(lengths - a, 0, b - a))
    seen = lengths > 0              # encode refuses an empty sequence; a stream has it zero
    np.testing.assert_array_equal(out[~seen], 0)
    if seen.any():
        np.testing.assert_allclose(out[seen], m.encode(x[seen], lengths[seen]), rtol=1e-12,
                                   atol=1e-14)


def test_token_ids_outside_the_vocabulary_past_lengths_are_padding():
    """Applications pad with -1 or any id: past each length it is never looked up, and the
    result is that of padding with id 0, in one call and streamed; inside a length an
    unknown id is still an error naming it."""
    m = small_model().eval()
    lengths = np.array([3, 1])
    x = np.array([[3, 4, 5, -1, 99], [7, -1, -1, -1, -1]])
    zero = np.where(np.arange(5)[None, :] < lengths[:, None], x, 0)
    np.testing.assert_array_equal(m.encode(x, lengths), m.encode(zero, lengths))
    stream = m.stream(2)
    for a, b in ((0, 2), (2, 5)):
        out = stream.update(x[:, a:b], np.clip(lengths - a, 0, b - a))
    np.testing.assert_allclose(out, m.encode(zero, lengths), rtol=1e-12, atol=1e-14)
    with pytest.raises(ng.data.DataError, match=r"^encode: token ids must lie in \[0, 10\) "
                                                r"\(vocab_size\) within each sequence's "
                                                r"length: x\[0, 3\] is -1, the first of 1$"):
        m.encode(x, np.array([4, 1]))
    with pytest.raises(IndexError, match="id -1 is out of range for 10 embeddings"):
        m(x, lengths=np.array([4, 1]))                # the forward: as torch's Embedding


def test_features_beyond_float32_become_inf_without_a_warning():
    """In the forward, as ng.tensor(1e39, float32); encode names them instead (below)."""
    m = small_model(vocab_size=None, input_size=2, dtype=np.float32).eval()
    x = np.ones((2, 3, 2))
    x[0, 1, 0] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m(x)["topic"].numpy()
    assert np.all(np.isnan(out[0])) and np.all(np.isfinite(out[1]))


def test_stream_refuses_bidirectional_and_wrong_batch():
    with pytest.raises(ValueError, match="bidirectional"):
        small_model(bidirectional=True).stream(2)
    with pytest.raises(ValueError, match="batch size 3, expected 2"):
        small_model().stream(2).update(np.ones((3, 4), np.int64))
    for bad in [0, -1, 1.5, "x", None, True]:
        with pytest.raises(ValueError, match=f"stream: batch_size must be an int >= 1, got "
                                             f"{bad!r}"):
            small_model().stream(bad)


def test_forward_encode_and_outputs():
    m = small_model()
    x, lengths = np.random.default_rng(0).integers(1, 10, (4, 7)), np.array([7, 3, 5, 1])
    out = m(x, lengths=lengths)
    assert out["topic"].shape == (4, 3) and out["score"].shape == (4, 2)
    assert out["tags"].shape == (4, 7, 4) and out["attention"]["topic"].shape == (4, 7)
    w = out["attention"]["score"].data
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(w[np.arange(7)[None, :] >= lengths[:, None]] == 0)
    emb = m.encode(x, lengths)
    assert isinstance(emb, np.ndarray) and emb.shape == (4, 2, 6)
    pooled, _ = m.pool(m.lstm(m.embed(x), lengths=lengths)[0], lengths=lengths)
    np.testing.assert_allclose(emb, pooled.data, rtol=1e-14)


@pytest.mark.parametrize("value, dtype, says", [
    (np.nan, np.float64, "is nan, "), (-np.inf, np.float64, "is -inf (or beyond float64"),
    (1e39, np.float32, "is inf (or beyond float32's range")])
def test_encode_names_a_feature_that_is_not_finite_within_a_length(value, dtype, says):
    """encode gave NaN vectors for a NaN feature (and for 1e39 cast to float32) where
    predict raised; past a length anything may stand (the padding)."""
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=3, embed_size=4, hidden_size=5, attn_size=2,
                               dtype=dtype).eval()
    x, lengths = np.zeros((3, 6, 3)), np.array([6, 4, 2])
    x[2, 3, 1] = value                           # padding: not read
    assert np.all(np.isfinite(m.encode(x, lengths)))
    x[1, 2, 0] = value
    with pytest.raises(ng.data.DataError,
                       match=rf"^encode: .* x\[1, 2, 0\] {re.escape(says)}.*first of 1$"):
        m.encode(x, lengths)
    with pytest.raises(ng.data.DataError, match="the first of 2; if it is padding, pass "
                                                "lengths"):
        m.encode(x)


def test_encode_and_predict_name_a_token_id_outside_the_vocabulary_and_an_empty_sequence():
    """An id past the vocabulary was an IndexError from deep in the embedding, naming no
    position (predict: a DataError naming a SequenceDataset the user never built); a
    length of 0 gave encode a zero vector where predict refused it."""
    from nongate_np.training import predict
    m = small_model().eval()
    x, lengths = np.array([[3, 4, 5, 0], [7, 2, 12, 0]]), np.array([3, 3])
    for call, where in ((m.encode, "encode"), (lambda *a: predict(m, *a), "predict")):
        with pytest.raises(ng.data.DataError, match=rf"^{where}: token ids must lie in "
                                                    rf"\[0, 10\) .*x\[1, 2\] is 12, the "
                                                    rf"first of 1$"):
            call(x, lengths)
        with pytest.raises(ng.data.DataError, match=rf"^{where}: .*x\[0, 1\] is -1, the first "
                                                    rf"of 2; if it is padding, pass lengths"):
            call(np.array([[3, -1, -1], [4, 5, 6]]))
        with pytest.raises(ng.data.DataError, match=rf"^{where}: lengths must lie in \[1, T=4\] "
                                                    rf".*lengths\[1\] is 0, the first of 1"):
            call(np.array([[3, 4, 5, 0], [7, 2, 1, 0]]), np.array([3, 0]))


@pytest.mark.parametrize("tokens", [True, False])
def test_encode_of_an_empty_list_is_empty_as_predicts(tokens):
    """A service's empty request: predict gave empty results, encode a ValueError about the
    shape (0,)."""
    size = {} if tokens else {"vocab_size": None, "input_size": 2}
    m = small_model(**size).eval()
    one = m.encode(np.ones((1, 3), np.int64) if tokens else np.ones((1, 3, 2)))
    for empty in ([], ()):
        got = m.encode(empty)
        assert got.shape == (0,) + one.shape[1:] and got.dtype == one.dtype


@pytest.mark.parametrize("tokens", [True, False])
def test_encode_in_batches_by_length_gives_each_sequences_own_vector(tokens):
    """Rows run sorted by length in batches of batch_size, each cut to its longest: every
    row equals that sequence encoded alone, in x's order, whatever the batch size."""
    size = {} if tokens else {"vocab_size": None, "input_size": 2}
    m = small_model(**size).eval()
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 9, 7)
    x = rng.integers(1, 10, (7, 8)) if tokens else rng.standard_normal((7, 8, 2))
    alone = np.concatenate([m.encode(x[i:i + 1, :n], np.array([n]))
                            for i, n in enumerate(lengths)])
    for batch_size in (1, 3, 256):
        np.testing.assert_allclose(m.encode(x, lengths, batch_size=batch_size), alone,
                                   rtol=1e-12, atol=1e-14, err_msg=str(batch_size))
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="encode: batch_size must be an int >= 1"):
            m.encode(x, lengths, batch_size=bad)


def test_uncertainty_weighting_is_kendalls_formula():
    m = small_model(loss_weighting="uncertainty")
    m.log_vars.data[:] = [0.3, -0.2, 0.1]
    rng = np.random.default_rng(1)
    x, lengths = rng.integers(1, 10, (4, 6)), np.array([6, 2, 4, 5])
    targets = {"topic": rng.integers(0, 3, 4), "score": rng.standard_normal((4, 2)),
               "tags": rng.integers(0, 4, (4, 6))}
    out = m(x, lengths=lengths)
    total, parts = m.loss(out, targets)
    s = m.log_vars.data
    want = sum(np.exp(-s[k]) * parts[n] * (0.5 if n == "score" else 1.0) + s[k] / 2
               for k, n in enumerate(["topic", "score", "tags"]))
    assert total.item() == pytest.approx(want, rel=1e-12)
    total.backward()
    np.testing.assert_allclose(m.log_vars.grad, [
        -np.exp(-s[0]) * parts["topic"] + 0.5, -0.5 * np.exp(-s[1]) * parts["score"] + 0.5,
        -np.exp(-s[2]) * parts["tags"] + 0.5], rtol=1e-10)


def test_tagging_loss_ignores_padding():
    m = small_model()
    rng = np.random.default_rng(2)
    x, lengths = rng.integers(1, 10, (2, 5)), np.array([5, 2])
    tags = rng.integers(0, 4, (2, 5))
    out = m(x, lengths=lengths)
    other = tags.copy()
    other[1, 2:] = (other[1, 2:] + 1) % 4             # change only padded targets
    base = {"topic": np.array([0, 1]), "score": np.zeros((2, 2))}
    assert m.loss(out, {**base, "tags": tags})[1]["tags"] == \
        m.loss(out, {**base, "tags": other})[1]["tags"]


@pytest.mark.parametrize("score, phrase", [
    (np.zeros((2, 3)), r"task 'score' has targets of shape \(2, 3\); expected \(2, 2\)"),
    # NumPy could reshape it, rows and values mixed: it was read so, without an error
    (np.zeros((1, 4)), r"task 'score' has targets of shape \(1, 4\); expected \(2, 2\)"),
    (np.zeros(2), r"task 'score' has targets of shape \(2,\); expected \(2, 2\)"),
    (np.array([[0.0, 1.0], [np.nan, 2.0]]), r"task 'score' has a target that is not finite "
                                            r"in row 1 \(\[nan  2\.\]\), the first of 1"),
    (np.array([["a", "b"], ["c", "d"]]), r"task 'score' has targets of dtype <U1"),
])
def test_loss_names_regression_targets_it_cannot_read(score, phrase):
    """Not NumPy's reshape error, nor a NaN loss: the task, the shape it needs, the row."""
    m = small_model()
    x, lengths = np.random.default_rng(2).integers(1, 10, (2, 5)), np.array([5, 2])
    targets = {"topic": np.array([0, 1]), "score": score, "tags": np.zeros((2, 5), int)}
    with pytest.raises(ValueError, match=phrase):
        m.loss(m(x, lengths=lengths), targets)


def test_loss_takes_one_value_per_row_for_a_single_output():
    ng.seed(0)
    m = MultiTaskSequenceModel([{"name": "v", "kind": "regression"}], vocab_size=10,
                               hidden_size=4, dtype=np.float64)
    out = m(np.array([[1, 2], [3, 4]]))
    assert m.loss(out, {"v": np.array([1.0, 2.0])})[1]["v"] == \
        m.loss(out, {"v": np.array([[1.0], [2.0]])})[1]["v"]


def _regression_model(normalize_targets):
    ng.seed(0)
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2},
             {"name": "v", "kind": "regression", "output_size": 2}]
    return MultiTaskSequenceModel(tasks, input_size=3, hidden_size=5, dtype=np.float64,
                                  normalize_targets=normalize_targets)


def test_normalize_targets_predicts_in_the_targets_units_and_trains_on_z(tmp_path):
    """y = mean + std·z out of the model, ((y - t) / std)² into its loss and evaluate's, and
    the statistics saved with the weights."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 2)) * 500 + 8000
    plain, scaled = _regression_model(False), _regression_model(True)
    mean, std = np.array([8000.0, -3.0]), np.array([500.0, 0.25])
    scaled.set_target_normalization("v", mean, std)
    z, y = plain(x)["v"].numpy(), scaled(x)["v"].numpy()
    np.testing.assert_allclose(y, mean + std * z, rtol=1e-12, err_msg="outputs")
    out = scaled(x)
    targets = {"c": np.array([0, 1, 1, 0]), "v": t}
    total, parts = scaled.loss(out, targets)
    assert parts["v"] == pytest.approx(np.mean(((y - t) / std) ** 2), rel=1e-12)
    data = SequenceDataset(x, np.full(4, 6), targets, [
        {"name": "c", "kind": "classification", "num_classes": 2},
        {"name": "v", "kind": "regression", "output_size": 2}])
    metrics = ng.training.evaluate(scaled, data)
    assert metrics["v/loss"] == pytest.approx(parts["v"], rel=1e-10)
    assert metrics["v/mae"] == pytest.approx(np.mean(np.abs(y - t)), rel=1e-10)
    ng.save(scaled, tmp_path / "m.npz")
    np.testing.assert_array_equal(ng.load(tmp_path / "m.npz").model(x)["v"].numpy(), y)


@pytest.mark.parametrize("call, phrase", [
    (lambda m: m.set_target_normalization("c", [0.0], [1.0]), "'c' is not a regression task"),
    (lambda m: m.set_target_normalization("v", [0.0], [1.0, 1.0]), "mean of 'v' must hold 2"),
    (lambda m: m.set_target_normalization("v", [0.0, 1.0], [1.0, 0.0]), "std of 'v' must be"),
    (lambda m: m.set_target_normalization("v", [0.0, np.nan], [1.0, 1.0]),
     r"mean of 'v' must hold 2 finite value\(s\) \(output_size\), got nan at index 1"),
    (lambda m: m.set_target_normalization("v", [0.0], [1.0, 1.0]), r"got shape \(1,\)"),
])
def test_set_target_normalization_names_what_it_cannot_take(call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call(_regression_model(True))
    with pytest.raises(ValueError, match="built without normalize_targets"):
        _regression_model(False).set_target_normalization("v", [0.0, 0.0], [1.0, 1.0])


def test_save_load_round_trip_predicts_identically(tmp_path):
    m = small_model(attention="weight_gated", value_proj=True)
    x = np.random.default_rng(3).integers(1, 10, (3, 6))
    ng.save(m, tmp_path / "m.npz")
    loaded = ng.load(tmp_path / "m.npz").model
    assert isinstance(loaded, MultiTaskSequenceModel)
    for name in ("topic", "score", "tags"):
        np.testing.assert_array_equal(loaded(x)[name].data, m(x)[name].data)


def test_task_validation():
    with pytest.raises(ValueError, match="kind 'ranking'"):
        MultiTaskSequenceModel([{"name": "a", "kind": "ranking"}], vocab_size=5)
    with pytest.raises(ValueError, match="appears twice"):
        MultiTaskSequenceModel([{"name": "a", "kind": "regression"}] * 2, vocab_size=5)
    with pytest.raises(ValueError, match="num_classes"):
        MultiTaskSequenceModel([{"name": "a", "kind": "classification"}], vocab_size=5)
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        MultiTaskSequenceModel(TASKS)


def test_a_models_tasks_keep_their_class_names_through_save_and_load(tmp_path):
    """A model built from a dataset's model_tasks() keeps each task's class names, as
    given, through ng.save and ng.load, so that a class id predicted maps back to its name
    (they were dropped, and only the command line's checkpoint kept them); a model without
    them saves and loads without."""
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    data = SequenceDataset(x, np.full(4, 3), {"speed": np.array([1, 0, 1, 0]),
                                              "level": np.array([0.5, 1.0, 1.5, 2.0])},
                           [{"name": "speed", "kind": "classification",
                             "classes": ["fast", "slow"]},
                            {"name": "level", "kind": "regression", "output_size": 1}])
    ng.seed(0)
    model = MultiTaskSequenceModel(data.model_tasks(), input_size=2, hidden_size=4)
    ng.save(model, tmp_path / "m.npz")
    loaded = ng.load(tmp_path / "m.npz").model
    assert [t.get("classes") for t in loaded.tasks] == [["fast", "slow"], None]
    names = loaded.tasks[0]["classes"]
    assert [names[k] for k in predict(loaded, x)["speed"]] == \
        [names[k] for k in predict(model, x)["speed"]]
    plain = MultiTaskSequenceModel(TASKS, vocab_size=5)
    ng.save(plain, tmp_path / "plain.npz")
    assert ng.load(tmp_path / "plain.npz").model.tasks == plain.tasks
    assert all("classes" not in t for t in plain.tasks)


@pytest.mark.parametrize("classes, match", [
    (["a"], r"task 'topic' has 1 class name\(s\) \['a'\] for num_classes=3"),
    ("abc", r"task 'topic' has classes 'abc'; expected a list of 3 class names"),
])
def test_class_names_that_cannot_name_the_classes_are_refused(classes, match):
    tasks = [dict(TASKS[0], classes=classes)]
    with pytest.raises(ValueError, match=match):
        MultiTaskSequenceModel(tasks, vocab_size=5)
    with pytest.raises(ValueError, match="task 'score' is a regression: it has no classes"):
        MultiTaskSequenceModel([dict(TASKS[1], classes=["a"])], vocab_size=5)


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0, "2", None, [1, 2]])
def test_a_task_weight_that_is_not_a_finite_number_at_least_zero_is_named(weight):
    # a NaN weight gave a NaN loss, a string a bare "could not convert" or was read as a float
    tasks = [{"name": "topic", "kind": "classification", "num_classes": 3, "weight": weight}]
    with pytest.raises(ValueError, match=r"task 'topic' needs a weight that is a finite "
                                         r"number >= 0, got " + re.escape(repr(weight))):
        MultiTaskSequenceModel(tasks, vocab_size=5)


def test_uncertainty_weighting_warns_that_it_does_not_use_the_fixed_weights():
    tasks = [dict(TASKS[0], weight=3.0), TASKS[1], dict(TASKS[2], weight=0.0)]
    with pytest.warns(UserWarning, match=r"fixed weights of tasks \['topic', 'tags'\] are "
                                         r"not used"):
        MultiTaskSequenceModel(tasks, vocab_size=5, loss_weighting="uncertainty")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiTaskSequenceModel(tasks, vocab_size=5)                  # fixed: they are used
        MultiTaskSequenceModel(TASKS, vocab_size=5, loss_weighting="uncertainty")


def _two_trigger_dataset(n, seed):
    d = make_two_trigger(n, seed=seed)
    tasks = [{"name": name, "kind": "classification", "num_classes": d.num_classes}
             for name in ("A", "B")]
    return d, SequenceDataset(x=d.tokens, lengths=d.lengths, tasks=tasks,
                              targets={"A": d.labels[0], "B": d.labels[1]})


def test_fit_solves_both_tasks_and_attention_finds_each_trigger():
    raw, data = _two_trigger_dataset(1800, seed=0)
    train, val = data.subset(np.arange(1500)), data.subset(np.arange(1500, 1800))
    ng.seed(0)
    model = MultiTaskSequenceModel(train.model_tasks(), vocab_size=raw.vocab_size,
                                   embed_size=16, hidden_size=32, attn_size=16)
    history = fit(model, train, val, epochs=6, lr=0.01, seed=0)
    assert [r["epoch"] for r in history.epochs] == list(range(1, 7))
    best = history.best
    with ng.no_grad():
        weights = model.eval()(val.x, lengths=val.lengths)["attention"]
    rows = np.arange(len(val))
    for k, task in enumerate(("A", "B")):
        assert best[f"val/{task}/accuracy"] >= 0.95, best
        own = weights[task].data[rows, raw.positions[k][1500:]]
        other = weights[task].data[rows, raw.positions[1 - k][1500:]]
        # each query puts at least 40% of its mass on its own trigger step, under 10% on
        # the other task's (chance would be about 1/12 on each)
        assert own.mean() >= 0.4 and other.mean() <= 0.1, (task, own.mean(), other.mean())


def test_attention_pooling_saves_and_loads(tmp_path):
    ng.seed(0)
    pool = ng.nn.AttentionPooling(4, 3, kind="gated", num_queries=2, value_proj=True,
                                  value_size=5, dtype=np.float64)
    h = np.random.default_rng(0).standard_normal((2, 6, 4))
    ng.save(pool, tmp_path / "p.npz")
    loaded = ng.load(tmp_path / "p.npz").model
    for a, b in zip(loaded(h, lengths=np.array([6, 2])), pool(h, lengths=np.array([6, 2]))):
        np.testing.assert_array_equal(a.data, b.data)


@given(kind=st.sampled_from(["additive", "gated", "weight_gated"]), data=st.data())
def test_padding_is_never_attended_to_without_lengths(kind, data):
    """Zero-padded tokens without lengths give what the lengths give: the LSTM stops at the
    last real token and the pooling puts no weight on padding (it used to, silently)."""
    m = small_model(attention=kind)
    B, T = 4, data.draw(st.integers(2, 9))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    lengths = rng.integers(1, T + 1, B)
    x = rng.integers(1, 10, (B, T))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    np.testing.assert_allclose(m.encode(x), m.encode(x, lengths), rtol=1e-13, atol=1e-15)
    out = m(x)
    np.testing.assert_array_equal(out["lengths"], lengths)
    for name in ("topic", "score"):
        assert np.all(out["attention"][name].data[x == 0] == 0), name
    stream = m.stream(B)
    np.testing.assert_allclose(stream.update(x), m.encode(x, lengths), rtol=1e-12,
                               atol=1e-14)


def test_interior_padding_is_masked_and_all_padding_is_an_error():
    m = small_model()
    x = np.array([[3, 0, 4, 5], [2, 2, 0, 0]])
    w = m(x)["attention"]["topic"].data
    assert w[0, 1] == 0 and w[1, 2] == 0 and w[1, 3] == 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="sequence 1 holds only padding"):
        m.encode(np.array([[1, 2], [0, 0]]))
    # without a padding id, every token is read, as given
    m = small_model(padding_idx=None)
    assert np.all(m(np.zeros((2, 3), np.int64))["attention"]["topic"].data > 0)


def test_normalize_input_applies_the_saved_statistics(tmp_path):
    tasks = [{"name": "y", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    raw = MultiTaskSequenceModel(tasks, input_size=3, hidden_size=5, embed_size=4,
                                 attn_size=3, normalize_input=True, dtype=np.float64)
    ng.seed(0)
    plain = MultiTaskSequenceModel(tasks, input_size=3, hidden_size=5, embed_size=4,
                                   attn_size=3, dtype=np.float64)
    mean, std = np.array([10.0, -2.0, 0.5]), np.array([3.0, 0.1, 1.0])
    raw.set_input_normalization(mean, std)
    x = np.random.default_rng(1).normal(mean, std, (2, 6, 3))
    lengths = np.array([6, 4])
    np.testing.assert_allclose(raw.encode(x, lengths), plain.encode((x - mean) / std, lengths),
                               rtol=1e-13)
    ng.save(raw, tmp_path / "m.npz")
    loaded = ng.load(tmp_path / "m.npz").model
    np.testing.assert_array_equal(loaded.encode(x, lengths), raw.encode(x, lengths))
    with pytest.raises(ValueError, match="std must be > 0"):
        raw.set_input_normalization(mean, np.zeros(3))
    with pytest.raises(ValueError, match=r"3 finite values \(one per feature\), got shape \(2,\)"):
        raw.set_input_normalization(mean[:2], std[:2])
    with pytest.raises(ValueError, match="std must hold 3 finite values .*, got inf at index 2"):
        raw.set_input_normalization(mean, np.array([1.0, 2.0, np.inf]))   # not "got shape (3,)"
    with pytest.raises(ValueError, match="without normalize_input"):
        plain.set_input_normalization(mean, std)


def test_feature_arrays_are_cast_to_the_model_dtype():
    """The loaders give float64; a float32 model encodes them as their float32 cast."""
    ng.seed(0)
    m = MultiTaskSequenceModel([{"name": "y", "kind": "classification", "num_classes": 2}],
                               input_size=3, hidden_size=4, embed_size=4, attn_size=3)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    emb = m.encode(x, np.array([5, 4]))
    assert emb.dtype == np.float32
    np.testing.assert_array_equal(emb, m.encode(x.astype(np.float32), np.array([5, 4])))
    with pytest.raises(TypeError, match="real features"):
        m.encode(x.astype(np.complex128))


def test_token_input_of_the_wrong_rank_or_dtype_is_named():
    """One sequence of token ids without its batch axis is a shape error with the fix; float
    tokens are a dtype error."""
    m = MultiTaskSequenceModel([{"name": "y", "kind": "classification", "num_classes": 2}],
                               vocab_size=5, hidden_size=4, embed_size=4, attn_size=3)
    with pytest.raises(ValueError, match=r"expected token ids of shape \(B, T\), got shape "
                                         r"\(3,\) \(one sequence: add a batch axis, "
                                         r"tokens\[None\]\)"):
        m.encode(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"got shape \(1, 3, 1\)$"):
        m.encode(np.array([[[1], [2], [3]]]))
    with pytest.raises(TypeError, match=r"expected token ids, an integer array \(B, T\), got "
                                        r"dtype float64"):
        m.encode(np.array([[1.0, 2.0]]))
    assert m.encode(np.array([[1, 2, 3]])).shape[0] == 1


@pytest.mark.parametrize("input_size, shape, says", [
    (1, (2, 5), r"\(2, 5\) \(series of one feature per step: add the feature axis, "
                r"x\[\.\.\., None\]\)"),
    (3, (5, 3), r"\(5, 3\) \(one sequence: add a batch axis, x\[None\]\)"),
    (3, (2, 5, 4), r"\(2, 5, 4\)$"),
])
def test_feature_input_of_the_wrong_rank_is_named_with_the_fix(input_size, shape, says):
    """pad_sequences of 1-D series gives (N, T), one sequence is (T, F): each a shape error
    that says which axis to add; another width has no such fix."""
    m = MultiTaskSequenceModel([{"name": "y", "kind": "classification", "num_classes": 2}],
                               input_size=input_size, hidden_size=4, attn_size=3)
    with pytest.raises(ValueError, match=rf"expected features \(B, T, {input_size}\), got "
                                         rf"shape {says}"):
        m.encode(np.zeros(shape))


def test_a_tensor_without_a_graph_is_cast_as_an_array_is():
    """A float64 tensor that does not require grad is data: encode casts it as it casts an
    ndarray; one that requires grad keeps its dtype, and the LSTM refuses it (as torch)."""
    ng.seed(0)
    m = MultiTaskSequenceModel([{"name": "y", "kind": "classification", "num_classes": 2}],
                               input_size=3, hidden_size=4, embed_size=4, attn_size=3)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    np.testing.assert_array_equal(m.encode(ng.tensor(x), np.array([5, 3])),
                                  m.encode(x, np.array([5, 3])))
    np.testing.assert_array_equal(m.stream(2).update(ng.tensor(x)), m.stream(2).update(x))
    with pytest.raises(TypeError, match="input is float64 but the module's parameters are "
                                        "float32"):
        m(ng.tensor(x, requires_grad=True))


def test_encode_and_stream_run_with_dropout_off_whatever_the_models_mode():
    """After fit (training mode) encode applied dropout, so two calls on the same input gave
    other vectors (0.04 apart at dropout 0.5), where predict switches it off: both now run
    as in eval mode, equal to the eval-mode model's vectors, and leave the mode as it was."""
    ng.seed(0)
    m = MultiTaskSequenceModel([{"name": "c", "kind": "classification", "num_classes": 2}],
                               input_size=3, hidden_size=8, num_layers=2, dropout=0.5,
                               dtype=np.float64)
    x = np.random.default_rng(0).normal(0, 1, (4, 6, 3))
    assert m.training
    first, second = m.encode(x), m.encode(x)
    streamed = m.stream(4).update(x)
    assert m.training
    with ng.no_grad():                       # the forward in training mode does drop out
        dropped = [m(x)["c"].numpy() for _ in range(2)]
    assert not np.array_equal(*dropped)
    m.eval()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, m.encode(x))
    np.testing.assert_allclose(streamed, first, rtol=0, atol=1e-12)


def test_encode_takes_a_sequence_dataset_and_hints_at_a_time_major_array():
    """read_as_trained's docstring offered its SequenceDataset to encode, which refused it
    as an object array; a time-major x with its lengths was told only the count."""
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=3, hidden_size=8, dtype=np.float64)
    rng = np.random.default_rng(0)
    lengths = np.array([7, 3, 5, 1, 2])
    x = rng.normal(0, 1, (5, 7, 3))
    x[np.arange(7)[None, :] >= lengths[:, None]] = 0
    data = SequenceDataset(x, lengths, {"c": rng.integers(0, 2, 5)}, tasks)
    np.testing.assert_array_equal(m.encode(data), m.encode(x, lengths=lengths))
    with pytest.raises(TypeError, match="lengths is given by the SequenceDataset"):
        m.encode(data, lengths=lengths)
    with pytest.raises(ValueError, match=r"lengths must be 7 integers .* read batch-first "
                                         r"\(B, T, \.\.\.\): if it is time-major.*swapaxes"):
        m.encode(x.swapaxes(0, 1), lengths=lengths)


def test_features_without_lengths_that_look_zero_padded_warn_at_the_callers_line():
    """pad_sequences' x given to encode or predict without its lengths read the zero padding
    as data (accuracy 0.983 -> 0.967 in a newcomer's run), without a word."""
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=3, hidden_size=8, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, lengths = ng.data.pad_sequences([rng.normal(0, 1, (n, 3)) for n in (5, 3, 4, 5)])
    for call in (lambda: m.encode(x), lambda: predict(m, x), lambda: m.encode(ng.tensor(x))):
        with pytest.warns(UserWarning, match=r"2 of 4 sequences end in all-zero steps, read "
                                             r"as data: .* pass lengths=") as caught:
            call()
        assert [w.filename for w in caught] == [__file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.encode(x, lengths=lengths)
        predict(m, x, lengths=lengths)
        m.encode(x[[0, 3]])                  # no zero step: nothing to say
