"""The benchmark's baseline for the second volume: its chapter-4 code in plain NumPy.

``zk-layers bench`` measures zk_layers against what a reader of the second
volume runs for word2vec: the ``Embedding`` and ``SigmoidWithLoss`` of its
``common/layers.py``, the ``EmbeddingDot``, ``UnigramSampler`` and
``NegativeSamplingLoss`` of ``ch04/negative_sampling_layer.py``, the
``CBOW`` of ``ch04/cbow.py``, its list ``Adam`` and ``remove_duplicate``.
Written for zk_layers in the book's style: the same NumPy calls in the same
order, so that it costs what the book costs, and nothing checked.  Like
:mod:`zk_layers.baseline` it imports nothing of zk_layers; it is for
timing, the tests compare against the book's own checkout.  (It takes the
first volume's ``cross_entropy_error`` from :mod:`zk_layers.baseline`: the
book's two volumes have the same function.)
"""
from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .baseline import cross_entropy_error  # the same in both volumes

__all__ = ["Embedding", "SigmoidWithLoss", "EmbeddingDot", "UnigramSampler", "NegativeSamplingLoss",
           "CBOW", "Adam", "remove_duplicate", "cbow_step"]


class Embedding:
    def __init__(self, W: np.ndarray) -> None:  # noqa: N803
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx: Any = None

    def forward(self, idx: Any) -> np.ndarray:
        W, = self.params
        self.idx = idx
        return W[idx]

    def backward(self, dout: np.ndarray) -> None:
        dW, = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)


class SigmoidWithLoss:
    def __init__(self) -> None:
        self.params: list[Any] = []
        self.grads: list[Any] = []
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> Any:
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        return cross_entropy_error(np.c_[1 - self.y, self.y], self.t)

    def backward(self, dout: Any = 1) -> Any:
        batch_size = self.t.shape[0]
        return (self.y - self.t) * dout / batch_size


class EmbeddingDot:
    def __init__(self, W: np.ndarray, embedding: type = Embedding) -> None:  # noqa: N803
        self.embed = embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache: Any = None

    def forward(self, h: np.ndarray, idx: Any) -> Any:
        target_W = self.embed.forward(idx)  # noqa: N806
        out = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return out

    def backward(self, dout: Any) -> Any:
        h, target_W = self.cache  # noqa: N806
        dout = dout.reshape(dout.shape[0], 1)
        self.embed.backward(dout * h)
        return dout * target_W


class UnigramSampler:
    def __init__(self, corpus: Any, power: float, sample_size: int) -> None:
        self.sample_size = sample_size
        counts: collections.Counter[Any] = collections.Counter()
        for word_id in corpus:
            counts[word_id] += 1
        self.vocab_size = len(counts)
        self.word_p = np.zeros(self.vocab_size)
        for i in range(self.vocab_size):
            self.word_p[i] = counts[i]
        self.word_p = np.power(self.word_p, power)
        self.word_p /= np.sum(self.word_p)

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        batch_size = target.shape[0]
        negative_sample = np.zeros((batch_size, self.sample_size), dtype=np.int32)
        for i in range(batch_size):
            p = self.word_p.copy()
            p[target[i]] = 0
            p /= p.sum()
            negative_sample[i, :] = np.random.choice(self.vocab_size, size=self.sample_size,  # noqa: NPY002
                                                     replace=False, p=p)
        return negative_sample


class NegativeSamplingLoss:
    def __init__(self, W: np.ndarray, corpus: Any, power: float = 0.75, sample_size: int = 5) -> None:  # noqa: N803
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params: list[Any] = []
        self.grads: list[Any] = []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h: np.ndarray, target: np.ndarray) -> Any:
        batch_size = target.shape[0]
        negative_sample = self.sampler.get_negative_sample(target)
        score = self.embed_dot_layers[0].forward(h, target)
        loss = self.loss_layers[0].forward(score, np.ones(batch_size, dtype=np.int32))
        negative_label = np.zeros(batch_size, dtype=np.int32)
        for i in range(self.sample_size):
            score = self.embed_dot_layers[1 + i].forward(h, negative_sample[:, i])
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout: Any = 1) -> Any:
        dh: Any = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers, strict=True):
            dh += l1.backward(l0.backward(dout))
        return dh


class CBOW:
    """The book's CBOW; ``layers`` gives Embedding and NegativeSamplingLoss
    (this module's, the book's; or zk_layers.book2's modules, to time the
    book's model on zk_layers' layers)."""

    def __init__(self, vocab_size: int, hidden_size: int, window_size: int, corpus: Any,
                 embedding: type = Embedding, loss: type = NegativeSamplingLoss) -> None:
        V, H = vocab_size, hidden_size  # noqa: N806
        W_in = 0.01 * np.random.randn(V, H).astype('f')  # noqa: N806, NPY002
        W_out = 0.01 * np.random.randn(V, H).astype('f')  # noqa: N806, NPY002
        self.in_layers = [embedding(W_in) for _ in range(2 * window_size)]
        self.ns_loss = loss(W_out, corpus, power=0.75, sample_size=5)
        self.params: list[Any] = []
        self.grads: list[Any] = []
        for layer in [*self.in_layers, self.ns_loss]:
            self.params += layer.params
            self.grads += layer.grads
        self.word_vecs = W_in

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> Any:
        h: Any = 0
        for i, layer in enumerate(self.in_layers):
            h += layer.forward(contexts[:, i])
        h *= 1 / len(self.in_layers)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: Any = 1) -> None:
        dout = self.ns_loss.backward(dout)
        dout *= 1 / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dout)


class Adam:
    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: Any = None
        self.v: Any = None

    def update(self, params: list[Any], grads: list[Any]) -> None:
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for i in range(len(params)):
            self.m[i] += (1 - self.beta1) * (grads[i] - self.m[i])
            self.v[i] += (1 - self.beta2) * (grads[i]**2 - self.v[i])
            params[i] -= lr_t * self.m[i] / (np.sqrt(self.v[i]) + 1e-7)


def remove_duplicate(params: list[Any], grads: list[Any]) -> tuple[list[Any], list[Any]]:
    params, grads = params[:], grads[:]
    while True:
        find_flg = False
        L = len(params)  # noqa: N806
        for i in range(0, L - 1):
            for j in range(i + 1, L):
                if params[i] is params[j]:
                    grads[i] += grads[j]
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                elif params[i].ndim == 2 and params[j].ndim == 2 and \
                        params[i].T.shape == params[j].shape and np.all(params[i].T == params[j]):
                    grads[i] += grads[j].T
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                if find_flg:
                    break
            if find_flg:
                break
        if not find_flg:
            break
    return params, grads


def cbow_step(model: Any, optimizer: Any, contexts: np.ndarray, target: np.ndarray,
              remove: Any = remove_duplicate) -> Any:
    """One step of the book's Trainer.fit: forward, backward, remove_duplicate, update."""
    loss = model.forward(contexts, target)
    model.backward()
    params, grads = remove(model.params, model.grads)
    optimizer.update(params, grads)
    return loss
