"""The layers of chapter 5 in plain NumPy: the oracle for tests and benchmarks.

This module follows the book's code (Deep Learning from Scratch, chapter 5,
``common/layers.py``) line for line where it can, so that it reads like the
book.  It differs from the book in four places, each on purpose:

* inputs are never modified: the book's ``Relu.backward`` writes zeros into
  ``dout`` and ``Affine`` may hand back views of its input; here every
  ``backward`` returns a fresh array;
* ``SoftmaxWithLoss.backward`` applies the chain rule with ``dout`` (the book
  ignores it; the results agree at the default ``dout=1``);
* ``Sigmoid`` silences NumPy's overflow warning: ``exp(-x)`` overflows to inf
  for very negative x and ``1 / (1 + inf)`` is exactly 0, the right answer;
* ``SoftmaxWithLoss(eps=0)`` computes the exact cross-entropy as
  ``logsumexp(x) - x[t]``, which cannot overflow or take ``log(0)``.

Inputs are validated exactly as in the fast layers (same exceptions, same
messages), through ``zk_layers._validate``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._base import AffineBase, ReluBase, SigmoidBase, SoftmaxWithLossBase
from ._graph import AddLayer, MulLayer
from ._validate import (
    affine_parameters,
    as_float_array,
    check_label_range,
    class_indices,
    first_invalid_label,
    flatten_batch,
    memory_order,
    output_buffer,
    require_forward,
    require_shape,
    saved_mask,
    scalar_dout,
    softmax_input,
)

__all__ = ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss"]


def _check_out(out: Any, like: np.ndarray, dtype: np.dtype, inputs: tuple[np.ndarray, ...]) -> None:
    """The optional ``out=`` of the elementwise layers, checked exactly as the
    fast layers check it (before any state is stored)."""
    if out is not None:
        output_buffer(out, like.shape, memory_order(like), dtype, "out", inputs)


def _into(out: np.ndarray | None, result: np.ndarray) -> np.ndarray:
    """Copy the result into a (checked) ``out=`` buffer, if one was given."""
    if out is None:
        return result
    np.copyto(out, result)
    return out


class Relu(ReluBase):
    """Rectified linear unit, ``max(0, x)``, elementwise.

    ``mask`` is the boolean array ``x <= 0`` from the last forward; the
    gradient is 0 there (at x == 0 too, as in the book).
    """

    def forward(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        x = as_float_array(x, "x")
        _check_out(out, x, x.dtype, (x,))
        # 0-d input: arrays, not NumPy scalars, so that state stays mutable
        # as the fast layer's is; results keep x's memory order as it does.
        self.mask = np.asarray(x <= 0)
        result = x.copy(order=memory_order(x))
        result[self.mask] = 0
        return _into(out, result)

    def backward(self, dout: Any, out: np.ndarray | None = None) -> np.ndarray:
        mask = saved_mask(self, self.mask)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", mask.shape, "the shape of the forward input")
        _check_out(out, mask, dout.dtype, (dout, mask))
        dx = dout.copy(order=memory_order(mask))
        dx[mask] = 0
        return _into(out, dx)


class Sigmoid(SigmoidBase):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise; ``out`` is kept."""

    def forward(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        x = as_float_array(x, "x")
        _check_out(out, x, x.dtype, (x,))
        with np.errstate(over="ignore"):
            y = np.asarray(1 / (1 + np.exp(-x)))  # 0-d: an array, as in the fast layer
        self.out = y
        return _into(out, y.copy() if out is not None else y)

    def backward(self, dout: Any, out: np.ndarray | None = None) -> np.ndarray:
        saved = require_forward(self, self.out)
        y = as_float_array(saved, "Sigmoid.out")
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", y.shape, "the shape of the forward input")
        if out is not None and np.may_share_memory(out, saved):
            raise ValueError("out must not be the layer's saved output (Sigmoid.out): it is needed "
                             "by every later backward")
        dtype = np.result_type(dout.dtype, y.dtype)
        _check_out(out, y, dtype, (dout, y))
        dx = np.asarray(dout * (1.0 - y) * y)
        return _into(out, dx)


class Affine(AffineBase):
    """Fully connected layer, ``out = x @ W + b``.

    Parameters
    ----------
    W : ndarray of shape (D, M), float32 or float64
        Kept as given, never copied: in-place updates reach the layer.
    b : ndarray of shape (M,), same rules as W.
    need_dx : bool, default True
        When False, ``backward`` computes only ``dW`` and ``db`` and returns
        None (the first layer of a net needs no ``dx``).
    """

    def forward(self, x: Any) -> np.ndarray:
        W, b = affine_parameters(self.W, self.b)
        x = as_float_array(x, "x")
        original_x_shape = x.shape
        x = flatten_batch(x, W)
        self.original_x_shape = self._shape_forward = original_x_shape
        self.x = self._x_forward = x  # the caller's x, as in the book
        # Mixed dtypes: everything runs in NumPy's result type of x, W and b.
        dtype = np.result_type(x.dtype, W.dtype, b.dtype)
        out = np.dot(x.astype(dtype, copy=False), W.astype(dtype, copy=False)) + b
        return out

    def backward(self, dout: Any) -> np.ndarray | None:
        W, _ = affine_parameters(self.W, self.b)
        x = self._saved_input(W)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (x.shape[0], W.shape[1]), "the shape of the forward output")
        dtype = np.result_type(dout.dtype, x.dtype)
        dout = dout.astype(dtype, copy=False)
        self.dW = np.dot(x.astype(dtype, copy=False).T, dout)
        self.db = np.sum(dout, axis=0)
        if not self.need_dx:
            return None
        dx = np.dot(dout, W.T)
        dx = dx.reshape(self._saved_shape(x))
        return dx


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum for stability."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


