"""Networks built from the layers: the book's TwoLayerNet, MultiLayerNet and
MultiLayerNetExtend.

All keep the book's interface: ``params`` (a dict of the weight arrays,
shared with the layers, so that ``params[key] -= lr * grad`` trains them),
``layers`` (an OrderedDict), the loss layer (``lastLayer`` in TwoLayerNet,
``last_layer`` in the chapter-6 nets, as in the book; each also answers to
the other name), ``predict``, ``loss``, ``accuracy``, ``gradient``
(backprop) and ``numerical_gradient``.  The constructors take the book's
arguments in the book's order; ``dtype``, ``backend``, ``seed`` and ``eps``
are keyword-only extras.  ``loss`` and ``accuracy`` return NumPy floats, as
the book's do.

Initial weights: with ``seed=None`` (the default) they are drawn from NumPy's
global generator with ``np.random.randn``, in the book's order (W1, W2, ...),
so a script that calls ``np.random.seed(0)`` gets the book's weights and
numbers.  Any other ``seed`` draws from its own ``np.random.default_rng(seed)``
and leaves the global generator alone.

``backend="fast"`` builds them from the compiled layers, ``"reference"``
from the NumPy ones; the same ``seed`` (or the same global state) gives the
same initial weights in both, so the two can be compared step by step.

In the fast backend the first Affine layer is built with
``need_dx=False``: nothing consumes the gradient with respect to the input
images, and skipping that product saves about a third of the work of
``gradient`` at larger hidden sizes.  The parameter gradients are
unchanged.  The reference backend computes it, as the book does.
"""
from __future__ import annotations

import functools
import types
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import layers as fast_layers
from . import reference, regularization
from ._validate import accuracy_labels, float_dtype, fraction, nonnegative_number, positive_int
from .gradient import numerical_gradient as _numerical_gradient

__all__ = ["TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend", "layers_module"]

BACKENDS = {"fast": fast_layers, "reference": reference}
_REGULARIZATION = {"fast": regularization, "reference": reference}


def layers_module(backend: str) -> types.ModuleType:
    """The module holding the layer classes of a backend ("fast" or "reference")."""
    try:
        return BACKENDS[backend]
    except (KeyError, TypeError):
        raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}") from None


def param_bindings(layers: Any, sources: dict[str, tuple[Any, str]]) -> tuple[tuple[str, Any, str], ...]:
    """(key, layer, attribute) for each parameter: ``sources`` maps a key to
    (layer name, gradient attribute), e.g. ``"W1": ("Affine1", "dW")``."""
    return tuple((key, layers[name], grad[1:]) for key, (name, grad) in sources.items())


def weight_bias_bindings(layers: Any, names: Sequence[Any]) -> tuple[tuple[str, Any, str], ...]:
    """``param_bindings`` for W1, b1, W2, b2, ... held by the layers ``names``, in order."""
    return param_bindings(layers, {f"{kind}{i + 1}": (name, f"d{kind}") for i, name in enumerate(names)
                                   for kind in ("W", "b")})


def bind_params(params: dict[str, np.ndarray], bindings: tuple[tuple[str, Any, str], ...]) -> None:
    """Point each layer at the array ``params`` holds now: an entry the
    caller replaced (``params["W1"] = W1 - lr * dW1``) is then the one the
    layer computes with, not silently the old one."""
    try:
        for key, layer, attribute in bindings:
            value = params[key]
            if getattr(layer, attribute) is not value:
                setattr(layer, attribute, value)
    except KeyError:
        missing = [key for key, _, _ in bindings if key not in params]
        raise KeyError(f"params lacks {missing}: the net's layers compute with {[k for k, _, _ in bindings]}") from None


