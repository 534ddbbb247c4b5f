"""Training loops: TwoLayerNet (chapter 5), SimpleConvNet (chapter 7) and DeepConvNet (chapter 8).

``train`` follows the book's ``train_neuralnet.py``: every iteration draws
a random minibatch (with replacement, ``rng.choice``), computes the
gradient by backprop and updates the parameters; the loss of every
minibatch is recorded, and the accuracy on the whole training and test
sets once per epoch.  Everything random comes from one seed, so a run is
reproducible, and the fast and reference backends follow the same path.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._threads import limit_threads
from ._validate import positive_int
from .nets import TwoLayerNet
from .optimizers import Optimizer, make_optimizer

__all__ = ["train", "train_convnet", "train_deepconvnet", "TrainResult", "load_dataset", "load_image_dataset"]

Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# By optimizer name: the book's 0.1 for SGD (ch05/train_neuralnet.py) and
# Momentum; the book's class defaults for the others (ch06's comparisons).
DEFAULT_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.01, "adagrad": 0.01,
                          "rmsprop": 0.01, "adam": 0.001}


def default_iterations(data: Any) -> int:
    """The book's 10,000 iterations; 3,000 on the small embedded digits."""
    return 3000 if isinstance(data, str) and data == "digits" else 10_000


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    network : TwoLayerNet, SimpleConvNet or DeepConvNet
        The trained net (its ``params`` are the learned weights).
    losses : ndarray of shape (iterations,)
        Minibatch loss of every iteration (computed before its update).
    initial_loss : float
        The first minibatch's loss before any update (NaN for no iteration).
    epochs : list of int
        Iteration numbers at which the accuracies were measured (the
        start of each epoch, and the end of training).
    train_accuracy, test_accuracy : list of float
        Accuracy on the whole training / test set at those iterations.
    seconds : float
        Wall time of the training loop (accuracy evaluations excluded).
    settings : dict
        The arguments of the run.
    """

    network: Any
    losses: np.ndarray
    initial_loss: float = float("nan")
    epochs: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(1, len(self.losses))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the network)."""
        return {
            "settings": self.settings,
            "losses": [float(v) for v in self.losses],
            "initial_loss": self.initial_loss,
            "epochs": list(self.epochs),
            "train_accuracy": list(self.train_accuracy),
            "test_accuracy": list(self.test_accuracy),
            "seconds": self.seconds,
            "seconds_per_iteration": self.seconds_per_iteration,
        }


def _run_length(train_size: int, batch_size: Any, iterations: Any, epochs: Any, *,
                default_iterations: int | None = None, default_epochs: int = 1) -> tuple[int, int]:
    """(iterations, iterations per epoch) from the caller's choice, checked;
    without one, ``default_iterations`` or else ``default_epochs`` epochs."""
    if iterations is not None and epochs is not None:
        raise ValueError("give iterations or epochs, not both")
    for name, value in (("batch_size", batch_size), ("iterations", iterations), ("epochs", epochs)):
        if value is not None:
            positive_int(value, name)
    iter_per_epoch = max(1, math.ceil(train_size / batch_size))
    if iterations is None:
        if epochs is None and default_iterations is not None:
            iterations = default_iterations
        else:
            iterations = (epochs if epochs is not None else default_epochs) * iter_per_epoch
    return int(iterations), iter_per_epoch


def _check_threads(threads: Any) -> None:
    if threads is not None:
        positive_int(threads, "threads")


def _make_optimizer(optimizer: Any, learning_rate: float | None) -> Any:
    """An optimizer object from a name (with the name's default rate) or as given."""
    if isinstance(optimizer, str):
        if learning_rate is None:
            learning_rate = DEFAULT_LEARNING_RATES.get(optimizer.lower())
        return make_optimizer(optimizer, learning_rate)
    return optimizer


def load_dataset(name: str = "digits", data_dir: Any = None, dtype: Any = np.float64) -> Dataset:
    """((x_train, t_train), (x_test, t_test)) of "digits" (embedded) or "mnist" (local files)."""
    from .datasets import load_digits, load_mnist

    if name == "digits":
        return load_digits(normalize=True, flatten=True, dtype=dtype)
    if name == "mnist":
        return load_mnist(data_dir, normalize=True, flatten=True, dtype=dtype)
    raise ValueError(f"data must be 'digits' or 'mnist', got {name!r}")


