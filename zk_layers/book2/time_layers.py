"""The second volume's ``common/time_layers.py``: the layers over time steps.

RNN, TimeRNN, LSTM, TimeLSTM, TimeEmbedding, TimeAffine,
TimeSoftmaxWithLoss, TimeDropout, TimeBiLSTM, TimeSigmoidWithLoss, GRU,
TimeGRU, Simple_TimeSoftmaxWithLoss and Simple_TimeAffine, with the book's
constructor arguments, attributes and return dtypes (float32 sequences, as
the book's ``dtype='f'``), so that the scripts of chapters 5-8 run on them
unchanged.  As in the book, a star import of this module also brings the
layers of :mod:`zk_layers.book2.layers`, ``np``, ``softmax`` and ``sigmoid``.

What is done another way than the book's loops over time steps:

* TimeRNN and TimeLSTM are :mod:`zk_layers.recurrent`'s: one input product
  over all N*T rows, one compiled pass per step around ``h @ Wh``, and the
  gradients in one product each (the book makes 3 zero arrays per step and
  adds T products into them); the values agree with the book's to
  rounding.  TimeGRU is done the same way in NumPy.
* TimeEmbedding is one gather and one scatter-add (the book makes an
  Embedding, with its zeroed V x D gradient, per step).
* TimeSoftmaxWithLoss is zk_layers' compiled softmax loss, one pass per
  row forward and backward, when no label is ``ignore_label``; otherwise
  the book's lines.
* TimeAffine, TimeDropout and TimeBiLSTM are the book's lines (TimeAffine
  without the second output array); TimeSigmoidWithLoss and the ``Simple_``
  layers do at once what the book does one step at a time.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _softmax_loss
from .. import recurrent as _recurrent
from .._products import product_into, sum_into
from .functions import cross_entropy_error, sigmoid, softmax
from .layers import (
    _IN_PLACE_MIN,
    Affine,
    Dropout,
    Embedding,
    MatMul,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
    _not_yet,
)

__all__ = ["RNN", "TimeRNN", "LSTM", "TimeLSTM", "TimeEmbedding", "TimeAffine", "TimeSoftmaxWithLoss",
           "TimeDropout", "TimeBiLSTM", "TimeSigmoidWithLoss", "GRU", "TimeGRU",
           "Simple_TimeSoftmaxWithLoss", "Simple_TimeAffine",
           "MatMul", "Affine", "Softmax", "SoftmaxWithLoss", "Sigmoid", "SigmoidWithLoss", "Dropout",
           "Embedding", "np", "softmax", "sigmoid", "cross_entropy_error"]

RNN = _recurrent.RNN
LSTM = _recurrent.LSTM


class TimeRNN(_recurrent.TimeRNN):
    """:class:`zk_layers.recurrent.TimeRNN`, returning float32 as the book's."""

    _book_float32 = True


class TimeLSTM(_recurrent.TimeLSTM):
    """:class:`zk_layers.recurrent.TimeLSTM`, returning float32 as the book's."""

    _book_float32 = True


class TimeEmbedding(Embedding):
    """The rows ``W[xs]`` for word ids xs (N, T); ``grads = [dW]``.  The
    book's Embedding of one step, taken over all of them at once."""

    def __init__(self, W: Any) -> None:  # noqa: N803 (the book's name)
        super().__init__(W)
        self.W = W
        self.layers = None  # the book's per-step Embedding objects: not made here

    def forward(self, xs: Any) -> Any:
        if np.ndim(xs) != 2:
            raise ValueError(f"TimeEmbedding.forward: xs must be (N, T) word ids, got shape {np.shape(xs)}")
        out = super().forward(xs)
        return out if out.dtype == np.float32 else out.astype(np.float32)

    def backward(self, dout: Any) -> None:
        idx = self.idx
        if idx is None:
            _not_yet(self)
        want = (*np.shape(idx), self.params[0].shape[1])
        if np.shape(dout) != want:
            raise ValueError(f"TimeEmbedding.backward: dout must be {want}, got {np.shape(dout)}")
        return super().backward(dout)


