# ruff: noqa: NPY002  (the book draws from the legacy global generator; these tests check exactly that)
"""BatchNormalization and Dropout: fast against reference, against hand-computed
values and numerical gradients, across dtypes, layouts and thread counts, and
under hostile input and state changed between forward and backward."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import arrange, run_python, tolerance
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import reference
from zk_layers import regularization as fast

IMPLS = [fast, reference]
IMPL_IDS = ["fast", "reference"]


@pytest.fixture(params=IMPLS, ids=IMPL_IDS)
def impl(request):
    return request.param


def _bn(impl, features, dtype=np.float64, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    gamma = (1 + 0.5 * rng.standard_normal(features)).astype(dtype)
    beta = rng.standard_normal(features).astype(dtype)
    return impl.BatchNormalization(gamma, beta, **kwargs)


# ---------------------------------------------------------------- by hand
def test_batchnorm_forward_by_hand(impl):
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, -1.0])
    bn = impl.BatchNormalization(gamma, beta, momentum=0.9)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    out = bn.forward(x)
    std = np.sqrt(np.array([1.0, 4.0]) + 1e-6)
    xn = np.array([[-1.0, -2.0], [1.0, 2.0]]) / std
    assert_allclose(bn.xn, xn, rtol=1e-15)
    assert_allclose(out, gamma * xn + beta, rtol=1e-15)
    assert_allclose(bn.running_mean, [0.2, 0.4], rtol=1e-15)  # 0.9 * 0 + 0.1 * mu
    assert_allclose(bn.running_var, [0.1, 0.4], rtol=1e-15)
    assert bn.batch_size == 2 and bn.input_shape == (2, 2)
    test_out = bn.forward(x, train_flg=False)
    assert_allclose(test_out, gamma * (x - [0.2, 0.4]) / np.sqrt([0.1 + 1e-6, 0.4 + 1e-6]) + beta, rtol=1e-14)


def test_batchnorm_running_statistics_are_replaced_as_in_the_book(impl):
    bn = _bn(impl, 3)
    rng = np.random.default_rng(1)
    mean, var = np.zeros(3), np.zeros(3)
    for _ in range(3):
        x = rng.standard_normal((5, 3))
        before = bn.running_mean
        bn.forward(x)
        assert bn.running_mean is not before  # rebound, not updated in place
        mean = 0.9 * mean + (1 - 0.9) * x.mean(axis=0)
        var = 0.9 * var + (1 - 0.9) * np.mean((x - x.mean(axis=0)) ** 2, axis=0)
        assert_array_equal(bn.running_mean, mean)
        assert_array_equal(bn.running_var, var)
    assert bn.running_mean.dtype == np.float64
    kept = bn.running_mean
    bn.forward(x, train_flg=False)
    assert bn.running_mean is kept  # test mode leaves them alone


def test_dropout_by_hand(impl):
    x = np.arange(1.0, 13.0).reshape(3, 4)
    np.random.seed(3)
    draws = np.random.rand(3, 4)
    np.random.seed(3)
    layer = impl.Dropout(0.4)
    out = layer.forward(x)
    assert_array_equal(layer.mask, draws > 0.4)
    assert_array_equal(out, x * (draws > 0.4))
    assert_array_equal(layer.backward(2 * x), 2 * x * (draws > 0.4))
    assert_array_equal(layer.forward(x, train_flg=False), x * 0.6)
    assert layer.forward(x, False).dtype == np.float64


def test_dropout_draws_what_the_book_draws_and_nothing_else():
    np.random.seed(0)
    layer = fast.Dropout()
    layer.forward(np.ones((4, 5)))
    after_fast = np.random.rand()
    np.random.seed(0)
    np.random.rand(4, 5)
    assert np.random.rand() == after_fast
    np.random.seed(0)
    layer.forward(np.ones(3), train_flg=False)  # test mode draws nothing
    np.random.seed(0)
    assert np.random.rand() == np.random.RandomState(0).rand()


# ------------------------------------------------------- fast vs reference
@pytest.mark.parametrize("shape", [(8, 5), (1, 3), (6, 2, 3, 2), (200, 700)])
def test_batchnorm_fast_matches_reference(dtype, layout, shape):
    rng = np.random.default_rng(2)
    features = int(np.prod(shape[1:]))
    f, r = _bn(fast, features, dtype), _bn(reference, features, dtype)
    tol = tolerance(dtype)
    for train in (True, True, False):
        x = arrange((3 * rng.standard_normal(shape) + 1).astype(dtype), layout)
        out_f, out_r = f.forward(x, train), r.forward(x, train)
        assert out_f.shape == shape and out_f.dtype == out_r.dtype
        assert_allclose(out_f, out_r, **tol)
        assert_allclose(f.running_mean, r.running_mean, **tol)
        assert_allclose(f.running_var, r.running_var, **tol)
    f.forward(x), r.forward(x)
    dout = arrange(rng.standard_normal(shape).astype(dtype), layout)
    if dtype == np.float32:
        # Sums over the batch: NumPy adds a Fortran-ordered column pairwise,
        # the kernel row by row; in float32 they differ by the rounding of
        # a sum of N terms of order 1.
        tol = dict(rtol=1e-4, atol=2e-6 * shape[0])
    assert_allclose(f.backward(dout), r.backward(dout), **tol)
    assert_allclose(f.dgamma, r.dgamma, **tol)
    assert_allclose(f.dbeta, r.dbeta, **tol)
    for name in ("xc", "xn", "std"):
        assert_allclose(getattr(f, name), getattr(r, name), **tol)


def test_batchnorm_float64_is_bitwise_the_books_arithmetic():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 30))
    f, r = _bn(fast, 30), _bn(reference, 30)
    assert_array_equal(f.forward(x), r.forward(x))
    dout = rng.standard_normal((64, 30))
    assert_array_equal(f.backward(dout), r.backward(dout))
    assert_array_equal(f.dgamma, r.dgamma)


def test_batchnorm_mixed_dtypes_follow_numpy():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    f, r = _bn(fast, 4), _bn(reference, 4)  # float64 gamma, beta
    out_f, out_r = f.forward(x), r.forward(x)
    assert out_f.dtype == out_r.dtype == np.float64
    assert_allclose(out_f, out_r, rtol=1e-5, atol=1e-6)
    assert_allclose(f.backward(x), r.backward(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl_", IMPLS, ids=IMPL_IDS)
def test_batchnorm_gradient_check(impl_):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((7, 2, 2, 2))
    bn = _bn(impl_, 8)
    weights = rng.standard_normal(x.shape)

    def loss(_):
        return float(np.sum(bn.forward(x) * weights))

    bn.forward(x)
    dx = bn.backward(weights)
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    assert_allclose(dx, zk.numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    assert_allclose(dgamma, zk.numerical_gradient(loss, bn.gamma), rtol=1e-5, atol=1e-7)
    assert_allclose(dbeta, zk.numerical_gradient(loss, bn.beta), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("impl_", IMPLS, ids=IMPL_IDS)
def test_dropout_gradient_check(impl_):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 6))
    layer = impl_.Dropout(0.3)
    np.random.seed(1)
    layer.forward(x)
    mask = layer.mask

    def loss(_):
        return float(np.sum((x * mask) ** 2))  # the same mask at every evaluation

    assert_allclose(layer.backward(2 * x * mask), zk.numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_dropout_fast_matches_reference(dtype, layout):
    rng = np.random.default_rng(8)
    x = arrange(rng.standard_normal((33, 17)).astype(dtype), layout)
    np.random.seed(5)
    f = fast.Dropout(0.25)
    out_f = f.forward(x)
    np.random.seed(5)
    r = reference.Dropout(0.25)
    out_r = r.forward(x)
    assert out_f.dtype == out_r.dtype == dtype
    assert_array_equal(out_f, out_r)
    assert_array_equal(f.mask, r.mask)
    dout = arrange(rng.standard_normal(x.shape).astype(dtype), layout)
    assert_array_equal(f.backward(dout), r.backward(dout))
    assert_array_equal(f.forward(x, False), r.forward(x, False))


def test_dropout_keeps_numpys_signed_zeros_and_nan():
    x = np.array([-3.0, np.inf, 2.0, -1.0])
    np.random.seed(0)
    mask_draws = np.random.rand(4)
    np.random.seed(0)
    out = fast.Dropout(0.5).forward(x)
    with np.errstate(invalid="ignore"):
        expected = x * (mask_draws > 0.5)
    assert_array_equal(out, expected)
    assert_array_equal(np.signbit(out), np.signbit(expected))


@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_bitwise_identical_for_every_thread_count(tiny_grain, threads, n_threads):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((37, 23))
    dout = rng.standard_normal((37, 23))
    results = {}
    for n in (1, n_threads):
        threads(n)
        bn = _bn(fast, 23)
        out = bn.forward(x)
        dx = bn.backward(dout)
        test_out = bn.forward(x, False)
        np.random.seed(2)
        drop = fast.Dropout(0.5)
        d_out = drop.forward(x)
        d_back = drop.backward(dout)
        results[n] = (out, dx, bn.dgamma, bn.dbeta, test_out, d_out, d_back, drop.forward(x, False))
    for a, b in zip(results[1], results[n_threads], strict=True):
        assert_array_equal(a, b)


# -------------------------------------------------------------- ownership
def test_parameters_are_kept_and_inputs_never_modified(impl):
    gamma, beta = np.ones(4), np.zeros(4)
    bn = impl.BatchNormalization(gamma, beta)
    assert bn.gamma is gamma and bn.beta is beta
    x = np.random.default_rng(0).standard_normal((6, 4))
    x_copy = x.copy()
    bn.forward(x)
    dout = np.ones_like(x)
    bn.backward(dout)
    gamma -= 0.5 * bn.dgamma  # an optimizer's in-place update reaches the layer
    beta += 1
    out = bn.forward(x)
    assert_allclose(out, bn.xn * gamma + beta, rtol=1e-14)
    assert_array_equal(x, x_copy)
    assert_array_equal(dout, 1)
    drop = impl.Dropout()
    drop.forward(x)
    drop.backward(dout)
    assert_array_equal(x, x_copy)
    assert_array_equal(dout, 1)


def test_readonly_inputs_work(impl):
    """Read-only inputs give what writable copies of them give."""
    x = np.random.default_rng(0).standard_normal((6, 4))
    writable = x.copy()
    x.flags.writeable = False
    bn, bn_copy = _bn(impl, 4), _bn(impl, 4)
    assert_array_equal(bn.forward(x), bn_copy.forward(writable))
    assert_array_equal(bn.backward(x), bn_copy.backward(writable))
    assert_array_equal(bn.dgamma, bn_copy.dgamma)
    assert_array_equal(bn.dbeta, bn_copy.dbeta)
    drop, drop_copy = impl.Dropout(), impl.Dropout()
    np.random.seed(3)
    out = drop.forward(x)
    np.random.seed(3)
    assert_array_equal(out, drop_copy.forward(writable))
    assert_array_equal(drop.backward(x), drop_copy.backward(writable))
    assert_array_equal(x, writable)


# ---------------------------------------------------------------- hostile
HOSTILE = [
    ("gamma list", lambda m: m.BatchNormalization([1.0, 2.0], np.zeros(2)), TypeError,
     "gamma must be a NumPy array"),
    ("gamma int", lambda m: m.BatchNormalization(np.ones(2, int), np.zeros(2)), TypeError,
     "gamma must have dtype float32 or float64, got int64"),
    ("gamma 2-D", lambda m: m.BatchNormalization(np.ones((2, 2)), np.zeros(2)), ValueError, "gamma must be 1-D"),
    ("beta shape", lambda m: m.BatchNormalization(np.ones(3), np.zeros(2)), ValueError,
     r"beta must have the shape of gamma \(3,\), got shape \(2,\)"),
    ("momentum", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2), momentum=1.5), ValueError,
     r"momentum must be in \[0, 1\), got 1.5"),
    ("running_mean shape", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2), running_mean=np.zeros(3),
                                                          running_var=np.zeros(3)),
     ValueError, r"running_mean must have shape \(2,\)"),
    ("running alone", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2), running_mean=np.zeros(2)),
     ValueError, "must be given together"),
    ("x 3-D", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2)).forward(np.ones((2, 1, 2))), ValueError,
     r"x must be 2-D \(N, D\) or 4-D"),
    ("x features", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2)).forward(np.ones((2, 3))), ValueError,
     "x must have 2 features per sample"),
    ("x strings", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2)).forward(np.array([["a", "b"]])),
     TypeError, "x must hold real numbers"),
    ("empty train batch", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2)).forward(np.ones((0, 2))),
     ValueError, "at least one sample in training mode"),
    ("backward first", lambda m: m.BatchNormalization(np.ones(2), np.zeros(2)).backward(np.ones((2, 2))),
     zk.ForwardNotCalledError, r"BatchNormalization.backward\(\) called before forward"),
    ("dout shape", lambda m: _after_forward(m).backward(np.ones((3, 2))), ValueError,
     r"dout must have the shape of the forward input \(4, 2\), got shape \(3, 2\)"),
    ("dropout ratio", lambda m: m.Dropout(1.0), ValueError, r"dropout_ratio must be in \[0, 1\), got 1.0"),
    ("dropout ratio type", lambda m: m.Dropout("0.5"), TypeError, "dropout_ratio must be a real number"),
    ("dropout backward first", lambda m: m.Dropout().backward(np.ones(2)), zk.ForwardNotCalledError,
     r"Dropout.backward\(\) called before forward"),
    ("dropout dout shape", lambda m: _dropout_after_forward(m).backward(np.ones(3)), ValueError,
     r"dout must have the shape of the forward input \(4,\), got shape \(3,\)"),
    ("dropout x bool", lambda m: m.Dropout().forward(np.ones(2, bool)), TypeError, "x must hold real numbers"),
]


def _after_forward(m):
    bn = m.BatchNormalization(np.ones(2), np.zeros(2))
    bn.forward(np.arange(8.0).reshape(4, 2))
    return bn


def _dropout_after_forward(m):
    layer = m.Dropout()
    layer.forward(np.ones(4))
    return layer


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_same_error_in_both(case):
    _, make, error, match = case
    messages = []
    for m in IMPLS:
        with pytest.raises(error, match=match) as info:
            make(m)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# ------------------------------------------ state changed between the calls
STATE_CHANGES = [
    ("xc smaller", lambda bn: setattr(bn, "xc", np.ones((2, 3))), ValueError,
     r"BatchNormalization.xc must have shape \(6, 3\)"),
    ("xn wrong dtype", lambda bn: setattr(bn, "xn", np.array([["a"] * 3] * 6)), TypeError,
     "BatchNormalization.xn must hold real numbers"),
    ("std shorter", lambda bn: setattr(bn, "std", np.ones(1)), ValueError,
     r"BatchNormalization.std must have shape \(3,\)"),
    ("batch_size larger", lambda bn: setattr(bn, "batch_size", 600), ValueError,
     r"BatchNormalization.xc must have shape \(600, 3\)"),
    ("batch_size float", lambda bn: setattr(bn, "batch_size", 6.5), TypeError,
     "BatchNormalization.batch_size must be an integer"),
    ("gamma shorter", lambda bn: setattr(bn, "gamma", np.ones(1)), ValueError,
     r"beta must have the shape of gamma \(1,\)"),
    ("gamma and beta longer", lambda bn: (setattr(bn, "gamma", np.ones(9)), setattr(bn, "beta", np.ones(9))),
     ValueError, "BatchNormalization.gamma has 9 entries but the last training forward saved 3 features"),
    ("gamma longer, input_shape and dout to match", lambda bn: (
        setattr(bn, "gamma", np.ones(9)), setattr(bn, "beta", np.ones(9)), setattr(bn, "input_shape", (2, 27))),
     ValueError, "BatchNormalization.gamma has 9 entries but the last training forward saved 3 features"),
    ("input_shape", lambda bn: setattr(bn, "input_shape", (6, 30)), ValueError,
     r"dout must have the shape of the forward input \(6, 30\)"),
]


@pytest.mark.parametrize("case", STATE_CHANGES, ids=[c[0] for c in STATE_CHANGES])
def test_batchnorm_state_changed_before_backward(case):
    _, change, error, match = case
    messages = []
    for m in IMPLS:
        bn = _bn(m, 3)
        bn.forward(np.random.default_rng(0).standard_normal((6, 3)))
        change(bn)
        with pytest.raises(error, match=match) as info:
            bn.backward(np.ones((6, 3)))
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_batchnorm_state_replaced_by_valid_arrays_is_used_as_in_the_book():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    results = []
    for m in IMPLS:
        bn = _bn(m, 3)
        bn.forward(x)
        bn.xc = bn.xc * 2  # the book's backward reads the attributes
        bn.std = bn.std + 1
        results.append((bn.backward(dout), bn.dgamma))
    assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_caller_changing_its_arrays_after_forward_does_not_reach_backward():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    results = []
    for m in IMPLS:
        bn = _bn(m, 3)
        xx = x.copy()
        bn.forward(xx)
        xx[:] = 1e300  # the layer keeps xc/xn of its own
        results.append(bn.backward(np.ones((6, 3))))
    assert_allclose(results[0], results[1], rtol=1e-12)
    assert np.all(np.isfinite(results[0]))


def test_dropout_mask_changed_before_backward():
    for m in IMPLS:
        layer = m.Dropout()
        layer.forward(np.ones((3, 4)))
        layer.mask = np.ones((3, 4), np.int8)
        with pytest.raises(TypeError, match="Dropout.mask must be a boolean array"):
            layer.backward(np.ones((3, 4)))
        layer.mask = np.ones((2, 2), bool)
        with pytest.raises(ValueError, match=r"dout must have the shape of the forward input \(2, 2\)"):
            layer.backward(np.ones((3, 4)))
        layer.mask = np.asfortranarray(np.eye(3, 4, dtype=bool))
        assert_array_equal(layer.backward(np.full((3, 4), 2.0)), 2 * np.eye(3, 4))


def test_crash_prone_state_changes_in_a_child():
    """Shrunken saved arrays must be a ValueError, never an out-of-bounds read."""
    result = run_python("""
        import numpy as np
        from zk_layers import regularization as fast
        bn = fast.BatchNormalization(np.ones(1000), np.zeros(1000))
        bn.forward(np.random.default_rng(0).standard_normal((500, 1000)))
        for name, value in [("xc", np.ones((1, 1))), ("xn", np.ones((1, 1000))), ("std", np.ones(1)),
                            ("batch_size", 10**6)]:
            saved = getattr(bn, name)
            setattr(bn, name, value)
            try:
                bn.backward(np.ones((500, 1000)))
            except ValueError:
                print("ValueError", name)
            setattr(bn, name, saved)
        drop = fast.Dropout()
        drop.forward(np.ones(10**6))
        drop.mask = np.ones(3, bool)
        try:
            drop.backward(np.ones(10**6))
        except ValueError:
            print("ValueError mask")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ValueError") == 5, result.stdout
