"""Chapter 8's ``DeepConvNet`` on zk_layers' layers (the book keeps it in
``ch08/deep_convnet.py``, not in ``common/``).

The book's network and interface::

    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    affine - relu - dropout - affine - dropout - softmax

Weights are He-initialised with ``np.random.randn`` in the book's order (W1
to W8), so a seeded script starts from the book's weights.  The layers are
the names of :mod:`zk_layers.book.layers`, so the net runs wherever
``Convolution`` and ``Pooling`` are installed (zk_layers.convolution);
without them, constructing the net raises ImportError.

Parameters are saved as ``.npz`` (``save_params``).  ``load_params`` reads
``.npz``; the book's pretrained ``deep_convnet_params.pkl`` is a pickle,
which can run arbitrary code when loaded, so it is read only with an
explicit ``allow_pickle=True``.
"""
from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from .layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss

__all__ = ["DeepConvNet"]

_PARAMETER_LAYERS = (0, 2, 5, 7, 10, 12, 15, 18)  # indices of the layers holding W1 ... W8


def _conv(filter_num: int, pad: int) -> dict[str, int]:
    return {"filter_num": filter_num, "filter_size": 3, "pad": pad, "stride": 1}


class DeepConvNet:
    """The book's deep ConvNet for 28x28 MNIST (over 99% test accuracy trained).

    Parameters are the book's: ``input_dim=(1, 28, 28)``, ``conv_param_1`` to
    ``conv_param_6`` (dicts of filter_num, filter_size, pad, stride),
    ``hidden_size=50``, ``output_size=10``.  Attributes ``params``,
    ``layers`` (a list) and ``last_layer``; methods ``predict(x,
    train_flg=False)``, ``loss``, ``accuracy(x, t, batch_size=100)``,
    ``gradient``, ``save_params``, ``load_params``.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28),
                 conv_param_1: dict[str, int] | None = None, conv_param_2: dict[str, int] | None = None,
                 conv_param_3: dict[str, int] | None = None, conv_param_4: dict[str, int] | None = None,
                 conv_param_5: dict[str, int] | None = None, conv_param_6: dict[str, int] | None = None,
                 hidden_size: int = 50, output_size: int = 10) -> None:
        conv_params = [p if p is not None else default for p, default in zip(
            (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6),
            (_conv(16, 1), _conv(16, 1), _conv(32, 1), _conv(32, 2), _conv(64, 1), _conv(64, 1)), strict=True)]
        pre_node_nums = np.array([1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3, 64 * 3 * 3,
                                  64 * 4 * 4, hidden_size])
        weight_init_scales = np.sqrt(2.0 / pre_node_nums)  # He, for ReLU
        self.params: dict[str, np.ndarray] = {}
        pre_channel_num = input_dim[0]
        for idx, conv in enumerate(conv_params):
            size = conv["filter_size"]
            self.params[f"W{idx + 1}"] = weight_init_scales[idx] * np.random.randn(  # noqa: NPY002 (book's order)
                conv["filter_num"], pre_channel_num, size, size)
            self.params[f"b{idx + 1}"] = np.zeros(conv["filter_num"])
            pre_channel_num = conv["filter_num"]
        self.params["W7"] = weight_init_scales[6] * np.random.randn(64 * 4 * 4, hidden_size)  # noqa: NPY002
        self.params["b7"] = np.zeros(hidden_size)
        self.params["W8"] = weight_init_scales[7] * np.random.randn(hidden_size, output_size)  # noqa: NPY002
        self.params["b8"] = np.zeros(output_size)

        def conv_layer(i: int) -> Any:
            c = conv_params[i - 1]
            return Convolution(self.params[f"W{i}"], self.params[f"b{i}"], c["stride"], c["pad"])

        self.layers: list[Any] = [
            conv_layer(1), Relu(), conv_layer(2), Relu(), Pooling(pool_h=2, pool_w=2, stride=2),
            conv_layer(3), Relu(), conv_layer(4), Relu(), Pooling(pool_h=2, pool_w=2, stride=2),
            conv_layer(5), Relu(), conv_layer(6), Relu(), Pooling(pool_h=2, pool_w=2, stride=2),
            Affine(self.params["W7"], self.params["b7"]), Relu(), Dropout(0.5),
            Affine(self.params["W8"], self.params["b8"]), Dropout(0.5),
        ]
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: Any, train_flg: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train_flg) if isinstance(layer, Dropout) else layer.forward(x)
        return x

    def loss(self, x: Any, t: Any) -> Any:
        """The loss in training mode (Dropout active), as in the book."""
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> Any:
        """Accuracy over whole batches of ``batch_size`` (the book ignores a
        last partial batch but divides by all of x's samples)."""
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        acc = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = np.argmax(self.predict(tx, train_flg=False), axis=1)
            acc += np.sum(y == tt)
        return acc / x.shape[0]

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        for i, layer_idx in enumerate(_PARAMETER_LAYERS):
            grads[f"W{i + 1}"] = self.layers[layer_idx].dW
            grads[f"b{i + 1}"] = self.layers[layer_idx].db
        return grads

    def save_params(self, file_name: str = "params.npz") -> None:
        """Write the parameters as an ``.npz`` archive (no pickle)."""
        np.savez(file_name, **self.params)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle (bool)

    def load_params(self, file_name: str = "params.npz", *, allow_pickle: bool = False) -> None:
        """Read parameters from ``.npz``, or from the book's pickle file
        (``deep_convnet_params.pkl``) only with ``allow_pickle=True``: loading
        a pickle runs code from the file, so only load files you trust."""
        if os.path.splitext(file_name)[1] == ".npz":
            with np.load(file_name, allow_pickle=False) as archive:
                params = {key: archive[key] for key in archive.files}
        elif allow_pickle:
            with open(file_name, "rb") as f:
                params = pickle.load(f)  # noqa: S301 (explicit opt-in, documented)
        else:
            raise ValueError(f"{file_name} is not an .npz file; the book's .pkl files are pickles, which run "
                             "code when loaded: pass allow_pickle=True if you trust the file")
        for key, val in params.items():
            self.params[key] = val
        for i, layer_idx in enumerate(_PARAMETER_LAYERS):
            self.layers[layer_idx].W = self.params[f"W{i + 1}"]
            self.layers[layer_idx].b = self.params[f"b{i + 1}"]