class TimeAffine:
    """``x W + b`` for every step of x (N, T, D); ``params = [W, b]``."""

    def __init__(self, W: Any, b: Any) -> None:  # noqa: N803 (the book's name)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x: Any = None

    def forward(self, x: Any) -> Any:
        N, T, D = x.shape  # noqa: N806
        W, b = self.params  # noqa: N806
        out = np.dot(x.reshape(N * T, -1), W)
        if type(out) is np.ndarray and out.size >= _IN_PLACE_MIN and type(b) is np.ndarray \
                and out.dtype == b.dtype and b.ndim == 1:
            out += b  # the book's `+ b`, without a second array
        else:
            out = out + b
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout: Any) -> Any:
        x = self.x
        if x is None:
            _not_yet(self)
        N, T, D = x.shape  # noqa: N806
        W, b = self.params  # noqa: N806
        dout = dout.reshape(N * T, -1)
        rx = x.reshape(N * T, -1)
        sum_into(self.grads[1], dout)
        product_into(self.grads[0], rx.T, dout)
        return np.dot(dout, W.T).reshape(*x.shape)


class TimeSoftmaxWithLoss:
    """The mean cross-entropy of the softmax of xs (N, T, V) over labels ts
    (N, T) or one-hot (N, T, V); steps labelled ``ignore_label`` (-1) count
    for nothing."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.cache: Any = None
        self.ignore_label = -1

    def forward(self, xs: Any, ts: Any) -> Any:
        N, T, V = xs.shape  # noqa: N806
        if ts.ndim == 3:  # one-hot labels
            ts = ts.argmax(axis=2)
        if np.shape(ts) != (N, T):
            raise ValueError(f"TimeSoftmaxWithLoss.forward: ts must be ({N}, {T}) labels, got {np.shape(ts)}")
        labels = np.array(ts, dtype=np.intp).reshape(N * T)
        x2 = xs.reshape(N * T, V)
        bad = _softmax_loss.first_invalid_label(labels, V) if x2.size else -1
        if bad < 0 and N * T:
            done = _softmax_loss.softmax_loss_forward(np.ascontiguousarray(x2), labels, 0.0)
            if done is not None:
                loss, ys, labels = done
                self.cache = (labels, ys, None, (N, T, V))
                return loss
        if bad >= 0 and labels[bad] != self.ignore_label:
            raise ValueError(f"TimeSoftmaxWithLoss.forward: labels must be in [0, {V}) or "
                             f"{self.ignore_label}, got {labels[bad]}")
        # The book's lines: ignored steps, other dtypes, an empty batch.
        mask = labels != self.ignore_label
        ys = softmax(x2)
        ls = np.log(ys[np.arange(N * T), np.where(mask, labels, 0)])
        ls *= mask
        loss = -np.sum(ls)
        loss /= mask.sum()
        self.cache = (labels, ys, mask, (N, T, V))
        return loss

    def backward(self, dout: Any = 1) -> Any:
        if self.cache is None:
            _not_yet(self)
        labels, ys, mask, (N, T, V) = self.cache  # noqa: N806
        if mask is None:
            dx = _softmax_loss.softmax_loss_backward(ys, labels, dout, ys.shape)
            if dx is not None:
                return dx.reshape((N, T, V))
            mask = np.ones(N * T, dtype=bool)
        dx = ys.copy()
        dx[np.arange(N * T), np.where(mask, labels, 0)] -= 1
        dx *= dout
        dx /= mask.sum()
        dx *= mask[:, np.newaxis]
        return dx.reshape((N, T, V))


class TimeDropout:
    """The book's dropout over sequences: ``train_flg`` on, each element kept
    with probability ``1 - dropout_ratio`` and scaled by ``1 / (1 -
    dropout_ratio)``; the mask drawn as the book's (``np.random.rand``)."""

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.dropout_ratio = dropout_ratio
        self.mask: Any = None
        self.train_flg = True

    def forward(self, xs: Any) -> Any:
        if self.train_flg:
            # The book's lines: its draws are most of the time, and fewer
            # temporaries measured slower here (the allocator's pattern).
            flg = np.random.rand(*xs.shape) > self.dropout_ratio
            scale = 1 / (1.0 - self.dropout_ratio)
            self.mask = flg.astype(np.float32) * scale
            return xs * self.mask
        return xs

    def backward(self, dout: Any) -> Any:
        mask = self.mask
        if mask is None:
            _not_yet(self)
        return dout * mask


class TimeBiLSTM:
    """Two TimeLSTMs, one over xs and one over xs reversed in time; their
    outputs side by side (N, T, 2H)."""

    def __init__(self, Wx1: Any, Wh1: Any, b1: Any, Wx2: Any, Wh2: Any, b2: Any,  # noqa: N803
                 stateful: bool = False) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    def forward(self, xs: Any) -> Any:
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(xs[:, ::-1])[:, ::-1]
        return np.concatenate((o1, o2), axis=2)

    def backward(self, dhs: Any) -> Any:
        H = dhs.shape[2] // 2  # noqa: N806
        dxs1 = self.forward_lstm.backward(dhs[:, :, :H])
        dxs2 = self.backward_lstm.backward(dhs[:, :, H:][:, ::-1])[:, ::-1]
        return dxs1 + dxs2