def train(
    data: str | Dataset = "digits",
    *,
    hidden_size: int = 50,
    iterations: int | None = None,
    epochs: int | None = None,
    batch_size: int = 100,
    learning_rate: float | None = None,
    optimizer: str | Optimizer = "sgd",
    weight_init_std: float = 0.01,
    eps: float = 1e-7,
    seed: int | None = 0,
    backend: str = "fast",
    dtype: Any = np.float64,
    threads: int | None = None,
    data_dir: Any = None,
    callback: Callable[[int, float], None] | None = None,
    epoch_callback: Callable[[int, float, float], None] | None = None,
) -> TrainResult:
    """Train the book's TwoLayerNet and record its progress.

    Parameters
    ----------
    data : "digits", "mnist" or ((x_train, t_train), (x_test, t_test))
        "digits" is the embedded 8x8 set; "mnist" reads the IDX files from
        ``data_dir`` or ``ZK_LAYERS_MNIST_DIR``.  Labels are class indices.
    hidden_size : int, default 50
    iterations, epochs : int, optional
        Length of the run; give at most one.  An epoch is
        ``ceil(train_size / batch_size)`` iterations (the book's
        ``train_size / batch_size``, rounded up so that it is whole).
        Default: the book's 10,000 iterations, or 3,000 on the small
        embedded digits (where that is over 200 epochs).
    batch_size : int, default 100
    learning_rate : float, optional
        Default: the book's 0.1 for SGD and Momentum, 0.001 for Adam, its
        class defaults of 0.01 for Nesterov, AdaGrad and RMSprop
        (``DEFAULT_LEARNING_RATES``).
    optimizer : str or optimizer object, default "sgd"
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam" (the
        book's six, with their default arguments and the rate above), or
        an object with the book's ``update(params, grads)``.
    weight_init_std : float, default 0.01
    eps : float, default 1e-7
        The loss layer's eps (see SoftmaxWithLoss).
    seed : int or None, default 0
        Seeds the initial weights and the minibatch draws.
    backend : "fast" or "reference"
    dtype : float32 or float64
    threads : int, optional
        Thread limit for the kernels during the run.
    callback : callable, optional
        Called as ``callback(0, loss)`` once with the first minibatch's
        loss before any update, then as ``callback(iteration, loss)`` after
        every iteration (progress bars).
    epoch_callback : callable, optional
        Called as ``epoch_callback(iteration, train_accuracy,
        test_accuracy)`` each time the accuracies are measured.

    Returns
    -------
    TrainResult
    """
    _check_threads(threads)
    ((x_train, t_train), (x_test, t_test)), n_classes = _labelled_sets(
        load_dataset(data, data_dir, dtype) if isinstance(data, str) else data, "(N, D)")
    n_iterations, iter_per_epoch = _run_length(x_train.shape[0], batch_size, iterations, epochs,
                                               default_iterations=default_iterations(data))
    opt = _make_optimizer(optimizer, learning_rate)
    train_size = x_train.shape[0]
    rng = np.random.default_rng(seed)
    network = TwoLayerNet(x_train.shape[1], hidden_size, n_classes, weight_init_std,
                          dtype=dtype, backend=backend, seed=rng, eps=eps)
    result = TrainResult(network=network, losses=np.empty(n_iterations), settings={
        "model": "TwoLayerNet",
        "data": data if isinstance(data, str) else "arrays", "hidden_size": hidden_size,
        "iterations": n_iterations, "batch_size": batch_size, "iter_per_epoch": iter_per_epoch,
        "learning_rate": getattr(opt, "lr", learning_rate), "optimizer": type(opt).__name__,
        "weight_init_std": weight_init_std, "seed": seed, "backend": backend,
        "dtype": np.dtype(dtype).name, "threads": threads, "train_size": train_size,
        "test_size": x_test.shape[0],
    })
    _training_loop(result, network.lastLayer, opt, (x_train, t_train), (x_test, t_test), rng,
                   threads, callback, epoch_callback)
    return result


def _training_loop(result: TrainResult, last_layer: Any, opt: Any, train_set: tuple[np.ndarray, np.ndarray],
                   test_set: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, threads: int | None,
                   callback: Callable[[int, float], None] | None,
                   epoch_callback: Callable[[int, float, float], None] | None,
                   eval_samples: int | None = None) -> None:
    """The book's loop, shared by both models: a random minibatch (with
    replacement), gradient, update; accuracies at the start of each epoch
    (on the first ``eval_samples`` images of each set, if given, as the
    book's Trainer does) and at the end (on the whole sets), outside the
    timed part."""
    network = result.network
    (x_train, t_train), (x_test, t_test) = train_set, test_set
    n_iterations = result.settings["iterations"]
    iter_per_epoch = result.settings["iter_per_epoch"]
    batch_size = result.settings["batch_size"]
    train_size = x_train.shape[0]

    def record(iteration: int) -> None:
        n = None if iteration == n_iterations else eval_samples
        result.epochs.append(iteration)
        result.train_accuracy.append(network.accuracy(x_train[:n], t_train[:n]))
        result.test_accuracy.append(network.accuracy(x_test[:n], t_test[:n]))
        if epoch_callback is not None:
            epoch_callback(iteration, result.train_accuracy[-1], result.test_accuracy[-1])

    with limit_threads(threads) if threads is not None else contextlib.nullcontext():
        elapsed = 0.0
        for i in range(n_iterations):
            start = time.perf_counter()
            batch = rng.choice(train_size, batch_size)
            x_batch, t_batch = x_train[batch], t_train[batch]
            drawn = time.perf_counter()
            if i == 0:  # the first minibatch's loss before any update (untimed)
                result.initial_loss = float(network.loss(x_batch, t_batch))
                if callback is not None:
                    callback(0, result.initial_loss)
            if i % iter_per_epoch == 0:
                record(i)
            resumed = time.perf_counter()
            grads = network.gradient(x_batch, t_batch)
            opt.update(network.params, grads)
            elapsed += (drawn - start) + (time.perf_counter() - resumed)
            result.losses[i] = last_layer.loss
            if callback is not None:
                callback(i + 1, float(result.losses[i]))
        record(n_iterations)
    result.seconds = elapsed


# ------------------------------------------------------------------ chapter 7
# The book's ch07/train_convnet.py: conv 30 filters 5x5 on 28x28 MNIST, Adam
# lr 0.001, batch 100, 20 epochs.  The embedded digits are 8x8: a 5x5 filter
# without padding leaves 4x4 maps, pooled to 2x2, too little for the net to
# learn much; 3x3 filters with pad 1 keep 8x8 maps (every pixel, the edge
# included, is the centre of a patch), pooled to 4x4.
BOOK_CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
DIGITS_CONV_PARAM = {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1}
# The book's 20 epochs; 40 on the digits, whose epochs are 15 steps (1,438
# images), which need about twice the book's epochs to come near the book's
# accuracy (docs/performance.md).
CONVNET_EPOCHS = {"mnist": 20, "digits": 40}


def default_convnet_epochs(data: Any) -> int:
    """Epochs of a SimpleConvNet run: 40 on the embedded digits, else the book's 20."""
    return CONVNET_EPOCHS["digits"] if isinstance(data, str) and data == "digits" else CONVNET_EPOCHS["mnist"]


def default_conv_param(image_shape: tuple[int, ...]) -> dict[str, int]:
    """The book's conv_param for 28x28 images, filter 3 / pad 1 otherwise.

    ``image_shape`` is (C, H, W).  Filter 3 with pad 1 keeps the map size,
    so it fits every even height and width (the 2x2 pooling halves them).
    """
    return dict(BOOK_CONV_PARAM if tuple(image_shape[1:]) == (28, 28) else DIGITS_CONV_PARAM)


def load_image_dataset(name: str = "digits", data_dir: Any = None) -> Dataset:
    """((x_train, t_train), (x_test, t_test)) as N-C-H-W float32 images in
    [0, 1] (the book's ``load_mnist(flatten=False)``), labels as class
    indices: "digits" (embedded, 1x8x8) or "mnist" (local files, 1x28x28)."""
    from .datasets import load_digits, load_mnist

    if name == "digits":
        return load_digits(normalize=True, flatten=False, dtype=np.float32)
    if name == "mnist":
        return load_mnist(data_dir, normalize=True, flatten=False, dtype=np.float32)
    raise ValueError(f"data must be 'digits' or 'mnist', got {name!r}")


