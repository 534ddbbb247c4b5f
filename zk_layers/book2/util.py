"""The book's ``common/util.py`` of the second volume: preprocess,
cos_similarity, most_similar, convert_one_hot, create_co_matrix, ppmi,
create_contexts_target, to_cpu, to_gpu, clip_grads, eval_perplexity,
eval_seq2seq, analogy, normalize.

Same names, signatures, return values, dtypes and printed lines as the
book, and the same numbers bit for bit: where the book loops in Python this
module works on whole arrays (or row chunks) with the same arithmetic in the
same dtypes, and keeps the book's own NumPy calls wherever their rounding
depends on how they are called.

  * ``create_co_matrix`` counts the (word, context) pairs of each window
    offset with one sort instead of a Python loop over the corpus.
  * ``ppmi`` computes the book's per-cell expression on row chunks of a few
    MB, in the dtypes the book's NumPy scalars take (``int32 * int64`` is
    int64, ``int64 / int64`` a float64 true division, then ``+ eps`` and
    NumPy's ``log2``), and keeps Python's ``max(0, pmi)`` (NaN gives 0).
    A zero count gives 0 whenever ``log2(eps) <= 0`` (its ratio is +-0 or
    NaN), so with the default eps only the non-zero cells are computed.
    It does not emit the RuntimeWarnings (division by zero, invalid value,
    integer overflow) that the book's scalars give for a zero column sum or
    huge counts; the values are the book's (inf, or 0 for NaN).
  * ``most_similar`` normalises all rows at once (the same elementwise
    squares, row sums, square roots and divisions) but keeps the book's
    ``np.dot`` of each normalised row with the query: a matrix-vector
    product would sum in another order.
  * ``create_contexts_target``, ``convert_one_hot`` and ``eval_perplexity``
    build their index arrays without Python loops.

On purpose different from the book:

  * Bad arguments raise TypeError or ValueError naming the argument, what
    was expected and what was received, before anything is computed or
    printed: word ids outside ``[0, vocab_size)`` (the book wraps negative
    ids and fails on large ones), a negative ``window_size``, a
    ``window_size`` below 1 in ``create_contexts_target`` (the book returns
    a meaningless result there), a corpus too short for one batch in
    ``eval_perplexity`` (the book fails with ZeroDivisionError after
    printing), a matrix with more rows than columns in ``ppmi``, a
    negative or NaN ``max_norm`` in ``clip_grads`` (the book would scale
    the gradients by a negative rate).
  * ``to_gpu`` raises ValueError: zk_layers is CPU code (the book imports
    CuPy).  ``to_cpu`` returns a NumPy array as it is, and raises TypeError
    for anything else.
  * ``create_contexts_target`` converts a list corpus with ``np.array``
    first, so a list that mixes NumPy integer types gets one common dtype
    (the book's arrays take the dtype of the elements they hold).

As in the book, ``normalize`` divides its argument in place (and returns
it), and ``clip_grads`` scales the gradients in place.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import nonnegative_int, positive_int, real_number
from . import _rows
from .np import GPU

# The book's module namespace as a star import gives it (sys, os, np and
# GPU come from its own imports).
__all__ = ["preprocess", "cos_similarity", "most_similar", "convert_one_hot", "create_co_matrix", "ppmi",
           "create_contexts_target", "to_cpu", "to_gpu", "clip_grads", "eval_perplexity", "eval_seq2seq",
           "analogy", "normalize", "np", "GPU", "sys", "os"]

# Cells per chunk in ppmi: each float64 temporary is 1 MB.
_PPMI_CHUNK_CELLS = 1 << 17

# The largest vocab * vocab whose flat cell indices create_co_matrix
# computes in int32 (halves the sort's work); above it, int64.
_INT32_CELLS = int(np.iinfo(np.int32).max)

# Row sums whose order does not depend on the array's shape: integers are
# exact in any order; float32/float64 rows are summed pairwise by NumPy
# whether a row is reduced on its own or as an axis of a C-contiguous
# matrix (tests/test_book2_util.py checks this bit for bit).
_ROW_SUM_KINDS = "iu"
_ROW_SUM_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ------------------------------------------------------------------ checks
def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:200]


def _ndarray(x: Any, name: str, ndims: tuple[int, ...], what: str) -> np.ndarray:
    """``x`` itself if it is a NumPy array with one of ``ndims``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be {what} (a NumPy array), got {_describe(x)}")
    if x.ndim not in ndims:
        raise ValueError(f"{name} must be {what}, got an array of shape {x.shape}")
    return x