class TimeSigmoidWithLoss:
    """The mean over steps of SigmoidWithLoss's loss for scores xs (N, T)
    and 0/1 labels ts (N, T)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.xs_shape: Any = None
        self.layers = None
        self._cache: Any = None

    def forward(self, xs: Any, ts: Any) -> Any:
        N, T = xs.shape  # noqa: N806
        self.xs_shape = xs.shape
        ts = np.array(ts)  # a copy: the caller may reuse its array before backward
        y = sigmoid(xs)
        both = np.stack((1 - y, y), axis=-1)  # the book's np.c_[1 - y, y] of every step
        picked = both[np.arange(N)[:, None], np.arange(T)[None, :], ts]
        losses = -np.sum(np.log(picked + 1e-7), axis=0) / N  # each step's SigmoidWithLoss
        loss = 0
        for value in losses:  # the book's running sum over steps
            loss += value
        self._cache = (y, ts)
        return loss / T

    def backward(self, dout: Any = 1) -> Any:
        if self._cache is None:
            _not_yet(self)
        y, ts = self._cache
        N, T = self.xs_shape  # noqa: N806
        dout *= 1 / T
        return ((y - ts) * dout / N).astype(np.float32)


class TimeGRU:
    """The GRU over T steps: forward takes xs (N, T, D), returns hs (N, T,
    H); ``Wx`` (D, 3H), ``Wh`` (H, 3H), ``b`` (3H,) hold the update gate z,
    the reset gate r and the candidate side by side."""

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:  # noqa: N803
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h: Any = None
        self.dh: Any = None
        self.stateful = stateful
        self._cache: Any = None
        self._book_float32 = True

    def forward(self, xs: Any) -> Any:
        Wx, Wh, b, D, H = _recurrent._params(self, 3)  # noqa: N806
        N, T = _recurrent._sequence(self, xs, D)  # noqa: N806
        h = self.h if self.stateful else None
        dtype = _recurrent._compute_dtype(self, xs, Wx, Wh, b, *([] if h is None else [h]))
        h = np.zeros((N, H), dtype) if h is None else _recurrent._state(self, h, "h", N, H, dtype)
        x2 = np.array(xs, dtype=dtype, order="C").reshape(N * T, D)
        ax = np.dot(x2, Wx.astype(dtype, copy=False)).reshape(N, T, 3 * H)
        Wh = Wh.astype(dtype, copy=False)  # noqa: N806
        b = b.astype(dtype, copy=False)
        hs = np.empty((N, T, H), dtype)
        gates = np.empty((N, T, 3 * H), dtype)  # z, r, h_hat of every step
        h0 = h
        for t in range(T):
            zr = sigmoid(ax[:, t, :2 * H] + np.dot(h, Wh[:, :2 * H]) + b[:2 * H])
            r = zr[:, H:]
            h_hat = np.tanh(ax[:, t, 2 * H:] + np.dot(r * h, Wh[:, 2 * H:]) + b[2 * H:])
            z = zr[:, :H]
            h = (1 - z) * h + z * h_hat
            gates[:, t, :2 * H] = zr
            gates[:, t, 2 * H:] = h_hat
            hs[:, t] = h
        self.h = h
        self._cache = (x2, h0, hs, gates, [p for p in self.params])
        return hs.astype(np.float32, copy=False) if self._book_float32 else hs

    def backward(self, dhs: Any) -> Any:
        if self._cache is None:
            _not_yet(self)
        x2, h0, hs, gates, params = self._cache
        if any(p is not q for p, q in zip(self.params, params, strict=True)):
            raise ValueError("TimeGRU.backward: params changed since forward; run forward again")
        N, T, H = hs.shape  # noqa: N806
        if np.shape(dhs) != hs.shape:
            raise ValueError(f"TimeGRU.backward: dhs must be {hs.shape}, got {np.shape(dhs)}")
        dhs = np.asarray(dhs, dtype=hs.dtype)
        Wx, Wh, _ = (p.astype(hs.dtype, copy=False) for p in self.params)  # noqa: N806
        hprev = np.empty_like(hs)
        hprev[:, 0] = h0
        hprev[:, 1:] = hs[:, :-1]
        dt = np.empty_like(gates)
        dh: Any = 0
        for t in reversed(range(T)):
            z, r, h_hat = gates[:, t, :H], gates[:, t, H:2 * H], gates[:, t, 2 * H:]
            h_prev = hprev[:, t]
            dh_next = dhs[:, t] + dh
            dt_h = dh_next * z * (1 - h_hat ** 2)
            dhr = np.dot(dt_h, Wh[:, 2 * H:].T)
            dt[:, t, :H] = (dh_next * h_hat - dh_next * h_prev) * z * (1 - z)
            dt[:, t, H:2 * H] = dhr * h_prev * r * (1 - r)
            dt[:, t, 2 * H:] = dt_h
            dh = dh_next * (1 - z) + r * dhr + np.dot(dt[:, t, :2 * H], Wh[:, :2 * H].T)
        d2 = dt.reshape(N * T, 3 * H)
        self.grads[0][...] = np.dot(x2.T, d2)
        dWh = np.empty((H, 3 * H), hs.dtype)  # noqa: N806
        dWh[:, :2 * H] = np.dot(hprev.reshape(N * T, H).T, d2[:, :2 * H])
        rh = (gates[:, :, H:2 * H] * hprev).reshape(N * T, H)
        dWh[:, 2 * H:] = np.dot(rh.T, d2[:, 2 * H:])
        self.grads[1][...] = dWh
        self.grads[2][...] = d2.sum(axis=0)
        self.dh = dh
        dxs = np.dot(d2, Wx.T).reshape(N, T, -1)
        return dxs.astype(np.float32, copy=False) if self._book_float32 else dxs

    def set_state(self, h: Any) -> None:
        self.h = h

    def reset_state(self) -> None:
        self.h = None


class GRU:
    """One step of :class:`TimeGRU`: ``forward(x, h_prev)`` returns h_next,
    ``backward(dh_next)`` returns (dx, dh_prev)."""

    def __init__(self, Wx: Any, Wh: Any, b: Any) -> None:  # noqa: N803
        self._time = TimeGRU(Wx, Wh, b, stateful=True)
        self._time._book_float32 = False
        self.params = self._time.params
        self.grads = self._time.grads

    def forward(self, x: Any, h_prev: Any) -> Any:
        self._time.h = h_prev
        return self._time.forward(_recurrent._one_step(self, x))[:, 0]

    def backward(self, dh_next: Any) -> tuple[Any, Any]:
        dxs = self._time.backward(np.asarray(dh_next)[:, None])
        return dxs[:, 0], self._time.dh


class Simple_TimeSoftmaxWithLoss:  # noqa: N801 (the book's name)
    """The book's simple form: the mean over steps of SoftmaxWithLoss (with
    its 1e-7 inside the log), for xs (N, T, V) and labels ts (N, T)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.cache: Any = None

    def forward(self, xs: Any, ts: Any) -> Any:
        N, T, V = xs.shape  # noqa: N806
        ys = softmax(xs.reshape(N * T, V)).reshape(N, T, V)
        picked = ys[np.arange(N)[:, None], np.arange(T)[None, :], ts]
        losses = -np.sum(np.log(picked + 1e-7), axis=0) / N
        loss = 0
        for value in losses:
            loss += value
        loss /= T
        self.cache = (ys, ts, xs.shape)
        return loss

    def backward(self, dout: Any = 1) -> Any:
        if self.cache is None:
            _not_yet(self)
        ys, ts, (N, T, V) = self.cache  # noqa: N806
        dout *= 1 / T
        dx = ys.copy()
        dx[np.arange(N)[:, None], np.arange(T)[None, :], ts] -= 1
        dx *= dout
        return (dx / N).astype(np.float32)


class Simple_TimeAffine:  # noqa: N801 (the book's name)
    """The book's simple form of TimeAffine, with ``W``, ``b``, ``dW`` and
    ``db`` as attributes (no ``params``).  The book's own backward reads a
    ``dW`` that its Affine does not have; this one computes it."""

    def __init__(self, W: Any, b: Any) -> None:  # noqa: N803
        self.W, self.b = W, b
        self.dW: Any = None
        self.db: Any = None
        self.layers = None
        self._x: Any = None

    def forward(self, xs: Any) -> Any:
        N, T, D = xs.shape  # noqa: N806
        out = np.dot(xs.reshape(N * T, D), self.W) + self.b
        self._x = xs
        return out.reshape(N, T, -1).astype(np.float32, copy=False)

    def backward(self, dout: Any) -> Any:
        xs = self._x
        if xs is None:
            _not_yet(self)
        N, T, D = xs.shape  # noqa: N806
        d2 = dout.reshape(N * T, -1)
        self.dW = np.dot(xs.reshape(N * T, D).T, d2)
        self.db = d2.sum(axis=0)
        return np.dot(d2, self.W.T).reshape(N, T, D).astype(np.float32, copy=False)
