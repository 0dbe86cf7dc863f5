"""Bad options and bad files: exit status 2 and one line on stderr that starts with
``nongate-np`` and says what was wrong, never a traceback; ``train --epochs 0`` is not an
error (it used to write a checkpoint, then crash)."""

import os
import stat

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data.text import stdlib_corpus
from nongate_np.training import evaluate
from tests.cli_runs import (
    BASIC_MOTIONS_TEST,
    GUNPOINT_TEST,
    TINY_TEXT,
    TINY_TS,
    read_json,
    read_metrics,
    run_cli,
    run_process,
    train,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Paths the bad invocations name: a trained ts run, a text model, bad files."""
    folder = tmp_path_factory.mktemp("bad")
    train(folder / "ts_run", "ts", TINY_TS, "--epochs", "1", "--hidden-size", "4", "--quiet")
    train(folder / "text_run", *TINY_TEXT, "--epochs", "0")
    (folder / "notes.txt").write_text("not a time series\n")
    (folder / "notes.ts").write_text("not a time series\n")
    (folder / "unlabelled.csv").write_text("id,x\na,1\na,2\nb,3\n")
    (folder / "a_file").write_text("")
    header = TINY_TS.read_text().split("@data")[0]
    (folder / "bad_value.ts").write_text(header + "@data\n1.0,2.0,oops,4.0:a\n")
    (folder / "two_dims.ts").write_text(header.replace("@univariate true", "@univariate "
                                                       "false\n@dimensions 2")
                                        + "@data\n1,2,3,4:5,6,7,8:a\n")
    good = (folder / "ts_run" / "model.npz").read_bytes()
    (folder / "corrupt.npz").write_bytes(good[:len(good) // 3])
    np.savez(folder / "plain.npz", weights=np.ones(3))
    (folder / "empty").mkdir()
    (folder / "shelf.npy").mkdir()
    x = np.arange(24.0).reshape(4, 3, 2)
    np.savez(folder / "float_target.npz", X=x, y_v=np.array([0.5, 1.5, 2.5, 3.5]))
    np.savez(folder / "int_target.npz", X=x, y_v=np.array([0, 1, 2, 3]))
    np.savez(folder / "wide_target.npz", X=x, y_v=np.arange(8.0).reshape(4, 2))
    np.savez(folder / "renamed_target.npz", X=x, y_w=np.array([0.5, 1.5, 2.5, 3.5]))
    return folder


TS_MODEL, TEXT_MODEL = "{ts_run}/model.npz", "{text_run}/model.npz"
T = str(TINY_TS)

# (arguments, a phrase the message must hold); "{x}" names a path in the fixture's folder
CASES = {
    "no command": ([], "required: COMMAND"),
    "unknown command": (["fly"], "invalid choice: 'fly'"),
    "unknown option": (["train", "--no-such-option"], "unrecognized arguments"),
    "unknown kind": (["train", "tsv"], "invalid choice: 'tsv'"),
    "missing file": (["train", "ts"], "train ts needs a FILE"),
    "nonexistent file": (["train", "ts", "{bad}/nope.ts"], "no such file"),
    "nonexistent test file": (["train", "ts", T, "--test", "{bad}/nope.ts"], "no such file"),
    "text file to train ts": (["train", "ts", "{notes.txt}"], "train ts reads .ts files"),
    "text in a .ts file": (["train", "ts", "{notes.ts}"], "line 1"),
    "csv file to train npz": (["train", "npz", "{unlabelled.csv}"],
                              "for that file use train csv"),
    "file to train text": (["train", "text", T], "train text takes no file"),
    "no labels": (["train", "csv", "{unlabelled.csv}"], "no labels to learn"),
    "unknown label column": (["train", "csv", "{unlabelled.csv}", "--label-cols", "y"],
                             "no label column 'y'"),
    "bad value": (["train", "ts", "{bad_value.ts}"], "oops"),
    # text took them and trained without them
    "csv option with text": (["train", *TINY_TEXT, "--epochs", "0", "--label-cols", "y",
                              "--out", "{bad}/not_started"],
                             "--label-cols applies to train csv only"),
    "npz option with text": (["train", *TINY_TEXT, "--epochs", "0", "--task-kinds",
                              "y:regression", "--out", "{bad}/not_started"],
                             "--task-kinds applies to train npz only"),
    "csv option with ts": (["train", "ts", T, "--order-col", "t"], "--order-col applies to "
                                                                   "train csv only"),
    "unknown package": (["train", "--packages", "json,no_such_package"], "no_such_package"),
    "epochs -1": (["train", "ts", T, "--epochs", "-1"], "--epochs: expected an int >= 0"),
    "lr abc": (["train", "ts", T, "--lr", "abc"], "--lr: expected a float, got 'abc'"),
    "lr nan": (["train", "ts", T, "--lr", "nan"], "--lr: expected a finite number > 0, got nan"),
    "lr inf": (["train", "ts", T, "--lr", "inf"], "--lr: expected a finite number > 0, got inf"),
    "unknown train option": (["train", "--bad"], "nongate-np train: error: unrecognized "
                                                 "arguments: --bad (see nongate-np train "
                                                 "--help)"),
    "unknown gradcheck option": (["gradcheck", "--bad", "x"], "nongate-np gradcheck: error: "
                                                              "unrecognized arguments: --bad "
                                                              "x (see nongate-np gradcheck "
                                                              "--help)"),
    "hidden size 0": (["train", "ts", T, "--hidden-size", "0"],
                      "--hidden-size: expected an integer > 0, got 0"),
    "unknown attention": (["train", "ts", T, "--attention", "dot"], "invalid choice: 'dot'"),
    "out is a file": (["train", "ts", T, "--out", "{a_file}"], "a file is there"),
    "resume with no run": (["train", "ts", T, "--resume", "--out", "{empty}"],
                           "no earlier run"),
    "resume other size": (["train", "ts", T, "--resume", "--epochs", "2", "--hidden-size",
                           "5", "--out", "{ts_run}"], "--hidden-size 4, not 5"),
    "resume other data": (["train", "ts", str(GUNPOINT_TEST), "--resume", "--epochs", "2",
                           "--hidden-size", "4", "--out", "{ts_run}"],
                          "other data or data options (training file: 'tiny_univariate.ts' "
                          "at the start, 'GunPoint_TEST.ts' now; tasks: "),
    # found before the first epoch (it was found after the run, its test metrics lost)
    "test file of other width": (["train", "ts", T, "--test", "{two_dims.ts}", "--out",
                                  "{bad}/not_started"],
                                 "{two_dims.ts}: 2 feature(s) per step, but the training "
                                 "file"),
    "test task of another kind": (["train", "npz", "{float_target.npz}", "--test",
                                   "{int_target.npz}", "--out", "{bad}/not_started"],
                                  "task 'v' is read as classification, but the training "
                                  "file {float_target.npz} has it as regression; --test "
                                  "needs its targets of the same kind (.npz: --task-kinds "
                                  "v:regression reads both so)"),
    "test regression of another width": (["train", "npz", "{float_target.npz}", "--test",
                                          "{wide_target.npz}", "--out", "{bad}/not_started"],
                                         "task 'v' has 2 value(s) per sequence, but the "
                                         "training file {float_target.npz} has 1"),
    "task kinds misspelt": (["train", "npz", "{int_target.npz}", "--task-kinds",
                             "v:regresion"],
                            "'v:regresion': the kind after ':' must be one of"),
    "task kinds without a kind": (["train", "npz", "{int_target.npz}", "--task-kinds", "v"],
                                  "expected NAME:KIND for each task"),
    "task kinds without a name": (["train", "npz", "{int_target.npz}", "--task-kinds",
                                   ":regression"], "expected NAME:KIND for each task"),
    # refused when parsed, as --task-kinds (load_csv ended in "no label column ''")
    "label cols without a name": (["train", "csv", "{unlabelled.csv}", "--label-cols",
                                   "x,:regression"],
                                  "argument --label-cols: expected NAME or NAME:KIND for each "
                                  "label column, KIND one of classification, regression, "
                                  "tagging (e.g. label,energy:regression), got 'x,:regression'"),
    # read as a classification: a kind left out after its ':'
    "label cols with no kind after ':'": (["train", "csv", "{unlabelled.csv}", "--label-cols",
                                           "x:"], "'x:': the kind after ':' must be one of"),
    "task kinds of no task": (["train", "npz", "{int_target.npz}", "--task-kinds",
                               "w:regression"],
                              "task_kinds (--task-kinds) names ['w'], but the file's tasks "
                              "are ['v']"),
    "float targets as classes": (["train", "npz", "{float_target.npz}", "--task-kinds",
                                  "v:classification"],
                                 "array 'y_v': declared classification"),
    "task kinds with ts": (["train", "ts", T, "--task-kinds", "v:regression"],
                           "--task-kinds applies to train npz only"),
    # it trained, then scored nothing: summary.json's test {"loss": 0.0} and a warning
    "test task the training file lacks": (["train", "npz", "{float_target.npz}", "--test",
                                           "{renamed_target.npz}", "--out",
                                           "{bad}/not_started"],
                                          "{renamed_target.npz}: task 'w' is not one of the "
                                          "training file's tasks ['v']"),
    "nonexistent checkpoint": (["predict", "{bad}/nope.npz", T], "no such checkpoint"),
    # a run's --out folder given as the checkpoint: it read "no such checkpoint"
    "run folder as checkpoint": (["predict", "{ts_run}", T],
                                 "{ts_run} is a folder, not a checkpoint; its model is "
                                 "{ts_run}/model.npz"),
    "folder as checkpoint": (["encode", "{empty}", T, "--out", "{bad}/e.npy"],
                             "{empty} is a folder, not a checkpoint; give the model.npz"),
    "folder as input": (["predict", TS_MODEL, "{empty}"],
                        "{empty} is a folder; the model reads one .ts file"),
    "corrupt checkpoint": (["predict", "{corrupt.npz}", T], "damaged"),
    "not a checkpoint": (["predict", "{plain.npz}", T], "not a nongate_np checkpoint"),
    "input of another kind": (["predict", TS_MODEL, "{unlabelled.csv}"], "reads .ts files"),
    "input of other width": (["encode", TS_MODEL, "{two_dims.ts}", "--out", "{bad}/e.npy"],
                             "2 feature(s) per step, but the model was trained on 1"),
    # an encode needs no labels: the width is named, not the model's unknown classes
    "input of other width and classes": (["encode", TS_MODEL, str(BASIC_MOTIONS_TEST),
                                          "--out", "{bad}/e.npy"],
                                         "6 feature(s) per step, but the model was "
                                         "trained on 1"),
    "nonexistent input": (["predict", TS_MODEL, "{bad}/nope.ts"], "no such file"),
    "encode without --out": (["encode", TS_MODEL, T], "required: --out"),
    "encode --out under a file": (["encode", TS_MODEL, T, "--out", "{notes.txt}/e.npy"],
                                  "--out {notes.txt}/e.npy: cannot write it"),
    # np.save wrote {empty}.npy beside the folder, and said it wrote {empty}
    # [Errno 2] No such file or directory: '.../e', not naming --out
    "train --out under a file": (["train", "ts", T, "--epochs", "1", "--hidden-size", "4",
                                  "--out", "{a_file}/run"],
                                 "--out {a_file}/run: cannot make the run's folder"),
    "encode --out a folder": (["encode", TS_MODEL, T, "--out", "{empty}"],
                              "--out {empty}: a folder is there"),
    # the whole input was encoded first, then replacing() found them
    "encode --out OUT, OUT.npy a folder": (["encode", TS_MODEL, T, "--out", "{bad}/shelf"],
                                           "{shelf.npy} is a folder"),
    # found before the prediction (it was found when writing, after the whole prediction)
    "predict --out a folder": (["predict", TS_MODEL, T, "--out", "{empty}"],
                               "--out {empty}: a folder is there; expected the name of a CSV "
                               "file"),
    "sample a ts model": (["sample", TS_MODEL], "not text"),
    # predict and encode read a csv INPUT with it; other files have no separator
    "delimiter with ts input": (["predict", TS_MODEL, T, "--delimiter", ";"],
                                "--delimiter applies to csv input only; {ts_run}/model.npz "
                                "reads .ts files"),
    "delimiter with text input": (["encode", TEXT_MODEL, "{notes.txt}", "--delimiter", ";",
                                   "--out", "{bad}/e.npy"],
                                  "--delimiter applies to csv input only; "
                                  "{text_run}/model.npz reads text"),
    "delimiter of two characters": (["predict", TS_MODEL, T, "--delimiter", ";;"],
                                    "argument --delimiter: expected one character (\\t: a "
                                    "tab), got ';;'"),
    "sample temperature 0": (["sample", TEXT_MODEL, "--temperature", "0"],
                             "--temperature: expected a finite number > 0"),
    "resume to fewer epochs": (["train", "ts", T, "--resume", "--epochs", "1", "--hidden-size",
                                "4", "--out", "{ts_run}"], "give --epochs above"),
    "text model, ts input": (["predict", TEXT_MODEL, T], "trained on text"),
    "id column with ts": (["train", "ts", T, "--id-col", "sid"],
                           "--id-col applies to train csv"),
    "data file as checkpoint": (["predict", T, T], "neither an .npz archive nor"),
    "text option with ts": (["train", "ts", T, "--chunk-len", "8"], "applies to train text"),
    "no op matches": (["gradcheck", "--op", "no_such_op"], "no op matches"),
    "sample empty prompt": (["sample", TEXT_MODEL, "--prompt", ""], "at least one character"),
    "bench unknown config": (["bench", "--configs", "XL9"], "XL9"),
}


def _fill(args, folder):
    """``{name}`` replaced by that path of the fixture's folder (``{bad}``: the folder)."""
    paths = {"bad": folder, **{p.name: p for p in folder.iterdir()}}
    out = []
    for arg in args:
        for name, path in paths.items():
            arg = arg.replace("{" + name + "}", str(path))
        out.append(arg)
    return out


def _assert_one_line_error(code, out, err, phrase):
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nongate-np"), lines[0]
    assert "error:" in lines[0] and phrase in lines[0], lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_invocation_is_one_line_and_exit_status_2(case, files, monkeypatch):
    monkeypatch.chdir(files)              # a run that wrongly starts writes runs/ there
    args, phrase = CASES[case]
    code, out, err = run_cli(*_fill(args, files))
    _assert_one_line_error(code, out, err, _fill([phrase], files)[0])


@pytest.mark.parametrize("case", ["nonexistent file", "corrupt checkpoint", "lr abc"])
def test_the_real_entry_point_prints_no_traceback(case, files):
    args, phrase = CASES[case]
    proc = run_process(*_fill(args, files), console_script=False)
    _assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, phrase)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_encode_does_not_replace_a_fifo(files, tmp_path):
    """A FIFO as --out: one line (replacing() raised a ValueError, a traceback), and the
    FIFO is still there."""
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    code, out, err = run_cli(*_fill(["encode", TS_MODEL, T, "--out", str(fifo)], files))
    _assert_one_line_error(code, out, err, f"{fifo} is not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_failed_resume_leaves_the_earlier_run_as_it_was(files):
    before = {p.name: p.read_bytes() for p in (files / "ts_run").iterdir()}
    code, *_ = run_cli(*_fill(CASES["resume other size"][0], files))
    assert code == 2
    assert {p.name: p.read_bytes() for p in (files / "ts_run").iterdir()} == before


@pytest.mark.parametrize("case", ["test file of other width", "test task of another kind",
                                  "test regression of another width",
                                  "test task the training file lacks"])
def test_a_test_file_the_model_cannot_read_stops_the_run_before_it_starts(files, case):
    code, *_ = run_cli(*_fill(CASES[case][0], files))
    assert code == 2
    assert not (files / "not_started").exists()


def test_train_zero_epochs_leaves_a_loadable_model_and_a_summary(files):
    out = files / "text_run"
    summary = read_json(out / "summary.json")
    assert summary["epochs_run"] == 0 and summary["best_epoch"] is None
    assert read_metrics(out) == []
    model = ng.load(out / "model.npz").model
    corpus = stdlib_corpus(("json", "email"), chunk_len=32, max_chunks_per_package=30, seed=0)
    metrics = evaluate(model, corpus.test)
    assert summary["test"]["package"]["accuracy"] == metrics["package/accuracy"]
    assert summary["test"]["next_char"]["loss"] == metrics["next_char/loss"]
    # nothing was trained, so there is nothing to resume
    code, out_, err = run_cli("train", *TINY_TEXT, "--resume", "--epochs", "1", "--out", out)
    _assert_one_line_error(code, out_, err, "no earlier run")
