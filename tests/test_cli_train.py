"""``nongate-np train`` end to end on tiny settings: text (the main job), ts, csv, npz and
--resume. Each run's files exist and hold what they promise: one metrics row per epoch, a
training loss that went down, summary.json's test metrics, a model.npz that predicts what
the trained model did."""

import csv
import pathlib
import re
import shutil
import sys

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data import DataError, load_csv, load_npz, load_ts
from nongate_np.data.text import stdlib_corpus
from nongate_np.training import evaluate, plot, predict
from nongate_np.training.jobs import FILE_DEFAULTS
from tests.cli_runs import (
    GUNPOINT_TEST,
    GUNPOINT_TRAIN,
    TINY_TEXT,
    TINY_TS,
    read_json,
    read_metrics,
    run_cli,
    train,
)


def _flat(nested: dict) -> dict:
    """summary.json's ``{"task": {"metric": v}, "loss": v}`` as evaluate's flat keys."""
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update({f"{key}/{metric}": v for metric, v in value.items()})
        else:
            flat[key] = value
    return flat


def _assert_pictures(out, tasks):
    if not plot.matplotlib_available():
        return
    for name in ["curves.png"] + [f"attention_{t}.png" for t in tasks]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


# -- text: the main job -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text")
    return out, train(out, *TINY_TEXT, "--epochs", "2")


def test_text_run_writes_every_file_and_the_loss_goes_down(text_run):
    out, printed = text_run
    for name in ("model.npz", "last.npz", "metrics.jsonl", "summary.json"):
        assert (out / name).is_file(), name
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train/loss"] < rows[0]["train/loss"]
    assert rows[1]["train/next_char/loss"] < rows[0]["train/next_char/loss"]
    _assert_pictures(out, ["package"])
    assert "test next_char: accuracy" in printed and "(baseline" in printed


def test_text_summary_holds_each_tasks_test_metrics_and_the_baselines(text_run):
    out, _ = text_run
    summary = read_json(out / "summary.json")
    assert summary["epochs_run"] == 2 and summary["best_epoch"] in (1, 2)
    assert summary["device"] == "cpu"
    test = summary["test"]
    assert set(test["next_char"]) == {"loss", "accuracy", "bits_per_token"}
    assert set(test["package"]) == {"loss", "accuracy"}
    assert test["next_char"]["bits_per_token"] == pytest.approx(
        test["next_char"]["loss"] / np.log(2), rel=1e-12)
    base = summary["baselines"]
    assert 0 < base["next_char"]["bits_per_token"] < 8
    assert 0 < base["package"]["accuracy"] <= 1


def test_text_checkpoint_scores_the_test_split_as_summary_says(text_run):
    out, _ = text_run
    corpus = stdlib_corpus(("json", "email"), chunk_len=32, max_chunks_per_package=30, seed=0)
    model = ng.load(out / "model.npz").model
    assert evaluate(model, corpus.test) == _flat(read_json(out / "summary.json")["test"])


def test_text_job_beats_both_baselines_clearly(tmp_path):
    # Two packages whose text differs (codec tables vs e-mail code); the margins held for
    # seeds 0-5 (bits/char 0.69-0.95 below the unigram, accuracy 0.895-0.96 vs 0.50)
    train(tmp_path, "--packages", "encodings,email", "--chunk-len", "64", "--max-chunks",
          "100", "--epochs", "4", "--hidden-size", "32", "--lr", "0.01", "--seed", "0",
          "--quiet")
    summary = read_json(tmp_path / "summary.json")
    test, base = summary["test"], summary["baselines"]
    assert test["next_char"]["bits_per_token"] < base["next_char"]["bits_per_token"] - 0.4
    assert test["package"]["accuracy"] > base["package"]["accuracy"] + 0.3


# -- ts: real UCR data ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gunpoint_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gunpoint")
    train(out, "ts", GUNPOINT_TRAIN, "--test", GUNPOINT_TEST, "--epochs", "20",
          "--hidden-size", "16", "--lr", "0.01", "--batch-size", "16", "--attention",
          "additive", "--seed", "0", "--quiet")
    return out


def test_ts_run_beats_the_majority_class_on_gunpoint(gunpoint_run):
    out = gunpoint_run
    summary = read_json(out / "summary.json")
    labels = load_ts(GUNPOINT_TEST).targets["label"]
    majority = np.bincount(labels).max() / len(labels)
    # seeds 0-5 gave 0.59-0.71 against a majority class of 0.507
    assert summary["test"]["label"]["accuracy"] > majority + 0.05
    assert summary["data"] == {"train": 40, "val": 10, "test": 150}


def test_ts_run_logs_every_epoch_and_keeps_the_best(gunpoint_run):
    out = gunpoint_run
    rows, summary = read_metrics(out), read_json(out / "summary.json")
    assert [r["epoch"] for r in rows] == list(range(1, summary["epochs_run"] + 1))
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]
    best = min(rows, key=lambda r: r["val/loss"])
    assert summary["best_epoch"] == best["epoch"]
    assert summary["stopped_early"] == (len(rows) < 20)
    if summary["stopped_early"]:
        assert len(rows) - best["epoch"] == FILE_DEFAULTS["patience"]
    assert summary["val"]["label"]["accuracy"] == best["val/label/accuracy"]
    assert ng.load(out / "model.npz").extra["epoch"] == best["epoch"]
    _assert_pictures(out, ["label"])


def test_ts_checkpoint_scores_the_test_file_as_summary_says(gunpoint_run):
    out = gunpoint_run
    ckpt = ng.load(out / "model.npz")
    test = load_ts(GUNPOINT_TEST, classes={"label": ckpt.extra["data"]["tasks"][0]["classes"]})
    assert evaluate(ckpt.model, test) == _flat(read_json(out / "summary.json")["test"])


