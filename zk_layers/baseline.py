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
           "TwoLayerNet", "train_iteration", "im2col", "col2im", "Convolution", "Pooling", "Adam",
           "SimpleConvNet"]


def softmax(x: np.ndarray) -> np.ndarray:
    """The book's softmax (its current ``common/functions.py``): over the
    last axis, shifted by the maximum against overflow."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


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



# ---------------------------------------------------------------- chapter 7
# The book's convolution code (common/util.py's im2col/col2im, common/layers.py's
# Convolution and Pooling, common/optimizer.py's Adam, ch07/simple_convnet.py),
# written for zk_layers in the book's style: the same NumPy calls in the same
# order, so that it costs what the book costs, float64 patches included.

def im2col(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Patches as rows, (N*OH*OW, C*FH*FW), float64 as in the book."""
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    padded = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    patches = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for i in range(filter_h):
        i_end = i + stride * out_h
        for j in range(filter_w):
            j_end = j + stride * out_w
            patches[:, :, i, j, :, :] = padded[:, :, i:i_end:stride, j:j_end:stride]
    return patches.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col: np.ndarray, input_shape: tuple[int, ...], filter_h: int, filter_w: int,
           stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of im2col, into a float64 image batch as in the book."""
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    patches = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    image = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for i in range(filter_h):
        i_end = i + stride * out_h
        for j in range(filter_w):
            j_end = j + stride * out_w
            image[:, :, i:i_end:stride, j:j_end:stride] += patches[:, :, i, j, :, :]
    return image[:, :, pad:H + pad, pad:W + pad]


class Convolution:
    """im2col, one product with the reshaped filters, bias; backward with col2im."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x: Any = None
        self.col: Any = None
        self.col_W: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)
        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling:
    """Max pooling through im2col: argmax and max of each window's row."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x: Any = None
        self.arg_max: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)
        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax: np.ndarray = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))
        n, out_h, out_w = dout.shape[:3]
        dcol = dmax.reshape(n * out_h * out_w, -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Adam:
    """The book's Adam: moments updated in place, bias correction folded into lr."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: Any = None
        self.v: Any = None

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        if self.m is None:
            self.m, self.v = {}, {}
            for key, value in params.items():
                self.m[key] = np.zeros_like(value)
                self.v[key] = np.zeros_like(value)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key]**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


class SimpleConvNet:
    """The book's ch07 net: Conv1 - Relu1 - Pool1 - Affine1 - Relu2 - Affine2, SoftmaxWithLoss.

    ``layer_module`` (default: this module) supplies ``Convolution``,
    ``Pooling``, ``Relu``, ``Affine`` and ``SoftmaxWithLoss``: passing
    ``zk_layers`` runs the book's net code unchanged on zk_layers' layers.
    ``rng`` draws the weights (default ``np.random``, in the book's order);
    ``dtype`` (not in the book) casts them, for float32 rows.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28),
                 conv_param: dict[str, int] | None = None, hidden_size: int = 100,
                 output_size: int = 10, weight_init_std: float = 0.01, *, layer_module: Any = None,
                 rng: Any = None, dtype: Any = np.float64) -> None:
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        rng = np.random if rng is None else rng
        impl = sys.modules[__name__] if layer_module is None else layer_module
        filter_num = conv_param["filter_num"]
        filter_size = conv_param["filter_size"]
        filter_pad = conv_param["pad"]
        filter_stride = conv_param["stride"]
        input_size = input_dim[1]
        conv_output_size = (input_size - filter_size + 2 * filter_pad) / filter_stride + 1
        pool_output_size = int(filter_num * (conv_output_size / 2) * (conv_output_size / 2))

        self.params = {}
        self.params["W1"] = (weight_init_std * rng.randn(filter_num, input_dim[0], filter_size, filter_size)
                             ).astype(dtype, copy=False)
        self.params["b1"] = np.zeros(filter_num, dtype)
        self.params["W2"] = (weight_init_std * rng.randn(pool_output_size, hidden_size)).astype(dtype, copy=False)
        self.params["b2"] = np.zeros(hidden_size, dtype)
        self.params["W3"] = (weight_init_std * rng.randn(hidden_size, output_size)).astype(dtype, copy=False)
        self.params["b3"] = np.zeros(output_size, dtype)

        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.layers["Conv1"] = impl.Convolution(self.params["W1"], self.params["b1"],
                                                conv_param["stride"], conv_param["pad"])
        self.layers["Relu1"] = impl.Relu()
        self.layers["Pool1"] = impl.Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = impl.Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = impl.Relu()
        self.layers["Affine2"] = impl.Affine(self.params["W3"], self.params["b3"])
        self.last_layer = impl.SoftmaxWithLoss()

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> Any:
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Conv1"].dW, self.layers["Conv1"].db
        grads["W2"], grads["b2"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W3"], grads["b3"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads
