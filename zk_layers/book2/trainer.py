"""The second volume's ``common/trainer.py``: Trainer, RnnlmTrainer and
remove_duplicate, with the book's arguments, prints, attributes and draws.

``remove_duplicate`` gives the book's answer with less work:

* the book rescans every pair after each merge; a merge changes no
  parameter, so the scan goes on from where it found the pair, with the
  same pairs found in the same order;
* a tied transpose (``TimeAffine(embed_W.T, b)``) that is a view of the same
  memory is recognised from its layout; it equals its parameter unless
  that holds a NaN (NaN != NaN), which one pass looks for.  Two arrays that
  do not share memory are compared by value, as the book compares them,
  starting with one element so that different arrays are told apart at
  once;
* the gradients are added as the book adds them, pair by pair; for two
  gradients of the second volume's Embedding, which are zero outside the
  rows they hold (:mod:`zk_layers.book2._rows`), only those rows are added
  (adding zeros to zeros changes no bit).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy
import numpy as np

from . import _rows
from .np import GPU  # noqa: F401 (the book's module namespace)
from .util import clip_grads

__all__ = ["Trainer", "RnnlmTrainer", "remove_duplicate", "np"]


def _step(model: Any, optimizer: Any, batch_x: Any, batch_t: Any, max_grad: float | None) -> Any:
    """One of the book's training steps: the loss of the batch, the model updated."""
    loss = model.forward(batch_x, batch_t)
    model.backward()
    params, grads = remove_duplicate(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)
    return loss


def _plot(values: list[float], eval_interval: int | None, ylim: Any, ylabel: str) -> None:
    """The book's training curve (matplotlib imported only here)."""
    import matplotlib.pyplot as plt

    if ylim is not None:
        plt.ylim(*ylim)
    plt.plot(numpy.arange(len(values)), values, label='train')
    plt.xlabel('iterations (x' + str(eval_interval) + ')')
    plt.ylabel(ylabel)
    plt.show()


class Trainer:
    """Minibatch training of a model with ``forward(x, t)``, ``backward()``,
    ``params`` and ``grads``: the book's loop, shuffles and prints."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_list: list[float] = []
        self.eval_interval: int | None = None
        self.current_epoch = 0

    def fit(self, x: Any, t: Any, max_epoch: int = 10, batch_size: int = 32, max_grad: float | None = None,
            eval_interval: int | None = 20) -> None:
        data_size = len(x)
        max_iters = data_size // batch_size
        self.eval_interval = eval_interval
        model, optimizer = self.model, self.optimizer
        total_loss: Any = 0
        loss_count = 0
        start_time = time.time()
        for _ in range(max_epoch):
            idx = numpy.random.permutation(numpy.arange(data_size))  # noqa: NPY002 (the book's draw)
            x = x[idx]
            t = t[idx]
            for iters in range(max_iters):
                batch_x = x[iters * batch_size:(iters + 1) * batch_size]
                batch_t = t[iters * batch_size:(iters + 1) * batch_size]
                total_loss += _step(model, optimizer, batch_x, batch_t, max_grad)
                loss_count += 1
                if eval_interval is not None and iters % eval_interval == 0:
                    avg_loss = total_loss / loss_count
                    elapsed_time = time.time() - start_time
                    print('| epoch %d |  iter %d / %d | time %d[s] | loss %.2f'
                          % (self.current_epoch + 1, iters + 1, max_iters, elapsed_time, avg_loss))
                    self.loss_list.append(float(avg_loss))
                    total_loss, loss_count = 0, 0
            self.current_epoch += 1

    def plot(self, ylim: Any = None) -> None:
        _plot(self.loss_list, self.eval_interval, ylim, 'loss')


class RnnlmTrainer:
    """Truncated-BPTT training of a language model: the book's batches
    (``batch_size`` streams at even offsets), prints and perplexities."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        self.time_idx: int | None = None
        self.ppl_list: list[float] | None = None
        self.eval_interval: int | None = None
        self.current_epoch = 0

    def get_batch(self, x: Any, t: Any, batch_size: int, time_size: int) -> tuple[np.ndarray, np.ndarray]:
        if self.time_idx is None:
            raise ValueError("RnnlmTrainer.get_batch needs time_idx: call fit, or set time_idx = 0")
        data_size = len(x)
        jump = data_size // batch_size
        offsets = np.arange(batch_size) * jump
        # The book fills element by element: row i, column k reads
        # position (offset_i + time_idx + k) % data_size.
        where = (offsets[:, None] + (self.time_idx + np.arange(time_size))[None, :]) % data_size
        batch_x = np.asarray(x)[where].astype('i')
        batch_t = np.asarray(t)[where].astype('i')
        self.time_idx += time_size
        return batch_x, batch_t

    def fit(self, xs: Any, ts: Any, max_epoch: int = 10, batch_size: int = 20, time_size: int = 35,
            max_grad: float | None = None, eval_interval: int | None = 20) -> None:
        data_size = len(xs)
        max_iters = data_size // (batch_size * time_size)
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        model, optimizer = self.model, self.optimizer
        total_loss: Any = 0
        loss_count = 0
        start_time = time.time()
        for _ in range(max_epoch):
            for iters in range(max_iters):
                batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
                total_loss += _step(model, optimizer, batch_x, batch_t, max_grad)
                loss_count += 1
                if eval_interval is not None and iters % eval_interval == 0:
                    ppl = np.exp(total_loss / loss_count)
                    elapsed_time = time.time() - start_time
                    print('| epoch %d |  iter %d / %d | time %d[s] | perplexity %.2f'
                          % (self.current_epoch + 1, iters + 1, max_iters, elapsed_time, ppl))
                    self.ppl_list.append(float(ppl))
                    total_loss, loss_count = 0, 0
            self.current_epoch += 1

    def plot(self, ylim: Any = None) -> None:
        _plot(self.ppl_list or [], self.eval_interval, ylim, 'perplexity')