# -- csv: a long table, two label columns -----------------------------------------------------
def _write_long_csv(path, seed: int, n: int = 36):
    """One row per step, rows shuffled (the order column says the step), two labels:
    ``trend`` (the steps rise or fall) and ``level`` (the mean of the feature f1)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        trend, level = ("up", "down")[i % 2], ("low", "mid", "high")[i % 3]
        steps = int(rng.integers(4, 9))
        f1 = (i % 3) + 0.3 * rng.standard_normal(steps)
        f2 = (1 if trend == "up" else -1) * np.arange(steps) + 0.2 * rng.standard_normal(steps)
        rows += [[f"seq{i}", t, f"{f1[t]:.5f}", f"{f2[t]:.5f}", trend, level]
                 for t in range(steps)]
    rows = [rows[k] for k in rng.permutation(len(rows))]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "step", "f1", "f2", "trend", "level"])
        writer.writerows(rows)


CSV_OPTIONS = ["--order-col", "step", "--label-cols", "trend,level"]


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    _write_long_csv(folder / "train.csv", seed=1)
    _write_long_csv(folder / "test.csv", seed=2, n=12)
    out = folder / "run"
    train(out, "csv", folder / "train.csv", "--test", folder / "test.csv", *CSV_OPTIONS,
          "--epochs", "3", "--hidden-size", "8", "--quiet")
    return folder, out


def test_csv_run_has_one_task_per_label_column(csv_run):
    folder, out = csv_run
    summary = read_json(out / "summary.json")
    assert set(summary["test"]["trend"]) == {"loss", "accuracy"}
    assert set(summary["test"]["level"]) == {"loss", "accuracy"}
    assert summary["data"]["test"] == 12
    assert len(read_metrics(out)) == summary["epochs_run"] == 3
    meta = ng.load(out / "model.npz").extra["data"]
    assert meta["options"]["order_col"] == "step"
    assert meta["options"]["feature_cols"] == summary["data"]["features"] == ["f1", "f2"]
    assert [t["name"] for t in meta["tasks"]] == ["trend", "level"]


def test_csv_label_cols_take_a_kind_and_train_says_what_it_read(tmp_path):
    """--label-cols NAME:regression makes a numeric column a regression task (without the
    kind it is a classification of its distinct values), and predict reads the file as
    train did; the data's description comes before the first epoch (on stderr); a
    semicolon table with --delimiter trains the same run."""
    path = tmp_path / "t.csv"
    rows = [f"s{i},{t},{(i % 3) + 0.1 * t:.3f},{'ab'[i % 2]},{i * 0.25:.2f}\n"
            for i in range(12) for t in range(3)]
    path.write_text("id,step,f,label,energy\n" + "".join(rows))
    options = ["train", "csv", path, "--order-col", "step", "--epochs", "1",
               "--hidden-size", "4", "--label-cols", "label,energy:regression"]
    code, _, err = run_cli(*options, "--out", tmp_path / "run")
    assert code == 0, err
    first = err.splitlines()[0]
    assert first.startswith(f"train: {path}: 12 sequences, length 3, 1 feature (f); "
                            f"label (classification, 2 classes: a=6, b=6); energy "
                            f"(regression, 1 output, mean 1.375"), first
    tasks = {t["name"]: t for t in ng.load(tmp_path / "run" / "model.npz").model.tasks}
    assert tasks["energy"]["kind"] == "regression" and tasks["energy"]["output_size"] == 1
    code, out, err = run_cli("predict", tmp_path / "run" / "model.npz", path)
    assert code == 0 and len(out.splitlines()) == 13, err
    semi = tmp_path / "s.csv"
    semi.write_text(path.read_text().replace(",", ";"))
    code, _, err = run_cli(*options[:2], semi, *options[3:], "--delimiter", ";", "--out",
                           tmp_path / "semi")
    assert code == 0, err
    for name in ("model.npz", "last.npz"):        # the same run, the file read alike
        a, b = ng.load(tmp_path / "run" / name), ng.load(tmp_path / "semi" / name)
        assert all(np.array_equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    code, out, err = run_cli("predict", tmp_path / "semi" / "model.npz", semi)
    assert code == 0 and len(out.splitlines()) == 13, err
    code, _, err = run_cli(*options[:-1], "label,energy:colour", "--out", tmp_path / "bad")
    assert code == 2 and "'energy:colour': the kind after ':' must be one of " \
        "classification, regression, tagging" in err, err


def test_a_run_without_validation_says_so(tmp_path):
    """Fewer than 4 sequences hold none out: the run says it has no early stopping and
    which epoch model.npz holds; with 4 and more it says nothing of the kind."""
    for n, expected in ((3, True), (4, False)):
        path = tmp_path / f"n{n}.csv"
        path.write_text("id,v,label\n" + "".join(f"s{i},{i},{'xy'[i % 2]}\n"
                                                for i in range(n)))
        printed = train(tmp_path / f"run{n}", "csv", path, "--epochs", "2", "--quiet")
        said = f"no validation split ({n} training sequence(s)" in printed
        assert said == expected, printed
        assert ("model.npz holds the last epoch" in printed) == expected


def test_csv_predict_reads_the_trained_columns_by_name(csv_run):
    """A file whose columns come in another order, with one more numeric column, is read
    by the trained feature names; a feature cell of text is an error naming it, not a
    column left out."""
    folder, out = csv_run
    with open(folder / "test.csv", newline="") as f:
        header, *body = list(csv.reader(f))
    moved = [[r[0], r[3], "7", r[1], r[2], r[4], r[5]] for r in body]     # id f2 extra step f1
    with open(folder / "moved.csv", "w", newline="") as f:
        csv.writer(f).writerows([["id", "f2", "extra", "step", "f1", "trend", "level"],
                                 *moved])
    for name in ("test", "moved"):
        code, _, err = run_cli("predict", out / "model.npz", folder / f"{name}.csv",
                               "--out", folder / f"{name}-pred.csv")
        assert code == 0, err
    assert (folder / "test-pred.csv").read_text() == (folder / "moved-pred.csv").read_text()
    moved[4][4] = "x"                                                     # a typo in f1
    with open(folder / "typo.csv", "w", newline="") as f:
        csv.writer(f).writerows([["id", "f2", "extra", "step", "f1", "trend", "level"],
                                 *moved])
    code, _, err = run_cli("predict", out / "model.npz", folder / "typo.csv")
    assert code == 2 and "line 6, column 'f1': expected a finite number" in err, err


def test_csv_run_with_label_cols_predicts_and_encodes_a_file_without_them(csv_run):
    """A run trained with --label-cols predicts and encodes a new table that has no label
    columns (an application's input): the same predictions as for the labelled table, no
    scores. Both ended in "no label column 'trend'"."""
    folder, out = csv_run
    with open(folder / "test.csv", newline="") as f:
        rows = [r[:4] for r in csv.reader(f)]                # id, step, f1, f2
    with open(folder / "no_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    code, labelled, _ = run_cli("predict", out / "model.npz", folder / "test.csv")
    assert code == 0
    code, printed, err = run_cli("predict", out / "model.npz", folder / "no_labels.csv")
    assert code == 0, err
    assert printed == labelled
    assert "accuracy" not in err, err
    code, _, err = run_cli("encode", out / "model.npz", folder / "no_labels.csv", "--out",
                           folder / "no_labels.npy")
    assert code == 0, err
    ckpt = ng.load(out / "model.npz")
    data = load_csv(folder / "test.csv", **ckpt.extra["data"]["options"])
    np.testing.assert_array_equal(np.load(folder / "no_labels.npy"),
                                  ckpt.model.eval().encode(data.x, lengths=data.lengths),
                                  err_msg="encode of the table without its labels")


def test_read_as_trained_gives_python_what_predict_reads(csv_run, tmp_path):
    """A run's model used from Python: read_as_trained reads a new file with the run's
    columns, order and classes (a newcomer dug them out of extra by hand), and predict
    then gives the command line's classes; the wrong kind of file is a DataError."""
    from nongate_np.data import DataError
    from nongate_np.training import read_as_trained
    folder, out = csv_run
    ckpt = ng.load(out / "model.npz")
    data = read_as_trained(out / "model.npz", folder / "test.csv")
    assert data.feature_names == ["f1", "f2"] and len(data) == 12
    assert [t["classes"] for t in data.tasks] == [t["classes"]
                                                 for t in ckpt.extra["data"]["tasks"]]
    want = load_csv(folder / "test.csv", classes={t["name"]: t["classes"]
                                                  for t in ckpt.extra["data"]["tasks"]},
                    **ckpt.extra["data"]["options"])
    np.testing.assert_array_equal(data.x, want.x)
    code, printed, err = run_cli("predict", out / "model.npz", folder / "test.csv")
    assert code == 0, err
    got = predict(ckpt.model, read_as_trained(ckpt, folder / "test.csv"))
    names = ckpt.extra["data"]["tasks"][0]["classes"]
    assert [r.split("\t")[1] for r in printed.splitlines()[1:]] == \
        [names[k] for k in got["trend"]]
    (tmp_path / "x.npz").write_bytes(b"")
    with pytest.raises(DataError, match=r"x.npz: the model reads .csv files"):
        read_as_trained(ckpt, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="not written by nongate-np train"):
        read_as_trained({"nothing": 1}, folder / "test.csv")


def test_read_as_trained_of_a_table_without_labels_names_labels_false(csv_run, tmp_path):
    """An application's input has no label column: the error named the column only, not
    the option that reads the table for predict and encode."""
    import csv

    from nongate_np.data.errors import UnknownLabelError
    from nongate_np.training import read_as_trained
    folder, out = csv_run
    with open(folder / "test.csv", newline="") as f:
        rows = [r[:4] for r in csv.reader(f)]                # id, step, f1, f2
    with open(tmp_path / "unlabelled.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(UnknownLabelError, match=r"unlabelled.csv.*; to read the sequences "
                                                r"without scoring labels.*labels=False"):
        read_as_trained(out / "model.npz", tmp_path / "unlabelled.csv")
    assert len(read_as_trained(out / "model.npz", tmp_path / "unlabelled.csv",
                               labels=False)) == 12


def test_read_as_trained_says_how_to_read_a_file_for_a_model_saved_in_python(csv_run,
                                                                           tmp_path):
    """A model saved by ng.save without the run's data description: the error says how to
    read the file with the model's classes, which the model now keeps."""
    from nongate_np.training import read_as_trained
    folder, out = csv_run
    model = ng.load(out / "model.npz").model
    ng.save(model, tmp_path / "mine.npz")
    with pytest.raises(ValueError) as err:
        read_as_trained(tmp_path / "mine.npz", folder / "test.csv")
    assert str(err.value) == (
        f"read_as_trained: {tmp_path / 'mine.npz'} was not written by nongate-np train (it "
        f"has no data description, extra['data']); read the file as the training file was, "
        f"with the model's classes: load_sequences(path, **the_loader_options, "
        f"classes={{t['name']: t['classes'] for t in model.tasks if 'classes' in t}})")
    tasks = ng.load(tmp_path / "mine.npz").model.tasks
    options = ng.load(out / "model.npz").extra["data"]["options"]
    data = load_csv(folder / "test.csv", **options,
                    classes={t["name"]: t["classes"] for t in tasks if "classes" in t})
    want = read_as_trained(out / "model.npz", folder / "test.csv")
    assert data.tasks == want.tasks
    np.testing.assert_array_equal(data.targets["trend"], want.targets["trend"])


def test_a_zero_padded_npz_without_lengths_trains_with_a_one_line_warning(tmp_path):
    """X zero-padded and no 'lengths': train says so on one line of stderr (Python's
    display added the warning's file and source line), then trains as before; predict
    reads the file with the same warning."""
    x = np.random.default_rng(0).standard_normal((8, 4, 2)) + 3
    x[::2, 2:] = 0
    path = tmp_path / "padded.npz"
    np.savez(path, X=x, y_label=np.arange(8) % 2)
    code, _, err = run_cli("train", "npz", path, "--epochs", "1", "--hidden-size", "4",
                           "--quiet", "--out", tmp_path / "run")
    assert code == 0, err
    warning = (f"warning: {path}: 4 of 8 sequences end in all-zero steps, read as data: "
               f"without an array 'lengths' every sequence is T = 4 steps long; if the zeros "
               f"are padding, save each sequence's length: np.savez(path, X=X, "
               f"lengths=lengths, y_label=y)")
    assert err.splitlines() == [warning], err
    code, _, err = run_cli("predict", tmp_path / "run" / "model.npz", path)
    assert code == 0 and err.splitlines()[0] == warning, err


def test_predict_and_encode_read_a_table_with_another_separator(csv_run, tmp_path):
    """A new table with semicolons: without --delimiter the error asks for it as predict
    takes it; with it, predict and encode give what they give for the comma table, and
    read_as_trained takes delimiter= as well (None: the run's)."""
    from nongate_np.training import read_as_trained
    folder, out = csv_run
    semi = tmp_path / "semi.csv"
    semi.write_text((folder / "test.csv").read_text().replace(",", ";"))
    model = out / "model.npz"
    code, _, err = run_cli("predict", model, semi)
    assert code == 2 and "is that the separator? (--delimiter ';' on the command line, " \
        "delimiter=';' in Python)" in err, err
    want = run_cli("predict", model, folder / "test.csv")
    assert want[0] == 0, want[2]
    assert run_cli("predict", model, semi, "--delimiter", ";") == want
    for path, options in ((folder / "test.csv", ()), (semi, ("--delimiter", ";"))):
        # NOTE: --overwrite: the second encode replaces the first one's file
        code, _, err = run_cli("encode", model, path, *options, "--out", tmp_path / "e.npy",
                               "--overwrite")
        assert code == 0, err
        emb = np.load(tmp_path / "e.npy")
        if not options:
            first = emb
    np.testing.assert_array_equal(emb, first)
    a = read_as_trained(model, folder / "test.csv")
    b = read_as_trained(model, semi, delimiter=";")
    np.testing.assert_array_equal(a.x, b.x)
    assert {k: v.tolist() for k, v in a.targets.items()} == \
        {k: v.tolist() for k, v in b.targets.items()}
    with pytest.raises(DataError, match="is that the separator"):
        read_as_trained(model, semi)
    with pytest.raises(ValueError, match=r"read_as_trained: delimiter=';' applies to csv "
                                         r"input only; the model reads \.npz files"):
        read_as_trained({"kind": "npz", "tasks": [], "options": {}}, tmp_path / "x.npz",
                        delimiter=";")


def test_csv_predictions_equal_the_models_and_follow_the_order_column(csv_run):
    folder, out = csv_run
    code, _, err = run_cli("predict", out / "model.npz", folder / "test.csv", "--out",
                           folder / "pred.csv")
    assert code == 0, err
    with open(folder / "pred.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "trend", "trend_probability", "level", "level_probability"]
    ckpt = ng.load(out / "model.npz")
    classes = {t["name"]: t["classes"] for t in ckpt.extra["data"]["tasks"]}
    data = load_csv(folder / "test.csv", order_col="step", label_cols=["trend", "level"],
                    classes=classes)
    want = predict(ckpt.model, data)
    assert [r[0] for r in rows[1:]] == list(data.ids)
    for task, col in (("trend", 1), ("level", 3)):
        assert [r[col] for r in rows[1:]] == [classes[task][k] for k in want[task]], task
        probs = want["probabilities"][task][np.arange(len(data)), want[task]]
        assert [r[col + 1] for r in rows[1:]] == [f"{p:.6g}" for p in probs], task
    # the same table with its rows in another order: the same predictions per id
    with open(folder / "test.csv", newline="") as f:
        header, *body = list(csv.reader(f))
    body = [body[k] for k in np.random.default_rng(3).permutation(len(body))]
    with open(folder / "shuffled.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    code, _, err = run_cli("predict", out / "model.npz", folder / "shuffled.csv", "--out",
                           folder / "pred2.csv")
    assert code == 0, err
    with open(folder / "pred2.csv", newline="") as f:
        again = list(csv.reader(f))
    assert sorted(again[1:]) == sorted(rows[1:])


# -- npz: classification and regression -------------------------------------------------------
def _write_npz(path, seed: int, n: int):
    """X (n, 9, 2) with lengths 3..9; y_animal (strings) from the sign of feature 0's
    mean, y_size (floats) the mean of feature 1."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 10, n)
    x = rng.standard_normal((n, 9, 2))
    x[np.arange(9)[None, :] >= lengths[:, None]] = 0.0
    mean = x.sum(axis=1) / lengths[:, None]
    animal = np.where(mean[:, 0] > 0, "cat", "dog")
    np.savez(path, X=x, lengths=lengths, y_animal=animal, y_size=mean[:, 1])


def test_npz_run_reports_classification_and_regression(tmp_path, monkeypatch):
    _write_npz(tmp_path / "train.npz", seed=1, n=40)
    _write_npz(tmp_path / "test.npz", seed=2, n=10)
    monkeypatch.chdir(tmp_path)
    code, printed, progress = run_cli("train", "npz", "train.npz", "--test", "test.npz",
                                      "--epochs", "3", "--hidden-size", "8", "--attention",
                                      "weight_gated")
    assert code == 0, progress
    out = tmp_path / "runs" / "train"                    # the default --out: runs/<stem>
    assert f"files: {pathlib.Path('runs', 'train')}/model.npz" in printed
    for epoch in (1, 2, 3):                              # no --quiet: a bar per epoch
        assert f"epoch {epoch}/3" in progress
    for shown in ("val/loss", "val/animal/accuracy", "val/size/mae"):   # every task's
        assert shown in progress, shown
    summary = read_json(out / "summary.json")
    assert set(summary["test"]["animal"]) == {"loss", "accuracy"}
    assert set(summary["test"]["size"]) == {"loss", "mae"}
    assert len(read_metrics(out)) == 3
    assert ng.load(out / "model.npz").model.config()["attention"] == "weight_gated"

    code, printed, err = run_cli("predict", out / "model.npz", tmp_path / "test.npz")
    assert code == 0, err
    lines = [line.split("\t") for line in printed.splitlines()]
    assert lines[0] == ["id", "animal", "animal_probability", "size"]
    ckpt = ng.load(out / "model.npz")
    want = predict(ckpt.model, load_npz(tmp_path / "test.npz",
                                        classes={"animal": ["cat", "dog"]}))
    assert [r[1] for r in lines[1:]] == [["cat", "dog"][k] for k in want["animal"]]
    assert [r[3] for r in lines[1:]] == [f"{v:.6g}" for v in want["size"][:, 0]]
    assert f"animal: accuracy {summary['test']['animal']['accuracy']:.4f}" in err


def test_npz_task_kinds_train_integer_targets_as_a_regression(tmp_path):
    """Integer targets (a year) are read as classes (test_data_npz); --task-kinds
    year:regression makes them one value per sequence, scored by mae, and predict and
    --test read them so."""
    rng = np.random.default_rng(0)
    for name, n in (("train", 12), ("test", 5)):
        x = rng.standard_normal((n, 5, 2))
        np.savez(tmp_path / f"{name}.npz", X=x,
                 y_year=np.round(2000 + 10 * x[:, :, 0].mean(axis=1)).astype(int))
    options = ["npz", tmp_path / "train.npz", "--test", tmp_path / "test.npz", "--epochs",
               "1", "--hidden-size", "4", "--quiet"]
    code, printed, err = run_cli("train", *options, "--task-kinds", "year:regression",
                                 "--out", tmp_path / "run")
    assert code == 0, err
    assert "test year: mae " in printed, printed
    ckpt = ng.load(tmp_path / "run" / "model.npz")
    assert [(t["name"], t["kind"]) for t in ckpt.model.tasks] == [("year", "regression")]
    code, printed, err = run_cli("predict", tmp_path / "run" / "model.npz",
                                 tmp_path / "test.npz")
    assert code == 0, err
    want = predict(ckpt.model, load_npz(tmp_path / "test.npz",
                                        task_kinds={"year": "regression"}))
    lines = [line.split("\t") for line in printed.splitlines()]
    assert lines[0] == ["id", "year"]
    assert [r[1] for r in lines[1:]] == [f"{v:.6g}" for v in want["year"][:, 0]]
    assert "year: mae " in err, err


def test_a_task_of_one_class_is_noted_with_what_train_read(tmp_path):
    """A task whose training file holds one class only trains (classes= may add others
    later), with a note naming the task and its class, --quiet too (it reported "accuracy
    1.0000" and nothing else)."""
    path = tmp_path / "one.npz"
    np.savez(path, X=np.random.default_rng(0).standard_normal((5, 4, 2)),
             y_a=np.zeros(5, int), y_b=np.arange(5) % 2)
    code, _, err = run_cli("train", "npz", path, "--epochs", "1", "--hidden-size", "4",
                           "--quiet", "--out", tmp_path / "run")
    assert code == 0, err
    assert err.splitlines() == [f"note: {path}: task 'a' has one class only, '0': the model "
                                f"learns to predict it always, and its accuracy of 1 says "
                                f"nothing"]


def _write_steps_csv(path, rows_in_order: bool = True) -> None:
    """Six sequences of 1 to 5 steps (the first of one: the note's counts are not read from
    it alone): a step counter t, an ordinary feature x, a count that is not a step index
    (n: 0, 1, 2, ... from 3 on), a per-sequence float amp, an integer code constant per
    sequence, and a label."""
    rng = np.random.default_rng(0)
    rows = []
    for i, steps in enumerate((1, 3, 4, 5, 3, 4)):
        rows += [[f"s{i}", t, f"{rng.standard_normal():.4f}", 3 * (i % 2) + t,
                  f"{0.5 + 0.25 * i:g}", i % 3, "ab"[i % 2]] for t in range(steps)]
    if not rows_in_order:
        rows = [rows[k] for k in rng.permutation(len(rows))]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "t", "x", "n", "amp", "code", "label"])
        writer.writerows(rows)


@pytest.mark.parametrize("in_order", [True, False])
def test_train_csv_notes_a_step_index_and_a_per_sequence_column_read_as_features(
        tmp_path, in_order):
    """Default columns: a column counting 0, 1, 2, ... in every sequence and a float column
    constant within each sequence (varying across them) get a note with the option that
    reads them otherwise, --quiet too; an ordinary feature (x), a count from another start
    (n) and an integer code get none (both were read as features without a word)."""
    path = tmp_path / "steps.csv"
    _write_steps_csv(path, rows_in_order=in_order)
    code, printed, err = run_cli("train", "csv", path, "--epochs", "1", "--hidden-size", "4",
                                 "--quiet", "--out", tmp_path / "run")
    assert code == 0, err
    assert "features per step: t, x, n, amp, code" in printed
    order = "" if in_order else " (the rows not in its order)"
    assert err.splitlines() == [
        f"note: {path}: column 't' counts 0, 1, 2, ... within each sequence{order}: it looks "
        f"like a step index, read here as a feature; --order-col t orders the steps by it "
        f"instead",
        f"note: {path}: column 'amp' is constant within each sequence and varies across "
        f"them: a per-sequence target? read here as a feature; --label-cols "
        f"label,amp:regression learns it as a task instead"]


def test_train_csv_notes_nothing_about_columns_the_user_chose(tmp_path):
    """--order-col t: no step-index note; --feature-cols: no note at all; following the
    notes' advice leaves none."""
    path = tmp_path / "steps.csv"
    _write_steps_csv(path)
    args = ("train", "csv", path, "--epochs", "1", "--hidden-size", "4", "--quiet")
    code, _, err = run_cli(*args, "--order-col", "t", "--out", tmp_path / "a")
    assert code == 0, err
    assert [line.split(": column ")[1].split()[0] for line in err.splitlines()] == ["'amp'"]
    for chosen in (["--feature-cols", "t,x,amp"],
                   ["--order-col", "t", "--label-cols", "label,amp:regression"]):
        code, _, err = run_cli(*args, *chosen, "--out", tmp_path / "b", "--overwrite")
        assert code == 0, err
        assert err == "", chosen


def test_without_matplotlib_train_says_how_to_get_the_pictures(tmp_path, monkeypatch):
    # a None entry in sys.modules makes `import matplotlib` raise ImportError (importlib docs)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    printed = train(tmp_path, "ts", TINY_TS, "--epochs", "1", "--hidden-size", "4", "--quiet")
    assert "pictures: pip install matplotlib (or, in the checkout, pip install -e " \
           "'.[plot]') for training curves" in printed
    assert not list(tmp_path.glob("*.png"))
    assert not list(tmp_path.glob("*.png"))
    assert (tmp_path / "model.npz").is_file()


# -- --resume ---------------------------------------------------------------------------------
def _assert_same_run(a, b):
    for name in ("model.npz", "last.npz"):
        ca, cb = ng.load(a / name), ng.load(b / name)
        assert ca.state_dict.keys() == cb.state_dict.keys()
        for key in ca.state_dict:
            np.testing.assert_array_equal(ca.state_dict[key], cb.state_dict[key],
                                          err_msg=f"{name}: {key}")
    sa, sb = ng.load(a / "last.npz").optimizer_state, ng.load(b / "last.npz").optimizer_state
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        assert sa["state"][k]["step"] == sb["state"][k]["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(sa["state"][k][key], sb["state"][k][key],
                                          err_msg=f"optimizer state {k} {key}")
    def drop(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop(read_metrics(a)) == drop(read_metrics(b))


@pytest.mark.parametrize("data", [GUNPOINT_TRAIN, TINY_TS], ids=["with_val", "without_val"])
def test_resume_continues_exactly_as_the_uninterrupted_run(tmp_path, data):
    options = ["ts", data, "--hidden-size", "8", "--batch-size", "16", "--quiet"]
    train(tmp_path / "whole", *options, "--epochs", "3")
    train(tmp_path / "parts", *options, "--epochs", "1")
    assert len(read_metrics(tmp_path / "parts")) == 1
    printed = train(tmp_path / "parts", *options, "--epochs", "3", "--resume")
    assert printed.startswith("trained epochs 2-3 in "), printed
    assert "s (resumed after epoch 1)" in printed.splitlines()[0], printed
    _assert_same_run(tmp_path / "whole", tmp_path / "parts")
    whole = read_json(tmp_path / "whole" / "summary.json")
    parts = read_json(tmp_path / "parts" / "summary.json")
    assert {k: v for k, v in whole.items() if k != "train_seconds"} == {
        k: v for k, v in parts.items() if k != "train_seconds"}


def test_resume_keeps_the_runs_learning_rate_and_a_new_lr_applies_from_there(tmp_path):
    """Without --lr a resumed run goes on at its own rate (not the default); with one, the
    new rate is used from the next epoch, said on stderr, and recorded in last.npz."""
    options = ["ts", TINY_TS, "--hidden-size", "4", "--quiet"]
    train(tmp_path, *options, "--epochs", "1", "--lr", "0.01")
    code, _, err = run_cli("train", *options, "--epochs", "2", "--resume", "--out", tmp_path)
    assert code == 0 and "learning rate" not in err, err
    last = ng.load(tmp_path / "last.npz")
    assert last.optimizer_state["param_groups"][0]["lr"] == 0.01
    assert last.extra["options"]["lr"] == 0.01
    code, _, err = run_cli("train", *options, "--epochs", "3", "--resume", "--lr", "0.001",
                           "--out", tmp_path)
    assert code == 0 and "--resume: learning rate 0.01 -> 0.001 from here on" in err, err
    last = ng.load(tmp_path / "last.npz")
    assert last.optimizer_state["param_groups"][0]["lr"] == 0.001
    assert last.extra["options"]["lr"] == 0.001
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2, 3]


RESUMED_DATA = {  # kind, the options at the start, those on resuming, what the error names
    "npz": ("npz", ["--task-kinds", "year:regression"], [],
            "--task-kinds: 'year:regression' at the start, none now; tasks: year (regression, "
            "1 output) at the start, year (classification, 3 classes: 2000, 2001, 2002) now"),
    "csv": ("csv", ["--label-cols", "year:regression"], ["--label-cols", "year",
                                                           "--order-col", "t"],
            "--order-col: none at the start, 't' now; --feature-cols: 't,x' at the start, "
            "'x' now; --label-cols: 'year:regression' at the start, 'year' now; tasks: year "
            "(regression, 1 output) at the start, year (classification, 3 classes: 2000, "
            "2001, 2002) now"),
}


@pytest.mark.parametrize("case", list(RESUMED_DATA))
def test_resume_with_other_data_options_names_each_that_changed(tmp_path, case):
    """A resumed run read with other data options stops naming each that differs from its
    start, from what to what (it said only "trained on other data or data options")."""
    kind, before, after, changes = RESUMED_DATA[case]
    x = np.random.default_rng(0).standard_normal((8, 4))
    year = 2000 + np.arange(8) % 3
    path = tmp_path / f"train.{kind}"
    if kind == "npz":
        np.savez(path, X=x[:, :, None], y_year=year)
    else:
        path.write_text("id,t,x,year\n" + "".join(f"s{i},{t},{x[i, t]},{year[i]}\n"
                                                   for i in range(8) for t in range(4)))
    options = [kind, path, "--hidden-size", "4", "--quiet"]
    run = tmp_path / "run"
    train(run, *options, "--epochs", "1", *before)
    code, out, err = run_cli("train", *options, *after, "--epochs", "2", "--resume",
                             "--out", run)
    assert code == 2, (out, err)
    assert err.splitlines() == [
        f"nongate-np train: error: --resume: the run in {run} was trained on other data or "
        f"data options ({changes}); use another --out, or drop --resume"]


def test_resume_with_other_batches_names_the_option_or_the_training_split(tmp_path):
    """--resume with another --batch-size stops naming the option (the run's saved options
    say it); a training file changed under the same name, to more sequences or to other
    ones as many, gave another split whose batches are not the run's, and it went on
    without a word: now it stops naming the split's sizes, or the digests of its contents
    (fit's record of the run's settings, History.settings)."""
    path, run = tmp_path / "train.npz", tmp_path / "run"

    def write(n, seed=None):
        x = np.random.default_rng(n if seed is None else seed).standard_normal((n, 4))
        np.savez(path, X=x[:, :, None], y_year=2000 + np.arange(n) % 2)
    write(10)
    options = ["npz", path, "--hidden-size", "4", "--quiet"]
    train(run, *options, "--epochs", "1", "--batch-size", "4")
    code, out, err = run_cli("train", *options, "--epochs", "2", "--batch-size", "2",
                             "--resume", "--out", run)
    assert code == 2 and err.splitlines() == [
        f"nongate-np train: error: --resume: the run in {run} used --batch-size 4, not 2; "
        f"resume with the run's --batch-size, or use another --out for a new run"], (out, err)
    write(15)
    code, out, err = run_cli("train", *options, "--epochs", "2", "--batch-size", "4",
                             "--resume", "--out", run)
    assert code == 2 and err.splitlines() == [
        f"nongate-np train: error: --resume: the run in {run} drew its batches from other "
        f"data or options (sequences in the training split: 8 at the start, 12 now); use "
        f"another --out, or drop --resume"], (out, err)
    write(10, seed=1)
    code, out, err = run_cli("train", *options, "--epochs", "2", "--batch-size", "4",
                             "--resume", "--out", run)
    assert code == 2 and len(err.splitlines()) == 1, (out, err)
    assert re.fullmatch(
        rf"nongate-np train: error: --resume: the run in {re.escape(str(run))} drew its "
        rf"batches from other data or options \(digest of the training split's sequences, "
        rf"lengths and targets: [0-9a-f]{{12}}… at the start, [0-9a-f]{{12}}… now\); use "
        rf"another --out, or drop --resume", err.strip()), (out, err)
    assert [r["epoch"] for r in read_metrics(run)] == [1]
    write(10)
    train(run, *options, "--epochs", "2", "--batch-size", "4", "--resume")
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]


