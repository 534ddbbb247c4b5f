"""The book's DeepConvNet (chapter 8) in zk_layers' own API.

    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    affine - relu - dropout - affine - dropout - softmax

The constructor arguments, ``params`` (W1 ... b8, shared with the layers),
``layers`` (a list, as the book's), ``last_layer``, ``predict(x,
train_flg=False)``, ``loss``, ``accuracy``, ``gradient`` and the parameters
in ``.npz`` are those of ``ch08/deep_convnet.py``; the weights are drawn as
the book draws them (He scales, ``randn`` in the order W1 ... W8).  What the
book's file fixes and this net computes: the fan-in of each weight and the
rows of W7 come from the convolution parameters and ``input_dim`` (with the
defaults they are the book's numbers), so other image sizes and filters work.

``dtype=float32`` computes in float32 from the images to the loss.  The fast
net skips the first convolution's dx (nothing reads it) and applies each Relu
in place on the fresh output of the layer before it; the values are the
book's layers' values.
"""
from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from . import convolution as fast_conv
from . import layers as fast_layers
from . import reference
from . import regularization as fast_regularization
from ._validate import as_float_array, float_dtype, positive_int, random_state
from ._validate import output_size as _output_size
from .convnet import _conv_param, batched_accuracy, call_layer, read_param_file
from .gradient import numerical_gradient as _numerical_gradient
from .nets import bind_params, weight_bias_bindings

__all__ = ["DeepConvNet"]

PARAM_KEYS = tuple(f"{kind}{i}" for i in range(1, 9) for kind in ("W", "b"))
_DEFAULT_CONVS = tuple({"filter_num": n, "filter_size": 3, "pad": pad, "stride": 1}
                       for n, pad in ((16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)))
_PARAMETER_LAYERS = (0, 2, 5, 7, 10, 12, 15, 18)  # the layers holding W1 ... W8


def _input_dim(input_dim: Any) -> tuple[int, int, int]:
    message = f"input_dim must be (C, H, W), three positive integers, got {input_dim!r}"
    try:
        values = tuple(input_dim)
    except TypeError:
        raise TypeError(message) from None
    if len(values) != 3:
        raise ValueError(message)
    channels, height, width = (positive_int(n, "input_dim entries") for n in values)
    return channels, height, width


def _pooled(size: int, axis: str, where: str) -> int:
    """The 2x2 max-pool with stride 2, as the book's Pooling sizes it (a last odd row is dropped)."""
    if size < 2:
        raise ValueError(f"conv_param_1 ... conv_param_6 do not fit input_dim: the map before {where} has "
                         f"{axis} {size}, less than the 2x2 pooling window")
    return (size - 2) // 2 + 1


