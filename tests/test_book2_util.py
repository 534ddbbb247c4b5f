"""zk_layers.book2.util against the book's own common/util.py (volume 2).

The oracle is the book's module, loaded from the checkout named by
ZK_LAYERS_BOOK2_DIR (oreilly-japan/deep-learning-from-scratch-2); the tests
that need it are skipped when the variable is unset.  Every comparison is
bitwise: the same values (``assert_array_equal``), dtypes, shapes and, for
the printing functions, the same text character for character.  The input
checks are tested without the book.
"""
from __future__ import annotations

import importlib.util
import io
import os
import sys
import types
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from conftest import restored_imports

from zk_layers.book2 import util

BOOK_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
TEXT = "You say goodbye and I say hello."
WIDTHS = [1, 2, 7, 8, 9, 16, 17, 100, 127, 128, 129, 300]


def _load_book_util(book_dir: str) -> types.ModuleType:
    """The book's common/util.py as a private module; its ``common``
    package (np, config) is put in sys.modules only while it loads."""
    common = Path(book_dir) / "common"
    names = ("common", "common.np", "common.config")
    with restored_imports(names):  # the book's module appends '..'
        package = types.ModuleType("common")
        package.__path__ = [str(common)]
        sys.modules["common"] = package
        for name in names[1:]:
            sys.modules.pop(name, None)
        spec = importlib.util.spec_from_file_location("_zk_test_book2_common_util", common / "util.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


@pytest.fixture(scope="module")
def book():
    if not BOOK_DIR:
        pytest.skip("set ZK_LAYERS_BOOK2_DIR to a checkout of deep-learning-from-scratch-2 "
                    "to compare with the book's common/util.py")
    if not (Path(BOOK_DIR) / "common" / "util.py").is_file():
        pytest.fail(f"ZK_LAYERS_BOOK2_DIR={BOOK_DIR!r} has no common/util.py")
    return _load_book_util(BOOK_DIR)


def quiet(fn, *args, **kwargs):
    """The book's function without its RuntimeWarnings (zero column sums,
    overflowing scalars)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def printed(fn, *args, **kwargs):
    """(return value, stdout text) of one call."""
    out = io.StringIO()
    with redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def same_array(ours, theirs):
    assert type(ours) is type(theirs)
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs, strict=True)


def random_corpus(rng, n, vocab):
    return rng.integers(0, vocab, size=n)


def co_matrices(rng):
    """Co-occurrence matrices of random corpora (the book's case)."""
    for vocab, n, window in [(7, 8, 1), (5, 40, 2), (30, 500, 1), (60, 3000, 3), (300, 5000, 2)]:
        yield util.create_co_matrix(random_corpus(rng, n, vocab), vocab, window)


def odd_matrices(rng):
    """Matrices the book's ppmi also takes: zero rows and columns, not
    symmetric, negative entries, overflowing int64 products, bool, uint8,
    float32 and float64, more columns than rows, Fortran order."""
    c = rng.integers(0, 5, size=(40, 40)).astype(np.int32)
    c[:, [3, 17]] = 0  # zero column sums: the book divides by zero
    c[[5, 9], :] = 0
    c[3, 4] = 0
    yield c
    c = rng.integers(0, 4, size=(30, 30)).astype(np.int32)
    c[:, 7] = 0
    c[7, :] = 2  # row 7 non-zero where S[7] == 0: ratio inf
    yield c
    yield rng.integers(-3, 4, size=(25, 25)).astype(np.int32)  # log2 of negatives: NaN -> 0
    yield rng.integers(2**40, 2**41, size=(12, 12), dtype=np.int64)  # S[j] * S[i] wraps in int64
    yield rng.integers(0, 2, size=(20, 20)).astype(bool)
    yield rng.integers(0, 200, size=(20, 20)).astype(np.uint8)
    yield (rng.random((30, 30)) * 5).astype(np.float32)
    yield rng.random((30, 30)) * 5
    yield np.asfortranarray(rng.integers(0, 5, size=(30, 30)).astype(np.int32))
    yield rng.integers(0, 5, size=(10, 33)).astype(np.int32)
    yield np.zeros((6, 6), dtype=np.int32)
    yield np.zeros((0, 0), dtype=np.int32)
    yield np.zeros((0, 4), dtype=np.int32)


# ------------------------------------------------------------ preprocess
@pytest.mark.parametrize("text", [TEXT, "", ".", "A  b. a B.c", "the cat. The Dog... x", "一 二 一."])
def test_preprocess_matches_book(book, text):
    corpus, word_to_id, id_to_word = util.preprocess(text)
    book_corpus, book_word_to_id, book_id_to_word = book.preprocess(text)
    same_array(corpus, book_corpus)
    assert list(word_to_id.items()) == list(book_word_to_id.items())
    assert list(id_to_word.items()) == list(book_id_to_word.items())


# ------------------------------------------------------ create_co_matrix
@pytest.mark.parametrize("window", [0, 1, 2, 3, 5])
def test_create_co_matrix_of_the_book_example(book, window):
    corpus, word_to_id, _ = util.preprocess(TEXT)
    same_array(util.create_co_matrix(corpus, len(word_to_id), window),
               book.create_co_matrix(corpus, len(word_to_id), window))


@pytest.mark.parametrize("vocab, n", [(1, 5), (2, 2), (5, 1), (5, 0), (9, 60), (50, 700), (300, 3000)])
@pytest.mark.parametrize("window", [1, 2, 4])
@pytest.mark.parametrize("kind", ["int64", "int32", "uint16", "list"])
def test_create_co_matrix_matches_book(book, vocab, n, window, kind):
    rng = np.random.default_rng(vocab * 1000 + n + window)
    corpus = random_corpus(rng, n, vocab)
    corpus = corpus.tolist() if kind == "list" else corpus.astype(kind)
    before = list(corpus) if kind == "list" else corpus.copy()
    ours = util.create_co_matrix(corpus, vocab, window)
    same_array(ours, book.create_co_matrix(corpus, vocab, window))
    assert ours.dtype == np.int32
    if kind == "list":
        assert corpus == before
    else:
        same_array(corpus, before)


@pytest.mark.parametrize("vocab, n", [(9, 60), (300, 3000)])
def test_create_co_matrix_with_int64_cell_indices(book, monkeypatch, vocab, n):
    # A vocabulary above 46340 words needs int64 flat cell indices (that
    # matrix is 8 GB): the same path on small ones.
    monkeypatch.setattr(util, "_INT32_CELLS", 0)
    corpus = random_corpus(np.random.default_rng(n), n, vocab)
    for window in (1, 3):
        same_array(util.create_co_matrix(corpus, vocab, window), book.create_co_matrix(corpus, vocab, window))


# ------------------------------------------------------------------ ppmi
def _same_ppmi(book, c, **kwargs):
    before = c.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ours warns about nothing
        ours = util.ppmi(c, **kwargs)
    theirs = quiet(book.ppmi, c, **kwargs)
    same_array(ours, theirs)
    assert ours.flags.c_contiguous == theirs.flags.c_contiguous
    assert ours.flags.f_contiguous == theirs.flags.f_contiguous
    same_array(c, before)
    return ours


def test_ppmi_of_the_book_example(book):
    corpus, word_to_id, _ = util.preprocess(TEXT)
    c = util.create_co_matrix(corpus, len(word_to_id))
    m = _same_ppmi(book, c)
    assert m.dtype == np.float32 and m.max() > 0


@pytest.mark.parametrize("eps", [1e-8, 0.0, 1.0, 2.0, 1e-3])
def test_ppmi_of_random_co_matrices(book, eps):
    # eps > 1 makes zero cells positive: the dense path; else the sparse one.
    for c in co_matrices(np.random.default_rng(7)):
        _same_ppmi(book, c, eps=eps)


@pytest.mark.parametrize("eps", [1e-8, 2.0])
def test_ppmi_of_odd_matrices(book, eps):
    for c in odd_matrices(np.random.default_rng(11)):
        _same_ppmi(book, c, eps=eps)


def test_ppmi_with_zero_columns_gives_the_books_inf_and_zeros(book):
    c = np.array([[0, 1, 0], [0, 2, 0], [3, 0, 0]], dtype=np.int32)  # S[2] == 0, S[0] != 0
    m = _same_ppmi(book, c)
    assert np.isinf(m[2, 0])  # C[2, 0] * N / (S[0] * S[2]) = 3 * N / 0
    assert m[0, 2] == 0 and m[2, 2] == 0  # 0 / 0: NaN -> 0


def test_ppmi_with_a_float32_eps(book):
    c = next(co_matrices(np.random.default_rng(3)))
    _same_ppmi(book, c.astype(np.float32), eps=np.float32(1e-8))
    _same_ppmi(book, c, eps=np.float32(1e-8))


@pytest.mark.parametrize("chunk_cells", [1, 5, 64, 1000])
def test_ppmi_in_small_chunks(book, monkeypatch, chunk_cells):
    # Chunks of one row up to several rows, on both paths.
    monkeypatch.setattr(util, "_PPMI_CHUNK_CELLS", chunk_cells)
    rng = np.random.default_rng(chunk_cells)
    for c in list(co_matrices(rng))[:3] + list(odd_matrices(rng))[:3]:
        for eps in (1e-8, 2.0):
            _same_ppmi(book, c, eps=eps)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (7, 7), (10, 10), (13, 13), (3, 50), (99, 101), (120, 120),
                                   (0, 0)])
