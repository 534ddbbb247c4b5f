"""The second volume's ``common/layers.py``: its 8 layer classes.

``MatMul``, ``Affine``, ``Softmax``, ``SoftmaxWithLoss``, ``Sigmoid``,
``SigmoidWithLoss``, ``Dropout`` and ``Embedding``, with the book's
constructor arguments, attributes and conventions: ``params`` and
``grads`` are lists of arrays (the caller's arrays, kept, not copied),
``backward`` writes the gradients in place (``grads[0][...] = dW``).  The
results are the book's, dtype for dtype: a float32 ``SigmoidWithLoss``
returns a float64 ``dx`` as the book's (its labels are integers), and the
Embedding adds those float64 rows into a float32 gradient as NumPy's
``np.add.at`` does.  As in the book, a star import of this module also
brings ``np``, ``GPU``, ``softmax`` and ``cross_entropy_error``.

``Dropout`` and ``Embedding`` run zk_layers' compiled kernels (bitwise
the book's lines); the products are NumPy's ``np.dot`` and the
exponentials NumPy's, as in the book.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _embedding
from .. import embedding as _embedding_layer
from .. import regularization as _regularization
from .._products import product_into as _product_into
from .._products import sum_into as _sum_into
from . import _rows
from .functions import cross_entropy_error, sigmoid, softmax
from .np import GPU  # noqa: F401 (the book's module namespace)

__all__ = ["MatMul", "Affine", "Softmax", "SoftmaxWithLoss", "Sigmoid", "SigmoidWithLoss", "Dropout",
           "Embedding", "np", "softmax", "cross_entropy_error"]


def _not_yet(layer: Any) -> None:
    raise ValueError(f"{type(layer).__name__}.backward called before forward")


# From this many elements on, the layers' NumPy steps reuse one array
# (below it, the checks would cost more than the allocations they save).
_IN_PLACE_MIN = 4096


class MatMul:
    """``out = x W``; ``params = [W]``, ``grads = [dW]``."""

    def __init__(self, W: Any) -> None:  # noqa: N803 (the book's name)
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        W, = self.params
        out = np.dot(x, W)
        self.x = x
        return out

    def backward(self, dout: Any) -> Any:
        W, = self.params
        x = self.x
        if x is None:
            _not_yet(self)
        dx = np.dot(dout, W.T)
        _product_into(self.grads[0], x.T, dout)
        return dx


class Affine:
    """``out = x W + b``; ``params = [W, b]``, ``grads = [dW, db]``."""

    def __init__(self, W: Any, b: Any) -> None:  # noqa: N803 (the book's name)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        W, b = self.params
        out = np.dot(x, W)
        if type(out) is np.ndarray and out.size >= _IN_PLACE_MIN and type(b) is np.ndarray \
                and out.dtype == b.dtype and out.ndim >= b.ndim:
            out += b  # the same sums as `out + b`, without a second array
        else:
            out = out + b
        self.x = x
        return out

    def backward(self, dout: Any) -> Any:
        W, b = self.params
        x = self.x
        if x is None:
            _not_yet(self)
        dx = np.dot(dout, W.T)
        _product_into(self.grads[0], x.T, dout)
        _sum_into(self.grads[1], dout)
        return dx


class Softmax:
    """Softmax of each row; ``backward`` is its vector-Jacobian product."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: Any) -> Any:
        out = self.out
        if out is None:
            _not_yet(self)
        dx = out * dout
        dx -= out * np.sum(dx, axis=1, keepdims=True)
        return dx


class SoftmaxWithLoss:
    """Softmax and the cross-entropy loss; labels as indices or one-hot rows."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Any, t: Any) -> Any:
        self.y = softmax(x)
        self.t = t.argmax(axis=1) if t.size == self.y.size else t
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout: Any = 1) -> Any:
        y = self.y
        if y is None:
            _not_yet(self)
        batch_size = self.t.shape[0]
        dx = y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        dx *= dout
        if dx.dtype.kind == "f":
            dx /= batch_size  # the book's dx / batch_size, in place
            return dx
        return dx / batch_size


class Sigmoid:
    """``1 / (1 + exp(-x))``: the book's NumPy lines (zk_layers' compiled
    float32 exponential is not NumPy's to the last bit, and this volume is
    float32; at the sizes of its scripts, fewer allocations gain less than
    the checks they need)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.out: Any = None

    def forward(self, x: Any) -> Any:
        self.out = out = 1 / (1 + np.exp(-x))
        return out

    def backward(self, dout: Any) -> Any:
        out = self.out
        if out is None:
            raise ValueError("Sigmoid.backward called before forward")
        return dout * (1.0 - out) * out


class SigmoidWithLoss:
    """The sigmoid and the binary cross-entropy loss; ``t`` holds 0/1 labels."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: Any, t: Any) -> Any:
        self.t = t
        y = self.y = sigmoid(x)
        # The book's np.c_[1 - y, y], built in place: column 0 the
        # probability of label 0, column 1 of label 1.
        if y.ndim == 1:
            both = np.empty((y.shape[0], 2), dtype=y.dtype)
            np.subtract(1, y, out=both[:, 0])
            both[:, 1] = y
        else:
            both = np.c_[1 - y, y]
        self.loss = cross_entropy_error(both, t)
        return self.loss

    def backward(self, dout: Any = 1) -> Any:
        y = self.y
        if y is None:
            _not_yet(self)
        batch_size = self.t.shape[0]
        return (y - self.t) * dout / batch_size


class Dropout(_regularization.Dropout):
    """zk_layers' compiled Dropout (the book's mask draws) with the second
    volume's empty ``params`` and ``grads``."""

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        super().__init__(dropout_ratio)
        self.params: list[Any] = []
        self.grads: list[Any] = []


class Embedding(_embedding_layer.Embedding):
    """zk_layers' compiled Embedding (see :mod:`zk_layers.embedding`), whose
    gradient ``grads[0]`` is read-only to callers: the layer keeps it zero
    outside the rows it wrote, so that ``backward`` clears only those
    (:mod:`zk_layers.book2._rows`).  The values are the book's: ``dW[...] =
    0`` and ``np.add.at(dW, idx, dout)``."""

    def __init__(self, W: Any) -> None:  # noqa: N803 (the book's name)
        super().__init__(W)
        _rows.track(self.grads[0], np.empty(0, np.intp))

    def backward(self, dout: Any) -> None:
        dW = self.grads[0]
        old = _rows.rows_of(dW)
        if old is None:  # another array, or one made writeable again: the whole of it
            with _rows.writing(dW):
                super().backward(dout)
            if _rows.owned(dW):
                _rows.track(dW, np.unique(self._indices(self.idx, dW.shape[0])))
            return None
        idx = self.idx
        if idx is None:
            _not_yet(self)
        ids = self._indices(idx, dW.shape[0])
        dout = self._upstream(dout, ids, dW.shape[1])
        with _rows.writing(dW):
            negative_zero = _embedding.embedding_backward_kept(dout, ids, dW, old)
            if negative_zero is None:  # other dtypes or layouts: the book's sums on the rows kept
                dW[old] = 0
                dW[ids] = 0
                np.add.at(dW, ids, dout)
                negative_zero = _rows.has_negative_zero(dW[ids])
        # The rows written, repeats and all (they are cleared next time).
        _rows.track(dW, ids.ravel().copy(), not negative_zero)
        return None
