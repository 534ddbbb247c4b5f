"""Convolution and Pooling of chapter 7 in plain NumPy: the oracle.

Written like the book's ``common/layers.py`` and ``common/util.py``
(im2col, col2im, ``Convolution``, ``Pooling``).  The constructors and the
checks that both implementations share live in :mod:`zk_layers._base` and
:mod:`zk_layers._validate`, so bad input raises the same exception with the
same message in both, and this module imports nothing of the fast layers.

Where this module differs from the book, on purpose:

* dtypes: the book's ``im2col`` and ``col2im`` always return float64 (they
  fill ``np.zeros`` arrays); here they keep the input's float dtype, and the
  layers compute in NumPy's result type of their operands, as ``Affine``
  does (float32 images with the book's float64 weights: float64);
* ``Pooling`` with ``pad > 0`` pools the zero-padded image that the book's
  ``im2col`` produces, with the output size ``im2col`` gives (the book
  computes a smaller size and fails to reshape);
* backward reads the attributes, as the book does, but checks them first
  (shapes against the saved input and the current ``W``, ``stride``,
  ``pad``; ``arg_max`` values against the window), and ``dx`` is computed
  from ``W`` rather than from the cached ``col_W`` (the same array unless
  ``W`` was replaced);
* ``Convolution(..., need_dx=False)`` skips ``dx`` (a first layer needs none).

Output sizes are rounded down, as in the book's im2col (and in PyTorch):
an 8x8 input with a 3x3 window and stride 2 gives 3x3, the last row and
column unused.  The book relies on that (chapter 8 pools 7x7 maps to 3x3).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._base import ConvolutionBase, PoolingBase, saved_arg_max, saved_col, saved_col_shape
from ._validate import (
    as_float_array,
    col2im_arguments,
    conv_geometry,
    conv_input,
    conv_parameters,
    image_input,
    require_forward,
    require_shape,
    window_arguments,
)

__all__ = ["Convolution", "Pooling", "im2col", "col2im"]

# --------------------------------------------------------- im2col, col2im
def im2col(input_data: Any, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Patches of a batch of images as rows of a matrix (the book's im2col).

    Parameters
    ----------
    input_data : array of shape (N, C, H, W)
    filter_h, filter_w : int >= 1
    stride : int >= 1, default 1
    pad : int >= 0, default 0 (zeros on every side)

    Returns
    -------
    col : ndarray of shape (N*OH*OW, C*FH*FW), input_data's float dtype;
        row (n, oh, ow), column (c, i, j) holds
        ``x[n, c, oh*stride + i - pad, ow*stride + j - pad]`` (0 in the padding).
    """
    filter_h, filter_w, stride, pad = window_arguments(filter_h, filter_w, stride, pad)
    input_data = image_input(input_data, "input_data")
    N, C, H, W, out_h, out_w = conv_geometry(input_data.shape, filter_h, filter_w, stride, pad, "input_data")

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    # The explicit width (the book writes -1) also serves an empty batch.
    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, C * filter_h * filter_w)
    return col