class DeepConvNet:
    """The book's deep convolutional network for MNIST-sized images.

    Parameters
    ----------
    input_dim : (C, H, W), default (1, 28, 28)
    conv_param_1 ... conv_param_6 : dict, optional
        ``{'filter_num', 'filter_size', 'pad', 'stride'}`` of each
        convolution; the book's defaults: 16, 16, 32, 32, 64, 64 filters
        3x3, stride 1, pad 1 except conv_param_4's pad 2.
    hidden_size : int, default 50
    output_size : int, default 10
    backend : "fast" (default) or "reference" (keyword only)
        The compiled layers or the NumPy ones.
    dtype : float64 (default, the book's) or float32 (keyword only)
        The weights' dtype, and so the computation's: a float32 net takes
        its images in float32 (other real dtypes are converted) and computes
        in float32 throughout; a float64 net computes in float64 from the
        book's float32 images as from float64 ones.
    rng : numpy.random.RandomState, optional (keyword only)
        Draws the weights and the two Dropout layers' masks instead of the
        global ``np.random``; with neither, after ``np.random.seed(s)``, the
        weights and masks are the book's.

    Notes
    -----
    ``predict(x, train_flg=False)``: the Dropout layers scale in test mode
    and draw masks in training mode, as in the book; ``loss`` and
    ``gradient`` run in training mode.  ``accuracy`` counts every sample
    (the book's drops a last partial batch).
    """

    def __init__(self, input_dim: Any = (1, 28, 28), conv_param_1: Any = None, conv_param_2: Any = None,
                 conv_param_3: Any = None, conv_param_4: Any = None, conv_param_5: Any = None,
                 conv_param_6: Any = None, hidden_size: int = 50, output_size: int = 10, *,
                 backend: str = "fast", dtype: Any = np.float64, rng: Any = None) -> None:
        if backend not in ("fast", "reference"):
            raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}")
        rng = random_state(rng)
        dtype = float_dtype(dtype)
        channels, height, width = _input_dim(input_dim)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6)
        convs = [_conv_param(default if param is None else param)
                 for param, default in zip(given, _DEFAULT_CONVS, strict=True)]
        hidden_size = positive_int(hidden_size, "hidden_size")
        output_size = positive_int(output_size, "output_size")

        # Each weight's fan-in and the size of the last pooled map, as the
        # book's pre_node_nums are for its defaults.
        fan_in: list[int] = []
        shapes: list[tuple[int, ...]] = []
        c, h, w = channels, height, width
        for i, (filter_num, filter_size, pad, stride) in enumerate(convs):
            where = f"conv_param_{i + 1}"
            for size, axis in ((h, "height"), (w, "width")):
                if (size + 2 * pad - filter_size) % stride:
                    raise ValueError(f"{where} does not fit input_dim: ({size} + 2*{pad} - {filter_size}) / "
                                     f"{stride} + 1, the convolution's output {axis}, must be a whole number")
            h = _output_size(h, filter_size, stride, pad, "height", where)
            w = _output_size(w, filter_size, stride, pad, "width", where)
            fan_in.append(c * filter_size * filter_size)
            shapes.append((filter_num, c, filter_size, filter_size))
            c = filter_num
            if i % 2 == 1:
                which = f"pooling {i // 2 + 1}"
                h, w = _pooled(h, "height", which), _pooled(w, "width", which)
        flat = c * h * w
        fan_in += [flat, hidden_size]
        shapes += [(flat, hidden_size), (hidden_size, output_size)]
        scales = np.sqrt(2.0 / np.array(fan_in))  # He, for ReLU

        draw = np.random if rng is None else rng
        self.params: dict[str, np.ndarray] = {}
        for i, shape in enumerate(shapes):
            weights = scales[i] * draw.randn(*shape)  # drawn in float64, the book's numbers
            self.params[f"W{i + 1}"] = weights.astype(dtype, copy=False)
            self.params[f"b{i + 1}"] = np.zeros(shape[0] if i < 6 else shape[1], dtype)

        fast = backend == "fast"
        layers: Any = fast_layers if fast else reference
        conv: Any = fast_conv if fast else reference
        dropout: Any = fast_regularization.Dropout if fast else reference.Dropout

        def conv_layer(i: int) -> Any:
            _, _, pad, stride = convs[i - 1]
            # Nothing reads the images' gradient: the fast net skips it.
            return conv.Convolution(self.params[f"W{i}"], self.params[f"b{i}"], stride, pad,
                                    need_dx=not (fast and i == 1))

        def pool() -> Any:
            return conv.Pooling(pool_h=2, pool_w=2, stride=2)

        self.layers: list[Any] = [
            conv_layer(1), layers.Relu(), conv_layer(2), layers.Relu(), pool(),
            conv_layer(3), layers.Relu(), conv_layer(4), layers.Relu(), pool(),
            conv_layer(5), layers.Relu(), conv_layer(6), layers.Relu(), pool(),
            layers.Affine(self.params["W7"], self.params["b7"]), layers.Relu(), dropout(0.5, rng=rng),
            layers.Affine(self.params["W8"], self.params["b8"]), dropout(0.5, rng=rng),
        ]
        self.last_layer = layers.SoftmaxWithLoss()
        self.backend = backend
        self.dtype = dtype
        self.input_dim = (channels, height, width)
        self._bindings  # noqa: B018 - bound to the layers the net built (a layer put in later keeps its own)

    @functools.cached_property
    def _bindings(self) -> tuple[tuple[str, Any, str], ...]:
        return weight_bias_bindings(self.layers, _PARAMETER_LAYERS)

    def _run(self, x: Any, train_flg: bool) -> Any:
        bind_params(self.params, self._bindings)  # the arrays params holds now
        previous: Any = None
        for layer in self.layers:
            if isinstance(layer, (fast_regularization.Dropout, reference.Dropout)):
                x = layer.forward(x, train_flg)
            else:
                x = call_layer(layer, "forward", x, previous)
            previous = layer
        return x

    def predict(self, x: Any, train_flg: bool = False) -> np.ndarray:
        """Scores (before the softmax), shape (N, output_size)."""
        return self._run(self._images(x), train_flg)

    def _images(self, x: Any) -> Any:
        shape = np.shape(x)
        if len(shape) != 4 or tuple(shape[1:]) != self.input_dim:
            raise ValueError(f"x must be images of shape (N, {', '.join(map(str, self.input_dim))}) "
                             f"(input_dim), got shape {tuple(shape)}")
        if self.dtype == np.float32:
            return as_float_array(x, "x").astype(np.float32, copy=False)
        return x

    def loss(self, x: Any, t: Any) -> Any:
        """The batch's mean cross-entropy in training mode (Dropout drawing), as in the book."""
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

    def accuracy(self, x: Any, t: Any, batch_size: int = 100) -> float:
        """Fraction of samples whose highest score (test mode) is the label,
        predicted ``batch_size`` images at a time; t: indices or one-hot."""
        return batched_accuracy(self.predict, x, t, batch_size)

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by backpropagation, one training-mode forward (the
        Dropout masks drawn) and one backward."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        previous: Any = None
        for layer in reversed(self.layers):
            dout = call_layer(layer, "backward", dout, previous)
            previous = layer
        grads = {}
        for i, index in enumerate(_PARAMETER_LAYERS):
            grads[f"W{i + 1}"] = self.layers[index].dW
            grads[f"b{i + 1}"] = self.layers[index].db
        return grads

    def numerical_gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by central differences of the test-mode loss (Dropout
        scaling, no draws): slow, for checks on small nets."""
        def loss_w(_: np.ndarray) -> float:
            return self.last_layer.forward(self.predict(x, train_flg=False), t)

        return {key: _numerical_gradient(loss_w, self.params[key]) for key in PARAM_KEYS}

    def save_params(self, file_name: Any = "params.npz") -> None:
        """Save W1 ... b8 to ``file_name`` in NumPy's .npz format (no
        pickle), under exactly that name (np.savez would add ".npz")."""
        with open(os.fspath(file_name), "wb") as f:
            np.savez(f, **{key: self.params[key] for key in PARAM_KEYS})  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle (bool)

    def load_params(self, file_name: Any = "params.npz", *, allow_pickle: bool = False) -> None:
        """Load W1 ... b8 saved by ``save_params`` (.npz).

        The book's ``deep_convnet_params.pkl`` is a pickle; it loads only
        with ``allow_pickle=True``.  Unpickling runs code from the file:
        pass it only for files you trust.  Every array must have the shape
        of the net's parameter; it is converted to the net's dtype, and
        ``params`` and the layers then hold the loaded arrays.
        """
        params = read_param_file(file_name, self.params, PARAM_KEYS, self.dtype, "deep_convnet_params.pkl",
                                 allow_pickle)
        self.params.update(params)
        bind_params(self.params, self._bindings)
