"""Convolution, Pooling, im2col and col2im: fast against the reference.

Shapes cover the book's (5x5 filters on 28x28, 2x2 pooling with stride 2,
ch08's 3x3 with pad 1 and 7x7 pooled to 3x3) and odd ones (rectangular
filters and images, strides that leave rows unused, padding wider than the
filter).  Every hostile case runs on both implementations and must raise the
same exception with the same message; the ones that could crash a kernel run
in a forked child.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from conftest import arrange, in_forked_child, tolerance
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import reference
from zk_layers._threads import forced_grain

IMPLEMENTATIONS = {"fast": zk, "reference": reference}

# (N, C, H, W, FN, FH, FW, stride, pad)
CONV_CASES = [
    (4, 1, 28, 28, 6, 5, 5, 1, 0),  # the book's SimpleConvNet (fewer filters)
    (3, 2, 8, 8, 4, 3, 3, 1, 1),  # ch08's 3x3, pad 1
    (2, 3, 9, 7, 5, 3, 2, 2, 0),  # rectangular, stride 2 leaves a column unused
    (2, 2, 5, 6, 3, 2, 3, 3, 2),  # pad wider than the filter
    (1, 1, 4, 4, 2, 4, 4, 1, 0),  # filter as large as the image: 1x1 output
    (3, 1, 6, 5, 1, 1, 1, 1, 0),  # 1x1 filter
    (0, 2, 6, 6, 3, 3, 3, 1, 1),  # empty batch
]
# (N, C, H, W, pool_h, pool_w, stride, pad)
POOL_CASES = [
    (4, 3, 24, 24, 2, 2, 2, 0),  # the book's
    (2, 2, 7, 7, 2, 2, 2, 0),  # ch08: 7x7 pooled to 3x3
    (2, 3, 9, 8, 3, 3, 1, 0),  # overlapping windows
    (2, 2, 6, 7, 3, 2, 2, 1),  # zero padding
    (3, 1, 5, 5, 1, 1, 1, 0),
    (0, 2, 6, 6, 2, 2, 2, 0),
]


def assert_sums_close(actual, expected, dtype):
    """Sums over many products (dW, db, dx): rounding scales with the
    largest value, not with each element (some are sums that cancel)."""
    tol = tolerance(dtype)
    scale = max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0
    assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["rtol"] * scale)


def _conv_data(case, dtype, rng):
    n, c, h, w, fn, fh, fw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = (0.3 * rng.standard_normal((fn, c, fh, fw))).astype(dtype)
    b = rng.standard_normal(fn).astype(dtype)
    return x, W, b, stride, pad


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_im2col_col2im_match_reference(case, dtype, rng):
    x, W, _, stride, pad = _conv_data(case, dtype, rng)
    fh, fw = W.shape[2:]
    col = zk.im2col(x, fh, fw, stride, pad)
    expected = reference.im2col(x, fh, fw, stride, pad)
    assert col.dtype == dtype and col.shape == expected.shape
    assert_array_equal(col, expected)  # a copy: exact
    dcol = rng.standard_normal(col.shape).astype(dtype)
    dx = zk.col2im(dcol, x.shape, fh, fw, stride, pad)
    assert dx.dtype == dtype
    # The same additions in the same order as the book's col2im: exact.
    assert_array_equal(dx, reference.col2im(dcol, x.shape, fh, fw, stride, pad))


def test_im2col_values_by_hand():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    col = zk.im2col(x, 2, 2, stride=1, pad=0)
    assert col.shape == (8, 4)
    assert_array_equal(col[0], [0, 1, 3, 4])
    assert_array_equal(col[3], [4, 5, 7, 8])
    assert_array_equal(col[4], [9, 10, 12, 13])
    padded = zk.im2col(x[:1], 2, 2, stride=2, pad=1)  # 2x2 outputs, zeros around
    assert_array_equal(padded, [[0, 0, 0, 0], [0, 0, 1, 2], [0, 3, 0, 6], [4, 5, 7, 8]])
    # col2im adds every copy back: each pixel times the number of patches reading it
    counts = zk.col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2)
    assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolution_matches_reference(case, dtype, rng):
    x, W, b, stride, pad = _conv_data(case, dtype, rng)
    fast, ref = zk.Convolution(W, b, stride, pad), reference.Convolution(W, b, stride, pad)
    out = fast.forward(x)
    expected = ref.forward(x)
    assert out.dtype == dtype and out.shape == expected.shape
    assert_allclose(out, expected, **tolerance(dtype))
    assert_array_equal(fast.col, ref.col)
    assert_array_equal(fast.col_W, ref.col_W)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = fast.backward(dout)
    assert_sums_close(dx, ref.backward(dout), dtype)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_sums_close(fast.dW, ref.dW, dtype)
    assert_sums_close(fast.db, ref.db, dtype)
    assert fast.dW.shape == W.shape and fast.db.shape == b.shape


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pooling_matches_reference(case, dtype, rng):
    n, c, h, w, ph, pw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    fast, ref = zk.Pooling(ph, pw, stride, pad), reference.Pooling(ph, pw, stride, pad)
    out = fast.forward(x)
    assert out.dtype == dtype
    assert_array_equal(out, ref.forward(x))  # maxima: exact
    assert fast.arg_max.dtype == np.intp
    assert_array_equal(fast.arg_max, ref.arg_max)
    dout = rng.standard_normal(out.shape).astype(dtype)
    assert_allclose(fast.backward(dout), ref.backward(dout), **tolerance(dtype))


def test_pooling_ties_nan_and_signed_zeros_as_numpy(rng):
    for _ in range(100):
        x = rng.integers(-2, 3, (2, 2, 6, 7)).astype(np.float64)
        x[rng.random(x.shape) < 0.05] = np.nan
        x[rng.random(x.shape) < 0.1] = -0.0
        for ph, pw, stride in ((2, 2, 2), (3, 2, 1)):
            fast, ref = zk.Pooling(ph, pw, stride), reference.Pooling(ph, pw, stride)
            assert_array_equal(fast.forward(x), ref.forward(x))
            assert_array_equal(fast.arg_max, ref.arg_max)


@pytest.mark.parametrize("shape", [(3, 2, 24, 24), (2, 3, 7, 7), (2, 1, 6, 9), (1, 2, 5, 4)], ids=str)
def test_book_pooling_backward_is_the_books_exactly(shape, dtype, rng, threads):
    """The 2x2 stride-2 backward writes each pixel once instead of adding
    into zeros: the same bits as the book's col2im, signed zeros, inf and
    NaN included, and zeros where no window reaches (odd sizes); at 1, 2
    and 4 threads."""
    x = rng.standard_normal(shape).astype(dtype)
    ref = reference.Pooling(2, 2)
    dout = rng.standard_normal(ref.forward(x).shape).astype(dtype)
    flat = dout.reshape(-1)
    flat[::5] = -0.0
    flat[1::7] = np.inf
    flat[2::11] = np.nan
    expected = ref.backward(dout)
    for n in (1, 2, 4):
        threads(n)
        with forced_grain(1):
            fast = zk.Pooling(2, 2)
            fast.forward(x)
            got = fast.backward(dout)
        assert_array_equal(got, expected)
        assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (3, 2, 3, 3)], ids=str)  # (3, 2, 3, 3): one position
def test_col_is_the_callers_while_the_layer_reuses_its_patches(shape, rng):
    """The layer reuses its patch buffer from one forward to the next; a
    ``col`` taken earlier is a copy and keeps the earlier images' patches,
    and backward uses the latest forward's."""
    W, b = rng.standard_normal((4, shape[1], 3, 3)), rng.standard_normal(4)
    fast, ref = zk.Convolution(W, b), reference.Convolution(W, b)
    x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
    fast.forward(x1)
    col1 = fast.col
    ref.forward(x1)
    expected1 = ref.col.copy()
    out = fast.forward(x2)
    ref.forward(x2)
    assert_array_equal(col1, expected1)
    assert_array_equal(fast.col, ref.col)
    dout = rng.standard_normal(out.shape)
    assert_sums_close(fast.backward(dout), ref.backward(dout), np.float64)
    assert_sums_close(fast.dW, ref.dW, np.float64)
    fast.forward(x1[:1])  # another shape: a new buffer
    ref.forward(x1[:1])
    assert_array_equal(fast.col, ref.col)


