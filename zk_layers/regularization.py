"""BatchNormalization and Dropout (chapter 6) on compiled kernels.

The book's classes (``common/layers.py``): same constructor arguments,
attributes (``gamma``, ``beta``, ``momentum``, ``running_mean``,
``running_var``, ``input_shape``, ``batch_size``, ``xc``, ``xn``, ``std``,
``dgamma``, ``dbeta``; ``dropout_ratio``, ``mask``) and call signatures
(``forward(x, train_flg=True)``, ``backward(dout)``).  They share their
constructor, checks and messages with the NumPy versions of
:mod:`zk_layers.reference` through :mod:`zk_layers._base`, and run forward
and backward as one kernel call each
(src/_regularization.pyx).

* Dropout draws its mask with ``np.random.rand(*x.shape)``, exactly as the
  book, so seeded scripts draw the same numbers; the comparison, the
  product and the mask are then one compiled pass.  The output is C-ordered.
* BatchNormalization computes the batch statistics per feature in row
  order, as NumPy's ``sum(axis=0)`` does, and updates the running
  statistics with the book's NumPy expressions; float64 results equal the
  book's to rounding (tests: rtol 1e-12).  When x, gamma and beta differ in
  dtype (float32 x, float64 gamma) everything, ``xc``/``xn``/``std``
  included, is computed in NumPy's result type (the book keeps those three
  in x's dtype; the values agree to float32 rounding).

Results do not depend on the thread count (see the kernels' docstring).
"""
from __future__ import annotations

from typing import Any

import numpy as np

# _kernels binds the glue module to the best kernels before any call.
from . import _kernels, _regularization  # noqa: F401
from ._base import BatchNormalizationBase, DropoutBase, batchnorm_saved_state, dropout_saved_mask
from ._validate import FLOAT32, FLOAT64, as_float_array, c_array, fraction, ran

__all__ = ["BatchNormalization", "Dropout"]


class Dropout(DropoutBase):
    """Dropout, as in the book (see :class:`zk_layers.reference.Dropout`).

    ``forward(x, train_flg=True)``: the mask ``np.random.rand(*x.shape) >
    dropout_ratio`` (``rng.rand`` with ``rng=``, a RandomState) and ``x * mask`` (x's shape and dtype, float32/float64,
    C order); test mode: ``x * (1.0 - dropout_ratio)``.  ``backward(dout)``:
    ``dout * mask``.
    """

    def forward(self, x: Any, train_flg: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        ratio = fraction(self.dropout_ratio, "Dropout.dropout_ratio")
        x = c_array(x, x.dtype)
        if not train_flg:
            return ran(_regularization.dropout_scale(x, 1.0 - ratio))
        out, mask = ran(_regularization.dropout_forward_train(x, self._draws(x.shape), ratio))
        self.mask = self._mask_forward = mask
        return out

    def backward(self, dout: Any) -> np.ndarray:
        mask = self.mask
        forward_mask: np.ndarray | None = getattr(self, "_mask_forward", None)
        if mask is None or mask is not forward_mask:
            mask, dout = dropout_saved_mask(self, dout)  # reassigned since forward: checked
            mask = np.ascontiguousarray(mask)
        else:
            dout = as_float_array(dout, "dout")
            if dout.shape != mask.shape:
                dropout_saved_mask(self, dout)  # raises the shared message
        return ran(_regularization.dropout_backward(c_array(dout, dout.dtype), mask))


class BatchNormalization(BatchNormalizationBase):
    """Batch normalisation, as in the book (see
    :class:`zk_layers.reference.BatchNormalization` for the parameters).

    ``forward(x, train_flg=True)``: x of shape (N, D) or (N, C, H, W);
    training normalises with the batch's statistics, stores ``xc``, ``xn``,
    ``std``, ``batch_size`` and moves the running statistics; test mode
    uses the running statistics.  ``backward(dout)`` returns dx of x's shape
    and sets ``dgamma`` and ``dbeta`` (shape (D,)).
    """

    def forward(self, x: Any, train_flg: bool = True) -> np.ndarray:
        x, gamma, beta = self._checked_state(x, train_flg)
        self.input_shape = input_shape = x.shape
        n = x.shape[0]
        features = gamma.shape[0]
        if self.running_mean is None:
            self.running_mean = np.zeros(features)
            self.running_var = np.zeros(features)
        # _checked_state: running_mean and running_var are both arrays or both None
        assert self.running_var is not None
        if train_flg:
            dtype = x.dtype if (x.dtype is gamma.dtype is beta.dtype) else np.result_type(x, gamma, beta)
        else:
            dtype = np.result_type(x, gamma, beta, self.running_mean, self.running_var)
        dtype = FLOAT64 if dtype == FLOAT64 else FLOAT32
        x2d = c_array(x, dtype).reshape(n, features)
        g, b = c_array(gamma, dtype), c_array(beta, dtype)
        if train_flg:
            out, xc, xn, mu, var, std = ran(_regularization.batchnorm_forward_train(x2d, g, b))
            self.batch_size = n
            self.xc, self.xn, self.std = xc, xn, std
            self._saved = (xc, xn, std, n)
            momentum = self.momentum
            self.running_mean = momentum * self.running_mean + (1 - momentum) * mu
            self.running_var = momentum * self.running_var + (1 - momentum) * var
        else:
            mean = c_array(self.running_mean, dtype)
            denom = c_array(np.sqrt(self.running_var + 10e-7), dtype)
            out = ran(_regularization.batchnorm_forward_test(x2d, mean, denom, g, b))
        return out.reshape(input_shape)

    def backward(self, dout: Any) -> np.ndarray:
        dout, xc, xn, std, gamma, input_shape = batchnorm_saved_state(self, dout)
        n, features = xc.shape
        dtype = np.result_type(dout, xc, xn, std, gamma)
        dtype = FLOAT64 if dtype == FLOAT64 else FLOAT32
        dout, xc, xn = (c_array(a, dtype) for a in (dout, xc, xn))
        std, gamma = c_array(std, dtype), c_array(gamma, dtype)
        dx, self.dgamma, self.dbeta = ran(_regularization.batchnorm_backward(
            dout.reshape(n, features), xc, xn, gamma, std))
        return dx.reshape(input_shape)
