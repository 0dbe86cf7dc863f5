"""The standard library's text as the main job's data: split by file, chunks, vocabulary,
baselines."""

import math
import pathlib

import numpy as np
import pytest

from nongate_np.data import DataError
from nongate_np.data.text import (
    PAD,
    UNK,
    CharVocab,
    majority_accuracy,
    stdlib_corpus,
    stdlib_root,
    text_files,
    unigram_bits_per_char,
)


@pytest.fixture(scope="module")
def corpus():
    return stdlib_corpus(("json", "email", "http"), chunk_len=32, max_chunks_per_package=40,
                         seed=3)


def test_no_file_feeds_two_splits_and_every_package_is_in_every_split(corpus):
    splits = [set(corpus.files[name]) for name in ("train", "val", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    for name, files in corpus.files.items():
        assert {f.split("/")[0] for f in files} == {"json", "email", "http"}, name
        assert not any("/test/" in f or "/tests/" in f for f in files)
    root = pathlib.Path(corpus.root)
    every = {str(f.relative_to(root)) for p in ("json", "email", "http")
             for f in (root / p).rglob("*.py")
             if not {"test", "tests"} & set(f.relative_to(root / p).parts[:-1])}
    assert splits[0] | splits[1] | splits[2] == every


def test_chunks_are_the_files_text_with_next_character_targets(corpus):
    data = corpus.train
    vocab = corpus.vocab
    texts = {f: (pathlib.Path(corpus.root) / f).read_text(encoding="utf-8", errors="replace")
             for f in corpus.files["train"]}
    assert data.x.shape[1] == 32 and np.all(data.lengths >= 16)
    for i in range(0, len(data), 7):
        n = data.lengths[i]
        text = vocab.decode(data.x[i, :n])
        assert any(text in t for t in texts.values()), i
        # the target at step t is the input at step t + 1
        np.testing.assert_array_equal(data.targets["next_char"][i, :n - 1], data.x[i, 1:n])
        assert np.all(data.targets["next_char"][i, n:] == -100)
    counts = np.bincount(data.targets["package"], minlength=3)
    assert np.all(counts <= 40) and np.all(counts > 0)
    assert data.tasks[1]["classes"] == ["json", "email", "http"]


def test_vocabulary_round_trip_and_unknown_characters():
    vocab = CharVocab.build(["abcab", "b"], min_count=2)
    assert vocab.chars == ("a", "b") and vocab.size == 4
    ids = vocab.encode("abz")
    np.testing.assert_array_equal(ids, [2, 3, UNK])
    assert vocab.decode([PAD, 2, 3, PAD]) == "ab"
    assert vocab.tokens()[:2] == ["", "\ufffd"]
    # predict's tagging ids: -1 past a sequence's length (it read the last character)
    assert vocab.decode(np.array([[2, 3, -1, -1], [3, 2, 2, -1]])) == "abbaa"
    with pytest.raises(ValueError, match=r"id 4 is outside the vocabulary \(ids 0..3; -1 and "
                                         r"0 are padding\)"):
        vocab.decode([2, 4])
    with pytest.raises(ValueError, match=r"id -2 is outside"):
        vocab.decode([-2])


def test_baselines_equal_their_definitions(corpus):
    train, test = corpus.train, corpus.test
    ref = train.targets["next_char"]
    counts = np.bincount(ref[ref >= 0], minlength=corpus.vocab.size) + 1.0
    counts[PAD] = 0
    p = counts / counts.sum()
    t = test.targets["next_char"]
    expected = -sum(math.log2(p[c]) for c in t[t >= 0]) / np.sum(t >= 0)
    assert unigram_bits_per_char(train, test) == pytest.approx(expected, rel=1e-12)
    majority = np.argmax(np.bincount(train.targets["package"]))
    assert majority_accuracy(train, test) == pytest.approx(
        np.mean(test.targets["package"] == majority))


def test_same_seed_same_corpus_other_seed_other_split():
    a = stdlib_corpus(("json", "email"), chunk_len=32, max_chunks_per_package=10, seed=1)
    b = stdlib_corpus(("json", "email"), chunk_len=32, max_chunks_per_package=10, seed=1)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    c = stdlib_corpus(("json", "email"), chunk_len=32, max_chunks_per_package=10, seed=2)
    assert a.files != c.files or not np.array_equal(a.train.x, c.train.x)


def test_text_files_reads_any_text_as_training_chunks(tmp_path, corpus):
    path = tmp_path / "mod.py"
    path.write_text("def f(x):\n    return x + 1\n" * 5)
    data = text_files([path], corpus.vocab, chunk_len=32)
    # 140 characters: windows of 33 start every 32; the last (12 characters) is too short
    assert data.ids[0] == f"{path}:0" and len(data) == 4
    assert corpus.vocab.decode(data.x[0, :data.lengths[0]]) == path.read_text()[:32]
    with pytest.raises(DataError, match="no such file"):
        text_files([tmp_path / "missing.py"], corpus.vocab)
    (tmp_path / "short.py").write_text("x = 1\n")
    with pytest.raises(DataError, match="no text chunk"):
        text_files([tmp_path / "short.py"], corpus.vocab)


def test_bad_corpus_requests_are_data_errors():
    with pytest.raises(DataError, match="at least two packages"):
        stdlib_corpus(("json",))
    with pytest.raises(DataError, match="'no_such_package' has 0"):
        stdlib_corpus(("json", "no_such_package"))
    with pytest.raises(DataError, match="min_len"):
        stdlib_corpus(("json", "email"), chunk_len=8, min_len=16)
    assert (stdlib_root() / "json" / "__init__.py").is_file()
