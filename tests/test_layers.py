"""The fast layers against the NumPy reference: values, dtypes, layouts, shapes."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import arrange, tolerance
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import _kernels
from zk_layers import reference as ref

ELEMENTWISE_SHAPES = [(1,), (1, 1), (7,), (1, 50), (100, 50), (97, 101), (3, 4, 5), (2, 3, 5, 7), (0, 5)]


def _inputs(rng, shape, dtype, layout):
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::7] = 0  # exact zeros: the Relu kink
    dout = rng.standard_normal(shape).astype(dtype)
    return arrange(x, layout), arrange(dout, layout)


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_relu_matches_reference(rng, shape, dtype, layout):
    x, dout = _inputs(rng, shape, dtype, layout)
    fast, oracle = zk.Relu(), ref.Relu()
    out = fast.forward(x)
    assert out.dtype == dtype and out.shape == shape
    assert_array_equal(out, oracle.forward(x))
    assert_array_equal(fast.mask, oracle.mask)
    assert fast.mask.dtype == np.bool_
    dx = fast.backward(dout)
    assert dx.dtype == dtype
    assert_array_equal(dx, oracle.backward(dout))


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_sigmoid_matches_reference(rng, shape, dtype, layout):
    x, dout = _inputs(rng, shape, dtype, layout)
    x = x * 8  # reach the saturated tails too
    fast, oracle = zk.Sigmoid(), ref.Sigmoid()
    out = fast.forward(x)
    assert out.dtype == dtype and out.shape == shape
    assert_allclose(out, oracle.forward(x), **tolerance(dtype))
    assert_allclose(fast.out, oracle.out, **tolerance(dtype))
    dx = fast.backward(dout)
    assert dx.dtype == dtype
    assert_allclose(dx, oracle.backward(dout), **tolerance(dtype))


def test_relu_known_values():
    relu = zk.Relu()
    x = np.array([[1.0, -0.5], [-2.0, 3.0], [0.0, -0.0]])
    assert_array_equal(relu.forward(x), [[1.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    assert_array_equal(relu.mask, [[False, True], [True, False], [True, True]])
    # Gradient 0 at x == 0, as in the book.
    assert_array_equal(relu.backward(np.full((3, 2), 5.0)), [[5.0, 0.0], [0.0, 5.0], [0.0, 0.0]])


def test_relu_nan_passes_through_like_numpy():
    x = np.array([np.nan, -np.inf, np.inf, -1.0])
    for layer in (zk.Relu(), ref.Relu()):
        assert_array_equal(layer.forward(x), [np.nan, 0.0, np.inf, 0.0])
        assert_array_equal(layer.backward(np.full(4, np.nan)), [np.nan, 0.0, np.nan, 0.0])


def test_sigmoid_known_values():
    out = zk.Sigmoid().forward(np.array([0.0, np.log(3.0), -np.log(3.0)]))
    assert_allclose(out, [0.5, 0.75, 0.25], rtol=1e-15)


@pytest.mark.parametrize("magnitude", [30.0, 88.0, 100.0, 710.0, 1e4, 1e30, 3e38])
def test_sigmoid_extreme_inputs_no_warning_no_nan(dtype, magnitude):
    x = np.array([-magnitude, -magnitude / 2, 0.0, magnitude / 2, magnitude], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = zk.Sigmoid().forward(x)
        expected = ref.Sigmoid().forward(x)
    assert np.all(np.isfinite(out))
    assert np.all((out >= 0) & (out <= 1))
    assert_allclose(out, expected, rtol=tolerance(dtype)["rtol"], atol=0)
    assert out[2] == 0.5


def test_sigmoid_over_whole_exponent_range_float64():
    """Dense grid through every regime of the compiled exp: normal, subnormal, 0, inf."""
    x = np.linspace(-800, 800, 400_001)
    assert_allclose(zk.Sigmoid().forward(x), ref.Sigmoid().forward(x), rtol=1e-15, atol=0)


def test_sigmoid_over_whole_exponent_range_float32():
    x = np.linspace(-120, 120, 200_001, dtype=np.float32)
    fast, expected = zk.Sigmoid().forward(x), ref.Sigmoid().forward(x)
    # Relative where NumPy's float32 exp is normal; absolute below (subnormal outputs).
    assert_allclose(fast, expected, rtol=3e-7, atol=1e-44)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_moderate_exponential_has_the_general_ones_bits(rng, dtype):
    """A block whose inputs all lie within |x| <= 707 (86 in float32) takes
    the moderate exponential; one element past it sends the whole block
    (up to 1024 elements) through the general one.  Same bits, boundary
    included; and past the boundary the values stay NumPy's."""
    limit = 707.0 if dtype == np.float64 else 86.0
    x = np.concatenate([rng.uniform(-limit, limit, 500), [limit, -limit, 0.0, -0.0]]).astype(dtype)
    general = np.concatenate([x, np.array([limit + 1], dtype=dtype)])
    moderate_out, general_out = zk.Sigmoid().forward(x), zk.Sigmoid().forward(general)
    assert_array_equal(moderate_out.view(np.uint8), general_out[:-1].view(np.uint8))
    assert_allclose(moderate_out, ref.Sigmoid().forward(x), rtol=tolerance(dtype)["rtol"], atol=0)
    past = np.array([limit + 0.5, -(limit + 0.5), limit + 40, -(limit + 40)] * 32, dtype=dtype)
    expected = ref.Sigmoid().forward(past.astype(np.float64)).astype(dtype)
    assert_allclose(zk.Sigmoid().forward(past), expected, rtol=tolerance(dtype)["rtol"],
                    atol=np.finfo(dtype).smallest_subnormal * 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [-1000.0, 1000.0, -np.inf, np.inf])
