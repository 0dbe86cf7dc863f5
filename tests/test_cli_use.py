"""``nongate-np predict | encode | sample | info | bench`` on models trained here on tiny
settings: each prints or writes what the Python API gives for the same checkpoint, and the
installed console script runs them in a fresh process."""

import json
import os
import re
import subprocess

import numpy as np
import pytest

import nongate_np as ng
from nongate_np.data import load_npz, load_ts
from nongate_np.data.text import CharVocab, stdlib_root, text_files
from nongate_np.training import evaluate, predict, sample_text
from tests.cli_runs import (
    GUNPOINT_TEST,
    GUNPOINT_TRAIN,
    TINY_TEXT,
    command,
    process_env,
    read_json,
    run_cli,
    run_process,
    train,
)

TEXT_FILE = stdlib_root() / "json" / "scanner.py"


@pytest.fixture(scope="module")
def ts_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gunpoint")
    train(out, "ts", GUNPOINT_TRAIN, "--test", GUNPOINT_TEST, "--epochs", "2",
          "--hidden-size", "8", "--quiet")
    return out


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text")
    train(out, *TINY_TEXT, "--epochs", "1")
    return out


def _gunpoint_test(ckpt):
    """The test file read as the model's training data was (its classes)."""
    return load_ts(GUNPOINT_TEST, classes={"label": ckpt.extra["data"]["tasks"][0]["classes"]})


def _expected_rows(ckpt) -> list[list[str]]:
    data = _gunpoint_test(ckpt)
    want = predict(ckpt.model, data)
    classes = ckpt.extra["data"]["tasks"][0]["classes"]
    probs = want["probabilities"]["label"][np.arange(len(data)), want["label"]]
    return [[str(i), classes[k], f"{p:.6g}"] for i, (k, p) in enumerate(zip(want["label"],
                                                                           probs))]


# -- predict ----------------------------------------------------------------------------------
def test_predict_prints_the_models_predictions_and_the_summarys_accuracy(ts_run):
    code, out, err = run_cli("predict", ts_run / "model.npz", GUNPOINT_TEST)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0] == ["id", "label", "label_probability"]
    ckpt = ng.load(ts_run / "model.npz")
    assert rows[1:] == _expected_rows(ckpt)
    accuracy = read_json(ts_run / "summary.json")["test"]["label"]["accuracy"]
    assert err.strip() == f"label: accuracy {accuracy:.4f} on 150 labelled sequences"


def test_predict_out_writes_the_same_rows_as_a_csv(ts_run, tmp_path):
    code, out, err = run_cli("predict", ts_run / "model.npz", GUNPOINT_TEST, "--out",
                             tmp_path / "pred.csv")
    assert code == 0, err
    assert out.strip() == f"{tmp_path / 'pred.csv'}: 150 predictions"
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "id,label,label_probability"
    want = _expected_rows(ng.load(ts_run / "model.npz"))
    assert [line.split(",") for line in lines[1:]] == want


def test_predict_a_file_with_a_class_the_model_never_saw(ts_run, tmp_path):
    """A label outside the model's classes: every sequence is still predicted, and a note
    says why no accuracy is given (the whole file was refused)."""
    lines = GUNPOINT_TEST.read_text().splitlines()
    lines = ["@classLabel true 1 2 3" if line.startswith("@classLabel") else line
             for line in lines]
    first = lines.index("@data") + 1
    lines[first] = lines[first].rsplit(":", 1)[0] + ":3"
    path = tmp_path / "new_class.ts"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli("predict", ts_run / "model.npz", path)
    assert code == 0, err
    assert [line.split("\t") for line in out.splitlines()][1:] == \
        _expected_rows(ng.load(ts_run / "model.npz"))
    assert re.fullmatch(r"note: .*new_class.ts.*: label '3' is not one of the 2 classes .*; "
                        r"predicted without scoring the labels", err.strip()), err


