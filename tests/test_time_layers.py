"""The time layers of chapters 5-8 (zk_layers.recurrent, zk_layers.book2.time_layers
and .attention_layer) against the second volume's own code and against
numerical differentiation.

The oracle is the book's checkout named by ZK_LAYERS_BOOK2_DIR (its
``common/time_layers.py`` and ``ch08/attention_layer.py``, loaded under
their own names for the test and removed afterwards); those tests skip when
it is unset (CI sets it).  The numerical gradients, the kernels' arithmetic,
the errors and the thread counts need nothing.
"""
from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from zk_layers import _recurrent, recurrent
from zk_layers._threads import forced_grain
from zk_layers.book2 import attention_layer, time_layers

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
needs_book = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "common", "time_layers.py"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (deep-learning-from-scratch-2)")

# The book's float32 arithmetic against ours, summed in another order:
# agreement to rounding, which the recurrences carry over the steps, relative
# to the array's largest element (a gradient summed over N*T steps cancels
# to values far smaller than its terms).
CLOSE = {np.float32: 2e-5, np.float64: 1e-11}


@pytest.fixture(scope="module")
def book():
    """The book's common.time_layers and ch08/attention_layer on its own common."""
    names = [n for n in sys.modules if n == "common" or n.startswith("common.") or n == "attention_layer"]
    saved = {n: sys.modules.pop(n) for n in names}
    sys.path[:0] = [BOOK2_DIR, os.path.join(BOOK2_DIR, "ch08")]
    try:
        return {"time": importlib.import_module("common.time_layers"),
                "attention": importlib.import_module("attention_layer")}
    finally:
        for n in [n for n in sys.modules if n == "common" or n.startswith("common.") or n == "attention_layer"]:
            del sys.modules[n]
        sys.modules.update(saved)
        del sys.path[:2]


def _weights(rng, gates, D, H, dtype):  # noqa: N803
    Wx = (rng.standard_normal((D, gates * H)) / np.sqrt(D)).astype(dtype)  # noqa: N806
    Wh = (rng.standard_normal((H, gates * H)) / np.sqrt(H)).astype(dtype)  # noqa: N806
    return Wx, Wh, rng.standard_normal(gates * H).astype(dtype)


def _close(ours, theirs, dtype):
    assert np.asarray(ours).dtype == np.asarray(theirs).dtype
    rtol = CLOSE[np.dtype(dtype).type]
    scale = float(np.max(np.abs(theirs), initial=0.0))
    assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


RECURRENT = [("TimeRNN", 1), ("TimeLSTM", 4), ("TimeGRU", 3)]
SIZES = [(1, 1, 1, 1), (3, 5, 4, 6), (2, 7, 3, 150), (20, 35, 65, 65)]  # 150: a block of 128 and a tail


@needs_book
@pytest.mark.parametrize("name, gates", RECURRENT)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stateful", [False, True])
def test_recurrent_layers_match_the_book(book, name, gates, size, stateful, dtype):
    N, T, D, H = size  # noqa: N806
    rng = np.random.default_rng(sum(size))
    params = _weights(rng, gates, D, H, dtype)
    theirs = getattr(book["time"], name)(*params, stateful=stateful)
    ours = getattr(time_layers, name)(*params, stateful=stateful)
    for _ in range(2):  # a stateful layer carries its state into the second sequence
        xs = rng.standard_normal((N, T, D)).astype(np.float32)
        dhs = rng.standard_normal((N, T, H)).astype(np.float32)
        _close(ours.forward(xs), theirs.forward(xs), np.float32)
        _close(ours.backward(dhs), theirs.backward(dhs), np.float32)
        for a, b in zip(ours.grads, theirs.grads, strict=True):
            _close(a, b, dtype)
        _close(ours.h, theirs.h, dtype)
        _close(ours.dh, theirs.dh, dtype)
        if name == "TimeLSTM":
            _close(ours.c, theirs.c, dtype)


