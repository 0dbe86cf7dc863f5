"""The data examples run to the end and print figures that mean something:
examples/stdlib_text_attention.py beats both baselines and writes its pictures,
examples/classify_time_series.py beats the majority class and its saved model predicts the
same after loading, examples/retrieval.py retrieves the query's class above chance and its
streamed embedding equals ``encode``. Each is called in-process through its ``main(argv)``
(small settings), and run once as a program for its exit status."""

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from nongate_np.training import plot

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _load(script: str):
    """The example as a module (examples/ is not a package), without running its main."""
    spec = importlib.util.spec_from_file_location(f"example_{script.removesuffix('.py')}",
                                                  EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _printed(pattern: str, out: str) -> list[float]:
    """The numbers the example printed on the line matching ``pattern``."""
    m = re.search(pattern, out)
    assert m, f"no line matching {pattern!r} in:\n{out}"
    return [float(g) for g in m.groups()]


def test_text_example_beats_both_baselines_and_writes_its_pictures(tmp_path, capsys):
    example = _load("stdlib_text_attention.py")
    figures = example.main(["--chunks", "100", "--epochs", "3", "--sample-length", "40",
                            "--quiet", "--out", str(tmp_path)])
    out = capsys.readouterr().out

    assert figures["bits_per_char"] < figures["unigram_bits_per_char"] - 0.5, figures
    assert figures["package_accuracy"] > figures["majority_accuracy"] + 0.05, figures
    bpc, unigram = _printed(r"test bits per character\s+(\S+)\s+\(unigram baseline (\S+)\)",
                            out)
    assert (bpc, unigram) == (round(figures["bits_per_char"], 3),
                              round(figures["unigram_bits_per_char"], 3))
    acc, majority = _printed(r"test package accuracy\s+(\S+)\s+\(majority-class baseline "
                             r"(\S+),", out)
    assert (acc, majority) == (round(figures["package_accuracy"], 3),
                               round(figures["majority_accuracy"], 3))

    sample = figures["sample"]
    assert sample.startswith("def ") and len(sample) == len("def ") + 40
    assert sample in out

    epochs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1)) and epochs
    assert epochs[-1]["train/loss"] < epochs[0]["train/loss"]
    if plot.matplotlib_available():
        for name in ("curves.png", "attention_package.png"):
            png = (tmp_path / name).read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
    else:
        assert "no pictures: matplotlib is not installed" in out


def test_time_series_example_beats_the_majority_and_reloads_the_same_model(tmp_path, capsys):
    example = _load("classify_time_series.py")
    figures = example.main(["--out", str(tmp_path)])            # GunPoint, the defaults
    out = capsys.readouterr().out

    assert figures["accuracy"] > figures["majority_accuracy"] + 0.1, figures
    # 1-NN Euclidean computed by the example equals the archive's published figure
    assert round(figures["nearest_neighbour_accuracy"], 3) == \
        example.PUBLISHED["GunPoint"]["1-NN Euclidean distance"]
    assert re.search(r"1-NN DTW, full window, published +0\.907\n", out), out

    counts = figures["confusion"]
    assert counts.shape == (2, 2) and counts.sum() == 150
    assert counts.sum(axis=1).tolist() == [76, 74]           # the TEST file's classes
    np.testing.assert_allclose(np.trace(counts) / counts.sum(), figures["accuracy"],
                               err_msg="confusion matrix against evaluate's accuracy")
    assert (tmp_path / "model.npz").is_file()
    assert "loaded back, it predicts the same 150 classes" in out


def test_time_series_example_refuses_a_missing_file_in_one_line(tmp_path):
    example = _load("classify_time_series.py")
    with pytest.raises(SystemExit, match=r"^error: .*nothing_TRAIN\.ts: no such file$"):
        example.main([str(tmp_path / "nothing_TRAIN.ts"), "--out", str(tmp_path)])


def test_retrieval_example_finds_the_class_above_chance_and_streams_as_encode(capsys):
    example = _load("retrieval.py")
    # --chunk 7 does not divide the 100 steps: the last chunk is shorter
    figures = example.main(["-k", "5", "--chunk", "7"])
    out = capsys.readouterr().out

    assert figures["chance"] == 0.25                         # four classes of ten each
    assert figures["precision"] > figures["chance"] + 0.4, figures
    assert figures["stream_difference"] < 1e-5, figures
    assert _printed(r"precision@5 (\S+)\s+\(chance (\S+):", out) == [
        round(figures["precision"], 3), 0.25]
    assert len(re.findall(r"^  test +\d+ \(\w+\): (?:\w+ \S+, ){4}\w+ \S+$", out,
                          re.MULTILINE)) == 4


def test_stream_embeddings_handles_sequences_that_end_at_different_steps():
    """The example's chunked feeding, on sequences of lengths 3, 1 and 2 fed one and two
    steps at a time, gives encode's embeddings (an ended sequence passes 0 steps)."""
    from nongate_np.data import load_ts
    from nongate_np.nn import MultiTaskSequenceModel

    example = _load("retrieval.py")
    data = load_ts(ROOT / "tests" / "data" / "tiny_multivariate_unequal.ts")
    model = MultiTaskSequenceModel(data.model_tasks(), input_size=data.feature_size,
                                   dtype=np.float64)
    whole = model.encode(data.x, data.lengths)[:, 0]
    for chunk in (1, 2):
        online = example.stream_embeddings(model, data.x, data.lengths, chunk)
        np.testing.assert_allclose(online, whole, rtol=1e-12, atol=1e-12,
                                   err_msg=f"streamed {chunk} step(s) at a time")


@pytest.mark.parametrize("script", ["stdlib_text_attention.py", "classify_time_series.py",
                                    "retrieval.py", "port_torch_model.py", "custom_op.py",
                                    "torch_lstm_gradients.py"])
def test_example_runs_as_a_program(script, tmp_path):
    """``python examples/X.py --help`` exits 0 with the usage; a bad option exits 2."""
    ok = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"],
                        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("usage:")
    bad = subprocess.run([sys.executable, str(EXAMPLES / script), "--no-such-option"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr


def test_time_series_example_exits_0_as_a_program(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "classify_time_series.py"),
                           "--epochs", "2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "model.npz").is_file() and "loaded back" in proc.stdout


def test_port_example_agrees_with_torch_and_after_loading(tmp_path, capsys):
    """examples/port_torch_model.py: the ported model's logits are PyTorch's, and the same
    (logits and encode) after ng.save / ng.load; its files are kept in --out."""
    pytest.importorskip("torch")
    example = _load("port_torch_model.py")
    assert example.main(["--out", str(tmp_path), "--hidden-size", "5"]) == 0
    out = capsys.readouterr().out
    for check in ("logits, nongate_np against PyTorch", "logits after ng.save / ng.load",
                  "encode() after ng.save / ng.load"):
        assert re.search(re.escape(check) + r" +max abs difference \S+  ok$", out, re.M), out
    assert (tmp_path / "weights.npz").is_file() and (tmp_path / "model.npz").is_file()


def test_port_example_reports_a_mismatch(monkeypatch, capsys):
    """The comparison can fail: logits 1 % off PyTorch's give FAIL and exit status 1."""
    pytest.importorskip("torch")
    example = _load("port_torch_model.py")
    forward = example.SequenceClassifier.forward
    monkeypatch.setattr(example.SequenceClassifier, "forward",
                        lambda self, x, lengths: forward(self, x, lengths) * 1.01)
    assert example.main(["--hidden-size", "5", "--num-layers", "1"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"logits, nongate_np against PyTorch .*FAIL$", out, re.M), out
    assert out.rstrip().endswith("MISMATCH")
