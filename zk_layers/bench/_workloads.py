"""The workloads: forward, backward and both of each op (fast, oracle, book), and the training steps."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import baseline, baseline2
from .. import layers as fast
from ._common import (
    BOOK_BATCH_SIZE,
    BOOK_HIDDEN_SIZE,
    BOOK_LEARNING_RATE,
    BOOK_NET_MODE,
    BOOK_WEIGHT_INIT_STD,
    CBOW_BOOK_NET_MODE,
    CBOW_PACKAGE_MODE,
    CONV_SHAPES,
    CONVNET32_MODE,
    CONVNET_LEARNING_RATE,
    CONVNET_MODE,
    MNIST_ENV,
    PACKAGE_NET_MODE,
    PTB_ENV,
    W2V_HIDDEN,
    W2V_VOCAB,
    W2V_WINDOW,
    _conv_arrays,
)
from ._torch import _torch_convnet_step


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

def _fresh_layer_workload(impl: Any, op: str, spec: dict[str, Any], dtype: np.dtype,
                          rng: np.random.Generator) -> Callable[[], object]:
    """forward+backward of a Relu or Sigmoid of ``impl`` made for each call
    (the data drawn as _layer_workloads draws it)."""
    cls = impl.Relu if op == "relu" else impl.Sigmoid
    x = rng.standard_normal((spec["N"], spec["H"])).astype(dtype)
    dout = rng.standard_normal((spec["N"], spec["H"])).astype(dtype)

    def fresh() -> object:
        layer = cls()
        layer.forward(x)
        return layer.backward(dout)

    return fresh


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

    from ..convnet import SimpleConvNet
    from ..optimizers import Adam

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
    from ..nets import TwoLayerNet
    from ..optimizers import SGD

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
    from ..datasets import load_digits, load_mnist

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


def w2v_corpus() -> tuple[np.ndarray, str]:
    """The chapter-4 corpus: the Penn Treebank's training text from
    $ZK_LAYERS_PTB_DIR, else a Zipf sample over W2V_VOCAB words."""
    directory = os.environ.get(PTB_ENV)
    if directory:
        from ..word2vec import load_ptb

        return load_ptb(directory)[0], "PTB train"
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, W2V_VOCAB + 1)
    corpus = rng.choice(W2V_VOCAB, size=200_000, p=weights / weights.sum())
    corpus[:W2V_VOCAB] = np.arange(W2V_VOCAB)  # every word present, as in a real vocabulary
    return corpus, "a Zipf sample of 200,000 words"


def _w2v_layer_workloads(side: str, op: str, spec: dict[str, Any], corpus: np.ndarray,
                         rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """forward / backward / forward+backward of the second volume's Embedding
    or NegativeSamplingLoss: the book's (side "book") or zk_layers.book2's."""
    from ..book2 import layers as book2_layers
    from ..book2 import negative_sampling_layer as book2_nsl

    n = spec["N"]
    W = (0.01 * rng.standard_normal((W2V_VOCAB, W2V_HIDDEN))).astype(np.float32)  # noqa: N806
    if op == "embedding":
        layer: Any = (baseline2.Embedding if side == "book" else book2_layers.Embedding)(W)
        return _forward_backward(layer, (rng.integers(0, W2V_VOCAB, n),),
                                 rng.standard_normal((n, W2V_HIDDEN)).astype(np.float32))
    layer = (baseline2.NegativeSamplingLoss if side == "book" else book2_nsl.NegativeSamplingLoss)(W, corpus)
    h = rng.standard_normal((n, W2V_HIDDEN)).astype(np.float32)
    target = corpus[rng.integers(0, corpus.size, n)]
    np.random.seed(0)  # noqa: NPY002 (the samplers draw from the global generator)
    return _forward_backward(layer, (h, target), 1)


def _cbow_step_workloads(corpus: np.ndarray) -> dict[str, dict[str, Callable[[], object]]]:
    """One CBOW step per call, batches taken in turn: the book's, the book's
    model on zk_layers.book2, and zk.CBOW."""
    from .. import optimizers
    from ..book2 import layers as book2_layers
    from ..book2 import negative_sampling_layer as book2_nsl
    from ..book2 import optimizer as book2_optimizer
    from ..book2 import trainer as book2_trainer
    from ..word2vec import CBOW

    offsets = np.concatenate([np.arange(-W2V_WINDOW, 0), np.arange(1, W2V_WINDOW + 1)])
    centre = np.arange(W2V_WINDOW, min(corpus.size, 200_000) - W2V_WINDOW)
    contexts, target = corpus[centre[:, None] + offsets], corpus[centre]
    vocab = int(corpus.max()) + 1
    np.random.seed(0)  # noqa: NPY002 (the book's draws)
    book_model = baseline2.CBOW(vocab, W2V_HIDDEN, W2V_WINDOW, corpus)
    np.random.seed(0)  # noqa: NPY002
    ours_model = baseline2.CBOW(vocab, W2V_HIDDEN, W2V_WINDOW, corpus, book2_layers.Embedding,
                                book2_nsl.NegativeSamplingLoss)
    np.random.seed(0)  # noqa: NPY002
    package = CBOW(vocab, W2V_HIDDEN, W2V_WINDOW, corpus)
    book_adam, ours_adam, package_adam = baseline2.Adam(), book2_optimizer.Adam(), optimizers.Adam()
    batches = contexts.shape[0] // 100
    state = {"book": 0, "fast": 0, "package": 0}

    def batch(side: str) -> tuple[np.ndarray, np.ndarray]:
        k = state[side] % batches
        state[side] += 1
        return contexts[k * 100:(k + 1) * 100], target[k * 100:(k + 1) * 100]

    def book() -> object:
        return baseline2.cbow_step(book_model, book_adam, *batch("book"))

    def fast() -> object:
        return baseline2.cbow_step(ours_model, ours_adam, *batch("fast"), remove=book2_trainer.remove_duplicate)

    def own() -> object:
        loss = package.forward(*batch("package"))
        package.backward()
        package_adam.update(package.params, package.grads)
        return loss

    return {CBOW_BOOK_NET_MODE: {"fast": fast, "book": book}, CBOW_PACKAGE_MODE: {"fast": own, "book": book}}
