"""The second volume's ``common/optimizer.py``: SGD, Momentum, Nesterov,
AdaGrad, RMSprop and Adam over **lists**: ``update(params, grads)`` updates
``params[i]`` in place from ``grads[i]``, and the state (``v``, ``h``,
``m``) is a list created at the first update with ``np.zeros_like``, as in
the book.

Each entry whose parameter and gradient are C-contiguous float arrays of one
dtype and shape takes one compiled pass (the kernels of
:mod:`zk_layers.optimizers`, bitwise the book's lines, float32 included:
Adam's ``lr_t`` is a NumPy float64 there as in the book, so its last line
is computed in float64 for float32 parameters).  Other entries run the
book's NumPy lines.  The second volume's Nesterov updates ``v`` before the
parameter (the first volume's after it), so it runs the book's lines.

Lists of other lengths than the parameters', or a state list changed to
another length, raise ValueError before anything is updated.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _kernels, _update  # noqa: F401  (_kernels binds the glue to its kernels)
from .np import GPU  # noqa: F401 (the book's module namespace)

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]


def _check_lists(params: Sequence[Any], grads: Sequence[Any], states: Sequence[Any]) -> None:
    if len(grads) != len(params):
        raise ValueError(f"grads must hold one gradient per parameter: {len(params)} parameters, "
                         f"got {len(grads)} gradients")
    for name, state in states:
        if state is not None and len(state) != len(params):
            raise ValueError(f"{name} holds state for {len(state)} parameters, but update got "
                             f"{len(params)}: the state belongs to other parameters (use a new optimizer)")


def _zeros_like_all(params: Sequence[Any]) -> list[Any]:
    return [np.zeros_like(param) for param in params]


def _compiled(kind: int, param: Any, grad: Any, s1: Any = None, s2: Any = None, *c: Any) -> bool:
    return bool(_update.fits(param, grad) and _update.step(kind, param, grad, s1, s2, *c))


class SGD:
    """``params[i] -= lr * grads[i]``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, ())
        for i in range(len(params)):
            if not _compiled(_update.SGD, params[i], grads[i], None, None, self.lr):
                params[i] -= self.lr * grads[i]


class Momentum:
    """``v = momentum * v - lr * grad; param += v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: list[Any] | None = None

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, [("Momentum.v", self.v)])
        if self.v is None:
            self.v = _zeros_like_all(params)
        v = self.v
        for i in range(len(params)):
            if not _compiled(_update.MOMENTUM, params[i], grads[i], v[i], None, self.momentum, self.lr):
                v[i] = self.momentum * v[i] - self.lr * grads[i]
                params[i] += v[i]


class Nesterov:
    """Nesterov's accelerated gradient, the second volume's order::

        v *= momentum; v -= lr * grad
        param += momentum * momentum * v
        param -= (1 + momentum) * lr * grad
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: list[Any] | None = None

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, [("Nesterov.v", self.v)])
        if self.v is None:
            self.v = _zeros_like_all(params)
        v = self.v
        for i in range(len(params)):
            v[i] *= self.momentum
            v[i] -= self.lr * grads[i]
            params[i] += self.momentum * self.momentum * v[i]
            params[i] -= (1 + self.momentum) * self.lr * grads[i]


class AdaGrad:
    """``h += grad * grad; param -= lr * grad / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: list[Any] | None = None

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, [("AdaGrad.h", self.h)])
        if self.h is None:
            self.h = _zeros_like_all(params)
        h = self.h
        for i in range(len(params)):
            if not _compiled(_update.ADAGRAD, params[i], grads[i], h[i], None, self.lr, 1e-7):
                h[i] += grads[i] * grads[i]
                params[i] -= self.lr * grads[i] / (np.sqrt(h[i]) + 1e-7)


class RMSprop:
    """``h = decay_rate * h + (1 - decay_rate) * grad**2;
    param -= lr * grad / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: list[Any] | None = None

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, [("RMSprop.h", self.h)])
        if self.h is None:
            self.h = _zeros_like_all(params)
        h = self.h
        for i in range(len(params)):
            if not _compiled(_update.RMSPROP, params[i], grads[i], h[i], None, self.lr, self.decay_rate,
                             1e-7):
                h[i] *= self.decay_rate
                h[i] += (1 - self.decay_rate) * grads[i] * grads[i]
                params[i] -= self.lr * grads[i] / (np.sqrt(h[i]) + 1e-7)


class Adam:
    """Adam (http://arxiv.org/abs/1412.6980v8), the book's form::

        lr_t = lr * sqrt(1 - beta2**iter) / (1 - beta1**iter)
        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad**2 - v)
        param -= lr_t * m / (sqrt(v) + 1e-7)
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: list[Any] | None = None
        self.v: list[Any] | None = None

    def update(self, params: Any, grads: Any) -> None:
        _check_lists(params, grads, [("Adam.m", self.m), ("Adam.v", self.v)])
        if self.m is None:
            self.m, self.v = _zeros_like_all(params), _zeros_like_all(params)
        m, v = self.m, self.v
        assert v is not None  # created with m
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for i in range(len(params)):
            if not _compiled(_update.ADAM, params[i], grads[i], m[i], v[i], lr_t, self.beta1, self.beta2,
                             1e-7):
                m[i] += (1 - self.beta1) * (grads[i] - m[i])
                v[i] += (1 - self.beta2) * (grads[i]**2 - v[i])
                params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + 1e-7)
