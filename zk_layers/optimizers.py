"""Parameter updates: SGD (chapter 5), Momentum and Adam (chapter 6).

Each optimizer updates ``params[key]`` **in place** from ``grads[key]``, as
the book does: the layers hold the same arrays (``Affine`` never copies its
``W`` and ``b``), so an in-place update is what their next forward uses.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._kernels import KERNELS
from ._threads import GRAINS, threads_for
from ._validate import FLOAT32, FLOAT64, fraction, positive_number

__all__ = ["SGD", "Momentum", "Adam", "make_optimizer"]


def _check_keys(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
    missing = [key for key in params if key not in grads]
    if missing:
        raise ValueError(f"grads has no entry for parameter(s) {missing}")


class SGD:
    """Stochastic gradient descent: ``W -= lr * dW``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    """

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = positive_number(lr, "lr")

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place.

        Contiguous float32/float64 parameters with gradients of the same
        shape and dtype go through one compiled pass (no temporary for
        ``lr * grad``); the result is bitwise what ``param -= lr * grad``
        gives, which is what runs for anything else.
        """
        _check_keys(params, grads)
        for key in params:
            param, grad = params[key], grads[key]
            if _fused_update_applies(param, grad):
                KERNELS.sgd_update[param.itemsize == 8](
                    param.reshape(-1), grad.reshape(-1), self.lr, threads_for(param.size, GRAINS.elementwise)
                )
            else:
                params[key] -= self.lr * grad


def _fused_update_applies(param: object, grad: object) -> bool:
    return (
        type(param) is np.ndarray
        and type(grad) is np.ndarray
        and (param.dtype is FLOAT64 or param.dtype is FLOAT32)
        and grad.dtype is param.dtype
        and param.shape == grad.shape
        and param.flags.c_contiguous
        and param.flags.writeable
        and grad.flags.c_contiguous
        and not np.may_share_memory(param, grad)
    )


class Momentum:
    """SGD with momentum: ``v = momentum * v - lr * dW; W += v``.

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float in [0, 1), default 0.9
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = positive_number(lr, "lr")
        self.momentum = fraction(momentum, "momentum")
        self.v: dict[str, np.ndarray] | None = None

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place."""
        _check_keys(params, grads)
        if self.v is None:
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        for key in params:
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.v[key]


class Adam:
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

    eps = 1e-7

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = positive_number(lr, "lr")
        self.beta1 = fraction(beta1, "beta1")
        self.beta2 = fraction(beta2, "beta2")
        self.iter = 0
        self.m: dict[str, np.ndarray] | None = None
        self.v: dict[str, np.ndarray] | None = None

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place."""
        _check_keys(params, grads)
        if self.m is None or self.v is None:
            self.m = {key: np.zeros_like(value) for key, value in params.items()}
            self.v = {key: np.zeros_like(value) for key, value in params.items()}
        self.iter += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            grad = grads[key]
            self.m[key] += (1 - self.beta1) * (grad - self.m[key])
            self.v[key] += (1 - self.beta2) * (grad**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float | None = None) -> SGD | Momentum | Adam:
    """An optimizer by name ("sgd", "momentum", "adam"), with its default lr unless given."""
    try:
        cls = OPTIMIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}") from None
    return cls() if lr is None else cls(lr=lr)
