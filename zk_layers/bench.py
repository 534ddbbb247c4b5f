"""The benchmark suite: zk_layers against the book's plain NumPy code (and PyTorch).

The baseline of every ratio is :mod:`zk_layers.baseline`, the book's
chapter-5 code written in its style ("book" in the report), not the
validated oracle :mod:`zk_layers.reference`, whose checks cost microseconds
that the book does not pay; the oracle's times are shown for information
("oracle").  Rows compare like with like:

``book-loop``
    The loop body of the book's ``ch05/train_neuralnet.py`` (mini-batch of
    100 drawn at random, gradient, ``params[key] -= 0.1 * grad[key]``,
    loss) on MNIST from ``$ZK_LAYERS_MNIST_DIR`` or, without it, the
    embedded digits upscaled to 28x28; float32 images as the book's loader
    gives them, one-hot labels, float64 weights.  The book's net with its
    own layers against the same net code with zk_layers' layers.  First in
    the report: it is what a reader of the book runs.
layers (relu, sigmoid, affine, softmax)
    forward, backward and forward+backward of each layer; ``forward(out=)``
    (relu and sigmoid at mid and large sizes) against NumPy's own ``out=``
    ufunc path, not against an allocating one.
``step``
    One training step of the 784-H-10 net.  "book net, our layers": the
    book's TwoLayerNet code and update loop with zk_layers' layers swapped
    in (the same work) against the book's.  "zk.TwoLayerNet":
    zk_layers.TwoLayerNet with zk.SGD against the book's, which does more:
    the package's net skips the first layer's dx and updates in one pass.
``convnet-step`` (``--ops`` or ``--full``)
    One step of the book's chapter-7 ``SimpleConvNet`` (conv 30 filters
    5x5 - relu - 2x2 max-pool - affine 100 - relu - affine 10, batch 100,
    gradient + the book's Adam, as in ``ch07/train_convnet.py``) on the
    book-loop's images as 1x28x28, float32 images with float64 weights:
    the book's net on its own layers against the same net code on
    zk_layers' layers; zk_layers.SimpleConvNet + zk.Adam against the book's
    (it skips Conv1's dx); and zk_layers.SimpleConvNet in float32.
``conv``, ``pool`` (``--ops`` or ``--full``)
    forward, backward and forward+backward of Convolution (100 images
    1x28x28, 30 filters 5x5) and Pooling (2x2, stride 2, on 100x30x24x24),
    the book's shapes whatever ``--sizes`` says, against the book's
    im2col-based layers.

Protocol (the team's, see the README): one process; the implementations of
one case run interleaved (A B C A B C ...) after a warm-up; each sample is
a loop of calls lasting about ``sample_ms`` with the garbage collector off;
medians and interquartile ranges of many samples; ratios book/fast and
torch/fast.  Every implementation gets the same thread budget, BLAS
included (threadpoolctl), and the report names the machine, the BLAS kernel
that ran and the OMP_*/OPENBLAS_* variables.

Used by ``zk-layers bench`` and by the scripts in ``benchmarks/``.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import baseline, peers, reference
from . import convolution as fast_conv
from . import layers as fast
from ._config import config_info
from ._kernels import KERNELS
from ._threads import GRAINS, limit_threads, threads_for
from ._version import __version__

OPS = ("book-loop", "convnet-step", "relu", "sigmoid", "affine", "softmax", "step", "conv", "pool")
# Without --ops or --full: the chapter-5 ops (about a minute); the chapter-7
# ones take as long again, and only when asked for.
QUICK_OPS = ("book-loop", "relu", "sigmoid", "affine", "softmax", "step")
# Ops that run at their own (the book's) shapes, whatever --sizes says.
CONV_OPS = ("conv", "pool")
CONV_SHAPES: dict[str, dict[str, int]] = {
    # ch07: 100 MNIST images, 30 filters 5x5, stride 1, no padding ...
    "conv": {"N": 100, "C": 1, "H": 28, "W": 28, "FN": 30, "FH": 5, "FW": 5, "stride": 1, "pad": 0},
    # ... and the 2x2 max-pooling of its 30 maps of 24x24.
    "pool": {"N": 100, "C": 30, "H": 24, "W": 24, "FH": 2, "FW": 2, "stride": 2, "pad": 0},
}
MODES = ("forward", "backward", "forward+backward")
SIZES: dict[str, dict[str, Any]] = {
    # N: batch; D -> H -> C: input, hidden, classes.  Elementwise ops run on
    # (N, H), Affine on (N, D) @ (D, H), the loss on (N, C).
    "n1": {"N": 1, "D": 784, "H": 50, "C": 10},
    "n8": {"N": 8, "D": 784, "H": 50, "C": 10},
    "book": {"N": 100, "D": 784, "H": 50, "C": 10},
    "mid": {"N": 1000, "D": 784, "H": 1000, "C": 10},
    # Large: 8192x4096 elementwise, 8192x1000 softmax-loss, 4096^3 Affine.
    "large": {"N": 8192, "D": 4096, "H": 4096, "C": 1000, "affine_N": 4096},
}
SIZE_GROUPS = {"tiny": ("n1", "n8"), "book": ("book",), "mid": ("mid",), "large": ("large",)}
QUICK_SIZES = ("book", "mid")
# Sizes with forward(out=) rows: where a reused buffer saves page faults.
OUT_SIZES = ("mid", "large")

# The book-loop workload: ch05/train_neuralnet.py's settings.
BOOK_BATCH_SIZE, BOOK_HIDDEN_SIZE, BOOK_LEARNING_RATE, BOOK_WEIGHT_INIT_STD = 100, 50, 0.1, 0.01
BOOK_LOOP_MODE = "train_neuralnet body"
BOOK_NET_MODE = "book net, our layers"
PACKAGE_NET_MODE = "zk.TwoLayerNet"
CONVNET_MODE = "zk.SimpleConvNet"
CONVNET32_MODE = "zk.SimpleConvNet float32"
CONVNET_LEARNING_RATE = 0.001  # ch07/train_convnet.py's Adam
MNIST_ENV = "ZK_LAYERS_MNIST_DIR"

NOTES = {
    ("book-loop", BOOK_LOOP_MODE):
        "one iteration of the book's ch05/train_neuralnet.py loop (batch of 100 by np.random.choice, "
        "gradient, params[key] -= 0.1 * grad[key], loss) on {data}; x float32 as the book's loader "
        "gives it, one-hot t, W float64 (dtype 'mixed'); book: the book's TwoLayerNet and layers, "
        "fast: the same net code with zk_layers.layers swapped in",
    ("step", BOOK_NET_MODE):
        "the book's TwoLayerNet code and update loop with zk_layers.layers swapped in, against the "
        "book's layers: the same work (first layer's dx computed)",
    ("step", PACKAGE_NET_MODE):
        "zk_layers.TwoLayerNet + zk.SGD against the book's net: it skips the first layer's dx and "
        "updates each parameter in one compiled pass, so it does less work than the book",
    ("convnet-step", BOOK_NET_MODE):
        "one step of the book's ch07 SimpleConvNet (conv 30 filters 5x5 - relu - 2x2 max-pool - affine 100 - "
        "relu - affine 10; batch of 100 by np.random.choice, gradient, the book's Adam lr 0.001) on {data} as "
        "1x28x28, float32 images with float64 weights (dtype 'mixed'); book: the book's net, layers and Adam; "
        "fast: the same net code and Adam on zk_layers' layers (the same work, Conv1's dx included)",
    ("convnet-step", CONVNET_MODE):
        "zk_layers.SimpleConvNet + zk.Adam against the book's step: it skips Conv1's dx (need_dx=False), widens "
        "the float32 images inside the compiled im2col and updates each parameter in one compiled pass, so it "
        "does less work than the book; torch: PyTorch eager, the same net, F.cross_entropy, torch.optim.Adam, "
        "float64",
    ("convnet-step", CONVNET32_MODE):
        "zk_layers.SimpleConvNet(dtype=float32) + zk.Adam: float32 weights and arithmetic, against the book's "
        "float64 step (less precision, not the same work); torch: PyTorch eager in float32",
    ("conv", "*"):
        "Convolution at the book's shapes (100 images 1x28x28, 30 filters 5x5, stride 1, pad 0); book: im2col, "
        "np.dot, col2im in float64 as the book's im2col makes them; fast: zk.Convolution (dx computed), one "
        "layer called again and again, so it writes its patches over the last call's buffers while the book "
        "allocates them on every call; torch: F.conv2d (forward+backward by autograd)",
    ("softmax", "*"):
        "SoftmaxWithLoss, one layer called again and again: the fast layer writes y over the last forward's y "
        "(it holds the only reference) while the book allocates y on every call",
    ("pool", "*"):
        "2x2 max-pooling, stride 2, of 100x30x24x24 maps (the book's Pool1); book: im2col, argmax, col2im; fast: "
        "zk.Pooling (one pass, no im2col); torch: F.max_pool2d (forward+backward by autograd)",
    ("*", "forward(out=)"):
        "book: NumPy's own out= path into reused buffers (relu: np.less_equal into a mask buffer and "
        "np.maximum; sigmoid: np.negative, np.exp, np.add 1, np.reciprocal in place)",
}


@dataclass
class Case:
    op: str
    size: str
    dtype: str
    threads: int
    mode: str
    shape: str
    medians_s: dict[str, float] = field(default_factory=dict)
    iqrs_s: dict[str, float] = field(default_factory=dict)
    bytes_moved: int = 0

    def ratio(self, other: str) -> float | None:
        if other in self.medians_s and "fast" in self.medians_s:
            return self.medians_s[other] / self.medians_s["fast"]
        return None


def note_for(op: str, mode: str) -> str | None:
    """The footnote of a row, if it has one (with ``{data}`` unfilled)."""
    return NOTES.get((op, mode)) or NOTES.get((op, "*")) or NOTES.get(("*", mode))
# ----------------------------------------------------------------- timing
def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s / 4 or n >= 1 << 20:
            return max(1, int(n * target_s / max(elapsed, 1e-9)))
        n *= 4


def compare(cases: dict[str, Callable[[], object]], samples: int, target_s: float) -> dict[str, tuple[float, float]]:
    """Interleaved timing: {name: (median seconds per call, IQR)}."""
    loops = {name: _calibrate(fn, target_s) for name, fn in cases.items()}  # doubles as warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):
            for name, fn in cases.items():
                n = loops[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                times[name].append((time.perf_counter() - start) / n)
    finally:
        if enabled:
            gc.enable()
    result = {}
    for name, values in times.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        result[name] = (statistics.median(values), q[2] - q[0])
    return result


# ------------------------------------------------------------- workloads
def _layer_workloads(impl: Any, op: str, spec: dict[str, Any], dtype: np.dtype,
                     rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """forward / backward / forward+backward callables of one layer.

    ``impl`` is a module of layer classes: zk_layers.layers, zk_layers.baseline
    or zk_layers.reference.  The book's Relu.backward zeroes entries of its
    ``dout`` in place; every call zeroes the same entries, so the cost stays
    the same from call to call.
    """
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    if op in ("relu", "sigmoid"):
        layer = impl.Relu() if op == "relu" else impl.Sigmoid()
        args: tuple[Any, ...] = (rng.standard_normal((n, h)).astype(dtype),)
        dout: Any = rng.standard_normal((n, h)).astype(dtype)
    elif op == "affine":
        n = spec.get("affine_N", n)
        w = (rng.standard_normal((d, h)) * 0.01).astype(dtype)
        layer = impl.Affine(w, np.zeros(h, dtype))
        args = (rng.standard_normal((n, d)).astype(dtype),)
        dout = rng.standard_normal((n, h)).astype(dtype)
    elif op == "softmax":
        layer = impl.SoftmaxWithLoss()
        args = (rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n))
        dout = 1
    else:
        raise ValueError(op)
    return _forward_backward(layer, args, dout)


def _forward_backward(layer: Any, args: tuple[Any, ...], dout: Any) -> dict[str, Callable[[], object]]:
    """{"forward", "backward", "forward+backward"} callables of one layer
    (forward is run once first, so that backward has its state)."""
    layer.forward(*args)

    def forward() -> object:
        return layer.forward(*args)

    def backward() -> object:
        return layer.backward(dout)

    def both() -> object:
        layer.forward(*args)
        return layer.backward(dout)

    return {"forward": forward, "backward": backward, "forward+backward": both}


def _conv_arrays(op: str, dtype: np.dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The inputs of a conv or pool case at its CONV_SHAPES: x, dout and, for
    conv, W (std 0.01, as the book draws it) and b; the same draws for every
    contender built from the same seed."""
    shape = CONV_SHAPES[op]
    n, c, h, w, fh, fw = shape["N"], shape["C"], shape["H"], shape["W"], shape["FH"], shape["FW"]
    out_h = (h + 2 * shape["pad"] - fh) // shape["stride"] + 1
    out_w = (w + 2 * shape["pad"] - fw) // shape["stride"] + 1
    channels = shape.get("FN", c)
    arrays = {"x": rng.standard_normal((n, c, h, w)).astype(dtype),
              "dout": rng.standard_normal((n, channels, out_h, out_w)).astype(dtype)}
    if op == "conv":
        arrays["W"] = (rng.standard_normal((shape["FN"], c, fh, fw)) * 0.01).astype(dtype)
        arrays["b"] = (rng.standard_normal(shape["FN"]) * 0.01).astype(dtype)
    return arrays


