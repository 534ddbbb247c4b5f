"""Property-based tests: the fast layers against the NumPy reference on
generated inputs, invariants of each layer, and a short fuzzing run.

Inputs come from hypothesis: shapes with 0 and 1 and awkward sizes up to 70
per axis, float32 and float64, C/Fortran/strided/read-only layouts, values
with NaN, +-inf, subnormals, +-1e4 logits and +-1e30, labels at 0 and C-1.
Every comparison asserts values (to ``conftest.tolerance``; NaN and inf in the
same places as the reference) and that the fast call issues no warning where
the reference call is quiet.

Two hypothesis profiles: ``ci`` (the default, the whole file in well under 20
s) and ``long`` (twenty times the examples), chosen with the environment
variable ``HYPOTHESIS_PROFILE``::

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py

The fuzzing harness is ``tests/fuzz.py`` (see docs/reliability.md); the last
tests here run it briefly and check that it detects injected bugs.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import arrange, tolerance

import zk_layers as zk
from zk_layers import reference as ref

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

settings.register_profile("ci", deadline=None, max_examples=25, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", deadline=None, max_examples=500, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile(PROFILE_NAME)
SCALE = 20 if PROFILE_NAME == "long" else 1


def examples(n: int) -> settings:
    """The profile's settings with ``n`` examples (times 20 under ``long``)."""
    return settings(PROFILE, max_examples=n * SCALE, deadline=None)


LAYOUTS = ["C", "F", "strided", "readonly"]
FLOATS = [np.float32, np.float64]


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

def _cap(shape: tuple[int, ...], limit: int = 6000) -> tuple[int, ...]:
    dims = list(shape)
    while math.prod(dims) > limit:
        i = dims.index(max(dims))
        dims[i] = max(1, dims[i] // 2)
    return tuple(dims)


sides = st.one_of(st.sampled_from([0, 1, 1, 2, 3]), st.integers(1, 70))
shapes = st.lists(sides, min_size=0, max_size=3).map(lambda s: _cap(tuple(s)))


def specials(dtype) -> list[float]:
    tiny = 1e-40 if dtype == np.float32 else 5e-324
    values = [np.nan, np.inf, -np.inf, 0.0, -0.0, tiny, -tiny, 1e4, -1e4, 1e30, -1e30,
              float(np.finfo(dtype).max), -float(np.finfo(dtype).max)]
    return [float(dtype(v)) for v in values]  # exactly representable in the dtype


def element_strategy(dtype, kind: str) -> st.SearchStrategy[float]:
    width = 32 if dtype == np.float32 else 64
    big = float(dtype(1e30))
    if kind == "normal":
        return st.floats(-20, 20, width=width)
    if kind == "logits":
        return st.floats(-1e4, 1e4, width=width)
    if kind == "huge":
        return st.one_of(st.floats(-big, big, width=width), st.sampled_from([big, -big]))
    if kind == "subnormal":
        tiny = float(np.finfo(dtype).tiny)
        return st.floats(-tiny, tiny, width=width)
    # "any": every float of the width, NaN, inf and subnormals included, plus the named specials
    return st.one_of(st.floats(width=width), st.sampled_from(specials(dtype)), st.floats(-5, 5, width=width))


@st.composite
def float_arrays(draw, shape=None, dtype=None, kinds=("normal", "logits", "huge", "subnormal", "any"),
                 layouts=LAYOUTS):
    """(array laid out as drawn, dtype, value kind)."""
    dtype = draw(st.sampled_from(FLOATS)) if dtype is None else dtype
    shape = draw(shapes) if shape is None else shape
    kind = draw(st.sampled_from(kinds))
    arr = draw(hnp.arrays(dtype, shape, elements=element_strategy(dtype, kind)))
    layout = draw(st.sampled_from(layouts))
    return lay_out(arr, layout), dtype, kind


def lay_out(arr: np.ndarray, layout: str) -> np.ndarray:
    """conftest.arrange, with 0-d arrays kept 0-d (arrange makes a C 0-d array
    1-d, through np.ascontiguousarray, and a strided one a NumPy scalar)."""
    if arr.ndim == 0:
        out = arr.copy()
        out.flags.writeable = layout != "readonly"
        return out
    return arrange(arr, layout)


# ---------------------------------------------------------------------------
# Comparison helpers
# ---------------------------------------------------------------------------

def both(fast_call: Callable[[], Any], ref_call: Callable[[], Any]) -> tuple[Any, Any, bool]:
    """Run the reference, then the fast call; the fast call must not warn
    unless the reference warned too.  Returns (fast, reference, reference_warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = ref_call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if caught else "error")
        actual = fast_call()
    return actual, expected, bool(caught)


def quietly(fast_call: Callable[[], Any], ref_call: Callable[[], Any]) -> tuple[Any, Any, bool]:
    """``both`` without the warning rule (warnings are dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fast_call(), ref_call(), True


def assert_close(actual: Any, expected: Any, dtype, scale: Any = 0.0, check_dtype: bool = True) -> None:
    """Equal to ``tolerance(dtype)``, with the absolute tolerance widened by
    rtol * scale (the size of the terms of a sum, which may be formed in
    another order); NaN and +-inf exactly where the reference has them.
    Where ``scale`` (an array) is not finite, the element is not compared."""
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    if check_dtype:
        assert a.dtype == e.dtype, (a.dtype, e.dtype)
    tol = tolerance(dtype)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), e.shape)
    limit = float(np.finfo(dtype).max) / 4
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(scale) & (scale < limit)
    a, e, scale = a[keep].astype(np.float64), e[keep].astype(np.float64), scale[keep]
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg="NaN in other places than the reference")
    np.testing.assert_array_equal(np.where(np.isinf(e), e, 0), np.where(np.isinf(a), a, 0),
                                  err_msg="inf in other places than the reference")
    finite = np.isfinite(e)
    err = np.abs(a[finite] - e[finite])
    allowed = tol["atol"] + tol["rtol"] * (np.abs(e[finite]) + scale[finite])
    bad = ~(err <= allowed)
    assert not bad.any(), (f"{int(bad.sum())} of {err.size} elements differ: first got {a[finite][bad][0]!r}, "
                           f"expected {e[finite][bad][0]!r}, allowed {allowed[bad][0]:.3g}")


