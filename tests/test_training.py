"""fit, evaluate and predict on their own (the command line's tests cover the jobs)."""

import warnings

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data import SequenceDataset
from nongate_np.distributed import DataParallel
from nongate_np.nn import MultiTaskSequenceModel
from nongate_np.training import Callback, evaluate, fit, predict
from nongate_np.training.loop import _train_fingerprint

TASKS = [{"name": "c", "kind": "classification", "num_classes": 3},
         {"name": "r", "kind": "regression", "output_size": 2},
         {"name": "t", "kind": "tagging", "num_classes": 4}]


def dataset(n=24, T=7, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, n)
    x = rng.integers(1, 6, (n, T))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return SequenceDataset(x=x, lengths=lengths, tasks=[dict(t) for t in TASKS],
                           targets={"c": rng.integers(0, 3, n), "r": rng.normal(size=(n, 2)),
                                    "t": rng.integers(0, 4, (n, T))})


def model(seed=0):
    ng.seed(seed)
    return MultiTaskSequenceModel(TASKS, vocab_size=6, embed_size=4, hidden_size=5,
                                  attn_size=3, dtype=np.float64)


def test_evaluate_equals_the_losses_and_accuracies_computed_directly():
    data, m = dataset(), model()
    got = evaluate(m, data, batch_size=5)              # batches of unequal lengths
    with ng.no_grad():
        out = m.eval()(data.x, lengths=data.lengths)
        _, parts = m.loss(out, data.targets)
    for name in ("c", "r", "t"):
        assert got[f"{name}/loss"] == pytest.approx(parts[name], rel=1e-12), name
    assert got["loss"] == pytest.approx(sum(parts.values()), rel=1e-12)
    assert got["c/accuracy"] == np.mean(out["c"].data.argmax(1) == data.targets["c"])
    valid = data.valid_mask()
    tags = out["t"].data.argmax(2)
    assert got["t/accuracy"] == np.mean(tags[valid] == data.targets["t"][valid])
    assert got["t/bits_per_token"] == pytest.approx(parts["t"] / np.log(2), rel=1e-12)
    assert got["r/mae"] == pytest.approx(np.mean(np.abs(out["r"].data - data.targets["r"])))
    pred = predict(m, data, batch_size=5)
    np.testing.assert_array_equal(pred["c"], out["c"].data.argmax(1))
    np.testing.assert_array_equal(pred["t"][valid], tags[valid])
    assert np.all(pred["t"][~valid] == -1)
    np.testing.assert_allclose(pred["probabilities"]["c"].sum(1), 1.0)
    assert "attention" not in pred
    weights = predict(m, data, batch_size=5, attention=True)["attention"]
    assert sorted(weights) == ["c", "r"]
    for name in ("c", "r"):
        np.testing.assert_allclose(weights[name], out["attention"][name].data, rtol=1e-12,
                                   atol=1e-15, err_msg=name)


def test_predict_on_arrays_equals_predict_on_their_dataset():
    """A service's sequences as arrays (no labels): token ids with lengths inferred from
    padding, as nested lists, and features with lengths, where what lies past a length
    (NaN included) is not read and a NaN within one is an error, not a NaN prediction."""
    data, m = dataset(), model()
    want = predict(m, data, batch_size=5, attention=True)
    for x, lengths in ((data.x, None), (data.x.tolist(), data.lengths)):
        got = predict(m, x, lengths, batch_size=5, attention=True)
        for name in ("c", "r", "t"):
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        np.testing.assert_array_equal(got["probabilities"]["c"], want["probabilities"]["c"])
        np.testing.assert_array_equal(got["attention"]["c"], want["attention"]["c"])
    with pytest.raises(TypeError, match="lengths is given by the SequenceDataset"):
        predict(m, data, data.lengths)

    ng.seed(0)
    features = MultiTaskSequenceModel(TASKS[:1], input_size=2, hidden_size=4, attn_size=3,
                                      dtype=np.float64)
    rng = np.random.default_rng(1)
    lengths = np.array([5, 1, 3])
    x = rng.normal(size=(3, 5, 2))
    x[np.arange(5)[None, :] >= lengths[:, None]] = np.nan       # padding holds anything
    got = predict(features, x, lengths)["probabilities"]["c"]
    with ng.no_grad():
        logits = features.eval()(np.nan_to_num(x), lengths=lengths)["c"].numpy()
    np.testing.assert_allclose(got, np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                               rtol=1e-12)
    x[0, 2, 1] = np.nan
    with pytest.raises(ng.data.DataError, match=r"x\[0, 2, 1\] is nan"):
        predict(features, x, lengths)
    with pytest.raises(ng.data.DataError, match=r"lengths must lie in \[1, T=5\]"):
        predict(features, np.zeros((3, 5, 2)), [5, 0, 3])
    with pytest.raises(ValueError, match=r"expected features \(B, T, 2\), got shape"):
        predict(features, np.zeros((3, 5, 4)))


class Record(Callback):
    def __init__(self):
        self.states, self.calls = {}, []

    def on_epoch_end(self, epoch, record, model, optimizer, history):
        self.states[epoch] = {k: np.array(v) for k, v in model.state_dict().items()}
        self.calls.append(("epoch", epoch))

    def on_train_end(self, model, history):
        self.calls.append(("end", history.best_epoch))


def test_fit_keeps_the_best_epoch_and_stops_when_patience_runs_out():
    train, val = dataset(seed=1), dataset(seed=2)
    m, rec = model(), Record()
    history = fit(m, train, val, epochs=30, lr=0.05, patience=2, seed=0, callbacks=[rec])
    losses = [r["val/loss"] for r in history.epochs]
    best = int(np.argmin(losses)) + 1
    assert history.best_epoch == best and history.best_value == min(losses)
    assert [r["best"] for r in history.epochs] == \
        [v < min(losses[:k], default=np.inf) for k, v in enumerate(losses)]
    if history.stopped_early:
        assert len(losses) == best + 2
    for key, value in m.state_dict().items():          # the best epoch's weights are back
        np.testing.assert_array_equal(value, rec.states[best][key], err_msg=key)
    assert rec.calls[-1] == ("end", best)


