"""Gradients written in place, as the books write them (``grads[0][...] =
np.dot(x.T, dout)``), without the temporary where NumPy allows it."""
from __future__ import annotations

from typing import Any

import numpy as np


def _writable_into(grad: Any, dtype: Any, shape: tuple[int, ...]) -> bool:
    if type(grad) is not np.ndarray or grad.dtype != dtype or grad.shape != shape:
        return False
    flags = grad.flags
    return bool(flags.c_contiguous and flags.writeable)


def product_into(grad: Any, a: Any, b: Any) -> None:
    """``grad[...] = np.dot(a, b)``: the product written straight into
    ``grad`` when it fits (the same BLAS call; NumPy itself goes through a
    temporary if ``grad`` overlaps an input), else through a new array."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2 \
            and a.dtype == b.dtype and _writable_into(grad, a.dtype, (a.shape[0], b.shape[1])):
        np.dot(a, b, out=grad)
        return
    grad[...] = np.dot(a, b)


def sum_into(grad: Any, a: Any) -> None:
    """``grad[...] = np.sum(a, axis=0)``, straight into ``grad`` when it fits."""
    if type(a) is np.ndarray and a.ndim == 2 and _writable_into(grad, a.dtype, a.shape[1:]):
        np.sum(a, axis=0, out=grad)
        return
    grad[...] = np.sum(a, axis=0)
