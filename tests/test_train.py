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
    ({"optimizer": "adamw"}, "optimizer must be one of"),
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


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_every_book_optimizer_by_name_learns_the_digits(name):
    """A name is the book's class with its default arguments and the documented rate."""
    from zk_layers.optimizers import OPTIMIZERS
    from zk_layers.train import DEFAULT_LEARNING_RATES

    r = zk.train("digits", optimizer=name.upper(), iterations=600, seed=0)
    cls = OPTIMIZERS[name]
    assert r.settings["optimizer"] == cls.__name__
    assert r.settings["learning_rate"] == DEFAULT_LEARNING_RATES[name]
    assert r.test_accuracy[-1] >= 0.9
    assert r.losses[-50:].mean() < r.losses[:50].mean() / 3
    same = zk.train("digits", optimizer=cls(lr=DEFAULT_LEARNING_RATES[name]), iterations=600, seed=0)
    assert_array_equal(same.losses, r.losses)


def test_eps_reaches_the_loss_layer():
    r = zk.train("digits", iterations=2, eps=0.0)
    assert r.network.lastLayer.eps == 0.0
    assert zk.TwoLayerNet(4, 3, 2, eps=0).lastLayer.eps == 0.0


# ---------------------------------------------------------------- chapter 7
@pytest.fixture(scope="module")
def convnet_run():
    return zk.train_convnet("digits", epochs=20, seed=0)


def test_convnet_on_digits_learns_with_the_books_optimizer(convnet_run):
    """SimpleConvNet on the 8x8 digits: filter 3, pad 1 (8x8 maps, 4x4 after
    pooling), Adam lr 0.001, batch 100; 20 epochs (300 steps) reach 0.92."""
    r = convnet_run
    assert isinstance(r.network, zk.SimpleConvNet)
    assert r.settings["model"] == "SimpleConvNet" and r.settings["optimizer"] == "Adam"
    assert r.settings["learning_rate"] == 0.001 and r.settings["batch_size"] == 100
    assert r.settings["conv_param"] == {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1}
    assert r.settings["input_dim"] == [1, 8, 8]
    assert r.network.params["W1"].shape == (30, 1, 3, 3) and r.network.params["W2"].shape == (30 * 4 * 4, 100)
    assert r.network.params["W1"].dtype == np.float64  # float32 images, float64 weights: the book's case
    assert r.losses.shape == (20 * 15,) and len(r.test_accuracy) == 21
    assert r.test_accuracy[-1] >= 0.92 and r.test_accuracy[0] < 0.3
    assert r.losses[-30:].mean() < r.losses[:30].mean() / 4
    assert r.seconds > 0


def test_convnet_weights_are_the_books_draws_and_runs_repeat(convnet_run):
    np.random.seed(0)  # noqa: NPY002 - the book's global generator
    book = zk.SimpleConvNet((1, 8, 8), {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1})
    short = zk.train_convnet("digits", iterations=20, seed=0)
    again = zk.train_convnet("digits", iterations=20, seed=0)
    assert_array_equal(short.losses, again.losses)
    assert_array_equal(short.losses, convnet_run.losses[:20])
    first = zk.train_convnet("digits", iterations=1, seed=0, learning_rate=1e-300)  # one step, weights ~unchanged
    assert_allclose(first.network.params["W1"], book.params["W1"], rtol=1e-12)
    assert_allclose(first.network.params["W3"], book.params["W3"], rtol=1e-12)


def test_convnet_reference_backend_follows_the_same_path():
    fast = zk.train_convnet("digits", iterations=15, seed=3)
    ref = zk.train_convnet("digits", iterations=15, seed=3, backend="reference")
    assert_allclose(ref.losses, fast.losses, rtol=1e-9)
    assert ref.test_accuracy == fast.test_accuracy


def test_convnet_epoch_callback_float32_and_conv_param():
    seen = []
    r = zk.train_convnet("digits", epochs=2, seed=0, dtype=np.float32, threads=1, hidden_size=20,
                         conv_param={"filter_num": 8, "filter_size": 3, "pad": 0, "stride": 1},
                         epoch_callback=lambda it, tr, te: seen.append((it, tr, te)))
    assert [s[0] for s in seen] == [0, 15, 30]
    assert [s[2] for s in seen] == r.test_accuracy
    assert r.network.params["W1"].dtype == np.float32 and r.network.params["W2"].shape == (8 * 3 * 3, 20)


def test_convnet_eval_samples_measures_epochs_on_the_first_images_and_the_end_on_all():
    """The book's Trainer: per-epoch accuracy on the first N images, the final one on all."""
    r = zk.train_convnet("digits", epochs=2, seed=0, eval_samples=7)
    net = r.network
    from zk_layers.train import load_image_dataset

    (x_train, t_train), (x_test, t_test) = load_image_dataset("digits")
    assert r.settings["eval_samples"] == 7
    assert all(a * 7 == pytest.approx(round(a * 7)) for a in r.test_accuracy[:-1])  # k of 7 images
    still = zk.train_convnet("digits", epochs=1, seed=0, eval_samples=7, learning_rate=1e-300)  # weights stay
    assert still.test_accuracy[0] == still.network.accuracy(x_test[:7], t_test[:7])
    assert still.train_accuracy[0] == still.network.accuracy(x_train[:7], t_train[:7])
    assert still.test_accuracy[-1] == still.network.accuracy(x_test, t_test)
    assert r.test_accuracy[-1] * 359 == pytest.approx(round(r.test_accuracy[-1] * 359))
    assert r.test_accuracy[-1] == net.accuracy(x_test, t_test)
    assert r.train_accuracy[-1] == net.accuracy(x_train, t_train)
    with pytest.raises(ValueError, match="eval_samples must be a positive integer"):
        zk.train_convnet("digits", iterations=1, eval_samples=0)