def _labelled_sets(data: Any, layout: str) -> tuple[Dataset, int]:
    """((x_train, t_train), (x_test, t_test)) checked, and the number of
    classes (the largest label + 1, as the book's loaders imply).  Labels are
    class indices: one non-negative integer per sample, in a 1-D array.
    ``layout``: the samples' shape, "(N, D)" or "(N, C, H, W)"."""
    try:
        (x_train, t_train), (x_test, t_test) = data
    except (TypeError, ValueError):
        raise TypeError("data must be 'digits', 'mnist' or ((x_train, t_train), (x_test, t_test)), "
                        f"got {type(data).__name__}") from None
    sets = []
    for split, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        x, t = np.asarray(x), np.asarray(t)
        if x.ndim != layout.count(",") + 1:
            what = "images" if layout.count(",") == 3 else "samples"
            raise ValueError(f"x_{split} must be {what} of shape {layout}, got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"x_{split} must hold at least one sample (N >= 1 rows), got shape {x.shape}")
        if t.ndim != 1 or t.dtype.kind not in "iu":
            raise TypeError(f"t_{split} must be a 1-D array of integer class indices, "
                            f"got {t.dtype} of shape {t.shape}")
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"t_{split} must hold one label per sample of x_{split}: "
                             f"{x.shape[0]} samples, got {t.shape[0]} labels")
        if t.min() < 0:
            raise ValueError(f"t_{split} must be non-negative class indices, got {t.min()}")
        sets.append((x, t))
    if sets[0][0].shape[1:] != sets[1][0].shape[1:]:
        raise ValueError(f"training and test samples differ in shape: {sets[0][0].shape[1:]} "
                         f"and {sets[1][0].shape[1:]}")
    n_classes = int(max(sets[0][1].max(), sets[1][1].max())) + 1
    return (sets[0], sets[1]), n_classes


def _image_sets(data: str | Dataset, data_dir: Any) -> tuple[Dataset, tuple[int, ...], int]:
    """The training and test sets of images (N, C, H, W), checked, their
    (C, H, W) and the number of classes."""
    sets, n_classes = _labelled_sets(load_image_dataset(data, data_dir) if isinstance(data, str) else data,
                                     "(N, C, H, W)")
    return sets, tuple(int(n) for n in sets[0][0].shape[1:]), n_classes