def _is_transpose_view(a: Any, b: Any) -> bool:
    """``b`` is ``a.T`` laid over the same bytes (2-D, shapes and strides swapped)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape[::-1] == b.shape and a.strides[::-1] == b.strides and a.dtype == b.dtype)


def _equal_transposed(a: Any, b: Any) -> bool:
    """The book's ``np.all(a.T == b)`` for 2-D arrays of transposed shapes."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and _is_transpose_view(a, b):
        return a.size == 0 or not np.isnan(a.min()) if a.dtype.kind in "fc" else True
    if a.size and not a.flat[0] == b.flat[0]:  # a.T[0, 0] is a[0, 0]: differ at the first element
        return False
    return bool(np.all(a.T == b))


def _add(target: Any, source: Any) -> None:
    """``target += source``, as the book's line, on the rows that may be
    non-zero when both are tracked Embedding gradients."""
    rows, more = _rows.rows_of(target), _rows.rows_of(source)
    if (rows is not None and more is not None and target is not source and target.shape == source.shape
            and target.dtype == source.dtype and not np.may_share_memory(target, source)):
        no_negative_zero = _rows.clean(target) and _rows.clean(source)
        # Without a -0.0 in either, the target's other rows gain exact zeros;
        # otherwise they are added too (-0.0 + 0.0 is +0.0, as in the book).
        where = more if no_negative_zero else np.union1d(rows, more)
        with _rows.writing(target):
            target[where] += source[where]
        _rows.track(target, np.concatenate([rows, more]), no_negative_zero)
        return
    with _rows.writing(target):
        target += source
    _rows.forget(target)


def remove_duplicate(params: Sequence[Any], grads: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The parameters without repeats (the same array, or a 2-D array equal
    to another's transpose: weight tying), and their gradients, the repeats'
    gradients added into the first one's in place, as the book does."""
    params, grads = list(params), list(grads)
    if len(grads) != len(params):
        raise ValueError(f"grads must hold one gradient per parameter: {len(params)} parameters, "
                         f"got {len(grads)} gradients")
    i = 0
    while i < len(params) - 1:
        j = i + 1
        while j < len(params):
            a, b = params[i], params[j]
            if a is b:
                _add(grads[i], grads[j])
            elif a.ndim == 2 and b.ndim == 2 and a.T.shape == b.shape and _equal_transposed(a, b):
                _add(grads[i], grads[j].T)
            else:
                j += 1
                continue
            params.pop(j)
            grads.pop(j)
        i += 1
    return params, grads
