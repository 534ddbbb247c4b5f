"""zk_layers.book2 against the second volume's own code, value for value.

The oracle is the book's checkout named by ZK_LAYERS_BOOK2_DIR (its
``common/`` and ``ch04/``, loaded under their own names for the test and
removed afterwards); the tests that need it are skipped when it is unset
(CI sets it).  The rest (errors, thread counts, the sampler's arithmetic)
need nothing.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import numpy as np
import pytest

import zk_layers as zk
from zk_layers import _embedding
from zk_layers.book2 import config, layers, negative_sampling_layer, optimizer, trainer

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
needs_book = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "common", "time_layers.py"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (deep-learning-from-scratch-2)")

SERVED = ("config", "np", "functions", "layers", "optimizer", "trainer", "util", "base_model")


def _swap(modules: dict) -> dict:
    """Replace common*, ch04* and cbow in sys.modules by ``modules``; return the old ones."""
    names = [n for n in sys.modules if n == "common" or n.startswith(("common.", "ch04"))
             or n in ("cbow", "negative_sampling_layer")]
    saved = {n: sys.modules.pop(n) for n in names}
    sys.modules.update(modules)
    return saved


def _load_cbow(tag: str):
    spec = importlib.util.spec_from_file_location(f"_cbow_{tag}", os.path.join(BOOK2_DIR, "ch04", "cbow.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def book():
    """The book's modules: common.layers, .optimizer, .trainer, .util, ch04's
    negative sampling layer and cbow.py, each on the book's own common."""
    sys.path.insert(0, BOOK2_DIR)
    saved = _swap({})
    try:
        found = {name: importlib.import_module(f"common.{name}")
                 for name in ("layers", "optimizer", "trainer", "util")}
        found["nsl"] = importlib.import_module("ch04.negative_sampling_layer")
        found["cbow"] = _load_cbow("book")
    finally:
        _swap(saved)
        sys.path.remove(BOOK2_DIR)
    return found


@pytest.fixture(scope="module")
def zk_cbow():
    """The book's cbow.py on zk_layers.book2, as `zk-layers book run` serves it."""
    sys.path.insert(0, BOOK2_DIR)
    served = {"common": importlib.import_module("zk_layers.book2")}
    served.update({f"common.{n}": importlib.import_module(f"zk_layers.book2.{n}") for n in SERVED})
    served["ch04.negative_sampling_layer"] = negative_sampling_layer
    saved = _swap(served)
    try:
        return _load_cbow("zk")
    finally:
        _swap(saved)
        sys.path.remove(BOOK2_DIR)