@pytest.mark.parametrize("chunk_cells", [7, 1 << 17])
def test_ppmi_verbose_prints_the_books_lines(book, monkeypatch, shape, chunk_cells):
    monkeypatch.setattr(util, "_PPMI_CHUNK_CELLS", chunk_cells)
    c = np.random.default_rng(shape[0]).integers(0, 4, size=shape).astype(np.int32)
    ours, ours_text = printed(util.ppmi, c, verbose=True)
    theirs, their_text = printed(quiet, book.ppmi, c, verbose=True)
    same_array(ours, theirs)
    assert ours_text == their_text
    assert shape[0] == 0 or their_text.endswith("% done\n")


# ------------------------------------------------ create_contexts_target
@pytest.mark.parametrize("kind", ["int64", "int32", "uint8", "list", "list of int32", "tuple"])
@pytest.mark.parametrize("window", [1, 2, 3, 4])
def test_create_contexts_target_matches_book(book, kind, window):
    rng = np.random.default_rng(window)
    for n in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 50]:
        corpus = random_corpus(rng, n, 20)
        if kind == "list":
            corpus = corpus.tolist()
        elif kind == "list of int32":
            corpus = list(corpus.astype(np.int32))
        elif kind == "tuple":
            corpus = tuple(corpus.tolist())
        else:
            corpus = corpus.astype(kind)
        contexts, target = util.create_contexts_target(corpus, window)
        book_contexts, book_target = book.create_contexts_target(corpus, window)
        same_array(contexts, book_contexts)
        same_array(target, book_target)
        if isinstance(corpus, np.ndarray):
            assert not np.shares_memory(contexts, corpus) and not np.shares_memory(target, corpus)
        assert contexts.flags.c_contiguous