def _conv_workloads(impl: Any, op: str, dtype: np.dtype, rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """forward / backward / forward+backward of Convolution ("conv") or
    Pooling ("pool") at the book's shapes; ``impl`` is zk_layers.convolution,
    zk_layers.baseline or zk_layers.reference."""
    shape = CONV_SHAPES[op]
    arrays = _conv_arrays(op, dtype, rng)
    if op == "conv":
        layer = impl.Convolution(arrays["W"], arrays["b"], shape["stride"], shape["pad"])
    else:
        layer = impl.Pooling(shape["FH"], shape["FW"], shape["stride"], shape["pad"])
    return _forward_backward(layer, (arrays["x"],), arrays["dout"])


def _torch_conv_workloads(op: str, dtype: np.dtype, rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """PyTorch CPU for conv and pool: F.conv2d / F.max_pool2d forward, and
    forward+backward by autograd (the gradients of x, and of W and b)."""
    import torch

    shape = CONV_SHAPES[op]
    arrays = {key: torch.from_numpy(value) for key, value in _conv_arrays(op, dtype, rng).items()}
    functional = torch.nn.functional
    params: tuple[Any, ...]
    if op == "conv":
        def forward_of(x: Any, *params: Any) -> Any:
            return functional.conv2d(x, *params, stride=shape["stride"], padding=shape["pad"])
        params = (arrays["W"], arrays["b"])
    else:
        def forward_of(x: Any, *params: Any) -> Any:
            return functional.max_pool2d(x, (shape["FH"], shape["FW"]), stride=shape["stride"],
                                         padding=shape["pad"])
        params = ()
    inputs = (arrays["x"], *params)
    graded = tuple(v.clone().requires_grad_(True) for v in inputs)

    def autograd() -> object:
        forward_of(*graded).backward(arrays["dout"])
        for v in graded:
            v.grad = None
        return None

    return {"forward": lambda: forward_of(*inputs), "autograd": autograd}


def convnet_step_data(book_loop: tuple[np.ndarray, np.ndarray, str]) -> tuple[np.ndarray, np.ndarray]:
    """The book-loop's training set as the book's ch07 loader gives it:
    images (N, 1, 28, 28) float32 and labels as class indices."""
    x, t, _ = book_loop
    return np.ascontiguousarray(x.reshape(-1, 1, 28, 28)), np.argmax(t, axis=1)


def _convnet_step_workloads(x_train: np.ndarray, t_train: np.ndarray,
                            use_torch: bool) -> dict[str, dict[str, Callable[[], object]]]:
    """One step of the book's SimpleConvNet (batch drawn by np.random.choice,
    gradient, Adam lr 0.001); every contender starts from the book's weights
    after np.random.seed(0) and draws the same batches.

    {mode: {contender: callable}}: the book's net code on zk_layers' layers
    against the book's; zk.SimpleConvNet + zk.Adam (float64, then float32)
    against the book's, with PyTorch eager where installed.
    """
    import zk_layers

    from .convnet import SimpleConvNet
    from .optimizers import Adam

    def drawing(step: Callable[[np.ndarray, np.ndarray], object]) -> Callable[[], object]:
        batches = np.random.RandomState(1)

        def iteration() -> object:
            batch = batches.choice(x_train.shape[0], BOOK_BATCH_SIZE)
            return step(x_train[batch], t_train[batch])

        return iteration

    def book_side(layer_module: Any) -> Callable[[], object]:
        net = baseline.SimpleConvNet(layer_module=layer_module, rng=np.random.RandomState(0))
        optimizer = baseline.Adam(lr=CONVNET_LEARNING_RATE)

        def step(x: np.ndarray, t: np.ndarray) -> object:
            grads = net.gradient(x, t)
            optimizer.update(net.params, grads)
            return grads

        return drawing(step)

    def package_side(dtype: Any) -> Callable[[], object]:
        net = SimpleConvNet(dtype=dtype, rng=np.random.RandomState(0))
        optimizer = Adam(lr=CONVNET_LEARNING_RATE)

        def step(x: np.ndarray, t: np.ndarray) -> object:
            grads = net.gradient(x, t)
            optimizer.update(net.params, grads)
            return grads

        return drawing(step)

    rows = {BOOK_NET_MODE: {"fast": book_side(zk_layers), "book": book_side(baseline)},
            CONVNET_MODE: {"fast": package_side(np.float64), "book": book_side(baseline)},
            CONVNET32_MODE: {"fast": package_side(np.float32), "book": book_side(baseline)}}
    if use_torch:
        rows[CONVNET_MODE]["torch"] = drawing(_torch_convnet_step(np.dtype(np.float64)))
        rows[CONVNET32_MODE]["torch"] = drawing(_torch_convnet_step(np.dtype(np.float32)))
    return rows


def _torch_convnet_step(dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray], object]:
    """PyTorch eager: the book's SimpleConvNet on 1x28x28 images, F.cross_entropy,
    torch.optim.Adam (lr 0.001, eps 1e-7 as the book's)."""
    import torch

    torch.manual_seed(0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10)).to(tdtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=CONVNET_LEARNING_RATE, eps=1e-7)

    def step(x: np.ndarray, t: np.ndarray) -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x).to(tdtype)), torch.from_numpy(t))
        loss.backward()
        optimizer.step()
        return None

    return step


