"""What the two implementations of a layer share, apart from the arithmetic.

The constructors (the book's attributes, checked arguments) and the checks
of the state that ``backward`` reads (the attributes, as the book reads
them: what forward saved, or a value assigned since, checked like an
input).  The oracle (:mod:`zk_layers.reference`) and the fast layers both
derive from these classes, so neither imports the other, and both raise
the same exceptions with the same messages.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import (
    Geometry,
    _describe,
    affine_parameters,
    as_float_array,
    batchnorm_input,
    batchnorm_parameters,
    check_label_range,
    class_indices,
    conv_geometry,
    conv_input,
    conv_parameters,
    first_invalid_label,
    fraction,
    nonnegative_int,
    nonnegative_number,
    positive_int,
    random_state,
    require_forward,
    require_ndim,
    require_shape,
    require_training_batch,
    running_statistic,
    saved_mask,
    window_arguments,
)


class ReluBase:
    """Relu's state: ``mask``."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None


class SigmoidBase:
    """Sigmoid's state: ``out``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None


class AffineBase:
    """Affine's parameters and saved input."""

    def __init__(self, W: np.ndarray, b: np.ndarray, *, need_dx: bool = True) -> None:
        self.W, self.b = affine_parameters(W, b)
        self.need_dx = need_dx
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._x_forward: np.ndarray | None = None
        self._shape_forward: tuple[int, ...] | None = None

    def _saved_input(self, W: np.ndarray) -> np.ndarray:
        """``self.x`` as backward needs it: (N, D) with D = W's rows.  The
        book reads the attribute in backward, and so do we; a value assigned
        since forward is checked like an input."""
        x = require_forward(self, self.x)
        if x is not self._x_forward:
            x = as_float_array(x, "Affine.x")
            if x.ndim != 2 or x.shape[1] != W.shape[0]:
                raise ValueError(f"Affine.x was replaced by an array of shape {x.shape}: backward needs "
                                 f"the flattened input, of shape (N, {W.shape[0]}) for W of shape {W.shape}")
        elif x.shape[1] != W.shape[0]:
            raise ValueError(f"Affine.W was replaced by an array of shape {W.shape} since forward: it "
                             f"must have {x.shape[1]} rows, one per feature of the saved input")
        return x

    def _saved_shape(self, x: np.ndarray) -> tuple[int, ...]:
        """``self.original_x_shape``, checked against the saved input ``x``."""
        shape = require_forward(self, self.original_x_shape)
        if shape is self._shape_forward and x is self._x_forward:
            return shape  # as forward stored them
        try:
            shape = tuple(int(n) for n in shape)
        except (TypeError, ValueError):
            raise TypeError(f"Affine.original_x_shape must be a tuple of sizes, got {shape!r}") from None
        if not shape or shape[0] != x.shape[0] or math.prod(shape[1:]) != x.shape[1]:
            raise ValueError(f"Affine.original_x_shape {shape} does not hold the saved input's "
                             f"{x.shape[0]} samples of {x.shape[1]} features")
        return shape


