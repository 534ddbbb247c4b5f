"""The second volume's ``common/functions.py``: sigmoid, relu, softmax and
cross_entropy_error, with the book's formulas, dtypes and return values.

The second volume's softmax differs from the first's in its steps (a
row-wise maximum and sum with ``keepdims``, and an in-place division), and
its last bits follow those steps, so it is written out here on its own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..book.functions import cross_entropy_error  # the same function in both volumes
from .np import GPU  # noqa: F401 (the book's module namespace: `from common.functions import *`)

__all__ = ["sigmoid", "relu", "softmax", "cross_entropy_error", "np"]


def sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the value is 0
        return 1 / (1 + np.exp(-x))


def relu(x: Any) -> Any:
    """``max(0, x)`` elementwise."""
    return np.maximum(0, x)


def softmax(x: Any) -> Any:
    """Softmax of each row of a 2-D ``x`` (or of a 1-D ``x``), shifted by
    the maximum against overflow.  ``x`` itself is not changed; other
    dimensions are returned as given, as the book's function does."""
    if x.ndim == 2:
        y = x - x.max(axis=1, keepdims=True)
        if y.dtype.kind == "f":
            np.exp(y, y)  # the book's np.exp(y), into the same array
        else:
            y = np.exp(y)
        y /= y.sum(axis=1, keepdims=True)
        return y
    if x.ndim == 1:
        y = x - np.max(x)
        return np.exp(y) / np.sum(np.exp(y))
    return x
