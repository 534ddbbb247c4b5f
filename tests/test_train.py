"""zk.train on the embedded digits: accuracy, reproducibility, both backends."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk


@pytest.fixture(scope="module")
def book_run():
    return zk.train("digits", iterations=3000, seed=0)


def test_book_setting_reaches_95_percent_on_digits(book_run):
    """Hidden 50, batch 100, lr 0.1, SGD: the chapter's setting."""
    r = book_run
    assert r.settings["optimizer"] == "SGD" and r.settings["hidden_size"] == 50
    assert r.settings["batch_size"] == 100 and r.settings["learning_rate"] == 0.1
    assert r.test_accuracy[-1] >= 0.95
    assert r.train_accuracy[-1] >= 0.97
    assert r.losses.shape == (3000,)
    assert r.losses[-100:].mean() < r.losses[:100].mean() / 5
    assert r.epochs[0] == 0 and r.epochs[-1] == 3000
    assert r.seconds > 0 and r.seconds_per_iteration == pytest.approx(r.seconds / 3000)


def test_strong_setting_reaches_97_percent_on_digits():
    r = zk.train("digits", optimizer="adam", learning_rate=0.001, hidden_size=100, batch_size=32,
                 weight_init_std=0.1, iterations=3000, seed=0)
    assert r.test_accuracy[-1] >= 0.97


def test_same_seed_same_run_and_fast_matches_reference(book_run):
    again = zk.train("digits", iterations=300, seed=0)
    assert_array_equal(again.losses, book_run.losses[:300])
    ref = zk.train("digits", iterations=300, seed=0, backend="reference")
    assert_allclose(ref.losses, again.losses, rtol=1e-10)
    for key in again.network.params:
        assert_allclose(ref.network.params[key], again.network.params[key], rtol=1e-9, atol=1e-12)
    other = zk.train("digits", iterations=300, seed=1)
    assert not np.array_equal(other.losses, again.losses)


def test_float32_and_threads_and_epochs():
    r = zk.train("digits", epochs=3, seed=0, dtype=np.float32, threads=1)
    assert r.network.params["W1"].dtype == np.float32
    assert len(r.losses) == 3 * r.settings["iter_per_epoch"]
    assert len(r.test_accuracy) == 4  # start of each epoch and the end
    assert r.to_dict()["settings"]["dtype"] == "float32"


def test_train_on_arrays():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 5)) * 3
    t = rng.integers(0, 3, 300)
    x = centers[t] + rng.standard_normal((300, 5)) * 0.5
    r = zk.train(((x[:240], t[:240]), (x[240:], t[240:])), hidden_size=10, iterations=500,
                 batch_size=20, weight_init_std=0.1)
    assert r.test_accuracy[-1] > 0.9


@pytest.mark.parametrize("kwargs,match", [
    ({"iterations": 10, "epochs": 1}, "not both"),
    ({"iterations": 0}, "iterations must be a positive integer"),
    ({"batch_size": -5}, "batch_size must be a positive integer"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"backend": "gpu"}, "backend must be"),
])
def test_bad_train_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        zk.train("digits", **kwargs)


def test_unknown_data_set():
    with pytest.raises(ValueError, match="data must be 'digits' or 'mnist'"):
        zk.train("cifar")


@pytest.mark.slow
def test_book_setting_on_mnist_if_present():
    """The book's run (10,000 iterations, batch 100, lr 0.1, hidden 50) reaches ~0.97 on MNIST."""
    import os

    if not os.environ.get("ZK_LAYERS_MNIST_DIR") or not os.path.isdir(os.environ["ZK_LAYERS_MNIST_DIR"]):
        pytest.skip("MNIST files not available (set ZK_LAYERS_MNIST_DIR)")
    r = zk.train("mnist", iterations=10_000, seed=0)
    assert r.test_accuracy[-1] >= 0.965


def test_default_learning_rates_and_length_follow_the_optimizer_and_data():
    adam = zk.train("digits", optimizer="adam", iterations=5)
    assert adam.settings["learning_rate"] == 0.001
    sgd = zk.train("digits", iterations=5)
    assert sgd.settings["learning_rate"] == 0.1
    assert zk.train("digits", epochs=1).settings["iterations"] == sgd.settings["iter_per_epoch"]
    from zk_layers.train import default_iterations

    assert default_iterations("digits") == 3000 and default_iterations("mnist") == 10_000


def test_eps_reaches_the_loss_layer():
    r = zk.train("digits", iterations=2, eps=0.0)
    assert r.network.lastLayer.eps == 0.0
    assert zk.TwoLayerNet(4, 3, 2, eps=0).lastLayer.eps == 0.0