def test_nothing_learnt_stops_after_patience():
    m = model()
    history = fit(m, dataset(seed=1), dataset(seed=2), epochs=10, lr=0.0, patience=3)
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4]
    assert history.best_epoch == 1 and history.stopped_early


def test_same_seed_same_run_and_no_validation_keeps_the_last_epoch():
    a, b = model(), model()
    ha = fit(a, dataset(seed=3), epochs=2, seed=5)
    fit(b, dataset(seed=3), epochs=2, seed=5)
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key], err_msg=key)
    assert ha.best_epoch is None and len(ha.epochs) == 2 and "val/loss" not in ha.last


def test_a_loss_that_becomes_nan_is_a_clear_error():
    class Poison(Callback):
        def on_batch_end(self, step, loss):
            if step == 1:
                m.heads[0].weight.data[...] = np.nan

    m = model()
    with pytest.raises(ValueError, match="loss became nan at epoch 1, step 2"):
        fit(m, dataset(), epochs=1, batch_size=8, callbacks=[Poison()])


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": -1}, "epochs must be an int >= 0"),
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"patience": 0}, r"patience must be an int >= 1, or None never to stop early \(the "
                      r"command line's --patience 0\)"),
    ({"patience": True}, r"patience must be an int >= 1, or None never to stop early"),
    ({"patience": "3"}, r"patience must be an int >= 1, or None never to stop early"),
])
def test_bad_fit_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(model(), dataset(), **kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda m, d: fit(m, d.x, epochs=1), "fit: train must be a SequenceDataset, got ndarray"),
    (lambda m, d: fit(m, d, val=(d.x, d.lengths), epochs=1),
     "fit: val must be a SequenceDataset, got tuple"),
    (lambda m, d: evaluate(m, d.x), "evaluate: data must be a SequenceDataset, got ndarray"),
])
def test_arrays_instead_of_a_dataset_are_a_type_error(call, match):
    with pytest.raises(TypeError, match=match + r"; wrap arrays as SequenceDataset"):
        call(model(), dataset())


def test_targets_missing_for_a_task_are_named():
    data = dataset()
    data.targets.pop("r")
    with pytest.raises(ValueError, match=r"no targets for the model's tasks \['r'\]"):
        fit(model(), data, epochs=1)


def _with_task(data, name, **change):
    """``data`` with task ``name`` declared otherwise (its targets as they are)."""
    tasks = [{**{k: v for k, v in t.items() if k != "classes"}, **change}
             if t["name"] == name else t for t in data.tasks]
    return SequenceDataset(data.x, data.lengths, data.targets, tasks)


@pytest.mark.parametrize("name, change, model_has, data_has", [
    ("c", {"num_classes": 5}, "num_classes=3", "num_classes=5"),
    ("t", {"num_classes": 9}, "num_classes=4", "num_classes=9"),
    ("c", {"kind": "tagging"}, "classification", "tagging"),
    ("r", {"kind": "classification", "num_classes": 2}, "regression with output_size=2",
     "classification with num_classes=2")])
def test_a_task_of_another_size_or_kind_than_the_models_is_named(name, change, model_has,
                                                                   data_has):
    """evaluate read class ids past the model's as a NumPy IndexError, and a dataset that
    counts its classes otherwise (ids meaning other classes) passed silently."""
    data = dataset()
    if change.get("kind") == "tagging":
        data.targets[name] = np.zeros(data.x.shape, np.int64)
    if change.get("kind") == "classification":
        data.targets[name] = np.zeros(len(data), np.int64)
    bad = _with_task(data, name, **change)
    where = rf"task '{name}' is [^,]*{model_has}[^,]* in the model, but [^;]*{data_has}[^;]* in"
    with pytest.raises(ValueError, match=rf"^evaluate: {where} data"):
        evaluate(model(), bad)
    with pytest.raises(ValueError, match=rf"^fit: {where} train"):
        fit(model(), bad, epochs=1)
    with pytest.raises(ValueError, match=rf"^fit: {where} val"):
        fit(model(), data, bad, epochs=1)


def test_each_epoch_records_the_seconds_since_the_run_started():
    import time
    data, m = dataset(), model()
    start = time.perf_counter()
    history = fit(m, data, epochs=3, batch_size=5)
    wall = time.perf_counter() - start
    seconds = [r["seconds"] for r in history.epochs]
    assert 0 < seconds[0] < seconds[1] < seconds[2] <= wall, (seconds, wall)


def test_fit_warns_when_input_statistics_were_never_set():
    """normalize_input=True without set_input_normalization trained on raw features in
    silence (a newcomer's data did not learn); with the statistics set, no warning."""
    import warnings

    from nongate_np.data import Standardizer
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=2, embed_size=3, hidden_size=4, attn_size=2,
                               normalize_input=True, dtype=np.float64)
    rng = np.random.default_rng(0)
    data = SequenceDataset(rng.normal(50, 20, (8, 5, 2)), np.full(8, 5),
                           {"c": rng.integers(0, 2, 8)}, tasks)
    with pytest.warns(UserWarning, match=r"^fit: the model standardises its input .* "
                                         r"model.set_input_normalization\(s.mean, s.std\)"):
        fit(m, data, epochs=1)
    s = Standardizer().fit(data.x, data.lengths)
    m.set_input_normalization(s.mean, s.std)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(m, data, epochs=1)


