"""The book's chapter-5 code runs unchanged on our classes.

``make_two_layer_net(module)`` returns the book's ``TwoLayerNet``, read
from ``ch05/two_layer_net.py`` of the checkout that ``ZK_LAYERS_BOOK_DIR``
names (skipped without one; CI sets it), unchanged; the names ``Affine``,
``Relu``, ``SoftmaxWithLoss`` and ``numerical_gradient`` it imports come from
the fast package or the NumPy reference.
"""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import restored_imports

import zk_layers as zk

BOOK_DIR = os.environ.get("ZK_LAYERS_BOOK_DIR")
pytestmark = pytest.mark.skipif(not BOOK_DIR, reason="set ZK_LAYERS_BOOK_DIR to a checkout of the book")

IMPLS = [pytest.param(zk, id="fast"), pytest.param(zk.reference, id="reference")]
KEYS = ("W1", "b1", "W2", "b2")


def make_two_layer_net(module: Any) -> type:
    """The book's TwoLayerNet, read from the checkout, with its
    ``common.layers`` and ``common.gradient`` names taken from ``module``
    and ``zk.numerical_gradient`` (the book's ``common/gradient.py``)."""
    path = Path(BOOK_DIR or "", "ch05", "two_layer_net.py")
    layers = types.ModuleType("common.layers")
    for name in ("Affine", "Relu", "SoftmaxWithLoss"):
        setattr(layers, name, getattr(module, name))
    gradient = types.ModuleType("common.gradient")
    gradient.numerical_gradient = zk.numerical_gradient  # type: ignore[attr-defined]
    common = types.ModuleType("common")
    common.__path__ = []  # a package, so that "common.layers" imports
    common.layers, common.gradient = layers, gradient  # type: ignore[attr-defined]
    served = {"common": common, "common.layers": layers, "common.gradient": gradient}
    namespace: dict[str, Any] = {"__name__": "two_layer_net", "__file__": str(path)}
    with restored_imports(served):
        sys.modules.update(served)
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102
    return namespace["TwoLayerNet"]


def build_net(module: Any, seed: int, *sizes: int, weight_init_std: float = 0.01) -> Any:
    """A TwoLayerNet drawn with the book's np.random.randn from ``seed``.

    The global RNG state is restored afterwards, so tests do not leak it.
    """
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return make_two_layer_net(module)(*sizes, weight_init_std=weight_init_std)
    finally:
        np.random.set_state(state)


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian blobs in 2-D: x (n, 2), integer labels (n,)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [-3.0, -2.0], [3.0, -2.0]])
    t = np.repeat(np.arange(3), n // 3)
    x = centers[t] + 0.7 * rng.standard_normal((t.size, 2))
    order = rng.permutation(t.size)
    return x[order], t[order]


def one_hot(t: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[t]


def gradient_data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A batch of 5 samples with 12 features and labels in 4 classes (all used)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 12))
    t = np.array([0, 3, 1, 2, 3])
    return x, t


# ---------------------------------------------------------------------------
# (a) gradient check, as in ch05/gradient_check.py
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("label_form", ["index", "one-hot"])
def test_gradient_check(impl: Any, label_form: str) -> None:
    """Backprop matches the central-difference gradient for every parameter
    (the book's 'mean of the absolute difference' check), and the numerical
    gradient left every parameter exactly as it was."""
    x, t = gradient_data()
    if label_form == "one-hot":
        t = one_hot(t, 4)
    network = build_net(impl, 7, 12, 6, 4, weight_init_std=0.1)
    before = {key: network.params[key].copy() for key in KEYS}

    grad_numerical = network.numerical_gradient(x, t)
    grad_backprop = network.gradient(x, t)

    for key in KEYS:
        np.testing.assert_array_equal(network.params[key], before[key])
        assert grad_backprop[key].shape == network.params[key].shape
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        assert diff < 1e-6, f"{key}: {diff}"
        # The check must have something to check: gradients are far from 0.
        assert np.average(np.abs(grad_backprop[key])) > 1e-3, key


def test_gradient_check_fast_equals_reference() -> None:
    """Fast and reference nets from the same weights give the same gradients."""
    x, t = gradient_data()
    fast = build_net(zk, 7, 12, 6, 4, weight_init_std=0.1)
    ref = build_net(zk.reference, 7, 12, 6, 4, weight_init_std=0.1)
    g_fast, g_ref = fast.gradient(x, t), ref.gradient(x, t)
    for key in KEYS:
        np.testing.assert_array_equal(fast.params[key], ref.params[key])
        np.testing.assert_allclose(g_fast[key], g_ref[key], rtol=1e-12, atol=1e-15)
    assert fast.lastLayer.loss == pytest.approx(ref.lastLayer.loss, rel=1e-12)


# ---------------------------------------------------------------------------
# (b) SGD training, as in ch05/train_neuralnet.py
# ---------------------------------------------------------------------------

def train(network: Any, x_train: np.ndarray, t_train: np.ndarray, iters_num: int = 300,
          batch_size: int = 50, learning_rate: float = 0.1, seed: int = 3) -> list[float]:
    """The book's training loop (mini-batches drawn from a seeded generator)."""
    rng = np.random.default_rng(seed)
    train_size = x_train.shape[0]
    losses = []
    for i in range(iters_num):
        batch_mask = rng.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]

        # gradient
        grad = network.gradient(x_batch, t_batch)

        # update
        for key in ('W1', 'b1', 'W2', 'b2'):
            network.params[key] -= learning_rate * grad[key]

        loss = network.loss(x_batch, t_batch)
        losses.append(loss)
    return losses