def train_convnet(
    data: str | Dataset = "digits",
    *,
    conv_param: dict[str, int] | None = None,
    hidden_size: int = 100,
    iterations: int | None = None,
    epochs: int | None = None,
    batch_size: int = 100,
    learning_rate: float | None = None,
    optimizer: str | Optimizer = "adam",
    weight_init_std: float = 0.01,
    seed: int | None = 0,
    backend: str = "fast",
    dtype: Any = np.float64,
    threads: int | None = None,
    data_dir: Any = None,
    callback: Callable[[int, float], None] | None = None,
    epoch_callback: Callable[[int, float, float], None] | None = None,
    eval_samples: int | None = None,
) -> TrainResult:
    """Train the book's SimpleConvNet (chapter 7) as ``ch07/train_convnet.py`` does.

    conv - relu - 2x2 max-pool - affine - relu - affine - softmax, Adam with
    lr 0.001, batch 100, 20 epochs by default; the loop is :func:`train`'s
    (random minibatches with replacement, accuracies on the whole training
    and test sets at the start of each epoch and at the end).

    Parameters
    ----------
    data : "digits", "mnist" or ((x_train, t_train), (x_test, t_test))
        Images are (N, C, H, W); the data sets load as float32 in [0, 1], as
        the book's loader gives them.  Labels are class indices.
    conv_param : dict, optional
        ``{'filter_num', 'filter_size', 'pad', 'stride'}``.  Default: the
        book's (30 filters 5x5, pad 0, stride 1) for 28x28 images such as
        MNIST; 30 filters 3x3, pad 1, stride 1 otherwise, as on the 8x8
        digits (8x8 maps, pooled to 4x4).
    hidden_size : int, default 100
    iterations, epochs : int, optional
        Give at most one.  Default: the book's 20 epochs; 40 on the
        embedded digits (1,438 images, 15 steps an epoch).
    batch_size : int, default 100
    learning_rate : float, optional
        Default: 0.001 for Adam (the book's), 0.1 for SGD and Momentum,
        0.01 for Nesterov, AdaGrad and RMSprop.
    optimizer : str or optimizer object, default "adam"
        The book's six by name, as for `train`, or an object with
        ``update(params, grads)``.
    weight_init_std : float, default 0.01
    seed : int or None, default 0
        The weights are drawn from ``np.random.RandomState(seed)`` in the
        book's order, so they are the book's weights after
        ``np.random.seed(seed)``; the minibatches from
        ``np.random.default_rng(seed)``.
    backend : "fast" or "reference"
    dtype : float32 or float64
        The weights' dtype; the images stay float32 (the book's case is
        float32 images with float64 weights).
    threads : int, optional
        Thread limit for the kernels during the run.
    callback : callable, optional
        ``callback(0, loss)`` with the first minibatch's loss before any
        update, then ``callback(iteration, loss)`` after every iteration.
    epoch_callback : callable, optional
        ``epoch_callback(iteration, train_accuracy, test_accuracy)`` each
        time the accuracies are measured.
    eval_samples : int, optional
        Measure the accuracies at the start of each epoch on the first
        ``eval_samples`` images of each set only (the book's Trainer uses
        1,000 on MNIST: a pass over all 70,000 images costs about as much as
        an epoch of training); the last measurement, at the end, always
        uses the whole sets.  Default: the whole sets every time.

    Returns
    -------
    TrainResult
        ``network`` is a :class:`zk_layers.SimpleConvNet`.
    """
    from .convnet import SimpleConvNet

    _check_threads(threads)
    ((x_train, t_train), (x_test, t_test)), input_dim, n_classes = _image_sets(data, data_dir)
    conv_param = default_conv_param(input_dim) if conv_param is None else conv_param
    n_iterations, iter_per_epoch = _run_length(x_train.shape[0], batch_size, iterations, epochs,
                                               default_epochs=default_convnet_epochs(data))
    if eval_samples is not None:
        positive_int(eval_samples, "eval_samples")
    opt = _make_optimizer(optimizer, learning_rate)
    weights = np.random.RandomState(seed)  # noqa: NPY002 - the book's draws, in its order
    network = SimpleConvNet(input_dim, conv_param, hidden_size, n_classes, weight_init_std,
                            backend=backend, dtype=dtype, rng=weights)
    result = TrainResult(network=network, losses=np.empty(n_iterations), settings={
        "model": "SimpleConvNet",
        "data": data if isinstance(data, str) else "arrays", "input_dim": list(input_dim),
        "conv_param": {key: int(value) for key, value in conv_param.items()}, "hidden_size": hidden_size,
        "iterations": n_iterations, "batch_size": batch_size, "iter_per_epoch": iter_per_epoch,
        "learning_rate": getattr(opt, "lr", learning_rate), "optimizer": type(opt).__name__,
        "weight_init_std": weight_init_std, "seed": seed, "backend": backend,
        "dtype": np.dtype(dtype).name, "threads": threads, "train_size": x_train.shape[0],
        "test_size": x_test.shape[0], "eval_samples": eval_samples,
    })
    _training_loop(result, network.last_layer, opt, (x_train, t_train), (x_test, t_test),
                   np.random.default_rng(seed), threads, callback, epoch_callback, eval_samples)
    return result


# ------------------------------------------------------------------ chapter 8
# The book's ch08/train_deepnet.py: Adam lr 0.001, batch 100, 20 epochs, the
# accuracies per epoch on 1,000 images of each set.  On the embedded digits
# (15 steps an epoch) 40 epochs, as for SimpleConvNet.
DEEPCONVNET_EPOCHS = {"mnist": 20, "digits": 40}