def _id_array(corpus: Any, name: str, ndims: tuple[int, ...] = (1,)) -> np.ndarray:
    """Word ids as an integer array: an array as it is, a list or tuple
    through ``np.array`` (as the book's ``np.array`` of its elements)."""
    what = "a 1-D sequence of word ids" if ndims == (1,) else "a 1-D or 2-D array of word ids"
    if isinstance(corpus, np.ndarray):
        ids = corpus
    elif isinstance(corpus, Sequence) and not isinstance(corpus, (str, bytes)):
        try:
            ids = np.array(corpus)
        except (ValueError, TypeError, OverflowError) as exc:
            raise TypeError(f"{name} must be {what}, got {_describe(corpus)} ({exc})") from None
        if ids.size == 0:
            ids = ids.astype(np.int_)  # np.array([]) is float64
    else:
        raise TypeError(f"{name} must be {what} (a NumPy integer array or a list), got {_describe(corpus)}")
    if ids.ndim not in ndims:
        raise ValueError(f"{name} must be {what}, got shape {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer word ids, got dtype {ids.dtype}")
    return ids


def _check_ids_below(ids: np.ndarray, name: str, vocab_size: int) -> None:
    """Every id in ``[0, vocab_size)``."""
    if ids.size == 0:
        return
    low, high = ids.min(), ids.max()
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        position = tuple(int(p) for p in np.argwhere(ids == bad)[0])
        raise ValueError(f"{name} must hold word ids in [0, vocab_size) = [0, {vocab_size}), "
                         f"got {bad} at position {position[0] if len(position) == 1 else position}")


def _word_matrix(word_matrix: Any, rows: int) -> np.ndarray:
    matrix = _ndarray(word_matrix, "word_matrix", (2,), "a 2-D matrix with one word vector per row")
    if matrix.shape[0] < rows:
        raise ValueError(f"word_matrix must have a row for each of the {rows} words of id_to_word, "
                         f"got {matrix.shape[0]} rows")
    return matrix


# ---------------------------------------------------------------- counting
def preprocess(text: str) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """``(corpus, word_to_id, id_to_word)`` of a text: lower-cased, ``.``
    split off as a word, words separated by single spaces, ids in order of
    first appearance; ``corpus`` is the array of the ids (NumPy's default
    integer)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {_describe(text)}")
    words = text.lower().replace(".", " .").split(" ")
    word_to_id = {word: new_id for new_id, word in enumerate(dict.fromkeys(words))}
    id_to_word = {new_id: word for word, new_id in word_to_id.items()}
    corpus = np.array([word_to_id[word] for word in words])
    return corpus, word_to_id, id_to_word


def convert_one_hot(corpus: Any, vocab_size: int) -> np.ndarray:
    """One-hot rows (int32) of a 1-D ``(N,)`` or 2-D ``(N, C)`` array of
    word ids: shape ``(N, vocab_size)`` or ``(N, C, vocab_size)``."""
    ids = _id_array(corpus, "corpus", (1, 2))
    vocab = nonnegative_int(vocab_size, "vocab_size")
    _check_ids_below(ids, "corpus", vocab)
    one_hot = np.zeros(ids.shape + (vocab,), dtype=np.int32)
    one_hot.reshape(ids.size, vocab)[np.arange(ids.size), ids.reshape(-1)] = 1
    return one_hot


def create_co_matrix(corpus: Any, vocab_size: int, window_size: int = 1) -> np.ndarray:
    """The (vocab_size, vocab_size) int32 co-occurrence counts: entry
    ``[w, c]`` counts the times word ``c`` stands within ``window_size``
    words left or right of word ``w`` in ``corpus``."""
    ids = _id_array(corpus, "corpus")
    vocab = nonnegative_int(vocab_size, "vocab_size")
    window = nonnegative_int(window_size, "window_size")
    _check_ids_below(ids, "corpus", vocab)
    co_matrix = np.zeros((vocab, vocab), dtype=np.int32)
    n = ids.shape[0]
    # Each pair (corpus[k], corpus[k + d]) is counted in both directions;
    # its cell's flat index is w * vocab + c.  Sorting the flat indices and
    # writing each distinct one's count touches the (large) matrix only
    # where it is not zero, in order.
    code_type = np.int32 if vocab * vocab <= _INT32_CELLS else np.int64
    words = ids.astype(code_type)
    codes = []
    for offset in range(1, min(window, n - 1) + 1):
        left, right = words[:-offset], words[offset:]
        codes += [left * code_type(vocab) + right, right * code_type(vocab) + left]
    if not codes:
        return co_matrix
    flat = np.concatenate(codes)
    flat.sort()
    starts = np.flatnonzero(np.concatenate(([True], flat[1:] != flat[:-1])))
    counts = np.diff(np.append(starts, flat.size))
    # Counts above 2**31 - 1 wrap as the book's int32 increments do.
    co_matrix.reshape(-1)[flat[starts]] = counts.astype(np.int32)
    return co_matrix


def _scalar_dtypes(C: np.ndarray, N: Any, S: np.ndarray, eps: Any) -> tuple[np.dtype, ...]:  # noqa: N803
    """The dtypes the book's scalar expression
    ``np.log2(C[i, j] * N / (S[j] * S[i]) + eps)`` takes step by step
    (NumPy scalars, not arrays: under NumPy 1's value-based casting the two
    differ, so they are read off real scalars)."""
    with np.errstate(all="ignore"):
        product = C.dtype.type(1) * N
        denominator = S.dtype.type(1) * S.dtype.type(1)
        ratio = product / denominator
        shifted = ratio + eps
        pmi = np.log2(shifted)
    return product.dtype, denominator.dtype, ratio.dtype, shifted.dtype, pmi.dtype


def _book_pmi(cells: Any, N: Any, s_j: Any, s_i: Any, eps: Any,  # noqa: N803
              dtypes: tuple[np.dtype, ...]) -> np.ndarray:
    """``np.log2(cells * N / (s_j * s_i) + eps)`` elementwise, each step in
    the dtype of the book's scalar step."""
    product_t, denominator_t, ratio_t, shifted_t, pmi_t = dtypes
    product = np.multiply(cells, N, dtype=product_t)
    denominator = np.multiply(s_j, s_i, dtype=denominator_t)
    ratio = np.true_divide(product, denominator, dtype=ratio_t)
    return np.log2(np.add(ratio, eps, dtype=shifted_t), dtype=pmi_t)


