"""word2vec's CBOW with negative sampling (the second volume, chapter 4), as
one compiled model: :class:`CBOW`, and :func:`train_cbow` behind
``zk-layers train --model cbow``.

``CBOW(vocab_size, hidden_size, window_size, corpus)`` is the book's model
(``ch04/cbow.py`` on its layers): the same parameters, drawn with the same
``np.random`` calls in the same order, the same negative samples, and the
same loss and gradients, bit for bit, under the same seed (the tests run the
book's model next to it).  What differs is the work.  The book's model has
16 layers, each with a dense gradient the size of a whole matrix, which
``remove_duplicate`` then adds up: per step, tens of megabytes written and
read for the few hundred rows a batch touches.  Here the ten context
layers' gradients and the six output layers' are summed over the touched
rows only, in the book's order (the additions of zero rows the book does
change no bit), into one gradient per matrix.

``params`` and ``grads`` are dicts (``"W_in"``, ``"W_out"``), as zk_layers'
optimizers take them: ``zk.Adam().update(model.params, model.grads)`` is the
book's ``Adam.update`` on its merged gradients.  The gradients are
read-only arrays: the model keeps them zero outside the rows it wrote, and
clears only those rows on the next backward.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _embedding, _kernels  # noqa: F401  (_kernels binds the glue to its kernels)
from .book2.negative_sampling_layer import UnigramSampler
from .optimizers import Adam

__all__ = ["CBOW", "train_cbow", "toy_corpus", "load_ptb", "nearest_words"]


def _sigmoid_loss(score: np.ndarray, label: int) -> Any:
    """The book's SigmoidWithLoss forward for one label: (y, loss)."""
    with np.errstate(over="ignore"):
        y = 1 / (1 + np.exp(-score))
    chosen = y if label == 1 else 1 - y
    return y, -np.sum(np.log(chosen + 1e-7)) / score.shape[0]