class _LayerStack:
    """What every net here shares: the book's predict/loss/accuracy/gradient."""

    params: dict[str, np.ndarray]
    layers: OrderedDict[str, Any]
    weight_decay_lambda: float = 0.0
    _loss_attribute = "lastLayer"  # the book's name of the loss layer in this net
    _gradient_sources: dict[str, tuple[str, str]]  # param key -> (layer name, attribute)
    _decayed: tuple[str, ...] = ()  # the weight keys that weight decay applies to

    def _loss_layer(self) -> Any:
        return getattr(self, self._loss_attribute)

    @functools.cached_property
    def _bindings(self) -> tuple[tuple[str, Any, str], ...]:
        # Built at the end of each constructor (and on first use by a net
        # unpickled from a version without it).
        return param_bindings(self.layers, self._gradient_sources)

    def _bind_params(self) -> None:
        bind_params(self.params, self._bindings)

    def predict(self, x: Any) -> np.ndarray:
        """Scores (before the softmax) of shape (N, output_size)."""
        self._bind_params()
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def _weight_decay(self) -> Any:
        """The book's ``0.5 * lambda * sum(W ** 2)`` over every weight matrix."""
        weight_decay: Any = 0
        if self.weight_decay_lambda:  # the book adds 0.5 * 0 * sum(W**2): zero
            for key in self._decayed:
                W = self.params[key]
                weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W**2)
        return weight_decay

    def loss(self, x: Any, t: Any) -> np.float64:
        """Mean cross-entropy loss of the batch (x, t), plus the weight decay
        term if ``weight_decay_lambda`` > 0; t: indices or one-hot."""
        return np.float64(self._loss_layer().forward(self.predict(x), t)) + self._weight_decay()

    def _accuracy_of(self, y: np.ndarray, t: Any) -> np.float64:
        labels = accuracy_labels(t, y.shape[0], y.shape[1])
        return np.sum(np.argmax(y, axis=1) == labels) / float(y.shape[0])

    def accuracy(self, x: Any, t: Any) -> np.float64:
        """Fraction of samples whose highest score is the label (a NumPy float, as in the book)."""
        return self._accuracy_of(self.predict(x), t)

    def _loss_for_numerical_gradient(self, x: Any, t: Any) -> Any:
        return self.loss(x, t)

    def numerical_gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by central differences: two forward passes per parameter."""
        def loss_w(_: np.ndarray) -> float:
            return self._loss_for_numerical_gradient(x, t)

        # In the order of `gradient`'s keys (the book's: W1, b1, gamma1, beta1, W2, ...).
        return {key: _numerical_gradient(loss_w, self.params[key]) for key in self._gradient_sources}

    def _forward_for_gradient(self, x: Any, t: Any) -> None:
        self.loss(x, t)

    def _gradients(self) -> dict[str, np.ndarray]:
        """The layers' gradients by parameter key, read from the layers the
        net holds now (a loop: a comprehension's own frame costs a third)."""
        layers = self.layers
        grads = {}
        for key, (name, attr) in self._gradient_sources.items():
            grads[key] = getattr(layers[name], attr)
        return grads

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by backpropagation (one forward and one backward pass);
        with weight decay, ``lambda * W`` is added to each weight's gradient."""
        cls = type(self)
        if (not self.weight_decay_lambda and cls._forward_for_gradient is _LayerStack._forward_for_gradient
                and cls.loss is _LayerStack.loss and cls.predict is _LayerStack.predict):
            # loss() without its float conversion and decay term, whose value
            # backward does not read: about 1 us of a 27 us step at N = 1.
            self._bind_params()
            for layer in self.layers.values():
                x = layer.forward(x)
            last = self._loss_layer()
            last.forward(x, t)
            dout = last.backward(1)
            for layer in reversed(self.layers.values()):
                dout = layer.backward(dout)
            return self._gradients()
        self._forward_for_gradient(x, t)
        dout = self._loss_layer().backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        grads = self._gradients()
        if self.weight_decay_lambda:
            for key in self._decayed:
                grads[key] = grads[key] + self.weight_decay_lambda * self.params[key]
        return grads

    def _draw_weights(self, sizes: Sequence[int], init_scales: Sequence[Any], dtype: Any, seed: Any) -> None:
        """``params`` W1, b1, W2, … as the book draws them: ``scale *
        np.random.randn(fan_in, fan_out)`` in layer order (or from
        ``default_rng(seed)`` when a seed is given)."""
        dtype = float_dtype(dtype)
        rng = None if seed is None else np.random.default_rng(seed)
        self.params = {}
        for i in range(1, len(sizes)):
            # Drawn in float64 whatever the dtype, so float32 and float64 nets
            # with one seed start from the same (rounded) weights.
            shape = (sizes[i - 1], sizes[i])
            if rng is None:
                draws = np.random.randn(*shape)  # noqa: NPY002 (the book draws from the global generator)
            else:
                draws = rng.standard_normal(shape)
            weights = init_scales[i - 1] * draws
            self.params[f"W{i}"] = np.asarray(weights, dtype=dtype)
            self.params[f"b{i}"] = np.zeros(sizes[i], dtype)
        self._decayed = tuple(f"W{i}" for i in range(1, len(sizes)))
        self.dtype = dtype

    def _affine(self, impl: types.ModuleType, i: int, backend: str) -> Any:
        # The fast net skips the first layer's dx; the reference computes
        # it, as the book does, so that it stays the book's algorithm.
        need_dx = i > 1 or backend == "reference"
        self._gradient_sources[f"W{i}"] = (f"Affine{i}", "dW")
        self._gradient_sources[f"b{i}"] = (f"Affine{i}", "db")
        return impl.Affine(self.params[f"W{i}"], self.params[f"b{i}"], need_dx=need_dx)

    def _build(self, sizes: Sequence[int], activation: str, init_scales: Sequence[Any],
               dtype: Any, backend: str, seed: Any, activation_name: str, eps: float) -> None:
        impl = layers_module(backend)
        activations = {"relu": impl.Relu, "sigmoid": impl.Sigmoid}
        if activation not in activations:
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self._draw_weights(sizes, init_scales, dtype, seed)
        self.layers = OrderedDict()
        self._gradient_sources = {}
        n_affine = len(sizes) - 1
        for i in range(1, n_affine + 1):
            self.layers[f"Affine{i}"] = self._affine(impl, i, backend)
            if i < n_affine:
                self.layers[f"{activation_name}{i}"] = activations[activation]()
        setattr(self, self._loss_attribute, impl.SoftmaxWithLoss(eps=eps))
        self.backend = backend
        self._bindings  # noqa: B018 - bound to the layers the net built (a layer put in later keeps its own)


class TwoLayerNet(_LayerStack):
    """The book's two-layer net: Affine1 - Relu1 - Affine2 - SoftmaxWithLoss.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
    weight_init_std : float, default 0.01
        Weights are ``weight_init_std * np.random.randn(...)`` (W1 then W2,
        as in the book); biases start at 0.
    dtype : float32 or float64, default float64
    backend : "fast" or "reference", default "fast"
    seed : int, numpy Generator or None
        None: draw from NumPy's global generator, as the book does; else
        from ``np.random.default_rng(seed)`` (the same in both backends).
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

    @property
    def last_layer(self) -> Any:
        """The chapter-6 nets' name of ``lastLayer``."""
        return self.lastLayer

    @last_layer.setter
    def last_layer(self, layer: Any) -> None:
        self.lastLayer = layer


def _init_scales(weight_init_std: Any, sizes: Sequence[int]) -> list[Any]:
    """The book's rule: "relu"/"he" gives sqrt(2 / fan_in), "sigmoid"/"xavier"
    sqrt(1 / fan_in), a number is the standard deviation of every matrix."""
    if isinstance(weight_init_std, str):
        rule = weight_init_std.lower()
        if rule in ("he", "relu"):
            return [np.sqrt(2.0 / n) for n in sizes[:-1]]
        if rule in ("xavier", "sigmoid"):
            return [np.sqrt(1.0 / n) for n in sizes[:-1]]
        raise ValueError(f"weight_init_std must be a number, 'he'/'relu' or 'xavier'/'sigmoid', "
                         f"got {weight_init_std!r}")
    if isinstance(weight_init_std, (bool, np.bool_)) or not isinstance(
            weight_init_std, (int, float, np.integer, np.floating)):
        raise TypeError(f"weight_init_std must be a number, 'he'/'relu' or 'xavier'/'sigmoid', "
                        f"got {type(weight_init_std).__name__} {weight_init_std!r}")
    return [weight_init_std] * (len(sizes) - 1)


class MultiLayerNet(_LayerStack):
    """The book's fully connected net of chapter 6 (``common/multi_layer_net.py``).

    Layers ``Affine1``, ``Activation_function1``, …, ``AffineL`` and the loss
    layer ``last_layer`` (also reachable as ``lastLayer``).

    Parameters
    ----------
    input_size : int
    hidden_size_list : sequence of int
        One entry per hidden layer (may be empty: softmax regression).
    output_size : int
    activation : "relu" or "sigmoid", default "relu"
    weight_init_std : float or "he"/"relu" or "xavier"/"sigmoid", default "relu"
        A number is the standard deviation of every weight matrix; "he"
        uses sqrt(2 / fan_in) and "xavier" sqrt(1 / fan_in), as in the book.
    weight_decay_lambda : float >= 0, default 0
        L2 weight decay: ``loss`` adds ``0.5 * lambda * sum(W**2)`` per
        weight matrix and ``gradient`` adds ``lambda * W``.
    dtype, backend, seed, eps : keyword-only, as for :class:`TwoLayerNet`.

    Attributes
    ----------
    input_size, output_size, hidden_size_list, hidden_layer_num,
    weight_decay_lambda, params, layers, last_layer : as in the book.
    """

    _loss_attribute = "last_layer"

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Any = "relu", weight_decay_lambda: float = 0,
                 *, dtype: Any = np.float64, backend: str = "fast", seed: Any = None,
                 eps: float = 1e-7) -> None:
        sizes = self._sizes(input_size, hidden_size_list, output_size, weight_decay_lambda)
        self._build(sizes, activation, _init_scales(weight_init_std, sizes), dtype, backend, seed,
                    "Activation_function", eps)

    def _sizes(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
               weight_decay_lambda: float) -> list[int]:
        sizes = [positive_int(input_size, "input_size")]
        try:
            hidden = list(hidden_size_list)
        except TypeError:
            raise TypeError(f"hidden_size_list must be a list of positive integers, "
                            f"got {type(hidden_size_list).__name__}") from None
        sizes += [positive_int(h, "hidden_size_list entries") for h in hidden]
        sizes.append(positive_int(output_size, "output_size"))
        self.input_size, self.output_size = sizes[0], sizes[-1]
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden)
        self.weight_decay_lambda = nonnegative_number(weight_decay_lambda, "weight_decay_lambda")
        return sizes

    @property
    def lastLayer(self) -> Any:  # noqa: N802 (TwoLayerNet's name, for code written for it)
        """TwoLayerNet's name of ``last_layer``."""
        return self.last_layer

    @lastLayer.setter
    def lastLayer(self, layer: Any) -> None:  # noqa: N802
        self.last_layer = layer