def _zero_cells_vanish(eps: Any, dtypes: tuple[np.dtype, ...]) -> bool:
    """Whether every cell with ``C[i, j] == 0`` gets 0.

    Such a cell's ratio ``0 * N / (S[j] * S[i])`` is +0, -0 (a negative or
    infinite denominator) or NaN (a zero or NaN denominator, an infinite
    float N); NaN gives 0, and +-0 give ``max(0, log2(eps))``, which is 0
    unless eps > 1."""
    ratio_t = dtypes[2]
    if ratio_t.kind != "f":
        return False
    with np.errstate(all="ignore"):
        return not any(np.log2(np.add(ratio_t.type(zero), eps, dtype=dtypes[3]), dtype=dtypes[4]) > 0
                       for zero in (0.0, -0.0))


def _zeros_like(C: np.ndarray) -> np.ndarray:  # noqa: N803
    """The book's ``np.zeros_like(C, dtype=np.float32)`` (its memory layout
    follows C's); for a contiguous C through ``np.zeros``, whose pages the
    system zeroes when first written, instead of a pass over 400 MB."""
    if C.flags.c_contiguous:
        return np.zeros(C.shape, dtype=np.float32)
    if C.flags.f_contiguous:
        return np.zeros(C.shape, dtype=np.float32, order="F")
    return np.zeros_like(C, dtype=np.float32)