def test_create_contexts_target_of_the_book_example(book):
    corpus, _, _ = util.preprocess(TEXT)
    for window in (1, 2, 3):
        for ours, theirs in zip(util.create_contexts_target(corpus, window),
                                book.create_contexts_target(corpus, window), strict=True):
            same_array(ours, theirs)


# ------------------------------------------------------- convert_one_hot
def test_convert_one_hot_matches_book(book):
    corpus, word_to_id, _ = util.preprocess(TEXT)
    vocab = len(word_to_id)
    contexts, target = util.create_contexts_target(corpus, 1)
    for ids in (target, contexts, corpus.astype(np.int32), np.zeros((0,), dtype=np.int64),
                np.zeros((0, 2), dtype=np.int64)):
        same_array(util.convert_one_hot(ids, vocab), book.convert_one_hot(ids, vocab))
    ids = np.random.default_rng(0).integers(0, 50, size=(30, 6))
    same_array(util.convert_one_hot(ids, 50), book.convert_one_hot(ids, 50))
    for shape in ((0,), (0, 3), (4, 0)):
        ids = np.zeros(shape, dtype=np.int64)
        same_array(util.convert_one_hot(ids, 0), book.convert_one_hot(ids, 0))


# -------------------------------------------------------- cos_similarity
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("width", WIDTHS)
def test_cos_similarity_matches_book(book, dtype, width):
    rng = np.random.default_rng(width)
    x, y = (rng.standard_normal((2, width)) * 10).astype(dtype)
    ours, theirs = util.cos_similarity(x, y), book.cos_similarity(x, y)
    assert type(ours) is type(theirs) and ours == theirs
    zero = np.zeros(width, dtype=dtype)
    assert util.cos_similarity(zero, y) == book.cos_similarity(zero, y)


