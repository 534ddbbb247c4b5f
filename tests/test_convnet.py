"""SimpleConvNet: the book's interface, weights, gradients and parameter files."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import baseline

SMALL = dict(input_dim=(1, 8, 8), conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
             hidden_size=6, output_size=4)


def _seed_global(seed):
    """The book seeds NumPy's global generator; so do these tests."""
    np.random.seed(seed)  # noqa: NPY002


def _batch(n=5, shape=(1, 8, 8), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype(np.float32), rng.integers(0, classes, n)


def test_book_interface_and_shapes():
    _seed_global(0)
    net = zk.SimpleConvNet()
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert isinstance(net.last_layer, zk.SoftmaxWithLoss)
    shapes = {key: value.shape for key, value in net.params.items()}
    assert shapes == {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,),
                      "W3": (100, 10), "b3": (10,)}
    assert net.layers["Conv1"].W is net.params["W1"] and net.layers["Affine1"].W is net.params["W2"]
    assert net.layers["Pool1"].pool_h == 2 and net.layers["Pool1"].stride == 2


def test_np_random_seed_reproduces_the_books_weights():
    _seed_global(1234)
    ours = zk.SimpleConvNet(**SMALL)
    _seed_global(1234)
    book = baseline.SimpleConvNet(**SMALL)  # draws as ch07/simple_convnet.py does
    for key in book.params:
        assert_array_equal(ours.params[key], book.params[key])


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_gradients_match_the_books_net(backend):
    x, t = _batch(6, (1, 28, 28), 10)
    _seed_global(3)
    ours = zk.SimpleConvNet(backend=backend)
    _seed_global(3)
    book = baseline.SimpleConvNet()
    assert ours.loss(x, t) == pytest.approx(float(book.loss(x, t)), rel=1e-12)
    ours_grads, book_grads = ours.gradient(x, t), book.gradient(x, t)
    for key, expected in book_grads.items():
        scale = np.max(np.abs(expected))
        assert_allclose(ours_grads[key], expected, rtol=1e-6, atol=1e-9 * scale, err_msg=key)


def test_layers_state_after_gradient_is_the_books():
    """The fast net applies its Relus in place on the arrays its previous
    layers return; what the layers keep, and the caller's images, are as in
    the book's net."""
    x, t = _batch(6, (1, 28, 28), 10)
    x0 = x.copy()
    _seed_global(5)
    ours = zk.SimpleConvNet()
    _seed_global(5)
    book = baseline.SimpleConvNet()
    ours.gradient(x, t)
    book.gradient(x, t)
    assert_array_equal(x, x0)
    for name in ("Relu1", "Relu2"):
        assert_array_equal(ours.layers[name].mask, book.layers[name].mask, err_msg=name)
    assert_allclose(ours.layers["Pool1"].x, book.layers["Pool1"].x, rtol=1e-12, atol=1e-15)
    assert_array_equal(ours.layers["Pool1"].arg_max, book.layers["Pool1"].arg_max)
    assert_allclose(ours.predict(x), book.predict(x), rtol=1e-12, atol=1e-15)
    assert_array_equal(x, x0)


def test_relu_after_a_layer_the_user_put_in_gets_a_fresh_array():
    """In place only after our own Convolution/Pooling/Affine: a layer a
    user substitutes may keep what it returns, which must stay as it was."""
    x, _ = _batch(4, (1, 28, 28), 10)
    net = zk.SimpleConvNet()
    conv = net.layers["Conv1"]

    class Keeping:
        def forward(self, value):
            self.kept = conv.forward(value)
            self.copy = self.kept.copy()
            return self.kept

    keeping = Keeping()
    net.layers["Conv1"] = keeping
    net.predict(x)
    assert (keeping.copy < 0).any()
    assert_array_equal(keeping.kept, keeping.copy)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_gradient_check_whole_net(backend):
    x, t = _batch()
    _seed_global(5)
    net = zk.SimpleConvNet(**SMALL, weight_init_std=0.3, backend=backend)
    # Away from the kinks: with a large first bias every ReLU of Conv1 is
    # active and no pooling window holds a tie of zeros.  The exact
    # cross-entropy (eps=0): the book's eps=1e-7 makes the loss differ from
    # what backprop differentiates by up to 3e-6 here.
    net.params["b1"][...] = 3.0
    net.params["b2"][...] = 1.0
    net.last_layer = (zk if backend == "fast" else zk.reference).SoftmaxWithLoss(eps=0)
    for key, comparison in zk.gradient_check(net, x.astype(np.float64), t).items():
        scale = max(1.0, float(np.max(np.abs(comparison.backprop))))
        assert comparison.max_abs_diff < 1e-7 * scale, (key, comparison.max_abs_diff, scale)


def test_float32_net_stays_float32():
    x, t = _batch()
    net = zk.SimpleConvNet(**SMALL, dtype=np.float32)
    grads = net.gradient(x, t)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net.predict(x).dtype == np.float32


