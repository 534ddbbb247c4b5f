"""Parameter updates: SGD (chapter 5) and chapter 6's Momentum, Nesterov,
AdaGrad, RMSprop and Adam, with the book's names, arguments and formulas.

Each optimizer updates ``params[key]`` **in place** from ``grads[key]``, as
the book does: the layers hold the same arrays (``Affine`` never copies its
``W`` and ``b``), so an in-place update is what their next forward uses.

For a contiguous float32/float64 parameter with a gradient of the same
shape and dtype, one compiled pass (src/_update.pyx, on the kernels of
src/_cpu_update.pyx) updates the parameter
and the optimizer's state together; in float64 the result is bitwise what
the book's NumPy lines give (tests compare them step by step), in float32
too (the kernels round every coefficient to float32 as NumPy does with a
Python float).  Anything else (other layouts, mixed dtypes, Python floats
as in ``ch06/optimizer_compare_naive.py``) runs the book's NumPy lines.

The state (``v``, ``h``, ``m``) is created at the first ``update`` with
``np.zeros_like``, as in the book; an entry replaced since is used if it
fits the compiled pass, else through the book's lines.

Before anything is updated, every entry is checked: a parameter must be a
writable float array (or a Python/NumPy real scalar, as the book's
``optimizer_compare_naive.py`` uses) and its gradient a real array or
scalar of the same shape.  A mismatch raises ``TypeError`` or
``ValueError`` naming the key and both shapes or dtypes, and leaves every
parameter and the state as they were.  A state entry replaced since with
one of another shape is checked when its key is reached (Momentum's lines
broadcast it onto the parameter, as the book's do; the others need the
parameter's shape), with the same kind of message.  The
hyperparameters (``lr``, ``momentum``, ``decay_rate``, ``beta1``,
``beta2``, ``iter``) are checked when they are assigned, at construction or
later, with the constructor's messages.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

# _kernels binds the glue module to the best kernels before any call.
from . import _kernels, _update  # noqa: F401
from ._validate import (
    _describe,
    fraction,
    nonnegative_int,
    nonnegative_number,
    positive_number,
    ran,
)

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "Optimizer", "OPTIMIZERS", "make_optimizer"]

Params = MutableMapping[str, Any]
Grads = Mapping[str, Any]


class _Checked:
    """Hyperparameters checked whenever they are assigned, at construction
    or later (``opt.lr = "0.1"`` raises then, naming ``lr``, rather than
    inside a later update).  Reads stay plain attribute reads."""

    _checks: dict[str, Callable[[Any, str], Any]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        check = self._checks.get(name)
        object.__setattr__(self, name, value if check is None else check(value, name))


def _scalar(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_entries(params: Params, grads: Grads) -> list[bool]:
    """Every parameter, its gradient and its state fit together (see the
    module docstring); checked before anything is updated.  Returns, key by
    key, whether the compiled pass may take the parameter and its gradient
    (_fused_update_applies): such an entry needs no other check."""
    missing = [key for key in params if key not in grads]
    if missing:
        raise ValueError(f"grads has no entry for parameter(s) {missing}")
    applies = []
    for key, param in params.items():
        grad = grads[key]
        fits = _fused_update_applies(param, grad)
        if not fits:
            _check_entry(key, param, grad)
        applies.append(fits)
    return applies


def _check_state(name: str, key: str, entry: Any, param: Any, broadcasts: bool) -> None:
    """A replaced state entry runs the book's lines.  Those of Momentum
    assign ``v[key]`` anew, so a state that broadcasts onto the parameter
    works as in the book; the others update it in place, which needs the
    parameter's shape."""
    shape = np.shape(param)
    try:
        fits = np.broadcast_shapes(np.shape(entry), shape) == shape if broadcasts else np.shape(entry) == shape
    except ValueError:
        fits = False
    if not fits:
        need = "does not broadcast to" if broadcasts else "is not"
        raise ValueError(f"{name}[{key!r}] has shape {np.shape(entry)}, which {need} the shape {shape} of "
                         f"params[{key!r}]: the state belongs to another parameter (use a new optimizer)")


def _check_entry(key: str, param: Any, grad: Any) -> None:
    if isinstance(param, np.ndarray):
        if param.dtype.kind != "f":
            raise TypeError(f"params[{key!r}] must be a float array to be updated in place, "
                            f"got {_describe(param)}")
        if not param.flags.writeable:
            raise ValueError(f"params[{key!r}] is read-only: the update writes into it")
    elif not _scalar(param):
        raise TypeError(f"params[{key!r}] must be a float array or a real number, got {_describe(param)}")
    if isinstance(grad, np.ndarray):
        if grad.dtype.kind not in "fiu":
            raise TypeError(f"grads[{key!r}] must hold real numbers, got {_describe(grad)}")
    elif not _scalar(grad):
        raise TypeError(f"grads[{key!r}] must be a real array or number, got {_describe(grad)}")
    if np.shape(grad) != np.shape(param):
        raise ValueError(f"grads[{key!r}] has shape {np.shape(grad)}, but params[{key!r}] has shape "
                         f"{np.shape(param)}: a gradient has its parameter's shape")