@pytest.mark.parametrize("scale, warned", [(3000.0, True), (-50.0, True), (3.0, False)])
def test_fit_warns_of_large_regression_targets_not_standardised(scale, warned):
    """Targets near 178 beside a classification task trained a model below the majority
    class, without a word: their squared error swamped the cross-entropy. Targets of a few
    units are not warned about."""
    import warnings
    tasks = [{"name": "c", "kind": "classification", "num_classes": 2},
             {"name": "amp", "kind": "regression", "output_size": 1}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=2, embed_size=3, hidden_size=4, attn_size=2,
                               dtype=np.float64)
    rng = np.random.default_rng(0)
    y = scale + rng.normal(0, 1, (8, 1))
    data = SequenceDataset(rng.normal(0, 1, (8, 5, 2)), np.full(8, 5),
                           {"c": rng.integers(0, 2, 8), "amp": y}, tasks)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(m, data, epochs=1)
    ours = [str(w.message) for w in caught if "root mean square" in str(w.message)]
    rms = float(np.sqrt(np.mean(y * y)))
    assert ours == ([f"fit: regression task 'amp' has training targets of root mean square "
                     f"{rms:.3g}; its squared error, about {rms * rms:.3g} from heads that "
                     f"start near 0, will swamp the other tasks' losses and will take many "
                     f"steps to close. Build the model with normalize_targets=True and set "
                     f"model.set_target_normalization('amp', y.mean(axis=0), y.std(axis=0)) "
                     f"from the training targets y"] if warned else [])


def test_fit_warns_when_the_target_statistics_were_never_set():
    """normalize_targets with the statistics at mean 0, std 1: the targets are learnt in
    their own units, silently, unless fit says so (as for normalize_input)."""
    import warnings
    tasks = [{"name": "y", "kind": "regression", "output_size": 2}]
    ng.seed(0)
    m = MultiTaskSequenceModel(tasks, input_size=2, embed_size=3, hidden_size=4, attn_size=2,
                               normalize_targets=True, dtype=np.float64)
    rng = np.random.default_rng(0)
    y = rng.normal(3000, 200, (8, 2))
    data = SequenceDataset(rng.normal(0, 1, (8, 5, 2)), np.full(8, 5), {"y": y}, tasks)
    with pytest.warns(UserWarning, match=r"^fit: the model standardises its regression "
                                         r"targets .* model.set_target_normalization\(name, "):
        fit(m, data, epochs=1)
    m.set_target_normalization("y", y.mean(axis=0), y.std(axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(m, data, epochs=1)


def test_a_run_continued_with_resume_equals_one_never_stopped(tmp_path):
    """fit with ModelCheckpoint for 2 epochs, a new model resumed from its folder for 2
    more: the weights, the optimiser state and the history equal those of 4 epochs at once;
    model.npz holds the best epoch's weights."""
    from nongate_np.training import ModelCheckpoint, resume
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    whole = model()
    ran = fit(whole, train, val, epochs=4, batch_size=5, seed=3,
              callbacks=[ModelCheckpoint(tmp_path / "whole")])
    first = model()
    fit(first, train, val, epochs=2, batch_size=5, seed=3,
        callbacks=[ModelCheckpoint(tmp_path / "parts", extra={"note": "mine"})])
    again = model(seed=9)                  # other initial weights: resume replaces them
    optimizer, history, done = resume(tmp_path / "parts", again)
    assert done == 2 and [r["epoch"] for r in history.epochs] == [1, 2]
    # what the batches came from, recorded at the first epoch and saved in last.npz
    assert history.settings == ran.settings == {"batch_size": 5, "seed": 3, "train_items": 24,
                                                "train_data": _train_fingerprint(train)}
    assert optimizer.param_groups[0]["lr"] == 1e-3          # fit's default, as saved
    # the same sequences in new arrays, padded wider: the batches the run's were
    copy = train.subset(np.arange(len(train)))
    wider = SequenceDataset(np.pad(copy.x, ((0, 0), (0, 3))), copy.lengths,
                            {**copy.targets, "t": np.pad(copy.targets["t"], ((0, 0), (0, 3)))},
                            copy.tasks)
    rest = fit(again, wider, val, epochs=4, batch_size=5, seed=3, optimizer=optimizer,
               history=history, initial_epoch=done,
               callbacks=[ModelCheckpoint(tmp_path / "parts", extra={"note": "mine"})])

    def plain(h):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h.epochs]
    assert plain(rest) == plain(ran) and rest.best_epoch == ran.best_epoch
    assert rest.settings == ran.settings
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v, err_msg=k)
    for name in ("model.npz", "last.npz"):
        a, b = ng.load(tmp_path / "whole" / name), ng.load(tmp_path / "parts" / name)
        for k, v in a.state_dict.items():
            np.testing.assert_array_equal(b.state_dict[k], v, err_msg=f"{name}: {k}")
    assert ng.load(tmp_path / "parts" / "model.npz").extra["epoch"] == ran.best_epoch
    assert ng.load(tmp_path / "parts" / "last.npz").extra["note"] == "mine"


class _OneRank:
    """A DataParallel of one rank, as fit's checks under data_parallel see it: the
    agreement's allgather of this rank alone (an error of its own raised)."""
    world_size, rank = 1, 0

    class comm:
        @staticmethod
        def allgather(value):
            return [value]

    check_agreement = DataParallel.check_agreement


def _relabelled(data, task, row):
    """``data`` with one target of ``task`` changed, at ``row``: another class."""
    y = data.targets[task].copy()
    y[row] = (y[row] + 1) % 3
    return SequenceDataset(data.x, data.lengths, {**data.targets, task: y}, data.tasks)


_DIGESTS = r"train_data: the data differ from the run's \(digest [0-9a-f]{12}… in the run, " \
           r"[0-9a-f]{12}… given\)"