@pytest.mark.parametrize("layout", ["F", "strided", "readonly"])
def test_layouts(layout, dtype, rng):
    x, W, b, stride, pad = _conv_data(CONV_CASES[1], dtype, rng)
    conv = zk.Convolution(arrange(W, layout), arrange(b, layout), stride, pad)
    ref = reference.Convolution(W, b, stride, pad)
    xa = arrange(x, layout)
    out = conv.forward(xa)
    assert_allclose(out, ref.forward(x), **tolerance(dtype))
    dout = rng.standard_normal(out.shape).astype(dtype)
    assert_sums_close(conv.backward(arrange(dout, layout)), ref.backward(dout), dtype)
    assert_sums_close(conv.dW, ref.dW, dtype)
    pool, pref = zk.Pooling(2, 2), reference.Pooling(2, 2)
    assert_array_equal(pool.forward(xa), pref.forward(x))
    d = rng.standard_normal(pref.forward(x).shape).astype(dtype)
    assert_allclose(pool.backward(arrange(d, layout)), pref.backward(d), **tolerance(dtype))


def test_inputs_never_modified_and_W_kept(rng):
    x, W, b, stride, pad = _conv_data(CONV_CASES[0], np.float64, rng)
    x0, W0 = x.copy(), W.copy()
    conv = zk.Convolution(W, b)
    assert conv.W is W and conv.b is b
    out = conv.forward(x)
    dout = np.ones_like(out)
    conv.backward(dout)
    assert_array_equal(x, x0)
    assert_array_equal(W, W0)
    W -= 0.1 * conv.dW  # the book's in-place update reaches the layer
    assert_allclose(conv.forward(x), reference.Convolution(W.copy(), b).forward(x), rtol=1e-12, atol=1e-13)