def term_scale(*factors: np.ndarray) -> np.ndarray:
    """|a| @ |b| (for two factors): per element of a product, the sum of |terms|."""
    with np.errstate(all="ignore"):
        a, b = (np.abs(np.asarray(f, dtype=np.float64)) for f in factors)
        return a @ b


def _elementwise_case(data, name):
    """x, a dout of its shape and dtype, the dtype, and a fresh fast and
    reference layer of class ``name``."""
    x, dtype, _ = data.draw(float_arrays())
    dout, _, _ = data.draw(float_arrays(shape=x.shape, dtype=dtype))
    return x, dout, dtype, getattr(zk, name)(), getattr(ref, name)()


# ---------------------------------------------------------------------------
# Relu
# ---------------------------------------------------------------------------

@examples(40)
@given(st.data())
def test_relu_matches_reference_and_invariants(data):
    x, dout, dtype, fast, oracle = _elementwise_case(data, "Relu")
    y, y_ref, _ = both(lambda: fast.forward(x), lambda: oracle.forward(x))
    np.testing.assert_array_equal(y, y_ref)  # Relu is exact
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(fast.mask, oracle.mask)
    # NaN passes through; everything else is max(0, x) with 0 at x <= 0.
    xs = np.asarray(x)
    assert np.array_equal(np.isnan(y), np.isnan(xs))
    assert np.all(y[xs <= 0] == 0) and np.all(y[xs > 0] == xs[xs > 0])
    dx, dx_ref, _ = both(lambda: fast.backward(dout), lambda: oracle.backward(dout))
    np.testing.assert_array_equal(dx, dx_ref)
    assert np.all(dx[xs <= 0] == 0), "Relu backward must be zero where x <= 0"
    np.testing.assert_array_equal(dx[xs > 0], np.asarray(dout)[xs > 0])


