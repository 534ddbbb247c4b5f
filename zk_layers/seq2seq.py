"""An encoder-decoder with attention on zk_layers' time layers: our own API
behind ``zk-layers train --model seq2seq``.

:class:`AttentionSeq2seq` is the second volume's chapter-8 model (an LSTM
encoder whose every state the decoder attends to; the decoder's LSTM state
and the context vector side by side into the output layer), built from
:mod:`zk_layers.book2.time_layers` and :mod:`zk_layers.book2.attention_layer`
with the book's initial draws.  :func:`train_seq2seq` trains it as
``ch08/train.py`` does (Adam, gradients clipped to 5, the questions
reversed, shuffled minibatches as the book's Trainer draws them) and scores
each epoch on the test questions.  :meth:`AttentionSeq2seq.generate` decodes
a whole batch at once, greedily: row for row what the book's
one-question-at-a-time ``eval_seq2seq`` decodes (to rounding).

:func:`addition_data` generates the book's addition problems ("16+75" ->
"91", the format of its ``dataset/addition.txt``); :func:`load_sequence`
reads that file, or ``date.txt``, from the book's checkout.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._epochs import run_epochs
from ._validate import positive_int, positive_number
from .book2.attention_layer import TimeAttention
from .book2.optimizer import Adam
from .book2.time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = ["AttentionSeq2seq", "train_seq2seq", "addition_data", "load_sequence", "split_sequence"]


def _weights(V: int, D: int, H: int, out_in: int) -> list[np.ndarray]:  # noqa: N803 (the book's names)
    """embed W, LSTM Wx, Wh, b and (when out_in) an affine W, b, as the book draws them."""
    rn = np.random.randn  # noqa: NPY002 (the book's draws)
    params = [(rn(V, D) / 100).astype("f"), (rn(D, 4 * H) / np.sqrt(D)).astype("f"),
              (rn(H, 4 * H) / np.sqrt(H)).astype("f"), np.zeros(4 * H).astype("f")]
    if out_in:
        params += [(rn(out_in, V) / np.sqrt(out_in)).astype("f"), np.zeros(V).astype("f")]
    return params


class AttentionSeq2seq:
    """Encoder (embedding, LSTM) and attention decoder (embedding, stateful
    LSTM from the encoder's last state, attention over the encoder's states,
    an affine layer on [context, state]) with a softmax loss.  ``params`` and
    ``grads`` are lists, float32."""

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256) -> None:
        V = positive_int(vocab_size, "vocab_size")  # noqa: N806
        D = positive_int(wordvec_size, "wordvec_size")  # noqa: N806
        H = positive_int(hidden_size, "hidden_size")  # noqa: N806
        enc = _weights(V, D, H, 0)
        dec = _weights(V, D, H, 2 * H)
        self.vocab_size = V
        self.enc_embed = TimeEmbedding(enc[0])
        self.enc_lstm = TimeLSTM(enc[1], enc[2], enc[3], stateful=False)
        self.dec_embed = TimeEmbedding(dec[0])
        self.dec_lstm = TimeLSTM(dec[1], dec[2], dec[3], stateful=True)
        self.attention = TimeAttention()
        self.affine = TimeAffine(dec[4], dec[5])
        self.loss_layer = TimeSoftmaxWithLoss()
        layers = (self.enc_embed, self.enc_lstm, self.dec_embed, self.dec_lstm, self.attention, self.affine)
        self.params = [p for layer in layers for p in layer.params]
        self.grads = [g for layer in layers for g in layer.grads]
        self._hidden = H

    def _encode(self, xs: Any) -> np.ndarray:
        return self.enc_lstm.forward(self.enc_embed.forward(xs))

    def _decode(self, xs: Any, hs_enc: np.ndarray) -> np.ndarray:
        dec_hs = self.dec_lstm.forward(self.dec_embed.forward(xs))
        context = self.attention.forward(hs_enc, dec_hs)
        return self.affine.forward(np.concatenate((context, dec_hs), axis=2))

    def forward(self, xs: Any, ts: Any) -> float:
        """The mean cross-entropy of the answers ts (N, T) (the first column
        the start mark, fed to the decoder; the others its targets)."""
        hs_enc = self._encode(xs)
        self.dec_lstm.set_state(hs_enc[:, -1])
        score = self._decode(ts[:, :-1], hs_enc)
        return float(self.loss_layer.forward(score, ts[:, 1:]))

    def backward(self, dout: Any = 1) -> None:
        H = self._hidden  # noqa: N806
        dscore = self.loss_layer.backward(dout)
        dout2 = self.affine.backward(dscore)
        dc, ddec_hs0 = dout2[:, :, :H], dout2[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        self.dec_embed.backward(self.dec_lstm.backward(ddec_hs0 + ddec_hs1))
        denc_hs[:, -1] += self.dec_lstm.dh  # the decoder's start state is the encoder's last
        self.enc_embed.backward(self.enc_lstm.backward(denc_hs))

    def generate(self, xs: Any, start_id: int, sample_size: int) -> np.ndarray:
        """Greedy answers (N, sample_size) to the questions xs (N, T): at each
        step the decoder takes its last output's argmax."""
        xs = np.asarray(xs)
        if xs.ndim != 2:
            raise ValueError(f"xs must be (N, T) questions, got shape {xs.shape}")
        hs_enc = self._encode(xs)
        self.dec_lstm.set_state(hs_enc[:, -1])
        out = np.empty((xs.shape[0], positive_int(sample_size, "sample_size")), dtype=np.intp)
        ids = np.full((xs.shape[0], 1), int(start_id), dtype=np.intp)
        for t in range(out.shape[1]):
            ids = self._decode(ids, hs_enc).argmax(axis=2)
            out[:, t] = ids[:, 0]
        return out


