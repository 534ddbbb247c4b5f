# ruff: noqa: NPY002  (the book draws from the legacy global generator; these tests check exactly that)
"""zk_layers.book: the book's common package module for module, and
`zk-layers book run/check` on a small stand-in for the book's checkout."""
from __future__ import annotations

import io
import os
import sys
import textwrap

import numpy as np
import pytest
from conftest import PACKAGE_PARENT, run_module
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers.book import (
    _check,
    _run,
    functions,
    gradient,
    layers,
    multi_layer_net,
    multi_layer_net_extend,
    optimizer,
    trainer,
    util,
)


def test_modules_have_the_books_names():
    for name in ("Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
                 "Convolution", "Pooling", "np", "softmax", "cross_entropy_error", "im2col", "col2im"):
        assert hasattr(layers, name), name
    assert layers.Relu is zk.Relu and layers.Dropout is zk.Dropout
    for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"):
        assert hasattr(optimizer, name), name
    assert multi_layer_net.MultiLayerNet is zk.MultiLayerNet
    assert multi_layer_net_extend.MultiLayerNetExtend is zk.MultiLayerNetExtend
    for name in ("smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"):
        assert callable(getattr(util, name))
    assert len(functions.__all__) == 10


def test_functions_by_hand():
    x = np.array([-1.0, 0.0, 2.0])
    assert_array_equal(functions.step_function(x), [0, 0, 1])
    assert_array_equal(functions.relu(x), [0, 0, 2])
    assert_array_equal(functions.relu_grad(x), [0, 1, 1])
    assert_allclose(functions.sigmoid(x), 1 / (1 + np.exp(-x)))
    assert functions.sigmoid(np.array([-1000.0]))[0] == 0
    assert_allclose(functions.sigmoid_grad(np.array([0.0])), [0.25])
    y = functions.softmax(np.array([[1.0, 2.0, 3.0]]))
    assert_allclose(y.sum(), 1.0)
    assert functions.identity_function(x) is x
    assert functions.sum_squared_error(np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5
    loss = functions.cross_entropy_error(np.array([0.1, 0.7, 0.2]), np.array([0, 1, 0]))
    assert loss == pytest.approx(-np.log(0.7 + 1e-7))
    assert functions.softmax_loss(np.array([[0.0, 0.0]]), np.array([1])) == pytest.approx(np.log(2), rel=1e-6)


def test_gradient_forms():
    def f(x):
        return np.sum(x**2)

    x = np.array([1.0, -2.0])
    assert_allclose(gradient.numerical_gradient(f, x), [2.0, -4.0], rtol=1e-6)
    assert_allclose(gradient.numerical_gradient_2d(f, np.array([[1.0, 2.0], [3.0, 4.0]])),
                    [[2.0, 4.0], [6.0, 8.0]], rtol=1e-6)
    assert_allclose(gradient.numerical_gradient_2d(f, x), [2.0, -4.0], rtol=1e-6)


def test_util():
    assert util.conv_output_size(28, 5, 1, 0) == 24.0
    np.random.seed(1)
    x, t = np.arange(12.0).reshape(6, 2), np.arange(6)
    xs, ts = util.shuffle_dataset(x, t)
    np.random.seed(1)
    order = np.random.permutation(6)
    assert_array_equal(xs, x[order])
    assert_array_equal(ts, t[order])
    curve = util.smooth_curve(np.ones(30))
    assert curve.shape == (30,)
    assert_allclose(curve, 1.0, rtol=1e-12)
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    col = util.im2col(image, 2, 2, stride=2)
    assert_array_equal(col, [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]])
    assert_array_equal(util.col2im(col, image.shape, 2, 2, stride=2), image)
    assert_array_equal(util.col2im(util.im2col(image, 3, 3), image.shape, 3, 3),
                       image * [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_trainer_draws_and_prints_like_the_book(capsys):
    rng = np.random.default_rng(0)
    x, t = rng.random((50, 6)), rng.integers(0, 3, 50)
    np.random.seed(0)
    net = zk.MultiLayerNet(6, [5], 3)
    trainer.Trainer(net, x, t, x[:10], t[:10], epochs=2, mini_batch_size=20, optimizer="AdaGrad",
                    optimizer_param={"lr": 0.1}).train()
    printed = capsys.readouterr().out
    # The same steps by hand: np.random.choice minibatches, AdaGrad updates.
    np.random.seed(0)
    twin = zk.MultiLayerNet(6, [5], 3)
    opt = zk.AdaGrad(lr=0.1)
    losses = []
    for _ in range(int(2 * 50 / 20)):
        mask = np.random.choice(50, 20)
        opt.update(twin.params, twin.gradient(x[mask], t[mask]))
        losses.append(twin.loss(x[mask], t[mask]))
    for key in net.params:
        assert_array_equal(net.params[key], twin.params[key])
    # iter_per_epoch = 2.5: the book evaluates at steps 0 and 5 (of 0..4), so once
    assert printed.count("train loss:") == 5 and printed.count("=== epoch:") == 1
    assert f"train loss:{losses[0]}" in printed
    assert printed.strip().endswith(f"test acc:{twin.accuracy(x[:10], t[:10])}")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        trainer.Trainer(net, x, t, x, t, optimizer="lbfgs")


def test_convolution_names_exist_even_without_the_compiled_layers():
    try:
        import zk_layers.convolution  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs zk_layers.convolution"):
            layers.Convolution(np.ones((1, 1, 2, 2)), np.zeros(1))


# -------------------------------------------------------------------- run
@pytest.fixture
def fake_book(tmp_path):
    """A stand-in for the book's checkout: common/ with a marker, dataset/,
    and scripts in ch06/ that import from common as the book's do."""
    book = tmp_path / "book"
    (book / "common").mkdir(parents=True)
    (book / "common" / "__init__.py").write_text("")
    (book / "common" / "layers.py").write_text(textwrap.dedent("""
        import numpy as np
        WHOSE = "book"
        class SoftmaxWithLoss:
            def backward(self, dout=1):
                return dout
    """))
    (book / "dataset").mkdir()
    (book / "dataset" / "__init__.py").write_text("")
    (book / "dataset" / "data.py").write_text("VALUE = 42\n")
    ch = book / "ch06"
    ch.mkdir()
    (ch / "helper.py").write_text("NAME = 'helper next to the script'\n")
    (ch / "which.py").write_text(textwrap.dedent("""
        import sys, os
        sys.path.append(os.pardir)
        import numpy as np
        from common.layers import *
        from dataset.data import VALUE
        from helper import NAME
        import common.layers
        print(getattr(common.layers, "WHOSE", "zk"), VALUE, NAME, sys.argv[1:], np.random.rand())
        print(os.path.basename(os.getcwd()), os.environ.get("MPLBACKEND"))
    """))
    (ch / "writes.py").write_text(textwrap.dedent("""
        with open("params.pkl", "w") as f:
            f.write("trained")
        with open("params.pkl") as f:
            print("read back:", f.read())
    """))
    (ch / "book_raises.py").write_text(textwrap.dedent("""
        import sys, os
        sys.path.append(os.pardir)
        import common.layers
        print("before", 1.5)
        if getattr(common.layers, "WHOSE", "zk") == "book":
            raise RuntimeError("the book's side fails")
    """))
    (ch / "infinities.py").write_text("print(float('inf'), -float('inf'), float('nan'), 0.25)\n")
    (ch / "loop.py").write_text(textwrap.dedent("""
        import sys, os
        sys.path.append(os.pardir)
        from common.layers import SoftmaxWithLoss
        layer = SoftmaxWithLoss()
        for i in range(100):
            print("step", i)
            try:
                layer.backward()
            except Exception:
                pass  # the book's scripts never do this, but a limit must not be caught by it
    """))
    return book


def test_run_serves_common_from_zk_layers_book(fake_book, capsys, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    cwd, path = os.getcwd(), list(sys.path)
    report = _run.run_script(str(fake_book / "ch06" / "which.py"), ["--flag", "1"], seed=0)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"zk 42 helper next to the script ['--flag', '1'] {np.random.RandomState(0).rand()}"
    assert out[1] == "ch06 Agg"  # the script sees Agg; the caller's environment does not keep it
    assert os.getcwd() == cwd and sys.path == path and "common" not in sys.modules
    assert "MPLBACKEND" not in os.environ
    assert report["script_s"] >= 0 and report["stopped"] is False
    _run.run_script("ch06/which.py", book_dir=str(fake_book), seed=0, common="book")
    assert capsys.readouterr().out.startswith("book 42 helper")


def test_run_redirects_writes_into_the_book(fake_book, tmp_path, capsys):
    out_dir = tmp_path / "out"
    report = _run.run_script(str(fake_book / "ch06" / "writes.py"), output_dir=str(out_dir))
    assert "read back: trained" in capsys.readouterr().out
    assert not (fake_book / "ch06" / "params.pkl").exists()
    assert (out_dir / "ch06" / "params.pkl").read_text() == "trained"
    assert list(report["redirected"].values()) == [str(out_dir / "ch06" / "params.pkl")]


@pytest.mark.parametrize("common", ["zk", "book"])
def test_max_steps_cuts_both_sides_at_the_same_step(fake_book, capsys, common):
    report = _run.run_script(str(fake_book / "ch06" / "loop.py"), max_steps=3, common=common)
    out = capsys.readouterr()
    assert out.out.split() == ["step", "0", "step", "1", "step", "2", "step", "3"]
    assert report["stopped"] and report["steps"] == 3
    assert "stopped at the start of training step 4" in out.err
    assert zk.SoftmaxWithLoss.backward.__name__ == "backward"  # the patch is undone


def test_max_steps_from_the_environment(fake_book, capsys, monkeypatch):
    monkeypatch.setenv(_run.MAX_STEPS_VARIABLE, "2")
    assert _run.run_script(str(fake_book / "ch06" / "loop.py"))["steps"] == 2
    monkeypatch.setenv(_run.MAX_STEPS_VARIABLE, "zero")
    with pytest.raises(ValueError, match="ZK_LAYERS_BOOK_MAX_STEPS must be a positive integer"):
        _run.run_script(str(fake_book / "ch06" / "loop.py"))


def test_run_errors(fake_book, tmp_path):
    with pytest.raises(FileNotFoundError, match="no script"):
        _run.run_script("ch06/none.py", book_dir=str(fake_book))
    lonely = tmp_path / "a" / "b.py"
    lonely.parent.mkdir()
    lonely.write_text("")
    with pytest.raises(ValueError, match="not in a checkout of the book"):
        _run.run_script(str(lonely))
    with pytest.raises(ValueError, match="common must be 'zk' or 'book'"):
        _run.run_script(str(fake_book / "ch06" / "which.py"), common="torch")


def test_numbers_comparison():
    assert _check.same_numbers("a 1.0 b 2", "a 1.0005 b 2.001", 1e-3, 2e-3)[0]
    same, detail = _check.same_numbers("loss 1.0", "loss 1.5", 1e-3, 2e-3)
    assert not same and "book 1.0, zk_layers 1.5" in detail
    assert _check.same_numbers("1 2", "1", 1e-3, 2e-3)[0] is False
    # the defaults: rtol 1e-9, atol 0
    assert _check.same_numbers("2.302584092994546", "2.3025840929945477", 1e-9, 0)[0]
    assert _check.same_numbers("loss 2.302584092994546", "loss 2.302584", 1e-9, 0)[0] is False
    # the example: twenty test images apart is a difference
    assert _check.same_numbers("test acc 0.9888", "test acc 0.9908", 1e-9, 0)[0] is False
    # rounded prints may differ by one unit in the last digit, no more
    assert _check.same_numbers("acc 0.9888", "acc 0.9889", 1e-9, 0)[0]
    assert _check.same_numbers("acc 0.9888", "acc 0.9890", 1e-9, 0)[0] is False
    assert _check.same_numbers("1.5e-05", "1.6e-05", 1e-9, 0)[0]
    assert _check.same_numbers("12", "13", 1e-9, 0)[0] is False  # an integer is exact
    # inf equals inf, NaN equals NaN in the same place only
    assert _check.same_numbers("inf -inf nan", "inf -inf nan", 1e-9, 0)[0]
    assert _check.same_numbers("inf", "-inf", 1e-9, 0)[0] is False
    assert _check.same_numbers("nan 1.0", "1.0 nan", 1e-9, 0)[0] is False
    # nothing printed: not compared, never "the same"
    assert _check.same_numbers("no numbers", "no numbers", 1e-9, 0) == (None, "not compared (no numbers)")


def test_check_table(fake_book):
    out = io.StringIO()
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env_path]))
    try:
        rows = _check.check(str(fake_book), ["ch06/loop.py", "ch06/writes.py"], max_steps=5, out=out)
        timed_out = io.StringIO()
        timed = _check.check(str(fake_book), ["ch06/loop.py"], max_steps=5, repeats=3, out=timed_out)
    finally:
        if env_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_path
    assert [row["same"] for row in rows] == [True, None], out.getvalue()
    assert rows[1]["verdict"] == "not compared" and "not compared (no numbers)" in out.getvalue()
    assert rows[0]["stopped"] and rows[0]["steps"] == 5
    assert "same numbers" in out.getvalue() and "ch06/loop.py" in out.getvalue()
    assert "1 same numbers, 0 different or failed, 1 not compared (no numbers)" in out.getvalue()
    assert not (fake_book / "ch06" / "params.pkl").exists()
    # --repeats: three runs a side, the reported times their medians
    (row,) = timed
    assert row["same"] and row["repeats"] == 3
    assert "  blas:" in timed_out.getvalue() and "median of 3 runs a side" in timed_out.getvalue()
    for side in ("book", "zk"):
        assert len(row[f"{side}_runs_s"]) == 3
        assert row[f"{side}_s"] == sorted(row[f"{side}_runs_s"])[1]
    for bad, error in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="repeats must be a positive integer"):
            _check.check(str(fake_book), ["ch06/loop.py"], repeats=bad)


