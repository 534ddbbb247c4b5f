"""TwoLayerNet and MultiLayerNet: the book's interface, both backends, gradients."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk


@pytest.fixture
def batch(rng):
    x = rng.random((6, 12))
    t = np.array([0, 3, 1, 2, 3, 0])
    return x, t


def test_two_layer_net_has_the_books_interface():
    net = zk.TwoLayerNet(784, 50, 10, seed=0)
    assert set(net.params) == {"W1", "b1", "W2", "b2"}
    assert isinstance(net.layers, OrderedDict)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.lastLayer, zk.SoftmaxWithLoss)
    assert net.params["W1"].shape == (784, 50) and net.params["b2"].shape == (10,)
    assert net.layers["Affine1"].W is net.params["W1"] and net.layers["Affine2"].b is net.params["b2"]
    assert np.std(net.params["W1"]) == pytest.approx(0.01, rel=0.05)
    assert_array_equal(net.params["b1"], 0)


def test_same_seed_same_weights_in_both_backends_and_dtypes():
    fast = zk.TwoLayerNet(20, 7, 3, seed=42)
    ref = zk.TwoLayerNet(20, 7, 3, seed=42, backend="reference")
    single = zk.TwoLayerNet(20, 7, 3, seed=42, dtype=np.float32)
    for key in fast.params:
        assert_array_equal(fast.params[key], ref.params[key])
        assert_array_equal(single.params[key], fast.params[key].astype(np.float32))
        assert single.params[key].dtype == np.float32
    assert isinstance(ref.layers["Relu1"], zk.reference.Relu)
    assert not np.array_equal(zk.TwoLayerNet(20, 7, 3, seed=43).params["W1"], fast.params["W1"])


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_gradient_matches_numerical_gradient(batch, backend):
    x, t = batch
    net = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1, backend=backend)
    backprop = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    for key in net.params:
        assert np.mean(np.abs(backprop[key] - numerical[key])) < 1e-6, key
        assert np.abs(backprop[key]).max() > 1e-4, key


def test_fast_and_reference_gradients_agree(batch):
    x, t = batch
    fast = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1)
    ref = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1, backend="reference")
    assert fast.loss(x, t) == pytest.approx(ref.loss(x, t), rel=1e-13)
    g_fast, g_ref = fast.gradient(x, t), ref.gradient(x, t)
    for key in fast.params:
        assert_allclose(g_fast[key], g_ref[key], rtol=1e-12, atol=1e-15)


def test_gradient_runs_a_subclass_loss_and_predict(batch):
    """gradient's short path (no decay, the base class's loss and predict)
    gives what loss-then-backward gives, and a subclass's own loss or
    predict still runs."""
    x, t = batch
    calls = []

    class Counted(zk.TwoLayerNet):
        def loss(self, x, t):
            calls.append("loss")
            return super().loss(x, t)

    class Traced(zk.TwoLayerNet):
        def predict(self, x):
            calls.append("predict")
            return super().predict(x)

    plain = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1)
    expected = {key: value.copy() for key, value in plain.gradient(x, t).items()}
    for cls in (Counted, Traced):
        grads = cls(12, 8, 4, weight_init_std=0.5, seed=1).gradient(x, t)
        for key, value in expected.items():
            assert_array_equal(grads[key], value)
    assert calls == ["loss", "predict"]


def test_first_affine_skips_dx_but_parameter_gradients_are_unchanged(batch):
    """need_dx=False on Affine1 saves a product without changing any gradient."""
    x, t = batch
    net = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1)
    assert net.layers["Affine1"].need_dx is False and net.layers["Affine2"].need_dx is True
    ref = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1, backend="reference")
    assert ref.layers["Affine1"].need_dx is True  # the book's algorithm
    grads = net.gradient(x, t)
    full = zk.Affine(net.params["W1"], net.params["b1"])  # computes dx too
    relu, second, last = zk.Relu(), zk.Affine(net.params["W2"], net.params["b2"]), zk.SoftmaxWithLoss()
    last.forward(second.forward(relu.forward(full.forward(x))), t)
    dx = full.backward(relu.backward(second.backward(last.backward())))
    assert dx.shape == x.shape
    assert_array_equal(grads["W1"], full.dW)
    assert_array_equal(grads["b1"], full.db)


def test_predict_loss_accuracy(batch):
    x, t = batch
    net = zk.TwoLayerNet(12, 8, 4, seed=0)
    scores = net.predict(x)
    assert scores.shape == (6, 4)
    expected = np.mean(np.argmax(scores, axis=1) == t)
    assert net.accuracy(x, t) == expected
    assert net.accuracy(x, np.eye(4)[t]) == expected
    assert net.loss(x, t) == pytest.approx(np.log(4), rel=1e-3)  # tiny weights: uniform softmax
    with pytest.raises(ValueError, match="empty batch"):
        net.accuracy(x[:0], t[:0])
    assert net.accuracy(x, t[:, None]) == expected  # a column of indices is not one-hot rows
    with pytest.raises(ValueError, match="out of range"):
        net.accuracy(x, np.full(6, 4))
    with pytest.raises(TypeError, match="integer dtype"):
        net.accuracy(x, t + 0.5)
    with pytest.raises(ValueError, match="exactly one 1"):
        net.accuracy(x, 2 * np.eye(4)[t])


@pytest.mark.parametrize("make", [
    lambda: zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=2),
    lambda: zk.MultiLayerNet(12, [7, 6], 4, seed=2),
    lambda: zk.MultiLayerNetExtend(12, [7, 6], 4, use_batchnorm=True, seed=2),
])
def test_replaced_params_are_the_ones_used(make, batch):
    """An update that replaces the arrays (``params[key] = W - lr * dW``)
    reaches the layers: the net computes what the in-place update gives."""
    x, t = batch
    replaced, in_place = make(), make()
    for _ in range(3):
        grads, theirs = replaced.gradient(x, t), in_place.gradient(x, t)  # (BatchNorm's running means too)
        for key in replaced.params:
            assert_array_equal(grads[key], theirs[key], err_msg=key)
            replaced.params[key] = replaced.params[key] - 0.5 * grads[key]
            in_place.params[key] -= 0.5 * theirs[key]
        assert_array_equal(replaced.predict(x), in_place.predict(x))


def test_a_missing_parameter_is_named(batch):
    x, _ = batch
    net = zk.TwoLayerNet(12, 8, 4, seed=2)
    del net.params["b2"]
    words = r"params lacks \['b2'\]: the net's layers compute with \['W1', 'b1', 'W2', 'b2'\]"
    with pytest.raises(KeyError, match=words):
        net.predict(x)


def test_sgd_update_in_place_reaches_the_layers(batch):
    x, t = batch
    net = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=2)
    before = net.loss(x, t)
    for _ in range(20):
        grads = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.5 * grads[key]
    assert net.loss(x, t) < before / 2
    assert net.layers["Affine1"].W is net.params["W1"]


def test_float32_net(batch):
    x, t = batch
    net = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1, dtype=np.float32)
    grads = net.gradient(x.astype(np.float32), t)
    assert all(g.dtype == np.float32 for g in grads.values())
    ref = zk.TwoLayerNet(12, 8, 4, weight_init_std=0.5, seed=1)
    g64 = ref.gradient(x, t)
    for key in grads:
        assert_allclose(grads[key], g64[key], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_multi_layer_net_gradient(batch, activation, backend):
    x, t = batch
    net = zk.MultiLayerNet(12, [9, 7, 5], 4, activation=activation, weight_init_std=0.3, seed=3, backend=backend)
    assert list(net.layers) == ["Affine1", "Activation_function1", "Affine2", "Activation_function2",
                                "Affine3", "Activation_function3", "Affine4"]
    assert set(net.params) == {f"{p}{i}" for p in "Wb" for i in range(1, 5)}
    backprop, numerical = net.gradient(x, t), net.numerical_gradient(x, t)
    for key in net.params:
        assert np.mean(np.abs(backprop[key] - numerical[key])) < 1e-6, key


def test_multi_layer_net_initialisation_rules():
    he = zk.MultiLayerNet(400, [300], 10, weight_init_std="he", seed=0)
    xavier = zk.MultiLayerNet(400, [300], 10, weight_init_std="xavier", seed=0)
    fixed = zk.MultiLayerNet(400, [300], 10, weight_init_std=0.05, seed=0)
    assert np.std(he.params["W1"]) == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert np.std(xavier.params["W2"]) == pytest.approx(np.sqrt(1 / 300), rel=0.05)
    assert np.std(fixed.params["W1"]) == pytest.approx(0.05, rel=0.02)
    regression = zk.MultiLayerNet(5, [], 3, seed=0)
    assert list(regression.layers) == ["Affine1"]


def test_net_sizes_follow_the_type_value_rule():
    """TypeError for a wrong type, ValueError for a wrong value."""
    with pytest.raises(TypeError, match="hidden_size must be a positive integer, got float 2.5"):
        zk.TwoLayerNet(4, 2.5, 2)
    with pytest.raises(TypeError, match="input_size must be a positive integer, got bool"):
        zk.TwoLayerNet(True, 5, 2)


@pytest.mark.parametrize("make,match", [
    (lambda: zk.TwoLayerNet(0, 5, 2), "input_size must be a positive integer"),
    (lambda: zk.TwoLayerNet(4, 5, 2, backend="torch"), "backend must be 'fast' or 'reference'"),
    (lambda: zk.TwoLayerNet(4, 5, 2, dtype=np.int32), "dtype must be float32 or float64"),
    (lambda: zk.TwoLayerNet(4, 5, 2, dtype="no such dtype"), "dtype must be float32 or float64, got 'no such"),
    (lambda: zk.SimpleConvNet(dtype=np.float16), "dtype must be float32 or float64, got float16"),
    (lambda: zk.SimpleConvNet(dtype="no such dtype"), "dtype must be float32 or float64, got 'no such"),
    (lambda: zk.MultiLayerNet(4, [5], 2, activation="tanh"), "activation must be 'relu' or 'sigmoid'"),
    (lambda: zk.MultiLayerNet(4, [5], 2, weight_init_std="glorot"), "weight_init_std must be"),
])
def test_bad_net_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------- the book's chapter-6 nets
def test_multi_layer_net_takes_the_books_positional_arguments_and_draws():
    np.random.seed(0)  # noqa: NPY002 (the book's generator)
    net = zk.MultiLayerNet(6, [5, 4], 3, "sigmoid", 0.1, 0.01)
    np.random.seed(0)  # noqa: NPY002
    w1 = 0.1 * np.random.randn(6, 5)  # noqa: NPY002
    w2 = 0.1 * np.random.randn(5, 4)  # noqa: NPY002
    assert_array_equal(net.params["W1"], w1)
    assert_array_equal(net.params["W2"], w2)
    assert net.hidden_size_list == [5, 4] and net.hidden_layer_num == 2
    assert net.input_size == 6 and net.output_size == 3 and net.weight_decay_lambda == 0.01
    assert net.last_layer is net.lastLayer
    assert isinstance(net.layers["Activation_function1"], zk.Sigmoid)
    he = zk.MultiLayerNet(6, [5], 3, seed=1)  # seed=: its own generator, the global one untouched
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    zk.MultiLayerNet(6, [5], 3, seed=1)
    assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    assert he.params["W1"].shape == (6, 5)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_weight_decay_loss_and_gradient(batch, backend):
    x, t = batch
    lam = 0.1
    net = zk.MultiLayerNet(12, [8], 4, weight_decay_lambda=lam, seed=0, backend=backend)
    plain = zk.MultiLayerNet(12, [8], 4, seed=0, backend=backend)
    decay = 0.5 * lam * (np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2))
    assert net.loss(x, t) == pytest.approx(plain.loss(x, t) + decay, rel=1e-14)
    grads, plain_grads = net.gradient(x, t), plain.gradient(x, t)
    assert_allclose(grads["W1"], plain_grads["W1"] + lam * net.params["W1"], rtol=1e-14)
    assert_array_equal(grads["b1"], plain_grads["b1"])
    numerical = net.numerical_gradient(x, t)
    for key in net.params:
        assert np.mean(np.abs(grads[key] - numerical[key])) < 1e-6, key


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_multi_layer_net_extend_with_batchnorm_gradient(batch, backend):
    x, t = batch
    net = zk.MultiLayerNetExtend(12, [7, 6], 4, use_batchnorm=True, weight_decay_lambda=0.01, seed=2,
                                 backend=backend)
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Activation_function1", "Affine2", "BatchNorm2",
                                "Activation_function2", "Affine3"]
    assert net.layers["BatchNorm1"].gamma is net.params["gamma1"]
    grads, numerical = net.gradient(x, t), net.numerical_gradient(x, t)
    assert list(grads) == list(numerical) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                              "W3", "b3"]
    for key in grads:
        assert np.mean(np.abs(grads[key] - numerical[key])) < 1e-6, key


def test_multi_layer_net_extend_fast_and_reference_agree_with_dropout(batch):
    x, t = batch
    nets = {}
    for backend in ("fast", "reference"):
        np.random.seed(4)  # noqa: NPY002 (weights and dropout masks from the book's generator)
        net = zk.MultiLayerNetExtend(12, [9, 9], 4, use_dropout=True, dropout_ration=0.3, use_batchnorm=True,
                                     backend=backend)
        nets[backend] = (net.gradient(x, t), net.accuracy(x, t), net.loss(x, t, train_flg=True))
    for key in nets["fast"][0]:
        assert_allclose(nets["fast"][0][key], nets["reference"][0][key], rtol=1e-12, atol=1e-14)
    assert nets["fast"][1] == nets["reference"][1]
    assert nets["fast"][2] == pytest.approx(nets["reference"][2], rel=1e-12)


def test_book_net_arguments_are_checked():
    with pytest.raises(ValueError, match="weight_decay_lambda must be finite and >= 0"):
        zk.MultiLayerNet(4, [3], 2, weight_decay_lambda=-1)
    with pytest.raises(ValueError, match=r"dropout_ration must be in \[0, 1\)"):
        zk.MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=1.0)
    with pytest.raises(TypeError, match="hidden_size_list must be a list of positive integers"):
        zk.MultiLayerNet(4, 3, 2)
    with pytest.raises(TypeError, match="weight_init_std must be a number"):
        zk.MultiLayerNet(4, [3], 2, weight_init_std=None)
