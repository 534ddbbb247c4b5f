"""BatchNormalization and Dropout (chapter 6) in plain NumPy, written like the book.

The oracle for the compiled layers of :mod:`zk_layers.regularization`, and
part of :mod:`zk_layers.reference`.  The arithmetic is the book's
(``common/layers.py``), line for line; what is added are the checks, shared
with the fast layers so that both raise the same exceptions with the same
messages:

* ``gamma``, ``beta`` (and the running statistics when given) must be 1-D
  float32/float64 arrays of one length D; they are kept, never copied, so
  an optimizer's in-place update reaches the layer as in the book;
* ``x`` is 2-D (N, D) or 4-D (N, C, H, W) with C*H*W == D, as the book's
  reshape requires; a training batch must hold at least one sample (the
  book would divide by zero and store NaN running statistics);
* ``backward`` reads the attributes, as the book does; values assigned
  since forward are checked like inputs.

Like the book, the running statistics start as float64 zeros and are
replaced (not updated in place) at every training forward.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import (
    _describe,
    as_float_array,
    fraction,
    require_forward,
    require_parameter,
    saved_mask,
)

__all__ = ["BatchNormalization", "Dropout"]


# ------------------------------------------------------------ shared checks
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


def batchnorm_saved_state(layer: Any, dout: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray, tuple[int, ...]]:
    """What backward reads, as the book reads it (the attributes): dout as
    (N, D), xc, xn, std, gamma and the input shape, each checked unless it
    is the array the last training forward stored."""
    xn = require_forward(layer, layer.xn)
    gamma, _ = batchnorm_parameters(layer.gamma, layer.beta)
    features = gamma.shape[0]
    saved = layer.__dict__.get("_saved", None)  # (xc, xn, std, batch_size) as forward stored them
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


def dropout_saved_mask(layer: Any, dout: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dropout's ``mask`` (checked if assigned since forward) and ``dout``
    checked against its shape."""
    mask = saved_mask(layer, layer.mask)
    dout = as_float_array(dout, "dout")
    if dout.shape != mask.shape:
        raise ValueError(f"dout must have the shape of the forward input {mask.shape}, got shape {dout.shape}")
    return mask, dout


# ------------------------------------------------------------------ layers
class Dropout:
    """Dropout (http://arxiv.org/abs/1207.0580), as in the book.

    ``forward(x, train_flg=True)`` draws ``mask = np.random.rand(*x.shape) >
    dropout_ratio`` from NumPy's global generator (so a seeded script draws
    what the book draws) and returns ``x * mask``; in test mode it returns
    ``x * (1.0 - dropout_ratio)``.  ``backward(dout)`` returns ``dout * mask``.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        self.dropout_ratio = fraction(dropout_ratio, "dropout_ratio")
        self.mask: np.ndarray | None = None

    def forward(self, x: Any, train_flg: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        ratio = fraction(self.dropout_ratio, "Dropout.dropout_ratio")
        if train_flg:
            self.mask = np.asarray(np.random.rand(*x.shape) > ratio)  # noqa: NPY002 (the book's generator)
            return x * self.mask
        else:
            return x * (1.0 - ratio)

    def backward(self, dout: Any) -> np.ndarray:
        mask, dout = dropout_saved_mask(self, dout)
        return dout * mask


class BatchNormalization:
    """Batch normalisation (http://arxiv.org/abs/1502.03167), as in the book.

    Parameters
    ----------
    gamma, beta : ndarray of shape (D,), float32 or float64
        Scale and shift, kept as given (in-place updates reach the layer).
    momentum : float in [0, 1), default 0.9
        ``running = momentum * running + (1 - momentum) * batch`` after every
        training forward.
    running_mean, running_var : ndarray of shape (D,) or None
        The statistics used in test mode; None starts them at float64 zeros
        at the first forward.

    ``forward(x, train_flg=True)`` takes x of shape (N, D) or (N, C, H, W)
    (then each of the C*H*W values is a feature, as in the book) and returns
    x's shape.  ``backward(dout)`` returns dx and sets ``dgamma``, ``dbeta``.
    """

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

    def forward(self, x: Any, train_flg: bool = True) -> np.ndarray:
        x, gamma, beta = self._checked_state(x, train_flg)
        self.input_shape = x.shape
        if x.ndim != 2:
            N, C, H, W = x.shape
            x = x.reshape(N, C * H * W)  # the book's -1 cannot size an empty batch

        out = self._forward(x, train_flg, gamma, beta)

        return out.reshape(*self.input_shape)

    def _forward(self, x: np.ndarray, train_flg: bool, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D)
            self.running_var = np.zeros(D)
        # _checked_state: running_mean and running_var are both arrays or both None
        assert self.running_var is not None

        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std

            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self._saved = (xc, xn, std, self.batch_size)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + 10e-7)

        out = gamma * xn + beta
        return out

    def backward(self, dout: Any) -> np.ndarray:
        dout, xc, xn, std, gamma, input_shape = batchnorm_saved_state(self, dout)
        batch_size = xc.shape[0]

        dbeta = dout.sum(axis=0)
        dgamma = np.sum(xn * dout, axis=0)
        dxn = gamma * dout
        dxc = dxn / std
        dstd = -np.sum((dxn * xc) / (std * std), axis=0)
        dvar = 0.5 * dstd / std
        dxc += (2.0 / batch_size) * xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / batch_size

        self.dgamma = dgamma
        self.dbeta = dbeta

        return dx.reshape(*input_shape)
