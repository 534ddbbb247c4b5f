"""The book's ``common/util.py``: smooth_curve, shuffle_dataset,
conv_output_size, im2col, col2im.

``im2col``/``col2im`` are zk_layers' compiled ones, with the
book's signatures and results.
``shuffle_dataset`` draws its permutation from ``np.random``, as the book.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..convolution import col2im, im2col

__all__ = ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]


def smooth_curve(x: Any) -> np.ndarray:
    """A loss curve smoothed by an 11-point Kaiser window (beta 2), mirrored
    at both ends so the result has x's length (for plots)."""
    window_len = 11
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def shuffle_dataset(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``t`` in one random order (``np.random.permutation``); x is
    2-D (N, D) or 4-D (N, C, H, W)."""
    permutation = np.random.permutation(x.shape[0])  # noqa: NPY002 (the book's generator)
    x = x[permutation, :] if x.ndim == 2 else x[permutation, :, :, :]
    t = t[permutation]
    return x, t


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> float:
    """``(input_size + 2*pad - filter_size) / stride + 1`` (a float, as in the book)."""
    return (input_size + 2 * pad - filter_size) / stride + 1