def test_sgd_training_learns_and_fast_matches_reference() -> None:
    """The book's loop trains the net on three blobs (loss falls by far, train
    accuracy > 0.9) and the fast and reference nets, started from the same
    weights on the same batches, follow the same loss curve to 1e-10."""
    x_train, t_train = blobs()
    curves, nets = {}, {}
    for impl in (zk, zk.reference):
        net = build_net(impl, 11, 2, 10, 3, weight_init_std=0.1)
        initial_loss = net.loss(x_train, t_train)
        initial_accuracy = net.accuracy(x_train, t_train)
        curves[impl.__name__] = train(net, x_train, t_train)
        nets[impl.__name__] = net
        final_loss = net.loss(x_train, t_train)
        assert initial_loss > 1.0  # about log(3) at the start
        assert final_loss < 0.1 * initial_loss, (initial_loss, final_loss)
        assert initial_accuracy < 0.7
        assert net.accuracy(x_train, t_train) > 0.9
        # Every update reached the layers: the layers hold the trained params.
        assert net.layers['Affine1'].W is net.params['W1']
        assert net.layers['Affine2'].b is net.params['b2']

    fast, ref = curves["zk_layers"], curves["zk_layers.reference"]
    assert len(fast) == len(ref) == 300
    np.testing.assert_allclose(fast, ref, rtol=1e-10)
    for key in KEYS:
        np.testing.assert_allclose(nets["zk_layers"].params[key],
                                   nets["zk_layers.reference"].params[key], rtol=1e-9, atol=1e-12)
    # The curve really falls: the last tenth is far below the first tenth.
    assert np.mean(fast[-30:]) < 0.2 * np.mean(fast[:30])


# ---------------------------------------------------------------------------
# (c) in-place updates reach the layers
# ---------------------------------------------------------------------------

def by_hand(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The net's scores computed directly from the parameter arrays."""
    h = np.maximum(x @ params['W1'] + params['b1'], 0)
    return h @ params['W2'] + params['b2']


@pytest.mark.parametrize("impl", IMPLS)
def test_in_place_update_reaches_the_layers(impl: Any) -> None:
    """After params[key] -= lr * grad[key] the layers still hold the very same
    arrays, and the next forward uses the updated weights."""
    x, t = blobs(30, seed=5)
    network = build_net(impl, 2, 2, 5, 3, weight_init_std=0.5)
    originals = {key: network.params[key] for key in KEYS}
    scores_before = network.predict(x)
    np.testing.assert_allclose(scores_before, by_hand(network.params, x), rtol=1e-12)

    grad = network.gradient(x, t)
    for key in KEYS:
        network.params[key] -= 0.5 * grad[key]

    for key in KEYS:
        assert network.params[key] is originals[key]
    assert network.layers['Affine1'].W is network.params['W1']
    assert network.layers['Affine1'].b is network.params['b1']
    assert network.layers['Affine2'].W is network.params['W2']
    assert network.layers['Affine2'].b is network.params['b2']

    fresh = {key: np.array(value) for key, value in network.params.items()}
    scores_after = network.predict(x)
    np.testing.assert_allclose(scores_after, by_hand(fresh, x), rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(scores_after - scores_before)) > 1e-3  # the step did something


# ---------------------------------------------------------------------------
# (d) and (e) label forms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_one_hot_and_index_labels_agree(impl: Any) -> None:
    """One-hot labels (the book's MNIST default) and class indices give the same
    loss and the same gradients."""
    x, t = gradient_data()
    network = build_net(impl, 9, 12, 6, 4, weight_init_std=0.1)
    loss_index = network.loss(x, t)
    grads_index = {k: v.copy() for k, v in network.gradient(x, t).items()}
    loss_onehot = network.loss(x, one_hot(t, 4))
    grads_onehot = network.gradient(x, one_hot(t, 4))

    assert loss_onehot == loss_index
    assert loss_index > 0.5  # a real loss, not 0
    for key in KEYS:
        np.testing.assert_array_equal(grads_onehot[key], grads_index[key])
    # Integer one-hot rows (np.eye(..., dtype=int)) are one-hot too.
    assert network.loss(x, np.eye(4, dtype=np.int64)[t]) == loss_index


@pytest.mark.parametrize("impl", IMPLS)
def test_accuracy_with_both_label_forms(impl: Any) -> None:
    """The book's accuracy (argmax of one-hot rows when t.ndim != 1) gives the
    same fraction for both label forms, equal to the count done by hand."""
    x, t = blobs(30, seed=8)
    network = build_net(impl, 4, 2, 5, 3, weight_init_std=0.5)
    predicted = np.argmax(by_hand(network.params, x), axis=1)
    expected = np.mean(predicted == t)
    assert 0 < expected < 1  # an untrained net: some right, some wrong

    assert network.accuracy(x, t) == pytest.approx(expected, abs=1e-15)
    assert network.accuracy(x, one_hot(t, 3)) == pytest.approx(expected, abs=1e-15)

    # Labels equal to the prediction give 1, any wrong label lowers it by 1/N.
    assert network.accuracy(x, predicted) == 1.0
    wrong = predicted.copy()
    wrong[0] = (wrong[0] + 1) % 3
    assert network.accuracy(x, one_hot(wrong, 3)) == pytest.approx(1 - 1 / 30)


def test_the_net_is_read_from_the_books_checkout() -> None:
    """What these tests run is the book's file, with our classes in it."""
    before = {name: sys.modules.get(name) for name in ("common", "common.layers", "common.gradient")}
    net_class = make_two_layer_net(zk)
    assert {name: sys.modules.get(name) for name in before} == before  # nothing left behind
    assert net_class.gradient.__code__.co_filename == str(Path(BOOK_DIR or "", "ch05", "two_layer_net.py"))
    net = build_net(zk, 0, 4, 3, 2)
    assert type(net.layers["Affine1"]) is zk.Affine and type(net.lastLayer) is zk.SoftmaxWithLoss
