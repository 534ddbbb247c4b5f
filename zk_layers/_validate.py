"""Input checks shared by the fast layers, the reference and the rest of
the package.

Both implementations raise the same exceptions with the same messages, so
the reference stays a faithful oracle for the error behaviour as well.
Every check runs before any kernel sees the data: the kernels are compiled
without bounds checks and trust what they are given.

One rule everywhere: ``TypeError`` for a value of the wrong type,
``ValueError`` for a value of the right type that is out of range.  Every
scalar the package takes (``eps``, learning rates, sizes, thread counts,
step sizes) is checked by one of the scalar checks below.
"""
from __future__ import annotations

import math
import sys
from typing import Any, TypeVar

import numpy as np

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
NATIVE_FLOATS = (FLOAT32, FLOAT64)


def float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype, float32 or float64 only (the kernels' dtypes)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if resolved not in NATIVE_FLOATS:
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


class ForwardNotCalledError(RuntimeError, ValueError):
    """``backward`` was called on a layer whose ``forward`` has not run."""


_State = TypeVar("_State")


# ----------------------------------------------------------------- scalars
def real_number(value: Any, name: str) -> float:
    """A real scalar (Python or NumPy int/float, not bool) as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def positive_number(value: Any, name: str) -> float:
    """A finite real number > 0 (learning rates, step sizes)."""
    number = real_number(value, name)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {number}")
    return number


def nonnegative_number(value: Any, name: str) -> float:
    """A finite real number >= 0 (``eps``)."""
    number = real_number(value, name)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {number}")
    return number


def fraction(value: Any, name: str) -> float:
    """A real number in [0, 1) (momentum, Adam's betas, dropout ratios)."""
    number = real_number(value, name)
    if not 0 <= number < 1:
        raise ValueError(f"{name} must be in [0, 1), got {number}")
    return number


def random_state(rng: Any) -> Any:
    """``rng`` if it is a numpy.random.RandomState (whose ``rand`` and
    ``randn`` draw as the book's global ``np.random`` does), or None."""
    if rng is not None and not isinstance(rng, np.random.RandomState):
        raise TypeError(f"rng must be a numpy.random.RandomState or None (the global np.random), "
                        f"got {type(rng).__name__}")
    return rng


def _integer(value: Any, name: str, minimum: int, what: str) -> int:
    """An integer >= minimum; NumPy integers are accepted through
    ``__index__``, bools and floats are not."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a {what} integer, got bool {value!r}")
    if not isinstance(value, int):
        try:
            value = int(value.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"{name} must be a {what} integer, got {type(value).__name__} {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be a {what} integer, got {value}")
    return value


def positive_int(value: Any, name: str) -> int:
    """An integer >= 1 (sizes, counts, thread numbers, strides)."""
    return _integer(value, name, 1, "positive")


def nonnegative_int(value: Any, name: str) -> int:
    """An integer >= 0 (padding)."""
    return _integer(value, name, 0, "non-negative")


# ------------------------------------------------------------------ arrays
def require_forward(layer: object, state: _State | None) -> _State:
    """``state`` (what forward stored), or ForwardNotCalledError if it is None."""
    if state is None:
        raise ForwardNotCalledError(
            f"{type(layer).__name__}.backward() called before forward(): "
            "there is nothing to differentiate yet"
        )
    return state


def saved_mask(layer: object, mask: Any) -> np.ndarray:
    """Relu's ``mask`` as backward reads it (the attribute, as in the book):
    a boolean array; a value assigned since forward is checked here, its
    shape by the caller against ``dout``."""
    mask = require_forward(layer, mask)
    if not (isinstance(mask, (np.ndarray, np.bool_)) and mask.dtype == np.bool_):
        raise TypeError(f"{type(layer).__name__}.mask must be a boolean array (x <= 0 from forward), "
                        f"got {_describe(mask)}")
    return np.asarray(mask)


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"array of dtype {x.dtype} and shape {x.shape}"
    return f"{type(x).__name__}"


def as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as an ndarray of float32 or float64, copying only if needed.

    float32 and float64 (native byte order) pass through untouched; other
    real dtypes (integers, float16, long double, byte-swapped floats) are
    converted to float64.  Booleans, complex numbers, strings, objects and
    structured arrays raise TypeError.
    """
    if type(x) is np.ndarray and (x.dtype is FLOAT64 or x.dtype is FLOAT32):
        return x  # the common case, decided in ~100 ns (identity, not equality)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a real-valued array, got {_describe(x)}: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype in NATIVE_FLOATS:
            return arr
        target = FLOAT32 if arr.dtype.itemsize == 4 else FLOAT64
        return arr.astype(target)
    if kind in "iu":
        return arr.astype(FLOAT64)
    what = {
        "b": "booleans (convert with .astype(float) if you mean 0/1)",
        "c": "complex numbers",
        "O": "Python objects",
        "V": "a structured/void dtype",
        "U": "strings",
        "S": "bytes",
        "M": "datetimes",
        "m": "timedeltas",
    }.get(kind, f"dtype {arr.dtype}")
    raise TypeError(
        f"{name} must hold real numbers (float32, float64 or integers), "
        f"got {what}: dtype {arr.dtype}"
    )


def require_ndim(arr: np.ndarray, name: str, ndims: tuple[int, ...], what: str) -> None:
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name} must be {what}, got an array of {arr.ndim} dimension(s) "
            f"with shape {arr.shape}"
        )


