"""The book's SimpleConvNet (chapter 7): conv - relu - pool - affine - relu - affine - softmax.

The interface of ``ch07/simple_convnet.py``: the same constructor
arguments, ``params`` (W1, b1, W2, b2, W3, b3, shared with the layers),
``layers`` (an OrderedDict ``Conv1, Relu1, Pool1, Affine1, Relu2,
Affine2``), ``last_layer``, ``predict``, ``loss``, ``accuracy``,
``numerical_gradient``, ``gradient``, ``save_params`` and ``load_params``.
The book's ``Trainer`` (``common/trainer.py``) trains it unchanged.
"""
from __future__ import annotations

import functools
import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import convolution as fast_conv
from . import layers as fast_layers
from . import reference
from ._validate import accuracy_labels, as_float_array, float_dtype, nonnegative_int, positive_int, positive_number
from .gradient import numerical_gradient as _numerical_gradient
from .nets import bind_params, weight_bias_bindings

__all__ = ["SimpleConvNet"]

PARAM_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
# Layers whose forward output and backward dx are fresh arrays they do not
# keep: a fast Relu right after one may work in place (call_layer).
_FRESH_RESULTS = (fast_conv.Convolution, fast_conv.Pooling, fast_layers.Affine)
_DEFAULT_CONV = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}


def _conv_param(conv_param: Any) -> tuple[int, int, int, int]:
    if not isinstance(conv_param, Mapping):
        raise TypeError(f"conv_param must be a dict with 'filter_num', 'filter_size', 'pad' and 'stride', "
                        f"got {type(conv_param).__name__}")
    missing = [key for key in _DEFAULT_CONV if key not in conv_param]
    if missing:
        raise ValueError(f"conv_param lacks {missing}: it needs 'filter_num', 'filter_size', 'pad' and 'stride'")
    return (positive_int(conv_param["filter_num"], "conv_param['filter_num']"),
            positive_int(conv_param["filter_size"], "conv_param['filter_size']"),
            nonnegative_int(conv_param["pad"], "conv_param['pad']"),
            positive_int(conv_param["stride"], "conv_param['stride']"))


def _pooled_size(size: int, filter_size: int, pad: int, stride: int, axis: str) -> int:
    """The book's ``(size - filter_size + 2*pad) / stride + 1``, halved by the
    2x2 pooling: it must be a whole, even number (the book's formula for W2's
    rows assumes so, and fails later, at the first forward, otherwise)."""
    span = size - filter_size + 2 * pad
    if span < 0 or span % stride:
        raise ValueError(f"conv_param does not fit input_dim: the convolution's output {axis}, "
                         f"({size} - {filter_size} + 2*{pad}) / {stride} + 1, must be a whole number >= 1")
    conv_size = span // stride + 1
    if conv_size % 2:
        raise ValueError(f"conv_param does not fit input_dim: the convolution's output {axis} {conv_size} "
                         "must be even, for the 2x2 pooling with stride 2 to cover it")
    return conv_size // 2