# ---------------------------------------------------------- most_similar
def _word_matrices(rng, vocab, width):
    """Word matrices as the scripts make them: float32 and float64, int32
    counts (ch02 passes the co-occurrence matrix), a column slice of a wider
    matrix (ch02's U[:, :wordvec_size]), Fortran order, zero rows."""
    base = rng.standard_normal((vocab, width)) * rng.uniform(0.01, 100, size=(vocab, 1))
    base[3] = 0  # a zero row: 0 / (0 + eps)
    yield base.astype(np.float32)
    yield base
    yield np.asfortranarray(base.astype(np.float32))
    yield (np.abs(base) * 10).astype(np.int32)
    yield (base / 1000).astype(np.float16)  # the book's own per-row arithmetic
    wide = rng.standard_normal((vocab, width + 5)).astype(np.float32)
    yield wide[:, :width]
    yield wide[:, 5:][::-1]


def _vocab(n):
    id_to_word = {i: f"w{i}" for i in range(n)}
    return {w: i for i, w in id_to_word.items()}, id_to_word


# float16: its zero row is 0 / (0 + float16(1e-8)) = 0 / 0 on both sides.
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("width", WIDTHS)
def test_most_similar_similarities_are_the_books_bitwise(book, width):
    # All rows' cosines, not only the printed top: the vectorised
    # normalisation against the book's loop of cos_similarity.
    rng = np.random.default_rng(width)
    for matrix in _word_matrices(rng, 60, width):
        for query_id in (0, 3, 59):
            query_vec = matrix[query_id]
            expected = np.zeros(matrix.shape[0])
            for i in range(matrix.shape[0]):
                expected[i] = book.cos_similarity(matrix[i], query_vec)
            same_array(util._similarities(matrix, query_vec), expected)


@pytest.mark.parametrize("width", [1000, 4096, 8193])
def test_most_similar_similarities_of_wide_rows(book, width):
    rng = np.random.default_rng(width)
    for dtype in (np.float32, np.float64):
        matrix = rng.standard_normal((8, width)).astype(dtype)
        expected = np.array([book.cos_similarity(row, matrix[2]) for row in matrix], dtype=np.float64)
        same_array(util._similarities(matrix, matrix[2]), expected)


# float16: its zero row is 0 / (0 + float16(1e-8)) = 0 / 0 on both sides.
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("width", [1, 7, 8, 16, 100, 129, 300])
def test_most_similar_prints_the_books_lines(book, width):
    rng = np.random.default_rng(width + 1)
    word_to_id, id_to_word = _vocab(40)
    for matrix in _word_matrices(rng, 40, width):
        for query, top in (("w0", 5), ("w3", 3), ("w17", 40), ("w39", 0), ("nothing", 5)):
            ours = printed(util.most_similar, query, word_to_id, id_to_word, matrix, top=top)
            theirs = printed(book.most_similar, query, word_to_id, id_to_word, matrix, top=top)
            assert ours == theirs


def test_most_similar_of_the_book_example(book):
    corpus, word_to_id, id_to_word = util.preprocess(TEXT)
    c = util.create_co_matrix(corpus, len(word_to_id))
    for matrix in (c, util.ppmi(c)):
        ours = printed(util.most_similar, "you", word_to_id, id_to_word, matrix, top=5)
        assert ours == printed(book.most_similar, "you", word_to_id, id_to_word, matrix, top=5)
        assert ours[1].startswith("\n[query] you\n")


def test_most_similar_with_more_rows_than_words(book):
    word_to_id, id_to_word = _vocab(10)
    matrix = np.random.default_rng(0).standard_normal((14, 6)).astype(np.float32)
    assert printed(util.most_similar, "w2", word_to_id, id_to_word, matrix, top=9) == \
        printed(book.most_similar, "w2", word_to_id, id_to_word, matrix, top=9)