def c_array(arr: np.ndarray, dtype: np.dtype | None = None) -> np.ndarray:
    """``arr`` as the kernels read it: an ndarray (not a subclass),
    C-contiguous and aligned (and of ``dtype`` if given); the very array when
    it already is, else a view or a copy."""
    flags = arr.flags
    if type(arr) is np.ndarray and (dtype is None or arr.dtype is dtype) and flags.c_contiguous and flags.aligned:
        return arr
    return np.require(arr, dtype=dtype, requirements=("C", "A", "E"))


def memory_order(arr: np.ndarray) -> str:
    """"C" or "F": the order a contiguous copy of ``arr`` is laid out in
    (C for C-contiguous and for non-contiguous arrays, F for Fortran)."""
    return "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"


def output_buffer(out: Any, shape: tuple[int, ...], order: str, dtype: np.dtype, name: str,
                  inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    """A caller's ``out=`` buffer, checked: an ndarray of ``shape`` and
    ``dtype``, contiguous in ``order``, writeable, and either the very
    memory of an input (in-place use) or not overlapping any input."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {out.dtype}")
    if not (out.flags.c_contiguous if order == "C" else out.flags.f_contiguous):
        raise ValueError(f"{name} must be {'C' if order == 'C' else 'Fortran'}-contiguous like the input")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    for array in inputs:
        if np.may_share_memory(out, array):
            same = (out.__array_interface__["data"][0] == array.__array_interface__["data"][0]
                    and out.strides == array.strides and out.dtype == array.dtype)
            if not same:
                raise ValueError(f"{name} overlaps an input without being the same memory: "
                                 "pass the input itself for in-place use, or a separate array")
    return out


def flatten_batch(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Affine's input as (N, D): (N, d1, d2, ...) is flattened (a view when
    the layout allows), and D must equal W's number of rows."""
    if x.ndim == 2 and x.shape[1] == W.shape[0]:
        return x  # the common case: already (N, D)
    if x.ndim < 2:
        raise ValueError(
            f"x must be a batch of shape (N, ...) with at least 2 dimensions, "
            f"got shape {x.shape} (reshape one sample to (1, -1))"
        )
    x2d = x.reshape(x.shape[0], math.prod(x.shape[1:]))  # also for N = 0
    if x2d.shape[1] != W.shape[0]:
        raise ValueError(
            f"x has {x2d.shape[1]} features per sample but W has shape {W.shape}: "
            f"W must have {x2d.shape[1]} rows, or x {W.shape[0]} features"
        )
    return x2d


def require_shape(arr: np.ndarray, name: str, shape: tuple[int, ...], why: str) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({why}), got shape {arr.shape}")


def require_parameter(value: Any, name: str, ndim: int) -> np.ndarray:
    """Affine's W and b: a float32/float64 ndarray of the given ndim, kept as is.

    Parameters are never copied or converted: the layer must keep the
    caller's array so that in-place updates reach it.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array (the layer keeps it without copying, "
            f"so in-place updates reach it), got {type(value).__name__}"
        )
    if value.dtype.kind != "f" or value.dtype.itemsize not in (4, 8):
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D, got an array of {value.ndim} dimension(s) "
            f"with shape {value.shape}"
        )
    return value


def affine_parameters(W: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Affine's W (D, M) and b (M,), checked and returned as the same objects."""
    if type(W) is np.ndarray and type(b) is np.ndarray:
        dtype = W.dtype
        if (dtype is FLOAT64 or dtype is FLOAT32) and b.dtype is dtype and W.ndim == 2 and b.shape == (W.shape[1],):
            return W, b  # the common case, checked in ~0.3 us
    W = require_parameter(W, "W", 2)
    b = require_parameter(b, "b", 1)
    if b.shape[0] != W.shape[1]:
        raise ValueError(
            f"b must have shape ({W.shape[1]},) to match W of shape {W.shape}, got shape {b.shape}"
        )
    return W, b


def scalar_dout(dout: Any) -> float:
    """The upstream gradient of a scalar loss, as a Python float."""
    if type(dout) is int or type(dout) is float:
        return float(dout)  # the common case: backward() or backward(1)
    if np.ndim(dout) != 0:
        raise ValueError(
            f"dout must be a scalar (the loss is a scalar), got shape {np.shape(dout)}"
        )
    kind = np.asarray(dout).dtype.kind
    if kind not in "iuf":
        raise TypeError(f"dout must be a real number, got {_describe(dout)} {dout!r}")
    return float(dout)


def real_operand(value: Any, name: str) -> Any:
    """MulLayer/AddLayer operands: real scalars or arrays.

    Python numbers and NumPy arrays/scalars are kept as given (so the
    shopping example computes with plain floats); lists and tuples become
    arrays, so that ``*`` and ``+`` are elementwise and not Python's
    sequence repetition and concatenation."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number or array, got bool {value!r}")
    if isinstance(value, (int, float)):
        return value
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a real number or array, got {_describe(value)}: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or array, got {_describe(value)} {value!r}")
    return arr if isinstance(value, (list, tuple)) else value


def class_indices(t: Any, n_samples: int, n_classes: int, single_sample: bool,
                  classes: str = "the number of columns of x") -> np.ndarray:
    """Labels of SoftmaxWithLoss as an intp array of shape (n_samples,).

    ``t`` holds class indices (any integer dtype; shape (N,) or (N, 1), or a
    scalar for a single sample) or one-hot rows (shape (N, C), or (C,) for a single
    sample).  One-hot rows must contain only 0 and 1 with exactly one 1.
    Range checks of the indices are done by the caller (see
    ``check_label_range``), which knows how to do them fast.  ``classes``
    says in messages where ``n_classes`` comes from.
    """
    try:
        t_arr = np.asarray(t)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"t must be an array of class indices or one-hot rows, got {_describe(t)}: {exc}") from None
    kind = t_arr.dtype.kind
    if single_sample:
        # A scalar or a 1-element array is an index; C elements are one-hot.
        is_one_hot = t_arr.ndim == 1 and not (t_arr.shape == (1,) and n_classes != 1)
        index_ndims: tuple[int, ...] = (0, 1)
    else:
        # A column of indices, shape (N, 1), as the book's scripts pass for
        # one sample (ch07/gradient_check.py), is indices unless C == 1.
        column = t_arr.shape == (n_samples, 1) and n_classes != 1
        is_one_hot = t_arr.ndim == 2 and not column
        index_ndims = (1, 2) if column else (1,)
    if is_one_hot:
        expected = (n_classes,) if single_sample else (n_samples, n_classes)
        if t_arr.shape != expected:
            raise ValueError(
                f"one-hot t must have shape {expected} (one row of {n_classes} classes "
                f"per sample of x), got shape {t_arr.shape}"
            )
        if kind not in "biuf":
            raise TypeError(f"one-hot t must be numeric, got dtype {t_arr.dtype}")
        rows = t_arr.reshape(n_samples, n_classes)
        ones = rows == 1
        valid = np.all(ones | (rows == 0), axis=1) & (np.count_nonzero(ones, axis=1) == 1)
        if not valid.all():
            bad = int(np.flatnonzero(~valid)[0])
            raise ValueError(
                "one-hot t must have exactly one 1 and zeros elsewhere in every row; "
                f"row {bad} is {rows[bad].tolist()}"
            )
        return np.argmax(ones, axis=1).astype(np.intp, copy=False)
    if t_arr.ndim not in index_ndims:
        raise ValueError(
            f"t must be class indices of shape ({n_samples},) or one-hot of shape "
            f"{(n_classes,) if single_sample else (n_samples, n_classes)}, got shape {t_arr.shape}"
        )
    if kind not in "iu":
        raise TypeError(
            f"class indices t must have an integer dtype, got {t_arr.dtype}"
            + (" (convert with t.astype(int) if the values are whole numbers)" if kind == "f" else "")
        )
    if t_arr.size != n_samples:
        raise ValueError(
            f"t must have one label per sample: expected {n_samples}, got {t_arr.size} "
            f"(shape {t_arr.shape})"
        )
    flat = t_arr.reshape(-1)
    if kind == "u" and flat.dtype.itemsize >= np.dtype(np.intp).itemsize:
        # Values beyond intp's range would wrap around to negative numbers.
        check_label_range(flat, n_classes, first_invalid_label, classes)
    # Always a copy: the layer keeps these indices for backward, where the
    # kernel uses them without bounds checks, so they must not be memory
    # that the caller can still change.
    return np.array(flat, dtype=np.intp, order="C", copy=True)


def accuracy_labels(t: Any, n_samples: int, n_classes: int) -> np.ndarray:
    """The labels of an accuracy over ``n_samples`` scores of ``n_classes``
    classes, checked as SoftmaxWithLoss checks them: class indices of shape
    (N,) or (N, 1), or one-hot rows (N, C); the indices in [0, C)."""
    if n_samples == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    classes = "the number of classes, the scores' columns"
    labels = class_indices(t, n_samples, n_classes, single_sample=False, classes=classes)
    check_label_range(labels, n_classes, first_invalid_label, classes)
    return labels


def first_invalid_label(labels: np.ndarray, n_classes: int) -> int:
    """Index of the first label outside [0, n_classes), or -1 (NumPy version)."""
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    return int(bad[0]) if bad.size else -1


def check_label_range(labels: np.ndarray, n_classes: int, finder: Any,
                      classes: str = "the number of columns of x") -> None:
    """Raise ValueError naming the first out-of-range label, if any.

    ``finder(labels, n_classes)`` returns that label's index or -1: the
    reference passes the NumPy ``first_invalid_label``, the fast layers the
    compiled loop, and both report the same message.
    """
    index = finder(labels, n_classes)
    if index >= 0:
        raise ValueError(
            f"label t[{index}] = {labels[index]} is out of range: class indices "
            f"must satisfy 0 <= t < {n_classes} ({classes})"
        )


# --------------------------------------------------------- window geometry
# Convolution, Pooling, im2col and col2im share these checks.  The limits
# are the book's own: its im2col materialises the padded images and the
# (N*OH*OW, C*FH*FW) patch matrix, so a geometry whose padded batch or
# patch matrix could not be an array is one the book cannot run either.
# Within them every extent is below 2**60, so the kernels' signed 64-bit
# index arithmetic (sums of a few extents, pads and a stride no longer
# than the padded input; see zk_layers.convolution.kernel_stride) cannot
# overflow and the kernels need no checks of their own.
MAX_ELEMENTS = sys.maxsize // 8  # an array of float64 holds at most sys.maxsize bytes
MAX_WINDOW = 2**31 - 1  # window indices (Pooling's arg_max) are stored as int32 by the fast layer

Geometry = tuple[int, int, int, int, int, int]  # (N, C, H, W, OH, OW)


def window_arguments(filter_h: Any, filter_w: Any, stride: Any, pad: Any,
                     names: tuple[str, str] = ("filter_h", "filter_w")) -> tuple[int, int, int, int]:
    """The four integers of im2col/col2im and Pooling, checked."""
    filter_h = positive_int(filter_h, names[0])
    filter_w = positive_int(filter_w, names[1])
    if filter_h * filter_w > MAX_WINDOW:
        raise ValueError(f"the window {filter_h}x{filter_w} has more than {MAX_WINDOW} elements")
    return filter_h, filter_w, positive_int(stride, "stride"), nonnegative_int(pad, "pad")


def image_shape(shape: tuple[int, ...], name: str) -> tuple[int, int, int, int]:
    """A batch shape (N, C, H, W) from an input's shape, with C, H, W >= 1."""
    if len(shape) != 4:
        raise ValueError(f"{name} must be a batch of images of shape (N, C, H, W), got an array of "
                         f"{len(shape)} dimension(s) with shape {tuple(shape)}")
    n, c, h, w = (int(s) for s in shape)
    if min(c, h, w) < 1:
        raise ValueError(f"{name} must have at least one channel, row and column, got shape {tuple(shape)}")
    return n, c, h, w


def output_size(size: int, window: int, stride: int, pad: int, axis: str, what: str) -> int:
    """``(size + 2 pad - window) // stride + 1``, or ValueError if the window
    does not fit in the padded input."""
    if size + 2 * pad < window:
        raise ValueError(f"the {what} ({axis} {window}) is larger than the padded input "
                         f"({axis} {size} + 2 * pad {pad} = {size + 2 * pad})")
    return (size + 2 * pad - window) // stride + 1


def conv_geometry(shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int, pad: int,
                  name: str, what: str = "filter") -> Geometry:
    """(N, C, H, W, OH, OW) for an input of ``shape`` and a window, or
    ValueError naming stride and pad when the padded batch or the patch
    matrix would have more than MAX_ELEMENTS elements."""
    n, c, h, w = image_shape(shape, name)
    padded = max(n, 1) * c * (h + 2 * pad) * (w + 2 * pad)
    if padded > MAX_ELEMENTS:
        raise ValueError(f"pad={pad} is too large for {name} of shape {tuple(shape)}: the padded images "
                         f"({max(n, 1)} x {c} x {h + 2 * pad} x {w + 2 * pad}) would have {padded} elements, "
                         f"more than an array can hold ({MAX_ELEMENTS})")
    out_h = output_size(h, filter_h, stride, pad, "height", what)
    out_w = output_size(w, filter_w, stride, pad, "width", what)
    require_output_size(max(n, 1) * out_h * out_w * c * filter_h * filter_w, stride, pad,
                        f"{max(n, 1) * out_h * out_w} windows of {c} x {filter_h} x {filter_w} values", name, shape)
    return n, c, h, w, out_h, out_w


def require_output_size(elements: int, stride: int, pad: int, what: str, name: str,
                        shape: tuple[int, ...]) -> None:
    """ValueError naming stride and pad if an array of ``elements`` could not be made."""
    if elements > MAX_ELEMENTS:
        raise ValueError(f"stride={stride} and pad={pad} give {name} of shape {tuple(shape)} an output of "
                         f"{what} ({elements} elements), more than an array can hold ({MAX_ELEMENTS})")


# ------------------------------------------------- the layers' inputs
def softmax_input(x: Any) -> tuple[np.ndarray, bool]:
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


def conv_parameters(W: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convolution's W (FN, C, FH, FW) and b (FN,), checked, returned as the same objects."""
    if type(W) is np.ndarray and type(b) is np.ndarray:
        dtype = W.dtype
        if ((dtype is FLOAT64 or dtype is FLOAT32) and b.dtype is dtype and W.ndim == 4
                and b.shape == (W.shape[0],) and 0 not in W.shape):
            return W, b  # the common case
    W = require_parameter(W, "W", 4)
    b = require_parameter(b, "b", 1)
    if 0 in W.shape:
        raise ValueError(f"W must have shape (FN, C, FH, FW) with every size >= 1, got shape {W.shape}")
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have shape ({W.shape[0]},), one bias per filter of W of shape {W.shape}, "
                         f"got shape {b.shape}")
    return W, b


def image_input(x: Any, name: str) -> np.ndarray:
    x = as_float_array(x, name)
    require_ndim(x, name, (4,), "a batch of images of shape (N, C, H, W)")
    return x


def conv_input(x: Any, W: np.ndarray, stride: int, pad: int, name: str = "x") -> tuple[np.ndarray, Geometry]:
    """Convolution's input as a float array, and its geometry (N, C, H, W, OH, OW)."""
    if name == "x":
        x = image_input(x, name)
        shape = x.shape
    else:  # a saved input reassigned since forward: only its shape is used
        shape = np.shape(x)
    geometry = conv_geometry(shape, W.shape[2], W.shape[3], stride, pad, name)
    n, c, _, _, out_h, out_w = geometry
    if c != W.shape[1]:
        raise ValueError(f"{name} has {c} channel(s) but W of shape {W.shape} expects "
                         f"{W.shape[1]} (W is (FN, C, FH, FW))")
    require_output_size(max(n, 1) * W.shape[0] * out_h * out_w, stride, pad,
                        f"{max(n, 1)} x {W.shape[0]} x {out_h} x {out_w}", name, shape)
    return x, geometry


def shape_tuple(input_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(input_shape)
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in shape):
            raise TypeError
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of 4 integers (N, C, H, W), got {input_shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"input_shape must not hold negative sizes, got {shape}")
    return tuple(int(s) for s in shape)


def col2im_arguments(col: Any, input_shape: Any, filter_h: Any, filter_w: Any, stride: Any,
                     pad: Any) -> tuple[np.ndarray, tuple[int, int, int, int], Geometry]:
    """col2im's: col as a float array of shape (N*OH*OW, C*FH*FW), the window
    (filter_h, filter_w, stride, pad) and (N, C, H, W, OH, OW)."""
    window = window_arguments(filter_h, filter_w, stride, pad)
    geometry = conv_geometry(shape_tuple(input_shape), *window, "input_shape")
    col = as_float_array(col, "col")
    require_shape(col, "col", (geometry[0] * geometry[4] * geometry[5], geometry[1] * window[0] * window[1]),
                  "(N*OH*OW, C*filter_h*filter_w) for input_shape and the window")
    return col, window, geometry


def batchnorm_parameters(gamma: Any, beta: Any) -> tuple[np.ndarray, np.ndarray]:
    """``gamma`` and ``beta``: 1-D float arrays of one length, returned as given."""
    if (type(gamma) is np.ndarray and type(beta) is np.ndarray and gamma.ndim == 1
            and gamma.shape == beta.shape and gamma.dtype.kind == "f" and beta.dtype.kind == "f"
            and gamma.dtype.itemsize in (4, 8) and beta.dtype.itemsize in (4, 8)):
        return gamma, beta  # the common case
    gamma = require_parameter(gamma, "gamma", 1)
    beta = require_parameter(beta, "beta", 1)
    if beta.shape != gamma.shape:
        raise ValueError(f"beta must have the shape of gamma {gamma.shape}, got shape {beta.shape}")
    return gamma, beta


def running_statistic(value: Any, name: str, features: int) -> np.ndarray | None:
    """``running_mean`` / ``running_var``: None (not started) or a 1-D float
    array of one entry per feature."""
    if value is None:
        return None
    value = require_parameter(value, name, 1)
    if value.shape != (features,):
        raise ValueError(f"{name} must have shape ({features},) (one entry per feature of gamma), "
                         f"got shape {value.shape}")
    return value


def batchnorm_input(x: Any, features: int) -> np.ndarray:
    """``x`` as a float array of shape (N, D) or (N, C, H, W) with D == C*H*W."""
    x = as_float_array(x, "x")
    if x.ndim not in (2, 4):
        raise ValueError(f"x must be 2-D (N, D) or 4-D (N, C, H, W), got shape {x.shape}")
    if math.prod(x.shape[1:]) != features:
        raise ValueError(f"x must have {features} features per sample (the length of gamma), "
                         f"got shape {x.shape}")
    return x


def require_training_batch(x: np.ndarray) -> None:
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample in training mode (the batch mean of no "
                         f"sample is undefined), got shape {x.shape}")


def ran(result: _State | None) -> _State:
    """The result of a compiled entry point that was handed arrays prepared
    for it: it takes them, so None here is a bug of ours, never of the caller."""
    if result is None:
        raise RuntimeError("zk_layers internal error: a compiled kernel declined arrays the layer had prepared")
    return result