# ---------------------------------------------------------------------------
# Sigmoid
# ---------------------------------------------------------------------------

@examples(40)
@given(st.data())
def test_sigmoid_matches_reference_and_invariants(data):
    x, dout, dtype, fast, oracle = _elementwise_case(data, "Sigmoid")
    # The reference silences exp's overflow itself: the fast layer must be quiet too.
    y, y_ref, _ = both(lambda: fast.forward(x), lambda: oracle.forward(x))
    assert y.dtype == dtype and y.shape == x.shape
    assert_close(y, y_ref, dtype, check_dtype=False)  # (the reference gives a NumPy scalar for 0-d x)
    xs = np.asarray(x)
    assert np.array_equal(np.isnan(y), np.isnan(xs)), "NaN exactly where x is NaN"
    finite_out = y[~np.isnan(xs)]
    assert np.all((finite_out >= 0) & (finite_out <= 1)), "sigmoid must lie in [0, 1]"
    dx, dx_ref, _ = both(lambda: fast.backward(dout), lambda: oracle.backward(dout))
    # dout * (1 - out) * out: 1 - out cancels near 1, the error scales with |dout| * out.
    with np.errstate(all="ignore"):
        scale = np.abs(np.asarray(dout, dtype=np.float64)) * np.abs(np.asarray(oracle.out, dtype=np.float64))
    assert_close(dx, dx_ref, dtype, scale)


# ---------------------------------------------------------------------------
# Affine
# ---------------------------------------------------------------------------

@st.composite
def affine_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    n, d, m = draw(sides), draw(sides), draw(sides)
    n, d, m = _cap((n, d, m), 70 * 70 * 70)
    # Product terms must stay finite in the dtype: +-1e30 only in float64.
    kinds = ("normal", "logits", "subnormal", "huge") if dtype == np.float64 else ("normal", "logits", "subnormal")
    kinds = kinds + ("any",) if draw(st.booleans()) else kinds
    three_d = d % 2 == 0 and d > 0 and draw(st.booleans())
    x_shape = (n, 2, d // 2) if three_d else (n, d)
    x, _, _ = draw(float_arrays(shape=x_shape, dtype=dtype, kinds=kinds))
    W, _, _ = draw(float_arrays(shape=(d, m), dtype=dtype, kinds=kinds, layouts=["C", "F", "strided"]))
    b, _, _ = draw(float_arrays(shape=(m,), dtype=dtype, kinds=kinds, layouts=["C", "strided"]))
    dout, _, _ = draw(float_arrays(shape=(n, m), dtype=dtype, kinds=kinds))
    return dtype, x, W, b, dout


def _finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


@examples(40)
@given(affine_case())
def test_affine_matches_reference(case):
    dtype, x, W, b, dout = case
    fast, oracle = zk.Affine(W, b), ref.Affine(W, b)
    finite = _finite(x, W, b, dout)
    # NumPy's dot warns or not for inf * 0 depending on the BLAS kernel it
    # picks (dtype, layout): the no-warning rule applies to finite inputs.
    call = both if finite else quietly
    out, out_ref, _ = call(lambda: fast.forward(x), lambda: oracle.forward(x))
    assert out.shape == (x.shape[0], W.shape[1]) and out.dtype == dtype
    x2d = np.asarray(x).reshape(x.shape[0], math.prod(x.shape[1:]))
    assert_close(out, out_ref, dtype, term_scale(x2d, W) + np.abs(b))
    dx, dx_ref, _ = call(lambda: fast.backward(dout), lambda: oracle.backward(dout))
    assert dx.shape == x.shape and dx.dtype == dtype
    assert_close(dx, dx_ref, dtype, term_scale(dout, np.asarray(W).T).reshape(x.shape))
    assert_close(fast.dW, oracle.dW, dtype, term_scale(x2d.T, dout))
    with np.errstate(all="ignore"):
        assert_close(fast.db, oracle.db, dtype, np.sum(np.abs(np.asarray(dout, dtype=np.float64)), axis=0))


# ---------------------------------------------------------------------------
# SoftmaxWithLoss
# ---------------------------------------------------------------------------

@st.composite
def softmax_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    single = draw(st.integers(0, 9)) == 0
    n = 1 if single else draw(st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, 70)))
    c = draw(st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, 70)))
    x, _, kind = draw(float_arrays(shape=(c,) if single else (n, c), dtype=dtype))
    labels = draw(st.lists(st.one_of(st.sampled_from([0, c - 1]), st.integers(0, c - 1)), min_size=n, max_size=n))
    labels[0] = c - 1  # both ends of the range, always
    labels[-1] = 0 if n > 1 else labels[-1]
    label_dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.intp])) if c <= 255 else np.int64
    idx = np.array(labels, dtype=label_dtype)
    form = draw(st.sampled_from(["index", "index", "onehot"]))
    if form == "onehot":
        t = np.eye(c, dtype=draw(st.sampled_from([np.float64, np.int64, np.bool_])))[idx]
        t = t[0] if single else t
    else:
        # (For one sample of C = 1 class a label of shape (1,) reads as one-hot, by design.)
        t = idx[0] if single and (c == 1 or draw(st.booleans())) else (idx if not single else idx[:1])
    eps = draw(st.sampled_from([1e-7, 0.0]))
    dout = draw(st.sampled_from([1, 1.0, 0.5, -2.0, np.float32(3.0)]))
    return dtype, x, t, eps, dout, kind


