"""An LSTM language model on zk_layers' time layers: our own API behind
``zk-layers train --model rnnlm``.

:class:`Rnnlm` is the second volume's chapter-6 language model (embedding,
one LSTM, a softmax over the vocabulary) with the book's initial draws, so
a seeded model starts from the book's weights; :func:`train_rnnlm` trains it
as the book's ``RnnlmTrainer`` does (truncated BPTT over ``time_size``
steps, each batch row reading the corpus from its own offset, SGD with
gradient clipping), and :meth:`Rnnlm.generate` samples text as chapter 7's
``RnnlmGen`` does.  The layers are :mod:`zk_layers.book2.time_layers`', so
the model computes in float32.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ._epochs import run_epochs
from ._validate import positive_int, positive_number
from .book2.functions import softmax
from .book2.optimizer import SGD
from .book2.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = ["Rnnlm", "train_rnnlm"]


class Rnnlm:
    """Embedding -> LSTM (stateful) -> Affine -> softmax over the vocabulary.

    ``params`` and ``grads`` are lists (embedding W; LSTM Wx, Wh, b; affine
    W, b), float32, drawn from NumPy's global generator in the book's order.
    """

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 100, hidden_size: int = 100) -> None:
        V = positive_int(vocab_size, "vocab_size")  # noqa: N806 (the book's names)
        D = positive_int(wordvec_size, "wordvec_size")  # noqa: N806
        H = positive_int(hidden_size, "hidden_size")  # noqa: N806
        rn = np.random.randn  # noqa: NPY002 (the book's draws)
        embed_W = (rn(V, D) / 100).astype("f")  # noqa: N806
        lstm_Wx = (rn(D, 4 * H) / np.sqrt(D)).astype("f")  # noqa: N806
        lstm_Wh = (rn(H, 4 * H) / np.sqrt(H)).astype("f")  # noqa: N806
        lstm_b = np.zeros(4 * H).astype("f")
        affine_W = (rn(H, V) / np.sqrt(H)).astype("f")  # noqa: N806
        affine_b = np.zeros(V).astype("f")
        self.vocab_size = V
        self.layers: list[Any] = [TimeEmbedding(embed_W), TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True),
                                  TimeAffine(affine_W, affine_b)]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layer = self.layers[1]
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]

    def predict(self, xs: Any) -> np.ndarray:
        """Scores (N, T, V) for word ids xs (N, T)."""
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs: Any, ts: Any) -> float:
        """The mean cross-entropy of predicting ts (N, T) from xs (N, T)."""
        return float(self.loss_layer.forward(self.predict(xs), ts))

    def backward(self, dout: Any = 1) -> None:
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)

    def reset_state(self) -> None:
        self.lstm_layer.reset_state()

    def generate(self, start_id: int, skip_ids: Sequence[int] | None = None, sample_size: int = 100) -> list[int]:
        """``sample_size`` word ids from ``start_id`` on, each drawn from the
        softmax of the scores (``np.random.choice``, as chapter 7's
        ``RnnlmGen``), never one of ``skip_ids``.  The book draws again when
        it draws one of those, which never ends where the model is sure of
        a skipped word; here the draw is from the softmax without them,
        renormalised (the same distribution), or uniform over the other
        words when their probabilities all round to 0.  The LSTM's state is
        reset first, and left at the text's end."""
        start = int(start_id)
        if not 0 <= start < self.vocab_size:
            raise ValueError(f"start_id must be a word id in [0, {self.vocab_size}), got {start_id}")
        size = positive_int(sample_size, "sample_size")
        skip = set() if skip_ids is None else {int(i) for i in skip_ids}
        if any(not 0 <= i < self.vocab_size for i in skip):
            raise ValueError(f"skip_ids must be word ids in [0, {self.vocab_size})")
        if len(skip) >= self.vocab_size:
            raise ValueError("skip_ids leave no word to draw")
        self.reset_state()
        word_ids = [start]
        x = start
        skipped = np.array(sorted(skip), dtype=np.intp)
        while len(word_ids) < size:
            p = softmax(self.predict(np.array([[x]])).flatten()).astype(np.float64)
            p[skipped] = 0
            total = p.sum()
            if total > 0:
                p /= total
            else:
                p = np.ones_like(p)
                p[skipped] = 0
                p /= p.sum()
            x = int(np.random.choice(len(p), size=1, p=p)[0])  # noqa: NPY002 (the book's generator)
            word_ids.append(x)
        return word_ids


def train_rnnlm(corpus: Any, vocab_size: int, *, wordvec_size: int = 100, hidden_size: int = 100,
                batch_size: int = 20, time_size: int = 35, lr: float = 20.0, max_grad: float | None = 0.25,
                max_epoch: int = 4, seed: int | None = None, max_steps: int | None = None,
                callback: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """The book's ``ch06/train_rnnlm.py`` on :class:`Rnnlm`: truncated BPTT
    over ``time_size`` steps, batch row i reading the corpus from offset
    ``i * (len - 1) // batch_size`` on, SGD(lr), the gradients clipped to
    ``max_grad`` (None: not clipped).  Returns the model, the perplexity of
    each epoch (``exp`` of its mean loss), the seconds and the steps.
    ``callback(epoch, step, loss)`` is called after every step."""
    if seed is not None:
        np.random.seed(seed)  # noqa: NPY002 (the book's generator)
    corpus = np.asarray(corpus)
    batch = positive_int(batch_size, "batch_size")
    steps_per_batch = positive_int(time_size, "time_size")
    lr = positive_number(lr, "lr")
    if corpus.ndim != 1 or corpus.dtype.kind not in "iu":
        raise ValueError(f"corpus must be a 1-D sequence of word ids, got shape {corpus.shape} of {corpus.dtype}")
    if corpus.size and (corpus.min() < 0 or corpus.max() >= vocab_size):
        raise ValueError(f"corpus holds word ids outside [0, {vocab_size})")
    xs, ts = corpus[:-1], corpus[1:]
    iters = xs.size // (batch * steps_per_batch)
    if iters == 0:
        raise ValueError(f"the corpus ({corpus.size} words) is too short for one batch of "
                         f"{batch} x {steps_per_batch}")
    model = Rnnlm(vocab_size, wordvec_size, hidden_size)
    optimizer = SGD(lr)
    jump = xs.size // batch
    offsets = np.arange(batch) * jump
    perplexities: list[float] = []

    def batches(epoch: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        # The book's time_idx runs on across epochs: step k reads columns k*T .. k*T + T - 1.
        for it in range(iters):
            cols = (epoch * iters + it) * steps_per_batch + np.arange(steps_per_batch)
            rows = (offsets[:, None] + cols[None, :]) % xs.size
            yield xs[rows], ts[rows]

    start = time.perf_counter()
    steps = run_epochs(model, optimizer, batches, positive_int(max_epoch, "max_epoch"), max_grad, max_steps,
                       callback, lambda epoch, loss: perplexities.append(math.exp(loss)))
    return {"model": model, "perplexities": perplexities, "seconds": time.perf_counter() - start,
            "steps": steps}


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `zk-layers train --model rnnlm`")
