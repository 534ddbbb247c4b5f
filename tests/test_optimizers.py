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