class SimpleConvNet:
    """The book's simple convolutional network.

    Parameters
    ----------
    input_dim : (C, H, W), default (1, 28, 28)
    conv_param : dict, default ``{'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1}``
    hidden_size : int, default 100
    output_size : int, default 10
    weight_init_std : float, default 0.01
        Weights are ``weight_init_std * np.random.randn(...)``, drawn in the
        book's order (W1, W2, W3) from ``np.random`` (or ``rng``): after
        ``np.random.seed(s)`` they are the book's weights.  Biases start at 0.
    backend : "fast" (default) or "reference" (keyword only)
        The compiled layers or the NumPy ones.  The fast net builds Conv1
        with ``need_dx=False`` (nothing uses the gradient of the images).
    dtype : float64 (default, the book's) or float32 (keyword only)
        A float32 net takes its images in float32 (other real dtypes are
        converted) and computes in float32 throughout.
    rng : numpy.random.RandomState, optional (keyword only)
        Draws the weights instead of the global ``np.random``.

    Notes
    -----
    ``accuracy`` counts every sample (the book's drops a last partial batch).
    """

    def __init__(self, input_dim: Any = (1, 28, 28), conv_param: Any = None, hidden_size: int = 100,
                 output_size: int = 10, weight_init_std: float = 0.01, *, backend: str = "fast",
                 dtype: Any = np.float64, rng: Any = None) -> None:
        if backend not in ("fast", "reference"):
            raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}")
        dtype = float_dtype(dtype)
        try:
            channels, height, width = (positive_int(n, "input_dim entries") for n in input_dim)
        except TypeError:
            raise TypeError(f"input_dim must be (C, H, W), three positive integers, got {input_dim!r}") from None
        except ValueError as exc:
            if "unpack" in str(exc):
                raise ValueError(f"input_dim must be (C, H, W), three positive integers, got {input_dim!r}") from None
            raise
        filter_num, filter_size, pad, stride = _conv_param(_DEFAULT_CONV if conv_param is None else conv_param)
        hidden_size = positive_int(hidden_size, "hidden_size")
        output_size = positive_int(output_size, "output_size")
        weight_init_std = positive_number(weight_init_std, "weight_init_std")
        pool_output_size = (filter_num * _pooled_size(height, filter_size, pad, stride, "height")
                            * _pooled_size(width, filter_size, pad, stride, "width"))
        rng = np.random if rng is None else rng

        self.params: dict[str, np.ndarray] = {}
        self.params["W1"] = (weight_init_std * rng.randn(filter_num, channels, filter_size, filter_size)
                             ).astype(dtype, copy=False)
        self.params["b1"] = np.zeros(filter_num, dtype)
        self.params["W2"] = (weight_init_std * rng.randn(pool_output_size, hidden_size)).astype(dtype, copy=False)
        self.params["b2"] = np.zeros(hidden_size, dtype)
        self.params["W3"] = (weight_init_std * rng.randn(hidden_size, output_size)).astype(dtype, copy=False)
        self.params["b3"] = np.zeros(output_size, dtype)

        fast = backend == "fast"
        layers: Any = fast_layers if fast else reference
        conv: Any = fast_conv if fast else reference
        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.layers["Conv1"] = conv.Convolution(self.params["W1"], self.params["b1"], stride, pad,
                                                need_dx=not fast)
        self.layers["Relu1"] = layers.Relu()
        self.layers["Pool1"] = conv.Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = layers.Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = layers.Relu()
        self.layers["Affine2"] = layers.Affine(self.params["W3"], self.params["b3"])
        self.last_layer = layers.SoftmaxWithLoss()
        self.backend = backend
        self.dtype = dtype
        self._bindings  # noqa: B018 - bound to the layers the net built (a layer put in later keeps its own)

    @functools.cached_property
    def _bindings(self) -> tuple[tuple[str, Any, str], ...]:
        return weight_bias_bindings(self.layers, ("Conv1", "Affine1", "Affine2"))

    def predict(self, x: Any) -> np.ndarray:
        """Scores (before the softmax), shape (N, output_size).  The layers
        compute with the arrays ``params`` holds at the call."""
        bind_params(self.params, self._bindings)
        if self.dtype == np.float32:
            x = as_float_array(x, "x").astype(np.float32, copy=False)
        previous = None
        for layer in self.layers.values():
            x = call_layer(layer, "forward", x, previous)
            previous = layer
        return x

    def loss(self, x: Any, t: Any) -> float:
        """Mean cross-entropy of the batch; t: class indices or one-hot rows."""
        y = self.predict(x)
        return self.last_layer.forward(y, t)

    def accuracy(self, x: Any, t: Any, batch_size: int = 100) -> float:
        """Fraction of samples whose highest score is the label, predicted
        ``batch_size`` images at a time."""
        return batched_accuracy(self.predict, x, t, batch_size)

    def numerical_gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by central differences (two forward passes per weight: slow)."""
        def loss_w(_: np.ndarray) -> float:
            return self.loss(x, t)

        return {key: _numerical_gradient(loss_w, self.params[key]) for key in PARAM_KEYS}

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """Gradients by backpropagation, as the book computes them."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        previous = None
        for layer in reversed(self.layers.values()):
            dout = call_layer(layer, "backward", dout, previous)
            previous = layer
        grads = {}
        grads["W1"], grads["b1"] = self.layers["Conv1"].dW, self.layers["Conv1"].db
        grads["W2"], grads["b2"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W3"], grads["b3"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads

    def save_params(self, file_name: Any = "params.npz") -> None:
        """Save W1..b3 to ``file_name`` in NumPy's .npz format (no pickle),
        under exactly that name (np.savez would add ".npz")."""
        with open(os.fspath(file_name), "wb") as f:
            np.savez(f, **{key: self.params[key] for key in PARAM_KEYS})  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle (bool)

    def load_params(self, file_name: Any = "params.npz", *, allow_pickle: bool = False) -> None:
        """Load W1..b3 saved by ``save_params`` (.npz).

        The book's ``params.pkl`` files are pickles; they load only with
        ``allow_pickle=True``.  Unpickling runs code from the file: pass it
        only for files you trust.  Every array must have the shape of the
        net's parameter; it is converted to the net's dtype.  As in the book,
        ``params`` and the layers then hold the loaded arrays.
        """
        params = read_param_file(file_name, self.params, PARAM_KEYS, self.dtype, "params.pkl", allow_pickle)
        self.params.update(params)
        bind_params(self.params, self._bindings)


def read_param_file(file_name: Any, current: Mapping[str, np.ndarray], keys: tuple[str, ...], dtype: np.dtype,
                    book_file: str, allow_pickle: bool) -> dict[str, np.ndarray]:
    """The parameters ``keys`` of an .npz file from ``save_params`` (or, with
    ``allow_pickle``, of the book's pickle ``book_file``), each checked
    against the shape of its entry in ``current`` and copied into ``dtype``."""
    if not isinstance(allow_pickle, (bool, np.bool_)):
        raise TypeError(f"allow_pickle must be True or False, got {type(allow_pickle).__name__} {allow_pickle!r}")
    path = os.fspath(file_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no parameter file {path!r}" if not os.path.exists(path)
                                else f"{path!r} is not a file")
    if zipfile.is_zipfile(path):
        with np.load(path, allow_pickle=False) as data:
            loaded = {key: data[key] for key in data.files}
    elif not allow_pickle:
        raise ValueError(f"{path} is not an .npz file of save_params; if it is the book's pickle "
                         f"({book_file}), pass allow_pickle=True, and only for a file you "
                         "trust: unpickling runs code from the file")
    else:
        with open(path, "rb") as f:
            loaded = pickle.load(f)  # noqa: S301 - the caller opted in
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path} holds a {type(loaded).__name__}, not a dict of parameters")
    params = {}
    for key in keys:
        if key not in loaded:
            raise ValueError(f"{path} has no parameter {key!r} (it holds {sorted(loaded)})")
        value = np.asarray(loaded[key])
        if value.dtype.kind not in "iuf":
            raise TypeError(f"parameter {key!r} in {path} must be real numbers, got dtype {value.dtype}")
        if value.shape != current[key].shape:
            raise ValueError(f"parameter {key!r} in {path} has shape {value.shape}, the net's has "
                             f"{current[key].shape}")
        params[key] = np.array(value, dtype=dtype, copy=True)
    return params


