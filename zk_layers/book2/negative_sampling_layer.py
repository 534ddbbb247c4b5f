"""The book's ``ch04/negative_sampling_layer.py``: EmbeddingDot, UnigramSampler
and NegativeSamplingLoss, for CBOW and skip-gram with negative sampling.

The book keeps these in its chapter folder, not in ``common/``;
``zk-layers book run`` serves this module for ``ch04.negative_sampling_layer``.

``UnigramSampler.get_negative_sample`` draws what the book's draws, from the
same generator (NumPy's global ``np.random``), in the same order: per row
the book calls ``np.random.choice(V, size, replace=False, p=p)`` with
``p = word_p.copy(); p[target] = 0; p /= p.sum()``.  The compiled sampler
builds the same ``p`` and the same cumulative sums, bit for bit, and draws
the same uniform numbers from the generator, so a seeded script picks the
same words.  The book's per-row code runs instead when the sampler's
attributes are outside what the compiled path takes (then NumPy raises
its own errors for an impossible draw).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _embedding
from .layers import Embedding, SigmoidWithLoss

__all__ = ["EmbeddingDot", "UnigramSampler", "NegativeSamplingLoss"]

# Rows of cumulative sums built at once by the sampler (a few MB of scratch
# for the book's 10,000 words), then drawn from in order.
_SCRATCH_BYTES = 2 << 20


class EmbeddingDot:
    """The book's EmbeddingDot: ``forward(h, idx)`` is the dot product of
    each row of ``h`` with the row of W of its word; ``params``/``grads``
    are the inner Embedding's lists."""

    def __init__(self, W: Any) -> None:
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache: Any = None

    def forward(self, h: Any, idx: Any) -> Any:
        target_W = self.embed.forward(idx)
        out = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return out

    def backward(self, dout: Any) -> Any:
        if self.cache is None:
            raise ValueError("EmbeddingDot.backward called before forward")
        h, target_W = self.cache
        dout = dout.reshape(dout.shape[0], 1)
        self.embed.backward(dout * h)
        return dout * target_W


class UnigramSampler:
    """The book's UnigramSampler: word ``i`` is drawn with probability
    proportional to ``count(i) ** power`` over the corpus, never the target
    itself, ``sample_size`` distinct words per row."""

    def __init__(self, corpus: Any, power: float, sample_size: int) -> None:
        ids = np.asarray(corpus)
        if ids.ndim != 1:
            raise ValueError(f"corpus must be a 1-D sequence of word ids, got shape {ids.shape}")
        if ids.size and ids.dtype.kind not in "iu":
            raise TypeError(f"corpus must hold integer word ids, got dtype {ids.dtype}")
        self.sample_size = sample_size
        # As the book's collections.Counter: the number of distinct ids is the
        # vocabulary, and word i's weight is the count of id i.
        vocab_size = int(np.unique(ids).size)
        self.vocab_size = vocab_size
        inside = ids[(ids >= 0) & (ids < vocab_size)].astype(np.intp)
        word_p = np.bincount(inside, minlength=vocab_size).astype(np.float64)
        word_p = np.power(word_p, power)
        word_p /= np.sum(word_p)
        self.word_p = word_p
        self._scratch: np.ndarray | None = None

    def get_negative_sample(self, target: Any) -> np.ndarray:
        target = np.asarray(target)
        if target.ndim != 1:
            raise ValueError(f"target must be 1-D (one word id per row), got shape {target.shape}")
        if target.size and target.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer word ids, got dtype {target.dtype}")
        batch_size = target.shape[0]
        word_p = self.word_p
        size = self.sample_size
        ready = self._ready(word_p, target, size)
        out = np.zeros((batch_size, size if ready else 0), dtype=np.int32)
        if ready:
            ids = target.astype(np.intp)
            ids[ids < 0] += word_p.shape[0]
            scratch = self._cdf_scratch(word_p.shape[0])
            generator = np.random.mtrand._rand._bit_generator  # what np.random.choice draws from
            with generator.lock:
                done = _embedding.unigram_negative_samples(word_p, ids, size, out, scratch, generator)
            if done:
                return out
        # The book's lines, row by row.
        negative_sample = np.zeros((batch_size, size), dtype=np.int32)
        for i in range(batch_size):
            p = word_p.copy()
            p[target[i]] = 0
            p /= p.sum()
            negative_sample[i, :] = np.random.choice(self.vocab_size, size=size, replace=False, p=p)
        return negative_sample

    def _ready(self, word_p: Any, target: np.ndarray, size: Any) -> bool:
        """Whether the compiled sampler draws what the book's would: word_p a
        finite, non-negative float64 vector of vocab_size entries, the targets
        inside it, and enough positive weights besides each target."""
        if not (isinstance(word_p, np.ndarray) and word_p.dtype == np.float64 and word_p.ndim == 1
                and isinstance(size, (int, np.integer)) and not isinstance(size, bool)):
            return False
        v = word_p.shape[0]
        if v == 0 or v != self.vocab_size or not 0 <= size <= v:
            return False
        if not (np.isfinite(word_p.sum()) and word_p.min() >= 0):
            return False
        if target.size and (target.min() < -v or target.max() >= v):
            return False
        positive = word_p > 0
        return bool(int(positive.sum()) - (int(positive[target].max()) if target.size else 0)
                    >= max(int(size), 1))

    def _cdf_scratch(self, v: int) -> np.ndarray:
        rows = max(2, _SCRATCH_BYTES // (8 * v))
        if self._scratch is None or self._scratch.shape[1] != v:
            self._scratch = np.empty((rows, v))
        return self._scratch


class NegativeSamplingLoss:
    """The book's NegativeSamplingLoss: one positive and ``sample_size``
    negative EmbeddingDot + SigmoidWithLoss pairs over one W."""

    def __init__(self, W: Any, corpus: Any, power: float = 0.75, sample_size: int = 5) -> None:
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params: list[Any] = []
        self.grads: list[Any] = []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h: Any, target: Any) -> Any:
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
        for loss_layer, embed_dot in zip(self.loss_layers, self.embed_dot_layers, strict=True):
            dh += embed_dot.backward(loss_layer.backward(dout))
        return dh
