"""zk_layers.rnnlm and `zk-layers train --model rnnlm`: the book's chapter-6
language model trained as the book's RnnlmTrainer trains it."""
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

from zk_layers import book2
from zk_layers.rnnlm import Rnnlm, train_rnnlm
from zk_layers.word2vec import toy_corpus

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
needs_book = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "ch06", "rnnlm.py"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (deep-learning-from-scratch-2)")


@pytest.fixture(scope="module")
def book_rnnlm():
    """The book's ch06/rnnlm.py and common.trainer, on the book's own common."""
    names = [n for n in sys.modules if n == "common" or n.startswith("common.")]
    saved = {n: sys.modules.pop(n) for n in names}
    sys.path.insert(0, BOOK2_DIR)
    try:
        spec = importlib.util.spec_from_file_location("_book_rnnlm", os.path.join(BOOK2_DIR, "ch06", "rnnlm.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"Rnnlm": module.Rnnlm, "trainer": importlib.import_module("common.trainer"),
                "optimizer": importlib.import_module("common.optimizer")}
    finally:
        for n in [n for n in sys.modules if n == "common" or n.startswith("common.")]:
            del sys.modules[n]
        sys.modules.update(saved)
        sys.path.remove(BOOK2_DIR)


@needs_book
def test_training_is_the_books_ch06_train_rnnlm(book_rnnlm, monkeypatch):
    # Two epochs of 10 steps: SGD at lr 20 parts two correct programs' losses
    # from about 40 steps on (docs/book.md), so the comparison stays short.
    corpus, word_to_id, _ = toy_corpus(60)
    V = len(word_to_id)  # noqa: N806
    np.random.seed(3)  # noqa: NPY002
    model = book_rnnlm["Rnnlm"](V, 16, 16)
    trainer = book_rnnlm["trainer"].RnnlmTrainer(model, book_rnnlm["optimizer"].SGD(20.0))
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)  # the trainer's reports
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=2, batch_size=5, time_size=7, max_grad=0.25, eval_interval=1)
    monkeypatch.undo()
    losses = []
    result = train_rnnlm(corpus, V, wordvec_size=16, hidden_size=16, batch_size=5, time_size=7, max_epoch=2,
                         seed=3, callback=lambda epoch, step, loss: losses.append(loss))
    # the book's perplexity of every step (eval_interval=1): the same draws, batches and updates
    assert len(losses) == 20
    assert_allclose(np.exp(losses), trainer.ppl_list, rtol=1e-4)
    for a, b in zip(result["model"].params, model.params, strict=True):
        assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_initial_weights_are_the_books_draws():
    np.random.seed(0)  # noqa: NPY002
    model = Rnnlm(7, 3, 4)
    np.random.seed(0)  # noqa: NPY002
    rn = np.random.randn  # noqa: NPY002
    expected = [rn(7, 3) / 100, rn(3, 16) / np.sqrt(3), rn(4, 16) / np.sqrt(4), np.zeros(16), rn(4, 7) / 2,
                np.zeros(7)]
    assert [p.dtype for p in model.params] == [np.float32] * 6
    for a, b in zip(model.params, expected, strict=True):
        assert_array_equal(a, b.astype("f"))


def test_training_learns_and_is_reproducible():
    corpus, word_to_id, _ = toy_corpus()
    runs = [train_rnnlm(corpus, len(word_to_id), wordvec_size=20, hidden_size=20, max_epoch=3, seed=1)
            for _ in range(2)]
    ppl = runs[0]["perplexities"]
    assert ppl == runs[1]["perplexities"] and len(ppl) == 3
    assert ppl[0] > ppl[-1] and ppl[-1] < 4  # 33 words; about 2.5 is the corpus's own
    assert runs[0]["steps"] == 3 * ((corpus.size - 1) // (20 * 35))
    short = train_rnnlm(corpus, len(word_to_id), wordvec_size=8, hidden_size=8, max_epoch=5, max_steps=7)
    assert short["steps"] == 7 and len(short["perplexities"]) == 1


def test_generate_samples_the_softmax_and_skips():
    corpus, word_to_id, _ = toy_corpus()
    model = train_rnnlm(corpus, len(word_to_id), wordvec_size=20, hidden_size=20, max_epoch=2, seed=0)["model"]
    skip = [word_to_id["."], word_to_id["cat"]]
    np.random.seed(5)  # noqa: NPY002
    ids = model.generate(word_to_id["the"], skip, sample_size=40)
    np.random.seed(5)  # noqa: NPY002
    assert model.generate(word_to_id["the"], skip, sample_size=40) == ids  # the same draws, the same text
    assert len(ids) == 40 and ids[0] == word_to_id["the"] and not set(ids[1:]) & set(skip)
    assert all(0 <= i < len(word_to_id) for i in ids)
    with pytest.raises(ValueError, match=r"start_id must be a word id in \[0, 33\)"):
        model.generate(33)
    with pytest.raises(ValueError, match="leave no word to draw"):
        model.generate(0, range(33))
    with pytest.raises(ValueError, match=r"skip_ids must be word ids in \[0, 33\)"):
        model.generate(0, [40])


def test_bad_corpus_and_sizes_are_refused():
    with pytest.raises(ValueError, match="too short for one batch of 20 x 35"):
        train_rnnlm(np.arange(100) % 5, 5)
    with pytest.raises(ValueError, match=r"word ids outside \[0, 5\)"):
        train_rnnlm(np.arange(1000), 5)
    with pytest.raises(ValueError, match="1-D sequence of word ids"):
        train_rnnlm(np.zeros((10, 10)), 5)
    with pytest.raises(ValueError, match="time_size"):
        train_rnnlm(np.arange(1000) % 5, 5, time_size=0)


def test_train_command_rnnlm(tmp_path):
    out = tmp_path / "rnnlm.json"
    done = run_module("train", "--model", "rnnlm", "--epochs", "2", "--hidden", "16", "--no-progress",
                      "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "epoch   2  perplexity" in done.stdout and "[generated] the " in done.stdout
    report = json.loads(out.read_text())
    assert report["model"] == "rnnlm" and len(report["perplexities"]) == 2
    assert report["perplexities"][1] < report["perplexities"][0]
    bad = run_module("train", "--model", "rnnlm", "--window-size", "2")
    assert bad.returncode == 2 and "takes no --window-size" in bad.stderr
    bad = run_module("train", "--model", "rnnlm", "--data", "mnist")
    assert bad.returncode == 2 and "trains on --data toy or --data ptb" in bad.stderr
    assert book2  # the model's layers are the book's time layers
