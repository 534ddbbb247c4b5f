"""The benchmark's baseline: the book's chapter-5 code in plain NumPy.

``zk-layers bench`` measures zk_layers against what a reader of "Deep
Learning from Scratch" runs: the layers of the book's ``common/layers.py``
(with ``softmax`` and ``cross_entropy_error`` of ``common/functions.py``),
the ``TwoLayerNet`` of ``ch05/two_layer_net.py`` and one iteration of the
training loop of ``ch05/train_neuralnet.py``.  This module is written for
zk_layers in the book's style and computes what the book computes, with the
same NumPy calls in the same order, so that it costs what the book costs.

It is not the oracle.  :mod:`zk_layers.reference` validates its inputs,
raises clear errors, silences overflow warnings and never writes into its
arguments; the checks cost microseconds that the book does not pay, so a
benchmark against the oracle would flatter zk_layers.  Nothing here checks
anything: wrong shapes fail wherever NumPy fails, and ``Relu.backward``
writes into ``dout`` as the book's does.  Use the oracle to test results,
this module only to time them.
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["softmax", "cross_entropy_error", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss",
           "TwoLayerNet", "train_iteration"]


def softmax(x: np.ndarray) -> np.ndarray:
    """The book's softmax: rows of a batch (N, C), or one vector (C,).

    A batch is worked on transposed, so that the row maxima and sums
    broadcast along axis 0 without keepdims; the result is returned as a
    transposed (Fortran-ordered) view, which is what the book hands on.
    """
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> Any:
    """The book's mean cross-entropy ``-sum(log(y[t] + 1e-7)) / N``.

    ``t`` holds class indices (N,) or one-hot rows (N, C); one-hot rows are
    turned into indices first.  Returns a NumPy scalar of y's dtype.
    """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class Relu:
    """``max(0, x)``; ``mask`` is ``x <= 0`` from the last forward."""

    def __init__(self) -> None:
        self.mask: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # The book zeroes the masked entries of the caller's dout and hands
        # that same array back: no copy.  Kept, because that is its cost.
        dout[self.mask] = 0
        dx = dout
        return dx


class Sigmoid:
    """``1 / (1 + exp(-x))``; ``out`` is kept for backward.

    Large negative x overflow in ``exp`` with a RuntimeWarning, as in the book.
    """

    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Affine:
    """``x @ W + b`` for a batch x of shape (N, D) or (N, d1, d2, ...).

    ``W`` (D, M) and ``b`` (M,) are kept as given, so in-place updates of
    them reach the next forward; ``dW`` and ``db`` are set by backward,
    which always computes ``dx`` too, as the book does.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.x: Any = None
        self.original_x_shape: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class SoftmaxWithLoss:
    """Softmax and the book's cross-entropy error; ``t`` indices or one-hot.

    ``backward`` ignores its ``dout`` (the book's does: the loss is always
    the last layer) and returns ``(y - onehot(t)) / N``.
    """

    def __init__(self) -> None:
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> Any:
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot labels
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


class TwoLayerNet:
    """The book's ch05 net: Affine1 - Relu1 - Affine2, SoftmaxWithLoss on top.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    weight_init_std : float, default 0.01
        Weights are ``weight_init_std * randn``, biases zeros, as in the book.
    layer_module : module or namespace, optional
        Where the classes ``Affine``, ``Relu`` and ``SoftmaxWithLoss`` come
        from: this module by default; ``zk_layers.layers`` runs the book's
        net, unchanged, on zk_layers' layers (the benchmark's like-for-like
        comparison: the same net code, the same work, first layer's dx
        included).
    rng : numpy.random.RandomState, optional
        Draws the weights; default ``np.random``, the book's global state.
        Two nets given equal states start from equal weights.
    dtype : float32 or float64, default float64
        Not in the book (its weights are float64): for the benchmark's
        float32 rows.

    ``params`` holds the arrays the layers hold, so the book's update
    ``params[key] -= lr * grads[key]`` trains the net.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, *, layer_module: Any = None, rng: Any = None,
                 dtype: Any = np.float64) -> None:
        rng = np.random if rng is None else rng
        impl = sys.modules[__name__] if layer_module is None else layer_module
        self.params = {}
        self.params["W1"] = (weight_init_std * rng.randn(input_size, hidden_size)).astype(dtype, copy=False)
        self.params["b1"] = np.zeros(hidden_size, dtype)
        self.params["W2"] = (weight_init_std * rng.randn(hidden_size, output_size)).astype(dtype, copy=False)
        self.params["b2"] = np.zeros(output_size, dtype)

        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.layers["Affine1"] = impl.Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = impl.Relu()
        self.layers["Affine2"] = impl.Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = impl.SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> Any:
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> Any:
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Backpropagation: a forward pass, then every layer's backward."""
        self.loss(x, t)
        dout = 1
        dout = self.lastLayer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W2"], grads["b2"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads


def train_iteration(network: TwoLayerNet, x_train: np.ndarray, t_train: np.ndarray, *,
                    batch_size: int = 100, learning_rate: float = 0.1, rng: Any = None) -> Any:
    """One pass of the loop body of the book's ``ch05/train_neuralnet.py``.

    Draws a mini-batch with replacement (``rng.choice``, default the global
    ``np.random``), computes the gradient by backprop, updates every
    parameter with ``params[key] -= learning_rate * grad[key]`` and returns
    the loss of the batch after the update.  The book's per-epoch accuracy
    evaluation is not part of the body and is left out.
    """
    rng = np.random if rng is None else rng
    train_size = x_train.shape[0]
    batch_mask = rng.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    grad = network.gradient(x_batch, t_batch)
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    return loss