def ppmi(C: np.ndarray, verbose: bool = False, eps: float = 1e-8) -> np.ndarray:  # noqa: N803 (the book's name)
    """The positive pointwise mutual information of a co-occurrence matrix,
    float32: ``max(0, log2(C[i, j] * N / (S[j] * S[i]) + eps))`` with ``N``
    the sum of ``C`` and ``S`` its column sums.  ``verbose`` prints the
    book's progress lines (``'10.0% done'``, ...)."""
    C = _ndarray(C, "C", (2,), "a 2-D co-occurrence matrix")  # noqa: N806
    if C.dtype.kind not in "biuf":
        raise TypeError(f"C must hold real numbers, got dtype {C.dtype}")
    rows, cols = C.shape
    if rows > cols:
        raise ValueError(f"C must have at most as many rows as columns (the column sums are indexed by the "
                         f"row index too; a co-occurrence matrix is square), got shape {C.shape}")
    real_number(eps, "eps")
    M = _zeros_like(C)  # noqa: N806 (the book's name)
    N = np.sum(C)  # noqa: N806
    S = np.sum(C, axis=0)  # noqa: N806
    dtypes = _scalar_dtypes(C, N, S, eps)
    # A co-occurrence matrix is mostly zeros: when those cells all give 0
    # (the default eps), only the others are computed.
    sparse = _zero_cells_vanish(eps, dtypes)
    chunk_rows = max(1, (_PPMI_CHUNK_CELLS << (3 if sparse else 0)) // max(cols, 1))
    total = rows * cols
    every = total // 100 + 1  # the book prints at each multiple of this cell count
    next_line = every
    # A zero column sum divides by zero (inf or NaN, as the book's scalars
    # give); huge counts overflow int64 products, which wrap as the book's.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, rows, chunk_rows):
            stop = min(start + chunk_rows, rows)
            block = C[start:stop]
            # max(0, pmi): pmi where pmi > 0, else 0 (NaN too); M is zeros.
            if sparse:
                i, j = np.divmod(np.flatnonzero(block != 0), cols)
                pmi = _book_pmi(block[i, j], N, S[j], S[start + i], eps, dtypes)
                positive = pmi > 0
                M[start + i[positive], j[positive]] = pmi[positive]
            else:
                pmi = _book_pmi(block, N, S[np.newaxis, :], S[start:stop, np.newaxis], eps, dtypes)
                np.copyto(M[start:stop], pmi, where=pmi > 0)
            if verbose:
                done = stop * cols
                while next_line <= done:
                    print("%.1f%% done" % (100 * next_line / total))  # noqa: UP031 (the book's format)
                    next_line += every
    return M


def create_contexts_target(corpus: Any, window_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(contexts, target)``: for each position with ``window_size`` words
    on both sides, the ids around it (left to right, itself left out) and its
    own id; shapes ``(N - 2w, 2w)`` and ``(N - 2w,)`` in the corpus's integer
    dtype.  A corpus of at most ``2w`` words gives the book's empty arrays."""
    ids = _id_array(corpus, "corpus")
    window = positive_int(window_size, "window_size")
    n = ids.shape[0]
    if n <= 2 * window:
        # The book's np.array([]) (float64) and np.array(corpus[w:-w]).
        target = ids[window:n - window].copy() if isinstance(corpus, np.ndarray) else np.array([])
        return np.array([]), target
    windows = np.lib.stride_tricks.sliding_window_view(ids, 2 * window + 1)
    contexts = np.concatenate((windows[:, :window], windows[:, window + 1:]), axis=1)
    return contexts, ids[window:n - window].copy()


# ------------------------------------------------------------- similarity
def cos_similarity(x: np.ndarray, y: np.ndarray, eps: float = 1e-8) -> Any:
    """Cosine similarity of two vectors: ``dot(x / (|x| + eps), y / (|y| + eps))``."""
    for name, v in (("x", x), ("y", y)):
        _ndarray(v, name, (1,), "a 1-D vector")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    real_number(eps, "eps")
    nx = x / (np.sqrt(np.sum(x ** 2)) + eps)
    ny = y / (np.sqrt(np.sum(y ** 2)) + eps)
    return np.dot(nx, ny)


def _similarities(rows: np.ndarray, query_vec: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """``cos_similarity(rows[i], query_vec)`` for every row, as float64."""
    similarity = np.zeros(rows.shape[0])
    ny = query_vec / (np.sqrt(np.sum(query_vec ** 2)) + eps)
    if rows.shape[0] == 0:
        return similarity
    if rows.dtype.kind in _ROW_SUM_KINDS or rows.dtype in _ROW_SUM_FLOATS:
        # The book's x / (sqrt(sum(x ** 2)) + eps) for all rows at once, in
        # the dtypes its scalars take (read off the first row).  A C order
        # copy makes each row contiguous, as the book's temporaries are.
        matrix = np.ascontiguousarray(rows)
        first = matrix[0]
        norm_t = (np.sqrt(np.sum(first ** 2)) + eps).dtype
        normalised_t = (first / norm_t.type(1)).dtype
        norms = np.add(np.sqrt(np.sum(matrix ** 2, axis=1)), eps, dtype=norm_t)
        normalised = np.divide(matrix, norms[:, np.newaxis], dtype=normalised_t)
    else:
        normalised = np.array([x / (np.sqrt(np.sum(x ** 2)) + eps) for x in rows])
    dot = np.dot
    # The book's np.dot of two vectors (BLAS dot) per row; np.dot(matrix,
    # vector) would round differently.
    for i, nx in enumerate(normalised):
        similarity[i] = dot(nx, ny)
    return similarity


def most_similar(query: str, word_to_id: Mapping[str, int], id_to_word: Mapping[int, str],
                 word_matrix: np.ndarray, top: int = 5) -> None:
    """Prints the ``top`` words most similar to ``query`` by the cosine of
    their rows in ``word_matrix`` (the query itself left out), as
    ``' word: similarity'`` lines after a ``'[query] ...'`` line; or
    ``'... is not found'``."""
    if query not in word_to_id:
        print("%s is not found" % query)  # noqa: UP031 (the book's format)
        return
    vocab_size = len(id_to_word)
    matrix = _word_matrix(word_matrix, vocab_size)
    print("\n[query] " + query)
    query_vec = matrix[word_to_id[query]]
    similarity = _similarities(matrix[:vocab_size], query_vec)

    count = 0
    for i in (-1 * similarity).argsort():
        if id_to_word[i] == query:
            continue
        print(" %s: %s" % (id_to_word[i], similarity[i]))  # noqa: UP031 (the book's str())
        count += 1
        if count >= top:
            return


def normalize(x: np.ndarray) -> np.ndarray:
    """``x`` divided in place by its length (1-D) or each row by its own
    (2-D), and returned, as in the book."""
    _ndarray(x, "x", (1, 2), "a 1-D vector or a 2-D matrix")
    if x.dtype.kind not in "fc":
        raise TypeError(f"x must be a floating-point array (it is divided in place), got dtype {x.dtype}")
    if x.ndim == 2:
        s = np.sqrt((x * x).sum(1))
        x /= s.reshape((s.shape[0], 1))
    else:
        x /= np.sqrt((x * x).sum())
    return x


def analogy(a: str, b: str, c: str, word_to_id: Mapping[str, int], id_to_word: Mapping[int, str],
            word_matrix: np.ndarray, top: int = 5, answer: str | None = None) -> None:
    """Prints the ``top`` words whose rows are nearest (by dot product) to
    the normalised ``b - a + c``, leaving out a, b and c (``a:b = c:?``);
    with ``answer``, first its own score."""
    for word in (a, b, c):
        if word not in word_to_id:
            print("%s is not found" % word)  # noqa: UP031
            return
    matrix = _ndarray(word_matrix, "word_matrix", (2,), "a 2-D matrix with one word vector per row")
    if answer is not None and answer not in word_to_id:
        raise ValueError(f"answer must be a word of word_to_id, got {answer!r}")

    print("\n[analogy] " + a + ":" + b + " = " + c + ":?")
    a_vec, b_vec, c_vec = matrix[word_to_id[a]], matrix[word_to_id[b]], matrix[word_to_id[c]]
    query_vec = normalize(b_vec - a_vec + c_vec)
    similarity = np.dot(matrix, query_vec)
    if answer is not None:
        print("==>" + answer + ":" + str(np.dot(matrix[word_to_id[answer]], query_vec)))

    count = 0
    for i in (-1 * similarity).argsort():
        if np.isnan(similarity[i]) or id_to_word[i] in (a, b, c):
            continue
        print(f" {id_to_word[i]}: {similarity[i]}")  # format(x, ""), as str.format
        count += 1
        if count >= top:
            return


# ---------------------------------------------------------------- devices
def to_cpu(x: np.ndarray) -> np.ndarray:
    """``x`` itself: zk_layers' arrays are NumPy arrays already."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a NumPy array (zk_layers is CPU code: there are no GPU arrays to copy "
                        f"back), got {_describe(x)}")
    return x


def to_gpu(x: Any) -> Any:
    """Always ValueError: zk_layers is CPU code and the book's GPU mode needs CuPy."""
    raise ValueError(f"to_gpu cannot move {_describe(x)} to a GPU: zk_layers is CPU code (the book's "
                     f"to_gpu needs CuPy); keep config.GPU = False, the zk_layers layers are the fast path")


# --------------------------------------------------------------- training
def clip_grads(grads: Sequence[np.ndarray], max_norm: float) -> None:
    """Scales all of ``grads`` in place by ``max_norm / (norm + 1e-6)`` when
    that is below 1, ``norm`` being the L2 norm of all of them together."""
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list of gradient arrays, got {_describe(grads)}")
    for k, grad in enumerate(grads):
        if not isinstance(grad, np.ndarray) or grad.dtype.kind != "f":
            raise TypeError(f"grads[{k}] must be a floating-point NumPy array (scaled in place), "
                            f"got {_describe(grad)}")
    real_number(max_norm, "max_norm")
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    # The book's sum: NumPy's sum of each gradient's squares, added in list
    # order from the int 0 (the dtype follows the gradients').
    total_norm: Any = 0
    for grad in grads:
        total_norm += np.sum(grad ** 2)
    total_norm = np.sqrt(total_norm)

    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            # An Embedding's gradient is read-only to callers (see _rows):
            # scaling keeps its zero rows zero, so what it tracks holds.
            with _rows.writing(grad):
                grad *= rate


def eval_perplexity(model: Any, corpus: Any, batch_size: int = 10, time_size: int = 35) -> Any:
    """``exp`` of the mean loss of ``model.forward(xs, ts, train_flg=False)``
    (or ``model.forward(xs, ts)``) over the corpus in ``batch_size`` streams
    of ``time_size`` steps, printing the book's progress (``'\\r3 / 10'``)."""
    ids = _id_array(corpus, "corpus")
    batch = positive_int(batch_size, "batch_size")
    time = positive_int(time_size, "time_size")
    corpus_size = ids.shape[0]
    max_iters = (corpus_size - 1) // (batch * time)
    if max_iters < 1:
        raise ValueError(f"corpus must have more than batch_size * time_size = {batch * time} words for one "
                         f"batch, got {corpus_size}")
    jump = (corpus_size - 1) // batch

    print("evaluating perplexity ...")
    total_loss: Any = 0
    # Stream i reads from i * jump on; step t of iteration k is word
    # (k * time_size + i * jump + t) % corpus_size.
    starts = np.arange(batch)[:, np.newaxis] * jump + np.arange(time)[np.newaxis, :]
    for iters in range(max_iters):
        positions = starts + iters * time
        xs = ids[positions % corpus_size].astype(np.int32)
        ts = ids[(positions + 1) % corpus_size].astype(np.int32)
        try:
            loss = model.forward(xs, ts, train_flg=False)
        except TypeError:
            loss = model.forward(xs, ts)
        total_loss += loss

        sys.stdout.write("\r%d / %d" % (iters, max_iters))  # noqa: UP031
        sys.stdout.flush()

    print("")
    return np.exp(total_loss / max_iters)


def _text(ids: Any, id_to_char: Mapping[int, str]) -> str:
    return "".join([id_to_char[int(c)] for c in ids])


def eval_seq2seq(model: Any, question: np.ndarray, correct: np.ndarray, id_to_char: Mapping[int, str],
                 verbose: bool = False, is_reverse: bool = False) -> int:
    """1 if ``model.generate`` answers ``question`` with ``correct`` (its
    first id is the start mark), else 0; ``verbose`` prints the question, the
    answer and the guess marked right or wrong, as the book."""
    for name, ids in (("question", question), ("correct", correct)):
        if not isinstance(ids, np.ndarray):
            raise TypeError(f"{name} must be a NumPy array of character ids, got {_describe(ids)}")
    if correct.size < 1:
        raise ValueError("correct must hold the start id and the answer's ids, got an empty array")
    correct = correct.flatten()
    start_id = correct[0]  # the separator that starts the answer
    correct = correct[1:]
    guess = model.generate(question, start_id, len(correct))

    question_text = _text(question.flatten(), id_to_char)
    correct_text = _text(correct, id_to_char)
    guess_text = _text(guess, id_to_char)

    if verbose:
        if is_reverse:
            question_text = question_text[::-1]
        colors = {"ok": "\033[92m", "fail": "\033[91m", "close": "\033[0m"}
        print("Q", question_text)
        print("T", correct_text)
        is_windows = os.name == "nt"
        if correct_text == guess_text:
            mark = "O" if is_windows else colors["ok"] + "☑" + colors["close"]
        else:
            mark = "X" if is_windows else colors["fail"] + "☒" + colors["close"]
        print(mark + " " + guess_text)
        print("---")

    return 1 if guess_text == correct_text else 0