@examples(50)
@given(softmax_case())
def test_softmax_with_loss_matches_reference_and_invariants(case):
    dtype, x, t, eps, dout, kind = case
    fast, oracle = zk.SoftmaxWithLoss(eps=eps), ref.SoftmaxWithLoss(eps=eps)
    loss, loss_ref, ref_warned = both(lambda: fast.forward(x, t), lambda: oracle.forward(x, t))
    assert isinstance(loss, float)
    xs = np.asarray(x, dtype=np.float64)
    finite_x = bool(np.all(np.isfinite(xs)))
    x_max = float(np.max(np.abs(xs))) if finite_x else 0.0
    # The reference forms logsumexp in x's dtype and the kernel in double: the
    # loss agrees to the dtype's precision relative to the logits' size.
    if not ref_warned:  # (a reference that overflowed is no oracle for the loss)
        assert_close(loss, loss_ref, dtype, 1.0 + x_max, check_dtype=False)
    assert_close(fast.y, oracle.y, dtype)
    assert fast.y.shape == np.shape(x) and fast.y.dtype == dtype
    y2d = fast.y.reshape(-1, fast.y.shape[-1])
    if finite_x:
        c = y2d.shape[1]
        np.testing.assert_allclose(y2d.astype(np.float64).sum(axis=1), 1.0,
                                   rtol=0, atol=(c + 2) * float(np.finfo(dtype).eps))
        assert np.all(y2d >= 0) and np.all(y2d <= 1)
        # Each row's loss is at most its spread (max - x[t]) + log(C): finite
        # whenever the batch's mean of that is a double.  (Hypothesis found
        # x = [1e292, 0, -1.8e308], t = 2, eps = 0: an exact loss of
        # 1.8e308 + 1e292, past the largest double, so inf is right there.)
        with np.errstate(over="ignore"):
            spread = float(np.max(np.ptp(xs.reshape(-1, c), axis=1)))
        if spread < float(np.finfo(np.float64).max) / 2:
            assert math.isfinite(loss), "the loss of finite logits is finite"
        if eps == 0:
            assert loss >= 0, "the exact cross-entropy is never negative"
    dx, dx_ref, _ = both(lambda: fast.backward(dout), lambda: oracle.backward(dout))
    n = y2d.shape[0]
    assert_close(dx, dx_ref, dtype, abs(float(dout)) / n)
    if finite_x:
        # Each row of (y - onehot) sums to 0.
        rows = np.asarray(dx, dtype=np.float64).reshape(n, -1).sum(axis=1)
        ulps = 4 * (y2d.shape[1] + 2) * float(np.finfo(dtype).eps)
        np.testing.assert_allclose(rows, 0.0, atol=ulps * abs(float(dout)) / n)


