"""The book's ``common/trainer.py``: ``Trainer``, minibatch training with
the book's arguments, random draws and printing.

Each step draws its minibatch with ``np.random.choice(train_size,
batch_size)`` (with replacement, as the book does), computes
``network.gradient``, lets the optimizer update ``network.params`` in place,
and records and prints the loss; at the start of every epoch it evaluates
the accuracy on the training and test data (or their first
``evaluate_sample_num_per_epoch`` samples).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..optimizers import OPTIMIZERS
from .optimizer import *  # noqa: F403 (the book's module namespace)

__all__ = ["Trainer"]


class Trainer:
    """Train ``network`` on (x_train, t_train), evaluating on (x_test, t_test).

    Parameters
    ----------
    network : a net with ``params``, ``gradient``, ``loss`` and ``accuracy``
    x_train, t_train, x_test, t_test : arrays
    epochs : int, default 20
    mini_batch_size : int, default 100
    optimizer : str, default "SGD"
        One of SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam (any case).
    optimizer_param : dict, default {"lr": 0.01}
        Keyword arguments of the optimizer.
    evaluate_sample_num_per_epoch : int or None
        Evaluate on the first this many samples only (None: all).
    verbose : bool, default True
        Print the loss of every step and the accuracies of every epoch.

    Attributes ``train_loss_list``, ``train_acc_list``, ``test_acc_list``,
    ``current_iter``, ``current_epoch``, ``max_iter``, ``iter_per_epoch``
    are the book's.
    """

    def __init__(self, network: Any, x_train: Any, t_train: Any, x_test: Any, t_test: Any,
                 epochs: int = 20, mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: dict[str, Any] | None = None,
                 evaluate_sample_num_per_epoch: int | None = None, verbose: bool = True) -> None:
        self.network = network
        self.verbose = verbose
        self.x_train = x_train
        self.t_train = t_train
        self.x_test = x_test
        self.t_test = t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        if optimizer_param is None:
            optimizer_param = {"lr": 0.01}
        try:
            optimizer_class = OPTIMIZERS[optimizer.lower()]
        except (KeyError, AttributeError):
            raise ValueError(f"optimizer must be one of SGD, Momentum, Nesterov, AdaGrad, RMSprop, "
                             f"Adam, got {optimizer!r}") from None
        self.optimizer = optimizer_class(**optimizer_param)

        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0

        self.train_loss_list: list[Any] = []
        self.train_acc_list: list[Any] = []
        self.test_acc_list: list[Any] = []

    def train_step(self) -> None:
        """One minibatch step (and, at the start of an epoch, the evaluation)."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)  # noqa: NPY002 (the book's draw)
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)

        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))

        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            x_train_sample, t_train_sample = self.x_train, self.t_train
            x_test_sample, t_test_sample = self.x_test, self.t_test
            if self.evaluate_sample_num_per_epoch is not None:
                t = self.evaluate_sample_num_per_epoch
                x_train_sample, t_train_sample = self.x_train[:t], self.t_train[:t]
                x_test_sample, t_test_sample = self.x_test[:t], self.t_test[:t]
            train_acc = self.network.accuracy(x_train_sample, t_train_sample)
            test_acc = self.network.accuracy(x_test_sample, t_test_sample)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc)
                      + ", test acc:" + str(test_acc) + " ===")
        self.current_iter += 1

    def train(self) -> None:
        """``max_iter`` steps, then the final test accuracy."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