def test_convnet_default_length_and_configuration():
    from zk_layers.train import default_conv_param, default_convnet_epochs

    assert default_convnet_epochs("digits") == 40 and default_convnet_epochs("mnist") == 20
    assert default_conv_param((1, 28, 28)) == {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
    assert default_conv_param((1, 8, 8))["filter_size"] == 3
    rng = np.random.default_rng(0)
    x = rng.random((30, 1, 28, 28), dtype=np.float32)
    t = rng.integers(0, 3, 30)
    r = zk.train_convnet(((x[:20], t[:20]), (x[20:], t[20:])), hidden_size=5, batch_size=10, epochs=1,
                         conv_param={"filter_num": 2, "filter_size": 5, "pad": 0, "stride": 1})
    assert r.settings["iterations"] == 2 and r.settings["data"] == "arrays"
    assert r.network.params["W3"].shape == (5, 3)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"iterations": 10, "epochs": 1}, ValueError, "not both"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ({"epochs": -1}, ValueError, "epochs must be a positive integer"),
    ({"optimizer": "adamw"}, ValueError, "optimizer must be one of"),
    ({"backend": "gpu"}, ValueError, "backend must be"),
    ({"dtype": np.float16}, ValueError, "dtype must be float32 or float64"),
    ({"conv_param": [30, 3, 1, 1]}, TypeError, "conv_param must be a dict"),
    ({"conv_param": {"filter_num": 30, "filter_size": 4, "pad": 0, "stride": 1}}, ValueError, "must be even"),
    ({"conv_param": {"filter_num": 30, "filter_size": 9, "pad": 0, "stride": 1}}, ValueError, "whole number >= 1"),
])
def test_bad_convnet_arguments(kwargs, error, match):
    length = {} if "epochs" in kwargs or "iterations" in kwargs else {"iterations": 1}
    with pytest.raises(error, match=match):
        zk.train_convnet("digits", **length, **kwargs)


def test_convnet_needs_images():
    x = np.zeros((10, 64))
    t = np.zeros(10, int)
    with pytest.raises(ValueError, match=r"x_train must be images of shape \(N, C, H, W\), got shape \(10, 64\)"):
        zk.train_convnet(((x, t), (x, t)))
    with pytest.raises(ValueError, match="data must be 'digits' or 'mnist'"):
        zk.train_convnet("cifar")


def _arrays(n=10, shape=(1, 8, 8)):
    rng = np.random.default_rng(0)
    return rng.random((n, *shape)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("trainer,shape", [
    (zk.train, (64,)), (zk.train_convnet, (1, 8, 8)), (zk.train_deepconvnet, (1, 8, 8)),
])
@pytest.mark.parametrize("change,error,match", [
    (lambda x, t: ((x, t.astype(float)), (x, t)), TypeError, r"t_train must be a 1-D array of integer class"),
    (lambda x, t: ((x, t), (x, np.eye(3, dtype=int)[t])), TypeError, r"t_test must be a 1-D array"),
    (lambda x, t: ((x, t[:-1]), (x, t)), ValueError, "t_train must hold one label per sample of x_train: 10 "
     "samples, got 9"),
    (lambda x, t: ((x, t), (x, t - 1)), ValueError, "t_test must be non-negative class indices, got -1"),
    (lambda x, t: ((x[:0], t[:0]), (x, t)), ValueError, "x_train must hold at least one sample"),
    (lambda x, t: ((x, t), (x[..., :4], t)), ValueError, "training and test samples differ in shape"),
    (lambda x, t: (x, t), TypeError, r"data must be 'digits', 'mnist' or \(\(x_train, t_train\)"),
    (lambda x, t: ((x, t),), TypeError, "data must be"),
])
def test_bad_training_sets_are_refused(trainer, shape, change, error, match):
    """Labels are checked before a net is sized from them: a float or one-hot
    label array, a count that differs from the images' or an empty set."""
    x, t = _arrays(shape=shape)
    with pytest.raises(error, match=match):
        trainer(change(x, t), iterations=1)


@pytest.mark.parametrize("trainer", [zk.train, zk.train_convnet, zk.train_deepconvnet])
def test_threads_argument_is_named(trainer):
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        trainer("digits", iterations=1, threads=0)


def test_training_sets_may_be_lists():
    x, t = _arrays(shape=(64,))
    result = zk.train(((x.tolist(), t.tolist()), (x, t)), iterations=2, hidden_size=4)
    assert result.network.params["W2"].shape == (4, 3)