@examples(20)
@given(st.sampled_from(FLOATS), st.integers(1, 40), st.integers(2, 40), st.sampled_from([1e4, 1e30]))
def test_softmax_with_loss_huge_logits_exact_loss_is_finite(dtype, n, c, magnitude):
    """eps=0 never overflows: logits of +-1e4 and +-1e30 give a finite, non-negative loss."""
    rng = np.random.default_rng(n * 1000 + c)
    x = (rng.choice([-1.0, 1.0], (n, c)) * magnitude * rng.uniform(0.5, 1, (n, c))).astype(dtype)
    t = rng.integers(0, c, n)
    t[0], t[-1] = 0, c - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = zk.SoftmaxWithLoss(eps=0).forward(x, t)
    assert math.isfinite(loss) and loss >= 0
    # logsumexp(x) - x[t] >= max(x) - x[t]: the loss is at least the mean gap to the row maximum.
    gap = float(np.mean(np.max(x.astype(np.float64), axis=1) - x.astype(np.float64)[np.arange(n), t]))
    assert loss >= gap * (1 - 1e-6)


# ---------------------------------------------------------------------------
# Gradients: backprop equals central differences on well-scaled inputs
# ---------------------------------------------------------------------------

small_sides = st.integers(1, 5)
well_scaled = st.floats(-2, 2, allow_nan=False, allow_infinity=False)
away_from_zero = st.floats(0.05, 2).flatmap(lambda v: st.sampled_from([v, -v]))


def _assert_gradients_agree(results: dict, atol: float = 1e-6) -> None:
    assert results, "gradient_check compared nothing"
    for name, cmp in results.items():
        assert cmp.backprop.shape == cmp.numerical.shape, name
        np.testing.assert_allclose(cmp.backprop, cmp.numerical, rtol=1e-5, atol=atol, err_msg=name)


@examples(15)
@given(st.data())
def test_gradients_match_numerical_gradients(data):
    layer_name = data.draw(st.sampled_from(["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "MulLayer", "AddLayer"]))
    n, d = data.draw(small_sides), data.draw(small_sides)
    if layer_name == "Relu":  # no input within h of the kink at 0
        x = data.draw(hnp.arrays(np.float64, (n, d), elements=away_from_zero))
        results = zk.gradient_check(zk.Relu(), x)
    elif layer_name == "Sigmoid":
        x = data.draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-6, 6)))
        results = zk.gradient_check(zk.Sigmoid(), x)
    elif layer_name == "Affine":
        m = data.draw(small_sides)
        W = data.draw(hnp.arrays(np.float64, (d, m), elements=well_scaled))
        b = data.draw(hnp.arrays(np.float64, (m,), elements=well_scaled))
        x = data.draw(hnp.arrays(np.float64, (n, d), elements=well_scaled))
        results = zk.gradient_check(zk.Affine(W, b), x)
        assert set(results) == {"x", "W", "b"}
    elif layer_name == "SoftmaxWithLoss":
        c = data.draw(st.integers(2, 6))
        x = data.draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-5, 5)))
        t = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
        t[0] = c - 1
        # eps=0, the exact loss: backward's y - onehot(t) is the gradient of
        # -log(y), and with the book's eps=1e-7 the numerical gradient of
        # -log(y + eps) differs from it by about eps / y[t] (4e-5 at y = 0.0025).
        results = zk.gradient_check(zk.SoftmaxWithLoss(eps=0), x, t)
    else:
        x = data.draw(hnp.arrays(np.float64, (n, d), elements=well_scaled))
        y = data.draw(hnp.arrays(np.float64, (n, d), elements=well_scaled))
        results = zk.gradient_check(getattr(zk, layer_name)(), x, y)
        assert set(results) == {"x", "y"}
    _assert_gradients_agree(results, atol=1e-5 if layer_name == "SoftmaxWithLoss" else 1e-6)