# --------------------------------------------------- analogy / normalize
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 8, 100, 129])
def test_analogy_matches_book(book, dtype, width):
    rng = np.random.default_rng(width)
    word_to_id, id_to_word = _vocab(50)
    matrix = rng.standard_normal((50, width)).astype(dtype)
    normalised = util.normalize(matrix.copy())
    matrix[7] = np.nan  # NaN scores are skipped
    for m in (matrix, normalised):
        for args, kwargs in ((("w1", "w2", "w3"), {}), (("w4", "w5", "w6"), {"top": 10, "answer": "w9"}),
                             (("w1", "w1", "w1"), {"top": 49}), (("w1", "none", "w2"), {})):
            before = m.copy()
            ours = printed(util.analogy, *args, word_to_id, id_to_word, m, **kwargs)
            theirs = printed(quiet, book.analogy, *args, word_to_id, id_to_word, m, **kwargs)
            assert ours == theirs
            same_array(m, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (1,), (5, 9), (40, 300), (3, 1)])
def test_normalize_matches_book_in_place(book, dtype, shape):
    x = (np.random.default_rng(shape[0]).standard_normal(shape) * 3).astype(dtype)
    ours_in, theirs_in = x.copy(), x.copy()
    ours, theirs = util.normalize(ours_in), book.normalize(theirs_in)
    assert ours is ours_in and theirs is theirs_in  # the book's contract: in place
    same_array(ours, theirs)
    assert not np.array_equal(ours_in, x)


# ------------------------------------------------------------ clip_grads
def _grad_lists(rng):
    shapes = [(3, 4), (7,), (1,), (50, 20), (129,), (2, 3, 5)]
    yield [rng.standard_normal(s).astype(np.float32) for s in shapes]
    yield [rng.standard_normal(s) for s in shapes]
    yield [rng.standard_normal(s).astype(np.float32 if k % 2 else np.float64) for k, s in enumerate(shapes)]
    yield [np.asfortranarray(rng.standard_normal((6, 5)).astype(np.float32)),
           rng.standard_normal((9, 8)).astype(np.float32)[::2, 1::3]]
    grad = rng.standard_normal((4, 4)).astype(np.float32)
    yield [grad, rng.standard_normal(3).astype(np.float32), grad]  # one array twice: scaled twice
    yield [np.zeros(5, dtype=np.float32)]
    yield []


@pytest.mark.parametrize("max_norm", [0.0, 1e-3, 0.5, 5.0, 1e6, 3])
def test_clip_grads_matches_book(book, max_norm):
    for grads in _grad_lists(np.random.default_rng(1)):
        ours = [g.copy() for g in grads]
        theirs = [g.copy() for g in grads]
        if len(grads) == 3 and grads[0] is grads[2]:
            ours[2], theirs[2] = ours[0], theirs[0]
        assert util.clip_grads(ours, max_norm) is None
        book.clip_grads(theirs, max_norm)
        for g, t in zip(ours, theirs, strict=True):
            same_array(g, t)


# ------------------------------------------------------- eval_perplexity
class _RecordingModel:
    """Records the batches it is given; returns a loss from them."""

    def __init__(self, keyword: bool):
        self.keyword = keyword
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def _loss(self, xs, ts):
        self.batches.append((xs.copy(), ts.copy()))
        return np.float32(np.log1p(xs.sum() % 97 + ts.sum() % 89) / 3)


class _KeywordModel(_RecordingModel):
    def forward(self, xs, ts, train_flg=True):
        assert train_flg is False
        return self._loss(xs, ts)


class _PlainModel(_RecordingModel):
    def forward(self, xs, ts):
        return self._loss(xs, ts)


@pytest.mark.parametrize("model_type", [_KeywordModel, _PlainModel])
@pytest.mark.parametrize("n, batch_size, time_size", [(2000, 10, 35), (351, 10, 35), (100, 3, 7), (37, 1, 1),
                                                      (500, 7, 5)])