def test_books_mixed_case_float32_images_float64_weights(rng):
    x, W, b, stride, pad = _conv_data(CONV_CASES[0], np.float64, rng)
    x32 = x.astype(np.float32)
    fast, ref = zk.Convolution(W, b), reference.Convolution(W, b)
    out = fast.forward(x32)
    assert out.dtype == np.float64  # as NumPy would: float64
    expected = ref.forward(x32)
    assert_allclose(out, expected, rtol=1e-12, atol=1e-13)
    # ... and the same as convolving the float64 copy of the images
    assert_allclose(out, reference.Convolution(W, b).forward(x32.astype(np.float64)), rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal(out.shape)
    assert_allclose(fast.backward(dout), ref.backward(dout), rtol=1e-12, atol=1e-13)
    assert_sums_close(fast.dW, ref.dW, np.float64)  # sums that cancel: scaled by the largest


@pytest.mark.parametrize("case", [(20, 1, 28, 28, 30, 5, 5, 1, 0), (7, 2, 8, 8, 4, 3, 3, 1, 1),
                                  (3, 2, 4, 4, 4, 4, 4, 1, 0)], ids=str)  # the last: a 1x1 output
def test_blocks_of_images_change_no_bits(case, dtype, rng, monkeypatch):
    """forward and backward work on blocks of images (_BLOCK_BYTES): one
    image per block, the book's 9 and all at once give the same bits."""
    from zk_layers import convolution

    x, W, b, stride, pad = _conv_data(case, dtype, rng)
    results = []
    for block_bytes in (1, convolution._BLOCK_BYTES, 1 << 40):
        monkeypatch.setattr(convolution, "_BLOCK_BYTES", block_bytes)
        conv = zk.Convolution(W, b, stride, pad)
        out = conv.forward(x)
        dx = conv.backward(np.cos(out))
        dx_again = conv.backward(np.cos(out))  # the reused buffers give the same again
        results.append((out, dx, conv.dW, conv.db, conv.col))
        assert_array_equal(dx_again, dx)
    for other in results[1:]:
        for a, b_ in zip(results[0], other, strict=True):
            assert_array_equal(a, b_)
    # dx is col2im of W.T @ dout, bit for bit, whatever layout W.T is given in
    out = results[0][0]
    n, fn, fh, fw = out.shape[0], W.shape[0], W.shape[2], W.shape[3]
    dcol = np.matmul(W.reshape(fn, -1).T, np.cos(out).reshape(n, fn, -1))
    expected = zk.col2im(dcol.transpose(0, 2, 1).reshape(-1, dcol.shape[1]), x.shape, fh, fw, stride, pad)
    assert_array_equal(results[0][1], expected)
    ref = reference.Convolution(W, b, stride, pad)
    assert_allclose(results[0][0], ref.forward(x), **tolerance(dtype))
    assert_sums_close(results[0][1], ref.backward(np.cos(results[0][0])), dtype)


def test_need_dx_false_gives_the_same_parameter_gradients(rng):
    x, W, b, stride, pad = _conv_data(CONV_CASES[1], np.float64, rng)
    full, lean = zk.Convolution(W, b, stride, pad), zk.Convolution(W, b, stride, pad, need_dx=False)
    dout = rng.standard_normal(full.forward(x).shape)
    lean.forward(x)
    assert lean.backward(dout) is None
    full.backward(dout)
    assert_array_equal(lean.dW, full.dW)
    assert_array_equal(lean.db, full.db)


@pytest.mark.parametrize("case", [CONV_CASES[0], CONV_CASES[2], CONV_CASES[3]], ids=str)
def test_bitwise_identical_for_1_2_4_threads(case, dtype, rng, threads):
    x, W, b, stride, pad = _conv_data(case, dtype, rng)
    results = []
    for n in (1, 2, 4):
        threads(n)
        with forced_grain(1):
            conv = zk.Convolution(W, b, stride, pad)
            out = conv.forward(x)
            dx = conv.backward(np.cos(out))
            pool = zk.Pooling(2, 2, 1)
            pooled = pool.forward(out)
            dpool = pool.backward(np.sin(pooled))
            col = zk.im2col(x, W.shape[2], W.shape[3], stride, pad)
            back = zk.col2im(col, x.shape, W.shape[2], W.shape[3], stride, pad)
        results.append((out, dx, conv.dW, conv.db, pooled, pool.arg_max, dpool, col, back))
    for other in results[1:]:
        for a, b_ in zip(results[0], other, strict=True):
            assert_array_equal(a, b_)


def test_book_convolution_splits_images_across_threads_with_the_same_bits(rng, threads):
    """The book's case (float32 images, float64 weights, 100 images, 30
    filters 5x5): with more than one thread the images are split into
    parts, one per thread, on helper threads; every number is the same as
    on one thread."""
    from zk_layers import _platform, convolution

    if not _platform.openmp_enabled():
        pytest.skip("built without OpenMP: one thread, no parts")
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    W, b = 0.01 * rng.standard_normal((30, 1, 5, 5)), rng.standard_normal(30)
    results = []
    for n, grain in ((1, None), (2, None), (3, 1)):  # the real grains give 2 parts at most here
        threads(n)
        with forced_grain(grain) if grain else contextlib.nullcontext():
            assert convolution._image_parts(100, 30 * 25 * 576, 100 * 25 * 576) == n
            conv = zk.Convolution(W, b)
            out = conv.forward(x)
            dx = conv.backward(np.cos(out))
        results.append((out, dx, conv.dW, conv.db, conv.col))
    assert_allclose(results[0][0], reference.Convolution(W, b).forward(x), rtol=1e-12, atol=1e-14)
    for other in results[1:]:
        for a, b_ in zip(results[0], other, strict=True):
            assert_array_equal(a, b_)


def test_large_products_stay_on_one_loop(threads):
    """Products BLAS threads itself are not split over images."""
    from zk_layers import convolution

    threads(2)
    assert convolution._image_parts(100, 64 * 144 * 784, 100 * 144 * 784) == 1
    assert convolution._image_parts(0, 10, 0) == 1  # an empty batch: one (empty) part


@pytest.mark.parametrize("impl", [zk, reference], ids=["fast", "reference"])
def test_gradient_check_convolution(impl, rng):
    x, W, b, stride, pad = _conv_data((2, 2, 6, 5, 3, 3, 2, 2, 1), np.float64, rng)
    result = zk.gradient_check(impl.Convolution(W, b, stride, pad), x)
    for name, comparison in result.items():
        assert comparison.max_abs_diff < 1e-7, (name, comparison.max_abs_diff)
    assert set(result) >= {"x", "W", "b"}


@pytest.mark.parametrize("impl", [zk, reference], ids=["fast", "reference"])
def test_gradient_check_pooling(impl, rng):
    # Distinct values spaced far apart: h = 1e-4 never changes a window's argmax.
    x = rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7).astype(np.float64)
    for ph, pw, stride, pad in ((2, 2, 2, 0), (3, 2, 1, 1)):
        result = zk.gradient_check(impl.Pooling(ph, pw, stride, pad), x)
        assert result["x"].max_abs_diff < 1e-7


