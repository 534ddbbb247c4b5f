"""The computational-graph nodes of chapter 5: ``MulLayer`` and ``AddLayer``.

One implementation serves both namespaces (``zk_layers`` and
``zk_layers.reference``): there is nothing to compile in one multiplication.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import real_operand, require_forward

__all__ = ["MulLayer", "AddLayer"]


def _sum_to_shape(grad: Any, like: Any) -> Any:
    """Undo broadcasting: sum ``grad`` down to the shape of the operand ``like``."""
    shape = np.shape(like)
    if np.shape(grad) == shape:
        return grad
    grad = np.asarray(grad)
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    kept = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept:
        grad = grad.sum(axis=kept, keepdims=True)
    return grad[()] if shape == () else grad


def _check_upstream(dout: Any, out_shape: tuple[int, ...]) -> None:
    if np.shape(dout) != out_shape:
        raise ValueError(
            f"dout must have the shape of the forward output {out_shape}, "
            f"got shape {np.shape(dout)}"
        )


class _GraphNode:
    """What MulLayer and AddLayer share: remember the operands, check dout,
    and sum each gradient back to its operand's shape."""

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def _apply(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def forward(self, x: Any, y: Any) -> Any:
        x = real_operand(x, "x")
        y = real_operand(y, "y")
        out = self._apply(x, y)
        out_shape = np.shape(out)
        self.x, self.y, self._out_shape = x, y, out_shape
        return out

    def backward(self, dout: Any) -> tuple[Any, Any]:
        x = require_forward(self, self.x)
        _check_upstream(real_operand(dout, "dout"), self._out_shape)
        dx, dy = self._local_gradients(dout)
        return _sum_to_shape(dx, x), _sum_to_shape(dy, self.y)


class MulLayer(_GraphNode):
    """Multiplication node of a computational graph: ``out = x * y``.

    ``forward(x, y)`` returns ``x * y`` and remembers both operands;
    ``backward(dout)`` returns ``(dout * y, dout * x)``: the operands swapped,
    as in the book.  Works on Python scalars (the book's shopping example)
    and on arrays; with broadcasting, each gradient is summed back to its
    operand's shape.  The fast and reference packages share this class:
    there is nothing to compile in one multiplication.
    """

    def _apply(self, x: Any, y: Any) -> Any:
        return x * y

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        return dout * self.y, dout * self.x


class AddLayer(_GraphNode):
    """Addition node of a computational graph: ``out = x + y``.

    ``backward(dout)`` passes the gradient through unchanged to both
    operands (summed back to each operand's shape when they were broadcast).
    """

    def _apply(self, x: Any, y: Any) -> Any:
        return x + y

    def _local_gradients(self, dout: Any) -> tuple[Any, Any]:
        return dout * 1, dout * 1