def _out_workload(side: str, op: str, spec: dict[str, Any], dtype: np.dtype,
                  rng: np.random.Generator) -> Callable[[], object]:
    """``forward(out=)`` of relu or sigmoid into a reused buffer.

    "fast": the layer's ``forward(x, out=buffer)``.  "book": what a NumPy
    user writes to reuse buffers, the same results (relu also fills a mask
    buffer, as the layer fills its ``mask``); the book's layers have no
    ``out=``, and the oracle's only copies its fresh result into the buffer.
    """
    x = rng.standard_normal((spec["N"], spec["H"])).astype(dtype)
    buffer = np.empty_like(x)
    if side == "fast":
        layer = fast.Relu() if op == "relu" else fast.Sigmoid()

        def layer_out() -> object:
            return layer.forward(x, out=buffer)

        return layer_out
    if op == "relu":
        mask = np.empty(x.shape, np.bool_)

        def relu_out() -> object:
            np.less_equal(x, 0, out=mask)
            return np.maximum(x, 0, out=buffer)

        return relu_out

    def sigmoid_out() -> object:
        np.negative(x, out=buffer)
        np.exp(buffer, out=buffer)
        np.add(buffer, 1, out=buffer)
        return np.reciprocal(buffer, out=buffer)

    return sigmoid_out