# ------------------------------------------------------------ bad input
def _outcome(fn):
    try:
        fn()
        return ("ok", None)
    except Exception as exc:  # the exception is the result
        return (type(exc).__name__, str(exc))


def _same_error_in_both(make_call, expected_type):
    outcomes = {name: _outcome(lambda impl=impl: make_call(impl)) for name, impl in IMPLEMENTATIONS.items()}
    assert outcomes["fast"] == outcomes["reference"], outcomes
    assert outcomes["fast"][0] == expected_type.__name__, outcomes
    return outcomes["fast"][1]


X = np.zeros((2, 3, 6, 6))
W3 = np.zeros((4, 3, 3, 3))
B4 = np.zeros(4)

BAD_CONSTRUCTION = [
    ("stride 0", lambda m: m.Convolution(W3, B4, stride=0), ValueError, "stride"),
    ("negative pad", lambda m: m.Convolution(W3, B4, pad=-1), ValueError, "pad"),
    ("float stride", lambda m: m.Convolution(W3, B4, stride=1.5), TypeError, "stride"),
    ("bool pad", lambda m: m.Convolution(W3, B4, pad=True), TypeError, "pad"),
    ("W 3-D", lambda m: m.Convolution(np.zeros((4, 3, 3)), B4), ValueError, "W"),
    ("W int", lambda m: m.Convolution(np.zeros((4, 3, 3, 3), int), B4), TypeError, "W"),
    ("W list", lambda m: m.Convolution(W3.tolist(), B4), TypeError, "W"),
    ("W empty filter", lambda m: m.Convolution(np.zeros((4, 3, 0, 3)), B4), ValueError, "W"),
    ("b wrong length", lambda m: m.Convolution(W3, np.zeros(3)), ValueError, "b"),
    ("pool 0", lambda m: m.Pooling(0, 2), ValueError, "pool_h"),
    ("pool stride 0", lambda m: m.Pooling(2, 2, stride=0), ValueError, "stride"),
    ("pool negative pad", lambda m: m.Pooling(2, 2, pad=-2), ValueError, "pad"),
    ("pool float", lambda m: m.Pooling(2.0, 2), TypeError, "pool_h"),
]