# Whether the compiled pass may take a parameter (or a state array) and its
# gradient as they are, decided in C: exact C-contiguous aligned ndarrays of
# one float dtype and shape, the first writeable, not overlapping.
_fused_update_applies = _update.fits


class _Stateful(_Checked):
    """What the optimizers with per-parameter state share: the state dicts
    created lazily with ``np.zeros_like`` (as the book does), and the check
    that decides whether the compiled pass may run for one parameter."""

    _state_names: tuple[str, ...] = ()
    _state_broadcasts = False  # may a replaced state broadcast onto its parameter (Momentum's lines)?
    _owned: dict[str, tuple[Any, ...]]  # the state arrays this optimizer made, by key (set at the first update)

    def _ensure_state(self, params: Params, grads: Grads) -> tuple[list[dict[str, Any]], list[bool]]:
        """The state dicts, every entry checked and the missing ones created,
        and _check_entries' flags."""
        states = []
        for name in self._state_names:
            state = getattr(self, name)
            if state is None:
                state = {}
                setattr(self, name, state)
            states.append(state)
        applies = _check_entries(params, grads)
        owned: dict[str, tuple[Any, ...]] | None = getattr(self, "_owned", None)
        if owned is None:
            owned = self._owned = {}
        for key, value in params.items():
            if any(key not in state for state in states):
                for state in states:
                    state[key] = np.zeros_like(value)
                owned[key] = tuple(state[key] for state in states)
        return states, applies

    # The compiled kernel (zk_layers._update's kinds) and, per class, its
    # coefficients and the book's lines for the entries it cannot take.
    _kind: int

    def _coefficients(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def update(self, params: Params, grads: Grads) -> None:
        """Update every array of ``params`` and the state in place (see the module docstring)."""
        states, applies = self._ensure_state(params, grads)
        coefficients = self._coefficients()
        two = len(states) == 2
        for key, fits in zip(params, applies, strict=True):
            param, grad = params[key], grads[key]
            first, second = states[0][key], states[1][key] if two else None
            arrays = (first, second) if two else (first,)
            if self._fused(key, param, grad, arrays, fits):
                ran(_update.step(self._kind, param, grad, first, second, *coefficients))
            else:
                self._check_state_of(key, param)
                self._book_lines(params, key, grad, states, coefficients)

    def _check_state_of(self, key: str, param: Any) -> None:
        """Before the book's lines: the state entries of ``key`` fit ``param``
        (_check_state); checked here, off the compiled path."""
        for name in self._state_names:
            _check_state(f"{type(self).__name__}.{name}", key, getattr(self, name)[key], param,
                         self._state_broadcasts)

    def _fused(self, key: str, param: Any, grad: Any, arrays: tuple[Any, ...], applies: bool) -> bool:
        """May the compiled pass update ``param`` and the state ``arrays``?
        ``applies``: it may take ``param`` and ``grad``.  State arrays this
        optimizer created are known to fit; replaced ones are checked like
        a parameter."""
        if not applies:
            return False
        owned = self._owned.get(key, ())
        if len(owned) == len(arrays) and all(a is b for a, b in zip(owned, arrays, strict=True)) and all(
                a.shape == param.shape and a.dtype is param.dtype for a in arrays):
            return True
        for i, a in enumerate(arrays):
            if not (_fused_update_applies(a, grad) and a.dtype is param.dtype and a.shape == param.shape
                    and not np.may_share_memory(a, param)
                    and not any(np.may_share_memory(a, b) for b in arrays[i + 1:])):
                return False
        return True


class SGD(_Checked):
    """Stochastic gradient descent: ``W -= lr * dW``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    """

    _checks = {"lr": positive_number}

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Grads) -> None:
        """Update every array of ``params`` in place (see the module docstring)."""
        if type(params) is dict and type(grads) is dict and _update.sgd_all(params, grads, self.lr):
            return  # the common case: every entry ready, one compiled call
        applies = _check_entries(params, grads)
        for key, fused in zip(params, applies, strict=True):
            param, grad = params[key], grads[key]
            if fused:
                ran(_update.step(_update.SGD, param, grad, None, None, self.lr))
            else:
                params[key] -= self.lr * grad


