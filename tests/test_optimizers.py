"""SGD, Momentum and Adam against steps computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import zk_layers as zk


def _params():
    return {"W": np.array([[1.0, -2.0], [0.5, 0.0]]), "b": np.array([0.1, -0.1])}


def _grads():
    return {"W": np.array([[0.2, -0.4], [1.0, 0.0]]), "b": np.array([-1.0, 2.0])}


def test_sgd_step_by_hand():
    params, grads = _params(), _grads()
    W = params["W"]
    zk.SGD(lr=0.1).update(params, grads)
    assert params["W"] is W  # in place: layers holding W see the update
    assert_allclose(params["W"], [[0.98, -1.96], [0.4, 0.0]], rtol=1e-15)
    assert_allclose(params["b"], [0.2, -0.3], rtol=1e-15)


def test_momentum_two_steps_by_hand():
    params, grads = _params(), _grads()
    opt = zk.Momentum(lr=0.1, momentum=0.9)
    opt.update(params, grads)  # v = -0.1 g ; p += v
    assert_allclose(params["b"], [0.1 + 0.1, -0.1 - 0.2], rtol=1e-14)
    opt.update(params, grads)  # v = 0.9 * (-0.1 g) - 0.1 g = -0.19 g
    assert_allclose(params["b"], [0.2 + 0.19, -0.3 - 0.38], rtol=1e-14)


def test_adam_two_steps_by_hand():
    params, grads = _params(), _grads()
    opt = zk.Adam(lr=0.01, beta1=0.9, beta2=0.999)
    g = -1.0  # b[0]
    p = 0.1
    m = v = 0.0
    for step in (1, 2):
        opt.update(params, grads)
        lr_t = 0.01 * math.sqrt(1 - 0.999**step) / (1 - 0.9**step)
        m += 0.1 * (g - m)
        v += 0.001 * (g * g - v)
        p -= lr_t * m / (math.sqrt(v) + 1e-7)
        assert params["b"][0] == pytest.approx(p, rel=1e-14)
    # Adam's first step moves every parameter by about lr, against its gradient's sign.
    assert opt.iter == 2


@pytest.mark.parametrize("make,error,match", [
    (lambda: zk.SGD(lr=0), ValueError, "lr must be positive"),
    (lambda: zk.SGD(lr=-1), ValueError, "lr must be positive"),
    (lambda: zk.SGD(lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: zk.Momentum(momentum=1.0), ValueError, "momentum must be in"),
    (lambda: zk.Adam(beta2=1.5), ValueError, "beta2 must be in"),
    (lambda: zk.SGD().update({"W": np.ones(2)}, {}), ValueError, "no entry for parameter"),
])
def test_bad_optimizer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_compiled_update_is_bitwise_numpys(dtype):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((300, 70)).astype(dtype), "b": rng.standard_normal(70).astype(dtype)}
    grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
    expected = {k: v.copy() for k, v in params.items()}
    for k in expected:
        expected[k] -= 0.37 * grads[k]
    arrays = dict(params)
    zk.SGD(lr=0.37).update(params, grads)
    for k in params:
        assert params[k] is arrays[k]
        np.testing.assert_array_equal(params[k], expected[k])


def test_sgd_falls_back_to_numpy_for_other_layouts_and_dtypes():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 8))
    params = {"view": base[:, ::2], "fortran": np.asfortranarray(rng.standard_normal((5, 3))),
              "mixed": rng.standard_normal(4)}
    grads = {"view": rng.standard_normal((6, 4)), "fortran": rng.standard_normal((5, 3)),
             "mixed": rng.standard_normal(4).astype(np.float32)}
    expected = {k: v - 0.5 * grads[k] for k, v in params.items()}
    zk.SGD(lr=0.5).update(params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k])
    np.testing.assert_array_equal(base[:, ::2], expected["view"])  # updated through the view


def test_sgd_takes_every_entry_in_one_call_or_none():
    """One compiled call updates a dict whose entries all fit; when one does
    not (here the last), it writes nothing and the entry-by-entry path
    gives the same results as the book's lines."""
    from zk_layers import _update

    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((30, 7)), "b": rng.standard_normal(7)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    expected = {k: v - 0.25 * grads[k] for k, v in params.items()}
    assert _update.sgd_all(params, grads, 0.25) is True
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k])

    params["c"], grads["c"] = np.arange(3.0)[::-1], np.ones(3)  # a negative stride: not the kernels'
    before = {k: v.copy() for k, v in params.items()}
    assert _update.sgd_all(params, grads, 0.25) is None
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])  # nothing written
    assert _update.sgd_all(params, {"W": grads["W"]}, 0.25) is None  # missing keys: nothing written
    np.testing.assert_array_equal(params["W"], before["W"])
    zk.SGD(lr=0.25).update(params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k] - 0.25 * grads[k])