# ---------------------------------------------------------------------------
# Elementwise layers: parallel chunking on generated shapes
# ---------------------------------------------------------------------------

def tiny_grains():
    """conftest's tiny_grain as a context manager, for use inside a
    hypothesis test (function-scoped fixtures are not reset between examples)."""
    from zk_layers._threads import forced_grain

    return forced_grain(1)


@examples(15)
@given(st.data())
def test_parallel_chunks_match_serial_on_generated_shapes(data):
    """With every grain forced to 1 and 3 threads, odd sizes split into uneven
    chunks give bitwise the serial results (elementwise layers and the loss)."""
    x, dtype, _ = data.draw(float_arrays(kinds=("normal", "any")))
    dout, _, _ = data.draw(float_arrays(shape=x.shape, dtype=dtype, kinds=("normal",)))
    results = {}
    with tiny_grains():
        for n_threads in (1, 3):
            with zk.limit_threads(n_threads):
                relu, sig = zk.Relu(), zk.Sigmoid()
                out = [relu.forward(x), relu.backward(dout), sig.forward(x), sig.backward(dout)]
                if x.ndim == 2 and x.size:
                    loss = zk.SoftmaxWithLoss(eps=0)
                    labels = np.arange(x.shape[0]) % x.shape[1]
                    out += [np.array(loss.forward(x, labels)), loss.y, loss.backward()]
                results[n_threads] = out
    for a, b in zip(results[1], results[3], strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Bugs REL-1 to REL-5 found by the fuzzer (docs/reliability.md), fixed since:
# kept as regression tests
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("layer_name, expected", [("MulLayer", [3.0, 6.0]), ("AddLayer", [4.0, 5.0])])
def test_mul_add_layers_treat_lists_as_arrays(layer_name, expected):
    """[1.0, 2.0] is accepted as a real operand, so it must act like an array:
    today MulLayer gives [1.0, 2.0, 1.0, 2.0, 1.0, 2.0] (list repetition) and
    AddLayer([1.0, 2.0], [3.0]) a concatenation."""
    layer = getattr(zk, layer_name)()
    result = layer.forward([1.0, 2.0], 3) if layer_name == "MulLayer" else layer.forward([1.0, 2.0], [3.0])
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, expected)