def default_deepconvnet_epochs(data: Any) -> int:
    """Epochs of a DeepConvNet run: 40 on the embedded digits, else the book's 20."""
    return DEEPCONVNET_EPOCHS["digits"] if isinstance(data, str) and data == "digits" else DEEPCONVNET_EPOCHS["mnist"]


def train_deepconvnet(
    data: str | Dataset = "digits",
    *,
    hidden_size: int = 50,
    iterations: int | None = None,
    epochs: int | None = None,
    batch_size: int = 100,
    learning_rate: float | None = None,
    optimizer: str | Optimizer = "adam",
    seed: int | None = 0,
    backend: str = "fast",
    dtype: Any = np.float64,
    threads: int | None = None,
    data_dir: Any = None,
    callback: Callable[[int, float], None] | None = None,
    epoch_callback: Callable[[int, float, float], None] | None = None,
    eval_samples: int | None = None,
) -> TrainResult:
    """Train the book's DeepConvNet (chapter 8) as ``ch08/train_deepnet.py`` does.

    Six 3x3 convolutions with Relu, three 2x2 max-pools, affine - relu -
    dropout - affine - dropout - softmax (:class:`zk_layers.DeepConvNet`,
    the book's filters); Adam with lr 0.001, batch 100, 20 epochs by
    default; :func:`train`'s loop, as for :func:`train_convnet`.

    Parameters
    ----------
    data : "digits", "mnist" or ((x_train, t_train), (x_test, t_test))
        Images (N, C, H, W), float32 in [0, 1] as loaded; labels as class
        indices.  The net's pooled maps fit any size from 8x8 up (the
        digits' three pooled maps are 4x4, 3x3 and 1x1).
    hidden_size : int, default 50
    iterations, epochs : int, optional
        Give at most one.  Default: the book's 20 epochs; 40 on the digits.
    batch_size : int, default 100
    learning_rate : float, optional
        Default: 0.001 for Adam (the book's), as :func:`train_convnet`'s.
    optimizer : str or optimizer object, default "adam"
    seed : int or None, default 0
        ``np.random.RandomState(seed)`` draws the weights (the book's after
        ``np.random.seed(seed)``) and the Dropout masks;
        ``np.random.default_rng(seed)`` the minibatches.
    backend : "fast" or "reference"
    dtype : float32 or float64
        The weights' dtype.  float32 computes in float32 throughout (the
        net converts images of another dtype); float64 is the book's
        (float64 weights).
    threads, callback, epoch_callback, eval_samples
        As for :func:`train_convnet`.

    Returns
    -------
    TrainResult
        ``network`` is a :class:`zk_layers.DeepConvNet`.
    """
    from .deepconvnet import DeepConvNet

    _check_threads(threads)
    ((x_train, t_train), (x_test, t_test)), input_dim, n_classes = _image_sets(data, data_dir)
    n_iterations, iter_per_epoch = _run_length(x_train.shape[0], batch_size, iterations, epochs,
                                               default_epochs=default_deepconvnet_epochs(data))
    if eval_samples is not None:
        positive_int(eval_samples, "eval_samples")
    opt = _make_optimizer(optimizer, learning_rate)
    draws = np.random.RandomState(seed)  # noqa: NPY002 - the book's draws, in its order
    network = DeepConvNet(input_dim, hidden_size=hidden_size, output_size=n_classes, backend=backend,
                          dtype=dtype, rng=draws)
    result = TrainResult(network=network, losses=np.empty(n_iterations), settings={
        "model": "DeepConvNet",
        "data": data if isinstance(data, str) else "arrays", "input_dim": list(input_dim),
        "hidden_size": hidden_size, "iterations": n_iterations, "batch_size": batch_size,
        "iter_per_epoch": iter_per_epoch, "learning_rate": getattr(opt, "lr", learning_rate),
        "optimizer": type(opt).__name__, "seed": seed, "backend": backend, "dtype": np.dtype(dtype).name,
        "threads": threads, "train_size": x_train.shape[0], "test_size": x_test.shape[0],
        "eval_samples": eval_samples,
    })
    _training_loop(result, network.last_layer, opt, (x_train, t_train), (x_test, t_test),
                   np.random.default_rng(seed), threads, callback, epoch_callback, eval_samples)
    return result
