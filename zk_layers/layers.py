"""The fast layers: the book's classes on compiled Cython/OpenMP kernels.

Same class names, constructor arguments, attributes and call signatures as
the book's ``common/layers.py`` and as :mod:`zk_layers.reference`.  Both
derive from the neutral bases of :mod:`zk_layers._base` (constructor and
saved state); forward and backward here are the compiled path; the
results agree with the reference to rounding (float64: rtol 1e-12; float32:
rtol 1e-5) and do not depend on the number of threads.

Each method validates its input, allocates the outputs, calls one kernel
and stores what ``backward`` needs.  Kernels work on contiguous memory:
C- and Fortran-ordered arrays are used in place, other layouts (strided
views) are copied once.  Outputs of the elementwise layers keep the input's
memory order.  Inputs are never modified and every call returns fresh
arrays.

Dtypes: float32 and float64 are computed natively; other real dtypes are
converted to float64.  When two operands differ (``x`` float32 with ``W``
float64, say) the computation runs in NumPy's result type, float64, and
so do the outputs; parameters are never converted in place.
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

# _kernels binds the glue modules to the best kernels before any call.
from . import _activations, _affine, _kernels, _platform, _softmax_loss  # noqa: F401
from ._base import AffineBase, ReluBase, SigmoidBase, SoftmaxWithLossBase
from ._graph import AddLayer, MulLayer
from ._validate import (
    FLOAT32,
    FLOAT64,
    affine_parameters,
    as_float_array,
    c_array,
    check_label_range,
    class_indices,
    flatten_batch,
    output_buffer,
    require_forward,
    require_shape,
    saved_mask,
    scalar_dout,
    softmax_input,
)
from ._validate import (
    ran as _ran,
)

Order = Literal["C", "F"]  # the memory order of a contiguous array

__all__ = ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss"]

def _contiguous(arr: np.ndarray) -> tuple[np.ndarray, Order]:
    """``arr`` itself and its memory order if it is C- or Fortran-contiguous
    (C wins for 1-D), else a C-ordered copy."""
    flags = arr.flags
    if flags.c_contiguous:
        return arr, "C"
    if flags.f_contiguous:
        return arr, "F"
    return np.ascontiguousarray(arr), "C"


def _upstream(dout: Any, like: np.ndarray, order: Order, dtype: np.dtype | None) -> np.ndarray:
    """Validate the ``dout`` of an elementwise backward and lay it out like
    the forward arrays: shape of ``like``, contiguous in ``order`` ("C" or
    "F"), so that flat views list the same elements in the same order; and
    ``dtype`` if given (else dout's own float dtype).  Copies only if needed."""
    if type(dout) is np.ndarray and dout.shape == like.shape:
        dout_dtype = dout.dtype
        if dout_dtype is dtype or (dtype is None and (dout_dtype is FLOAT64 or dout_dtype is FLOAT32)):
            flags = dout.flags
            if flags.c_contiguous if order == "C" else flags.f_contiguous:
                return dout  # the common case: nothing to check or convert
    dout = as_float_array(dout, "dout")
    require_shape(dout, "dout", like.shape, "the shape of the forward input")
    return np.asarray(dout, dtype=dtype or dout.dtype, order=order)


def _layer_owned_buffer(layer: Any, name: str, shape: tuple[int, ...], dtype: Any, order: str) -> np.ndarray:
    """The array the layer saved as ``name`` by its last ``forward(x, out=)``,
    for this call to write over, when it is an owning, writeable array of
    ``shape`` and ``dtype``, contiguous in ``order``; else a fresh one.

    A caller who passes ``out=`` is reusing memory: a fresh saved array (the
    mask, Sigmoid's copy of its output) would still cost that call its page
    faults (on a VM whose host takes back freed memory, they can cost more
    than the kernel: docs/performance.md).  The old array is reused only
    when the layer holds it alone (``_platform.take_owned``, the layers' one
    way to reuse a saved array, SoftmaxWithLoss's y too): a caller who kept
    ``layer.mask``, or a view of it, holds a reference, and then the layer
    takes a fresh one, so an array the caller holds never changes under it.
    (A layer object is not for two threads at once, see docs/reliability.md.)
    """
    saved = _platform.take_owned(layer, name)
    if (type(saved) is np.ndarray and saved.dtype == dtype and saved.shape == shape and saved.flags.owndata
            and saved.flags.writeable
            and (saved.flags.c_contiguous if order == "C" else saved.flags.f_contiguous)):
        return saved
    if saved is not None:
        setattr(layer, name, saved)  # it does not fit: left where it was
    return np.empty(shape, dtype, order=order)


class Relu(ReluBase):
    """Rectified linear unit, ``max(0, x)``, elementwise.

    ``forward(x)`` returns an array of x's shape and dtype (float32/float64;
    other real dtypes become float64) and sets ``mask``, the boolean array
    ``x <= 0``, in the same pass.  ``backward(dout)`` returns ``dout`` with
    zeros where ``mask`` is true (the gradient at x == 0 is 0, as in the
    book), in dout's dtype; ``dout`` must have x's shape.  NaN passes
    through as in NumPy.

    Both take an optional ``out=``: an array of the result's shape and dtype,
    contiguous in the input's memory order, that receives the result (and is
    returned) instead of a fresh one.  It may be the input itself (in-place
    use); it must not otherwise overlap an input.  Reusing a buffer avoids
    the page faults of a fresh large array.
    """

    def forward(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            done = _activations.relu_forward(x)
            if done is not None:  # the common case: the caller's arrays as they are
                out, self.mask = done
                return out
        x, order = _contiguous(as_float_array(x, "x"))
        mask = None
        if out is not None:
            out = output_buffer(out, x.shape, order, x.dtype, "out", (x,))
            mask = _layer_owned_buffer(self, "mask", x.shape, np.bool_, order)
        out, self.mask = _ran(_activations.relu_forward(x, out, mask))
        return out

    def backward(self, dout: Any, out: np.ndarray | None = None) -> np.ndarray:
        mask = self.mask
        if out is None:
            dx = _activations.relu_backward(dout, mask)
            if dx is not None:  # the common case: the caller's arrays as they are
                return dx
        mask, order = _contiguous(saved_mask(self, mask))
        dout = _upstream(dout, mask, order, None)
        if out is not None:
            out = output_buffer(out, dout.shape, order, dout.dtype, "out", (dout, mask))
        return _ran(_activations.relu_backward(dout, mask, out))


class Sigmoid(SigmoidBase):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise.

    ``forward(x)`` returns an array of x's shape and dtype and keeps it as
    ``out``; it never overflows, warns or returns inf/NaN for finite x.
    ``backward(dout)`` returns ``dout * (1 - out) * out`` in the result type
    of ``dout`` and ``out``.  Both take an optional ``out=`` buffer, as
    :class:`Relu` does (in Sigmoid.backward it must not be the saved ``out``).
    """

    def forward(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            done = _activations.sigmoid_forward(x)
            if done is not None:  # the common case: the caller's arrays as they are
                self.out = done  # as in the book: the returned array is the saved one
                return done
        x, order = _contiguous(as_float_array(x, "x"))
        if out is None:
            self.out = out = _ran(_activations.sigmoid_forward(x))  # as in the book: the saved array
            return out
        out = output_buffer(out, x.shape, order, x.dtype, "out", (x,))
        # The caller may reuse its buffer before backward: keep our own copy,
        # written by the kernel from each block of out while it is in cache.
        saved = _layer_owned_buffer(self, "out", x.shape, x.dtype, order)
        if np.may_share_memory(saved, out):  # out is the layer's own last copy
            saved = np.empty(x.shape, x.dtype, order=order)
        _ran(_activations.sigmoid_forward(x, out, saved))
        self.out = saved
        return out

    def backward(self, dout: Any, out: np.ndarray | None = None) -> np.ndarray:
        y = self.out
        if out is None:
            dx = _activations.sigmoid_backward(dout, y)
            if dx is not None:  # the common case: the caller's arrays as they are
                return dx
        require_forward(self, y)
        y, order = _contiguous(as_float_array(y, "Sigmoid.out"))
        dtype = y.dtype
        if not (type(dout) is np.ndarray and dout.dtype is dtype):
            dtype = np.result_type(as_float_array(dout, "dout").dtype, dtype)
            y = np.asarray(y, dtype=dtype, order=order)
        dout = _upstream(dout, y, order, dtype)
        if out is not None:
            if np.may_share_memory(out, self.out):
                raise ValueError("out must not be the layer's saved output (Sigmoid.out): it is needed "
                                 "by every later backward")
            out = output_buffer(out, dout.shape, order, dtype, "out", (dout, y))
        return _ran(_activations.sigmoid_backward(dout, y, out))


class Affine(AffineBase):
    """Fully connected layer, ``out = x @ W + b``.

    Parameters
    ----------
    W : ndarray of shape (D, M), float32 or float64
        Kept as given, never copied: an in-place update such as
        ``W -= lr * dW`` is what the next ``forward`` uses.  Any memory
        layout works.
    b : ndarray of shape (M,), same rules as W.
    need_dx : bool, default True
        When False, ``backward`` skips the product ``dout @ W.T`` and
        returns None: the first layer of a net needs no ``dx``.

    Attributes
    ----------
    x : ndarray of shape (N, D)
        The last input, flattened to 2-D: the caller's array (a view when
        the layout allows), never copied or converted, as in the book; an
        in-place change before ``backward`` reaches ``dW`` as it does in the
        book.
    original_x_shape : tuple
        Shape of the last input before flattening; ``dx`` has this shape.
    dW, db : ndarray
        Gradients from the last ``backward``.

    Notes
    -----
    ``forward(x)`` takes a batch of shape (N, D) or (N, d1, d2, ...) with
    ``d1 * d2 * ... == D``.  The products are the BLAS calls that
    ``np.dot`` and ``np.matmul`` make, with their bits (made directly from C
    where NumPy's BLAS allows, see ``show_config()``); the bias add and the
    ``db`` reduction run in the compiled kernels.
    """

    def forward(self, x: Any) -> np.ndarray:
        done = _affine.affine_forward(x, self.W, self.b)
        if done is not None:  # the common case: the caller's arrays as they are
            self.original_x_shape = self._shape_forward = x.shape
            self.x = self._x_forward = x
            return done
        W, b = affine_parameters(self.W, self.b)
        x = as_float_array(x, "x")
        original_x_shape = x.shape
        x = flatten_batch(x, W)
        dtype = W.dtype
        product = None
        if not (x.dtype is dtype and b.dtype is dtype):  # mixed dtypes: everything in NumPy's result type
            if x.dtype is FLOAT32 and b.dtype is dtype is FLOAT64:
                dtype = FLOAT64  # the book's case, decided without result_type
            else:
                dtype = np.result_type(x.dtype, W.dtype, b.dtype)
                W = W.astype(dtype, copy=False)
            product = _product_widened(x, W, dtype)
        out = _ran(_affine.affine_forward(_operand(x), _operand(W), c_array(b, dtype), product))
        self.original_x_shape = self._shape_forward = original_x_shape
        self.x = self._x_forward = x  # the caller's x (flattened), as in the book
        return out

    def backward(self, dout: Any) -> np.ndarray | None:
        x = self.x
        done = _affine.affine_backward(dout, x, self.W, self.b, self.need_dx, owner=_dW_owner(self))
        if done is not None and x is not None:  # the common case: the caller's arrays as they are
            self.dW, self.db, dx = done
            if dx is None:
                return None
            shape = self.original_x_shape
            if shape is not None and shape is self._shape_forward and x is self._x_forward and len(shape) == 2:
                return dx  # x was 2-D at forward: dx has its shape
            return dx.reshape(self._saved_shape(x))
        W, b = affine_parameters(self.W, self.b)
        x = self._saved_input(W)
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (x.shape[0], W.shape[1]), "the shape of the forward output")
        dtype = x.dtype
        if dout.dtype is not dtype:
            dtype = np.result_type(dout.dtype, x.dtype)
        dout = c_array(dout, dtype)
        dW = None if x.dtype is dtype else _transposed_product_widened(x, dout, dtype)
        # dx in the result type of dout and W, as the reference: by NumPy
        # when W has another dtype or layout than the kernels read.
        ready = W.dtype is dtype and W is _operand(W)
        self.dW, self.db, dx = _ran(_affine.affine_backward(
            dout, _operand(x), W, b, self.need_dx and ready, dW, checked=True, owner=_dW_owner(self)))
        if not self.need_dx:
            return None
        if not ready:
            dx = np.dot(dout, W.T)
        return dx.reshape(self._saved_shape(x))


def _dW_owner(layer: Any) -> Any:
    """The layer, for the glue to drop its last ``dW`` before allocating the
    next (its memory is then reused, still in cache); None when its class
    defines ``dW`` itself (a property, say), which the glue then leaves alone."""
    return None if _platform.class_defines(type(layer), "dW") else layer


def _operand(arr: np.ndarray, dtype: np.dtype | None = None) -> np.ndarray:
    """``arr`` as the products read it: an exact ndarray, aligned, in native
    byte order (and in ``dtype`` if given); the very array when it already
    is, else a temporary copy (a parameter itself is never converted)."""
    dtype = arr.dtype.newbyteorder("=") if dtype is None else dtype
    if type(arr) is np.ndarray and arr.dtype is dtype and arr.flags.aligned:
        return arr
    arr = np.asarray(arr)
    return arr.astype(dtype, copy=not arr.flags.aligned)


# Mixed dtypes (the book's own case: float32 images from its loader, float64
# weights).  np.dot(x32, W64) first converts all of x into a fresh float64
# array: for the book's accuracy passes over 60,000 images that is 376 MB of
# page faults before the product starts.  Converting a block of rows at a
# time into one cache-sized buffer and multiplying block by block gives the
# same products (each row of `out` is one row of x times W), faster at large
# N and no slower at small N (docs/performance.md).
_WIDEN_BLOCK_ELEMENTS = 1 << 18  # 2 MiB of float64 per block


def _block_rows(n_rows: int, n_columns: int) -> int:
    return max(1, min(n_rows, _WIDEN_BLOCK_ELEMENTS // max(1, n_columns)))


def _product_widened(x: np.ndarray, W: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x @ W`` in ``dtype`` for an ``x`` of a narrower dtype, converted
    block by block; W is already in ``dtype``."""
    n, d = x.shape
    out = np.empty((n, W.shape[1]), dtype)
    rows = _block_rows(n, d)
    if rows >= n:  # one block: the whole of x, converted once
        _affine.dot(x.astype(dtype), W, out)
        return out
    block = np.empty((rows, d), dtype)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        converted = block[: stop - start]
        np.copyto(converted, x[start:stop], casting="same_kind")
        _affine.dot(converted, W, out[start:stop])
    return out


def _transposed_product_widened(x: np.ndarray, dout: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``x.T @ dout`` in ``dtype`` for an ``x`` of a narrower dtype: the sum
    over row blocks, added in block order (the same for every thread count)."""
    n, d = x.shape
    result = np.empty((d, dout.shape[1]), dtype)
    if n == 0:
        result.fill(0)
        return result
    rows = _block_rows(n, d)
    block = np.empty((rows, d), dtype)
    partial = np.empty_like(result) if n > rows else result
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        converted = block[: stop - start]
        np.copyto(converted, x[start:stop], casting="same_kind")
        np.dot(converted.T, dout[start:stop], out=result if start == 0 else partial)
        if start:
            result += partial
    return result


class SoftmaxWithLoss(SoftmaxWithLossBase):
    """Softmax followed by the cross-entropy loss, averaged over the batch.

    Parameters
    ----------
    eps : float, default 1e-7
        ``forward`` returns ``mean(-log(y[t] + eps))``, the book's formula and
        numbers.  ``eps=0`` gives the exact cross-entropy, computed stably
        as ``logsumexp(x) - x[t]`` (no overflow for huge logits).

    Notes
    -----
    ``forward(x, t)`` takes scores ``x`` of shape (N, C) (or (C,) for one
    sample) and labels ``t``: class indices of shape (N,) with any integer
    dtype, or one-hot rows of shape (N, C) (exactly one 1 per row).  It
    stores ``y`` (the softmax, x's shape and dtype), ``t`` (as given) and
    ``loss`` (a Python float), and returns the loss.  An empty batch raises
    ValueError.  ``backward(dout=1)`` returns ``dout * (y - onehot(t)) / N``
    in y's dtype.  Each row is computed in one fused pass and the batch
    total is added serially, so results do not depend on the thread count.

    ``forward`` writes its ``y`` over the previous forward's ``y`` (same
    shape and dtype) when the layer holds that array's only reference; if
    you keep ``layer.y`` or a view of it, or assign ``layer.y`` yourself, the
    layer takes a fresh array and yours stays as it was.
    """

    def forward(self, x: Any, t: Any) -> float:
        # The last forward's y, when the layer holds it alone, is handed to
        # the kernel to write over (it takes it only if it fits), and is out
        # of the layer meanwhile: an interrupted forward leaves backward
        # raising instead of pairing a new y with the old labels.
        reuse = _platform.take_owned(self, "y")
        done = _softmax_loss.softmax_loss_forward(x, t, self.eps, reuse)
        if done is not None:  # the common case: the caller's arrays as they are
            loss, y, labels = done
            # The book's self.t = t; our own copy of the indices for backward.
            self.t = self._t_forward = t
            self._labels = labels
            self.y = y
            self._y_shape = y.shape
            self.loss = loss
            return loss
        if reuse is not None:
            self.y = reuse  # declined: the layer as it was
        x2d, single = softmax_input(x)
        n, n_classes = x2d.shape
        labels = class_indices(t, n, n_classes, single)
        check_label_range(labels, n_classes, _softmax_loss.first_invalid_label)
        loss, y, labels = _ran(_softmax_loss.softmax_loss_forward(c_array(x2d), labels, self.eps))
        self._remember_labels(t, labels)
        self.y = y.reshape(np.shape(x)) if single else y
        self._y_shape = self.y.shape
        self.loss = loss
        return loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        if self.t is self._t_forward:
            # Labels as forward checked them: y and dout are checked there.
            dx = _softmax_loss.softmax_loss_backward(self.y, self._labels, dout, self._y_shape)
            if dx is not None:  # the common case: the layer's arrays as they are
                return dx
        y = require_forward(self, self.y)
        scale = scalar_dout(dout)
        y = self._saved_probabilities(y)
        y2d = c_array(y).reshape(-1, y.shape[-1])
        dx = _ran(_softmax_loss.softmax_loss_backward(y2d, self._saved_labels(y), scale, y2d.shape))
        return dx if y.ndim == 2 else dx.reshape(y.shape)