def test_a_nan_hides_no_out_of_range_input(dtype, value):
    """A NaN in the second of the 32 lanes that find the extremes, and a value
    past the moderate exponential's range later in the same lane: the range
    check must still see that value (a NaN seeding a lane once hid it, and
    Sigmoid gave 1.0 for -1000)."""
    x = np.zeros(64, dtype=dtype)
    x[1], x[33] = np.nan, value
    out = zk.Sigmoid().forward(x)
    expected = ref.Sigmoid().forward(x)
    assert np.isnan(out[1]) and out[33] == expected[33] == (0.0 if value < 0 else 1.0)
    assert_array_equal(np.delete(out, 1), np.delete(expected, 1))
    layer = zk.SoftmaxWithLoss()
    assert np.isnan(layer.forward(x.reshape(1, -1), np.array([0])))
    assert np.all(np.isnan(layer.y))
    # The row without its NaN: the out-of-range value is seen.
    finite = x.copy()
    finite[1] = 0
    with np.errstate(invalid="ignore"):  # the reference's inf - inf
        expected_loss = ref.SoftmaxWithLoss().forward(finite.reshape(1, -1), np.array([0]))
    assert_allclose(zk.SoftmaxWithLoss().forward(finite.reshape(1, -1), np.array([0])), expected_loss,
                    rtol=tolerance(dtype)["rtol"])


def test_sigmoid_nan_is_numpys_nan_in_every_build():
    """A NaN input (either sign, any payload, in a vector body or a scalar
    tail) gives np.nan's bits."""
    x = np.zeros(2100)
    x[[0, 7, 8, 1023, 1030, 2099]] = [np.nan, -np.nan, np.nan, -np.nan, np.nan, -np.nan]
    for level in _kernels.available_levels():
        out = layers_with(level, lambda: zk.Sigmoid().forward(x))
        nan_bits = out[np.isnan(out)].view(np.uint64)
        assert len(nan_bits) == 6 and np.all(nan_bits == np.array(np.nan).view(np.uint64)), level


def layers_with(level, run):
    """run() with the kernels of build ``level``."""
    with _kernels.using(level):
        return run()


