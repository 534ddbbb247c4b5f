"""Training loop of chapter 5: minibatch SGD (or Momentum/Adam) on a net.

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
from .optimizers import SGD, Adam, Momentum, make_optimizer

__all__ = ["train", "TrainResult", "load_dataset"]

Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# The book's rate for SGD (chapter 5) and Momentum; Adam's usual one.
DEFAULT_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.1, "adam": 0.001}


def default_iterations(data: Any) -> int:
    """The book's 10,000 iterations; 3,000 on the small embedded digits."""
    return 3000 if isinstance(data, str) and data == "digits" else 10_000


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    network : TwoLayerNet
        The trained net (its ``params`` are the learned weights).
    losses : ndarray of shape (iterations,)
        Minibatch loss of every iteration.
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
            "epochs": list(self.epochs),
            "train_accuracy": list(self.train_accuracy),
            "test_accuracy": list(self.test_accuracy),
            "seconds": self.seconds,
            "seconds_per_iteration": self.seconds_per_iteration,
        }


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
    optimizer: str | SGD | Momentum | Adam = "sgd",
    weight_init_std: float = 0.01,
    eps: float = 1e-7,
    seed: int | None = 0,
    backend: str = "fast",
    dtype: Any = np.float64,
    threads: int | None = None,
    data_dir: Any = None,
    callback: Callable[[int, float], None] | None = None,
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
        Default: the book's 0.1 for SGD and Momentum, 0.001 for Adam.
    optimizer : "sgd", "momentum", "adam" or an optimizer object
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
        Called as ``callback(iteration, loss)`` after every iteration
        (progress bars).

    Returns
    -------
    TrainResult
    """
    (x_train, t_train), (x_test, t_test) = load_dataset(data, data_dir, dtype) if isinstance(data, str) else data
    if iterations is not None and epochs is not None:
        raise ValueError("give iterations or epochs, not both")
    for name, value in (("batch_size", batch_size), ("iterations", iterations), ("epochs", epochs)):
        if value is not None:
            positive_int(value, name)
    train_size = x_train.shape[0]
    iter_per_epoch = max(1, math.ceil(train_size / batch_size))
    if iterations is None:
        iterations = epochs * iter_per_epoch if epochs is not None else default_iterations(data)
    n_iterations = int(iterations)
    if isinstance(optimizer, str):
        if learning_rate is None:
            learning_rate = DEFAULT_LEARNING_RATES.get(optimizer.lower())
        opt = make_optimizer(optimizer, learning_rate)
    else:
        opt = optimizer
    n_classes = int(max(t_train.max(), t_test.max())) + 1
    rng = np.random.default_rng(seed)
    network = TwoLayerNet(x_train.shape[1], hidden_size, n_classes, weight_init_std,
                          dtype=dtype, backend=backend, seed=rng, eps=eps)
    result = TrainResult(network=network, losses=np.empty(n_iterations), settings={
        "data": data if isinstance(data, str) else "arrays", "hidden_size": hidden_size,
        "iterations": n_iterations, "batch_size": batch_size, "iter_per_epoch": iter_per_epoch,
        "learning_rate": getattr(opt, "lr", learning_rate), "optimizer": type(opt).__name__,
        "weight_init_std": weight_init_std, "seed": seed, "backend": backend,
        "dtype": np.dtype(dtype).name, "threads": threads, "train_size": train_size,
        "test_size": x_test.shape[0],
    })

    def record(iteration: int) -> None:
        result.epochs.append(iteration)
        result.train_accuracy.append(network.accuracy(x_train, t_train))
        result.test_accuracy.append(network.accuracy(x_test, t_test))

    with limit_threads(threads) if threads is not None else contextlib.nullcontext():
        elapsed = 0.0
        for i in range(n_iterations):
            if i % iter_per_epoch == 0:
                record(i)
            start = time.perf_counter()
            batch = rng.choice(train_size, batch_size)
            x_batch, t_batch = x_train[batch], t_train[batch]
            grads = network.gradient(x_batch, t_batch)
            opt.update(network.params, grads)
            elapsed += time.perf_counter() - start
            result.losses[i] = network.lastLayer.loss
            if callback is not None:
                callback(i + 1, float(result.losses[i]))
        record(n_iterations)
    result.seconds = elapsed
    return result
