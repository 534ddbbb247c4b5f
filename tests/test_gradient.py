"""Backprop against numerical differentiation, for every layer and a small net."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk

WELL_SCALED = 1e-6  # mean abs difference allowed in float64 (the bar)


def test_numerical_gradient_of_known_function():
    """The book's example: f(x0, x1) = x0**2 + x1**2 has gradient (2 x0, 2 x1)."""
    x = np.array([3.0, 4.0])
    grad = zk.numerical_gradient(lambda v: np.sum(v**2), x)
    assert_allclose(grad, [6.0, 8.0], rtol=1e-9)
    assert_array_equal(x, [3.0, 4.0])  # restored


def test_numerical_gradient_restores_x_even_when_f_raises():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError):
        zk.numerical_gradient(f, x)
    assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])


def test_numerical_gradient_counts_two_passes_per_element():
    x = np.zeros((3, 4))
    calls = []
    zk.numerical_gradient(lambda v: calls.append(1) or 0.0, x)
    assert len(calls) == 2 * x.size


@pytest.fixture
def inputs(rng):
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 0.05] = 0.3  # keep away from the Relu kink where h=1e-4 would straddle it
    return x


@pytest.mark.parametrize("impl_name", ["fast", "reference"])
@pytest.mark.parametrize("layer_name", ["Relu", "Sigmoid"])
def test_elementwise_layers(impl_name, layer_name, inputs):
    impl = zk if impl_name == "fast" else zk.reference
    result = zk.gradient_check(getattr(impl, layer_name)(), inputs)
    assert set(result) == {"x"}
    assert result["x"].mean_abs_diff < WELL_SCALED
    assert result["x"].n_forward_passes == 2 * inputs.size


@pytest.mark.parametrize("impl_name", ["fast", "reference"])
def test_affine(impl_name, rng):
    impl = zk if impl_name == "fast" else zk.reference
    W, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    x = rng.standard_normal((4, 2, 3))  # flattened to (4, 6) inside
    result = zk.gradient_check(impl.Affine(W, b), x)
    assert set(result) == {"x", "W", "b"}
    for name, comparison in result.items():
        assert comparison.backprop.shape == comparison.numerical.shape
        assert comparison.mean_abs_diff < WELL_SCALED, name


@pytest.mark.parametrize("impl_name", ["fast", "reference"])
@pytest.mark.parametrize("eps", [1e-7, 0.0])
@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(impl_name, eps, one_hot, rng):
    impl = zk if impl_name == "fast" else zk.reference
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    result = zk.gradient_check(impl.SoftmaxWithLoss(eps=eps), x, np.eye(4)[t] if one_hot else t)
    assert set(result) == {"x"}
    assert result["x"].mean_abs_diff < WELL_SCALED


@pytest.mark.parametrize("layer_name", ["MulLayer", "AddLayer"])
def test_graph_layers(layer_name, rng):
    result = zk.gradient_check(getattr(zk, layer_name)(), rng.standard_normal(5), rng.standard_normal(5))
    assert set(result) == {"x", "y"}
    assert all(c.mean_abs_diff < WELL_SCALED for c in result.values())


class _Stack:
    """Affine - Relu - Affine - SoftmaxWithLoss with the book's net interface."""

    def __init__(self, impl, rng):
        self.params = {
            "W1": rng.standard_normal((6, 5)) * 0.5, "b1": rng.standard_normal(5) * 0.1,
            "W2": rng.standard_normal((5, 3)) * 0.5, "b2": rng.standard_normal(3) * 0.1,
        }
        self.layers = [impl.Affine(self.params["W1"], self.params["b1"]), impl.Relu(),
                       impl.Affine(self.params["W2"], self.params["b2"])]
        self.last = impl.SoftmaxWithLoss()

    def loss(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        return self.last.forward(x, t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        first, _, second = self.layers
        return {"W1": first.dW, "b1": first.db, "W2": second.dW, "b2": second.db}


@pytest.mark.parametrize("impl_name", ["fast", "reference"])
def test_two_layer_stack(impl_name, rng):
    impl = zk if impl_name == "fast" else zk.reference
    net = _Stack(impl, rng)
    x, t = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    result = zk.gradient_check(net, x, t)
    assert set(result) == {"W1", "b1", "W2", "b2"}
    for key, comparison in result.items():
        assert comparison.mean_abs_diff < WELL_SCALED, key
        assert np.abs(comparison.backprop).max() > 1e-3, key  # a real gradient, not zeros


def test_gradient_check_detects_a_wrong_backward(rng):
    """The check can fail: a layer with a deliberately wrong backward is caught."""

    class WrongSigmoid(zk.Sigmoid):
        def backward(self, dout):
            return dout * self.out  # missing the (1 - out) factor

    result = zk.gradient_check(WrongSigmoid(), rng.standard_normal((3, 3)))
    assert result["x"].mean_abs_diff > 1e-2