def test_resume_after_an_epoch_interrupted_between_its_files(tmp_path):
    """An epoch whose metrics line and model.npz were written but not its last.npz (a run
    killed there): the resumed run lists each epoch once and ends as the uninterrupted
    run."""
    options = ["ts", GUNPOINT_TRAIN, "--hidden-size", "8", "--batch-size", "16", "--quiet",
               "--patience", "0"]
    train(tmp_path / "whole", *options, "--epochs", "3")
    parts = tmp_path / "parts"
    train(parts, *options, "--epochs", "2")
    last = ng.load(parts / "last.npz")
    with (parts / "metrics.jsonl").open("a") as f:          # epoch 3's line, written first
        f.write((parts / "metrics.jsonl").read_text().splitlines()[-1] + "\n")
    best = ng.load(parts / "model.npz")
    ng.save(best.model, parts / "model.npz", extra={**best.extra, "epoch": 3})
    train(parts, *options, "--epochs", "3", "--resume")
    assert [r["epoch"] for r in read_metrics(parts)] == [1, 2, 3]
    assert last.extra["best_epoch"] in (1, 2)
    _assert_same_run(tmp_path / "whole", parts)


def test_resume_takes_model_npz_as_the_best_weights_only_if_it_is_that_epochs(tmp_path):
    from nongate_np.training import resume
    train(tmp_path, "ts", GUNPOINT_TRAIN, "--hidden-size", "4", "--epochs", "2", "--quiet")
    last = ng.load(tmp_path / "last.npz")

    def best_state():
        return resume(tmp_path, ng.load(tmp_path / "last.npz").model)[1].best_state
    best = ng.load(tmp_path / "model.npz")
    assert best.extra["epoch"] == last.extra["best_epoch"]
    kept = best_state()
    assert kept is not None and all(np.array_equal(kept[k], v)
                                    for k, v in best.state_dict.items())
    ng.save(best.model, tmp_path / "model.npz", extra={**best.extra, "epoch": 3})
    assert best_state() is None