BAD_FORWARD = [
    ("filter larger than input", lambda m: m.Convolution(np.zeros((2, 3, 7, 3)), np.zeros(2)).forward(X),
     ValueError, "larger than the padded input"),
    ("channel mismatch", lambda m: m.Convolution(np.zeros((2, 1, 3, 3)), np.zeros(2)).forward(X),
     ValueError, "channel"),
    ("x 3-D", lambda m: m.Convolution(W3, B4).forward(X[0]), ValueError, "(N, C, H, W)"),
    ("x bool", lambda m: m.Convolution(W3, B4).forward(X > 0), TypeError, "booleans"),
    ("x complex", lambda m: m.Convolution(W3, B4).forward(X + 1j), TypeError, "complex"),
    ("x strings", lambda m: m.Convolution(W3, B4).forward(np.full((1, 3, 4, 4), "a")), TypeError, "strings"),
    ("x zero width", lambda m: m.Convolution(W3, B4).forward(np.zeros((1, 3, 4, 0))), ValueError, "column"),
    ("pool larger than input", lambda m: m.Pooling(7, 2).forward(X), ValueError, "larger than the padded"),
    ("pool x 2-D", lambda m: m.Pooling(2, 2).forward(np.zeros((4, 4))), ValueError, "(N, C, H, W)"),
    ("stride reassigned to 0", lambda m: _reassigned(m.Convolution(W3, B4), "stride", 0).forward(X),
     ValueError, "stride"),
    ("W reassigned to a list", lambda m: _reassigned(m.Convolution(W3, B4), "W", [1.0]).forward(X),
     TypeError, "W"),
    ("im2col filter 0", lambda m: m.im2col(X, 0, 3), ValueError, "filter_h"),
    ("im2col too large", lambda m: m.im2col(X, 3, 9), ValueError, "larger than the padded"),
    ("im2col 3-D", lambda m: m.im2col(X[0], 3, 3), ValueError, "input_data"),
    ("col2im wrong col", lambda m: m.col2im(np.zeros((5, 27)), X.shape, 3, 3), ValueError, "col"),
    ("col2im bad shape", lambda m: m.col2im(np.zeros((32, 27)), (2, 3, 6), 3, 3), ValueError, "input_shape"),
    ("col2im shape of floats", lambda m: m.col2im(np.zeros((32, 27)), (2.0, 3, 6, 6), 3, 3), TypeError,
     "input_shape"),
    ("col2im negative pad", lambda m: m.col2im(np.zeros((32, 27)), X.shape, 3, 3, 1, -1), ValueError, "pad"),
]


