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
