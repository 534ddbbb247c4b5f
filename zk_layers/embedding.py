"""Embedding, the second volume's word-vector layer (chapter 4): rows of W
picked by word ids, compiled.

``Embedding(W)`` keeps ``params = [W]`` and ``grads = [zeros_like(W)]``
(lists, as the book's; W is kept, not copied).  ``forward(idx)`` returns
``W[idx]``, of shape ``(*idx.shape, D)``; ``backward(dout)`` writes
``dW[...] = 0`` and then adds each row of ``dout`` to the row of its word,
in the order of the indices, as the book's ``np.add.at`` -- bitwise the
same at every thread count -- and returns None.

Word ids may be negative (counted from the end, as in NumPy's indexing);
an id outside ``[-V, V)`` raises ValueError, non-integer ids TypeError.
W and the gradient are float arrays of shape (V, D); float32 stays
float32.  C-contiguous float32/float64 arrays take the compiled gather and
scatter-add; other layouts the book's NumPy lines, with the same results.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _embedding, _kernels  # noqa: F401  (_kernels binds the glue to its kernels)
from ._base import EmbeddingBase
from ._validate import require_forward

__all__ = ["Embedding"]


class Embedding(EmbeddingBase):
    """The book's Embedding (volume 2, ``common/layers.py``), compiled.

    Parameters
    ----------
    W : float ndarray (V, D)
        The word vectors, one row per word; kept as ``params[0]``.
    """

    def forward(self, idx: Any) -> np.ndarray:
        W = self.params[0]
        out = _embedding.embedding_forward(W, idx)
        if out is None:  # not the caller's arrays as they are: normalise
            W = self._weights()
            ids = self._indices(idx, W.shape[0])
            out = _embedding.embedding_forward(W, ids)
            if out is None:  # W is not a C-contiguous float32/float64 array
                out = W[ids]
        self.idx = idx  # as in the book: the indices as given
        return out

    def backward(self, dout: Any) -> None:
        idx = require_forward(self, self.idx)
        dW = self.grads[0]
        if _embedding.embedding_backward(dout, idx, dW) is None:
            dW = self._gradient()
            ids = self._indices(idx, dW.shape[0])
            dout = self._upstream(dout, ids, dW.shape[1])
            if _embedding.embedding_backward(dout, ids, dW) is None:
                # Other dtypes, layouts or overlapping arrays: the book's lines.
                dW[...] = 0
                np.add.at(dW, ids, dout)
        return None