def _reassigned(layer, name, value):
    setattr(layer, name, value)
    return layer


@pytest.mark.parametrize("label,call,expected,word", BAD_CONSTRUCTION + BAD_FORWARD,
                         ids=[c[0] for c in BAD_CONSTRUCTION + BAD_FORWARD])
def test_bad_input_same_error_in_both(label, call, expected, word):
    message = _same_error_in_both(call, expected)
    assert word in message, message


def test_non_whole_output_sizes_round_down_as_the_book():
    # (7 - 2) / 2 + 1 = 3.5: the book's im2col (and ch08's pooling of 7x7
    # maps) rounds down; both implementations do the same.
    x = np.arange(2 * 7 * 7, dtype=float).reshape(1, 2, 7, 7)
    for impl in (zk, reference):
        assert impl.Pooling(2, 2, 2).forward(x).shape == (1, 2, 3, 3)
        assert impl.Convolution(np.ones((1, 2, 3, 3)), np.zeros(1), stride=3).forward(x).shape == (1, 1, 2, 2)


# ------------------------------------- state changed between forward and backward
def _conv_after(change):
    def case(m):
        rng = np.random.default_rng(7)
        conv = m.Convolution(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), 1, 1)
        x = rng.standard_normal((2, 2, 5, 5))
        out = conv.forward(x)
        dout = np.cos(out)
        dout = change(conv, x, dout)
        dx = conv.backward(dout)
        return dx, conv.dW, conv.db
    return case


def _pool_after(change):
    def case(m):
        rng = np.random.default_rng(8)
        pool = m.Pooling(2, 2, 2)
        x = rng.standard_normal((2, 3, 6, 6))
        out = pool.forward(x)
        dout = change(pool, x, np.cos(out))
        return pool.backward(dout)
    return case


def _set(name, value):
    def change(layer, x, dout):
        setattr(layer, name, value)
        return dout
    return change


def _edit_x_in_place(layer, x, dout):
    x[...] = 1e6  # the saved x is only used for its shape
    return dout