# ------------------------------------------------ chapter 6's optimizers
def test_nesterov_two_steps_by_hand():
    params, grads = _params(), _grads()
    opt = zk.Nesterov(lr=0.1, momentum=0.9)
    g, p, v = -1.0, 0.1, 0.0  # b[0]
    for _ in range(2):
        opt.update(params, grads)
        p += 0.9 * 0.9 * v
        p -= (1 + 0.9) * 0.1 * g
        v = 0.9 * v - 0.1 * g
        assert params["b"][0] == p
    assert opt.v["b"][0] == v


def test_adagrad_two_steps_by_hand():
    params, grads = _params(), _grads()
    opt = zk.AdaGrad(lr=0.5)
    opt.update(params, grads)  # h = g*g; p -= lr * g / (|g| + 1e-7)
    assert params["b"][1] == -0.1 - 0.5 * 2.0 / (2.0 + 1e-7)
    opt.update(params, grads)  # h = 2 g*g
    assert params["b"][1] == (-0.1 - 0.5 * 2.0 / (2.0 + 1e-7)) - 0.5 * 2.0 / (math.sqrt(8.0) + 1e-7)
    assert params["W"][1, 1] == 0.0  # a zero gradient leaves the parameter alone


def test_rmsprop_two_steps_by_hand():
    params, grads = _params(), _grads()
    opt = zk.RMSprop(lr=0.01, decay_rate=0.9)
    g, p, h = -1.0, 0.1, 0.0
    for _ in range(2):
        opt.update(params, grads)
        h = h * 0.9 + (1 - 0.9) * g * g
        p -= 0.01 * g / (math.sqrt(h) + 1e-7)
        assert params["b"][0] == p


def _book_step(name, params, grads, state, it):
    """The book's update lines (common/optimizer.py), in NumPy, for the comparison."""
    for key in params:
        g = grads[key]
        if name == "SGD":
            params[key] -= 0.01 * g
        elif name == "Momentum":
            state["v"][key] = 0.9 * state["v"][key] - 0.01 * g
            params[key] += state["v"][key]
        elif name == "Nesterov":
            params[key] += 0.9 * 0.9 * state["v"][key]
            params[key] -= (1 + 0.9) * 0.01 * g
            state["v"][key] *= 0.9
            state["v"][key] -= 0.01 * g
        elif name == "AdaGrad":
            state["h"][key] += g * g
            params[key] -= 0.01 * g / (np.sqrt(state["h"][key]) + 1e-7)
        elif name == "RMSprop":
            state["h"][key] *= 0.99
            state["h"][key] += (1 - 0.99) * g * g
            params[key] -= 0.01 * g / (np.sqrt(state["h"][key]) + 1e-7)
        elif name == "Adam":
            lr_t = 0.001 * np.sqrt(1.0 - 0.999**it) / (1.0 - 0.9**it)
            state["m"][key] += (1 - 0.9) * (g - state["m"][key])
            state["v"][key] += (1 - 0.999) * (g**2 - state["v"][key])
            params[key] -= lr_t * state["m"][key] / (np.sqrt(state["v"][key]) + 1e-7)


ALL_SIX = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