@pytest.mark.parametrize("kind", ["array", "list", "int32"])
def test_eval_perplexity_matches_book(book, model_type, n, batch_size, time_size, kind):
    corpus = np.random.default_rng(n).integers(0, 1000, size=n)
    corpus = corpus.tolist() if kind == "list" else corpus.astype(kind) if kind != "array" else corpus
    ours_model, their_model = model_type(True), model_type(True)
    ours = printed(util.eval_perplexity, ours_model, corpus, batch_size, time_size)
    theirs = printed(book.eval_perplexity, their_model, corpus, batch_size, time_size)
    assert type(ours[0]) is type(theirs[0]) and ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    assert len(ours_model.batches) == len(their_model.batches) > 0
    for (xs, ts), (bxs, bts) in zip(ours_model.batches, their_model.batches, strict=True):
        same_array(xs, bxs)
        same_array(ts, bts)


# ---------------------------------------------------------- eval_seq2seq
class _Seq2seq:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def generate(self, question, start_id, sample_size):
        self.calls.append((question.copy(), start_id, sample_size))
        return list(self.answer[:sample_size])


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("is_reverse", [False, True])
@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("os_name", ["posix", "nt"])
def test_eval_seq2seq_matches_book(book, monkeypatch, verbose, is_reverse, right, os_name):
    id_to_char = dict(enumerate("0123456789+-_ "))
    question = np.array([[1, 2, 10, 3, 4, 13]])
    correct = np.array([[12, 4, 6, 13]])
    answer = [4, 6, 13] if right else [4, 5, 13]
    results = []
    for fn in (util.eval_seq2seq, book.eval_seq2seq):
        model = _Seq2seq(answer)
        with monkeypatch.context() as patch:
            patch.setattr(os, "name", os_name)
            result, text = printed(fn, model, question, correct, id_to_char, verbose, is_reverse)
        results.append((result, text, model.calls[0][1], model.calls[0][2]))
        same_array(model.calls[0][0], question)
    assert results[0] == results[1]
    assert results[0][0] == (1 if right else 0)


# ---------------------------------------------------------------- devices
def test_to_cpu_and_to_gpu():
    x = np.arange(3.0)
    assert util.to_cpu(x) is x
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        util.to_cpu([1.0, 2.0])
    with pytest.raises(ValueError, match="zk_layers is CPU code"):
        util.to_gpu(x)


def test_module_namespace_has_the_books_names(book):
    public = {name for name in vars(book) if not name.startswith("_")}
    assert public <= set(dir(util))
    assert public <= set(util.__all__)
    assert util.np is np and util.GPU is False and util.sys is sys and util.os is os