STATE_CASES = {
    "conv stride changed": _conv_after(_set("stride", 2)),
    "conv stride 0": _conv_after(_set("stride", 0)),
    "conv pad changed": _conv_after(_set("pad", 0)),
    "conv pad huge": _conv_after(_set("pad", 10**6)),
    "conv W other filter size": _conv_after(_set("W", np.zeros((3, 2, 5, 5)))),
    "conv W other channels": _conv_after(_set("W", np.zeros((3, 4, 3, 3)))),
    "conv W more filters": _conv_after(_set("W", np.zeros((5, 2, 3, 3)))),
    "conv W same shape": _conv_after(_set("W", np.ones((3, 2, 3, 3)))),
    "conv x smaller": _conv_after(_set("x", np.zeros((2, 2, 3, 3)))),
    "conv x more images": _conv_after(_set("x", np.zeros((9, 2, 5, 5)))),
    "conv x None": _conv_after(_set("x", None)),
    "conv x list": _conv_after(_set("x", [1, 2])),
    "conv x edited in place": _conv_after(_edit_x_in_place),
    "conv col None": _conv_after(_set("col", None)),
    "conv col too small": _conv_after(_set("col", np.zeros((3, 18)))),
    "conv col same shape": _conv_after(_set("col", np.ones((50, 18)))),
    "conv col strings": _conv_after(_set("col", np.full((50, 18), "a"))),
    "conv col float32": _conv_after(_set("col", np.ones((50, 18), np.float32))),
    "pool x other size": _pool_after(_set("x", np.zeros((2, 3, 8, 8)))),
    "pool x None": _pool_after(_set("x", None)),
    "pool stride 1": _pool_after(_set("stride", 1)),
    "pool window 3x3": _pool_after(_set("pool_h", 3)),
    "pool window 1x4 (same count)": _pool_after(
        lambda p, x, d: (setattr(p, "pool_h", 1), setattr(p, "pool_w", 4), d)[2]),
    "pool arg_max out of range": _pool_after(_set("arg_max", np.full(54, 4))),
    "pool arg_max negative": _pool_after(_set("arg_max", np.full(54, -1))),
    "pool arg_max huge": _pool_after(_set("arg_max", np.full(54, 2**40))),
    "pool arg_max floats": _pool_after(_set("arg_max", np.zeros(54))),
    "pool arg_max short": _pool_after(_set("arg_max", np.zeros(5, int))),
    "pool arg_max valid": _pool_after(_set("arg_max", np.arange(54) % 4)),
    "pool arg_max None": _pool_after(_set("arg_max", None)),
    "pool dout wrong shape": _pool_after(lambda p, x, d: d[:, :2]),
    "conv dout wrong shape": _conv_after(lambda c, x, d: d[:1]),
}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to isolate crashes")
@pytest.mark.parametrize("name", list(STATE_CASES))
def test_state_changed_between_forward_and_backward(name):
    case = STATE_CASES[name]
    fast = in_forked_child(case, zk)
    ref = in_forked_child(case, reference)
    assert fast[0] != "crashed", fast
    assert fast[0] == ref[0], (fast, ref)
    if fast[0] == "raised":
        assert fast[1] == ref[1]
        assert fast[1][0] in ("TypeError", "ValueError", "ForwardNotCalledError"), fast
    else:
        for a, b in zip(fast[1], ref[1], strict=True):
            assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_backward_before_forward():
    for impl in (zk, reference):
        with pytest.raises(zk.ForwardNotCalledError):
            impl.Convolution(W3, B4).backward(np.zeros((2, 4, 4, 4)))
        with pytest.raises(zk.ForwardNotCalledError):
            impl.Pooling(2, 2).backward(np.zeros((2, 3, 3, 3)))
        assert impl.Convolution(W3, B4).col is None
        assert impl.Pooling(2, 2).arg_max is None


@pytest.mark.parametrize("positions", [576, 13, 1])
def test_bias_gradient_in_blocks_gives_the_bits_of_one_pass(positions, dtype, rng):
    """The glue's running sums: a batch given block by block, in order,
    adds up to exactly the one-pass db (which the reference matches)."""
    from zk_layers import _convolution

    dout = rng.standard_normal((11, 6, positions)).astype(dtype)
    whole = _convolution.bias_gradient(dout)
    assert whole.dtype == dtype
    assert_allclose(whole, dout.sum(axis=(0, 2)), **tolerance(dtype))
    for cuts in ((0, 11), (0, 1, 11), (0, 4, 5, 9, 11)):
        lanes = np.zeros((6, 8))
        for start, stop in zip(cuts, cuts[1:], strict=False):
            result = _convolution.bias_gradient(dout[start:stop], lanes, stop == 11)
            assert result is (lanes if stop < 11 else result)
        assert_array_equal(result, whole)


def test_bias_gradient_refuses_running_sums_that_do_not_fit(rng):
    from zk_layers import _convolution

    dout = rng.standard_normal((3, 4, 10))
    read_only = np.zeros((4, 8))
    read_only.flags.writeable = False
    for lanes in (np.zeros((4, 7)), np.zeros((5, 8)), np.zeros((4, 8), np.float32), np.zeros((8, 8))[:, ::2].T,
                  read_only, dout.reshape(-1)[:32].reshape(4, 8)):
        assert _convolution.bias_gradient(dout, lanes) is None
    assert _convolution.bias_gradient(dout, np.zeros((4, 8))) is not None
