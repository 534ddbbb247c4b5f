"""BatchNormalization and Dropout (chapter 6) in plain NumPy, written like the book.

The oracle for the compiled layers of :mod:`zk_layers.regularization`, and
part of :mod:`zk_layers.reference`.  The arithmetic is the book's
(``common/layers.py``), line for line; what is added are the checks, shared
with the fast layers (:mod:`zk_layers._base`, :mod:`zk_layers._validate`) so
that both raise the same exceptions with the same messages:

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

from typing import Any

import numpy as np

from ._base import BatchNormalizationBase, DropoutBase, batchnorm_saved_state, dropout_saved_mask
from ._validate import (
    as_float_array,
    fraction,
)

__all__ = ["BatchNormalization", "Dropout"]


# ------------------------------------------------------------------ layers
class Dropout(DropoutBase):
    """Dropout (http://arxiv.org/abs/1207.0580), as in the book.

    ``forward(x, train_flg=True)`` draws ``mask = np.random.rand(*x.shape) >
    dropout_ratio`` from NumPy's global generator (so a seeded script draws
    what the book draws), or from ``rng`` (a ``numpy.random.RandomState``,
    keyword only) when one is given, and returns ``x * mask``; in test mode it returns
    ``x * (1.0 - dropout_ratio)``.  ``backward(dout)`` returns ``dout * mask``.
    """

    def forward(self, x: Any, train_flg: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        ratio = fraction(self.dropout_ratio, "Dropout.dropout_ratio")
        if train_flg:
            self.mask = self._draws(x.shape) > ratio  # the book's np.random.rand unless rng is given
            return x * self.mask
        else:
            return x * (1.0 - ratio)

    def backward(self, dout: Any) -> np.ndarray:
        mask, dout = dropout_saved_mask(self, dout)
        return dout * mask


class BatchNormalization(BatchNormalizationBase):
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