# ----------------------------------------------------------- input checks
BAD_CALLS = [
    (lambda: util.preprocess(b"bytes"), TypeError, "text must be a str"),
    (lambda: util.create_co_matrix([0, 1, 5], 5), ValueError, r"word ids in \[0, vocab_size\) = \[0, 5\), got 5"),
    (lambda: util.create_co_matrix(np.array([0, -1, 2]), 5), ValueError, "got -1 at position 1"),
    (lambda: util.create_co_matrix(np.array([0.0, 1.0]), 5), TypeError, "integer word ids, got dtype float64"),
    (lambda: util.create_co_matrix(np.zeros((2, 2), dtype=int), 5), ValueError, "1-D sequence of word ids"),
    (lambda: util.create_co_matrix([0, 1], 5, -1), ValueError, "window_size must be a non-negative integer"),
    (lambda: util.create_co_matrix([0, 1], 5, 1.5), TypeError, "window_size must be a non-negative integer"),
    (lambda: util.create_co_matrix([0, 1], True), TypeError, "vocab_size must be"),
    (lambda: util.create_co_matrix("0 1", 5), TypeError, "corpus must be a 1-D sequence"),
    (lambda: util.create_co_matrix({0, 1}, 5), TypeError, "corpus must be a 1-D sequence"),
    (lambda: util.create_co_matrix([[0, 1], [2]], 5), TypeError, "corpus must be a 1-D sequence"),
    (lambda: util.convert_one_hot(np.zeros((2, 2, 2), dtype=int), 5), ValueError, "1-D or 2-D array"),
    (lambda: util.convert_one_hot(np.array([[0, 7]]), 5), ValueError, r"got 7 at position \(0, 1\)"),
    (lambda: util.ppmi(np.zeros(4)), ValueError, "C must be a 2-D co-occurrence matrix"),
    (lambda: util.ppmi([[1, 2], [3, 4]]), TypeError, "C must be a 2-D co-occurrence matrix"),
    (lambda: util.ppmi(np.zeros((3, 2))), ValueError, r"at most as many rows as columns.*\(3, 2\)"),
    (lambda: util.ppmi(np.zeros((2, 2), dtype=object)), TypeError, "C must hold real numbers"),
    (lambda: util.ppmi(np.zeros((2, 2), dtype=complex)), TypeError, "C must hold real numbers"),
    (lambda: util.ppmi(np.zeros((2, 2)), eps="1e-8"), TypeError, "eps must be a real number"),
    (lambda: util.create_contexts_target([0, 1, 2], 0), ValueError, "window_size must be a positive integer, got 0"),
    (lambda: util.create_contexts_target([0, 1, 2], -2), ValueError, "window_size must be a positive integer"),
    (lambda: util.create_contexts_target([0.5, 1, 2], 1), TypeError, "integer word ids"),
    (lambda: util.cos_similarity(np.ones(3), np.ones(4)), ValueError, "same length, got 3 and 4"),
    (lambda: util.cos_similarity(np.ones((2, 3)), np.ones(3)), ValueError, "x must be a 1-D vector"),
    (lambda: util.cos_similarity([1.0], np.ones(1)), TypeError, "x must be a 1-D vector"),
    (lambda: util.most_similar("w0", *_vocab(5), np.ones((4, 3))), ValueError, "a row for each of the 5 words"),
    (lambda: util.most_similar("w0", *_vocab(5), [[1.0]] * 5), TypeError, "word_matrix must be a 2-D matrix"),
    (lambda: util.analogy("w0", "w1", "w2", *_vocab(5), np.ones((5, 3)), answer="zz"), ValueError,
     "answer must be a word of word_to_id"),
    (lambda: util.normalize(np.ones((2, 2, 2))), ValueError, "x must be a 1-D vector or a 2-D matrix"),
    (lambda: util.normalize(np.ones(3, dtype=np.int32)), TypeError, "floating-point array"),
    (lambda: util.clip_grads(np.ones(3), 1.0), TypeError, "grads must be a list"),
    (lambda: util.clip_grads([np.ones(3, dtype=int)], 1.0), TypeError, r"grads\[0\] must be a floating-point"),
    (lambda: util.clip_grads([np.ones(3)], -1.0), ValueError, "max_norm must be >= 0"),
    (lambda: util.clip_grads([np.ones(3)], float("nan")), ValueError, "max_norm must be >= 0"),
    (lambda: util.clip_grads([np.ones(3)], "1"), TypeError, "max_norm must be a real number"),
    (lambda: util.eval_perplexity(None, list(range(350)), 10, 35), ValueError,
     "more than batch_size \\* time_size = 350 words"),
    (lambda: util.eval_perplexity(None, list(range(900)), 0, 35), ValueError, "batch_size must be a positive"),
    (lambda: util.eval_seq2seq(None, [1, 2], np.array([1, 2]), {}), TypeError, "question must be a NumPy array"),
    (lambda: util.eval_seq2seq(None, np.array([1]), np.array([], dtype=int), {}), ValueError,
     "correct must hold the start id"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS)
def test_bad_arguments_are_rejected(capsys, call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert capsys.readouterr().out == ""  # nothing printed before the check


def test_inputs_are_not_changed():
    rng = np.random.default_rng(5)
    corpus = random_corpus(rng, 200, 30)
    kept = corpus.copy()
    c = util.create_co_matrix(corpus, 30, 2)
    c_kept = c.copy()
    util.ppmi(c, verbose=False)
    util.create_contexts_target(corpus, 2)
    util.convert_one_hot(corpus, 30)
    matrix = rng.standard_normal((30, 8)).astype(np.float32)
    matrix_kept = matrix.copy()
    printed(util.most_similar, "w1", *_vocab(30), matrix)
    printed(util.analogy, "w1", "w2", "w3", *_vocab(30), matrix)
    util.cos_similarity(matrix[0], matrix[1])
    np.testing.assert_array_equal(corpus, kept)
    np.testing.assert_array_equal(c, c_kept)
    np.testing.assert_array_equal(matrix, matrix_kept)