@pytest.mark.parametrize("given, named", [
    ({"batch_size": 6}, r"batch_size 5 in the run, 6 given"),
    ({"seed": 4}, r"seed 3 in the run, 4 given"),
    ({"batch_size": 4, "seed": 0}, r"batch_size 5 in the run, 4 given; seed 3 in the run, "
                                   r"0 given"),
    # another size: named alone (the contents then differ too, and are not digested)
    ({"train": lambda d: d.subset(np.arange(20))}, r"len\(train\) 24 in the run, 20 given"),
    # the same size, other contents: shuffled, one label changed, another file
    ({"train": lambda d: d.subset(np.random.default_rng(0).permutation(len(d)))}, _DIGESTS),
    ({"train": lambda d: _relabelled(d, "c", 17)}, _DIGESTS),
    ({"train": lambda d: dataset(seed=5)}, _DIGESTS),
    ({"train": lambda d: dataset(seed=5), "seed": 4}, r"seed 3 in the run, 4 given; "
                                                      + _DIGESTS),
])
def test_a_resumed_fit_given_other_batches_is_refused_before_anything_changes(tmp_path, given,
                                                                              named):
    """A run resumed with another batch_size, seed or training set (another size, or
    the same size with other contents: shuffled, relabelled, another file) would train
    other batches than the run it claims to continue (History did not record them, so fit
    went on without a word): ValueError naming each that differs, with the run's value and
    the one given (the data by their digests), before the model, the optimiser, the
    scheduler or the callbacks are touched, under data_parallel too; the same settings
    resume, and a record set to None resumes anyway (on purpose)."""
    from nongate_np.optim.lr_scheduler import LambdaLR
    from nongate_np.training import ModelCheckpoint, resume
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    m = model()
    opt = ng.optim.Adam(m.parameters(), lr=0.02)
    fit(m, train, val, epochs=2, batch_size=5, seed=np.int64(3), optimizer=opt,
        scheduler=LambdaLR(opt, lambda epoch: 0.5 ** epoch),
        callbacks=[ModelCheckpoint(tmp_path)])
    last = ng.load(tmp_path / "last.npz")
    assert last.extra["fit_settings"] == {"batch_size": 5, "seed": 3, "train_items": 24,
                                          "train_data": _train_fingerprint(train)}
    assert type(last.extra["fit_settings"]["seed"]) is int      # plain data, as saved
    before = (tmp_path / "last.npz").read_bytes()
    again = model(seed=9)
    optimizer, history, done = resume(tmp_path, again)
    weights = {k: np.array(v) for k, v in again.state_dict().items()}
    scheduler = LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)
    state = repr(optimizer.state_dict())
    rates = [g["lr"] for g in optimizer.param_groups]
    scheduled = repr(scheduler.state_dict())
    began = []

    class Began(Callback):
        def on_train_begin(self, model, history):
            began.append(True)
    args = {"batch_size": 5, "seed": 3, **given}
    data = args.pop("train", lambda d: d)(train)
    for dp in (None, _OneRank()):
        with pytest.raises(ValueError, match=rf"^fit: the history's run drew its batches with "
                                             rf"other settings \({named}\): .* Pass the run's "
                                             rf"values .* or start a new run"):
            fit(again, data, val, epochs=4, optimizer=optimizer, history=history,
                initial_epoch=done, scheduler=scheduler, data_parallel=dp,
                callbacks=[Began(), ModelCheckpoint(tmp_path)], **args)
        for k, v in again.state_dict().items():
            np.testing.assert_array_equal(v, weights[k], err_msg=k)
        assert repr(optimizer.state_dict()) == state
        assert [g["lr"] for g in optimizer.param_groups] == rates
        assert repr(scheduler.state_dict()) == scheduled
        assert began == [] and [r["epoch"] for r in history.epochs] == [1, 2]
        assert (tmp_path / "last.npz").read_bytes() == before
    history.settings = None             # on purpose: the epochs no longer one run's
    fit(again, data, val, epochs=3, optimizer=optimizer, history=history,
        initial_epoch=done, scheduler=scheduler, **args)
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3] and history.settings is None


def test_a_checkpoint_written_before_the_settings_were_recorded_resumes_unchecked(tmp_path):
    """last.npz without fit_settings (as ModelCheckpoint wrote it before History.settings):
    resume gives a history without a record, which resumes as before, with any settings;
    a fit_settings that is not a dict is a damaged checkpoint."""
    from nongate_np.training import ModelCheckpoint, resume
    train = dataset(seed=1)
    fit(model(), train, epochs=1, batch_size=5, seed=3, callbacks=[ModelCheckpoint(tmp_path)])
    m = model()
    first, _, _ = resume(tmp_path, m)
    old = ng.load(tmp_path / "last.npz")
    assert "fit_settings" in old.extra
    extra = {k: v for k, v in old.extra.items() if k != "fit_settings"}
    ng.save(m, tmp_path / "last.npz", optimizer=first, extra=extra)
    again = model(seed=9)
    optimizer, history, done = resume(tmp_path, again)
    assert done == 1 and history.settings is None
    later = fit(again, train, epochs=2, batch_size=7, seed=0, optimizer=optimizer,
                history=history, initial_epoch=done, callbacks=[ModelCheckpoint(tmp_path)])
    assert [r["epoch"] for r in later.epochs] == [1, 2] and later.settings is None
    assert "fit_settings" not in ng.load(tmp_path / "last.npz").extra
    ng.save(m, tmp_path / "last.npz", optimizer=first, extra={**extra, "fit_settings": 5})
    with pytest.raises(ng.io.CheckpointError, match=r"last.npz: fit_settings must be a dict "
                                                    r"of the run's settings, got int"):
        resume(tmp_path, model())