class SoftmaxWithLossBase:
    """SoftmaxWithLoss's ``eps``, saved probabilities and labels."""

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = nonnegative_number(eps, "eps")
        self.loss: float | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self._t_forward: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._y_shape: tuple[int, ...] | None = None

    def _remember_labels(self, t: Any, labels: np.ndarray) -> None:
        """Keep ``t`` as the book does and the layer's own copy of the class
        indices (``class_indices`` never returns the caller's memory), so a
        caller who changes ``t`` in place after forward cannot reach the
        kernels with unchecked labels."""
        self.t = np.asarray(t)
        self._t_forward = self.t
        self._labels = labels

    def _saved_probabilities(self, y: Any) -> np.ndarray:
        """``self.y`` as backward reads it (the book reads the attribute): the
        forward's array, or a value assigned since, checked like an input.
        With no forward at all (the book lets one set ``y`` and ``t`` by
        hand) any (N, C) or (C,) array of real numbers is accepted."""
        y = as_float_array(y, "SoftmaxWithLoss.y")
        if self._y_shape is not None:
            require_shape(y, "SoftmaxWithLoss.y", self._y_shape, "the shape of the last forward's y")
        else:
            require_ndim(y, "SoftmaxWithLoss.y", (1, 2), "probabilities of shape (N, C), or (C,) for one sample")
            if y.size == 0:
                raise ValueError(f"SoftmaxWithLoss.y must hold at least one sample and class, got shape {y.shape}")
        return y

    def _saved_labels(self, y: np.ndarray) -> np.ndarray:
        """The class indices for backward: the ones forward checked, or, if
        ``self.t`` was assigned since (the book's backward reads it), the
        new value, checked as forward checks ``t`` against ``y``'s shape."""
        if self._labels is not None and self._t_forward is not None and self.t is self._t_forward:
            return self._labels
        n_classes = y.shape[-1]
        n_rows = y.size // n_classes
        labels = class_indices(require_forward(self, self.t), n_rows, n_classes, y.ndim == 1)
        check_label_range(labels, n_classes, first_invalid_label)
        return labels


def saved_col_shape(shape: tuple[int, ...], expected: tuple[int, int]) -> None:
    """The saved ``col`` must match the saved input and the current W, stride, pad."""
    if tuple(shape) != expected:
        raise ValueError(f"Convolution.col must have shape {expected} (N*OH*OW, C*FH*FW) for the saved "
                         f"input and the current W, stride and pad, got shape {tuple(shape)}")


def saved_col(col: Any, expected: tuple[int, int]) -> np.ndarray:
    """``Convolution.col`` assigned since forward, checked like an input."""
    col = as_float_array(col, "Convolution.col")
    saved_col_shape(col.shape, expected)
    return col


def saved_arg_max(arg_max: Any, n_outputs: int, pool_size: int) -> np.ndarray:
    """``Pooling.arg_max`` as backward reads it, checked: integers in
    [0, pool_size), one per output; returned as a fresh intp array."""
    arr = np.asarray(arg_max)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"Pooling.arg_max must be an integer array (window indices), got dtype {arr.dtype}")
    if arr.size != n_outputs:
        raise ValueError(f"Pooling.arg_max must hold {n_outputs} window indices, one per output of the "
                         f"saved input, got {arr.size} (shape {arr.shape})")
    flat = arr.reshape(-1)
    bad = np.flatnonzero((flat < 0) | (flat >= pool_size))
    if bad.size:
        raise ValueError(f"Pooling.arg_max[{int(bad[0])}] = {flat[bad[0]]} is not a window index: "
                         f"it must satisfy 0 <= arg_max < pool_h * pool_w = {pool_size}")
    return np.array(flat, dtype=np.intp, copy=True)


class ConvolutionBase:
    """Convolution's parameters, window and saved input."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, *,
                 need_dx: bool = True) -> None:
        self.W, self.b = conv_parameters(W, b)
        self.stride = positive_int(stride, "stride")
        self.pad = nonnegative_int(pad, "pad")
        self.need_dx = need_dx
        self.x: Any = None
        self.col: Any = None
        self.col_W: Any = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._col_forward: Any = None

    def _window(self) -> tuple[int, int]:
        """stride and pad as they are now (the attributes may have been assigned)."""
        return positive_int(self.stride, "stride"), nonnegative_int(self.pad, "pad")

    def _saved_geometry(self, W: np.ndarray, stride: int, pad: int) -> Geometry:
        """(N, C, H, W, OH, OW) of the saved input with the current W, stride, pad."""
        return conv_input(require_forward(self, self.x), W, stride, pad, "Convolution.x")[1]


class PoolingBase:
    """Pooling's window and saved input."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        self.pool_h, self.pool_w, self.stride, self.pad = window_arguments(
            pool_h, pool_w, stride, pad, ("pool_h", "pool_w"))
        self.x: Any = None
        self.arg_max: Any = None
        self._arg_max_forward: Any = None
        self._pool_forward: Any = None

    def _window(self) -> tuple[int, int, int, int]:
        return window_arguments(self.pool_h, self.pool_w, self.stride, self.pad, ("pool_h", "pool_w"))

    def _geometry(self, shape: tuple[int, ...], window: tuple[int, int, int, int], name: str) -> Geometry:
        pool_h, pool_w, stride, pad = window
        return conv_geometry(shape, pool_h, pool_w, stride, pad, name, "pooling window")

    def _saved_state(self) -> tuple[tuple[int, int, int, int], Geometry, bool]:
        """The current window, the saved input's geometry, and whether both
        are what forward used (then the forward's arg_max needs no check)."""
        x = require_forward(self, self.x)
        window = self._window()
        geometry = self._geometry(np.shape(x), window, "Pooling.x")
        return window, geometry, self._pool_forward == (window, np.shape(x))