class MultiLayerNetExtend(MultiLayerNet):
    """The book's chapter-6 net with weight decay, Dropout and batch
    normalisation (``common/multi_layer_net_extend.py``).

    Each hidden layer is ``Affine{i}``, then ``BatchNorm{i}`` (if
    ``use_batchnorm``; parameters ``gamma{i}``, ``beta{i}`` in ``params``),
    ``Activation_function{i}``, then ``Dropout{i}`` (if ``use_dropout``).

    Parameters
    ----------
    input_size, hidden_size_list, output_size, activation, weight_init_std,
    weight_decay_lambda : as for :class:`MultiLayerNet`.
    use_dropout : bool, default False
    dropout_ration : float in [0, 1), default 0.5
        The book's spelling.  Masks come from ``np.random.rand``, in layer order.
    use_batchnorm : bool, default False
    dtype, backend, seed, eps : keyword-only, as for :class:`TwoLayerNet`.

    ``predict(x, train_flg=False)`` and ``loss(x, t, train_flg=False)`` pass
    ``train_flg`` to the Dropout and BatchNorm layers; ``gradient`` runs in
    training mode and ``accuracy`` in test mode, as in the book.
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Any = "relu", weight_decay_lambda: float = 0,
                 use_dropout: bool = False, dropout_ration: float = 0.5, use_batchnorm: bool = False,
                 *, dtype: Any = np.float64, backend: str = "fast", seed: Any = None,
                 eps: float = 1e-7) -> None:
        sizes = self._sizes(input_size, hidden_size_list, output_size, weight_decay_lambda)
        self.use_dropout = bool(use_dropout)
        self.use_batchnorm = bool(use_batchnorm)
        self.dropout_ration = fraction(dropout_ration, "dropout_ration")
        impl = layers_module(backend)
        extra = _REGULARIZATION[backend]
        activations = {"relu": impl.Relu, "sigmoid": impl.Sigmoid}
        if activation not in activations:
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self._draw_weights(sizes, _init_scales(weight_init_std, sizes), dtype, seed)
        self.layers = OrderedDict()
        self._gradient_sources = {}
        for i in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{i}"] = self._affine(impl, i, backend)
            if self.use_batchnorm:
                self.params[f"gamma{i}"] = np.ones(sizes[i], self.dtype)
                self.params[f"beta{i}"] = np.zeros(sizes[i], self.dtype)
                self.layers[f"BatchNorm{i}"] = extra.BatchNormalization(self.params[f"gamma{i}"],
                                                                        self.params[f"beta{i}"])
                self._gradient_sources[f"gamma{i}"] = (f"BatchNorm{i}", "dgamma")
                self._gradient_sources[f"beta{i}"] = (f"BatchNorm{i}", "dbeta")
            self.layers[f"Activation_function{i}"] = activations[activation]()
            if self.use_dropout:
                self.layers[f"Dropout{i}"] = extra.Dropout(self.dropout_ration)
        i = self.hidden_layer_num + 1
        self.layers[f"Affine{i}"] = self._affine(impl, i, backend)
        self.last_layer = impl.SoftmaxWithLoss(eps=eps)
        self.backend = backend
        self._bindings  # noqa: B018 - bound to the layers the net built

    def predict(self, x: Any, train_flg: bool = False) -> np.ndarray:
        """Scores of shape (N, output_size); Dropout and BatchNorm in
        training mode if ``train_flg``."""
        self._bind_params()
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x: Any, t: Any, train_flg: bool = False) -> np.float64:
        """Mean cross-entropy loss plus weight decay, as in the book."""
        return np.float64(self.last_layer.forward(self.predict(x, train_flg), t)) + self._weight_decay()

    def accuracy(self, x: Any, t: Any) -> np.float64:
        """Accuracy in test mode (Dropout scales, BatchNorm uses running statistics)."""
        return self._accuracy_of(self.predict(x, train_flg=False), t)

    def _loss_for_numerical_gradient(self, x: Any, t: Any) -> Any:
        return self.loss(x, t, train_flg=True)

    def _forward_for_gradient(self, x: Any, t: Any) -> None:
        self.loss(x, t, train_flg=True)