def _book_update(net: Any, grads: dict[str, np.ndarray], learning_rate: float) -> None:
    for key in ("W1", "b1", "W2", "b2"):
        net.params[key] -= learning_rate * grads[key]


def _step_workloads(spec: dict[str, Any], dtype: np.dtype,
                    rng: np.random.Generator) -> dict[str, dict[str, Callable[[], object]]]:
    """One training step (gradient by backprop, then the update) on a fixed batch.

    {mode: {contender: callable}}: "book net, our layers" runs the book's
    net and update loop on zk_layers' layers against the book's layers;
    "zk.TwoLayerNet" runs the package's net and zk.SGD against the book's.
    """
    from .nets import TwoLayerNet
    from .optimizers import SGD

    d, h, c = spec["D"], spec["H"], spec["C"]
    x = rng.random((spec["N"], d)).astype(dtype)
    t = rng.integers(0, c, spec["N"])

    def book_step(layer_module: Any) -> Callable[[], object]:
        net = baseline.TwoLayerNet(d, h, c, layer_module=layer_module, rng=np.random.RandomState(0),
                                   dtype=dtype)

        def step() -> object:
            grads = net.gradient(x, t)
            _book_update(net, grads, 0.1)
            return grads

        return step

    package_net = TwoLayerNet(d, h, c, dtype=dtype, backend="fast", seed=0)
    sgd = SGD(lr=0.1)

    def package_step() -> object:
        grads = package_net.gradient(x, t)
        sgd.update(package_net.params, grads)
        return grads

    return {BOOK_NET_MODE: {"fast": book_step(fast), "book": book_step(baseline)},
            PACKAGE_NET_MODE: {"fast": package_step, "book": book_step(baseline)}}


def book_loop_data() -> tuple[np.ndarray, np.ndarray, str]:
    """The book-loop's training set: images (N, 784) float32 in [0, 1], one-hot
    labels (N, 10) float64, and a phrase naming the source.

    MNIST through :func:`zk_layers.load_mnist` when ``$ZK_LAYERS_MNIST_DIR``
    is set (as the book's ``load_mnist(normalize=True, one_hot_label=True)``
    gives it, float32 / 255); otherwise the embedded 8x8 digits, each pixel
    repeated 3x3 (24x24) and padded with 2 zero pixels on every side (28x28),
    so that the net has MNIST's shape.
    """
    from .datasets import load_digits, load_mnist

    if os.environ.get(MNIST_ENV, "").strip():
        (x, t), _ = load_mnist(normalize=True, one_hot_label=True, dtype=np.float32)
        return x, t, f"MNIST from ${MNIST_ENV} ({x.shape[0]} training images)"
    (x, t), _ = load_digits(normalize=True, one_hot_label=True, dtype=np.float32)
    images = np.kron(x.reshape(-1, 8, 8), np.ones((1, 3, 3), np.float32))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    source = (f"the embedded 8x8 digits upscaled to 28x28 ({x.shape[0]} training images; "
              f"set ${MNIST_ENV} for MNIST)")
    return np.ascontiguousarray(images.reshape(x.shape[0], 28 * 28)), t, source