def test_sigmoid_nan_propagates():
    out = zk.Sigmoid().forward(np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == 0.0


AFFINE_CASES = [
    # (x shape, output size)
    ((1, 784), 50),
    ((100, 784), 50),
    ((8, 50), 10),
    ((13, 7), 1),
    ((5, 2, 3, 4), 6),  # image-shaped input flattened to (5, 24)
    ((0, 9), 4),  # empty batch
    ((61, 97), 101),
]


def assert_products_close(actual, expected, dtype):
    """Matrix products: BLAS may sum in another order for another layout, so
    float32 errors scale with the size of the terms, not of the result."""
    tol = tolerance(dtype)
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["rtol"] * scale + tol["atol"])


@pytest.mark.parametrize("x_shape,m", AFFINE_CASES, ids=str)
def test_affine_matches_reference(rng, x_shape, m, dtype, layout):
    d = int(np.prod(x_shape[1:]))
    W = arrange(rng.standard_normal((d, m)).astype(dtype), layout if layout != "readonly" else "C")
    b = rng.standard_normal(m).astype(dtype)
    x = arrange(rng.standard_normal(x_shape).astype(dtype), layout)
    dout = arrange(rng.standard_normal((x_shape[0], m)).astype(dtype), layout)
    fast, oracle = zk.Affine(W, b), ref.Affine(W, b)
    out = fast.forward(x)
    assert out.dtype == dtype and out.shape == (x_shape[0], m)
    assert_products_close(out, oracle.forward(x), dtype)
    assert fast.original_x_shape == x_shape
    assert fast.x.shape == (x_shape[0], d)
    dx = fast.backward(dout)
    assert dx.shape == x_shape and dx.dtype == dtype
    assert_products_close(dx, oracle.backward(dout), dtype)
    assert_products_close(fast.dW, oracle.dW, dtype)
    assert_products_close(fast.db, oracle.db, dtype)
    assert fast.dW.shape == W.shape and fast.db.shape == b.shape


def test_affine_bias_and_db_are_exact_like_numpy(rng):
    """The bias add and db reduction add in NumPy's order: bitwise equal."""
    W, b = rng.standard_normal((30, 17)), rng.standard_normal(17)
    x, dout = rng.standard_normal((211, 30)), rng.standard_normal((211, 17))
    fast, oracle = zk.Affine(W, b), ref.Affine(W, b)
    assert_array_equal(fast.forward(x), oracle.forward(x))
    fast.backward(dout)
    oracle.backward(dout)
    assert_array_equal(fast.db, oracle.db)
    assert_array_equal(fast.dW, oracle.dW)


def test_affine_keeps_parameters_without_copy(rng):
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    layer = zk.Affine(W, b)
    assert layer.W is W and layer.b is b
    x = rng.standard_normal((2, 4))
    before = layer.forward(x)
    W -= 0.5  # in-place SGD-style updates reach the layer
    b += 1.0
    assert_allclose(layer.forward(x), x @ W + b, rtol=1e-14)
    assert not np.allclose(before, layer.forward(x))


def test_affine_need_dx_false_skips_dx_and_keeps_parameter_gradients(rng):
    W, b = rng.standard_normal((6, 4)), rng.standard_normal(4)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    full, lean = zk.Affine(W, b), zk.Affine(W, b, need_dx=False)
    full.forward(x)
    lean.forward(x)
    assert full.backward(dout) is not None
    assert lean.backward(dout) is None
    assert_array_equal(lean.dW, full.dW)
    assert_array_equal(lean.db, full.db)


@pytest.mark.parametrize(
    "x_dtype,w_dtype", [(np.float32, np.float64), (np.float64, np.float32), (np.int64, np.float32)]
)
def test_affine_mixed_dtypes_follow_numpy_result_type(rng, x_dtype, w_dtype):
    W = rng.standard_normal((5, 3)).astype(w_dtype)
    b = rng.standard_normal(3).astype(w_dtype)
    x = (rng.standard_normal((4, 5)) * 3).astype(x_dtype)
    fast, oracle = zk.Affine(W, b), ref.Affine(W, b)
    out, expected = fast.forward(x), oracle.forward(x)
    assert out.dtype == expected.dtype == np.result_type(
        np.asarray(x, dtype=np.result_type(x_dtype, np.float16)).dtype if x_dtype is np.int64 else x_dtype,
        w_dtype,
    ) or out.dtype == np.float64
    assert_allclose(out, expected, rtol=1e-6)
    dout = rng.standard_normal((4, 3))
    assert_allclose(fast.backward(dout), oracle.backward(dout), rtol=1e-6)
    assert_allclose(fast.dW, oracle.dW, rtol=1e-6)
    assert W.dtype == w_dtype  # parameters are never converted in place