def dropout_saved_mask(layer: Any, dout: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dropout's ``mask`` (checked if assigned since forward) and ``dout``
    checked against its shape."""
    mask = saved_mask(layer, layer.mask)
    dout = as_float_array(dout, "dout")
    if dout.shape != mask.shape:
        raise ValueError(f"dout must have the shape of the forward input {mask.shape}, got shape {dout.shape}")
    return mask, dout


def batchnorm_saved_state(layer: Any, dout: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray, tuple[int, ...]]:
    """What backward reads, as the book reads it (the attributes): dout as
    (N, D), xc, xn, std, gamma and the input shape, each checked unless it
    is the array the last training forward stored."""
    xn = require_forward(layer, layer.xn)
    gamma, _ = batchnorm_parameters(layer.gamma, layer.beta)
    features = gamma.shape[0]
    saved = getattr(layer, "_saved", None)  # (xc, xn, std, batch_size) as forward stored them
    xc, std, batch_size = layer.xc, layer.std, layer.batch_size
    if saved is None or xc is not saved[0] or xn is not saved[1] or std is not saved[2] or batch_size != saved[3]:
        xc = as_float_array(require_forward(layer, xc), "BatchNormalization.xc")
        xn = as_float_array(xn, "BatchNormalization.xn")
        std = as_float_array(require_forward(layer, std), "BatchNormalization.std")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, (bool, np.bool_)):
            raise TypeError(f"BatchNormalization.batch_size must be an integer, got {_describe(batch_size)}")
        expected = (int(batch_size), features)
        for name, arr in (("xc", xc), ("xn", xn)):
            if arr.shape != expected:
                raise ValueError(f"BatchNormalization.{name} must have shape {expected} (batch_size "
                                 f"samples of the {features} features of gamma), got shape {arr.shape}")
        if std.shape != (features,):
            raise ValueError(f"BatchNormalization.std must have shape ({features},), got shape {std.shape}")
    if xc.shape[1] != features:  # gamma replaced since forward
        raise ValueError(f"BatchNormalization.gamma has {features} entries but the last training forward "
                         f"saved {xc.shape[1]} features")
    shape = require_forward(layer, layer.input_shape)
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"BatchNormalization.input_shape must be a tuple of sizes, got {shape!r}") from None
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of the forward input {shape}, got shape {dout.shape}")
    rows = xc.shape[0]
    if dout.ndim not in (2, 4) or dout.size != rows * features:
        raise ValueError(f"dout of shape {dout.shape} does not hold the {rows} samples of {features} "
                         f"features that the last training forward saved")
    return dout.reshape(rows, features), xc, xn, std, gamma, shape


class DropoutBase:
    """Dropout's ratio and mask."""

    def __init__(self, dropout_ratio: float = 0.5, *, rng: Any = None) -> None:
        self.dropout_ratio = fraction(dropout_ratio, "dropout_ratio")
        self.mask: np.ndarray | None = None
        self.rng = random_state(rng)

    def _draws(self, shape: tuple[int, ...]) -> np.ndarray:
        """The book's ``np.random.rand(*x.shape)``, from ``rng`` when one was given."""
        source = np.random if self.rng is None else self.rng
        return np.asarray(source.rand(*shape))


class BatchNormalizationBase:
    """BatchNormalization's parameters, running statistics and saved batch."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None) -> None:
        self.gamma, self.beta = batchnorm_parameters(gamma, beta)
        self.momentum = fraction(momentum, "momentum")
        self.input_shape: tuple[int, ...] | None = None
        features = self.gamma.shape[0]
        self.running_mean = running_statistic(running_mean, "running_mean", features)
        self.running_var = running_statistic(running_var, "running_var", features)
        if (self.running_mean is None) != (self.running_var is None):
            raise ValueError("running_mean and running_var must be given together (or both None)")
        self.batch_size: int | None = None
        self.xc: np.ndarray | None = None
        self.xn: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None

    def _checked_state(self, x: Any, train_flg: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        gamma, beta = batchnorm_parameters(self.gamma, self.beta)
        features = gamma.shape[0]
        x = batchnorm_input(x, features)
        momentum = fraction(self.momentum, "BatchNormalization.momentum")
        mean = running_statistic(self.running_mean, "BatchNormalization.running_mean", features)
        var = running_statistic(self.running_var, "BatchNormalization.running_var", features)
        if (mean is None) != (var is None):
            raise ValueError("BatchNormalization.running_mean and running_var must both be arrays or both None")
        if train_flg:
            require_training_batch(x)
        self.momentum = momentum
        return x, gamma, beta


class EmbeddingBase:
    """Embedding's parameter, gradient and saved indices, as the second
    volume keeps them: ``params = [W]`` and ``grads = [zeros_like(W)]``,
    lists, the gradient written in place by backward; ``idx`` the last
    forward's indices, as given."""

    def __init__(self, W: Any) -> None:
        self.params = [self._matrix(W, "W")]
        self.grads = [np.zeros_like(W)]
        self.idx: Any = None

    @staticmethod
    def _matrix(W: Any, name: str) -> np.ndarray:
        if not isinstance(W, np.ndarray) or W.dtype.kind != "f":
            raise TypeError(f"{name} must be a float ndarray (V, D), got {_describe(W)}")
        if W.ndim != 2:
            raise ValueError(f"{name} must be 2-D (V, D): one row per word, got shape {W.shape}")
        return W

    def _weights(self) -> np.ndarray:
        return self._matrix(self.params[0], "Embedding.params[0]")

    def _gradient(self) -> np.ndarray:
        dW = self._matrix(self.grads[0], "Embedding.grads[0]")
        if not dW.flags.writeable:
            raise ValueError("Embedding.grads[0] is read-only: backward writes the gradient into it")
        return dW

    @staticmethod
    def _indices(idx: Any, rows: int) -> np.ndarray:
        """``idx`` as C-contiguous intp word ids in [0, rows), negative ids
        counted from the end as NumPy's indexing counts them."""
        arr = np.asarray(idx)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"idx must hold integer word ids, got {_describe(idx)}")
        if arr.size and (arr.min() < -rows or arr.max() >= rows):
            bad = arr[(arr < -rows) | (arr >= rows)].flat[0]
            raise ValueError(f"idx must hold word ids in [{-rows}, {rows}) for a W of {rows} rows, got {bad}")
        arr = arr.astype(np.intp, copy=False)
        if arr.size and arr.min() < 0:
            arr = np.where(arr < 0, arr + rows, arr)
        return arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)

    @staticmethod
    def _upstream(dout: Any, idx: np.ndarray, width: int) -> np.ndarray:
        dout = as_float_array(dout, "dout")
        require_shape(dout, "dout", (*idx.shape, width), "(*idx.shape, D): one row of W's width per index")
        return dout
