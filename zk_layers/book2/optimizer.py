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

from typing import Any

import numpy as np

from .. import _kernels, _update  # noqa: F401  (_kernels binds the glue to its kernels)
from .np import GPU  # noqa: F401 (the book's module namespace)

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]


class _Lists:
    """What the six share: ``update`` checks the lists, creates the state
    lists named by ``_state_names`` at the first update with
    ``np.zeros_like`` (as the book does), then ``_update`` runs."""

    _state_names: tuple[str, ...] = ()

    def update(self, params: Any, grads: Any) -> None:
        if len(grads) != len(params):
            raise ValueError(f"grads must hold one gradient per parameter: {len(params)} parameters, "
                             f"got {len(grads)} gradients")
        states = []
        for name in self._state_names:
            state = getattr(self, name)
            if state is None:
                state = [np.zeros_like(param) for param in params]
                setattr(self, name, state)
            elif len(state) != len(params):
                raise ValueError(f"{type(self).__name__}.{name} holds state for {len(state)} parameters, but "
                                 f"update got {len(params)}: the state belongs to other parameters (use a new "
                                 f"optimizer)")
            states.append(state)
        self._update(params, grads, *states)

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        raise NotImplementedError


def _compiled(kind: int, param: Any, grad: Any, s1: Any = None, s2: Any = None, *c: Any) -> bool:
    return bool(_update.fits(param, grad) and _update.step(kind, param, grad, s1, s2, *c))


class SGD(_Lists):
    """``params[i] -= lr * grads[i]``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        for i in range(len(params)):
            if not _compiled(_update.SGD, params[i], grads[i], None, None, self.lr):
                params[i] -= self.lr * grads[i]


class _Velocity(_Lists):
    """Momentum's and Nesterov's ``lr``, ``momentum`` and velocity ``v``."""

    _state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: list[Any] | None = None


class Momentum(_Velocity):
    """``v = momentum * v - lr * grad; param += v``."""

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        v, = states
        for i in range(len(params)):
            if not _compiled(_update.MOMENTUM, params[i], grads[i], v[i], None, self.momentum, self.lr):
                v[i] = self.momentum * v[i] - self.lr * grads[i]
                params[i] += v[i]


class Nesterov(_Velocity):
    """Nesterov's accelerated gradient, the second volume's order::

        v *= momentum; v -= lr * grad
        param += momentum * momentum * v
        param -= (1 + momentum) * lr * grad
    """

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        v, = states
        for i in range(len(params)):
            v[i] *= self.momentum
            v[i] -= self.lr * grads[i]
            params[i] += self.momentum * self.momentum * v[i]
            params[i] -= (1 + self.momentum) * self.lr * grads[i]


class AdaGrad(_Lists):
    """``h += grad * grad; param -= lr * grad / (sqrt(h) + 1e-7)``."""

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: list[Any] | None = None

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        h, = states
        for i in range(len(params)):
            if not _compiled(_update.ADAGRAD, params[i], grads[i], h[i], None, self.lr, 1e-7):
                h[i] += grads[i] * grads[i]
                params[i] -= self.lr * grads[i] / (np.sqrt(h[i]) + 1e-7)


class RMSprop(_Lists):
    """``h = decay_rate * h + (1 - decay_rate) * grad**2;
    param -= lr * grad / (sqrt(h) + 1e-7)``."""

    _state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: list[Any] | None = None

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        h, = states
        for i in range(len(params)):
            if not _compiled(_update.RMSPROP, params[i], grads[i], h[i], None, self.lr, self.decay_rate, 1e-7):
                h[i] *= self.decay_rate
                h[i] += (1 - self.decay_rate) * grads[i] * grads[i]
                params[i] -= self.lr * grads[i] / (np.sqrt(h[i]) + 1e-7)


class Adam(_Lists):
    """Adam (http://arxiv.org/abs/1412.6980v8), the book's form::

        lr_t = lr * sqrt(1 - beta2**iter) / (1 - beta1**iter)
        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad**2 - v)
        param -= lr_t * m / (sqrt(v) + 1e-7)
    """

    _state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: list[Any] | None = None
        self.v: list[Any] | None = None

    def _update(self, params: Any, grads: Any, *states: list[Any]) -> None:
        m, v = states
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for i in range(len(params)):
            if not _compiled(_update.ADAM, params[i], grads[i], m[i], v[i], lr_t, self.beta1, self.beta2, 1e-7):
                m[i] += (1 - self.beta1) * (grads[i] - m[i])
                v[i] += (1 - self.beta2) * (grads[i]**2 - v[i])
                params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + 1e-7)