# Rows shorter than, equal to and just past the kernel's 32-lane extremes,
# and a tail of 8 after 31 full blocks (1000 classes).
SOFTMAX_SHAPES = [(1, 1), (1, 10), (8, 10), (100, 10), (33, 257), (3, 2), (5, 31), (4, 32), (4, 33),
                  (3, 65), (2, 1000)]


@pytest.mark.parametrize("shape", SOFTMAX_SHAPES, ids=str)
@pytest.mark.parametrize("eps", [1e-7, 0.0])
def test_softmax_with_loss_matches_reference(rng, shape, dtype, layout, eps):
    n, c = shape
    x = arrange((rng.standard_normal(shape) * 3).astype(dtype), layout)
    t = rng.integers(0, c, n)
    fast, oracle = zk.SoftmaxWithLoss(eps=eps), ref.SoftmaxWithLoss(eps=eps)
    loss = fast.forward(x, t)
    assert isinstance(loss, float) and fast.loss == loss
    assert_allclose(loss, oracle.forward(x, t), rtol=tolerance(dtype)["rtol"])
    assert fast.y.dtype == dtype and fast.y.shape == shape
    assert_allclose(fast.y, oracle.y, **tolerance(dtype))
    assert_allclose(fast.y.sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-13)
    for dout in (1, 0.5, -3.0):
        dx = fast.backward(dout)
        assert dx.dtype == dtype
        assert_allclose(dx, oracle.backward(dout), **tolerance(dtype))


@pytest.mark.parametrize("n_classes", [31, 32, 33, 64, 65, 1000])
@pytest.mark.parametrize("where", ["first", "lane-edge", "last"])
def test_softmax_row_extremes_anywhere(rng, dtype, n_classes, where):
    """The row maximum (and minimum, which picks the exponential) in the
    first element, at the end of a 32-lane block, or in the scalar tail."""
    x = rng.uniform(-1, 1, (4, n_classes)).astype(dtype)
    at = {"first": 0, "lane-edge": min(31, n_classes - 1), "last": n_classes - 1}[where]
    x[0, at], x[1, at] = 50, -50  # the maximum of row 0, the minimum of row 1
    big = 200 if dtype == np.float32 else 800  # past the moderate spread (86, 707)
    x[2, at], x[3, at] = big, -big
    t = np.arange(4) % n_classes
    fast, oracle = zk.SoftmaxWithLoss(), ref.SoftmaxWithLoss()
    assert_allclose(fast.forward(x, t), oracle.forward(x, t), rtol=tolerance(dtype)["rtol"])
    assert_allclose(fast.y, oracle.y, rtol=tolerance(dtype)["rtol"], atol=1e-300 if dtype == np.float64 else 1e-40)
    assert fast.y[0, at] == fast.y[0].max() and fast.y[1, at] == fast.y[1].min()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_moderate_exponential_has_the_general_ones_bits(rng, dtype):
    """Rows whose spread (max - min) is within the moderate exponential's
    range (707 in float64, 86 in float32) take it; a -inf column sends the
    same row through the general one without changing its sum (exp(-inf)
    adds +0 after the 64 columns' lanes).  Both must give the same bits,
    up to the boundary itself."""
    limit = 707.0 if dtype == np.float64 else 86.0
    n, c = 64, 64
    spreads = np.concatenate([np.linspace(0, limit, n - 4), [limit, limit, limit * 0.999, 1e-3]])
    x = rng.uniform(0, 1, (n, c))
    x = (x - x.min(axis=1, keepdims=True)) / np.ptp(x, axis=1, keepdims=True)  # each row spans [0, 1]
    x = (x * spreads[:, None] - 3.0).astype(dtype)
    assert np.all(x.max(axis=1) - x.min(axis=1) <= limit)
    general = np.hstack([x, np.full((n, 1), -np.inf, dtype=dtype)])
    t = rng.integers(0, c, n)
    moderate_layer, general_layer = zk.SoftmaxWithLoss(eps=0.0), zk.SoftmaxWithLoss(eps=0.0)
    loss = moderate_layer.forward(x, t)
    assert loss == general_layer.forward(general, t)
    assert_array_equal(moderate_layer.y.view(np.uint8), np.ascontiguousarray(general_layer.y[:, :c]).view(np.uint8))
    assert np.all(general_layer.y[:, c] == 0)
    # Down to the smallest results of the range: normal numbers, no flush.
    assert moderate_layer.y.min() > 0 and np.all(np.isfinite(moderate_layer.y))
    assert_allclose(moderate_layer.y, ref_softmax(x), rtol=tolerance(dtype)["rtol"], atol=0)


