"""The book's ``common/util.py``: smooth_curve, shuffle_dataset,
conv_output_size, im2col, col2im.

``im2col``/``col2im`` are zk_layers' compiled ones (issue 11) when this
installation has them, else NumPy versions with the book's results.
``shuffle_dataset`` draws its permutation from ``np.random``, as the book.
"""
from __future__ import annotations

from typing import Any

import numpy as np

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


def _im2col_numpy(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1,
                  pad: int = 0) -> np.ndarray:
    """(N, C, H, W) images to a (N*out_h*out_w, C*filter_h*filter_w) matrix,
    one row per output position, in the book's order."""
    n, c, h, w = input_data.shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, filter_h, filter_w, out_h, out_w))
    for dy in range(filter_h):
        for dx in range(filter_w):
            col[:, :, dy, dx, :, :] = img[:, :, dy:dy + stride * out_h:stride, dx:dx + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, -1)


def _col2im_numpy(col: np.ndarray, input_shape: tuple[int, ...], filter_h: int, filter_w: int,
                  stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of im2col: sums each row's entries back into their pixels."""
    n, c, h, w = input_shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    col = col.reshape(n, out_h, out_w, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for dy in range(filter_h):
        for dx in range(filter_w):
            img[:, :, dy:dy + stride * out_h:stride, dx:dx + stride * out_w:stride] += col[:, :, dy, dx, :, :]
    return img[:, :, pad:h + pad, pad:w + pad]


try:  # the compiled ones (issue 11), when this installation has them
    from ..convolution import col2im, im2col  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    im2col = _im2col_numpy
    col2im = _col2im_numpy