def test_a_ctrl_c_while_an_epochs_files_are_written_comes_after_both(tmp_path):
    """The SIGINT arrives during the block that writes model.npz and last.npz: both are
    written, then the KeyboardInterrupt is raised; the handler is Python's again after."""
    import os
    import signal

    from nongate_np.training import checkpoints
    written = []
    with pytest.raises(KeyboardInterrupt):
        with checkpoints._interrupt_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            written.append("model.npz")
            written.append("last.npz")
    assert written == ["model.npz", "last.npz"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupted_train_says_where_its_epochs_are_and_how_to_go_on(tmp_path):
    """Ctrl-C (SIGINT) in a real process once an epoch's files are written: exit status
    130, and the message names the folder and --resume (it said only "interrupted")."""
    import signal
    import subprocess
    import time

    from tests.cli_runs import command, process_env
    out = tmp_path / "run"
    proc = subprocess.Popen(command("train", "ts", GUNPOINT_TRAIN, "--hidden-size", "4",
                                    "--epochs", "100000", "--quiet", "--out", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=process_env())
    try:
        deadline = time.monotonic() + 120
        while not (out / "last.npz").exists() and time.monotonic() < deadline \
                and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == (f"nongate-np train: interrupted; the finished epochs are in {out} "
                           f"(last.npz): run the same command with --resume to go on from "
                           f"there"), err
    assert ng.load(out / "last.npz").extra["history"][-1]["epoch"] >= 1


def test_a_regression_target_in_other_units_trains_as_the_same_target(tmp_path):
    """Regression targets are standardised with the training split's statistics, kept in
    the model: a target in kWh (thousands) trains as the same target near 1 does, and
    predictions come back in kWh. Unstandardised, its squared error (millions) swamped the
    class task's loss and the head's outputs stayed near 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 6, 2))
    level = x.mean(axis=(1, 2))
    runs = {}
    for name, scale, offset in (("unit", 1.0, 0.0), ("kwh", 5000.0, 8000.0)):
        path = tmp_path / f"{name}.npz"
        np.savez(path, X=x, y_kind=(level > 0).astype(int), y_level=level * scale + offset)
        train(tmp_path / name, "npz", path, "--epochs", "3", "--hidden-size", "4",
              "--quiet")
        model = ng.load(tmp_path / name / "model.npz").model
        runs[name] = predict(model, x)
    np.testing.assert_array_equal(runs["kwh"]["kind"], runs["unit"]["kind"])
    # float32 rounding of the two scales only
    np.testing.assert_allclose((runs["kwh"]["level"] - 8000.0) / 5000.0, runs["unit"]["level"],
                               rtol=1e-3, atol=1e-4, err_msg="level, in kWh / 5000")


def test_a_constant_regression_target_is_centred_not_scaled(tmp_path):
    """A target that is the same in every training row (0.1 here) got its computed std, a
    rounding residue of 1.4e-17, as its scale: its loss was ((y - 0.1) / 1.4e-17)^2, 1e16
    from the first epoch, and swamped the class task's. As a constant feature, it is
    centred with std 1."""
    x = np.random.default_rng(0).standard_normal((25, 6, 2))
    path = tmp_path / "c.npz"
    np.savez(path, X=x, y_kind=(x.mean(axis=(1, 2)) > 0).astype(int),
             y_level=np.full(25, 0.1))
    train(tmp_path / "run", "npz", path, "--epochs", "1", "--hidden-size", "4", "--quiet")
    model = ng.load(tmp_path / "run" / "model.npz").model
    np.testing.assert_array_equal(model.target_std, [1.0], err_msg="target_std")
    np.testing.assert_allclose(model.target_mean, [0.1], rtol=1e-6, err_msg="target_mean")
    row = read_metrics(tmp_path / "run")[0]
    assert row["train/level/loss"] < 10 and row["val/loss"] < 10, row



def test_resume_with_other_max_chunks_names_it_and_an_older_run_resumes(text_run, tmp_path):
    """The text job records --max-chunks, which changes its training data: resuming with
    another is refused naming it (it trained on silently); a run from before it was
    recorded resumes as it did."""
    out, _ = text_run
    options = [o if o != "30" else "31" for o in TINY_TEXT]
    code, printed, err = run_cli("train", *options, "--epochs", "3", "--resume", "--out", out)
    assert code == 2, (printed, err)
    assert "(--max-chunks: 30 at the start, 31 now)" in err, err
    older = tmp_path / "older"
    shutil.copytree(out, older)
    ckpt = ng.load(older / "last.npz")
    extra = {**ckpt.extra, "data": {k: v for k, v in ckpt.extra["data"].items()
                                    if k != "max_chunks"}}
    ng.save(ckpt.model, older / "last.npz", optimizer=ckpt.optimizer, extra=extra)
    train(older, *TINY_TEXT, "--epochs", "3", "--resume")
    assert [row["epoch"] for row in read_metrics(older)] == [1, 2, 3]

def _as_before_target_statistics(last: pathlib.Path) -> None:
    """Rewrite a run's last.npz as a version before standardised targets wrote it: the
    model's config without normalize_targets, its state without the statistics."""
    ckpt = ng.load(last)
    config = {k: v for k, v in ckpt.model.config().items() if k != "normalize_targets"}
    old = type(ckpt.model)(**config)
    old.load_state_dict({k: v for k, v in ckpt.state_dict.items()
                         if not k.startswith("target_")})
    optimizer = type(ckpt.optimizer)(old.parameters())
    optimizer.load_state_dict(ckpt.optimizer.state_dict())
    ng.save(old, last, optimizer=optimizer, extra=ckpt.extra)


def test_a_run_whose_targets_were_not_standardised_resumes_without(tmp_path):
    """A run from before targets were standardised (its last.npz has no statistics) goes on
    as it began, not with 'missing keys: target_mean, target_std'."""
    x = np.random.default_rng(0).standard_normal((8, 4, 2))
    path = tmp_path / "d.npz"
    np.savez(path, X=x, y_level=x.mean(axis=(1, 2)))
    train(tmp_path / "run", "npz", path, "--epochs", "1", "--hidden-size", "4", "--quiet")
    _as_before_target_statistics(tmp_path / "run" / "last.npz")
    train(tmp_path / "run", "npz", path, "--epochs", "2", "--hidden-size", "4", "--quiet",
          "--resume")
    assert [row["epoch"] for row in read_metrics(tmp_path / "run")] == [1, 2]
    assert not ng.load(tmp_path / "run" / "model.npz").model._config["normalize_targets"]


def test_train_file_takes_task_kinds_none_as_the_loaders_do(tmp_path):
    """``loader_options={"task_kinds": None}`` (what load_npz and read_as_trained take for
    "from the dtype") trains; it was a bare TypeError ('NoneType' is not iterable)."""
    from nongate_np.training.jobs import TrainOptions, train_file
    x = np.random.default_rng(0).standard_normal((8, 4, 2))
    path = tmp_path / "d.npz"
    np.savez(path, X=x, y_level=x.mean(axis=(1, 2)))
    opts = TrainOptions(out=str(tmp_path / "run"), epochs=1, hidden_size=4, quiet=True)
    summary = train_file("npz", path, opts, loader_options={"task_kinds": None})
    assert summary["epochs_run"] == 1
    assert (tmp_path / "run" / "model.npz").is_file()


def test_a_resume_error_shows_one_class_as_one():
    from nongate_np.training.jobs import _shown_task
    assert _shown_task({"name": "a", "kind": "classification", "classes": ["0"]}) == \
        "a (classification, 1 class: 0)"


def test_lr_schedule_plateau_halves_the_rate_and_a_resumed_run_goes_on_with_it(tmp_path):
    """--lr-schedule plateau halves the rate after half of --patience epochs without a
    better validation loss; a run stopped inside the plateau and resumed gives the same
    rates, weights and optimiser state as the run never stopped (the schedule's counters
    are in last.npz)."""
    options = ["ts", GUNPOINT_TRAIN, "--hidden-size", "8", "--batch-size", "16", "--lr",
               "0.05", "--patience", "4", "--lr-schedule", "plateau", "--quiet"]
    train(tmp_path / "whole", *options, "--epochs", "7")
    rows = read_metrics(tmp_path / "whole")
    best, bad, rates = float("inf"), 0, [0.05]
    for row in rows[:-1]:                       # the rates the rule gives, epoch by epoch
        better = row["val/loss"] < best * (1 - 1e-4)        # torch's relative threshold
        bad = 0 if better else bad + 1
        best = row["val/loss"] if better else best
        rates.append(rates[-1] / 2 if bad == 2 else rates[-1])
        bad = 0 if bad == 2 else bad
    assert [r["lr"] for r in rows] == rates and rates[-1] < 0.05, rows
    train(tmp_path / "parts", *options, "--epochs", "5")
    train(tmp_path / "parts", *options, "--epochs", "7", "--resume")
    _assert_same_run(tmp_path / "whole", tmp_path / "parts")


def test_lr_schedule_resumes_only_as_the_run_began_and_needs_a_validation_split(tmp_path):
    options = ["ts", TINY_TS, "--hidden-size", "4", "--quiet"]
    code, _, err = run_cli("train", *options, "--lr-schedule", "plateau", "--out", tmp_path)
    assert code == 2 and "--lr-schedule plateau follows the validation loss, and this " \
                          "data gives no validation split" in err, err
    train(tmp_path, *options, "--epochs", "1")
    ckpt = ng.load(tmp_path / "last.npz")
    assert ckpt.extra["options"]["lr_schedule"] == "constant"
    code, _, err = run_cli("train", *options, "--epochs", "2", "--resume", "--lr-schedule",
                           "plateau", "--out", tmp_path)
    assert code == 2 and f"--resume: the run in {tmp_path} used --lr-schedule constant, " \
                         "not plateau" in err, err
    plateau = ["ts", GUNPOINT_TRAIN, "--hidden-size", "4", "--quiet", "--lr-schedule",
               "plateau", "--out", tmp_path / "plateau"]
    code, _, err = run_cli("train", *plateau, "--epochs", "1", "--patience", "4")
    assert code == 0, err
    code, _, err = run_cli("train", *plateau, "--epochs", "2", "--patience", "6", "--resume")
    assert code == 2 and "used --patience 4 with --lr-schedule plateau, whose wait follows " \
                         "it; resume with --patience 4" in err, err
    # a run from before --lr-schedule was recorded had a constant rate, and resumes so
    options_then = {k: v for k, v in ckpt.extra["options"].items() if k != "lr_schedule"}
    ng.save(ckpt.model, tmp_path / "last.npz", optimizer=ckpt.optimizer,
            extra={**ckpt.extra, "options": options_then})
    train(tmp_path, *options, "--epochs", "2", "--resume")
    assert [row["epoch"] for row in read_metrics(tmp_path)] == [1, 2]


def test_train_into_a_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    """A second train into the same --out replaced the first run's model, checkpoint and
    metrics without a word (a typo'd command lost a long run); now it stops before
    training, naming the run and the three ways on, and --overwrite replaces every file
    of the earlier run (none left beside the new one's)."""
    options = ["ts", TINY_TS, "--hidden-size", "4", "--quiet"]
    train(tmp_path, *options, "--epochs", "2")
    (tmp_path / "attention_gone.png").write_bytes(b"an earlier run's picture")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = run_cli("train", *options, "--epochs", "1", "--out", tmp_path)
    assert code == 2, err
    assert f"--out {tmp_path} holds an earlier run (model.npz, last.npz, metrics.jsonl, ...," \
           " 2 epoch(s)); --resume continues it, --overwrite replaces it, or give another " \
           "--out" in err, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    code, _, err = run_cli("train", *options, "--resume", "--overwrite", "--out", tmp_path)
    assert code == 2 and "--resume continues the run in --out and --overwrite replaces it" \
                         in err, err
    train(tmp_path, *options, "--epochs", "1", "--overwrite")
    assert [row["epoch"] for row in read_metrics(tmp_path)] == [1]
    assert not (tmp_path / "attention_gone.png").exists()
    assert ng.load(tmp_path / "last.npz").extra["history"][-1]["epoch"] == 1