@needs_book
@pytest.mark.parametrize("name, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_one_step_layers_match_the_book(book, name, gates, dtype):
    N, D, H = 4, 5, 6  # noqa: N806
    rng = np.random.default_rng(7)
    params = _weights(rng, gates, D, H, dtype)
    theirs, ours = getattr(book["time"], name)(*params), getattr(time_layers, name)(*params)
    x, h = rng.standard_normal((N, D)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    states = (h, rng.standard_normal((N, H)).astype(dtype)) if name == "LSTM" else (h,)
    out_b, out_z = theirs.forward(x, *states), ours.forward(x, *states)
    for a, b in zip(np.atleast_1d(out_z) if name != "LSTM" else out_z,
                    np.atleast_1d(out_b) if name != "LSTM" else out_b, strict=True):
        _close(a, b, dtype)
    upstream = [rng.standard_normal((N, H)).astype(dtype) for _ in states]
    for a, b in zip(ours.backward(*upstream), theirs.backward(*upstream), strict=True):
        _close(a, b, dtype)
    for a, b in zip(ours.grads, theirs.grads, strict=True):
        _close(a, b, dtype)


@needs_book
def test_lstm_inputs_of_any_layout(book, layout):
    from conftest import arrange

    rng = np.random.default_rng(3)
    params = _weights(rng, 4, 5, 7, np.float32)
    xs = rng.standard_normal((3, 4, 5)).astype(np.float32)
    dhs = rng.standard_normal((3, 4, 7)).astype(np.float32)
    theirs, ours = book["time"].TimeLSTM(*params), time_layers.TimeLSTM(*params)
    _close(ours.forward(arrange(xs, layout)), theirs.forward(xs), np.float32)
    _close(ours.backward(arrange(dhs, layout)), theirs.backward(dhs), np.float32)
    for a, b in zip(ours.grads, theirs.grads, strict=True):
        _close(a, b, np.float32)


@needs_book
def test_bilstm_and_the_sequence_layers_match_the_book(book):
    rng = np.random.default_rng(11)
    N, T, D, H, V = 3, 4, 5, 6, 9  # noqa: N806
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    params = [*_weights(rng, 4, D, H, np.float32), *_weights(rng, 4, D, H, np.float32)]
    theirs, ours = book["time"].TimeBiLSTM(*params), time_layers.TimeBiLSTM(*params)
    _close(ours.forward(xs), theirs.forward(xs), np.float32)
    d = rng.standard_normal((N, T, 2 * H)).astype(np.float32)
    _close(ours.backward(d), theirs.backward(d), np.float32)
    for a, b in zip(ours.grads, theirs.grads, strict=True):
        _close(a, b, np.float32)

    W, b = rng.standard_normal((D, V)).astype(np.float32), rng.standard_normal(V).astype(np.float32)  # noqa: N806
    theirs, ours = book["time"].TimeAffine(W, b), time_layers.TimeAffine(W, b)
    assert_array_equal(ours.forward(xs), theirs.forward(xs))  # the book's lines: the same bits
    d = rng.standard_normal((N, T, V)).astype(np.float32)
    assert_array_equal(ours.backward(d), theirs.backward(d))
    for a, c in zip(ours.grads, theirs.grads, strict=True):
        assert_array_equal(a, c)

    E = rng.standard_normal((V, D)).astype(np.float32)  # noqa: N806
    ids = rng.integers(0, V, (N, T))
    ids[0, :2] = 3  # a repeated word
    theirs, ours = book["time"].TimeEmbedding(E), time_layers.TimeEmbedding(E)
    assert_array_equal(ours.forward(ids), theirs.forward(ids))
    d = rng.standard_normal((N, T, D)).astype(np.float32)
    assert ours.backward(d) is None and theirs.backward(d) is None
    _close(ours.grads[0], theirs.grads[0], np.float32)
    assert ours.W is E and ours.params[0] is E

    np.random.seed(4)  # noqa: NPY002 (the book's draws)
    theirs = book["time"].TimeDropout(0.3)
    out_b, back_b = theirs.forward(xs), theirs.backward(xs)
    np.random.seed(4)  # noqa: NPY002
    ours = time_layers.TimeDropout(0.3)
    assert_array_equal(ours.forward(xs), out_b)
    assert_array_equal(ours.backward(xs), back_b)
    assert_array_equal(ours.mask, theirs.mask)
    ours.train_flg = False
    assert ours.forward(xs) is xs


@needs_book
@pytest.mark.parametrize("onehot", [False, True])
@pytest.mark.parametrize("ignored", [False, True])
def test_softmax_losses_match_the_book(book, dtype, onehot, ignored):
    rng = np.random.default_rng(5)
    N, T, V = 4, 6, 13  # noqa: N806
    xs = (rng.standard_normal((N, T, V)) * 3).astype(dtype)
    ts = rng.integers(0, V, (N, T))
    if ignored:
        ts[1, 2] = ts[3, 0] = -1
    labels = np.eye(V, dtype=np.int32)[ts] if onehot and not ignored else ts
    theirs, ours = book["time"].TimeSoftmaxWithLoss(), time_layers.TimeSoftmaxWithLoss()
    assert_allclose(ours.forward(xs, labels), theirs.forward(xs, labels), rtol=CLOSE[np.dtype(dtype).type])
    _close(ours.backward(2.0), theirs.backward(2.0), dtype)
    if not ignored:
        theirs, ours = book["time"].Simple_TimeSoftmaxWithLoss(), time_layers.Simple_TimeSoftmaxWithLoss()
        assert_allclose(ours.forward(xs, ts), theirs.forward(xs, ts), rtol=CLOSE[np.dtype(dtype).type])
        _close(ours.backward(), theirs.backward(), np.float32)
    scores, bits = xs[:, :, 0], rng.integers(0, 2, (N, T))
    theirs, ours = book["time"].TimeSigmoidWithLoss(), time_layers.TimeSigmoidWithLoss()
    assert_allclose(ours.forward(scores, bits), theirs.forward(scores, bits), rtol=CLOSE[np.dtype(dtype).type])
    _close(ours.backward(), theirs.backward(), np.float32)


@needs_book
@pytest.mark.parametrize("T_enc, T_dec", [(7, 5), (1, 1), (29, 11)])  # noqa: N803
def test_attention_matches_the_book(book, dtype, T_enc, T_dec):  # noqa: N803
    rng = np.random.default_rng(T_enc)
    N, H = 4, 6  # noqa: N806
    hs_enc = rng.standard_normal((N, T_enc, H)).astype(dtype)
    hs_dec = rng.standard_normal((N, T_dec, H)).astype(dtype)
    theirs, ours = book["attention"].TimeAttention(), attention_layer.TimeAttention()
    _close(ours.forward(hs_enc, hs_dec), theirs.forward(hs_enc, hs_dec), dtype)
    _close(np.array(ours.attention_weights), np.array(theirs.attention_weights), dtype)
    d = rng.standard_normal((N, T_dec, H)).astype(dtype)
    for a, b in zip(ours.backward(d), theirs.backward(d), strict=True):
        _close(a, b, dtype)
    h = hs_dec[:, 0]
    for name, args in (("WeightSum", (hs_enc, rng.random((N, T_enc)).astype(dtype))),
                       ("AttentionWeight", (hs_enc, h)), ("Attention", (hs_enc, h))):
        theirs, ours = getattr(book["attention"], name)(), getattr(attention_layer, name)()
        out_b, out_z = theirs.forward(*args), ours.forward(*args)
        _close(out_z, out_b, dtype)
        d = rng.standard_normal(out_b.shape).astype(dtype)
        for a, b in zip(ours.backward(d), theirs.backward(d), strict=True):
            _close(a, b, dtype)


# -- numerical differentiation ------------------------------------------------


def _numerical(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to x, in place."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        up = f()
        x[i] = saved - eps
        down = f()
        x[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def _check_layer(layer, inputs, upstream_shape, rng):
    """Backward of ``sum(out * R)`` against its numerical gradient, for the
    inputs and every parameter, float64."""
    R = rng.standard_normal(upstream_shape)  # noqa: N806
    layer.forward(*inputs)
    grads_in = layer.backward(R)
    grads_in = grads_in if isinstance(grads_in, tuple) else (grads_in,)
    grads = [g.copy() for g in layer.grads]

    def loss():
        out = layer.forward(*inputs)
        return float(np.sum(out * R))

    for x, g in zip(inputs, grads_in, strict=True):
        assert_allclose(g, _numerical(loss, x), rtol=1e-6, atol=1e-8)
    for p, g in zip(layer.params, grads, strict=True):
        assert_allclose(g, _numerical(loss, p), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, gates", [("TimeRNN", 1), ("TimeLSTM", 4)])
def test_recurrent_gradients_are_the_numerical_ones(name, gates):
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 4, 3, 5  # noqa: N806
    layer = getattr(recurrent, name)(*_weights(rng, gates, D, H, np.float64))
    _check_layer(layer, (rng.standard_normal((N, T, D)),), (N, T, H), rng)


def test_gru_gradients_are_the_numerical_ones():
    rng = np.random.default_rng(3)
    layer = time_layers.TimeGRU(*_weights(rng, 3, 3, 4, np.float64))
    layer._book_float32 = False  # the book's returns float32; the check needs float64
    _check_layer(layer, (rng.standard_normal((2, 3, 3)),), (2, 3, 4), rng)


def test_attention_gradients_are_the_numerical_ones():
    rng = np.random.default_rng(4)
    _check_layer(attention_layer.TimeAttention(), (rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))),
                 (2, 4, 3), rng)
    _check_layer(attention_layer.Attention(), (rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3))),
                 (2, 3), rng)


def test_softmax_loss_gradient_is_the_numerical_one():
    rng = np.random.default_rng(6)
    xs, ts = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 3))
    for labels in (ts, np.where(np.arange(3) == 1, -1, ts)):
        layer = time_layers.TimeSoftmaxWithLoss()
        layer.forward(xs, labels)
        numerical = _numerical(lambda layer=layer, labels=labels: layer.forward(xs, labels), xs)
        assert_allclose(layer.backward(), numerical, rtol=1e-6, atol=1e-9)