def test_predict_an_npz_file_with_a_class_the_model_never_saw(tmp_path):
    """As for a .ts file: an .npz whose y_ array holds a class the model never saw is
    predicted whole with the note (it ended in "label '5' is not one of the 2 classes")."""
    x = np.random.default_rng(0).standard_normal((8, 4, 2))
    np.savez(tmp_path / "train.npz", X=x, y_label=(x.mean(axis=(1, 2)) > 0).astype(int))
    np.savez(tmp_path / "new.npz", X=x[:3], y_label=np.array([0, 5, 1]))
    train(tmp_path / "run", "npz", tmp_path / "train.npz", "--epochs", "1", "--hidden-size",
          "4", "--quiet")
    code, out, err = run_cli("predict", tmp_path / "run" / "model.npz", tmp_path / "new.npz")
    assert code == 0, err
    model = ng.load(tmp_path / "run" / "model.npz").model
    assert [line.split("\t")[1] for line in out.splitlines()[1:]] == \
        [str(k) for k in predict(model, x[:3])["label"]]
    assert re.fullmatch(r"note: .*new.npz, array 'y_label', sequence 1: label '5' is not "
                        r"one of the 2 classes .*; predicted without scoring the labels",
                        err.strip()), err


def test_predict_notes_the_tasks_the_model_does_not_have(tmp_path, recwarn):
    """An .npz with a task the model does not have (a renamed y_ array) is predicted with a
    one-line note naming it and the model's tasks, and its own tasks scored as without it
    (it printed evaluate's UserWarning and the source line that raised it)."""
    x = np.random.default_rng(0).standard_normal((8, 4, 2))
    np.savez(tmp_path / "train.npz", X=x, y_year=2000 + np.arange(8) % 2)
    np.savez(tmp_path / "other.npz", X=x[:3], y_other=np.arange(3))
    np.savez(tmp_path / "both.npz", X=x[:3], y_year=np.array([2000, 2001, 2000]),
             y_other=np.arange(3))
    train(tmp_path / "run", "npz", tmp_path / "train.npz", "--epochs", "1", "--hidden-size",
          "4", "--quiet")
    note = ("note: {}: task 'other' is not one of the model's tasks ['year']; predicted "
            "without scoring it")
    code, out, err = run_cli("predict", tmp_path / "run" / "model.npz", tmp_path / "other.npz")
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 3, out
    assert err.splitlines() == [note.format(tmp_path / "other.npz")]
    code, _, err = run_cli("predict", tmp_path / "run" / "model.npz", tmp_path / "both.npz")
    assert code == 0, err
    ckpt = ng.load(tmp_path / "run" / "model.npz")
    data = load_npz(tmp_path / "both.npz",
                    classes={"year": ckpt.extra["data"]["tasks"][0]["classes"]})
    accuracy = np.mean(predict(ckpt.model, data)["year"] == data.targets["year"])
    assert err.splitlines() == [note.format(tmp_path / "both.npz"),
                                f"year: accuracy {accuracy:.4f} on 3 labelled sequences"]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)], \
        [str(w.message) for w in recwarn]