@pytest.mark.parametrize("name", ALL_SIX)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_compiled_updates_are_bitwise_the_books_formulas(name, dtype, n_threads, tiny_grain, threads):
    threads(n_threads)
    rng = np.random.default_rng(3)
    params = {"W": rng.standard_normal((30, 7)).astype(dtype), "b": rng.standard_normal(7).astype(dtype)}
    book = {k: v.copy() for k, v in params.items()}
    state = {s: {k: np.zeros_like(v) for k, v in params.items()} for s in ("v", "h", "m")}
    opt = getattr(zk, name)()
    arrays = dict(params)
    for it in range(1, 5):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        opt.update(params, grads)
        _book_step(name, book, grads, state, it)
        for key in params:
            assert params[key] is arrays[key]
            np.testing.assert_array_equal(params[key], book[key], err_msg=f"{name} step {it} {key}")


@pytest.mark.parametrize("name", ALL_SIX)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_compiled_updates_are_the_books_at_every_offset_into_a_cache_line(name, dtype, n_threads, tiny_grain,
                                                                          threads):
    """The kernels cut their range at param's first 64-byte line: views
    starting at every element offset, and lengths shorter than the cut,
    give the book's bits."""
    threads(n_threads)
    rng = np.random.default_rng(5)
    per_line = 64 // np.dtype(dtype).itemsize
    for offset in range(per_line):
        for n in (1, 3, per_line + 5, 211):
            buffers = [np.zeros(n + 2 * per_line, dtype) for _ in range(2)]
            params = {"W": buffers[0][offset:offset + n], "b": buffers[1][offset + 1:offset + 1 + n]}
            for value in params.values():
                value[...] = rng.standard_normal(n)
            book = {k: v.copy() for k, v in params.items()}
            state = {s: {k: np.zeros_like(v) for k, v in params.items()} for s in ("v", "h", "m")}
            opt = getattr(zk, name)()
            for it in range(1, 3):
                grads = {k: rng.standard_normal(n).astype(dtype) for k in params}
                opt.update(params, grads)
                _book_step(name, book, grads, state, it)
                for key in params:
                    np.testing.assert_array_equal(params[key], book[key], err_msg=f"{name} {offset} {n} {key}")
            # The buffers around the views are untouched.
            assert not buffers[0][:offset].any() and not buffers[0][offset + n:].any()


@pytest.mark.parametrize("name", ALL_SIX)
def test_python_float_parameters_take_the_books_lines(name):
    """ch06/optimizer_compare_naive.py optimizes two Python floats."""
    params, grads = {"x": -7.0, "y": 2.0}, {"x": -0.7, "y": 4.0}
    book = dict(params)
    state = {s: {k: np.zeros_like(v) for k, v in params.items()} for s in ("v", "h", "m")}
    opt = getattr(zk, name)()
    for it in range(1, 4):
        opt.update(params, grads)
        _book_step(name, book, grads, state, it)
        assert params == book


def test_replaced_state_is_checked_before_the_compiled_pass():
    params, grads = _params(), _grads()
    opt = zk.Momentum()
    opt.update(params, grads)
    state = opt.v
    state["W"] = np.zeros((1, 2))  # broadcasts in the book's lines; must not reach the kernel
    expected = {k: v.copy() for k, v in params.items()}
    opt.update(params, grads)
    assert params["W"].shape == (2, 2) and not np.array_equal(params["W"], expected["W"])
    state["b"] = np.zeros(2)[::-1]  # a view: the book's lines, same values as a fresh array
    opt.update(params, grads)


@pytest.mark.parametrize("make,error,match", [
    (lambda: zk.Nesterov(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\)"),
    (lambda: zk.AdaGrad(lr=0), ValueError, "lr must be positive"),
    (lambda: zk.RMSprop(decay_rate=1), ValueError, r"decay_rate must be in \[0, 1\)"),
    (lambda: zk.RMSprop(lr=None), TypeError, "lr must be a real number"),
])
def test_bad_arguments_of_the_new_optimizers(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_replaced_state_that_the_books_lines_reject_is_named():
    params, grads = _params(), _grads()
    opt = zk.Adam()
    opt.update(params, grads)
    opt.v["W"] = np.zeros((1, 2))  # an in-place += cannot broadcast into it, in the book either
    with pytest.raises(ValueError, match=r"Adam.v\['W'\] has shape \(1, 2\), which is not the shape"):
        opt.update(params, grads)