def test_add_layer_rejected_forward_leaves_layer_unforwarded():
    """A forward that fails (here: operands that do not broadcast) stores no
    state; backward must then say that forward was not called, not raise
    AttributeError (it did when x and y were stored before the result)."""
    layer = zk.AddLayer()
    with pytest.raises((TypeError, ValueError)):
        layer.forward([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(zk.ForwardNotCalledError):
        layer.backward(1.0)


@pytest.mark.parametrize("layer_name", ["Relu", "Sigmoid"])
@pytest.mark.parametrize("bad_out", ["list", "float32", "fortran"])
def test_out_buffer_errors_agree_between_implementations(layer_name, bad_out):
    x = np.arange(6.0).reshape(2, 3) - 2
    out = {"list": [[0.0] * 3] * 2, "float32": np.empty((2, 3), np.float32),
           "fortran": np.empty((2, 3), order="F")}[bad_out]
    raised = []
    for impl in (zk, ref):
        try:
            getattr(impl, layer_name)().forward(x, out=out)
        except (TypeError, ValueError) as exc:
            raised.append(type(exc))
        else:
            raised.append(None)
    assert raised[0] is raised[1], raised


@pytest.mark.parametrize("layer_name, state", [("Relu", "mask"), ("Sigmoid", "out")])
def test_reference_rejected_out_leaves_state_untouched(layer_name, state):
    layer = getattr(ref, layer_name)()
    layer.forward(np.array([1.0, -1.0]))
    before = getattr(layer, state).copy()
    readonly = np.empty(3)
    readonly.flags.writeable = False
    with pytest.raises(ValueError):
        layer.forward(np.array([-1.0, 2.0, 3.0]), out=readonly)
    np.testing.assert_array_equal(getattr(layer, state), before)


def test_affine_mixed_dtype_gradients_agree():
    W, b = np.ones((3, 2), np.float32), np.zeros(2, np.float32)
    x, dout = np.ones((4, 3), np.float64), np.ones((4, 2), np.float32)
    fast, oracle = zk.Affine(W, b), ref.Affine(W, b)
    fast.forward(x), oracle.forward(x)
    dx, dx_ref = fast.backward(dout), oracle.backward(dout)
    assert (dx.dtype, fast.db.dtype, fast.dW.dtype) == (dx_ref.dtype, oracle.db.dtype, oracle.dW.dtype)


# ---------------------------------------------------------------------------
# The fuzzing harness (tests/fuzz.py): a short run, and proof that it bites
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz():
    import fuzz as harness  # tests/fuzz.py: a module of the suite, and a command-line tool

    return harness


def test_short_fuzz_run_finds_no_failures(fuzz):
    seconds = float(os.environ.get("ZK_FUZZ_SECONDS", "6" if PROFILE_NAME == "ci" else "120"))
    # A fixed seed in CI, so that a run is repeatable; the long profile explores.
    seed = 0 if PROFILE_NAME == "ci" else None
    # In a child process: a crash (segfault) fails this test with its reproducer.
    summary = fuzz.run_fuzz(seconds=seconds, engine="hypothesis", seed=seed, stop_on_failure=True, isolate=True)
    assert not summary.failures, summary.report()
    assert summary.examples >= 50, summary.report()  # it really ran
    assert summary.outcomes.get("ok", 0) > 0 and summary.outcomes.get("TypeError", 0) > 0, summary.report()
    assert summary.state_changes > 0, summary.report()  # inputs/attributes changed between calls


def _perturbed_relu_forward(original):
    def forward(self, x, out=None):
        y = original(self, x, out)
        if y.size > 2:
            y.flat[2] += 1.0
        return y
    return forward


def _leaky_exception_affine(original):
    def forward(self, x):
        if np.ndim(x) == 2 and np.shape(x)[0] > 1:
            raise IndexError("simulated kernel bug")
        return original(self, x)
    return forward


def _warning_sigmoid(original):
    def forward(self, x, out=None):
        warnings.warn("simulated spurious warning", RuntimeWarning, stacklevel=2)
        return original(self, x, out)
    return forward


@pytest.mark.parametrize("cls_name, method, make, expected", [
    ("Relu", "forward", _perturbed_relu_forward, "differ"),
    ("Affine", "forward", _leaky_exception_affine, "IndexError"),
    ("Sigmoid", "forward", _warning_sigmoid, "warned"),
])
def test_fuzzer_detects_injected_bugs(fuzz, monkeypatch, cls_name, method, make, expected):
    """The harness is not vacuous: a wrong value, a stray exception type and a
    spurious warning in a fast layer are each reported within seconds."""
    from zk_layers import layers

    cls = getattr(layers, cls_name)
    monkeypatch.setattr(cls, method, make(getattr(cls, method)))
    if cls_name == "Affine":
        ctor = ["gen_array(1, (3, 4), 'float64')", "gen_array(2, (4,), 'float64')"]
        x = "gen_array(3, (5, 3), 'float64')"
    else:
        ctor, x = [], "gen_array(3, (3, 4), 'float64', 'normal', 'C')"
    prog = fuzz.Program(cls_name, ctor, {}, [fuzz.Step("forward", [x], {})])
    failures = fuzz.check_program(prog)
    assert failures and expected in " ".join(failures), failures
    # And the random search finds such a bug by itself.
    summary = fuzz.run_fuzz(seconds=10, engine="random", seed=0)
    assert summary.failures, "the fuzzer missed an injected bug"
