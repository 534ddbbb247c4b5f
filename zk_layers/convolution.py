"""Convolution and Pooling (chapter 7) on compiled kernels, and im2col/col2im.

The book's classes, attributes and call signatures; they share their
constructor and saved-state checks with the NumPy versions in
:mod:`zk_layers._reference_conv` through :mod:`zk_layers._base` (so bad
input raises the same errors with the same messages) and agree with them to
rounding.  Kernels: ``src/_convolution.pyx``.

Convolution: the compiled im2col writes each image's patches as a (K, P)
matrix (K = C*FH*FW, P = OH*OW), so that one BLAS product per image,
``W.reshape(FN, K) @ col[n]``, lands in NCHW order with no transpose; the
bias is added in place.  Backward: ``db`` by a compiled sum (each filter by
one thread, in image order), ``dW`` as the per-image products summed in
image order, ``dx`` through the transposed product and a compiled col2im,
skipped with ``need_dx=False``.  The book's float32 images with float64
weights are widened inside im2col (no float64 copy of x).

Pooling: one pass over x gives the maxima and a compact int32 window index
per output; backward scatters ``dout`` to those positions.  No im2col.

What the fast layers keep differs from the book in layout only; the book's
attributes exist and mean what they mean there:

* ``Convolution.col`` is computed on demand from the layer's own (N, K, P)
  patches, in the book's (N*OH*OW, K) layout (a fresh array per access);
* ``Pooling.arg_max`` likewise, from the compact indices, as the book's
  intp array of shape (N*OH*OW*C,).

Assigning either attribute after forward is what backward then uses (as in
the book), after the checks an input gets; editing the returned array in
place changes nothing.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# _kernels binds the glue module to the best kernels before any call.
from . import _convolution, _kernels, _platform  # noqa: F401
from ._base import ConvolutionBase, PoolingBase, saved_arg_max, saved_col, saved_col_shape
from ._threads import GRAINS, run_parts, threads_for
from ._validate import (
    FLOAT32,
    FLOAT64,
    as_float_array,
    c_array,
    col2im_arguments,
    conv_geometry,
    conv_input,
    conv_parameters,
    image_input,
    ran,
    require_forward,
    require_shape,
    window_arguments,
)

__all__ = ["Convolution", "Pooling", "im2col", "col2im"]

_UNSET = object()  # an attribute not assigned since the last forward

# Forward and backward work on blocks of images with this many bytes of
# patches each: forward writes a block of patches and multiplies it by W
# while it is in cache (about half a 2 MB L2; the block sizes measured:
# docs/performance.md).
_BLOCK_BYTES = 1 << 20


def _images_per_block(image_bytes: int) -> int:
    """How many images' patches (image_bytes each) make one block."""
    return max(1, _BLOCK_BYTES // max(1, image_bytes))


# OpenBLAS runs a product of fewer than 2 x 65536 x 4 multiply-adds on the
# calling thread whatever its thread count (its GEMM threading threshold),
# and one image's products are that small for the book's convolutions
# ((30 x 25) x (25 x 576): 432,000).  So with more than one thread the images
# are split into parts, one per thread, each part its own im2col, products
# and col2im, block by block (run_parts).  Every image still gets the same
# calls, so the bits do not change with the thread count.  Larger products
# stay on one loop, which BLAS threads itself.  The number of parts follows
# the kernels' thread count (threads_for), so a build without OpenMP, whose
# kernels run on one thread, does not split either.
_SPLIT_PRODUCT_LIMIT = 2 * 65536 * 4


def _image_parts(N: int, product_size: int, work: int) -> int:
    """Parts to split N images into: 1, or one per thread (see above)."""
    if product_size >= _SPLIT_PRODUCT_LIMIT:
        return 1
    return max(1, min(N, threads_for(work, GRAINS.elementwise)))


def kernel_stride(stride: int, H: int, W: int, FH: int, FW: int, pad: int) -> int:
    """The stride the kernels are given: ``stride``, or a shorter one that
    places the same windows.  A stride longer than the padded input's span
    places one window per axis, at the top left, as any other such stride
    does; capped, every index the kernels compute stays below a few times
    the padded extent, which the geometry checks keep below 2**60."""
    return min(stride, max(H - FH, W - FW) + 2 * pad + 1)


def im2col(input_data: Any, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The book's im2col, compiled: patches of (N, C, H, W) images as rows.

    Returns a C-contiguous array of shape (N*OH*OW, C*filter_h*filter_w) in
    input_data's float dtype; see :func:`zk_layers.reference.im2col`.
    """
    filter_h, filter_w, stride, pad = window_arguments(filter_h, filter_w, stride, pad)
    x = image_input(input_data, "input_data")
    N, C, H, W, out_h, out_w = conv_geometry(x.shape, filter_h, filter_w, stride, pad, "input_data")
    x = c_array(x)
    col = np.empty((N * out_h * out_w, C * filter_h * filter_w), x.dtype)
    stride = kernel_stride(stride, H, W, filter_h, filter_w, pad)
    return ran(_convolution.im2col(x, col, (N, C, H, W, filter_h, filter_w, stride, pad, out_h, out_w), False))


def col2im(col: Any, input_shape: Any, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The book's col2im, compiled: the adjoint of :func:`im2col`.

    Returns a C-contiguous array of shape ``input_shape`` in col's float dtype.
    """
    col, (filter_h, filter_w, stride, pad), (N, C, H, W, out_h, out_w) = col2im_arguments(
        col, input_shape, filter_h, filter_w, stride, pad)
    col = c_array(col)
    dx = np.empty((N, C, H, W), col.dtype)
    stride = kernel_stride(stride, H, W, filter_h, filter_w, pad)
    return ran(_convolution.col2im(col, dx, (N, C, H, W, filter_h, filter_w, stride, pad, out_h, out_w), False))


class Convolution(ConvolutionBase):
    """Convolution layer: the book's class on compiled kernels and BLAS.

    Parameters
    ----------
    W : ndarray of shape (FN, C, FH, FW), float32 or float64
        Kept as given, never copied or converted: ``W -= lr * dW`` reaches
        the next forward.
    b : ndarray of shape (FN,)
    stride : int >= 1, default 1
    pad : int >= 0, default 0
    need_dx : bool, default True (keyword only)
        False: ``backward`` returns None and skips the dx product and col2im.

    Attributes
    ----------
    x : the last input (the caller's array, as in the book).
    col : the book's im2col matrix (N*OH*OW, C*FH*FW) of the last input,
        computed on demand from the layer's own patches.
    col_W : ``W.reshape(FN, -1).T`` in the computation's dtype.
    dW, db : gradients of the last backward, shapes of W and b.

    Notes
    -----
    ``forward(x)`` takes (N, C, H, W) images and returns (N, FN, OH, OW),
    C-contiguous, in NumPy's result type of x, W and b.  ``backward(dout)``
    returns dx of x's shape in the result type of dout and the patches.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, *,
                 need_dx: bool = True) -> None:
        self._patches: np.ndarray | None = None  # (N, K, P), the layer's own
        self._dpatches: np.ndarray | None = None  # backward's scratch, flat, reused
        self._col_assigned: Any = _UNSET
        super().__init__(W, b, stride, pad, need_dx=need_dx)

    @property
    def col(self) -> Any:
        """The book's ``col``: (N*OH*OW, C*FH*FW), computed on demand."""
        if self._col_assigned is not _UNSET:
            return self._col_assigned
        patches = self._patches
        if patches is None:
            return None
        n, k, p = patches.shape
        col = np.empty((n * p, k), patches.dtype)  # a copy even where a view would do: see forward
        col.reshape(n, p, k)[...] = patches.transpose(0, 2, 1)
        return col

    @col.setter
    def col(self, value: Any) -> None:
        self._col_assigned = value

    def forward(self, x: Any) -> np.ndarray:
        W, b = conv_parameters(self.W, self.b)
        stride, pad = self._window()
        x, (N, C, H, W_in, out_h, out_w) = conv_input(x, W, stride, pad)
        FN, _, FH, FW = W.shape
        K, P = C * FH * FW, out_h * out_w
        stride = kernel_stride(stride, H, W_in, FH, FW, pad)
        wdtype = W.dtype
        if x.dtype is wdtype and b.dtype is wdtype:
            dtype = wdtype
        elif x.dtype is FLOAT32 and wdtype is FLOAT64 and b.dtype is FLOAT64:
            dtype = FLOAT64  # the book's case, decided without result_type
        else:
            dtype = np.result_type(x.dtype, wdtype, b.dtype)
        xc = c_array(x)
        # The patches are the layer's own and never leave it (``col`` is
        # always a fresh copy), so the last forward's buffer is reused when
        # it fits: a fresh buffer costs its page faults again on every
        # training step.  Taken out of the layer meanwhile: nothing
        # half-written survives an exception.
        patches = _platform.take_owned(self, "_patches")
        if patches is None or patches.shape != (N, K, P) or patches.dtype is not dtype:
            patches = np.empty((N, K, P), dtype)
        W_matrix = W.reshape(FN, K)
        if W_matrix.dtype is not dtype:
            W_matrix = W_matrix.astype(dtype)
        out = np.empty((N, FN, P), dtype)
        # A few images at a time, so that BLAS reads each block of patches
        # while it is still in cache (the book's 100 images make 11.5 MB).
        block = _images_per_block(K * P * dtype.itemsize)
        image_in = C * H * W_in
        x_flat, patches_flat = xc.reshape(-1), patches.reshape(-1)
        parts = _image_parts(N, FN * K * P, N * K * P)
        serial = parts > 1  # inside a part: the parts already use the threads
        b = c_array(b, dtype)

        def part(i: int) -> None:
            first, last = i * N // parts, (i + 1) * N // parts
            for start in range(first, last, block):
                stop = min(last, start + block)
                geometry = (stop - start, C, H, W_in, FH, FW, stride, pad, out_h, out_w)
                # float32 images into float64 patches are widened while copied.
                ran(_convolution.im2col(x_flat[start * image_in:stop * image_in],
                                        patches_flat[start * K * P:stop * K * P], geometry, True, serial))
                np.matmul(W_matrix, patches[start:stop], out=out[start:stop])
                # The bias while this block of out is still in cache.
                ran(_convolution.bias_add(out[start:stop], b, serial))

        run_parts(part, parts)
        self.x = x
        self._patches = patches
        self._col_assigned = _UNSET
        self.col_W = W_matrix.T
        return out.reshape(N, FN, out_h, out_w)

    def backward(self, dout: Any) -> np.ndarray | None:
        W, _ = conv_parameters(self.W, self.b)
        stride, pad = self._window()
        N, C, H, W_in, out_h, out_w = self._saved_geometry(W, stride, pad)
        FN, _, FH, FW = W.shape
        K, P = C * FH * FW, out_h * out_w
        stride = kernel_stride(stride, H, W_in, FH, FW, pad)
        if self._col_assigned is _UNSET:
            patches = require_forward(self, self._patches)
            saved_col_shape((patches.shape[0] * patches.shape[2], patches.shape[1]), (N * P, K))
        else:
            col = saved_col(require_forward(self, self._col_assigned), (N * P, K))
            patches = col.reshape(N, P, K).transpose(0, 2, 1)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (N, FN, out_h, out_w), "the shape of the forward output")
        dtype = patches.dtype
        if dout.dtype is not dtype:
            dtype = np.result_type(dout.dtype, dtype)
        dout3 = c_array(dout, dtype).reshape(N, FN, P)
        if patches.dtype is not dtype:
            patches = patches.astype(dtype)

        # dW: one product per image, then the images added in order (the
        # same sums whatever the thread count).  dx: each image's patch
        # gradients W.T @ dout[n], added into its pixels by col2im.  Both
        # block by block, as forward: a block of dout is read by both
        # products while it is in cache, and the patch gradients go through a
        # buffer of the layer's own into col2im (no fresh 11.5 MB array for
        # the book's 100 images); the blocks change no bits (tested).  db:
        # on one part, each block's sums too while it is in cache (the
        # kernel's running sums carry over, so the bits are those of one
        # pass); over several parts, one pass after them.
        products = np.empty((N, FN, K), dtype)
        block = _images_per_block(K * P * dtype.itemsize)
        parts = _image_parts(N, FN * K * P, N * K * P)
        serial = parts > 1  # inside a part: the parts already use the threads
        lanes = np.zeros((FN, 8)) if parts == 1 else None
        db = None
        dx = dpatches = None
        if self.need_dx:
            dx = np.empty((N, C, H, W_in), dtype)
            dpatches = _platform.take_owned(self, "_dpatches")
            chunk = min(block, N) * K * P  # a block's worth for each part
            if dpatches is None or dpatches.size < parts * chunk or dpatches.dtype is not dtype:
                dpatches = np.empty(parts * chunk, dtype)
            # W.T as a C-contiguous copy (FN*K numbers): OpenBLAS runs the
            # plain matrix product faster than the transposed one, with the
            # same bits (tested).  Not for a 1x1 output (P = 1): NumPy then calls gemv,
            # whose kernels for the two layouts round differently, and the
            # view keeps np.matmul(W.T, dout)'s bits.
            W_t = W.reshape(FN, K).T.astype(dtype, copy=False)
            if P > 1:
                W_t = np.ascontiguousarray(W_t)
            dx_flat = dx.reshape(-1)
            image_in = C * H * W_in

        def part(i: int) -> None:
            nonlocal db
            first, last = i * N // parts, (i + 1) * N // parts
            for start in range(first, last, block):
                stop = min(last, start + block)
                np.matmul(dout3[start:stop], patches[start:stop].transpose(0, 2, 1), out=products[start:stop])
                if lanes is not None:
                    sums = ran(_convolution.bias_gradient(dout3[start:stop], lanes, stop == last))
                    if stop == last:
                        db = sums
                if dpatches is not None:  # need_dx
                    n = stop - start
                    target = dpatches[i * chunk:i * chunk + n * K * P]
                    np.matmul(W_t, dout3[start:stop], out=target.reshape(n, K, P))
                    ran(_convolution.col2im(target, dx_flat[start * image_in:stop * image_in],
                                            (n, C, H, W_in, FH, FW, stride, pad, out_h, out_w), True, serial))

        run_parts(part, parts)
        if db is None:  # several parts, or an empty batch
            db = ran(_convolution.bias_gradient(dout3))
        self.dW = products.sum(axis=0).reshape(FN, C, FH, FW)  # zeros for an empty batch
        self.db = db
        if dpatches is not None:
            self._dpatches = dpatches
        return dx


class Pooling(PoolingBase):
    """Max pooling: the book's class, one compiled pass each way.

    Parameters
    ----------
    pool_h, pool_w : int >= 1
    stride : int >= 1, default 2
    pad : int >= 0, default 0 (zero padding, as the book's im2col pads)

    Attributes
    ----------
    x : the last input.
    arg_max : intp array of shape (N*OH*OW*C,), the book's: each window's
        first maximum as ``i * pool_w + j``, in the order (n, oh, ow, c);
        computed on demand from the layer's compact int32 copy.

    Notes
    -----
    ``forward(x)`` returns (N, C, OH, OW) in x's float dtype; ``backward(dout)``
    returns dx of x's shape in dout's float dtype.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        self._windows: np.ndarray | None = None  # (N, C, OH, OW) int32, the layer's own
        self._arg_max_assigned: Any = _UNSET
        super().__init__(pool_h, pool_w, stride, pad)

    @property
    def arg_max(self) -> Any:
        """The book's ``arg_max``, computed on demand."""
        if self._arg_max_assigned is not _UNSET:
            return self._arg_max_assigned
        windows = self._windows
        if windows is None:
            return None
        return windows.transpose(0, 2, 3, 1).reshape(-1).astype(np.intp)

    @arg_max.setter
    def arg_max(self, value: Any) -> None:
        self._arg_max_assigned = value

    def forward(self, x: Any) -> np.ndarray:
        window = self._window()
        pool_h, pool_w, stride, pad = window
        x = image_input(x, "x")
        N, C, H, W, out_h, out_w = self._geometry(x.shape, window, "x")
        xc = c_array(x)
        out, windows = ran(_convolution.max_pool_forward(
            xc, (pool_h, pool_w, kernel_stride(stride, H, W, pool_h, pool_w, pad), pad, out_h, out_w)))
        self.x = x
        self._windows = windows
        self._arg_max_assigned = _UNSET
        self._pool_forward = (window, x.shape)
        return out

    def backward(self, dout: Any) -> np.ndarray:
        window, (N, C, H, W, out_h, out_w), unchanged = self._saved_state()
        pool_h, pool_w, stride, pad = window
        if unchanged and self._arg_max_assigned is _UNSET:
            windows = require_forward(self, self._windows)
        else:
            arg_max = saved_arg_max(require_forward(self, self.arg_max), N * out_h * out_w * C, pool_h * pool_w)
            windows = np.ascontiguousarray(arg_max.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2),
                                           dtype=np.int32)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (N, C, out_h, out_w), "the shape of the forward output")
        dout = c_array(dout)
        return ran(_convolution.max_pool_backward(
            dout, windows, np.empty((N, C, H, W), dout.dtype),
            (pool_h, pool_w, kernel_stride(stride, H, W, pool_h, pool_w, pad), pad, out_h, out_w)))