def _book_loop_workload(layer_module: Any, x_train: np.ndarray, t_train: np.ndarray) -> Callable[[], object]:
    """One iteration of the book's training loop; both sides draw the same
    batches and start from the same weights."""
    net = baseline.TwoLayerNet(x_train.shape[1], BOOK_HIDDEN_SIZE, t_train.shape[1], BOOK_WEIGHT_INIT_STD,
                               layer_module=layer_module, rng=np.random.RandomState(0))
    batches = np.random.RandomState(1)

    def iteration() -> object:
        return baseline.train_iteration(net, x_train, t_train, batch_size=BOOK_BATCH_SIZE,
                                        learning_rate=BOOK_LEARNING_RATE, rng=batches)

    return iteration


def _torch_workloads(op: str, spec: dict[str, Any], dtype: np.dtype,
                     rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """PyTorch CPU: explicit forward/backward ops, and autograd for forward+backward."""
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    work: dict[str, Callable[[], object]] = {}
    if op in ("relu", "sigmoid"):
        x = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        fwd = torch.relu if op == "relu" else torch.sigmoid
        y = fwd(x)
        if op == "relu":
            work["backward"] = lambda: torch.where(x > 0, dout, 0.0)
        else:
            work["backward"] = lambda: dout * (1 - y) * y
        work["forward"] = lambda: fwd(x)

        def explicit() -> object:
            out = fwd(x)
            return torch.where(x > 0, dout, 0.0) if op == "relu" else dout * (1 - out) * out

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            fwd(xg).backward(dout)
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "affine":
        n = spec.get("affine_N", n)
        x = torch.from_numpy(rng.standard_normal((n, d)).astype(dtype))
        w = torch.from_numpy((rng.standard_normal((d, h)) * 0.01).astype(dtype))
        b = torch.zeros(h, dtype=tdtype)
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        work["forward"] = lambda: torch.addmm(b, x, w)
        work["backward"] = lambda: (dout @ w.T, x.T @ dout, dout.sum(0))

        def explicit() -> object:
            torch.addmm(b, x, w)
            return dout @ w.T, x.T @ dout, dout.sum(0)

        xg, wg, bg = (v.clone().requires_grad_(True) for v in (x, w, b))

        def autograd() -> object:
            torch.addmm(bg, xg, wg).backward(dout)
            xg.grad = wg.grad = bg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "softmax":
        x = torch.from_numpy(rng.standard_normal((n, c)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))
        onehot = torch.nn.functional.one_hot(t, c).to(tdtype)
        work["forward"] = lambda: torch.nn.functional.cross_entropy(x, t)
        y = torch.softmax(x, 1)
        work["backward"] = lambda: (y - onehot) / n

        def explicit() -> object:
            out = torch.softmax(x, 1)
            loss = -torch.log(out[torch.arange(n), t]).mean()
            return loss, (out - onehot) / n

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            torch.nn.functional.cross_entropy(xg, t).backward()
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "step":
        g = torch.Generator().manual_seed(0)
        w1 = (torch.randn(d, h, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b1 = torch.zeros(h, dtype=tdtype, requires_grad=True)
        w2 = (torch.randn(h, c, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b2 = torch.zeros(c, dtype=tdtype, requires_grad=True)
        x = torch.from_numpy(rng.random((n, d)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))

        def step() -> object:
            loss = torch.nn.functional.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, t)
            loss.backward()
            with torch.no_grad():
                for p in (w1, b1, w2, b2):
                    p -= 0.1 * p.grad
                    p.grad = None
            return None

        work["train"] = step
    return work


def _memory_bytes(op: str, mode: str, spec: dict[str, Any], itemsize: int) -> int:
    """Bytes a memory-bound op must read and write (for the bandwidth column)."""
    if op in ("relu", "sigmoid"):
        n = spec["N"] * spec["H"]
        mask = 1 if op == "relu" else 0
        per = {"forward": 2 * itemsize + mask, "forward(out=)": 2 * itemsize + mask,
               "backward": 2 * itemsize + (mask or itemsize),
               "forward+backward": 4 * itemsize + 2 * mask + (0 if mask else itemsize)}[mode]
        return n * per
    if op == "softmax":
        n = spec["N"] * spec["C"]
        return n * {"forward": 2 * itemsize, "backward": 2 * itemsize, "forward+backward": 4 * itemsize}[mode]
    return 0


def measure_bandwidth(threads: int, samples: int = 7) -> float:
    """Streaming bandwidth in GB/s (bytes read + written) of a copy kernel over
    arrays far larger than cache, at the given thread count (our Relu
    backward on a 0-mask is a read-read-write stream; np.copyto is single
    threaded, so the copy is done with our kernels to use every thread)."""
    n = 1 << 25  # 256 MiB of float64
    src = np.ones(n)
    dst = np.empty(n)
    mask = np.zeros(n, dtype=np.bool_)
    kernel = KERNELS.relu_backward[1]
    with limit_threads(threads):
        n_threads = threads_for(n, GRAINS.elementwise)
        kernel(src, mask, dst, n_threads)  # first touch
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            kernel(src, mask, dst, n_threads)
            times.append(time.perf_counter() - start)
    return (2 * 8 + 1) * n / statistics.median(times) / 1e9


# ------------------------------------------------------------------- driver
@contextlib.contextmanager
def pinned_to_one_core(pin: bool) -> Any:
    """The process on one core for one-thread rows: a peer's own thread
    flags do not bind its runtime (XLA ran a 2000x2000 product on both cores
    with every flag at 1), the affinity mask does.  No-op where
    os.sched_setaffinity does not exist (macOS, Windows)."""
    if not pin or not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_available() -> bool:
    """Import PyTorch if it is installed, its OpenMP runtime set to the passive
    wait policy unless the user chose one: PyTorch bundles its own libgomp,
    whose spinning threads otherwise take the cores from OpenBLAS's threads in
    the interleaved runs (measured: 2-thread float32 GEMMs of the book's size
    at 8-30 ms instead of 0.1-0.3 ms, for the reference as for zk_layers)."""
    import os

    set_here = "torch" not in sys.modules and not any(
        k in os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    if set_here:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    finally:
        if set_here:
            del os.environ["OMP_WAIT_POLICY"]
    return True


def _plan(ops: Sequence[str], sizes: Sequence[str], dtypes: Sequence[str],
          threads: Sequence[int]) -> list[tuple[str, str, str, int]]:
    """(op, size, dtype, threads) in the report's order: the book-loop first
    (once per thread count: its sizes and dtypes are the book's), then the
    rest; no step at the large size; the convnet-step once per thread count
    after the book-loop, conv and pool at their own shapes (size "book")
    after the other ops."""
    plan = [("book-loop", "book", "mixed", th) for th in threads if "book-loop" in ops]
    plan += [("convnet-step", "book", "mixed", th) for th in threads if "convnet-step" in ops]
    plan += [(op, size, dt, th) for th in threads for dt in dtypes for size in sizes for op in ops
             if op not in ("book-loop", "convnet-step", *CONV_OPS) and not (op == "step" and size == "large")]
    plan += [(op, "book", dt, th) for th in threads for dt in dtypes for op in ops if op in CONV_OPS]
    return plan


def _contenders(op: str, size: str, dtype: np.dtype, use_torch: bool,
                book_loop: tuple[np.ndarray, np.ndarray, str] | None,
                peer_versions: dict[str, str] | None = None,
                threads: int = 1) -> dict[str, dict[str, Callable[[], object]]]:
    """{mode: {contender: callable}} of one case; each contender builds its
    data from the same seed, so all of them work on equal arrays."""
    spec = SIZES[size]

    def seeded() -> np.random.Generator:
        return np.random.default_rng(0)

    if op == "book-loop":
        assert book_loop is not None
        x_train, t_train, _ = book_loop
        return {BOOK_LOOP_MODE: {"fast": _book_loop_workload(fast, x_train, t_train),
                                 "book": _book_loop_workload(baseline, x_train, t_train)}}
    if op == "convnet-step":
        assert book_loop is not None
        return _convnet_step_workloads(*convnet_step_data(book_loop), use_torch)
    if op == "step":
        rows = _step_workloads(spec, dtype, seeded())
        if use_torch:
            rows[PACKAGE_NET_MODE]["torch"] = _torch_workloads(op, spec, dtype, seeded())["train"]
        if peer_versions:
            rows[PACKAGE_NET_MODE].update(peers.workloads(op, spec, dtype, seeded(), peer_versions, threads))
        return rows
    if op in CONV_OPS:
        impls = {"fast": _conv_workloads(fast_conv, op, dtype, seeded()),
                 "book": _conv_workloads(baseline, op, dtype, seeded()),
                 "oracle": _conv_workloads(reference, op, dtype, seeded())}
        if use_torch:
            impls["torch"] = _torch_conv_workloads(op, dtype, seeded())
    else:
        impls = {"fast": _layer_workloads(fast, op, spec, dtype, seeded()),
                 "book": _layer_workloads(baseline, op, spec, dtype, seeded()),
                 "oracle": _layer_workloads(reference, op, spec, dtype, seeded())}
        if use_torch:
            impls["torch"] = _torch_workloads(op, spec, dtype, seeded())
    rows = {}
    for mode in MODES:
        rows[mode] = {name: work[mode] for name, work in impls.items() if mode in work}
        if mode == "forward+backward" and "torch" in impls and "autograd" in impls["torch"]:
            rows[mode]["torch_autograd"] = impls["torch"]["autograd"]
    if op in ("relu", "sigmoid") and size in OUT_SIZES:
        rows["forward(out=)"] = {side: _out_workload(side, op, spec, dtype, seeded()) for side in ("fast", "book")}
    if peer_versions:
        rows["forward+backward"].update(peers.workloads(op, spec, dtype, seeded(), peer_versions, threads))
    return rows


def run(ops: Sequence[str], sizes: Sequence[str], dtypes: Sequence[str], threads: Sequence[int], *,
        samples: int = 15, sample_ms: float = 10.0, use_torch: bool = True, bandwidth: bool = False,
        progress: Callable[[str], None] | None = None, with_peers: bool = False) -> dict[str, Any]:
    """Run the suite; returns a JSON-ready report.  ``with_peers``: also
    numba and JAX where installed (:mod:`zk_layers.peers`)."""
    from threadpoolctl import threadpool_limits

    use_torch = use_torch and _torch_available()
    peer_versions = peers.available(min(threads)) if with_peers else {}
    cases: list[Case] = []
    bandwidths: dict[int, float] = {}
    plan = _plan(ops, sizes, dtypes, threads)
    book_loop = book_loop_data() if {"book-loop", "convnet-step"} & set(ops) else None
    for index, (op, size, dt, th) in enumerate(plan):
        dtype = np.dtype("float64" if dt == "mixed" else dt)
        spec = SIZES[size]
        if progress is not None:
            progress(f"[{index + 1}/{len(plan)}] {op} {size} {dt} {th} thread(s)")
        with threadpool_limits(limits=th), limit_threads(th), pinned_to_one_core(th == 1):
            if use_torch:
                import torch

                torch.set_num_threads(th)
            for mode, contenders in _contenders(op, size, dtype, use_torch, book_loop, peer_versions, th).items():
                result = compare(contenders, samples, sample_ms / 1000)
                if op == "book-loop":
                    assert book_loop is not None
                    shape = f"N={BOOK_BATCH_SIZE}, {book_loop[0].shape[1]}-{BOOK_HIDDEN_SIZE}-{book_loop[1].shape[1]}"
                elif op == "convnet-step":
                    shape = f"N={BOOK_BATCH_SIZE}, 1x28x28, conv 30x5x5, pool 2x2, 100, 10"
                elif op in CONV_OPS:
                    shape = _conv_shape(op)
                else:
                    shape = (f"N={spec.get('affine_N', spec['N']) if op == 'affine' else spec['N']}, "
                             f"{spec['D']}-{spec['H']}-{spec['C']}")
                cases.append(Case(op, size, dt, th, mode, shape, {k: v[0] for k, v in result.items()},
                                  {k: v[1] for k, v in result.items()},
                                  _memory_bytes(op, mode, spec, dtype.itemsize)))
        if bandwidth and th not in bandwidths:
            bandwidths[th] = measure_bandwidth(th)
    info = config_info()
    return {
        "zk_layers": __version__,
        "machine": {"cpu": _cpu_model(), "usable_cpus": info["usable_cpus"], "platform": info["platform"]},
        "config": info,
        "torch": _torch_version() if use_torch else None,
        "peers": peer_versions,
        "jax_threads": peers.jax_threads if "jax" in peer_versions else None,
        "protocol": {"samples": samples, "sample_ms": sample_ms, "interleaved": True, "gc": "off",
                     "one_thread_rows_pinned": hasattr(os, "sched_setaffinity")},
        "baseline": "zk_layers.baseline: the book's plain NumPy code (book); "
                    "zk_layers.reference: the validated oracle (oracle)",
        "book_loop_data": book_loop[2] if book_loop is not None else None,
        "bandwidth_GBps": bandwidths,
        "cases": [asdict(c) | {"ratio_book": c.ratio("book"), "ratio_oracle": c.ratio("oracle"),
                               "ratio_torch": _best_torch_ratio(c), "best_peer": _best_peer(c),
                               "note": _note(c.op, c.mode, book_loop)}
                  for c in cases],
    }


def _conv_shape(op: str) -> str:
    s = CONV_SHAPES[op]
    image = f"N={s['N']}, {s['C']}x{s['H']}x{s['W']}"
    window = f"{s['FH']}x{s['FW']}, stride {s['stride']}, pad {s['pad']}"
    return f"{image}, {s['FN']} filters {window}" if op == "conv" else f"{image}, max {window}"


def _note(op: str, mode: str, book_loop: tuple[np.ndarray, np.ndarray, str] | None) -> str | None:
    note = note_for(op, mode)
    if note is not None and book_loop is not None:
        note = note.replace("{data}", book_loop[2])
    return note


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _best_torch_ratio(case: Case) -> float | None:
    """torch/fast with the better of PyTorch's explicit and autograd paths."""
    candidates = [case.medians_s[k] for k in ("torch", "torch_autograd") if k in case.medians_s]
    if not candidates or "fast" not in case.medians_s:
        return None
    return min(candidates) / case.medians_s["fast"]


PEER_NAMES = ("torch", "torch_autograd", "numba", "jax")


def _best_peer(case: Case) -> dict[str, Any] | None:
    """The fastest peer of a case (PyTorch, numba, JAX): its name, time and
    its time over zk_layers' (> 1: zk_layers is faster)."""
    times = {k: v for k, v in case.medians_s.items() if k in PEER_NAMES}
    if not times or "fast" not in case.medians_s:
        return None
    name = min(times, key=times.__getitem__)
    return {"name": name.replace("_autograd", " (autograd)"), "median_s": times[name],
            "ratio": times[name] / case.medians_s["fast"]}


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _fmt_ratio(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio else "-"


COLUMNS = ["op", "size", "dtype", "thr", "mode", "fast", "book", "book/fast", "oracle", "torch", "torch/fast",
           "best peer", "peer/fast", "GB/s (of stream)"]


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    cfg = report["config"]
    blas = ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})" for p in cfg["blas"]) or "not detected"
    head = [
        f"zk_layers {report['zk_layers']} benchmark on {report['machine']['cpu']} "
        f"({report['machine']['usable_cpus']} usable CPUs), {report['machine']['platform']}",
        f"python {cfg['python']}, numpy {cfg['numpy']}, BLAS {blas}, kernels {cfg['kernels']}, "
        f"OpenMP {'on' if cfg['openmp'] else 'off'}, torch {report['torch'] or 'not installed'}"
        + "".join(f", {name} {version}" + (f" (its pool: {report['jax_threads']} thread(s), so only in those rows)"
                                             if name == "jax" and report.get("jax_threads") else "")
                  for name, version in (report.get("peers") or {}).items()),
        f"environment: {cfg['environment'] or '{}'}",
        f"protocol: interleaved, {report['protocol']['samples']} samples of ~{report['protocol']['sample_ms']:g} ms, "
        f"medians (IQR); ratios > 1 mean zk_layers is faster"
        + ("; one-thread rows pinned to one core (every peer too)"
           if report["protocol"].get("one_thread_rows_pinned") else ""),
        "book: the book's plain NumPy code (zk_layers.baseline), the baseline of every ratio; "
        "oracle: zk_layers.reference, validated, for information",
    ]
    if report.get("book_loop_data"):
        head.append(f"book-loop data: {report['book_loop_data']}")
    for th, gbps in report["bandwidth_GBps"].items():
        head.append(f"streaming bandwidth at {th} thread(s): {gbps:.1f} GB/s")
    rows = []
    notes: dict[str, str] = {}
    for c in report["cases"]:
        med, iqr = c["medians_s"], c["iqrs_s"]
        torch_best = min((med[k] for k in ("torch", "torch_autograd") if k in med), default=None)
        gbps = ""
        if c["bytes_moved"] and c["size"] == "large":
            gbps = f"{c['bytes_moved'] / med['fast'] / 1e9:.1f}"
            if c["threads"] in report["bandwidth_GBps"]:
                gbps += f" ({100 * c['bytes_moved'] / med['fast'] / 1e9 / report['bandwidth_GBps'][c['threads']]:.0f}%)"
        mode = c["mode"]
        if c.get("note"):
            key = (f"{c['op']} {mode}" if (c["op"], mode) in NOTES
                   else c["op"] if (c["op"], "*") in NOTES else mode)
            notes.setdefault(key, c["note"])
            mode = f"{mode} [{list(notes).index(key) + 1}]"
        rows.append([c["op"], c["size"], c["dtype"], str(c["threads"]), mode,
                     f"{_fmt_time(med.get('fast'))} ({_fmt_time(iqr.get('fast'))})",
                     _fmt_time(med.get("book")), _fmt_ratio(c["ratio_book"]), _fmt_time(med.get("oracle")),
                     _fmt_time(torch_best), _fmt_ratio(c["ratio_torch"]),
                     f"{c['best_peer']['name']} {_fmt_time(c['best_peer']['median_s'])}" if c.get("best_peer") else "-",
                     _fmt_ratio(c["best_peer"]["ratio"]) if c.get("best_peer") else "-", gbps])
    footer = [f"[{i + 1}] {key}: {text}" for i, (key, text) in enumerate(notes.items())]
    if markdown:
        lines = [*(f"- {h}" for h in head), "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if footer:
            lines += ["", *(f"- {f}" for f in footer)]
        return "\n".join(lines)
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) if rows else len(COLUMNS[i]) for i in range(len(COLUMNS))]
    lines = [*head, "", "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    if footer:
        lines += ["", *footer]
    return "\n".join(lines)


def plot_ratios(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in report["cases"] if c["ratio_book"]]
    labels = [f"{c['op']} {c['mode'][:10]} {c['size']} {c['dtype']} T{c['threads']}" for c in cases]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(cases))))
    y = np.arange(len(cases))
    ax.barh(y, [c["ratio_book"] for c in cases], height=0.4, label="book / fast")
    torch_ratios = [c["ratio_torch"] or 0 for c in cases]
    if any(torch_ratios):
        ax.barh(y + 0.4, torch_ratios, height=0.4, label="torch / fast")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y + 0.2, labels, fontsize=7)
    ax.invert_yaxis()  # the first row (the book-loop) on top
    ax.set_xscale("log")
    ax.set_xlabel("speed-up of zk_layers over the book's code (log scale)")
    ax.legend(loc="lower right")
    ax.set_title(f"zk_layers {report['zk_layers']} on {report['machine']['cpu']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _csv(text: str, allowed: Sequence[str], name: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"{name} must be a comma-separated subset of {', '.join(allowed)}, got {text!r}")
    return values


def _threads_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true",
                   help="every op (the chapter-7 ones included), size (tiny, book, mid, large), dtype and thread "
                   "count 1..cores; minutes")
    p.add_argument("--ops", type=lambda s: _csv(s, OPS, "ops"),
                   help=f"subset of {','.join(OPS)} (default: {','.join(QUICK_OPS)}; conv, pool and "
                   "convnet-step only when named or with --full; book-loop, convnet-step, conv and pool run at the "
                   "book's shapes whatever --sizes says)")
    p.add_argument("--sizes", type=lambda s: _csv(s, list(SIZE_GROUPS), "sizes"),
                   help="subset of tiny,book,mid,large (default: book,mid)")
    p.add_argument("--dtypes", type=lambda s: _csv(s, ["float32", "float64"], "dtypes"),
                   help="float32,float64 (default: float64; --full: both)")
    p.add_argument("--threads", type=_threads_list,
                   help="thread counts, e.g. 1,2,4 (default: 1 and the usable CPUs)")
    p.add_argument("--samples", type=int, default=15, help="samples per implementation (default: 15)")
    p.add_argument("--sample-ms", type=float, default=10.0, help="length of one sample (default: 10 ms)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--peers", action="store_true",
                   help="also time numba and JAX where installed (never dependencies), after checking "
                        "their outputs against the reference; each gets the row's threads, BLAS included, "
                        "and JAX, whose pool is sized once, stands only in the rows of the smallest thread count")
    p.add_argument("--bandwidth", action="store_true", help="also measure streaming bandwidth (on with --full)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    if args.samples < 3:
        raise ValueError(f"--samples must be at least 3, got {args.samples}")
    if not args.sample_ms > 0:
        raise ValueError(f"--sample-ms must be positive, got {args.sample_ms}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("zk-layers bench: --plot needs matplotlib: pip install 'zk_layers[plot]'") from None
    cpus = config_info()["usable_cpus"]
    groups = args.sizes or (list(SIZE_GROUPS) if args.full else list(QUICK_SIZES))
    sizes = [s for g in groups for s in SIZE_GROUPS[g]]
    dtypes = args.dtypes or (["float32", "float64"] if args.full else ["float64"])
    default_threads = sorted({1, 2, 4, 8, 16, cpus} & set(range(1, cpus + 1))) if args.full else sorted({1, cpus})
    threads = args.threads or default_threads
    ops = args.ops or list(OPS if args.full else QUICK_OPS)

    def progress(message: str) -> None:
        if not args.no_progress:
            print(message, file=sys.stderr, flush=True)

    report = run(ops, sizes, dtypes, threads, samples=args.samples, sample_ms=args.sample_ms,
                 use_torch=not args.no_torch, bandwidth=args.bandwidth or args.full, progress=progress,
                 with_peers=args.peers)
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_table(report, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    if args.plot:
        plot_ratios(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zk-layers bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