class _Velocity(_Stateful):
    """What Momentum and Nesterov share: ``lr``, ``momentum`` and the velocity ``v``."""

    _state_names = ("v",)
    _checks = {"lr": positive_number, "momentum": fraction}

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: dict[str, Any] | None = None

    def _coefficients(self) -> tuple[Any, ...]:
        return self.momentum, self.lr


class Momentum(_Velocity):
    """SGD with momentum: ``v = momentum * v - lr * dW; W += v``.

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float in [0, 1), default 0.9
    """

    _state_broadcasts = True
    _kind = _update.MOMENTUM

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        v = states[0]
        v[key] = self.momentum * v[key] - self.lr * grad
        params[key] += v[key]


class Nesterov(_Velocity):
    """Nesterov's accelerated gradient (http://arxiv.org/abs/1212.0901), in
    the book's formulation::

        W += momentum * momentum * v
        W -= (1 + momentum) * lr * dW
        v = momentum * v - lr * dW

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float in [0, 1), default 0.9
    """

    _kind = _update.NESTEROV

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        v = states[0]
        params[key] += self.momentum * self.momentum * v[key]
        params[key] -= (1 + self.momentum) * self.lr * grad
        v[key] *= self.momentum
        v[key] -= self.lr * grad


class AdaGrad(_Stateful):
    """AdaGrad: ``h += dW * dW; W -= lr * dW / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
    """

    _state_names = ("h",)
    _checks = {"lr": positive_number, "eps": nonnegative_number}
    eps = 1e-7

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: dict[str, Any] | None = None

    _kind = _update.ADAGRAD

    def _coefficients(self) -> tuple[Any, ...]:
        return self.lr, self.eps

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        h = states[0]
        h[key] += grad * grad
        params[key] -= self.lr * grad / (np.sqrt(h[key]) + self.eps)


class RMSprop(_Stateful):
    """RMSprop::

        h = decay_rate * h + (1 - decay_rate) * dW * dW
        W -= lr * dW / (sqrt(h) + 1e-7)

    Parameters
    ----------
    lr : float, default 0.01
    decay_rate : float in [0, 1), default 0.99
    """

    _state_names = ("h",)
    _checks = {"lr": positive_number, "decay_rate": fraction, "eps": nonnegative_number}
    eps = 1e-7

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: dict[str, Any] | None = None

    _kind = _update.RMSPROP

    def _coefficients(self) -> tuple[Any, ...]:
        return self.lr, self.decay_rate, self.eps

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        h = states[0]
        h[key] *= self.decay_rate
        h[key] += (1 - self.decay_rate) * grad * grad
        params[key] -= self.lr * grad / (np.sqrt(h[key]) + self.eps)


class Adam(_Stateful):
    """Adam (Kingma & Ba, 2015), in the book's formulation.

    With ``t`` the step count::

        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
        m += (1 - beta1) * (dW - m)
        v += (1 - beta2) * (dW**2 - v)
        W -= lr_t * m / (sqrt(v) + 1e-7)

    Parameters
    ----------
    lr : float, default 0.001
    beta1 : float in [0, 1), default 0.9
    beta2 : float in [0, 1), default 0.999
    """

    _state_names = ("m", "v")
    _checks = {"lr": positive_number, "beta1": fraction, "beta2": fraction, "eps": nonnegative_number,
               "iter": nonnegative_int}
    eps = 1e-7

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: dict[str, Any] | None = None
        self.v: dict[str, Any] | None = None

    _kind = _update.ADAM

    def _coefficients(self) -> tuple[Any, ...]:
        # Called once per update, after the entries are checked: the step count moves here.
        object.__setattr__(self, "iter", self.iter + 1)  # checked when assigned: still an int >= 0
        # np.sqrt, as in the book: lr_t is a NumPy float64 (it decides the
        # dtype of the last step for float32 parameters).
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        return lr_t, self.beta1, self.beta2, self.eps

    def _book_lines(self, params: Params, key: str, grad: Any, states: list[dict[str, Any]],
                    coefficients: tuple[Any, ...]) -> None:
        m, v = states
        lr_t = coefficients[0]
        m[key] += (1 - self.beta1) * (grad - m[key])
        v[key] += (1 - self.beta2) * (grad**2 - v[key])
        params[key] -= lr_t * m[key] / (np.sqrt(v[key]) + self.eps)


# The book's six by their lower-case names: the book's Trainer
# (zk_layers.book.trainer), zk.train, zk.train_convnet and `zk-layers train`.
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}
Optimizer = SGD | Momentum | Nesterov | AdaGrad | RMSprop | Adam


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """An optimizer by name (a key of OPTIMIZERS: "sgd", "momentum", "nesterov",
    "adagrad", "rmsprop", "adam"), with its class's default lr unless given."""
    try:
        cls = OPTIMIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}") from None
    return cls() if lr is None else cls(lr=lr)