def test_a_record_without_the_data_digest_resumes_with_the_contents_unchecked(tmp_path):
    """last.npz whose fit_settings lack train_data (as ModelCheckpoint wrote them before
    the digest was recorded) resumes on data of the run's size with other contents, as
    before, and the run's record stays as it was (not completed half way through); its
    size is still checked."""
    from nongate_np.training import ModelCheckpoint, resume
    train = dataset(seed=1)
    fit(model(), train, epochs=1, batch_size=5, seed=3, callbacks=[ModelCheckpoint(tmp_path)])
    m = model()
    first, _, _ = resume(tmp_path, m)
    old = ng.load(tmp_path / "last.npz")
    settings = {k: v for k, v in old.extra["fit_settings"].items() if k != "train_data"}
    assert settings == {"batch_size": 5, "seed": 3, "train_items": 24}
    ng.save(m, tmp_path / "last.npz", optimizer=first,
            extra={**old.extra, "fit_settings": settings})
    shuffled = train.subset(np.random.default_rng(0).permutation(len(train)))
    again = model(seed=9)
    optimizer, history, done = resume(tmp_path, again)
    assert done == 1 and history.settings == settings
    with pytest.raises(ValueError, match=r"\(len\(train\) 24 in the run, 20 given\)"):
        fit(again, shuffled.subset(np.arange(20)), epochs=2, batch_size=5, seed=3,
            optimizer=optimizer, history=history, initial_epoch=done)
    later = fit(again, shuffled, epochs=2, batch_size=5, seed=3, optimizer=optimizer,
                history=history, initial_epoch=done, callbacks=[ModelCheckpoint(tmp_path)])
    assert [r["epoch"] for r in later.epochs] == [1, 2] and later.settings == settings
    assert ng.load(tmp_path / "last.npz").extra["fit_settings"] == settings


def test_the_data_digest_reads_what_the_batches_hold_and_nothing_else():
    """train_data's digest: fixed for fixed data (a checkpoint's record must compare equal
    in a later version: this value changes only with the digest's definition, which would
    refuse every earlier run's resume), changed by one value of x, a length, a target of
    each kind, or the rows' order; unchanged by padding past the longest sequence (no
    batch holds it), a float32 copy of the features (the dataset holds float64), or what
    no batch reads (class names, ids, source)."""
    def features(x=None, lengths=None, **targets):
        x = np.arange(48.0).reshape(6, 4, 2) / 8 if x is None else x
        lengths = np.array([4, 1, 3, 2, 4, 3]) if lengths is None else lengths
        x = np.where(np.arange(x.shape[1])[None, :, None] < lengths[:, None, None], x, 0)
        tasks = [{"name": "c", "kind": "classification", "num_classes": 3},
                 {"name": "r", "kind": "regression", "output_size": 1},
                 {"name": "t", "kind": "tagging", "num_classes": 2}]
        y = {"c": np.array([0, 1, 2, 0, 1, 2]), "r": np.arange(6.0)[:, None],
             "t": np.ones((6, x.shape[1]), np.int64), **targets}
        return SequenceDataset(x, lengths, y, tasks)
    base = features()
    digest = _train_fingerprint(base)
    assert digest == "ad2f6e8ba44f1cfab4a7e37e4f265a36", digest
    x = base.x.copy()
    x[2, 1, 0] += 1e-12
    lengths = base.lengths.copy()
    lengths[3] = 1
    changed = {"x": features(x=x), "lengths": features(lengths=lengths),
               "c": features(c=np.array([0, 1, 2, 0, 1, 1])),
               "r": features(r=np.arange(6.0)[:, None] * 2),
               "t": features(t=np.where(np.arange(4) == 0, 0, 1)[None].repeat(6, 0)),
               "order": base.subset([1, 0, 2, 3, 4, 5])}
    for what, data in changed.items():
        assert _train_fingerprint(data) != digest, what
    wider = np.pad(base.x, ((0, 0), (0, 5), (0, 0)))
    same = {"padded wider": features(x=wider, t=np.ones((6, 9), np.int64)),
            "float32 input": features(x=base.x.astype(np.float32)),
            "class names, ids, source": SequenceDataset(
                base.x, base.lengths, base.targets,
                [{**t, "classes": ["a", "b", "c"][:t.get("num_classes", 0)]}
                 if t["kind"] == "classification" else t for t in base.tasks],
                ids=np.arange(6) + 100, source="other.csv")}
    for what, data in same.items():
        assert _train_fingerprint(data) == digest, what


def test_resume_says_what_is_missing():
    from nongate_np.training import resume
    with pytest.raises(FileNotFoundError, match=r"resume: no run to continue in .*no "
                                                r"last.npz"):
        resume("/nonexistent/run", model())


def test_resume_refuses_a_checkpoint_that_is_not_a_runs(tmp_path):
    from nongate_np.training import resume
    ng.save(model(), tmp_path / "last.npz")
    with pytest.raises(ng.io.CheckpointError, match="not a run's last epoch"):
        resume(tmp_path, model())


def test_fit_names_a_token_id_outside_the_vocabulary_before_any_step():
    """An id past the model's vocabulary in the validation set failed after a whole epoch
    of training (in the training set: at a random step), as an IndexError naming no
    sequence; features for a token model, or another width, were deep errors."""
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    val.x[5, 0] = 6                                 # the model has vocab_size=6
    steps = []

    class Count(Callback):
        def on_batch_end(self, step, loss):
            steps.append(step)
    with pytest.raises(ng.data.DataError, match=r"^fit: val: token ids must lie in \[0, 6\) "
                                                r".*x\[5, 0\] is 6, the first of 1$"):
        fit(model(), train, val, epochs=1, callbacks=[Count()])
    assert steps == []
    with pytest.raises(ng.data.DataError, match=r"^evaluate: data: token ids .*x\[5, 0\]"):
        evaluate(model(), val)
    ng.seed(0)
    features = MultiTaskSequenceModel(TASKS, input_size=3, embed_size=4, hidden_size=5,
                                      attn_size=3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"^fit: train holds token ids \(24, 7\), but the "
                                         r"model reads features$"):
        fit(features, train, epochs=1)
    wide = SequenceDataset(np.ones((4, 5, 2)), np.full(4, 5), {"c": np.zeros(4, np.int64),
                           "r": np.zeros((4, 2)), "t": np.zeros((4, 5), np.int64)},
                           [dict(t) for t in TASKS])
    with pytest.raises(ValueError, match=r"^evaluate: data has 2 features per step, but the "
                                         r"model reads 3 \(input_size\)$"):
        evaluate(features, wide)


