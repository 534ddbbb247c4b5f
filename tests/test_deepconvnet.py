"""DeepConvNet (chapter 8) in zk_layers' own API: the book's weights and
gradients, float32 throughout, parameter files, errors, and its training."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers.book.deep_convnet import DeepConvNet as BookLayersNet

BOOK_DIR = os.environ.get("ZK_LAYERS_BOOK_DIR")
# Small enough for numerical gradients: 8x8 images, 2 or 3 filters a layer.
SMALL = dict(input_dim=(1, 8, 8), hidden_size=5, output_size=3,
             **{f"conv_param_{i + 1}": {"filter_num": n, "filter_size": 3, "pad": pad, "stride": 1}
                for i, (n, pad) in enumerate(((2, 1), (2, 1), (3, 1), (3, 2), (2, 1), (2, 1)))})


def _seed_global(seed):
    """The book seeds NumPy's global generator; so do these tests."""
    np.random.seed(seed)  # noqa: NPY002


def _batch(n=6, shape=(1, 28, 28), classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape)).astype(np.float32), rng.integers(0, classes, n)


def _close_to_scale(ours, theirs, bound, key):
    """Each array within ``bound`` of its largest magnitude (the issue's measure)."""
    scale = np.max(np.abs(theirs))
    assert np.max(np.abs(ours - theirs)) <= bound * scale, key


def test_book_interface_and_shapes():
    _seed_global(0)
    net = zk.DeepConvNet()
    shapes = {key: value.shape for key, value in net.params.items()}
    assert shapes == {"W1": (16, 1, 3, 3), "b1": (16,), "W2": (16, 16, 3, 3), "b2": (16,),
                      "W3": (32, 16, 3, 3), "b3": (32,), "W4": (32, 32, 3, 3), "b4": (32,),
                      "W5": (64, 32, 3, 3), "b5": (64,), "W6": (64, 64, 3, 3), "b6": (64,),
                      "W7": (1024, 50), "b7": (50,), "W8": (50, 10), "b8": (10,)}
    assert len(net.layers) == 20 and isinstance(net.last_layer, zk.SoftmaxWithLoss)
    assert [type(layer).__name__ for layer in net.layers[14:]] == [
        "Pooling", "Affine", "Relu", "Dropout", "Affine", "Dropout"]
    assert net.layers[0].W is net.params["W1"] and net.layers[18].W is net.params["W8"]
    assert net.layers[7].pad == 2 and net.layers[0].need_dx is False and net.layers[2].need_dx is True


def test_the_books_weights_and_dropout_draws():
    """With the global generator, the book's draws: the same weights and
    masks as the book's net on zk_layers' layers (zk_layers.book)."""
    _seed_global(7)
    ours = zk.DeepConvNet()
    _seed_global(7)
    book = BookLayersNet()
    for key, value in book.params.items():
        assert_array_equal(ours.params[key], value, err_msg=key)
    x, t = _batch()
    _seed_global(8)
    ours_grads = ours.gradient(x, t)
    _seed_global(8)
    book_grads = book.gradient(x, t)
    for key, value in book_grads.items():
        assert_array_equal(ours_grads[key], value, err_msg=key)