class CBOW:
    """CBOW with negative sampling: ``2 * window_size`` context words in, the
    target word out, ``sample_size`` negative words per target drawn from
    the unigram distribution to the power ``power``.

    Parameters
    ----------
    vocab_size, hidden_size, window_size : int
    corpus : 1-D sequence of word ids (the sampler's counts)
    power : float, default 0.75
    sample_size : int, default 5
    """

    def __init__(self, vocab_size: int, hidden_size: int, window_size: int, corpus: Any,
                 power: float = 0.75, sample_size: int = 5) -> None:
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size),
                            ("window_size", window_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(sample_size, (int, np.integer)) or isinstance(sample_size, bool) or sample_size < 0:
            raise ValueError(f"sample_size must be a non-negative integer, got {sample_size!r}")
        V, H = int(vocab_size), int(hidden_size)
        # The book's draws, in its order and dtypes: float32, then scaled.
        W_in = 0.01 * np.random.randn(V, H).astype('f')  # noqa: NPY002 (the book's generator)
        W_out = 0.01 * np.random.randn(V, H).astype('f')  # noqa: NPY002
        self.window_size = int(window_size)
        self.sample_size = int(sample_size)
        self.sampler = UnigramSampler(corpus, power, self.sample_size)
        if self.sampler.vocab_size > V:
            raise ValueError(f"corpus holds {self.sampler.vocab_size} distinct word ids, more than "
                             f"vocab_size={V}")
        self.params = {"W_in": W_in, "W_out": W_out}
        self._dW_in = np.zeros_like(W_in)
        self._dW_out = np.zeros_like(W_out)
        for g in (self._dW_in, self._dW_out):
            g.flags.writeable = False
        self.grads = {"W_in": self._dW_in, "W_out": self._dW_out}
        self.word_vecs = W_in
        self._written: dict[str, np.ndarray] = {"W_in": np.empty(0, np.intp), "W_out": np.empty(0, np.intp)}
        self._cache: Any = None

    def forward(self, contexts: Any, target: Any) -> Any:
        """The mean negative-sampling loss of the batch (float32), as the book's model."""
        W_in, W_out = self.params["W_in"], self.params["W_out"]
        contexts = np.asarray(contexts)
        target = np.asarray(target)
        width = 2 * self.window_size
        if contexts.ndim != 2 or contexts.shape[1] != width:
            raise ValueError(f"contexts must have shape (N, {width}) (2 * window_size words per row), "
                             f"got {contexts.shape}")
        if target.shape != (contexts.shape[0],):
            raise ValueError(f"target must have shape ({contexts.shape[0]},): one word per row of "
                             f"contexts, got {target.shape}")
        for name, ids in (("contexts", contexts), ("target", target)):
            if ids.dtype.kind not in "iu":
                raise TypeError(f"{name} must hold integer word ids, got dtype {ids.dtype}")
            if ids.size and (ids.min() < 0 or ids.max() >= W_in.shape[0]):
                raise ValueError(f"{name} must hold word ids in [0, {W_in.shape[0]}), got "
                                 f"{ids.min() if ids.min() < 0 else ids.max()}")
        n = target.shape[0]
        h = W_in[contexts[:, 0]]
        for i in range(1, width):
            h += W_in[contexts[:, i]]
        h *= 1 / width
        negative = self.sampler.get_negative_sample(target)
        words = np.concatenate([target[:, None], negative], axis=1).astype(np.intp)  # (N, 1 + S)
        rows = W_out[words]  # (N, 1 + S, H)
        loss: Any = None
        ys = []
        for i in range(1 + self.sample_size):
            score = np.sum(rows[:, i] * h, axis=1)
            y, layer_loss = _sigmoid_loss(score, 1 if i == 0 else 0)
            ys.append(y)
            loss = layer_loss if loss is None else loss + layer_loss
        # The ids as forward used them (a copy: the caller may reuse its array).
        self._cache = (contexts.copy(), words, h, rows, ys, n)
        return loss

    def backward(self, dout: Any = 1) -> None:
        """The gradients of W_in and W_out (``grads``), as the book's
        ``remove_duplicate`` merges them."""
        if self._cache is None:
            raise ValueError("CBOW.backward called before forward")
        contexts, words, h, rows, ys, n = self._cache
        dh: Any = 0
        out_rows, out_where = np.unique(words, return_inverse=True)
        out_where = out_where.reshape(words.shape)
        merged_out = np.zeros((out_rows.size, h.shape[1]), np.float32)
        part = np.empty_like(merged_out)
        for i, y in enumerate(ys):
            # The book's labels are an int32 array: y - t is computed in float64.
            dscore = ((y.astype(np.float64) - (1 if i == 0 else 0)) * dout / n)[:, None]
            self._scatter(dscore * h, out_where[:, i], part)
            merged_out += part
            dh += dscore * rows[:, i]
        dh *= 1 / contexts.shape[1]
        in_rows, in_where = np.unique(contexts, return_inverse=True)
        in_where = in_where.reshape(contexts.shape)
        merged_in = np.zeros((in_rows.size, h.shape[1]), np.float32)
        part = np.empty_like(merged_in)
        for k in range(contexts.shape[1]):
            self._scatter(dh, in_where[:, k], part)
            merged_in += part
        self._store("W_in", self._dW_in, in_rows, merged_in)
        self._store("W_out", self._dW_out, out_rows, merged_out)

    @staticmethod
    def _scatter(values: np.ndarray, where: np.ndarray, into: np.ndarray) -> None:
        where = np.ascontiguousarray(where, dtype=np.intp)
        values = np.ascontiguousarray(values)
        if not _embedding.embedding_backward(values, where, into):
            into[...] = 0
            np.add.at(into, where, values)

    def _store(self, name: str, grad: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
        grad.flags.writeable = True
        try:
            grad[self._written[name]] = 0
            grad[rows] = values
        finally:
            grad.flags.writeable = False
        self._written[name] = rows.astype(np.intp)


def toy_corpus(n_sentences: int = 4000, seed: int = 0) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """A small generated corpus with structure word2vec can find: sentences
    "the <animal> <verb>s the <food> ." and "<person> <moves> to the <place> .",
    so animals end up near animals, foods near foods.  Returns (corpus,
    word_to_id, id_to_word) as the book's ``preprocess``."""
    groups = {
        "animal": ["cat", "dog", "horse", "rabbit", "mouse", "cow"],
        "verb": ["eats", "likes", "wants", "finds"],
        "food": ["apple", "bread", "cheese", "carrot", "rice", "grass"],
        "person": ["alice", "bob", "carol", "dave", "erin"],
        "moves": ["walks", "runs", "drives", "goes"],
        "place": ["school", "market", "station", "park", "office"],
    }
    rng = np.random.default_rng(seed)
    words: list[str] = []
    for _ in range(n_sentences):
        if rng.random() < 0.5:
            words += ["the", rng.choice(groups["animal"]), rng.choice(groups["verb"]), "the",
                      rng.choice(groups["food"]), "."]
        else:
            words += [rng.choice(groups["person"]), rng.choice(groups["moves"]), "to", "the",
                      rng.choice(groups["place"]), "."]
    word_to_id: dict[str, int] = {}
    for w in words:
        word_to_id.setdefault(str(w), len(word_to_id))
    id_to_word = {i: w for w, i in word_to_id.items()}
    return np.array([word_to_id[str(w)] for w in words]), word_to_id, id_to_word


def load_ptb(data_dir: str, data_type: str = "train") -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """The Penn Treebank as the book's ``dataset/ptb.py`` loads it: (corpus,
    word_to_id, id_to_word), the vocabulary numbered in order of first
    appearance in ptb.train.txt, line ends as ``<eos>``.  ``data_dir`` holds
    ptb.train.txt, ptb.valid.txt and ptb.test.txt, checked against their
    published MD5 sums first (ValueError otherwise)."""
    from .book._run import verify_ptb_dir

    files = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "val": "ptb.valid.txt", "test": "ptb.test.txt"}
    if data_type not in files:
        raise ValueError(f"data_type must be one of {sorted(files)}, got {data_type!r}")
    folder = verify_ptb_dir(data_dir)

    def words(name: str) -> list[str]:
        with open(f"{folder}/{name}") as f:
            return f.read().replace("\n", "<eos>").strip().split()

    word_to_id: dict[str, int] = {}
    for w in words(files["train"]):
        word_to_id.setdefault(w, len(word_to_id))
    id_to_word = {i: w for w, i in word_to_id.items()}
    return np.array([word_to_id[w] for w in words(files[data_type])]), word_to_id, id_to_word


def nearest_words(query: str, word_to_id: dict[str, int], id_to_word: dict[int, str], word_vecs: Any,
                  top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` words of highest cosine similarity to ``query`` (itself left out)."""
    if query not in word_to_id:
        raise ValueError(f"query {query!r} is not in the vocabulary")
    vecs = np.asarray(word_vecs, dtype=np.float64)
    norms = np.sqrt(np.sum(vecs ** 2, axis=1)) + 1e-8
    unit = vecs / norms[:, None]
    similarity = unit @ unit[word_to_id[query]]
    order = [i for i in np.argsort(-similarity, kind="stable") if id_to_word[int(i)] != query]
    return [(id_to_word[int(i)], float(similarity[i])) for i in order[:top]]


def train_cbow(corpus: Any, vocab_size: int, *, hidden_size: int = 100, window_size: int = 5,
               batch_size: int = 100, max_epoch: int = 10, lr: float = 0.001, seed: int | None = None,
               max_steps: int | None = None,
               callback: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """The book's ``ch04/train.py`` on :class:`CBOW`: contexts and targets of
    ``window_size``, Adam(lr), ``max_epoch`` epochs of shuffled minibatches
    (the book's Trainer: one ``np.random.permutation`` per epoch).  Returns
    the model, the mean loss per epoch and the seconds.  ``callback(epoch,
    step, loss)`` is called after every step."""
    if seed is not None:
        np.random.seed(seed)  # noqa: NPY002 (the book's generator)
    corpus = np.asarray(corpus)
    if corpus.ndim != 1 or corpus.size <= 2 * window_size:
        raise ValueError(f"corpus must be a 1-D sequence of more than 2 * window_size = {2 * window_size} "
                         f"word ids, got shape {corpus.shape}")
    offsets = np.concatenate([np.arange(-window_size, 0), np.arange(1, window_size + 1)])
    centre = np.arange(window_size, corpus.size - window_size)
    contexts = corpus[centre[:, None] + offsets[None, :]]
    target = corpus[centre]
    model = CBOW(vocab_size, hidden_size, window_size, corpus)
    optimizer = Adam(lr=lr)
    iters = contexts.shape[0] // batch_size
    if iters == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {contexts.shape[0]} training rows")
    epoch_losses = []
    step = 0
    start = time.perf_counter()
    for epoch in range(max_epoch):
        order = np.random.permutation(np.arange(contexts.shape[0]))  # noqa: NPY002 (the book's draw)
        x, t = contexts[order], target[order]
        total = 0.0
        for it in range(iters):
            if max_steps is not None and step >= max_steps:
                break
            rows = slice(it * batch_size, (it + 1) * batch_size)
            loss = model.forward(x[rows], t[rows])
            model.backward()
            optimizer.update(model.params, model.grads)
            total += float(loss)
            step += 1
            if callback is not None:
                callback(epoch, step, float(loss))
        epoch_losses.append(total / max(1, min(iters, step - epoch * iters)))
        if max_steps is not None and step >= max_steps:
            break
    return {"model": model, "epoch_losses": epoch_losses, "seconds": time.perf_counter() - start,
            "steps": step}


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `zk-layers train --model cbow`")