@pytest.mark.parametrize("empty, T", [(np.zeros((0, 7), np.int64), 7), ([], 0)])
def test_predict_of_no_sequences_is_empty(empty, T):
    """A service's empty request: every result with 0 rows, of its shape and dtype, as
    encode gives (it was a DataError, and an empty list a TypeError about float64)."""
    m = model()
    got = predict(m, empty, attention=True)
    full = predict(m, dataset(n=3), attention=True)
    assert got["c"].shape == (0,) and got["t"].shape == (0, T) and got["r"].shape == (0, 2)
    assert got["probabilities"]["c"].shape == (0, 3)
    assert sorted(got["attention"]) == ["c", "r"] and got["attention"]["c"].shape == (0, T)
    for name in ("c", "t", "r"):
        assert got[name].dtype == full[name].dtype, name
    assert got["probabilities"]["c"].dtype == full["probabilities"]["c"].dtype


def test_evaluate_warns_when_a_task_seems_renamed():
    """A dataset whose task "r" is named "score": evaluate scored the others in silence,
    so "loss" meant something else; labels merely left out give no warning."""
    import warnings
    data = dataset()
    renamed = SequenceDataset(data.x, data.lengths,
                              {"c": data.targets["c"], "score": data.targets["r"],
                               "t": data.targets["t"]},
                              [dict(t, name="score") if t["name"] == "r" else dict(t)
                               for t in data.tasks])
    with pytest.warns(UserWarning, match=r"^evaluate: data has no targets for the model's "
                                         r"tasks \['r'\] but has \['score'\], .* \"loss\" "
                                         r"sums only \['c', 't'\]$"):
        evaluate(model(), renamed)
    partial = SequenceDataset(data.x, data.lengths, {"c": data.targets["c"]},
                              [dict(t) for t in data.tasks if t["name"] == "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(evaluate(model(), partial)) == {"loss", "c/loss", "c/accuracy"}


def test_without_validation_data_model_npz_holds_the_last_epoch(tmp_path):
    """As ModelCheckpoint's docstring says (no epoch is best where nothing is monitored);
    model.npz was never written."""
    from nongate_np.training import ModelCheckpoint
    m = model()
    history = fit(m, dataset(seed=1), epochs=2, callbacks=[ModelCheckpoint(tmp_path)])
    assert history.best_epoch is None
    kept = ng.load(tmp_path / "model.npz")
    assert kept.extra["epoch"] == 2
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(kept.state_dict[k], v, err_msg=k)


def test_a_new_run_into_an_earlier_runs_folder_is_refused_unless_overwrite(tmp_path):
    """ModelCheckpoint replaced an earlier run's model.npz and last.npz without a word (the
    command line refuses it without --overwrite): now fit raises before its first step and
    both files stay as they were; overwrite=True replaces them, none of the earlier run
    left."""
    from nongate_np.training import ModelCheckpoint
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    fit(model(), train, val, epochs=2, callbacks=[ModelCheckpoint(tmp_path)])
    before = {name: (tmp_path / name).read_bytes() for name in ("model.npz", "last.npz")}
    other = model(seed=4)
    weights = {k: v.copy() for k, v in other.state_dict().items()}
    with pytest.raises(FileExistsError, match=r"holds an earlier run \(model.npz, last.npz\)"
                                              r".*resume\(.*overwrite=True"):
        fit(other, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    for k, v in other.state_dict().items():                 # no step was taken
        np.testing.assert_array_equal(v, weights[k], err_msg=k)
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data, name
    fit(other, train, val, epochs=1, callbacks=[ModelCheckpoint(tmp_path, overwrite=True)])
    last = ng.load(tmp_path / "last.npz")
    assert [r["epoch"] for r in last.extra["history"]] == [1]      # the new run's only
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(last.state_dict[k], v, err_msg=k)


def test_resuming_a_run_that_stopped_early_stays_stopped(tmp_path):
    """The uninterrupted run stopped at epoch 4 (patience 3, nothing learnt); the same run
    resumed from its files with more epochs runs none more (it ran one, then stopped
    again), says it stopped early and restores the best weights; a larger patience goes
    on."""
    from nongate_np.training import ModelCheckpoint, resume
    train, val = dataset(seed=1), dataset(seed=2)
    first = fit(model(), train, val, epochs=10, lr=0.0, patience=3,
                callbacks=[ModelCheckpoint(tmp_path)])
    assert first.stopped_early and len(first.epochs) == 4
    again = model(seed=5)
    optimizer, history, done = resume(tmp_path, again)
    assert not history.stopped_early                    # not stored: fit works it out
    later = fit(again, train, val, epochs=20, optimizer=optimizer, history=history,
                initial_epoch=done, patience=3)
    assert [r["epoch"] for r in later.epochs] == [1, 2, 3, 4] and later.stopped_early
    best = ng.load(tmp_path / "model.npz").state_dict
    for k, v in again.state_dict().items():
        np.testing.assert_array_equal(v, best[k], err_msg=k)
    m = model(seed=5)
    optimizer, history, done = resume(tmp_path, m)
    longer = fit(m, train, val, epochs=6, optimizer=optimizer, history=history,
                 initial_epoch=done, patience=5)
    assert [r["epoch"] for r in longer.epochs] == [1, 2, 3, 4, 5, 6]


def test_resume_into_a_model_of_another_size_says_which_options_differ(tmp_path):
    from nongate_np.training import ModelCheckpoint, resume
    fit(model(), dataset(), epochs=1, callbacks=[ModelCheckpoint(tmp_path)])
    ng.seed(0)
    other = MultiTaskSequenceModel(TASKS, vocab_size=6, embed_size=4, hidden_size=7,
                                   attn_size=3, dtype=np.float64)
    with pytest.raises(ng.nn.StateDictError) as info:
        resume(tmp_path, other)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("resume: Error(s) in loading state_dict")
    assert lines[-1] == "the run's model has hidden_size=5 where this one has 7"
    assert ("lstm.weight_hh_l0", (28, 7), (20, 5)) in info.value.shape_mismatches


def test_predict_and_encode_refuse_outputs_that_are_not_finite_naming_the_weights():
    """NaN weights (a checkpoint holding one loads, as in torch) gave probabilities of NaN
    and the class 0, which the command line printed as a real class's name, and encode NaN
    vectors; an inf weight leaked NumPy's warning of inf - inf first."""
    data = dataset()
    m = model()
    sd = m.state_dict()
    head = sd["heads.2.weight"].copy()            # the tagging task's head
    head[1, 0] = np.nan
    m.load_state_dict({**sd, "heads.2.weight": head})
    with pytest.raises(ValueError, match=r"^predict: task 't': the model's outputs are not "
                                         r"finite for 24 of 24 sequence\(s\) \(the first: 0\); "
                                         r"its parameters hold non-finite values: "
                                         r"heads.2.weight \(1 of 20\); nothing is predicted "
                                         r"\(a NaN would read as class 0\)$"):
        predict(m, data)
    head = sd["heads.1.weight"].copy()            # the regression task's head: no class
    head[0, 0] = np.inf
    m.load_state_dict({**sd, "heads.1.weight": head})
    with pytest.raises(ValueError, match=r"task 'r': .*heads.1.weight \(1 of 10\); nothing is "
                                         r"predicted$"):
        predict(m, data)
    head = sd["heads.0.weight"].copy()            # inf - inf in the classification's softmax
    head[1, 1] = np.inf
    m.load_state_dict({**sd, "heads.0.weight": head})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no NumPy warning first
        with pytest.raises(ValueError, match=r"task 'c': .*heads.0.weight"):
            predict(m, data)
    embed = sd["embed.weight"].copy()             # token 5's row: the sequences that read it
    embed[5, 0] = np.nan
    m.load_state_dict({**sd, "embed.weight": embed})
    reads = (data.x == 5) & (np.arange(data.x.shape[1])[None, :] < data.lengths[:, None])
    count = int(reads.any(axis=1).sum())
    assert 0 < count < len(data)
    with pytest.raises(ValueError, match=rf"task 'c': .* for {count} of 24 sequence\(s\) "
                                         rf"\(the first: {int(np.argmax(reads.any(axis=1)))}\)"
                                         rf".*embed.weight \(1 of 24\)"):
        predict(m, data)
    with pytest.raises(ValueError, match=r"^encode: the pooled vectors are not finite for "
                                         rf"{count} of 24 sequence\(s\).*embed.weight \(1 of "
                                         r"24\); no vectors are returned$"):
        m.load_state_dict({**sd, "embed.weight": embed})
        m.encode(data)


def test_predict_leaves_the_models_mode_to_the_threads_that_train_it():
    """predict and evaluate ran model.eval() and restored the mode after: a thread training
    the same model lost its dropout meanwhile (its weights came out different), and two
    overlapping calls left the model in eval mode for good. The mode is now the calling
    thread's: another thread's Dropout still drops while one is inside evaluating()."""
    import threading

    from nongate_np import nn
    drop = nn.Dropout(0.5)
    inside, done = threading.Event(), threading.Event()

    def serving():
        with nn.evaluating():
            assert not drop.training
            inside.set()
            done.wait(10)
    server = threading.Thread(target=serving)
    server.start()
    try:
        assert inside.wait(10)
        assert drop.training                     # this thread still trains
        ng.seed(0)
        assert np.count_nonzero(drop(ng.Tensor(np.ones(1000))).data == 0) > 300
    finally:
        done.set()
        server.join()

    data = dataset()
    m = MultiTaskSequenceModel(TASKS, vocab_size=6, embed_size=4, hidden_size=5, attn_size=3,
                               num_layers=2, dtype=np.float64, dropout=0.5)  # dropout acts
    assert m.training
    got = predict(m, data)
    evaluated = evaluate(m, data)
    assert m.training                            # untouched, not switched and back
    m.eval()
    want = predict(m, data)
    for name in ("c", "r", "t"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert evaluate(m, data) == evaluated


@pytest.mark.parametrize("build", [
    lambda opt: ng.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    # milestones past the resumed epoch, one listed twice: {3: 2, 4: 1} in the state
    lambda opt: ng.optim.lr_scheduler.MultiStepLR(opt, [4, 3, 3], gamma=0.5),
    lambda opt: ng.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=1e-4),
    lambda opt: ng.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.7 ** epoch),
    # mode="max" on a falling loss: no epoch improves, so each one cuts the rate
    lambda opt: ng.optim.lr_scheduler.ReduceLROnPlateau(opt, "max", factor=0.5, patience=0),
    lambda opt: ng.optim.lr_scheduler.LinearLR(opt, 0.2, total_iters=3),
    lambda opt: ng.optim.lr_scheduler.ConstantLR(opt, 0.5, total_iters=3),
    lambda opt: ng.optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.8),
    lambda opt: ng.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0),
    lambda opt: ng.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3),
    lambda opt: ng.optim.lr_scheduler.CyclicLR(opt, 0.005, 0.02, step_size_up=2),
    lambda opt: ng.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=5),
    lambda opt: ng.optim.lr_scheduler.SequentialLR(
        opt, [ng.optim.lr_scheduler.LinearLR(opt, 0.5, total_iters=2),
              ng.optim.lr_scheduler.ExponentialLR(opt, 0.8)], milestones=[2]),
    lambda opt: ng.optim.lr_scheduler.ChainedScheduler(
        [ng.optim.lr_scheduler.ConstantLR(opt, 0.5, 2),
         ng.optim.lr_scheduler.ExponentialLR(opt, 0.9)]),
], ids=["StepLR", "MultiStepLR", "CosineAnnealingLR", "LambdaLR", "ReduceLROnPlateau", "LinearLR",
        "ConstantLR", "MultiplicativeLR", "PolynomialLR", "CosineAnnealingWarmRestarts",
        "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler"])
