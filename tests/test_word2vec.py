"""zk.CBOW: the book's CBOW (ch04/cbow.py on the book's layers), bit for bit,
with row-sparse gradients; its training loop and `zk-layers train --model cbow`.

The comparison with the book's model runs when ZK_LAYERS_BOOK2_DIR names the
second volume's checkout (CI sets it); the rest needs nothing.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_module
from test_book2 import book, needs_book, same, zipf_corpus  # noqa: F401 (book: a fixture)

import zk_layers as zk
from zk_layers.word2vec import CBOW, nearest_words, toy_corpus, train_cbow


@needs_book
@pytest.mark.parametrize("window", [1, 5])
def test_cbow_is_the_books_model(book, window):  # noqa: F811 (the fixture)
    corpus = zipf_corpus(n=5000, v=400)
    contexts, target = book["util"].create_contexts_target(corpus, window)
    np.random.seed(0)
    theirs = book["cbow"].CBOW(400, 24, window, corpus)
    np.random.seed(0)
    ours = CBOW(400, 24, window, corpus)
    same(ours.params["W_in"], theirs.params[0])
    same(ours.params["W_out"], theirs.params[-1])
    book_adam, zk_adam = book["optimizer"].Adam(), zk.Adam()
    for step in range(8):
        rows = slice(step * 60, (step + 1) * 60)
        np.random.seed(10 + step)
        book_loss = theirs.forward(contexts[rows], target[rows])
        theirs.backward()
        params, grads = book["trainer"].remove_duplicate(theirs.params, theirs.grads)
        book_adam.update(params, grads)
        np.random.seed(10 + step)
        zk_loss = ours.forward(contexts[rows], target[rows])
        ours.backward()
        same(ours.grads["W_in"], grads[0])
        same(ours.grads["W_out"], grads[1])
        zk_adam.update(ours.params, ours.grads)
        same(zk_loss, book_loss)
        same(ours.params["W_in"], params[0])
        same(ours.params["W_out"], params[1])


def test_gradients_are_read_only_and_cleared_row_by_row():
    corpus = zipf_corpus(n=2000, v=100)
    model = CBOW(100, 8, 2, corpus)
    offsets = np.array([-2, -1, 1, 2])
    centre = np.arange(2, 202)
    contexts, target = corpus[centre[:, None] + offsets], corpus[centre]
    model.forward(contexts[:100], target[:100])
    model.backward()
    first = set(np.flatnonzero(model.grads["W_in"].any(axis=1)))
    assert first <= set(contexts[:100].ravel())
    model.forward(contexts[100:], target[100:])
    model.backward()
    second = set(np.flatnonzero(model.grads["W_in"].any(axis=1)))
    assert second <= set(contexts[100:].ravel())  # the first batch's rows were cleared
    with pytest.raises(ValueError, match="read-only"):
        model.grads["W_in"][0, 0] = 1.0


def test_cbow_rejects_bad_input():
    corpus = np.arange(20)
    with pytest.raises(ValueError, match="window_size must be a positive integer"):
        CBOW(20, 4, 0, corpus)
    with pytest.raises(ValueError, match="more than vocab_size=10"):
        CBOW(10, 4, 1, corpus)
    model = CBOW(20, 4, 1, corpus)
    with pytest.raises(ValueError, match=r"contexts must have shape \(N, 2\)"):
        model.forward(np.zeros((3, 3), int), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\)"):
        model.forward(np.zeros((3, 2), int), np.zeros(4, int))
    with pytest.raises(ValueError, match=r"word ids in \[0, 20\), got 20"):
        model.forward(np.full((3, 2), 20), np.zeros(3, int))
    with pytest.raises(TypeError, match="integer word ids"):
        model.forward(np.zeros((3, 2)), np.zeros(3, int))
    with pytest.raises(ValueError, match="before forward"):
        CBOW(20, 4, 1, corpus).backward()


def test_training_on_the_toy_corpus_finds_its_groups():
    corpus, word_to_id, id_to_word = toy_corpus()  # what `zk-layers train --model cbow` trains on
    result = train_cbow(corpus, len(word_to_id), hidden_size=20, window_size=2, max_epoch=10, seed=0)
    losses = result["epoch_losses"]
    assert losses[-1] < 0.8 * losses[0]
    near = [w for w, _ in nearest_words("cat", word_to_id, id_to_word, result["model"].word_vecs, top=3)]
    assert set(near) <= {"dog", "horse", "rabbit", "mouse", "cow"}
    with pytest.raises(ValueError, match="not in the vocabulary"):
        nearest_words("zebra", word_to_id, id_to_word, result["model"].word_vecs)


def test_train_command_cbow(tmp_path):
    out = tmp_path / "cbow.json"
    done = run_module("train", "--model", "cbow", "--epochs", "2", "--no-progress",
                      "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "[query] cat:" in done.stdout and "epoch   2  mean loss" in done.stdout
    report = json.loads(out.read_text())
    assert report["model"] == "cbow" and len(report["epoch_losses"]) == 2
    bad = run_module("train", "--model", "cbow", "--data", "ptb", env_update={"ZK_LAYERS_PTB_DIR": ""})
    assert bad.returncode != 0 and "--data ptb needs --data-dir" in bad.stderr
    bad = run_module("train", "--data", "toy")
    assert bad.returncode != 0 and "need --model cbow" in bad.stderr


def test_backward_uses_the_ids_forward_saw():
    corpus = zipf_corpus(n=2000, v=100)
    offsets = np.array([-1, 1])
    centre = np.arange(1, 101)
    contexts, target = corpus[centre[:, None] + offsets], corpus[centre]
    grads = []
    for mutate in (False, True):
        np.random.seed(0)
        model = CBOW(100, 8, 1, corpus)
        batch = contexts.copy()
        model.forward(batch, target)
        if mutate:
            batch[:] = 99  # the caller reuses its array before backward
        model.backward()
        grads.append(model.grads["W_in"].copy())
    same(grads[1], grads[0])
