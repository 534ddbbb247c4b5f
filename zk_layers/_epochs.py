"""The training loop the second volume's models share in our own API
(:mod:`zk_layers.rnnlm`, :mod:`zk_layers.seq2seq`): the book's step --
``forward``, ``backward``, ``clip_grads``, ``update`` -- over each epoch's
batches, with a step limit and a callback."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .book2.util import clip_grads


def run_epochs(model: Any, optimizer: Any, epoch_batches: Callable[[int], Iterable[tuple[Any, Any]]],
               max_epoch: int, max_grad: float | None, max_steps: int | None,
               callback: Callable[[int, int, float], None] | None,
               end_of_epoch: Callable[[int, float], None]) -> int:
    """Train ``model`` on ``epoch_batches(epoch)`` for each epoch; after every
    epoch with a step, ``end_of_epoch(epoch, mean loss)``.  Returns the steps."""
    step = 0
    for epoch in range(max_epoch):
        total, count = 0.0, 0
        for x, t in epoch_batches(epoch):
            if max_steps is not None and step >= max_steps:
                break
            loss = model.forward(x, t)
            model.backward()
            if max_grad is not None:
                clip_grads(model.grads, max_grad)
            optimizer.update(model.params, model.grads)
            total += loss
            count += 1
            step += 1
            if callback is not None:
                callback(epoch, step, loss)
        if count:
            end_of_epoch(epoch, total / count)
        if max_steps is not None and step >= max_steps:
            break
    return step