def test_fast_first_convolution_skips_dx():
    net = zk.SimpleConvNet(**SMALL)
    assert net.layers["Conv1"].need_dx is False
    assert zk.SimpleConvNet(**SMALL, backend="reference").layers["Conv1"].need_dx is True


def test_training_with_adam_lowers_the_loss():
    x, t = _batch(20)
    _seed_global(0)
    net = zk.SimpleConvNet(**SMALL, weight_init_std=0.1)
    optimizer = zk.Adam(lr=0.01)
    first = net.loss(x, t)
    for _ in range(60):
        optimizer.update(net.params, net.gradient(x, t))
    assert net.loss(x, t) < 0.9 * first


def test_accuracy_counts_every_sample():
    x, t = _batch(7)
    net = zk.SimpleConvNet(**SMALL)
    predicted = np.argmax(net.predict(x), axis=1)
    expected = np.mean(predicted == t)
    assert net.accuracy(x, t, batch_size=3) == pytest.approx(expected)
    assert net.accuracy(x, np.eye(4)[t], batch_size=100) == pytest.approx(expected)


def test_save_and_load_params_npz(tmp_path):
    x, _ = _batch()
    _seed_global(0)
    net = zk.SimpleConvNet(**SMALL)
    path = tmp_path / "params.npz"
    net.save_params(path)
    _seed_global(1)
    other = zk.SimpleConvNet(**SMALL)
    assert not np.array_equal(other.predict(x), net.predict(x))
    other.load_params(path)
    assert_array_equal(other.predict(x), net.predict(x))
    assert other.layers["Conv1"].W is other.params["W1"]


def test_book_pickle_needs_explicit_opt_in(tmp_path):
    _seed_global(0)
    net = zk.SimpleConvNet(**SMALL)
    path = tmp_path / "params.pkl"
    with open(path, "wb") as f:  # what the book's save_params writes
        pickle.dump(dict(net.params), f)
    other = zk.SimpleConvNet(**SMALL)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        other.load_params(path)
    other.load_params(path, allow_pickle=True)
    for key in net.params:
        assert_array_equal(other.params[key], net.params[key])


def test_load_params_checks_shapes(tmp_path):
    path = tmp_path / "params.npz"
    zk.SimpleConvNet(**SMALL).save_params(path)
    with pytest.raises(ValueError, match="W1"):
        zk.SimpleConvNet().load_params(path)


@pytest.mark.parametrize("kwargs,error,word", [
    (dict(conv_param={"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 2}), ValueError, "whole number"),
    (dict(conv_param={"filter_num": 3, "filter_size": 4, "pad": 0, "stride": 1}), ValueError, "even"),
    (dict(conv_param={"filter_num": 3, "filter_size": 3}), ValueError, "lacks"),
    (dict(conv_param={"filter_num": 0, "filter_size": 3, "pad": 1, "stride": 1}), ValueError, "filter_num"),
    (dict(conv_param=[3, 3, 1, 1]), TypeError, "dict"),
    (dict(input_dim=(1, 8)), ValueError, "input_dim"),
    (dict(backend="gpu"), ValueError, "backend"),
    (dict(dtype=np.int32), ValueError, "dtype"),
])
def test_bad_construction(kwargs, error, word):
    arguments = dict(SMALL, **kwargs)
    with pytest.raises(error, match=word):
        zk.SimpleConvNet(**arguments)


def test_replaced_params_are_the_ones_used():
    """``params[key] = new`` reaches the layers, as an in-place change does."""
    x, t = _batch()
    _seed_global(3)
    replaced = zk.SimpleConvNet(**SMALL)
    _seed_global(3)
    in_place = zk.SimpleConvNet(**SMALL)
    grads = replaced.gradient(x, t)
    for key in replaced.params:
        replaced.params[key] = replaced.params[key] - 0.5 * grads[key]
        in_place.params[key] -= 0.5 * grads[key]
    assert_array_equal(replaced.predict(x), in_place.predict(x))
    assert replaced.layers["Affine2"].W is replaced.params["W3"]


def test_accuracy_checks_its_labels():
    x, t = _batch(6)
    net = zk.SimpleConvNet(**SMALL)
    expected = net.accuracy(x, t)
    assert net.accuracy(x, t[:, None], batch_size=4) == expected  # (N, 1): indices, not one-hot rows
    with pytest.raises(ValueError, match="out of range"):
        net.accuracy(x, np.full(6, 4))
    with pytest.raises(ValueError, match=r"one-hot t must have shape \(6, 4\)"):
        net.accuracy(x, np.eye(5)[t])


def test_float32_net_computes_in_float32_from_float64_images():
    x, _ = _batch()
    net = zk.SimpleConvNet(**SMALL, dtype=np.float32)
    scores = net.predict(x.astype(np.float64))
    assert scores.dtype == np.float32
    assert_array_equal(scores, net.predict(x))


def test_float32_net_refuses_images_that_are_not_real_numbers():
    x, _ = _batch()
    net = zk.SimpleConvNet(**SMALL, dtype=np.float32)
    with pytest.raises(TypeError, match="booleans"):
        net.predict(x > 0.5)
