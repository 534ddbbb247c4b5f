"""Embedding (the second volume's, chapter 4): the compiled gather and
scatter-add against the book's NumPy lines (the oracle), bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import zk_layers as zk
from zk_layers import _embedding
from zk_layers._validate import ForwardNotCalledError

IDS = [
    np.array([3, 1, 3, 0, 9, 3]),            # repeats: their rows add up in order
    np.array([[2, 5, 2], [7, -1, -10]]),     # 2-D, negative ids
    np.array(4),                             # one id: one row out
    np.array([], dtype=np.intp),
    [1, 2, 2],                               # a list
    np.array([8, 0, 8], dtype=np.int32),
    np.array([6, 6, 1], dtype=np.uint8),
]


def _pair(dtype, rows=10, width=6, seed=0):
    W = np.random.default_rng(seed).standard_normal((rows, width)).astype(dtype)
    return zk.Embedding(W), zk.reference.Embedding(W.copy()), W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(IDS)))
def test_matches_the_books_lines_bitwise(dtype, case):
    idx = IDS[case]
    fast, oracle, W = _pair(dtype)
    out = fast.forward(idx)
    expected = oracle.forward(idx)
    assert out.dtype == dtype and out.shape == expected.shape == (*np.shape(idx), 6)
    np.testing.assert_array_equal(out, expected)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    grad = fast.grads[0]
    assert fast.backward(dout) is None and oracle.backward(dout) is None
    assert fast.grads[0] is grad  # written in place, as the book writes dW[...]
    np.testing.assert_array_equal(fast.grads[0], oracle.grads[0])
    book = np.zeros_like(W)
    np.add.at(book, np.asarray(idx), dout)
    np.testing.assert_array_equal(fast.grads[0], book)
    assert fast.params[0] is W  # kept, not copied


def test_the_compiled_path_takes_the_common_case(monkeypatch):
    calls = []

    def spy(name):
        original = getattr(_embedding, name)

        def wrapper(*args):
            result = original(*args)
            calls.append((name, result is not None))
            return result
        monkeypatch.setattr(_embedding, name, wrapper)

    spy("embedding_forward")
    spy("embedding_backward")
    layer = zk.Embedding(np.ones((5, 3), np.float32))
    out = layer.forward(np.array([0, 4, 4]))
    layer.backward(np.ones_like(out))
    assert calls == [("embedding_forward", True), ("embedding_backward", True)]
    np.testing.assert_array_equal(layer.grads[0][4], [2, 2, 2])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bitwise_the_same_at_every_thread_count(n_threads, tiny_grain, threads):
    """Every row of dW is summed by one thread in the order of the ids: the
    bits of np.add.at at any thread count (float32, many repeats)."""
    threads(n_threads)
    rng = np.random.default_rng(2)
    W = rng.standard_normal((50, 33)).astype(np.float32)
    idx = rng.integers(0, 50, 700)
    dout = rng.standard_normal((700, 33)).astype(np.float32)
    layer = zk.Embedding(W)
    np.testing.assert_array_equal(layer.forward(idx), W[idx])
    layer.backward(dout)
    book = np.zeros_like(W)
    np.add.at(book, idx, dout)
    np.testing.assert_array_equal(layer.grads[0], book)
    # The order matters in float32: summing the same rows in another order
    # gives other bits here, so the comparison above can fail.
    shuffled = np.zeros_like(W)
    order = rng.permutation(700)
    np.add.at(shuffled, idx[order], dout[order])
    assert not np.array_equal(shuffled, book)


def test_gradient_against_central_differences():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 4))
    idx = np.array([[1, 5], [1, 0]])
    G = rng.standard_normal((2, 2, 4))
    layer = zk.Embedding(W)
    layer.forward(idx)
    layer.backward(G)
    numeric = zk.numerical_gradient(lambda _: float(np.sum(layer.forward(idx) * G)), W)
    np.testing.assert_allclose(layer.grads[0], numeric, rtol=1e-6, atol=1e-8)


def test_other_layouts_and_dtypes_take_the_books_lines():
    base = np.random.default_rng(4).standard_normal((8, 10))
    W = base[:, ::2]  # strided
    fast, oracle = zk.Embedding(W), zk.reference.Embedding(W.copy())
    idx = np.array([7, 2, 2])
    np.testing.assert_array_equal(fast.forward(idx), oracle.forward(idx))
    dout = np.random.default_rng(5).standard_normal((3, 5)).astype(np.float32)  # another dtype
    fast.backward(dout)
    oracle.backward(dout)
    np.testing.assert_array_equal(fast.grads[0], oracle.grads[0])
    W16 = np.arange(12, dtype=np.float16).reshape(4, 3)
    np.testing.assert_array_equal(zk.Embedding(W16).forward([3, 0]), W16[[3, 0]])


@pytest.mark.parametrize("impl", [zk, zk.reference], ids=["fast", "reference"])
@pytest.mark.parametrize("make,call,error,match", [
    (lambda: np.ones(4), None, ValueError, r"W must be 2-D \(V, D\)"),
    (lambda: np.ones((4, 2), int), None, TypeError, "W must be a float ndarray"),
    (lambda: [[1.0, 2.0]], None, TypeError, "W must be a float ndarray"),
    (lambda: np.ones((4, 2)), lambda e: e.forward(np.array([4])), ValueError,
     r"idx must hold word ids in \[-4, 4\) for a W of 4 rows, got 4"),
    (lambda: np.ones((4, 2)), lambda e: e.forward(np.array([-5])), ValueError, "got -5"),
    (lambda: np.ones((4, 2)), lambda e: e.forward(np.array([1.0])), TypeError, "idx must hold integer word ids"),
    (lambda: np.ones((4, 2)), lambda e: e.forward(np.array([True])), TypeError, "idx must hold integer word ids"),
    (lambda: np.ones((4, 2)), lambda e: e.backward(np.ones((1, 2))), ForwardNotCalledError, "before forward"),
    (lambda: np.ones((4, 2)), lambda e: (e.forward(np.array([1, 2])), e.backward(np.ones((2, 3)))), ValueError,
     r"dout must have shape \(2, 2\)"),
])
def test_bad_input_is_named(impl, make, call, error, match):
    with pytest.raises(error, match=match):
        layer = impl.Embedding(make())
        if call is not None:
            call(layer)


@pytest.mark.parametrize("impl", [zk, zk.reference], ids=["fast", "reference"])
def test_state_changed_between_forward_and_backward(impl):
    """The saved ids are the caller's array, as in the book: changed in place
    or replaced, they are checked again in backward, never read out of range."""
    layer = impl.Embedding(np.ones((4, 2)))
    idx = np.array([0, 3])
    layer.forward(idx)
    idx[1] = 99
    with pytest.raises(ValueError, match="got 99"):
        layer.backward(np.ones((2, 2)))
    idx[1] = 1
    layer.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(layer.grads[0], [[1, 1], [1, 1], [0, 0], [0, 0]])
    layer.grads[0] = np.zeros((4, 2))[::2]  # the wrong shape for W's ids
    layer.idx = np.array([3])
    with pytest.raises(ValueError, match=r"\[-2, 2\)"):
        layer.backward(np.ones((1, 2)))
    layer.grads[0] = np.zeros((4, 2))
    layer.grads[0].flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        layer.backward(np.ones((1, 2)))


def test_glue_declines_what_it_cannot_take():
    W = np.ones((4, 2))
    assert _embedding.embedding_forward(W, np.array([4])) is None       # out of range
    assert _embedding.embedding_forward(W, np.array([-1])) is None      # negative: the layer wraps it
    assert _embedding.embedding_forward(W, np.array([1], np.int32)) is None
    assert _embedding.embedding_forward(W.T, np.array([1])) is None     # not C-contiguous
    dW = np.zeros((4, 2))
    assert _embedding.embedding_backward(np.ones((1, 2)), np.array([1]), dW[:, :1].copy()) is None
    assert _embedding.embedding_backward(np.ones((1, 3)), np.array([1]), dW) is None
    assert _embedding.embedding_backward(dW[:1], np.array([1]), dW) is None  # dout inside dW
    assert _embedding.embedding_backward(np.ones((1, 2), np.float32), np.array([1]), dW) is None
    assert not dW.any()  # nothing written