def ref_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_just_past_the_moderate_range_matches_numpy(dtype):
    """Spreads just past the moderate range go through the general
    exponential, whose results reach into the subnormals."""
    limit = 707.0 if dtype == np.float64 else 86.0
    row = np.linspace(0, -1, 40)
    x = np.stack([row * s for s in (limit + 0.5, limit + 1.5, limit + 30.0, limit + 60.0)]).astype(dtype)
    t = np.zeros(4, dtype=np.intp)
    layer = zk.SoftmaxWithLoss(eps=0.0)
    layer.forward(x, t)
    expected = ref_softmax(x.astype(np.float64))
    tiny = np.finfo(dtype).smallest_subnormal
    assert_allclose(layer.y, expected.astype(dtype), rtol=tolerance(dtype)["rtol"], atol=2 * tiny)


def test_softmax_with_loss_book_numbers():
    """The book's cross_entropy_error example (section 4.2.2): 0.510825... and 2.302584..."""
    t = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    y_good = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    y_bad = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])
    for impl in (zk, ref):
        # log(y) as logits reproduces y exactly through the softmax.
        with np.errstate(divide="ignore"):
            good, bad = np.log(y_good), np.log(y_bad)
        assert impl.SoftmaxWithLoss().forward(good, t) == pytest.approx(0.510825457099338, rel=1e-12)
        assert impl.SoftmaxWithLoss().forward(bad, t) == pytest.approx(2.302584092994546, rel=1e-12)


