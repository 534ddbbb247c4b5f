"""Networks built from the layers: the book's TwoLayerNet and a deeper stack.

Both keep the book's interface: ``params`` (a dict of the weight arrays,
shared with the layers, so that ``params[key] -= lr * grad`` trains them),
``layers`` (an OrderedDict), ``lastLayer``, ``predict``, ``loss``,
``accuracy``, ``gradient`` (backprop) and ``numerical_gradient``.

``backend="fast"`` builds them from the compiled layers, ``"reference"``
from the NumPy ones; the same ``seed`` gives the same initial weights in
both, so the two can be compared step by step.

In the fast backend the first Affine layer is built with
``need_dx=False``: nothing consumes the gradient with respect to the input
images, and skipping that product saves about a third of the work of
``gradient`` at larger hidden sizes.  The parameter gradients are
unchanged.  The reference backend computes it, as the book does.
"""
from __future__ import annotations

import types
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import layers as fast_layers
from . import reference
from ._validate import positive_int
from .gradient import numerical_gradient as _numerical_gradient

__all__ = ["TwoLayerNet", "MultiLayerNet", "layers_module"]

BACKENDS = {"fast": fast_layers, "reference": reference}


def layers_module(backend: str) -> types.ModuleType:
    """The module holding the layer classes of a backend ("fast" or "reference")."""
    try:
        return BACKENDS[backend]
    except (KeyError, TypeError):
        raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}") from None


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


class _LayerStack:
    """What every net here shares: the book's predict/loss/accuracy/gradient."""

    params: dict[str, np.ndarray]
    layers: OrderedDict[str, Any]
    lastLayer: Any
    _gradient_sources: dict[str, tuple[str, str]]  # param key -> (layer name, attribute)

    def predict(self, x: Any) -> np.ndarray:
        """Scores (before the softmax) of shape (N, output_size)."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: Any, t: Any) -> float:
        """Mean cross-entropy loss of the batch (x, t); t: indices or one-hot."""
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x: Any, t: Any) -> float:
        """Fraction of samples whose highest score is the label."""
        y = np.argmax(self.predict(x), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if y.shape[0] == 0:
            raise ValueError("accuracy of an empty batch is undefined")
        return float(np.sum(y == t) / y.shape[0])

    def numerical_gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by central differences: two forward passes per parameter."""
        def loss_w(_: np.ndarray) -> float:
            return self.loss(x, t)

        return {key: _numerical_gradient(loss_w, param) for key, param in self.params.items()}

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by backpropagation (one forward and one backward pass)."""
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return {key: getattr(self.layers[name], attr) for key, (name, attr) in self._gradient_sources.items()}

    def _build(self, sizes: Sequence[int], activation: str, init_scales: Sequence[float],
               dtype: Any, backend: str, seed: Any, activation_name: str, eps: float) -> None:
        impl = layers_module(backend)
        dtype = _float_dtype(dtype)
        activations = {"relu": impl.Relu, "sigmoid": impl.Sigmoid}
        if activation not in activations:
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        rng = np.random.default_rng(seed)
        self.params = {}
        self.layers = OrderedDict()
        self._gradient_sources = {}
        n_affine = len(sizes) - 1
        for i in range(1, n_affine + 1):
            # Drawn in float64 whatever the dtype, so float32 and float64 nets
            # with one seed start from the same (rounded) weights.
            weights = init_scales[i - 1] * rng.standard_normal((sizes[i - 1], sizes[i]))
            self.params[f"W{i}"] = weights.astype(dtype)
            self.params[f"b{i}"] = np.zeros(sizes[i], dtype)
            # The fast net skips the first layer's dx; the reference computes
            # it, as the book does, so that it stays the book's algorithm.
            need_dx = i > 1 or backend == "reference"
            self.layers[f"Affine{i}"] = impl.Affine(self.params[f"W{i}"], self.params[f"b{i}"], need_dx=need_dx)
            self._gradient_sources[f"W{i}"] = (f"Affine{i}", "dW")
            self._gradient_sources[f"b{i}"] = (f"Affine{i}", "db")
            if i < n_affine:
                self.layers[f"{activation_name}{i}"] = activations[activation]()
        self.lastLayer = impl.SoftmaxWithLoss(eps=eps)
        self.backend = backend
        self.dtype = dtype


class TwoLayerNet(_LayerStack):
    """The book's two-layer net: Affine1 - Relu1 - Affine2 - SoftmaxWithLoss.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    weight_init_std : float, default 0.01
        Weights are drawn from N(0, weight_init_std**2); biases start at 0.
    dtype : float32 or float64, default float64
    backend : "fast" or "reference", default "fast"
    seed : int, numpy Generator or None
        Seeds the initial weights (the same in both backends).
    eps : float, default 1e-7
        The loss layer's eps: the book's ``-log(y + 1e-7)``; 0 for the exact
        cross-entropy (its gradient is then exactly what backprop computes,
        which makes gradient checks sharper).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, *, dtype: Any = np.float64,
                 backend: str = "fast", seed: Any = None, eps: float = 1e-7) -> None:
        sizes = [positive_int(input_size, "input_size"), positive_int(hidden_size, "hidden_size"),
                 positive_int(output_size, "output_size")]
        self._build(sizes, "relu", [weight_init_std] * 2, dtype, backend, seed, "Relu", eps)


class MultiLayerNet(_LayerStack):
    """Any number of Affine + activation layers, SoftmaxWithLoss on top.

    Layers are named as in the book's chapter-6 ``MultiLayerNet``:
    ``Affine1``, ``Activation_function1``, …, ``AffineL``.

    Parameters
    ----------
    input_size : int
    hidden_size_list : sequence of int
        One entry per hidden layer (may be empty: softmax regression).
    output_size : int
    activation : "relu" or "sigmoid", default "relu"
    weight_init_std : float or "he" / "relu" or "xavier" / "sigmoid", default "relu"
        A number is the standard deviation of every weight matrix; "he"
        uses sqrt(2 / fan_in) (for ReLU) and "xavier" sqrt(1 / fan_in) (for
        sigmoid), as in the book.
    dtype, backend, seed, eps : as for :class:`TwoLayerNet`.
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int, *,
                 activation: str = "relu", weight_init_std: float | str = "relu",
                 dtype: Any = np.float64, backend: str = "fast", seed: Any = None,
                 eps: float = 1e-7) -> None:
        sizes = [positive_int(input_size, "input_size")]
        sizes += [positive_int(h, "hidden_size_list entries") for h in hidden_size_list]
        sizes.append(positive_int(output_size, "output_size"))
        if isinstance(weight_init_std, str):
            rule = weight_init_std.lower()
            if rule in ("he", "relu"):
                scales = [np.sqrt(2.0 / n) for n in sizes[:-1]]
            elif rule in ("xavier", "sigmoid"):
                scales = [np.sqrt(1.0 / n) for n in sizes[:-1]]
            else:
                raise ValueError(f"weight_init_std must be a number, 'he' or 'xavier', got {weight_init_std!r}")
        else:
            scales = [float(weight_init_std)] * (len(sizes) - 1)
        self._build(sizes, activation, scales, dtype, backend, seed, "Activation_function", eps)
