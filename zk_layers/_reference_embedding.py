"""The oracle's Embedding: the book's NumPy lines (volume 2,
``common/layers.py``), with the checks of the fast layer (shared through
:class:`zk_layers._base.EmbeddingBase`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._base import EmbeddingBase
from ._validate import require_forward

__all__ = ["Embedding"]


class Embedding(EmbeddingBase):
    """``forward(idx)``: ``W[idx]``; ``backward(dout)``: ``dW[...] = 0`` and
    ``np.add.at(dW, idx, dout)``, returning None (see
    :mod:`zk_layers.embedding`)."""

    def forward(self, idx: Any) -> np.ndarray:
        W = self._weights()
        ids = self._indices(idx, W.shape[0])
        self.idx = idx
        return W[ids]

    def backward(self, dout: Any) -> None:
        idx = require_forward(self, self.idx)
        dW = self._gradient()
        ids = self._indices(idx, dW.shape[0])
        dout = self._upstream(dout, ids, dW.shape[1])
        dW[...] = 0
        np.add.at(dW, ids, dout)
        return None
