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

import math
from typing import Any

import numpy as np

from ._validate import (
    affine_parameters,
    as_float_array,
    check_label_range,
    class_indices,
    first_invalid_label,
    flatten_batch,
    memory_order,
    nonnegative_number,
    output_buffer,
    real_operand,
    require_forward,
    require_ndim,
    require_shape,
    saved_mask,
    scalar_dout,
)

__all__ = ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss"]


def _sum_to_shape(grad: Any, like: Any) -> Any:
    """Undo broadcasting: sum ``grad`` down to the shape of the operand ``like``."""
    shape = np.shape(like)
    if np.shape(grad) == shape:
        return grad
    grad = np.asarray(grad)
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    kept = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept:
        grad = grad.sum(axis=kept, keepdims=True)
    return grad[()] if shape == () else grad


def _check_upstream(dout: Any, out_shape: tuple[int, ...]) -> None:
    if np.shape(dout) != out_shape:
        raise ValueError(
            f"dout must have the shape of the forward output {out_shape}, "
            f"got shape {np.shape(dout)}"
        )


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


class _GraphNode:
    """What MulLayer and AddLayer share: remember the operands, check dout,
    and sum each gradient back to its operand's shape."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def _apply(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def forward(self, x: Any, y: Any) -> Any:
        x = real_operand(x, "x")
        y = real_operand(y, "y")
        out = self._apply(x, y)
        out_shape = np.shape(out)
        self.x, self.y, self._out_shape = x, y, out_shape
        return out

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x = require_forward(self, self.x)
        _check_upstream(real_operand(dout, "dout"), self._out_shape)
        dx, dy = self._local_gradients(dout)
        return _sum_to_shape(dx, x), _sum_to_shape(dy, self.y)


class MulLayer(_GraphNode):
    """Multiplication node of a computational graph: ``out = x * y``.

    ``forward(x, y)`` returns ``x * y`` and remembers both operands;
    ``backward(dout)`` returns ``(dout * y, dout * x)``: the operands swapped,
    as in the book.  Works on Python scalars (the book's shopping example)
    and on arrays; with broadcasting, each gradient is summed back to its
    operand's shape.  The fast and reference packages share this class:
    there is nothing to compile in one multiplication.
    """

    def _apply(self, x: Any, y: Any) -> Any:
        return x * y

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        return dout * self.y, dout * self.x


class AddLayer(_GraphNode):
    """Addition node of a computational graph: ``out = x + y``.

    ``backward(dout)`` passes the gradient through unchanged to both
    operands (summed back to each operand's shape when they were broadcast).
    """

    def _apply(self, x: Any, y: Any) -> Any:
        return x + y

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        return dout * 1, dout * 1


class Relu:
    """Rectified linear unit, ``max(0, x)``, elementwise.

    ``mask`` is the boolean array ``x <= 0`` from the last forward; the
    gradient is 0 there (at x == 0 too, as in the book).
    """

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

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


class Sigmoid:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise; ``out`` is kept."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

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


class Affine:
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

    def __init__(self, W: np.ndarray, b: np.ndarray, *, need_dx: bool = True) -> None:
        self.W, self.b = affine_parameters(W, b)
        self.need_dx = need_dx
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._x_forward: np.ndarray | None = None
        self._shape_forward: tuple[int, ...] | None = None

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

    def _saved_input(self, W: np.ndarray) -> np.ndarray:
        """``self.x`` as backward needs it: (N, D) with D = W's rows.  The
        book reads the attribute in backward, and so do we; a value assigned
        since forward is checked like an input."""
        x = require_forward(self, self.x)
        if x is not self._x_forward:
            x = as_float_array(x, "Affine.x")
            if x.ndim != 2 or x.shape[1] != W.shape[0]:
                raise ValueError(f"Affine.x was replaced by an array of shape {x.shape}: backward needs "
                                 f"the flattened input, of shape (N, {W.shape[0]}) for W of shape {W.shape}")
        elif x.shape[1] != W.shape[0]:
            raise ValueError(f"Affine.W was replaced by an array of shape {W.shape} since forward: it "
                             f"must have {x.shape[1]} rows, one per feature of the saved input")
        return x

    def _saved_shape(self, x: np.ndarray) -> tuple[int, ...]:
        """``self.original_x_shape``, checked against the saved input ``x``."""
        shape = require_forward(self, self.original_x_shape)
        if shape is self._shape_forward and x is self._x_forward:
            return shape  # as forward stored them
        try:
            shape = tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            raise TypeError(f"Affine.original_x_shape must be a tuple of sizes, got {shape!r}") from None
        if not shape or shape[0] != x.shape[0] or math.prod(shape[1:]) != x.shape[1]:
            raise ValueError(f"Affine.original_x_shape {shape} does not hold the saved input's "
                             f"{x.shape[0]} samples of {x.shape[1]} features")
        return shape


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum for stability."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


class SoftmaxWithLoss:
    """Softmax followed by the cross-entropy loss, averaged over the batch.

    Parameters
    ----------
    eps : float, default 1e-7
        The loss is ``mean(-log(y[t] + eps))``, the book's formula and
        numbers.  ``eps=0`` gives the exact cross-entropy, computed as
        ``logsumexp(x) - x[t]``.
    """

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = nonnegative_number(eps, "eps")
        self.loss: float | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self._t_forward: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._y_shape: tuple[int, ...] | None = None

    def forward(self, x: Any, t: Any) -> float:
        x2d, single = _softmax_input(x)
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

    def _remember_labels(self, t: Any, labels: np.ndarray) -> None:
        """Keep ``t`` as the book does and the layer's own copy of the class
        indices (``class_indices`` never returns the caller's memory), so a
        caller who changes ``t`` in place after forward cannot reach the
        kernels with unchecked labels."""
        self.t = np.asarray(t)
        self._t_forward = self.t
        self._labels = labels

    def _saved_probabilities(self, y: Any) -> np.ndarray:
        """``self.y`` as backward reads it (the book reads the attribute): the
        forward's array, or a value assigned since, checked like an input.
        With no forward at all (the book lets one set ``y`` and ``t`` by
        hand) any (N, C) or (C,) array of real numbers is accepted."""
        y = as_float_array(y, "SoftmaxWithLoss.y")
        if self._y_shape is not None:
            require_shape(y, "SoftmaxWithLoss.y", self._y_shape, "the shape of the last forward's y")
        else:
            require_ndim(y, "SoftmaxWithLoss.y", (1, 2), "probabilities of shape (N, C), or (C,) for one sample")
            if y.size == 0:
                raise ValueError(f"SoftmaxWithLoss.y must hold at least one sample and class, got shape {y.shape}")
        return y

    def _saved_labels(self, y: np.ndarray) -> np.ndarray:
        """The class indices for backward: the ones forward checked, or, if
        ``self.t`` was assigned since (the book's backward reads it), the
        new value, checked as forward checks ``t`` against ``y``'s shape."""
        if self._labels is not None and self._t_forward is not None and self.t is self._t_forward:
            return self._labels
        n_classes = y.shape[-1]
        n_rows = y.size // n_classes
        labels = class_indices(require_forward(self, self.t), n_rows, n_classes, y.ndim == 1)
        check_label_range(labels, n_classes, first_invalid_label)
        return labels

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


def _check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    eps = float(eps)
    if not (eps >= 0 and np.isfinite(eps)):
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    return eps


def _softmax_input(x: Any) -> tuple[np.ndarray, bool]:
    """x as a 2-D (N, C) float array, and whether it was a single sample."""
    x = as_float_array(x, "x")
    require_ndim(x, "x", (1, 2), "scores of shape (N, C), or (C,) for one sample")
    single = x.ndim == 1
    x2d = x.reshape(1, -1) if single else x
    if x2d.shape[0] == 0:
        raise ValueError("x is an empty batch (N = 0): the mean loss of no samples is undefined")
    if x2d.shape[1] == 0:
        raise ValueError(f"x must have at least one class column, got shape {x.shape}")
    return x2d, single

# Chapters 6 and 7 live in their own modules, written like the book, and are
# re-exported here so that zk_layers.reference is the one oracle namespace:
# Convolution, Pooling, im2col and col2im; BatchNormalization and
# Dropout.
from ._reference_conv import Convolution, Pooling, col2im, im2col  # noqa: E402,F401
from ._reference_regularization import BatchNormalization, Dropout  # noqa: E402,F401