def batched_accuracy(predict: Any, x: Any, t: Any, batch_size: int) -> float:
    """The fraction of images whose highest score from ``predict`` is the
    label, ``batch_size`` images at a time; t: class indices, shape (N,)
    or (N, 1), or one-hot rows (N, C), checked against the scores' C."""
    batch_size = positive_int(batch_size, "batch_size")
    if np.ndim(x) == 0:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got {type(x).__name__} {x!r}")
    n = np.shape(x)[0]
    if n == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    labels = None
    correct = 0
    for start in range(0, n, batch_size):
        y = predict(x[start:start + batch_size])
        if labels is None:  # the number of classes is the first batch's
            labels = accuracy_labels(t, n, y.shape[1])
        correct += int(np.sum(np.argmax(y, axis=1) == labels[start:start + batch_size]))
    return correct / n


def call_layer(layer: Any, method: str, value: Any, previous: Any) -> Any:
    """``layer.forward(value)`` or ``layer.backward(value)``, except that
    a fast Relu whose input was just returned by one of our own
    Convolution, Pooling or Affine layers (``previous``: their forward
    output, or their dx backward, fresh arrays that nothing else holds) is
    applied in place (``out=``) instead of into a fresh array of its size,
    whose page faults it would pay on every call.  The values are the
    book's.  After a layer a user has put in (whose output may be kept), a
    fresh array, as in the book."""
    if type(layer) is fast_layers.Relu and type(previous) in _FRESH_RESULTS:
        return getattr(layer, method)(value, out=value)
    return getattr(layer, method)(value)
