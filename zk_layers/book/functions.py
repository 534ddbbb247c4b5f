"""The book's ``common/functions.py``: activation, softmax and loss functions.

Plain NumPy with the book's formulas and return types (the layers, not these
helpers, are what zk_layers compiles).  ``sigmoid`` silences NumPy's
overflow warning for very negative inputs (the value, 0, is the same).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
           "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss"]


def identity_function(x: Any) -> Any:
    """``x`` itself (the output layer of a regression)."""
    return x


def step_function(x: Any) -> np.ndarray:
    """1 where x > 0 else 0, as an integer array."""
    return np.array(x > 0, dtype=int)


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def sigmoid_grad(x: Any) -> Any:
    """Derivative of the sigmoid at x: ``(1 - sigmoid(x)) * sigmoid(x)``."""
    return (1.0 - sigmoid(x)) * sigmoid(x)


def relu(x: Any) -> Any:
    """``max(0, x)`` elementwise."""
    return np.maximum(0, x)


def relu_grad(x: np.ndarray) -> np.ndarray:
    """1 where x >= 0 else 0 (the book's convention at 0), in x's dtype."""
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def softmax(x: Any) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum against overflow."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def sum_squared_error(y: Any, t: Any) -> Any:
    """``0.5 * sum((y - t)**2)``."""
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> Any:
    """Mean of ``-log(y[t] + 1e-7)`` over the batch; t: indices or one-hot."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot rows: their class indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def softmax_loss(X: Any, t: Any) -> Any:  # noqa: N803 (the book's name)
    """``cross_entropy_error(softmax(X), t)``."""
    return cross_entropy_error(softmax(X), t)
