"""zk_layers.seq2seq and `zk-layers train --model seq2seq`: chapter 8's
encoder-decoder with attention, against the book's own model and loader."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from conftest import run_module
from numpy.testing import assert_allclose, assert_array_equal

from zk_layers.seq2seq import AttentionSeq2seq, addition_data, load_sequence, split_sequence, train_seq2seq

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
needs_book = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "ch08", "attention_seq2seq.py"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (deep-learning-from-scratch-2)")


@pytest.fixture(scope="module")
def book():
    """The book's ch08/attention_seq2seq.py, common.optimizer and dataset.sequence, on its own common."""
    prefixes = ("common", "ch07", "ch08", "dataset")
    names = [n for n in sys.modules if n.split(".")[0] in prefixes]
    saved = {n: sys.modules.pop(n) for n in names}
    sys.path.insert(0, BOOK2_DIR)
    try:
        spec = importlib.util.spec_from_file_location(
            "_book_attention_seq2seq", os.path.join(BOOK2_DIR, "ch08", "attention_seq2seq.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"AttentionSeq2seq": module.AttentionSeq2seq,
                "optimizer": importlib.import_module("common.optimizer"),
                "util": importlib.import_module("common.util"),
                "sequence": importlib.import_module("dataset.sequence")}
    finally:
        for n in [n for n in sys.modules if n.split(".")[0] in prefixes]:
            del sys.modules[n]
        sys.modules.update(saved)
        sys.path.remove(BOOK2_DIR)


@needs_book
def test_the_model_is_the_books_attention_seq2seq(book):
    x, t, char_to_id, _ = addition_data(600, seed=2)
    V = len(char_to_id)  # noqa: N806
    np.random.seed(7)  # noqa: NPY002
    theirs = book["AttentionSeq2seq"](V, 8, 12)
    np.random.seed(7)  # noqa: NPY002
    ours = AttentionSeq2seq(V, 8, 12)
    for a, b in zip(ours.params, theirs.params, strict=True):
        assert_array_equal(a, b)  # the book's draws, in its order
    opt_b, opt_z = book["optimizer"].Adam(), book["optimizer"].Adam()
    for step in range(6):
        rows = slice(step * 100, (step + 1) * 100)
        losses = []
        for model, opt in ((theirs, opt_b), (ours, opt_z)):
            losses.append(model.forward(x[rows, ::-1], t[rows]))
            model.backward()
            book["util"].clip_grads(model.grads, 5.0)
            opt.update(model.params, model.grads)
        assert_allclose(losses[1], losses[0], rtol=1e-5)
    for a, b in zip(ours.params, theirs.params, strict=True):
        assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # greedy answers, a batch at once, as the book's decoder gives them one question at a time
    batch = ours.generate(x[:20, ::-1], int(t[0, 0]), t.shape[1] - 1)
    for row in range(20):
        assert list(batch[row]) == [int(i) for i in theirs.generate(x[[row], ::-1], int(t[0, 0]), t.shape[1] - 1)]


@needs_book
@pytest.mark.parametrize("name", ["addition.txt", "date.txt"])
def test_load_and_split_are_the_books(book, name):
    x, t, char_to_id, id_to_char = load_sequence(os.path.join(BOOK2_DIR, "dataset", name))
    book["sequence"].id_to_char.clear()
    book["sequence"].char_to_id.clear()
    (xb, tb), (xb_test, tb_test) = book["sequence"].load_data(name)
    assert char_to_id == book["sequence"].char_to_id and id_to_char == book["sequence"].id_to_char
    for a, b in zip(split_sequence(x, t), (xb, tb, xb_test, tb_test), strict=True):
        assert_array_equal(a, b)


def test_generated_sums_are_the_books_format():
    x, t, char_to_id, id_to_char = addition_data(2000, seed=1)
    assert x.shape == (2000, 7) and t.shape == (2000, 5)
    text = ["".join(id_to_char[int(i)] for i in row) for row in x]
    answers = ["".join(id_to_char[int(i)] for i in row) for row in t]
    assert len(set(text)) == 2000  # distinct problems
    for q, a in zip(text, answers, strict=True):
        left, right = q.strip().split("+")
        assert a[0] == "_" and int(a[1:]) == int(left) + int(right) and 0 <= int(left) <= 999
    with pytest.raises(ValueError, match="at most 1,000,000"):
        addition_data(1_000_001)


def test_training_learns_and_is_reproducible():
    x, t, char_to_id, _ = addition_data(3000, seed=0)
    parts = split_sequence(x, t)
    runs = [train_seq2seq(*parts, len(char_to_id), hidden_size=24, batch_size=50, max_epoch=3, seed=4)
            for _ in range(2)]
    assert runs[0]["losses"] == runs[1]["losses"] and runs[0]["accuracies"] == runs[1]["accuracies"]
    losses = runs[0]["losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert all(0 <= a <= 1 for a in runs[0]["accuracies"])
    assert runs[0]["steps"] == 3 * (len(parts[0]) // 50)


def test_bad_data_is_refused(tmp_path):
    x, t, char_to_id, _ = addition_data(300)
    V = len(char_to_id)  # noqa: N806
    with pytest.raises(ValueError, match=r"x_train must be a 2-D array of ids in \[0, 13\)"):
        train_seq2seq(x + 20, t, x, t, V)
    with pytest.raises(ValueError, match="must pair up"):
        train_seq2seq(x, t[:10], x, t, V)
    with pytest.raises(ValueError, match="larger than the 300 training rows"):
        train_seq2seq(x, t, x, t, V, batch_size=500)
    bad = tmp_path / "bad.txt"
    bad.write_text("12+3  _15  \n7+1 _8  \n")
    with pytest.raises(ValueError, match="of one length"):
        load_sequence(str(bad))
    bad.write_text("no mark here\n")
    with pytest.raises(ValueError, match="line 1: expected question_answer"):
        load_sequence(str(bad))
    with pytest.raises(FileNotFoundError):
        load_sequence(str(tmp_path / "absent.txt"))
    with pytest.raises(ValueError, match="xs must be"):
        AttentionSeq2seq(V, 4, 4).generate(x[0], 12, 4)


def test_train_command_seq2seq(tmp_path):
    out = tmp_path / "seq2seq.json"
    done = run_module("train", "--model", "seq2seq", "--epochs", "1", "--hidden", "16", "--no-progress",
                      "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "epoch   1  mean loss" in done.stdout and "test accuracy" in done.stdout
    assert done.stdout.count("[answer] ") == 5
    report = json.loads(out.read_text())
    assert report["model"] == "seq2seq" and len(report["accuracies"]) == 1
    bad = run_module("train", "--model", "seq2seq", "--data", "date")
    assert bad.returncode == 2 and "--data date needs --data-dir" in bad.stderr
    bad = run_module("train", "--model", "seq2seq", "--data-dir", str(tmp_path))
    assert bad.returncode == 2 and "has no addition.txt" in bad.stderr