def addition_data(n: int = 50000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[int, str]]:
    """``n`` distinct problems "a+b" with a, b in [0, 999], as the lines of
    the book's ``dataset/addition.txt`` ("16+75  " -> "_91  ": the question
    padded to 7 characters, the answer after the start mark "_" to 4).
    Returns (questions, answers) as id arrays (n, 7) and (n, 5) and the
    vocabulary both ways."""
    count = positive_int(n, "n")
    if count > 1000 * 1000:
        raise ValueError(f"n must be at most 1,000,000 (the distinct problems), got {n}")
    rng = np.random.default_rng(seed)
    pairs = rng.choice(1000 * 1000, size=count, replace=False)
    chars = list("0123456789+ _")
    char_to_id = {c: i for i, c in enumerate(chars)}
    questions = [f"{a}+{b}".ljust(7) for a, b in zip(pairs // 1000, pairs % 1000, strict=True)]
    answers = ["_" + str(a + b).ljust(4) for a, b in zip(pairs // 1000, pairs % 1000, strict=True)]
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=np.intp)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=np.intp)
    return x, t, char_to_id, {i: c for c, i in char_to_id.items()}


def split_sequence(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, t_train, x_test, t_test): the rows shuffled and the last
    tenth held out, as the book's ``sequence.load_data`` does (the same
    shuffle, its seed 1984, from a generator of its own: NumPy's global one
    is left alone)."""
    order = np.arange(len(x))
    np.random.RandomState(1984).shuffle(order)  # noqa: NPY002 (the book's shuffle, bit for bit)
    x, t = x[order], t[order]
    at = len(x) - len(x) // 10
    return x[:at], t[:at], x[at:], t[at:]


def load_sequence(path: str) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[int, str]]:
    """The book's ``dataset/addition.txt`` or ``date.txt`` (one "question_answer"
    a line, all questions and all answers of one length): (questions,
    answers, char_to_id, id_to_char), the ids numbered in order of first
    appearance as the book's ``sequence.load_data`` numbers them (unshuffled:
    :func:`split_sequence` shuffles and splits)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    questions, answers = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            at = line.find("_")
            if at <= 0:
                raise ValueError(f"{path}, line {number}: expected question_answer, got {line!r}")
            questions.append(line[:at])
            answers.append(line[at:])
    if not questions or len({len(q) for q in questions}) != 1 or len({len(a) for a in answers}) != 1:
        raise ValueError(f"{path}: the questions, and the answers, must all be of one length")
    char_to_id: dict[str, int] = {}
    for q, a in zip(questions, answers, strict=True):
        for c in q + a:
            char_to_id.setdefault(c, len(char_to_id))
    x = np.array([[char_to_id[c] for c in q] for q in questions], dtype=np.intp)
    t = np.array([[char_to_id[c] for c in a] for a in answers], dtype=np.intp)
    return x, t, char_to_id, {i: c for c, i in char_to_id.items()}


