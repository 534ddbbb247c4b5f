"""Numerical differentiation and gradient checks (the chapter's proof).

Backpropagation gives every gradient for the price of about one extra
forward pass; the central difference below needs two forward passes per
parameter.  ``gradient_check`` runs both and reports how far apart they are.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import positive_number

__all__ = ["numerical_gradient", "gradient_check", "GradientComparison"]


def numerical_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    Each element of ``x`` is moved by ``+h`` and ``-h`` in place, ``f(x)``
    evaluated, and the element restored (also when ``f`` raises), as in the
    book's ``common/gradient.py``: ``f`` may ignore its argument and read
    ``x`` through a layer or net that holds it.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar.
    x : ndarray, float32 or float64, writeable
        The point; modified during the call and restored exactly.
    h : float, default 1e-4
        Step.  With float32 ``x`` the result is only good to about 1e-3.

    Returns
    -------
    ndarray of x's shape and dtype.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a NumPy array (it is perturbed in place), got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"x must have a floating dtype, float32 or float64 (a step of h={h!r} is "
            f"lost to rounding in other dtypes), got {x.dtype}"
        )
    if not x.flags.writeable:
        raise ValueError("x must be writeable: numerical_gradient perturbs it in place and restores it")
    h = positive_number(h, "h")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index", "zerosize_ok"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        original = x[idx].copy()
        try:
            x[idx] = original + h
            f_plus = float(f(x))
            x[idx] = original - h
            f_minus = float(f(x))
        finally:
            x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


@dataclass(frozen=True)
class GradientComparison:
    """Backprop against numerical gradient for one array."""

    name: str
    backprop: np.ndarray
    numerical: np.ndarray

    @property
    def mean_abs_diff(self) -> float:
        """Mean absolute difference (the book's measure)."""
        return float(np.mean(np.abs(self.backprop - self.numerical))) if self.numerical.size else 0.0

    @property
    def max_abs_diff(self) -> float:
        return float(np.max(np.abs(self.backprop - self.numerical))) if self.numerical.size else 0.0

    @property
    def n_forward_passes(self) -> int:
        """Forward passes the numerical gradient needed (2 per element)."""
        return 2 * self.numerical.size


def gradient_check(
    model: Any, *inputs: Any, dout: Any = None, h: float = 1e-4, seed: int = 0
) -> dict[str, GradientComparison]:
    """Compare backprop with numerical gradients for a layer or a net.

    A **net** is any object with ``params`` (a dict of arrays), ``loss(x,
    t)`` and ``gradient(x, t)`` (the book's ``TwoLayerNet`` interface); pass
    ``x, t`` as inputs.  Every parameter is checked.

    A **layer** is any object with ``forward(*inputs)`` and ``backward``.
    Its scalar objective is the loss itself when ``forward`` returns a
    scalar (``SoftmaxWithLoss``: the gradient with respect to x is
    checked), and otherwise ``sum(forward(*inputs) * dout)`` with ``dout``
    given or drawn from a standard normal (``seed``).  The gradients with
    respect to every floating-point array input, and to ``W`` and ``b``
    when the layer has them (``dW``, ``db``), are checked.  Inputs are
    copied to float64 first; ``W`` and ``b`` are perturbed in place and
    restored.

    Returns
    -------
    dict mapping a name ("x", "y", "W", "b", or a net's parameter keys) to
    a :class:`GradientComparison`.
    """
    if hasattr(model, "params") and hasattr(model, "gradient"):
        x, t = inputs
        backprop = model.gradient(x, t)
        return {
            key: GradientComparison(
                key, np.asarray(backprop[key]),
                numerical_gradient(lambda _: model.loss(x, t), model.params[key], h),
            )
            for key in model.params
        }

    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a for a in inputs]
    out = model.forward(*arrays)
    scalar_output = np.ndim(out) == 0
    if scalar_output:
        weights = None
        grads = model.backward(1.0 if dout is None else dout)
    else:
        weights = (np.random.default_rng(seed).standard_normal(np.shape(out))
                   if dout is None else np.asarray(dout, dtype=np.float64))
        grads = model.backward(weights)
    grads = grads if isinstance(grads, tuple) else (grads,)

    def objective(_: Any) -> float:
        value = model.forward(*arrays)
        return float(value) if scalar_output else float(np.sum(value * weights))

    names = ["x", "y"] if len(arrays) == 2 and not scalar_output else ["x"]
    results: dict[str, GradientComparison] = {}
    for name, array, grad in zip(names, arrays, grads, strict=False):
        if isinstance(array, np.ndarray) and array.dtype.kind == "f" and grad is not None:
            results[name] = GradientComparison(name, np.asarray(grad), numerical_gradient(objective, array, h))
    for name, grad_name in (("W", "dW"), ("b", "db")):
        if hasattr(model, name) and hasattr(model, grad_name):
            grad = np.array(getattr(model, grad_name))
            results[name] = GradientComparison(name, grad, numerical_gradient(objective, getattr(model, name), h))
    objective(None)  # leave the layer in the state of the unperturbed inputs
    return results