def col2im(col: Any, input_shape: Any, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The adjoint of im2col (the book's col2im): each pixel receives the sum
    of the entries of ``col`` that im2col copied from it.

    Parameters
    ----------
    col : array of shape (N*OH*OW, C*FH*FW)
    input_shape : (N, C, H, W), the shape of the images
    filter_h, filter_w, stride, pad : as for :func:`im2col`

    Returns
    -------
    ndarray of shape ``input_shape`` in col's float dtype.
    """
    col, (filter_h, filter_w, stride, pad), (N, C, H, W, out_h, out_w) = col2im_arguments(
        col, input_shape, filter_h, filter_w, stride, pad)
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)

    # The book adds stride - 1 rows and columns, which no slice below
    # reaches; without them a huge stride needs no huge array.
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]

    return img[:, :, pad:H + pad, pad:W + pad]


# ------------------------------------------------------------------ layers
class Convolution(ConvolutionBase):
    """Convolution layer (the book's): ``out[n, f] = sum over c of x[n, c] * W[f, c] + b[f]``.

    Parameters
    ----------
    W : ndarray of shape (FN, C, FH, FW), float32 or float64
        Kept as given, never copied: in-place updates reach the layer.
    b : ndarray of shape (FN,), same rules.
    stride : int >= 1, default 1
    pad : int >= 0, default 0
    need_dx : bool, default True (keyword only)
        When False, ``backward`` computes only ``dW`` and ``db`` and returns None.

    Attributes
    ----------
    x : the last input (the caller's array); col : its im2col matrix
    (N*OH*OW, C*FH*FW); col_W : W as a (C*FH*FW, FN) matrix; dW, db.
    """

    def forward(self, x: Any) -> np.ndarray:
        W, b = conv_parameters(self.W, self.b)
        stride, pad = self._window()
        x, (N, C, H, W_in, out_h, out_w) = conv_input(x, W, stride, pad)
        FN, C, FH, FW = W.shape
        dtype = np.result_type(x.dtype, W.dtype, b.dtype)

        col = im2col(x.astype(dtype, copy=False), FH, FW, stride, pad)
        col_W = W.astype(dtype, copy=False).reshape(FN, -1).T

        out = np.dot(col, col_W) + b
        out = out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

        self.x = x
        # The layer's own copy is what backward uses unless `col` is assigned:
        # the fast layer computes `col` on demand, so editing the attribute in
        # place must not reach backward here either.
        self.col = self._col_forward = col
        self._col_own = col.copy()
        self.col_W = col_W
        return out

    def backward(self, dout: Any) -> np.ndarray | None:
        W, _ = conv_parameters(self.W, self.b)
        stride, pad = self._window()
        N, C, H, W_in, out_h, out_w = self._saved_geometry(W, stride, pad)
        FN, C, FH, FW = W.shape
        expected = (N * out_h * out_w, C * FH * FW)
        col = require_forward(self, self.col)
        if col is self._col_forward:
            col = self._col_own
            saved_col_shape(col.shape, expected)
        else:
            col = saved_col(col, expected)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (N, FN, out_h, out_w), "the shape of the forward output")
        dtype = np.result_type(dout.dtype, col.dtype)

        dout = dout.astype(dtype, copy=False).transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(col.astype(dtype, copy=False).T, dout)
        self.dW = self.dW.transpose(1, 0).reshape(FN, C, FH, FW)
        if not self.need_dx:
            return None

        dcol = np.dot(dout, W.astype(dtype, copy=False).reshape(FN, -1))
        dx = col2im(dcol, (N, C, H, W_in), FH, FW, stride, pad)
        return dx


class Pooling(PoolingBase):
    """Max pooling (the book's): the maximum of each pool_h x pool_w window
    (both >= 1), placed every ``stride`` (>= 1, default 2) over the input
    padded with ``pad`` zeros (>= 0, default 0), as the book's im2col pads.

    It keeps the last input as ``x`` and, as ``arg_max`` (intp, N*OH*OW*C
    entries in the book's order n, oh, ow, c), the index ``i * pool_w + j``
    of each window's maximum.
    """

    def forward(self, x: Any) -> np.ndarray:
        window = self._window()
        pool_h, pool_w, stride, pad = window
        x = image_input(x, "x")
        N, C, H, W, out_h, out_w = self._geometry(x.shape, window, "x")

        col = im2col(x, pool_h, pool_w, stride, pad)
        col = col.reshape(-1, pool_h * pool_w)

        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = self._arg_max_forward = arg_max
        self._arg_max_own = arg_max.copy()  # see Convolution.forward
        self._pool_forward = (window, x.shape)
        return out

    def backward(self, dout: Any) -> np.ndarray:
        window, (N, C, H, W, out_h, out_w), unchanged = self._saved_state()
        pool_h, pool_w, stride, pad = window
        pool_size = pool_h * pool_w
        arg_max = require_forward(self, self.arg_max)
        if unchanged and arg_max is self._arg_max_forward:
            arg_max = self._arg_max_own
        else:
            arg_max = saved_arg_max(arg_max, N * out_h * out_w * C, pool_size)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (N, C, out_h, out_w), "the shape of the forward output")

        dout = dout.transpose(0, 2, 3, 1)
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(arg_max.size), arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))

        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], C * pool_size)
        dx = col2im(dcol, (N, C, H, W), pool_h, pool_w, stride, pad)
        return dx
