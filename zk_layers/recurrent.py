"""Recurrent layers over whole sequences: RNN, TimeRNN, LSTM and TimeLSTM.

The layers of the second volume's chapters 5-6, with its constructor
arguments, attributes and conventions (``params = [Wx, Wh, b]``, ``grads``
written in place, ``h``, ``c``, ``dh``, ``stateful``, ``set_state``,
``reset_state``; the LSTM's gates in the order f, g, i, o), computed another
way:

* the input products of all time steps are one product, ``xs @ Wx`` over
  the N*T rows; only ``h @ Wh`` is done step by step, and the gates, the new
  cell and the new state are one compiled pass over each step's rows
  (src/_cpu_recurrent.pyx);
* backward likewise: each step is one compiled pass and the product
  ``dA @ Wh.T``; the gradients ``dWx``, ``dWh``, ``db`` and ``dxs`` are then
  one product each over all N*T rows, where the book adds T products of
  every gradient, one per step, into fresh arrays.

The values are the book's formulas, summed in another order (one product
over N*T rows instead of T), so they agree with the book's code to
rounding, not bit for bit; they are bitwise the same at every thread count.
These classes compute in the dtype of their inputs (float32 or float64, the
wider if mixed) and return it; :mod:`zk_layers.book2.time_layers` holds the
book's classes, which return float32 as the book's do.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _recurrent
from ._products import product_into, sum_into

__all__ = ["RNN", "TimeRNN", "LSTM", "TimeLSTM"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# From this many time steps on, TimeLSTM's backward takes a C-ordered copy of Wh.T.
_TRANSPOSED_COPY_MIN_STEPS = 8


def _compute_dtype(layer: Any, *arrays: Any) -> np.dtype:
    """float64 if any array is float64 (NumPy's promotion), else float32;
    a TypeError names the layer for anything else."""
    dtype = np.result_type(*arrays)
    if dtype not in _FLOATS:
        if dtype.kind in "biu" or dtype == np.float16:
            dtype = np.result_type(dtype, np.float32)
        if dtype not in _FLOATS:
            raise TypeError(f"{type(layer).__name__}: expected float32 or float64 arrays, got {dtype}")
    return dtype


def _params(layer: Any, gates: int) -> tuple[Any, Any, Any, int, int]:
    """Wx, Wh, b and (D, H), checked: Wx (D, gates*H), Wh (H, gates*H), b (gates*H,)."""
    Wx, Wh, b = layer.params  # noqa: N806 (the book's names)
    for name, value, nd in (("Wx", Wx, 2), ("Wh", Wh, 2), ("b", b, 1)):
        if not isinstance(value, np.ndarray) or value.ndim != nd:
            raise ValueError(f"{type(layer).__name__}: {name} must be a {nd}-D ndarray, got "
                             f"{getattr(value, 'shape', type(value).__name__)}")
    H = Wh.shape[0]  # noqa: N806
    if Wh.shape != (H, gates * H) or Wx.shape[1] != gates * H or b.shape != (gates * H,):
        raise ValueError(f"{type(layer).__name__}: expected Wx (D, {gates}H), Wh (H, {gates}H), "
                         f"b ({gates}H,); got Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}")
    return Wx, Wh, b, Wx.shape[0], H


def _sequence(layer: Any, xs: Any, D: int) -> tuple[int, int]:  # noqa: N803
    if not isinstance(xs, np.ndarray) or xs.ndim != 3 or xs.shape[2] != D:
        raise ValueError(f"{type(layer).__name__}.forward: xs must be an (N, T, {D}) array, got "
                         f"{getattr(xs, 'shape', type(xs).__name__)}")
    return xs.shape[0], xs.shape[1]


def _state(layer: Any, value: Any, name: str, N: int, H: int, dtype: np.dtype) -> np.ndarray:  # noqa: N803
    """A state given by the caller (set_state or a stateful layer's last), as an (N, H) array."""
    if np.shape(value) != (N, H):
        raise ValueError(f"{type(layer).__name__}.forward: the state {name} must be ({N}, {H}) "
                         f"for this batch, got {np.shape(value)}")
    return np.array(value, dtype=dtype, order="C")  # a copy, for the same reason as x2


def _as(a: Any, dtype: np.dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def _gradients(layer: Any, cache: dict[str, Any], dA: np.ndarray) -> np.ndarray:  # noqa: N803
    """dWx, dWh, db from the gates' gradients dA (N, T, G) over all steps in
    one product each, written into layer.grads; returns dxs (N, T, D)."""
    N, T, G = dA.shape  # noqa: N806
    x2, h0, hs, Wx = cache["x2"], cache["h0"], cache["hs"], cache["Wx"]  # noqa: N806
    H = h0.shape[1]  # noqa: N806
    if T == 0:  # the book's sums of no steps: zero
        for grad in layer.grads:
            grad[...] = 0
        return np.zeros((N, 0, x2.shape[1]), dA.dtype)
    hprev = np.empty((N, T, H), dtype=dA.dtype)
    hprev[:, 0] = h0
    hprev[:, 1:] = hs[:, :-1]
    d2 = dA.reshape(N * T, G)
    product_into(layer.grads[0], x2.T, d2)
    product_into(layer.grads[1], hprev.reshape(N * T, H).T, d2)
    sum_into(layer.grads[2], d2)
    return np.dot(d2, _as(Wx, dA.dtype).T).reshape(N, T, x2.shape[1])


class _Recurrent:
    """What the four layers share: params and grads, the state, the cache
    of the last forward, and the dtype they return."""

    _GATES = 1
    _book_float32 = False  # the book's classes return float32 whatever they compute in

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:  # noqa: N803
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.h: Any = None
        self.dh: Any = None
        self.stateful = stateful
        self._cache: dict[str, Any] | None = None

    def _out(self, a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32, copy=False) if self._book_float32 else a

    def _begin(self, xs: Any, states: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
        """The checked inputs of a forward over xs (N, T, D): N, T, D, H,
        the compute dtype, x2 (N*T, D), Wh, b in it, and the initial states
        (zeros for those None)."""
        Wx, Wh, b, D, H = _params(self, self._GATES)  # noqa: N806
        N, T = _sequence(self, xs, D)  # noqa: N806
        given = [value for _, value in states if value is not None]
        dtype = _compute_dtype(self, xs, Wx, Wh, b, *given)
        # A copy: backward needs the inputs as forward saw them, whatever
        # the caller does with its array in between.
        x2 = np.array(xs, dtype=dtype, order="C").reshape(N * T, D)
        initial = [np.zeros((N, H), dtype) if value is None else _state(self, value, name, N, H, dtype)
                   for name, value in states]
        return (N, T, D, H, dtype, x2, Wx, _as(Wh, dtype), _as(b, dtype), *initial)

    def _upstream(self, dhs: Any) -> tuple[dict[str, Any], np.ndarray]:
        cache = self._cache
        if cache is None:
            raise ValueError(f"{type(self).__name__}.backward called before forward")
        hs = cache["hs"]
        if np.shape(dhs) != hs.shape:
            raise ValueError(f"{type(self).__name__}.backward: dhs must have the forward output's "
                             f"shape {hs.shape}, got {np.shape(dhs)}")
        if any(p is not q for p, q in zip(self.params, cache["params"], strict=True)) \
                or any(p.shape != s for p, s in zip(self.params, cache["shapes"], strict=True)):
            raise ValueError(f"{type(self).__name__}.backward: params changed since forward "
                             "(replaced or reshaped); run forward again")
        return cache, _as(dhs, hs.dtype)

    def _remember(self, **cache: Any) -> None:
        cache["params"] = list(self.params)
        cache["shapes"] = [p.shape for p in self.params]
        self._cache = cache


class TimeRNN(_Recurrent):
    """``h_t = tanh(h_{t-1} Wh + x_t Wx + b)`` over T steps; forward takes
    xs (N, T, D) and returns hs (N, T, H)."""

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:  # noqa: N803
        super().__init__(Wx, Wh, b, stateful)
        self.layers = None  # the book's per-step RNN objects: not made here

    def forward(self, xs: Any) -> np.ndarray:
        h = self.h if self.stateful else None
        N, T, D, H, dtype, x2, Wx, Wh, b, h0 = self._begin(xs, (("h", h),))  # noqa: N806
        ax = np.dot(x2, _as(Wx, dtype)).reshape(N, T, H)
        hs = np.empty((N, T, H), dtype)
        g = np.empty((N, H), dtype)
        for t in range(T):
            np.dot(h0 if t == 0 else hs[:, t - 1], Wh, out=g)
            _recurrent.rnn_forward_step(ax, g, b, hs, t)
        self.h = hs[:, -1].copy() if T else h0
        self._remember(x2=x2, h0=h0, hs=hs, Wx=Wx)
        return self._out(hs)

    def backward(self, dhs: Any) -> np.ndarray:
        cache, dhs = self._upstream(dhs)
        hs = cache["hs"]
        N, T, H = hs.shape  # noqa: N806
        Wh = _as(self.params[1], hs.dtype)  # noqa: N806
        dts = np.empty_like(hs)
        dh = np.zeros((N, H), hs.dtype)
        for t in reversed(range(T)):
            _recurrent.rnn_backward_step(hs, dhs, dh, dts, t)
            np.dot(dts[:, t], Wh.T, out=dh)
        dxs = _gradients(self, cache, dts)
        self.dh = dh
        return self._out(dxs)

    def set_state(self, h: Any) -> None:
        self.h = h

    def reset_state(self) -> None:
        self.h = None


class TimeLSTM(_Recurrent):
    """The LSTM over T steps; forward takes xs (N, T, D) and returns hs
    (N, T, H).  ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,) hold the
    gates f, g, i, o side by side."""

    _GATES = 4

    def __init__(self, Wx: Any, Wh: Any, b: Any, stateful: bool = False) -> None:  # noqa: N803
        super().__init__(Wx, Wh, b, stateful)
        self.c: Any = None
        self.layers = None  # the book's per-step LSTM objects: not made here

    def forward(self, xs: Any) -> np.ndarray:
        h, c = (self.h, self.c) if self.stateful else (None, None)
        N, T, D, H, dtype, x2, Wx, Wh, b, h0, c0 = self._begin(xs, (("h", h), ("c", c)))  # noqa: N806
        gates = np.dot(x2, _as(Wx, dtype)).reshape(N, T, 4 * H)
        hs, cs, tcs = (np.empty((N, T, H), dtype) for _ in range(3))
        g = np.empty((N, 4 * H), dtype)
        for t in range(T):
            np.dot(h0 if t == 0 else hs[:, t - 1], Wh, out=g)
            _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs, t)
        self.h, self.c = (hs[:, -1].copy(), cs[:, -1].copy()) if T else (h0, c0)
        self._remember(x2=x2, h0=h0, c0=c0, hs=hs, cs=cs, tcs=tcs, gates=gates, Wx=Wx)
        return self._out(hs)

    def backward(self, dhs: Any) -> np.ndarray:
        cache, dhs = self._upstream(dhs)
        hs, gates = cache["hs"], cache["gates"]
        N, T, H = hs.shape  # noqa: N806
        # Wh.T laid out as rows: BLAS runs the steps' products on it faster than
        # on the transposed view, which pays for the (slow, strided) copy from
        # a few steps on.
        WhT = _as(self.params[1], hs.dtype).T  # noqa: N806
        if T >= _TRANSPOSED_COPY_MIN_STEPS:
            WhT = np.ascontiguousarray(WhT)  # noqa: N806
        dA = np.empty_like(gates)  # noqa: N806
        dh = np.zeros((N, H), hs.dtype)
        dc = np.zeros((N, H), hs.dtype)
        for t in reversed(range(T)):
            _recurrent.lstm_backward_step(gates, dhs, dh, dc, cache["c0"], cache["cs"], cache["tcs"], dA, t)
            np.dot(dA[:, t], WhT, out=dh)
        dxs = _gradients(self, cache, dA)
        self.dh = dh
        return self._out(dxs)

    def set_state(self, h: Any, c: Any = None) -> None:
        self.h, self.c = h, c

    def reset_state(self) -> None:
        self.h, self.c = None, None


class RNN:
    """One step of :class:`TimeRNN`: ``forward(x, h_prev)`` returns h_next,
    ``backward(dh_next)`` returns (dx, dh_prev)."""

    def __init__(self, Wx: Any, Wh: Any, b: Any) -> None:  # noqa: N803
        self._time = TimeRNN(Wx, Wh, b, stateful=True)
        self.params = self._time.params
        self.grads = self._time.grads

    def forward(self, x: Any, h_prev: Any) -> np.ndarray:
        time = self._time
        time.h = h_prev
        return time.forward(_one_step(self, x))[:, 0]

    def backward(self, dh_next: Any) -> tuple[np.ndarray, np.ndarray]:
        time = self._time
        dxs = time.backward(np.asarray(dh_next)[:, None])
        return dxs[:, 0], time.dh


class LSTM:
    """One step of :class:`TimeLSTM`: ``forward(x, h_prev, c_prev)`` returns
    (h_next, c_next), ``backward(dh_next, dc_next)`` (dx, dh_prev, dc_prev)."""

    def __init__(self, Wx: Any, Wh: Any, b: Any) -> None:  # noqa: N803
        self._time = TimeLSTM(Wx, Wh, b, stateful=True)
        self.params = self._time.params
        self.grads = self._time.grads

    def forward(self, x: Any, h_prev: Any, c_prev: Any) -> tuple[np.ndarray, np.ndarray]:
        time = self._time
        time.set_state(h_prev, c_prev)
        h = time.forward(_one_step(self, x))[:, 0]
        return h, time.c

    def backward(self, dh_next: Any, dc_next: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        time = self._time
        cache = time._cache
        if cache is None:
            raise ValueError("LSTM.backward called before forward")
        N, _, H = cache["hs"].shape  # noqa: N806
        dc = np.array(np.broadcast_to(dc_next, (N, H)), dtype=cache["hs"].dtype)
        # The time layer's backward with the cell's gradient coming in: one step of it.
        hs, gates = cache["hs"], cache["gates"]
        _, dhs = time._upstream(np.asarray(dh_next)[:, None])
        dA = np.empty_like(gates)  # noqa: N806
        dh = np.zeros((N, H), hs.dtype)
        _recurrent.lstm_backward_step(gates, dhs, dh, dc, cache["c0"], cache["cs"], cache["tcs"], dA, 0)
        np.dot(dA[:, 0], _as(time.params[1], hs.dtype).T, out=dh)
        dxs = _gradients(time, cache, dA)
        return dxs[:, 0], dh, dc


def _one_step(layer: Any, x: Any) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"{type(layer).__name__}.forward: x must be an (N, D) array, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    return x[:, None]