@pytest.mark.skipif(not BOOK_DIR, reason="set ZK_LAYERS_BOOK_DIR to a checkout of the book")
def test_gradients_match_the_books_own_code(tmp_path):
    """The book's ch08/deep_convnet.py on its own common/ (a subprocess):
    the same weights, and every gradient within 1e-9 of its largest
    magnitude, float64."""
    x, t = _batch(8)
    np.savez(tmp_path / "batch.npz", x=x, t=t)
    script = textwrap.dedent(f"""
        import os, sys
        import numpy as np
        book = {BOOK_DIR!r}
        sys.path.insert(0, os.path.join(book, "ch08"))
        sys.path.insert(0, book)
        from deep_convnet import DeepConvNet
        batch = np.load({str(tmp_path / "batch.npz")!r})
        np.random.seed(11)
        net = DeepConvNet()
        weights = dict(net.params)
        np.random.seed(12)
        grads = net.gradient(batch["x"], batch["t"])
        np.savez({str(tmp_path / "book.npz")!r}, **{{"w_" + k: v for k, v in weights.items()}},
                 **{{"g_" + k: v for k, v in grads.items()}})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    book = np.load(tmp_path / "book.npz")
    _seed_global(11)
    net = zk.DeepConvNet()
    for key in net.params:
        assert_array_equal(net.params[key], book["w_" + key], err_msg=key)
    _seed_global(12)
    grads = net.gradient(x, t)
    for key, value in grads.items():
        _close_to_scale(value, book["g_" + key], 1e-9, key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_matches_the_reference(dtype):
    x, t = _batch(5)
    fast = zk.DeepConvNet(dtype=dtype, rng=np.random.RandomState(3))
    reference = zk.DeepConvNet(dtype=dtype, rng=np.random.RandomState(3), backend="reference")
    bound = 1e-9 if dtype == np.float64 else 1e-4
    assert_allclose(fast.loss(x, t), reference.loss(x, t), rtol=bound)
    fast_grads, reference_grads = fast.gradient(x, t), reference.gradient(x, t)
    for key, value in reference_grads.items():
        assert fast_grads[key].dtype == dtype
        _close_to_scale(fast_grads[key], value, bound, key)


def test_float32_computes_in_float32_and_follows_float64():
    x, t = _batch(4)
    net32 = zk.DeepConvNet(dtype=np.float32, rng=np.random.RandomState(5))
    net64 = zk.DeepConvNet(rng=np.random.RandomState(5))
    assert all(value.dtype == np.float32 for value in net32.params.values())
    assert_array_equal(net32.params["W3"], net64.params["W3"].astype(np.float32))  # one draw, rounded
    assert net32.predict(x).dtype == np.float32
    grads32, grads64 = net32.gradient(x, t), net64.gradient(x, t)
    for key, value in grads64.items():
        assert grads32[key].dtype == np.float32
        _close_to_scale(grads32[key].astype(np.float64), value, 1e-3, key)


@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_gradient_check_small_net(backend):
    """Backprop against central differences, with the Dropout layers at
    ratio 0 (in training mode they then pass everything, as in test mode)
    and the biases away from 0: with zero biases, an output whose window
    holds only zeros (a Relu's) is exactly 0, the Relu's kink, where central
    differences see half a slope."""
    x, t = _batch(3, (1, 8, 8), 3, seed=4)
    net = zk.DeepConvNet(**SMALL, backend=backend, rng=np.random.RandomState(0))
    rng = np.random.default_rng(1)
    for i in range(1, 9):
        net.params[f"b{i}"] += 0.1 * rng.standard_normal(net.params[f"b{i}"].shape)
    for layer in (net.layers[17], net.layers[19]):
        layer.dropout_ratio = 0.0
    numerical, backprop = net.numerical_gradient(x, t), net.gradient(x, t)
    for key, value in numerical.items():
        assert_allclose(backprop[key], value, rtol=1e-5, atol=1e-7, err_msg=key)


def test_in_place_updates_reach_the_layers():
    x, t = _batch(4)
    net = zk.DeepConvNet(rng=np.random.RandomState(1))
    before = net.predict(x).copy()
    net.params["W8"] *= 2  # as an optimizer's ``params[key] -= ...`` does
    assert net.layers[18].W is net.params["W8"]
    assert not np.array_equal(net.predict(x), before)


def test_rng_gives_reproducible_runs_without_the_global_generator():
    x, t = _batch(4)
    losses = []
    for _ in range(2):
        net = zk.DeepConvNet(rng=np.random.RandomState(9))
        _seed_global(0)
        np.random.rand(5)  # noqa: NPY002 - the global generator moves; the net does not use it
        losses.append([float(net.loss(x, t)) for _ in range(3)])
    assert losses[0] == losses[1] and len(set(losses[0])) == 3  # new masks at every call


def test_accuracy_counts_every_sample():
    x, t = _batch(7)
    net = zk.DeepConvNet(rng=np.random.RandomState(2))
    expected = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert net.accuracy(x, t, batch_size=3) == pytest.approx(expected)
    assert net.accuracy(x, np.eye(10)[t]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="one label per sample: expected 7, got 3"):
        net.accuracy(x, t[:3])
    assert net.accuracy(x, t[:, None], batch_size=3) == pytest.approx(expected)  # a column of indices


@pytest.mark.parametrize("labels,error,words", [
    (lambda t: t.astype(np.float64), TypeError, "integer dtype"),
    (lambda t: np.where(t == t[0], 10, t), ValueError, r"out of range: class indices must satisfy 0 <= t < 10"),
    (lambda t: np.where(t == t[0], -1, t), ValueError, "out of range"),
    (lambda t: np.eye(9)[t % 9], ValueError, r"one-hot t must have shape \(7, 10\)"),
    (lambda t: 0.5 * np.eye(10)[t], ValueError, "exactly one 1"),
    (lambda t: t[0], ValueError, r"got shape \(\)"),
    (lambda t: ["cat"] * 7, TypeError, "integer dtype"),
])
def test_accuracy_checks_its_labels(labels, error, words):
    """As SoftmaxWithLoss checks t: no label is read as something else."""
    x, t = _batch(7)
    net = zk.DeepConvNet(rng=np.random.RandomState(2))
    with pytest.raises(error, match=words):
        net.accuracy(x, labels(t), batch_size=3)


def test_replaced_params_are_the_ones_used():
    """``params[key] = new`` (an optimizer that is not in place) reaches the
    layers: the net computes what it computes after the same in-place change."""
    x, t = _batch(4, shape=(1, 8, 8), classes=3)
    replaced, in_place = (zk.DeepConvNet(**SMALL, rng=np.random.RandomState(3)) for _ in range(2))
    grads = replaced.gradient(x, t)
    in_place.gradient(x, t)  # the same Dropout draws, so the two nets' generators stay in step
    for key in ("W1", "b3", "W8"):
        replaced.params[key] = replaced.params[key] - 0.1 * grads[key]
        in_place.params[key] -= 0.1 * grads[key]
    assert_array_equal(replaced.predict(x), in_place.predict(x))
    assert replaced.layers[0].W is replaced.params["W1"] and replaced.layers[18].W is replaced.params["W8"]
    theirs = in_place.gradient(x, t)
    for key, value in replaced.gradient(x, t).items():
        assert_array_equal(value, theirs[key], err_msg=key)
    replaced.params["W8"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="shape"):
        replaced.predict(x)


def test_float32_net_computes_in_float32_from_float64_images():
    x, _ = _batch(3)
    net = zk.DeepConvNet(dtype=np.float32, rng=np.random.RandomState(2))
    scores = net.predict(x.astype(np.float64))
    assert scores.dtype == np.float32
    assert_array_equal(scores, net.predict(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("change,words", [
    (lambda x: x.astype(str), "strings"), (lambda x: x > 0.5, "booleans"), (lambda x: x + 1j, "complex"),
])
def test_images_that_are_not_real_numbers_are_refused(dtype, change, words):
    """The float32 net converts real images only, as the float64 net takes them."""
    x, _ = _batch(2, shape=(1, 8, 8))
    net = zk.DeepConvNet(**SMALL, dtype=dtype, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match=words):
        net.predict(change(x))


def test_accuracy_names_the_number_of_classes():
    x, t = _batch(3)
    net = zk.DeepConvNet(rng=np.random.RandomState(2))
    with pytest.raises(ValueError, match=r"0 <= t < 10 \(the number of classes, the scores' columns\)"):
        net.accuracy(x, np.array([1, 0, 12]))
    with pytest.raises(ValueError, match="x must be a batch of images"):
        net.accuracy(np.float32(1), t)


def test_a_copied_net_binds_its_own_params():
    import copy

    x, _ = _batch(2, shape=(1, 8, 8))
    net = zk.DeepConvNet(**SMALL, rng=np.random.RandomState(0))
    net.predict(x)
    other = pickle.loads(pickle.dumps(net))
    for clone in (other, copy.deepcopy(net)):
        clone.params["W8"] = np.zeros_like(clone.params["W8"])
        clone.params["b8"] = np.ones_like(clone.params["b8"])
        assert_array_equal(clone.predict(x), np.full((2, 3), 0.5))  # b8, scaled by the test-mode Dropout
        assert clone.layers[18].W is clone.params["W8"] and net.layers[18].W is net.params["W8"]
    assert not np.array_equal(net.predict(x), np.full((2, 3), 0.5))


def test_load_params_needs_an_existing_file_and_a_bool_opt_in(tmp_path):
    net = zk.DeepConvNet(rng=np.random.RandomState(4))
    with pytest.raises(FileNotFoundError, match="no parameter file"):
        net.load_params(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        net.load_params(tmp_path)
    path = tmp_path / "deep_convnet_params.pkl"
    with open(path, "wb") as f:
        pickle.dump(dict(net.params), f)
    with pytest.raises(TypeError, match="allow_pickle must be True or False, got str 'no'"):
        net.load_params(path, allow_pickle="no")


def test_save_and_load_params_npz(tmp_path):
    net = zk.DeepConvNet(rng=np.random.RandomState(4))
    path = tmp_path / "deep.npz"
    net.save_params(path)
    other = zk.DeepConvNet(dtype=np.float32, rng=np.random.RandomState(5))
    other.load_params(path)
    for i, key in enumerate(("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8")):
        assert other.params[key].dtype == np.float32
        assert_array_equal(other.params[key], net.params[key].astype(np.float32))
        assert other.layers[(0, 2, 5, 7, 10, 12, 15, 18)[i]].W is other.params[key]


def test_book_pickle_needs_explicit_opt_in(tmp_path):
    net = zk.DeepConvNet(rng=np.random.RandomState(4))
    path = tmp_path / "deep_convnet_params.pkl"
    with open(path, "wb") as f:
        pickle.dump(dict(net.params), f)
    other = zk.DeepConvNet(rng=np.random.RandomState(6))
    with pytest.raises(ValueError, match="allow_pickle=True"):
        other.load_params(path)
    other.load_params(path, allow_pickle=True)
    assert_array_equal(other.params["W5"], net.params["W5"])


def test_load_params_checks_names_and_shapes(tmp_path):
    net = zk.DeepConvNet(rng=np.random.RandomState(4))
    params = dict(net.params)
    params["W7"] = params["W7"][:10]
    np.savez(tmp_path / "bad.npz", **params)
    with pytest.raises(ValueError, match=r"'W7' .* has shape \(10, 50\)"):
        net.load_params(tmp_path / "bad.npz")
    del params["W7"]
    np.savez(tmp_path / "missing.npz", **params)
    with pytest.raises(ValueError, match="no parameter 'W7'"):
        net.load_params(tmp_path / "missing.npz")


def test_other_image_sizes_size_w7_from_the_maps():
    net = zk.DeepConvNet(input_dim=(3, 16, 12), rng=np.random.RandomState(0))
    # 16x12 -> pools 8x6, 5x4 (pad 2 widens conv4's maps by 2), 2x2: 64 * 2 * 2 rows.
    assert net.params["W7"].shape == (256, 50) and net.params["W1"].shape == (16, 3, 3, 3)
    x = np.random.default_rng(0).random((2, 3, 16, 12)).astype(np.float32)
    assert net.predict(x).shape == (2, 10)


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(backend="gpu"), ValueError, "backend must be 'fast' or 'reference'"),
    (dict(dtype=np.int32), ValueError, "dtype"),
    (dict(rng=np.random.default_rng(0)), TypeError, "rng must be a numpy.random.RandomState"),
    (dict(input_dim=(1, 28)), ValueError, r"input_dim must be \(C, H, W\)"),
    (dict(input_dim=5), TypeError, r"input_dim must be \(C, H, W\)"),
    (dict(input_dim=(1, 0, 28)), ValueError, "input_dim"),
    (dict(input_dim=(1, 2, 2)), ValueError, "less than the 2x2 pooling window"),
    (dict(conv_param_3={"filter_num": 4, "filter_size": 3}), ValueError, "conv_param lacks"),
    (dict(conv_param_2={"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 2}), ValueError,
     "conv_param_2 does not fit input_dim"),
    (dict(conv_param_1=[16, 3, 1, 1]), TypeError, "conv_param must be a dict"),
    (dict(hidden_size=0), ValueError, "hidden_size"),
])
def test_bad_construction(kwargs, error, words):
    with pytest.raises(error, match=words):
        zk.DeepConvNet(**kwargs)


def test_images_of_another_shape_are_refused():
    net = zk.DeepConvNet(rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match=r"x must be images of shape \(N, 1, 28, 28\)"):
        net.predict(np.zeros((2, 1, 27, 28), np.float32))


def test_dropout_rng_keyword():
    x = np.ones((4, 6))
    for impl in (zk, zk.reference):
        ours = impl.Dropout(0.5, rng=np.random.RandomState(3))
        _seed_global(3)
        book = impl.Dropout(0.5)
        assert_array_equal(ours.forward(x), book.forward(x))
        with pytest.raises(TypeError, match="rng must be a numpy.random.RandomState"):
            impl.Dropout(0.5, rng=np.random.default_rng(0))


def test_training_on_the_digits_learns():
    result = zk.train_deepconvnet("digits", dtype=np.float32, epochs=6)
    assert isinstance(result.network, zk.DeepConvNet)
    assert result.settings["model"] == "DeepConvNet" and result.settings["iterations"] == 90
    assert result.test_accuracy[-1] > 0.8 > result.test_accuracy[0]
    assert np.all(np.isfinite(result.losses))


def test_training_is_reproducible_and_float64_follows():
    runs = [zk.train_deepconvnet("digits", iterations=4, seed=3, dtype=dtype)
            for dtype in (np.float32, np.float32, np.float64)]
    assert_array_equal(runs[0].losses, runs[1].losses)
    assert_allclose(runs[0].losses, runs[2].losses, rtol=1e-4)


def test_cli_deepconvnet(tmp_path):
    out = tmp_path / "run.json"
    # From tmp_path: run from the source tree, `-m` would import its unbuilt package.
    proc = subprocess.run([sys.executable, "-m", "zk_layers", "train", "--model", "deepconvnet", "--dtype",
                           "float32", "--iters", "20", "--no-progress", "--json", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "DeepConvNet on digits" in proc.stdout and "float32 throughout" in proc.stdout
    assert "final test accuracy" in proc.stdout
    assert json.loads(out.read_text())["settings"]["model"] == "DeepConvNet"
    bad = subprocess.run([sys.executable, "-m", "zk_layers", "train", "--model", "deepconvnet",
                          "--filter-size", "5"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "six 3x3 convolutions" in bad.stderr