def test_fit_steps_a_scheduler_once_per_epoch_and_a_resumed_run_continues_it(tmp_path, build):
    """Each epoch trains with the rate the schedule gives it (torch's: the scheduler
    stepped by hand after each epoch of a run of fit's own steps), and a run stopped and
    resumed from its ModelCheckpoint, with the scheduler built again on the resumed
    optimiser, goes on with the same rates and the same weights as the run never stopped
    (before, a resumed schedule started again from its first epoch). Where building the
    scheduler on the resumed optimiser changes its rates (LinearLR, ConstantLR, ...) or its
    momentum (CyclicLR and OneCycleLR cycle Adam's betas[0]), fit puts back the saved
    state's."""
    from nongate_np.training import ModelCheckpoint, resume
    train, val = dataset(seed=1), dataset(n=8, seed=2)

    def run(m, epochs, folder, optimizer=None, **resumed):
        optimizer = optimizer or ng.optim.Adam(m.parameters(), lr=0.02)
        return fit(m, train, val, epochs=epochs, batch_size=5, seed=3, optimizer=optimizer,
                   scheduler=build(optimizer), callbacks=[ModelCheckpoint(folder)], **resumed)
    whole = model()
    ran = run(whole, 5, tmp_path / "whole")
    rates = [r["lr"] for r in ran.epochs]
    # the same rates from the scheduler stepped by hand, as a torch user would
    opt = ng.optim.Adam(model().parameters(), lr=0.02)
    sched, expected = build(opt), []
    for record in ran.epochs:
        expected.append(opt.param_groups[0]["lr"])
        if isinstance(sched, ng.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(record["val/loss"])
        else:
            sched.step()
    assert rates == expected and len(set(rates)) > 1, rates
    assert ran.scheduler_state["class"] == type(sched).__name__

    run(model(), 2, tmp_path / "parts")
    again = model(seed=9)
    optimizer, history, done = resume(tmp_path / "parts", again)
    rest = run(again, 5, tmp_path / "parts", optimizer, history=history, initial_epoch=done)
    assert [r["lr"] for r in rest.epochs] == rates
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v, err_msg=k)
    assert ng.load(tmp_path / "parts" / "last.npz").extra["scheduler"] == ran.scheduler_state