def test_lstm_one_step_backward_takes_the_cell_gradient():
    rng = np.random.default_rng(8)
    layer = recurrent.LSTM(*_weights(rng, 4, 3, 4, np.float64))
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    rh, rc = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))

    def loss():
        h_next, c_next = layer.forward(x, h, c)
        return float(np.sum(h_next * rh) + np.sum(c_next * rc))

    loss()
    dx, dh, dc = layer.backward(rh, rc)
    for grad, arg in ((dx, x), (dh, h), (dc, c)):
        assert_allclose(grad, _numerical(loss, arg), rtol=1e-6, atol=1e-9)


# -- the kernels' arithmetic -----------------------------------------------


def test_float32_tanh_is_within_a_few_ulp():
    # hs = tanh(0 + ax + 0): the kernel's tanh on every float32 from -12 to 12 in steps.
    values = np.concatenate([np.linspace(-12, 12, 200_001, dtype=np.float32),
                             np.float32([0.0, -0.0, 0.2499999, 0.25, 1e-30, -1e-30, 50, -50, 1e30,
                                         np.inf, -np.inf])])
    ax = values.reshape(1, 1, -1)
    hs = np.empty_like(ax)
    _recurrent.rnn_forward_step(ax, np.zeros((1, ax.shape[2]), np.float32), np.zeros(ax.shape[2], np.float32),
                                hs, 0)
    exact = np.tanh(values.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(hs[0, 0] - exact) / ulp) <= 4
    assert_array_equal(hs[0, 0, -5:], [1, -1, 1, 1, -1])  # saturated, infinities included
    nan = np.full((1, 1, 3), np.nan, np.float32)
    out = np.empty_like(nan)
    _recurrent.rnn_forward_step(nan, np.zeros((1, 3), np.float32), np.zeros(3, np.float32), out, 0)
    assert np.isnan(out).all()