def test_predict_scores_a_regression_task_as_train_does(tmp_path):
    """A labelled file with a regression task: its mean absolute error on stderr beside the
    accuracy (it printed the accuracy only), each as evaluate gives it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 5, 2))
    path = tmp_path / "both.npz"
    np.savez(path, X=x, y_kind=np.arange(12) % 2, y_level=x.mean(axis=(1, 2)))
    train(tmp_path / "run", "npz", path, "--epochs", "1", "--hidden-size", "4", "--quiet")
    code, _, err = run_cli("predict", tmp_path / "run" / "model.npz", path)
    assert code == 0, err
    ckpt = ng.load(tmp_path / "run" / "model.npz")
    data = load_npz(path, classes={"kind": ckpt.extra["data"]["tasks"][0]["classes"]})
    metrics = evaluate(ckpt.model.eval(), data)
    assert err.splitlines() == [
        f"kind: accuracy {metrics['kind/accuracy']:.4f} on 12 labelled sequences",
        f"level: mae {metrics['level/mae']:.4f} on 12 labelled sequences"]


def test_the_console_script_predicts_in_a_fresh_process(ts_run):
    proc = run_process("predict", ts_run / "model.npz", GUNPOINT_TEST)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows[1:] == _expected_rows(ng.load(ts_run / "model.npz"))


def test_predict_into_a_reader_that_stops_early_ends_quietly(text_run):
    # thousands of rows, far more than a pipe holds: the writes after close() fail
    args = command("predict", text_run / "model.npz", stdlib_root() / "email")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=process_env())
    first = proc.stdout.readline()
    proc.stdout.close()                  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=180) == 141, err
    assert first == "id\tpackage\tpackage_probability\n"
    assert err == ""


# -- encode -----------------------------------------------------------------------------------
def test_encode_ts_equals_the_models_encoding_of_the_raw_series(ts_run, tmp_path):
    code, out, err = run_cli("encode", ts_run / "model.npz", GUNPOINT_TEST, "--out",
                             tmp_path / "emb.npy")
    assert code == 0, err
    emb = np.load(tmp_path / "emb.npy")
    model = ng.load(ts_run / "model.npz").model
    assert emb.shape == (150, 1, 8) and emb.dtype == np.float32
    data = load_ts(GUNPOINT_TEST)
    # raw features: the model standardises them with the training statistics it saved
    want = model.encode(data.x, data.lengths)
    np.testing.assert_array_equal(emb, want)
    assert np.any(model.input_mean != 0) and np.any(model.input_std != 1)
    assert out.strip() == (f"{tmp_path / 'emb.npy'}: 150 sequences x 1 task(s) (label) x 8 "
                           "values, float32")


def test_encode_names_the_file_it_writes_and_overwrites_an_older_one(ts_run, tmp_path):
    """--out without .npy: the file written is OUT.npy, as np.load reads it, and the message
    names it (it named OUT, which did not exist); an older file there is refused, then
    replaced with --overwrite (it was replaced without a word)."""
    older = b"an older, longer file" * 1000
    (tmp_path / "emb.npy").write_bytes(older)
    code, out, err = run_cli("encode", ts_run / "model.npz", GUNPOINT_TEST, "--out",
                             tmp_path / "emb")
    assert code == 2 and out == "", (out, err)
    assert err.strip() == (f"nongate-np encode: error: --out {tmp_path / 'emb'}: "
                           f"{tmp_path / 'emb.npy'} exists; give --overwrite to replace it, "
                           f"or another name")
    assert (tmp_path / "emb.npy").read_bytes() == older
    code, out, err = run_cli("encode", ts_run / "model.npz", GUNPOINT_TEST, "--out",
                             tmp_path / "emb", "--overwrite")
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'emb.npy'}: 150 sequences"), out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb.npy"]
    want = ng.load(ts_run / "model.npz").model.encode(*_as_read(GUNPOINT_TEST))
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), want)


def _as_read(path):
    data = load_ts(path)
    return data.x, data.lengths


def test_encode_text_equals_the_models_encoding_of_the_files_chunks(text_run, tmp_path):
    code, _, err = run_cli("encode", text_run / "model.npz", TEXT_FILE, "--out",
                           tmp_path / "emb.npy")
    assert code == 0, err
    ckpt = ng.load(text_run / "model.npz")
    meta = ckpt.extra["data"]
    data = text_files([TEXT_FILE], CharVocab(tuple(meta["chars"])),
                      chunk_len=meta["chunk_len"])
    emb = np.load(tmp_path / "emb.npy")
    assert emb.shape == (len(data), 1, 16)
    np.testing.assert_array_equal(emb, ckpt.model.encode(data.x, data.lengths))


def test_encode_and_predict_make_the_folder_of_their_out_file(ts_run, tmp_path):
    emb, table = tmp_path / "new" / "emb.npy", tmp_path / "also" / "new" / "pred.csv"
    code, _, err = run_cli("encode", ts_run / "model.npz", GUNPOINT_TEST, "--out", emb)
    assert code == 0, err
    assert np.load(emb).shape == (150, 1, 8)
    code, _, err = run_cli("predict", ts_run / "model.npz", GUNPOINT_TEST, "--out", table)
    assert code == 0, err
    assert table.read_text().splitlines()[0] == "id,label,label_probability"


@pytest.mark.parametrize("command, call", [
    ("predict", "from nongate_np.training import predict; predict(ng.load(path).model, x, "
                "lengths)"),
    ("encode", "ng.load(path).model.encode(x, lengths)"),
    ("sample", "from nongate_np.training import sample_text; sample_text(ng.load(path).model, "
               "vocab, prompt)")])
def test_a_model_saved_in_python_points_to_the_commands_python_counterpart(
        ts_run, tmp_path, command, call):
    """A checkpoint that ng.save wrote (no data description): the error names the Python
    call that does what the command does (predict and sample pointed to encode)."""
    ng.save(ng.load(ts_run / "model.npz").model, tmp_path / "api_model.npz")
    args = {"predict": [GUNPOINT_TEST], "encode": [GUNPOINT_TEST, "--out",
                                                   tmp_path / "emb.npy"], "sample": []}
    code, out, err = run_cli(command, tmp_path / "api_model.npz", *args[command])
    assert code == 2 and out == "", (out, err)
    assert err.strip() == (f"nongate-np {command}: error: {tmp_path / 'api_model.npz'} was "
                           f"not written by nongate-np train (it has no data description); "
                           f"use the Python API: {call}")


# -- --out never replaces what the command reads, nor a file without --overwrite -------------
def _refused(args, phrase):
    code, out, err = run_cli(*args)
    assert code == 2 and out == "", (code, out, err)
    assert len(err.splitlines()) == 1 and phrase in err, err


@pytest.mark.parametrize("command", ["predict", "encode"])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_out_is_never_the_input_or_the_checkpoint(ts_run, tmp_path, command, overwrite):
    """--out naming INPUT or the checkpoint, spelt another way, through a symbolic or a
    hard link, is refused with --overwrite too, and both files are left as they were
    (predict replaced them with its CSV; encode wrote model.npz.npy beside the model)."""
    model, data = tmp_path / "m.npz", tmp_path / "t2.ts"
    model.write_bytes((ts_run / "model.npz").read_bytes())
    data.write_bytes(GUNPOINT_TEST.read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.ts").symlink_to(data)
    os.link(model, tmp_path / "hard.npz")
    before = sorted(p.name for p in tmp_path.iterdir())
    for out, what, path in ((data, "INPUT", data), (model, "the checkpoint", model),
                            (tmp_path / "sub" / ".." / "m.npz", "the checkpoint", model),
                            (tmp_path / "link.ts", "INPUT", data),
                            (tmp_path / "hard.npz", "the checkpoint", model)):
        _refused([command, model, data, "--out", out, *overwrite],
                 f"--out {out} is {what} {path}; the output never replaces a file it reads")
    assert model.read_bytes() == (ts_run / "model.npz").read_bytes()
    assert data.read_bytes() == GUNPOINT_TEST.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_encode_out_that_becomes_the_input_is_refused(ts_run, tmp_path):
    """--out X where X.npy, the file written, is INPUT: named as the file it would be."""
    data = tmp_path / "t.npy"
    data.write_bytes(b"INPUT, whatever its suffix")
    _refused(["encode", ts_run / "model.npz", data, "--out", tmp_path / "t", "--overwrite"],
             f"--out {tmp_path / 't'} ({data}) is INPUT {data}")
    assert data.read_bytes() == b"INPUT, whatever its suffix"


def test_predict_out_of_an_existing_file_needs_overwrite(ts_run, tmp_path):
    """An existing PRED.csv is refused, before the checkpoint is read (a damaged one is not
    reported), and left as it was; --overwrite replaces it (it was replaced silently)."""
    pred = tmp_path / "pred.csv"
    pred.write_text("the user's file\n")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes((ts_run / "model.npz").read_bytes()[:100])
    for model in (ts_run / "model.npz", damaged):
        _refused(["predict", model, GUNPOINT_TEST, "--out", pred],
                 f"--out {pred}: {pred} exists; give --overwrite to replace it, or another "
                 f"name")
    assert pred.read_text() == "the user's file\n"
    code, out, err = run_cli("predict", ts_run / "model.npz", GUNPOINT_TEST, "--out", pred,
                             "--overwrite")
    assert code == 0, err
    assert pred.read_text().splitlines()[0] == "id,label,label_probability"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.npz", "pred.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="a POSIX device")
def test_predict_out_into_a_device_is_written_not_replaced(ts_run):
    """/dev/null (as /dev/stdout) is written into: not refused as an existing file, nor
    replaced by a regular file."""
    code, out, err = run_cli("predict", ts_run / "model.npz", GUNPOINT_TEST, "--out",
                             "/dev/null")
    assert code == 0, err
    assert out.strip() == "/dev/null: 150 predictions"
    assert not os.path.isfile("/dev/null")


def test_encode_shards_into_a_folder_of_shards_need_overwrite(ts_run, tmp_path):
    """With Dask, --out DIR holding an earlier encode's shards is refused before anything is
    read (Dask is not needed to see it); a file there is refused as one, not as Dask's
    OSError under --workers."""
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "index.json").write_text("{}")
    (shards / "part-00000.npy").write_bytes(b"old")
    _refused(["encode", ts_run / "model.npz", GUNPOINT_TEST, "--workers", "2", "--out",
              shards], f"--out {shards} holds shards (index.json, part-00000.npy); give "
                       f"--overwrite to replace them, or another folder")
    (tmp_path / "a_file").write_text("the user's file")
    _refused(["encode", ts_run / "model.npz", GUNPOINT_TEST, "--workers", "2", "--out",
              tmp_path / "a_file", "--overwrite"], f"--out {tmp_path / 'a_file'}: a file is "
                                                    f"there; with --workers")
    assert (shards / "part-00000.npy").read_bytes() == b"old"
    assert (tmp_path / "a_file").read_text() == "the user's file"


# -- sample -----------------------------------------------------------------------------------
def test_sample_prints_the_prompt_and_the_models_text(text_run):
    args = ("sample", text_run / "model.npz", "--prompt", "def ", "--length", "60")
    code, out, err = run_cli(*args, "--seed", "3")
    assert code == 0, err
    assert out.startswith("def ") and out.endswith("\n")
    generated = out[len("def "):-1]
    assert len(generated) == 60
    ckpt = ng.load(text_run / "model.npz")
    vocab = CharVocab(tuple(ckpt.extra["data"]["chars"]))
    assert set(generated) <= set(vocab.chars)
    assert generated == sample_text(ckpt.model, vocab, "def ", length=60, temperature=0.7,
                                    seed=3)
    assert run_cli(*args, "--seed", "3")[1] == out
    assert run_cli(*args, "--seed", "4")[1] != out


def test_sample_notes_prompt_characters_the_model_never_saw(text_run):
    code, out, err = run_cli("sample", text_run / "model.npz", "--prompt", "x日本", "--length",
                             "5")
    assert code == 0, err
    assert out.startswith("x日本") and len(out) == len("x日本") + 5 + 1
    assert err == ("note: the prompt's '日', '本' are not in the model's vocabulary: read as "
                   "the unknown character, as rare characters were in training\n")


# -- info and bench ---------------------------------------------------------------------------
def test_info_names_versions_backends_cpu_cache_and_gpu():
    proc = run_process("info")
    assert proc.returncode == 0, proc.stderr
    fields = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert {"nongate_np", "python", "numpy", "numba", "scipy", "backends", "cpu", "threads",
            "gpu"} <= fields
    assert proc.stdout.startswith(f"nongate_np   {ng.__version__}\n")
    assert re.search(r"^numba cache +\S", proc.stdout, re.M)
    assert re.search(r"^backends +numpy, numba", proc.stdout, re.M)


def test_bench_help_lists_the_benchmarks_options():
    code, out, err = run_cli("bench", "--help")
    assert code == 0, err
    for option in ("--quick", "--configs", "--repeats", "--contenders", "--out"):
        assert option in out


def test_bench_quick_runs_through_the_command(tmp_path):
    code, out, err = run_cli("bench", "--quick", "--configs", "S1", "--repeats", "1",
                             "--contenders", "numba", "--out", tmp_path / "bench.json")
    assert code == 0, err
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["quick"] and list(result["configs"]) == ["S1"]
    for key in ("float32/infer", "float32/train"):
        assert result["timings"]["S1"][key]["numba"]["ms"] > 0, key
    assert "| S1 | float32 | infer |" in out