def test_softmax_with_loss_huge_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-3e38, 3e38, 0.0]], dtype=dtype)
    t = np.array([1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = zk.SoftmaxWithLoss(eps=0).forward(x, t)
        book = zk.SoftmaxWithLoss().forward(x, t)
    assert exact == pytest.approx((1e4 + 0.0) / 2, rel=1e-6)  # row 0: 1e4, row 1: 0
    assert book == pytest.approx((-np.log(1e-7) + -np.log(1 + 1e-7)) / 2, rel=1e-5)
    assert np.isfinite(exact) and np.isfinite(book)


@pytest.mark.parametrize("impl", [zk, ref], ids=["fast", "reference"])
@pytest.mark.parametrize("dtype,logit", [(np.float64, 1e17), (np.float64, -1e300), (np.float32, 3e38)])
def test_softmax_exact_loss_keeps_log_sum_next_to_huge_logits(impl, dtype, logit):
    """eps=0: logsumexp(x) - x[t] = log(sum) + (max - x[t]); the log of the
    sum (log 2 here) used to vanish into the huge maximum before x[t] was
    subtracted again."""
    x = np.array([[logit, logit], [logit, -np.inf]], dtype=dtype)
    loss = impl.SoftmaxWithLoss(eps=0).forward(x, np.array([0, 0]))
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-6)


def test_softmax_with_loss_one_hot_equals_indices(rng, impl):
    x = rng.standard_normal((6, 4))
    t = np.array([0, 3, 2, 1, 3, 0])
    one_hot = np.eye(4)[t]
    a, b = impl.SoftmaxWithLoss(), impl.SoftmaxWithLoss()
    assert a.forward(x, t) == b.forward(x, one_hot)
    assert_array_equal(a.backward(), b.backward())
    assert b.t is not None and b.t.shape == (6, 4)


def test_softmax_with_loss_single_sample(rng, impl):
    x = rng.standard_normal(5)
    layer = impl.SoftmaxWithLoss()
    loss = layer.forward(x, 2)
    assert layer.y.shape == (5,)
    expected = -np.log(np.exp(x[2]) / np.exp(x).sum() + 1e-7)
    assert loss == pytest.approx(expected, rel=1e-12)
    dx = layer.backward()
    assert dx.shape == (5,)
    assert_allclose(dx, layer.y - np.eye(5)[2], rtol=1e-12)
    assert impl.SoftmaxWithLoss().forward(x, np.eye(5)[2]) == loss


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64])
def test_softmax_with_loss_any_integer_label_dtype(rng, label_dtype):
    x = rng.standard_normal((4, 7))
    t = np.array([0, 6, 3, 1], dtype=label_dtype)
    assert zk.SoftmaxWithLoss().forward(x, t) == pytest.approx(
        ref.SoftmaxWithLoss().forward(x, t.astype(int)), rel=1e-13
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_softmax_with_loss_one_class_labels_of_shape_n_1_are_one_hot(impl, dtype, label_dtype):
    """With C == 1 an (N, 1) array is one-hot rows, in the compiled common case too: zeros are
    not one-hot (an integer (N, 1) array of zeros once passed the fast layer as indices)."""
    x = np.array([[0.3], [-1.0]], dtype=dtype)
    with pytest.raises(ValueError, match=r"^one-hot t must have exactly one 1 and zeros elsewhere in every row"):
        impl.SoftmaxWithLoss().forward(x, np.zeros((2, 1), dtype=label_dtype))
    layer = impl.SoftmaxWithLoss()
    loss = layer.forward(x, np.ones((2, 1), dtype=dtype))
    assert loss == pytest.approx(-np.log(1 + 1e-7), abs=1e-6)
    assert_array_equal(layer.backward(), np.zeros((2, 1), dtype=dtype))


def test_softmax_with_loss_nan_row_is_nan_like_reference():
    x = np.array([[np.nan, 1.0, 2.0], [0.0, np.nan, 1.0], [1.0, 2.0, 3.0]])
    t = np.array([0, 1, 2])
    fast, oracle = zk.SoftmaxWithLoss(), ref.SoftmaxWithLoss()
    assert np.isnan(fast.forward(x, t)) and np.isnan(oracle.forward(x, t))
    assert_array_equal(np.isnan(fast.y), np.isnan(oracle.y))
    assert_allclose(fast.y[2], oracle.y[2], rtol=1e-15)


@pytest.mark.parametrize("make_layer,args", [
    (lambda rng: zk.Relu(), lambda rng: (rng.standard_normal((5, 4)),)),
    (lambda rng: zk.Sigmoid(), lambda rng: (rng.standard_normal((5, 4)),)),
    (lambda rng: zk.Affine(rng.standard_normal((4, 3)), rng.standard_normal(3)),
     lambda rng: (rng.standard_normal((5, 4)),)),
], ids=["Relu", "Sigmoid", "Affine"])
def test_no_input_mutation_and_fresh_outputs(rng, make_layer, args):
    layer = make_layer(rng)
    inputs = args(rng)
    saved = [a.copy() for a in inputs]
    params = [p.copy() for p in (getattr(layer, "W", None), getattr(layer, "b", None)) if p is not None]
    out = layer.forward(*inputs)
    dout = rng.standard_normal(out.shape)
    dout_saved = dout.copy()
    dx1 = layer.backward(dout)
    dx2 = layer.backward(dout)
    for a, s in zip(inputs, saved, strict=True):
        assert_array_equal(a, s)
    assert_array_equal(dout, dout_saved)
    for p, s in zip([p for p in (getattr(layer, "W", None), getattr(layer, "b", None)) if p is not None], params,
                    strict=True):
        assert_array_equal(p, s)
    assert dx1 is not dx2 and not np.shares_memory(dx1, dx2)
    assert not np.shares_memory(dx1, dout) and not np.shares_memory(out, inputs[0])


def test_softmax_backward_fresh_and_no_mutation(rng):
    x = rng.standard_normal((5, 3))
    t = np.array([0, 1, 2, 1, 0])
    x_saved, t_saved = x.copy(), t.copy()
    layer = zk.SoftmaxWithLoss()
    layer.forward(x, t)
    y_saved = layer.y.copy()
    dx1, dx2 = layer.backward(), layer.backward()
    assert not np.shares_memory(dx1, dx2) and not np.shares_memory(dx1, layer.y)
    assert_array_equal(x, x_saved)
    assert_array_equal(t, t_saved)
    assert_array_equal(layer.y, y_saved)


def test_scalars_and_integer_inputs(impl):
    """0-d inputs work where the book allows them; integers become float64."""
    relu, sig = impl.Relu(), impl.Sigmoid()
    assert relu.forward(np.float64(-2.0)) == 0.0
    assert relu.forward(3).dtype == np.float64
    assert sig.forward(0.0) == 0.5
    assert sig.backward(1.0) == 0.25
    assert_array_equal(relu.forward([[1, -1]]), [[1.0, 0.0]])
    assert relu.forward(np.array([1, -1], dtype=np.int32)).dtype == np.float64
    assert sig.forward(np.array([0], dtype=np.float16)).dtype == np.float64


def test_elementwise_output_keeps_fortran_layout(rng):
    x = np.asfortranarray(rng.standard_normal((6, 5)))
    out = zk.Relu().forward(x)
    assert out.flags.f_contiguous
    relu = zk.Relu()
    relu.forward(x)
    dout_c = np.ascontiguousarray(rng.standard_normal((6, 5)))
    assert_array_equal(relu.backward(dout_c), np.where(x > 0, dout_c, 0))


def test_big_endian_input(rng):
    x = rng.standard_normal((4, 3))
    swapped = x.astype(">f8")
    assert_array_equal(zk.Relu().forward(swapped), ref.Relu().forward(x))
    assert_allclose(zk.Sigmoid().forward(swapped), ref.Sigmoid().forward(x), rtol=1e-15)


@pytest.mark.parametrize("block_elements", [1, 7, 64, 1 << 18])
@pytest.mark.parametrize("n", [0, 1, 5, 37])
def test_affine_mixed_dtypes_blockwise_conversion(monkeypatch, rng, block_elements, n):
    """float32 x with float64 W (the book's case) is converted block by block
    inside the products; every block size gives the reference's results and
    the caller's x is kept, unconverted, as the book keeps it."""
    from zk_layers import layers as fast_layers

    monkeypatch.setattr(fast_layers, "_WIDEN_BLOCK_ELEMENTS", block_elements)
    x = rng.standard_normal((n, 2, 3)).astype(np.float32)
    W, b = rng.standard_normal((6, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((n, 4))
    fast, ref = zk.Affine(W, b), zk.reference.Affine(W, b)
    out = fast.forward(x)
    assert out.dtype == np.float64
    assert_allclose(out, ref.forward(x), rtol=1e-12, atol=1e-14)
    assert_allclose(out, x.reshape(n, 6).astype(np.float64) @ W + b, rtol=1e-12, atol=1e-14)
    assert fast.x.dtype == np.float32 and np.shares_memory(fast.x, x) == (n > 0)
    dx = fast.backward(dout)
    assert_allclose(dx, ref.backward(dout), rtol=1e-12, atol=1e-14)
    assert fast.dW.dtype == np.float64
    assert_allclose(fast.dW, ref.dW, rtol=1e-12, atol=1e-13)
    assert_allclose(fast.dW, x.reshape(n, 6).astype(np.float64).T @ dout, rtol=1e-12, atol=1e-13)
    assert_allclose(fast.db, dout.sum(axis=0), rtol=1e-12, atol=1e-13)