def _lstm_outputs(dtype, T=6):  # noqa: N803
    rng = np.random.default_rng(9)
    layer = recurrent.TimeLSTM(*_weights(rng, 4, 7, 150, dtype))
    xs = rng.standard_normal((5, T, 7)).astype(dtype)
    xs[0, 0, 0] = np.nan  # a NaN travels one row's recurrence
    with np.errstate(invalid="ignore"):
        hs = layer.forward(xs)
        dxs = layer.backward(rng.standard_normal(hs.shape).astype(dtype))
    return [hs, dxs, *[g.copy() for g in layer.grads], layer.h, layer.c, layer.dh]


def test_recurrent_kernels_are_bitwise_the_same_at_every_thread_count(dtype, threads):
    threads(1)
    expected = _lstm_outputs(dtype)
    with forced_grain(1):
        for n in (2, 3, 4):
            threads(n)
            for a, b in zip(_lstm_outputs(dtype), expected, strict=True):
                assert_array_equal(a.view(np.uint8), b.view(np.uint8))


# -- errors, inputs and state ------------------------------------------------


def test_bad_inputs_are_refused_with_their_names():
    rng = np.random.default_rng(1)
    layer = time_layers.TimeLSTM(*_weights(rng, 4, 3, 4, np.float32))
    with pytest.raises(ValueError, match=r"xs must be an \(N, T, 3\) array"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"xs must be an \(N, T, 3\) array"):
        layer.forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="backward called before forward"):
        layer.backward(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="expected float32 or float64"):
        time_layers.TimeLSTM(*(p.astype(np.complex64) for p in _weights(rng, 4, 3, 4, np.float32))).forward(
            np.zeros((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected Wx \(D, 4H\)"):
        time_layers.TimeLSTM(np.zeros((3, 8)), np.zeros((4, 16)), np.zeros(16)).forward(np.zeros((1, 1, 3)))
    layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"dhs must have the forward output's shape \(2, 5, 4\)"):
        layer.backward(np.zeros((2, 4, 4)))
    layer.stateful = True
    with pytest.raises(ValueError, match=r"the state h must be \(3, 4\)"):
        layer.forward(np.zeros((3, 5, 3), np.float32))  # the state kept is for a batch of 2


def test_params_changed_between_forward_and_backward_are_refused():
    rng = np.random.default_rng(1)
    layer = time_layers.TimeLSTM(*_weights(rng, 4, 3, 4, np.float32))
    layer.forward(np.zeros((2, 5, 3), np.float32))
    layer.params[1] = np.zeros((4, 16), np.float32)
    with pytest.raises(ValueError, match="params changed since forward"):
        layer.backward(np.zeros((2, 5, 4), np.float32))


def test_inputs_and_params_are_not_changed_and_are_kept():
    rng = np.random.default_rng(2)
    params = _weights(rng, 4, 3, 4, np.float32)
    saved = [p.copy() for p in params]
    layer = time_layers.TimeLSTM(*params)
    assert all(a is b for a, b in zip(layer.params, params, strict=True))
    xs, dhs = rng.standard_normal((2, 5, 3)).astype(np.float32), rng.standard_normal((2, 5, 4)).astype(np.float32)
    xs_saved, dhs_saved = xs.copy(), dhs.copy()
    layer.forward(xs)
    expected = layer.backward(dhs), [g.copy() for g in layer.grads]
    layer.forward(xs)
    xs[...] = 7  # the caller reuses its array before backward: backward is forward's
    assert_array_equal(layer.backward(dhs), expected[0])
    for a, b in zip(layer.grads, expected[1], strict=True):
        assert_array_equal(a, b)
    xs[...] = xs_saved
    assert_array_equal(dhs, dhs_saved)
    for a, b in zip(params, saved, strict=True):
        assert_array_equal(a, b)


def test_sigmoid_loss_keeps_its_labels():
    rng = np.random.default_rng(3)
    xs, ts = rng.standard_normal((3, 4)).astype(np.float32), rng.integers(0, 2, (3, 4))
    layer = time_layers.TimeSigmoidWithLoss()
    layer.forward(xs, ts)
    expected = layer.backward()
    layer.forward(xs, ts)
    ts[...] = 1 - ts  # the caller reuses its labels before backward: backward is forward's
    assert_array_equal(layer.backward(), expected)


def test_glue_refuses_arrays_that_do_not_fit():
    f32 = np.float32
    gates, g, b = np.zeros((2, 3, 8), f32), np.zeros((2, 8), f32), np.zeros(8, f32)
    c0 = np.zeros((2, 2), f32)
    cs, tcs, hs = (np.zeros((2, 3, 2), f32) for _ in range(3))
    _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs, 2)  # fits
    with pytest.raises(ValueError, match=r"t: expected a time step in \[0, 3\)"):
        _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs, 3)
    with pytest.raises(ValueError, match=r"g: expected shape \(2, 8\)"):
        _recurrent.lstm_forward_step(gates, g[:1], b, c0, cs, tcs, hs, 0)
    with pytest.raises(TypeError, match="hs: expected the dtype"):
        _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs.astype(np.float64), 0)
    with pytest.raises(TypeError, match="gates: expected a C-contiguous"):
        _recurrent.lstm_forward_step(gates[:, ::-1], g, b, c0, cs, tcs, hs, 0)
    with pytest.raises(ValueError, match="the last a multiple of 4"):
        _recurrent.lstm_forward_step(gates[:, :, :7].copy(), g, b, c0, cs, tcs, hs, 0)
    cs.flags.writeable = False
    with pytest.raises(ValueError, match="cs: expected a writeable array"):
        _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs, 0)


def test_a_long_lstm_step_releases_the_gil():
    # The negative control of this check is test_threads' sorted(list).
    from test_threads import _longest_stall

    import zk_layers as zk

    N, H = 40_000, 128  # noqa: N806 (5 million cells: tens of ms)
    f32 = np.float32
    gates = np.random.default_rng(0).standard_normal((N, 1, 4 * H)).astype(f32)
    g, b, c0 = np.zeros((N, 4 * H), f32), np.zeros(4 * H, f32), np.zeros((N, H), f32)
    cs, tcs, hs = (np.empty((N, 1, H), f32) for _ in range(3))
    with zk.limit_threads(1):
        duration, stall = _longest_stall(lambda: _recurrent.lstm_forward_step(gates, g, b, c0, cs, tcs, hs, 0))
    assert duration > 0.01
    assert stall < 0.3 * duration, (duration, stall)