def test_cli_book_check_fails_when_a_side_fails(fake_book):
    result = run_module("book", "check", str(fake_book), "--scripts", "ch06/book_raises.py", "ch06/infinities.py")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "book failed" in result.stdout and "the book's side fails" in result.stdout
    assert "failed or printed other numbers: ch06/book_raises.py" in result.stderr
    assert "ch06/infinities.py" in result.stdout and "4 numbers" in result.stdout
    result = run_module("book", "check", str(fake_book), "--scripts", "ch06/infinities.py", "ch06/writes.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not compared" in result.stdout


def test_cli_book_run(fake_book):
    result = run_module("book", "run", "--seed", "0", str(fake_book / "ch06" / "which.py"), "x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("zk 42 helper next to the script ['x']")
    result = run_module("book", "run", "--max-steps", "0", "x.py")
    assert result.returncode == 2 and "expected a positive integer" in result.stderr
    result = run_module("book", "run", str(fake_book / "ch06" / "nothing.py"))
    assert result.returncode == 1 and "no script" in result.stderr


def test_deep_convnet():
    from zk_layers.book.deep_convnet import DeepConvNet

    try:
        import zk_layers.convolution  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs zk_layers.convolution"):
            DeepConvNet()
        pytest.skip("DeepConvNet needs zk_layers.convolution, not in this installation")
    np.random.seed(0)
    net = DeepConvNet()
    np.random.seed(0)
    assert_array_equal(net.params["W1"], np.sqrt(2.0 / 9) * np.random.randn(16, 1, 3, 3))
    x, t = np.random.default_rng(0).random((2, 1, 28, 28)), np.array([3, 7])
    grads = net.gradient(x, t)
    assert set(grads) == {f"{p}{i}" for p in "Wb" for i in range(1, 9)}
    assert 0 <= net.accuracy(x, t, batch_size=2) <= 1


def test_deep_convnet_loads_pickles_only_when_asked(tmp_path):
    from zk_layers.book import deep_convnet

    net = object.__new__(deep_convnet.DeepConvNet)
    with pytest.raises(ValueError, match="pass allow_pickle=True if you trust the file"):
        net.load_params(str(tmp_path / "deep_convnet_params.pkl"))
