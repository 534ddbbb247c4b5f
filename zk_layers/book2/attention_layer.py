"""The second volume's ``ch08/attention_layer.py``: WeightSum,
AttentionWeight, Attention and TimeAttention, with the book's constructor
arguments, attributes and results.

The book forms each score and each weighted sum as a broadcast product
summed over an axis (an (N, T, H) temporary per decoder step), and
TimeAttention runs an Attention layer per decoder step.  Here the scores and
the weighted sums are batched matrix products (``np.matmul`` over the
batch) and TimeAttention does all decoder steps in one of each, forward and
backward; the values agree with the book's to rounding.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Softmax, _not_yet

__all__ = ["WeightSum", "AttentionWeight", "Attention", "TimeAttention"]


def _softmax_last(s: np.ndarray) -> np.ndarray:
    """The book's softmax of each row, along the last axis."""
    y = s - s.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def _softmax_last_backward(a: np.ndarray, da: np.ndarray) -> np.ndarray:
    """The book's Softmax.backward along the last axis."""
    ds = a * da
    ds -= a * ds.sum(axis=-1, keepdims=True)
    return ds


def _check(layer: Any, hs: Any, other: Any, other_name: str, other_shape: tuple[int, ...]) -> None:
    if np.ndim(hs) != 3 or np.shape(other) != other_shape:
        raise ValueError(f"{type(layer).__name__}.forward: expected hs (N, T, H) and {other_name} "
                         f"{other_shape}, got {np.shape(hs)} and {np.shape(other)}")


class WeightSum:
    """The sum over T of hs (N, T, H) weighted by a (N, T): c (N, H)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.cache: Any = None

    def forward(self, hs: Any, a: Any) -> Any:
        N, T, H = np.shape(hs) if np.ndim(hs) == 3 else (0, 0, 0)  # noqa: N806
        _check(self, hs, a, "a", (N, T))
        c = np.matmul(a[:, None, :], hs)[:, 0]
        self.cache = (hs, a.reshape(N, T, 1))
        return c

    def backward(self, dc: Any) -> tuple[Any, Any]:
        if self.cache is None:
            _not_yet(self)
        hs, ar = self.cache
        N, T, H = hs.shape  # noqa: N806
        dhs = dc.reshape(N, 1, H) * ar
        da = np.matmul(hs, dc.reshape(N, H, 1))[:, :, 0]
        return dhs, da


class AttentionWeight:
    """The softmax over T of the scores hs . h: a (N, T) for hs (N, T, H), h (N, H)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.softmax = Softmax()
        self.cache: Any = None

    def forward(self, hs: Any, h: Any) -> Any:
        N, T, H = np.shape(hs) if np.ndim(hs) == 3 else (0, 0, 0)  # noqa: N806
        _check(self, hs, h, "h", (N, H))
        s = np.matmul(hs, h.reshape(N, H, 1))[:, :, 0]
        a = self.softmax.forward(s)
        self.cache = (hs, h.reshape(N, 1, H))
        return a

    def backward(self, da: Any) -> tuple[Any, Any]:
        if self.cache is None:
            _not_yet(self)
        hs, hr = self.cache
        N, T, H = hs.shape  # noqa: N806
        ds = self.softmax.backward(da)
        dhs = ds.reshape(N, T, 1) * hr
        dh = np.matmul(ds.reshape(N, 1, T), hs)[:, 0]
        return dhs, dh


class Attention:
    """AttentionWeight, then WeightSum: the context vector (N, H) for h."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight: Any = None

    def forward(self, hs: Any, h: Any) -> Any:
        a = self.attention_weight_layer.forward(hs, h)
        out = self.weight_sum_layer.forward(hs, a)
        self.attention_weight = a
        return out

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dhs0, da = self.weight_sum_layer.backward(dout)
        dhs1, dh = self.attention_weight_layer.backward(da)
        return dhs0 + dhs1, dh


class TimeAttention:
    """Attention for every decoder step: for the encoder's hs_enc (N, Te, H)
    and the decoder's hs_dec (N, Td, H), the context vectors (N, Td, H);
    ``attention_weights`` holds each step's weights (N, Te), as the book's."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.layers = None  # the book's per-step Attention objects: not made here
        self.attention_weights: Any = None
        self._cache: Any = None

    def forward(self, hs_enc: Any, hs_dec: Any) -> Any:
        if np.ndim(hs_enc) != 3 or np.ndim(hs_dec) != 3 or hs_enc.shape[0] != hs_dec.shape[0] \
                or hs_enc.shape[2] != hs_dec.shape[2]:
            raise ValueError(f"TimeAttention.forward: expected hs_enc (N, Te, H) and hs_dec (N, Td, H), "
                             f"got {np.shape(hs_enc)} and {np.shape(hs_dec)}")
        a = _softmax_last(np.matmul(hs_dec, hs_enc.transpose(0, 2, 1)))  # (N, Td, Te)
        out = np.empty_like(hs_dec)  # the book's dtype: hs_dec's
        out[...] = np.matmul(a, hs_enc)
        self._cache = (hs_enc, hs_dec, a)
        self.attention_weights = list(a.transpose(1, 0, 2).copy())
        return out

    def backward(self, dout: Any) -> tuple[Any, Any]:
        if self._cache is None:
            _not_yet(self)
        hs_enc, hs_dec, a = self._cache
        if np.shape(dout) != hs_dec.shape:
            raise ValueError(f"TimeAttention.backward: dout must be {hs_dec.shape}, got {np.shape(dout)}")
        da = np.matmul(dout, hs_enc.transpose(0, 2, 1))            # WeightSum's da, every step
        ds = _softmax_last_backward(a, da)                           # AttentionWeight's softmax
        dhs_enc = np.matmul(a.transpose(0, 2, 1), dout)              # WeightSum's dhs, summed over steps
        dhs_enc += np.matmul(ds.transpose(0, 2, 1), hs_dec)          # AttentionWeight's dhs
        dhs_dec = np.empty_like(dout)
        dhs_dec[...] = np.matmul(ds, hs_enc)                         # AttentionWeight's dh
        return dhs_enc, dhs_dec