def same(a, b):
    """Bitwise the same values, dtype and shape (scalars included)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    np.testing.assert_array_equal(a, b)


def zipf_corpus(n=3000, v=200, seed=0):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, v + 1)
    corpus = rng.choice(v, size=n, p=weights / weights.sum())
    corpus[:v] = np.arange(v)  # every id present, as in a real corpus's vocabulary
    return corpus


# ---------------------------------------------------------------- layers


@needs_book
@pytest.mark.parametrize("dt", ["f", "d"])
@pytest.mark.parametrize("n, d, h", [(7, 5, 4), (300, 20, 64)])  # the second: the in-place paths
def test_layers_match_the_book(book, dt, n, d, h):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d)).astype(dt)
    W = rng.standard_normal((d, h)).astype(dt)
    b = rng.standard_normal(h).astype(dt)
    dout = rng.standard_normal((n, h)).astype(dt)
    t = rng.integers(0, h, n)
    B = book["layers"]
    for name, args in (("MatMul", (W,)), ("Affine", (W, b))):
        ours, theirs = getattr(layers, name)(*args), getattr(B, name)(*args)
        same(ours.forward(x), theirs.forward(x))
        same(ours.backward(dout), theirs.backward(dout))
        for mine, books in zip(ours.grads, theirs.grads, strict=True):
            same(mine, books)
        assert ours.params[0] is W  # kept, not copied
    for name in ("Softmax", "Sigmoid"):
        ours, theirs = getattr(layers, name)(), getattr(B, name)()
        same(ours.forward(x), theirs.forward(x))
        same(ours.backward(x), theirs.backward(x))
        assert ours.params == [] and ours.grads == []
    ours, theirs = layers.SoftmaxWithLoss(), B.SoftmaxWithLoss()
    same(ours.forward(dout, t), theirs.forward(dout, t))
    same(ours.backward(), theirs.backward())
    onehot = np.eye(h, dtype=np.int32)[t]
    same(ours.forward(dout, onehot), theirs.forward(dout, onehot))
    same(ours.backward(2.0), theirs.backward(2.0))
    score = rng.standard_normal(n).astype(dt) * 4
    labels = rng.integers(0, 2, n).astype(np.int32)
    ours, theirs = layers.SigmoidWithLoss(), B.SigmoidWithLoss()
    same(ours.forward(score, labels), theirs.forward(score, labels))
    same(ours.backward(), theirs.backward())  # float64 for float32 scores, as the book's
    ours, theirs = layers.Dropout(0.3), B.Dropout(0.3)
    np.random.seed(3)
    a = ours.forward(x)
    np.random.seed(3)
    same(a, theirs.forward(x))
    same(ours.backward(x), theirs.backward(x))
    same(ours.forward(x, train_flg=False), theirs.forward(x, train_flg=False))


@needs_book
@pytest.mark.parametrize("dt", ["f", "d"])
@pytest.mark.parametrize("dout_dt", ["f", "d"])
def test_embedding_and_embedding_dot_match_the_book(book, dt, dout_dt, threads):
    rng = np.random.default_rng(2)
    W = rng.standard_normal((50, 8)).astype(dt)
    idx = rng.integers(0, 50, 300)  # many repeats: the scatter-add's order matters
    h = rng.standard_normal((300, 8)).astype(dt)
    dscore = rng.standard_normal(300).astype(dout_dt)
    for n in (1, 2):
        threads(n)
        ours, theirs = negative_sampling_layer.EmbeddingDot(W), book["nsl"].EmbeddingDot(W)
        same(ours.forward(h, idx), theirs.forward(h, idx))
        same(ours.backward(dscore), theirs.backward(dscore))
        same(ours.grads[0], theirs.grads[0])
        embed, theirs = layers.Embedding(W), book["layers"].Embedding(W)
        same(embed.forward(idx[:, None]), theirs.forward(idx[:, None]))


def test_widened_scatter_add_is_np_add_at(threads, tiny_grain):
    # float64 rows into float32: one rounding per addition, as np.add.at
    rng = np.random.default_rng(3)
    dout = rng.standard_normal((500, 6)) * 1e3
    idx = rng.integers(0, 20, 500).astype(np.intp)
    expected = np.zeros((20, 6), np.float32)
    np.add.at(expected, idx, dout)
    narrowed = np.zeros((20, 6), np.float32)
    np.add.at(narrowed, idx, dout.astype(np.float32))
    assert not np.array_equal(narrowed, expected)  # the control: rounding dout first differs
    for n in (1, 2):
        threads(n)
        dW = np.full((20, 6), np.nan, np.float32)
        assert _embedding.embedding_backward(dout, idx, dW)
        same(dW, expected)


# ---------------------------------------------------------------- the sampler


@needs_book
@pytest.mark.parametrize("power, size", [(0.75, 5), (1.0, 1), (0.5, 12), (0.75, 0)])
def test_sampler_draws_what_the_book_draws(book, power, size, threads):
    corpus = zipf_corpus()
    ours = negative_sampling_layer.UnigramSampler(corpus, power, size)
    theirs = book["nsl"].UnigramSampler(corpus, power, size)
    same(ours.word_p, theirs.word_p)
    assert ours.vocab_size == theirs.vocab_size
    rng = np.random.default_rng(4)
    for trial, n in enumerate((1, 7, 100, 333)):
        threads(1 + trial % 2)
        target = corpus[rng.integers(0, corpus.size, n)]
        np.random.seed(trial)
        expected = theirs.get_negative_sample(target)
        after_book = np.random.rand()
        np.random.seed(trial)
        got = ours.get_negative_sample(target)
        same(got, expected)
        assert np.random.rand() == after_book  # the generator moved exactly as far


@needs_book
def test_sampler_falls_back_to_the_books_lines(book):
    corpus = zipf_corpus(v=30, n=300)
    ours = negative_sampling_layer.UnigramSampler(corpus, 0.75, 3)
    theirs = book["nsl"].UnigramSampler(corpus, 0.75, 3)
    for sampler in (ours, theirs):
        sampler.word_p = sampler.word_p.astype(np.float32)  # not the compiled path's float64
    target = corpus[:40]
    np.random.seed(5)
    expected = theirs.get_negative_sample(target)
    np.random.seed(5)
    same(ours.get_negative_sample(target), expected)
    # Too few words to draw from: NumPy's own error, as in the book.
    small = negative_sampling_layer.UnigramSampler(np.array([0, 1, 1, 2]), 0.75, 3)
    with pytest.raises(ValueError, match="Fewer non-zero entries"):
        small.get_negative_sample(np.array([1]))


def test_sampler_rejects_bad_input():
    with pytest.raises(ValueError, match="corpus must be a 1-D"):
        negative_sampling_layer.UnigramSampler(np.zeros((2, 2), int), 0.75, 2)
    with pytest.raises(TypeError, match="corpus must hold integer word ids"):
        negative_sampling_layer.UnigramSampler(np.array([0.5, 1.5]), 0.75, 1)
    sampler = negative_sampling_layer.UnigramSampler(np.arange(10), 0.75, 2)
    with pytest.raises(ValueError, match="target must be 1-D"):
        sampler.get_negative_sample(np.zeros((2, 2), int))
    with pytest.raises(TypeError, match="target must hold integer"):
        sampler.get_negative_sample(np.array([1.0]))


def test_sampler_never_draws_the_target_and_draws_distinct_words():
    corpus = zipf_corpus(v=50, n=2000)
    sampler = negative_sampling_layer.UnigramSampler(corpus, 0.75, 8)
    target = corpus[:500]
    np.random.seed(0)
    got = sampler.get_negative_sample(target)
    assert got.dtype == np.int32 and got.shape == (500, 8)
    assert not (got == target[:, None]).any()
    assert all(len(set(row)) == 8 for row in got.tolist())


# ---------------------------------------------------------------- optimizers, remove_duplicate


@needs_book
@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
@pytest.mark.parametrize("dt", ["f", "d"])
def test_optimizers_over_lists_match_the_book(book, name, dt):
    rng = np.random.default_rng(6)
    params = [rng.standard_normal(s).astype(dt) for s in ((30, 20), (20,), (3, 3))]
    params.append(params[0][:, :5])  # a view: the book's lines
    theirs = [p.copy() for p in params[:3]]
    theirs.append(theirs[0][:, :5])
    ours_opt, book_opt = getattr(optimizer, name)(), getattr(book["optimizer"], name)()
    for _ in range(4):
        grads = [rng.standard_normal(p.shape).astype(dt) for p in params]
        ours_opt.update(params, grads)
        book_opt.update(theirs, [g.copy() for g in grads])
        for a, b in zip(params, theirs, strict=True):
            same(a, b)


def test_optimizer_lists_must_fit():
    W = np.zeros(3)
    with pytest.raises(ValueError, match="one gradient per parameter: 1 parameters, got 2"):
        optimizer.SGD().update([W], [W, W])
    adam = optimizer.Adam()
    adam.update([W], [np.ones(3)])
    with pytest.raises(ValueError, match="Adam.m holds state for 1 parameters"):
        adam.update([W, W], [W, W])


@needs_book
def test_remove_duplicate_matches_the_book(book):
    rng = np.random.default_rng(7)
    W = rng.standard_normal((6, 4)).astype("f")
    E = rng.standard_normal((4, 6)).astype("f")
    equal_copy = W.T.copy()  # shares no memory, equal values: the book's comparison says tied
    square = rng.standard_normal((3, 3)).astype("f")
    params = [W, E, W, W.T, square, W, equal_copy, square.T, np.zeros(2, "f")]
    grads = [rng.standard_normal(p.shape).astype("f") for p in params]
    ours_p, ours_g = trainer.remove_duplicate(params, [g.copy() for g in grads])
    book_p, book_g = book["trainer"].remove_duplicate(params, [g.copy() for g in grads])
    assert [id(p) for p in ours_p] == [id(p) for p in book_p]
    for a, b in zip(ours_g, book_g, strict=True):
        same(a, b)
    # A NaN makes a tied transpose unequal to itself in the book's comparison.
    W[0, 0] = np.nan
    ours_p, _ = trainer.remove_duplicate([W, W.T], [np.zeros_like(W), np.zeros_like(W.T)])
    book_p, _ = book["trainer"].remove_duplicate([W, W.T], [np.zeros_like(W), np.zeros_like(W.T)])
    assert len(ours_p) == len(book_p) == 2


# ---------------------------------------------------------------- CBOW, the book's model


@needs_book
@pytest.mark.parametrize("n_threads", [1, 2])
def test_cbow_steps_are_the_books(book, zk_cbow, n_threads, threads, tiny_grain):
    threads(n_threads)  # with tiny_grain: every kernel cut between the threads
    corpus = zipf_corpus(n=4000, v=300)
    contexts, target = book["util"].create_contexts_target(corpus, 5)
    sides = {}
    for name, module, opt, dup in (("book", book["cbow"], book["optimizer"].Adam(), book["trainer"]),
                                   ("zk", zk_cbow, optimizer.Adam(), trainer)):
        np.random.seed(0)
        sides[name] = (module.CBOW(300, 16, 5, corpus), opt, dup.remove_duplicate)
    for step in range(6):
        rows = slice(step * 50, (step + 1) * 50)
        results = {}
        for name, (model, opt, remove_duplicate) in sides.items():
            np.random.seed(100 + step)
            loss = model.forward(contexts[rows], target[rows])
            model.backward()
            params, grads = remove_duplicate(model.params, model.grads)
            opt.update(params, grads)
            results[name] = (loss, [g.copy() for g in grads], [p.copy() for p in params])
        same(results["zk"][0], results["book"][0])
        for a, b in zip(results["zk"][1] + results["zk"][2], results["book"][1] + results["book"][2], strict=True):
            same(a, b)
    assert type(sides["zk"][0].in_layers[0]) is layers.Embedding


# ---------------------------------------------------------------- config


def test_gpu_mode_is_refused_with_a_clear_message():
    config.GPU = False  # allowed: the default
    with pytest.raises(ValueError, match="config.GPU must be False with zk_layers"):
        config.GPU = True
    assert config.GPU is False


def test_layers_keep_the_callers_arrays():
    W = np.ones((4, 3), "f")
    b = np.zeros(3, "f")
    affine = layers.Affine(W, b)
    assert affine.params[0] is W and affine.params[1] is b
    embed = layers.Embedding(W)
    assert embed.params[0] is W and isinstance(embed, zk.Embedding)
    with pytest.raises(ValueError, match="before forward"):
        layers.MatMul(W).backward(np.ones((2, 3), "f"))


# ---------------------------------------------------------------- Embedding's tracked gradient


def _book_backward(W, idx, dout):
    dW = np.zeros_like(W)
    np.add.at(dW, idx, dout)
    return dW


def test_embedding_gradient_is_read_only_and_cleared_where_written():
    rng = np.random.default_rng(8)
    W = rng.standard_normal((40, 5)).astype("f")
    layer = layers.Embedding(W)
    for _ in range(3):
        idx = rng.integers(0, 40, 12)
        dout = rng.standard_normal((12, 5))
        layer.forward(idx)
        layer.backward(dout)
        same(layer.grads[0], _book_backward(W, idx, dout))
    with pytest.raises(ValueError, match="read-only"):
        layer.grads[0][0] += 1
    # Made writeable again and written: no longer trusted, cleared whole.
    layer.grads[0].flags.writeable = True
    layer.grads[0][...] = 7
    idx = rng.integers(0, 40, 3)
    layer.forward(idx)
    layer.backward(rng.standard_normal((3, 5)).astype("f"))
    assert (layer.grads[0] != 0).any(axis=1).sum() <= 3
    assert not layer.grads[0].flags.writeable
    # Replaced by the caller's own array: the book's lines on it.
    mine = np.full_like(W, 3.0)
    layer.grads[0] = mine
    layer.backward(np.ones((3, 5), "f"))
    same(mine, _book_backward(W, idx, np.ones((3, 5), "f")))
    assert mine.flags.writeable


@needs_book
def test_merging_tracked_gradients_keeps_the_books_zero_signs(book):
    # float64 rows this small round to -0.0 in float32; the book's g0 += g1
    # turns such a -0.0 of g0 into +0.0 where g1 holds +0.0.
    W = np.zeros((6, 2), "f")
    first, second = layers.Embedding(W), layers.Embedding(W)
    book_first, book_second = book["layers"].Embedding(W), book["layers"].Embedding(W)
    tiny = np.array([[-1e-60, 1.0], [2.0, -1e-60]])
    for ours, theirs, idx in ((first, book_first, [0, 1]), (second, book_second, [1, 2])):
        ours.forward(np.array(idx))
        theirs.forward(np.array(idx))
        ours.backward(tiny)
        theirs.backward(tiny)
    assert np.signbit(first.grads[0][0, 0])  # the control: a -0.0 is there
    _, ours = trainer.remove_duplicate([W, W], [first.grads[0], second.grads[0]])
    _, theirs = book["trainer"].remove_duplicate([W, W], [book_first.grads[0], book_second.grads[0]])
    same(ours[0], theirs[0])
    np.testing.assert_array_equal(np.signbit(ours[0]), np.signbit(theirs[0]))


@needs_book
def test_clip_grads_and_merges_on_tracked_and_plain_gradients(book):
    rng = np.random.default_rng(9)
    W = rng.standard_normal((30, 4)).astype("f")
    ours = [layers.Embedding(W) for _ in range(3)]
    theirs = [book["layers"].Embedding(W) for _ in range(3)]
    for a, b in zip(ours, theirs, strict=True):
        idx = rng.integers(0, 30, 10)
        dout = rng.standard_normal((10, 4)).astype("f")
        a.forward(idx)
        b.forward(idx)
        a.backward(dout)
        b.backward(dout)
    plain = rng.standard_normal((30, 4)).astype("f")
    params = [W, W, W, W]
    zk_grads = [layer.grads[0] for layer in ours] + [plain.copy()]
    book_grads = [layer.grads[0] for layer in theirs] + [plain.copy()]
    _, zk_merged = trainer.remove_duplicate(params, zk_grads)
    _, book_merged = book["trainer"].remove_duplicate(params, book_grads)
    same(zk_merged[0], book_merged[0])
    from zk_layers.book2 import util

    util.clip_grads(zk_merged, 0.01)
    book["util"].clip_grads(book_merged, 0.01)
    same(zk_merged[0], book_merged[0])
    # The merged gradient's rows are unknown now (a plain array was added):
    # the next backward clears it whole and is the book's again.
    idx = rng.integers(0, 30, 5)
    dout = rng.standard_normal((5, 4)).astype("f")
    ours[0].forward(idx)
    ours[0].backward(dout)
    same(ours[0].grads[0], _book_backward(W, idx, dout))
