"""The book's ``common/gradient.py``: central-difference gradients (h = 1e-4).

``numerical_gradient(f, x)`` is :func:`zk_layers.numerical_gradient` (any
shape; every element moved by +h and -h in place and restored, as the book
does); ``numerical_gradient_2d`` and ``_numerical_gradient_1d`` are the
book's row-by-row forms of chapter 4.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..gradient import numerical_gradient

__all__ = ["numerical_gradient", "numerical_gradient_2d"]


def _numerical_gradient_1d(f: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    """The gradient of ``f`` at a 1-D ``x``."""
    return numerical_gradient(f, x)


def numerical_gradient_2d(f: Callable[[np.ndarray], Any], X: np.ndarray) -> np.ndarray:  # noqa: N803
    """The gradient of ``f`` at each row of ``X`` (``f`` sees one row), or at
    ``X`` itself when it is 1-D."""
    if X.ndim == 1:
        return _numerical_gradient_1d(f, X)
    grad = np.zeros_like(X)
    for idx, x in enumerate(X):
        grad[idx] = _numerical_gradient_1d(f, x)
    return grad