class SoftmaxWithLoss(SoftmaxWithLossBase):
    """Softmax followed by the cross-entropy loss, averaged over the batch.

    Parameters
    ----------
    eps : float, default 1e-7
        The loss is ``mean(-log(y[t] + eps))``, the book's formula and
        numbers.  ``eps=0`` gives the exact cross-entropy, computed as
        ``logsumexp(x) - x[t]``.
    """

    def forward(self, x: Any, t: Any) -> float:
        x2d, single = softmax_input(x)
        n, n_classes = x2d.shape
        labels = class_indices(t, n, n_classes, single)
        check_label_range(labels, n_classes, first_invalid_label)
        self._remember_labels(t, labels)
        y = softmax(x2d)
        rows = np.arange(n)
        if self.eps:
            losses = -np.log(y[rows, labels] + self.eps)
        else:
            shift = np.max(x2d, axis=1)
            log_sum = np.log(np.sum(np.exp(x2d - shift[:, None]), axis=1))
            # Both terms >= 0: nothing cancels, and log_sum is not lost
            # next to huge logits ((log_sum + shift) - x[t] was, at 1e17).
            losses = log_sum + (shift - x2d[rows, labels])
        self.y = y.reshape(np.shape(x))
        self._y_shape = self.y.shape
        self.loss = float(np.sum(losses.astype(np.float64)) / n)
        return self.loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        probabilities = require_forward(self, self.y)
        scale = scalar_dout(dout)
        probabilities = self._saved_probabilities(probabilities)
        y = probabilities.reshape(-1, probabilities.shape[-1])
        batch_size = y.shape[0]
        dx = y.copy()
        dx[np.arange(batch_size), self._saved_labels(probabilities)] -= 1
        dx *= scale / batch_size
        return dx.reshape(probabilities.shape)


# Chapters 6 and 7 live in their own modules, written like the book, and are
# re-exported here so that zk_layers.reference is the one oracle namespace:
# Convolution, Pooling, im2col and col2im; BatchNormalization and
# Dropout.
from ._reference_conv import Convolution, Pooling, col2im, im2col  # noqa: E402,F401
from ._reference_embedding import Embedding  # noqa: E402,F401
from ._reference_regularization import BatchNormalization, Dropout  # noqa: E402,F401