def test_fit_refuses_a_scheduler_it_cannot_step():
    from nongate_np.optim.lr_scheduler import ReduceLROnPlateau, StepLR
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    m = model()
    opt = ng.optim.Adam(m.parameters())
    with pytest.raises(TypeError, match="fit: scheduler must be a learning-rate scheduler .*"
                                        "got Adam"):
        fit(m, train, val, optimizer=opt, scheduler=opt)
    other = StepLR(ng.optim.Adam(m.parameters()), step_size=1)
    for optimizer in (opt, None):
        with pytest.raises(ValueError, match="schedules another optimiser than fit's"):
            fit(m, train, val, optimizer=optimizer, scheduler=other)
    with pytest.raises(ValueError, match="ReduceLROnPlateau steps on monitor='val/loss', "
                                         "which needs validation data"):
        fit(m, train, optimizer=opt, scheduler=ReduceLROnPlateau(opt))
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau steps on monitor='val/nope', "
                                         r"which epoch 1's record lacks; it has \['train/"):
        fit(m, train, val, epochs=1, optimizer=opt, monitor="val/nope",
            scheduler=ReduceLROnPlateau(opt))
    history = fit(m, train, val, epochs=1, optimizer=opt, scheduler=StepLR(opt, 1))
    with pytest.raises(ValueError, match="the history holds the state of a StepLR scheduler, "
                                         "and the scheduler given is a ReduceLROnPlateau"):
        fit(m, train, val, epochs=2, optimizer=opt, history=history, initial_epoch=1,
            scheduler=ReduceLROnPlateau(opt))


def test_a_rate_set_after_resume_is_kept_by_a_resumed_schedule(tmp_path):
    """As in torch, where the optimiser's state (its rates) is loaded after the scheduler
    is built: a rate changed by hand on the resumed optimiser (to fine-tune) is the one the
    schedule goes on from."""
    from nongate_np.optim.lr_scheduler import StepLR
    from nongate_np.training import ModelCheckpoint, resume
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    m = model()
    opt = ng.optim.Adam(m.parameters(), lr=0.02)
    fit(m, train, val, epochs=2, optimizer=opt, scheduler=StepLR(opt, 2, gamma=0.5),
        callbacks=[ModelCheckpoint(tmp_path)])
    again = model()
    optimizer, history, done = resume(tmp_path, again)
    assert optimizer.param_groups[0]["lr"] == 0.01              # halved after epoch 2
    optimizer.param_groups[0]["lr"] = 0.004
    rest = fit(again, train, val, epochs=4, optimizer=optimizer, history=history,
               initial_epoch=done, scheduler=StepLR(optimizer, 2, gamma=0.5))
    assert [r["lr"] for r in rest.epochs] == [0.02, 0.02, 0.004, 0.004]
    assert optimizer.param_groups[0]["lr"] == 0.002


def test_a_history_with_a_schedule_resumed_without_a_scheduler_warns(tmp_path):
    """The schedule would stop without a word (the rate frozen where it was)."""
    from nongate_np.optim.lr_scheduler import StepLR
    train, val = dataset(seed=1), dataset(n=8, seed=2)
    m = model()
    opt = ng.optim.Adam(m.parameters(), lr=0.02)
    history = fit(m, train, val, epochs=1, optimizer=opt, scheduler=StepLR(opt, 1))
    with pytest.warns(UserWarning, match="the history holds a StepLR scheduler's state and no "
                                         "scheduler is given"):
        fit(m, train, val, epochs=2, optimizer=opt, history=history, initial_epoch=1)