def train_seq2seq(x_train: Any, t_train: Any, x_test: Any, t_test: Any, vocab_size: int, *,
                  wordvec_size: int = 16, hidden_size: int = 256, batch_size: int = 128,
                  max_epoch: int = 10, lr: float = 0.001, max_grad: float | None = 5.0, reverse: bool = True,
                  seed: int | None = None, max_steps: int | None = None,
                  callback: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """``ch08/train.py`` on :class:`AttentionSeq2seq`: the questions reversed
    (``reverse``), Adam(lr), gradients clipped to ``max_grad``, one
    ``np.random.permutation`` of the training rows per epoch (the book's
    Trainer), and after each epoch the share of test questions answered
    exactly (greedy, the whole test set at once).  Returns the model, the
    mean loss and the accuracy of each epoch, the seconds and the steps."""
    if seed is not None:
        np.random.seed(seed)  # noqa: NPY002 (the book's generator)
    x_train, t_train, x_test, t_test = (np.asarray(a) for a in (x_train, t_train, x_test, t_test))
    for name, a in (("x_train", x_train), ("t_train", t_train), ("x_test", x_test), ("t_test", t_test)):
        if a.ndim != 2 or a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= vocab_size)):
            raise ValueError(f"{name} must be a 2-D array of ids in [0, {vocab_size}), got shape {a.shape} "
                             f"of {a.dtype}")
    if len(x_train) != len(t_train) or len(x_test) != len(t_test) or t_train.shape[1] != t_test.shape[1] \
            or t_train.shape[1] < 2:
        raise ValueError("questions and answers must pair up, and the answers (start mark first) must have "
                         "one length of at least 2")
    if reverse:
        x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
    batch = positive_int(batch_size, "batch_size")
    iters = len(x_train) // batch
    if iters == 0:
        raise ValueError(f"batch_size={batch} is larger than the {len(x_train)} training rows")
    model = AttentionSeq2seq(vocab_size, wordvec_size, hidden_size)
    optimizer = Adam(lr=positive_number(lr, "lr"))
    losses: list[float] = []
    accuracies: list[float] = []

    def batches(epoch: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        order = np.random.permutation(np.arange(len(x_train)))  # noqa: NPY002 (the book's draw)
        x, t = x_train[order], t_train[order]
        for it in range(iters):
            yield x[it * batch:(it + 1) * batch], t[it * batch:(it + 1) * batch]

    def score(epoch: int, loss: float) -> None:
        losses.append(loss)
        guess = model.generate(x_test, int(t_test[0, 0]), t_test.shape[1] - 1)
        accuracies.append(float(np.mean(np.all(guess == t_test[:, 1:], axis=1))))

    start = time.perf_counter()
    steps = run_epochs(model, optimizer, batches, positive_int(max_epoch, "max_epoch"), max_grad, max_steps,
                       callback, score)
    return {"model": model, "losses": losses, "accuracies": accuracies,
            "seconds": time.perf_counter() - start, "steps": steps}


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `zk-layers train --model seq2seq`")
