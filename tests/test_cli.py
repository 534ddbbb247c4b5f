"""The zk-layers command, run as a user runs it (a subprocess), and in-process."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from conftest import run_module

import zk_layers as zk
from zk_layers.cli import main


def test_version():
    proc = run_module("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"zk_layers {zk.__version__}"


@pytest.mark.parametrize("command", ["train", "gradcheck", "shopping", "info"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: zk-layers {command}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["run", "--help"], ["book", "run", "--help"], ["check", "--help"]])
def test_python_m_zk_layers_book_usage_names_the_command(argv, capsys):
    """`python -m zk_layers.book run --help` prints the usage of the command
    it stands for, `zk-layers book run`, with `book` once."""
    from zk_layers.book._cli import main as book_main

    with pytest.raises(SystemExit) as exc:
        book_main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: zk-layers book {argv[-2]} ")
    assert "book book" not in out


def test_train_book_preset_on_digits(tmp_path):
    out_json = tmp_path / "run.json"
    proc = run_module("train", "--iters", "1500", "--no-progress", "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    assert "TwoLayerNet on digits, preset book" in proc.stdout
    assert re.search(r"epoch +\d+\.\d +iter +0 ", proc.stdout)
    assert "nan" not in proc.stdout.lower(), proc.stdout
    data = json.loads(out_json.read_text())
    # iteration 0's loss: the first minibatch before any update, about log(10) for the book's init
    first = float(re.search(r"iter +0 +loss +(\d+\.\d+)", proc.stdout).group(1))
    assert first == pytest.approx(data["initial_loss"], abs=1e-4) and 2.2 < first < 2.4
    final = float(re.search(r"final test accuracy (\d\.\d+)", proc.stdout).group(1))
    assert final >= 0.93
    assert re.search(r"\d+\.\d us per iteration", proc.stdout)
    data = json.loads(out_json.read_text())
    assert len(data["losses"]) == 1500
    assert data["test_accuracy"][-1] == pytest.approx(final, abs=1e-4)
    assert data["settings"]["optimizer"] == "SGD"


@pytest.mark.parametrize("name,cls,lr", [("nesterov", "Nesterov", 0.01), ("adagrad", "AdaGrad", 0.01),
                                          ("rmsprop", "RMSprop", 0.01)])
def test_train_takes_chapter_6s_optimizers(name, cls, lr, tmp_path, capsys):
    out_json = tmp_path / "run.json"
    assert main(["train", "--optimizer", name, "--iters", "40", "--no-progress", "--json", str(out_json)]) == 0
    assert f"{name} lr={lr}," in capsys.readouterr().out
    settings = json.loads(out_json.read_text())["settings"]
    assert settings["optimizer"] == cls and settings["learning_rate"] == lr


def test_train_strong_preset_reaches_97_percent(capsys):
    assert main(["train", "--preset", "strong", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"final test accuracy (\d\.\d+)", out).group(1)) >= 0.97
    assert "adam lr=0.001, hidden 100, batch 32" in out


def test_train_plot_needs_matplotlib_or_draws(tmp_path, capsys):
    target = tmp_path / "curves.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit, match="needs matplotlib"):
            main(["train", "--iters", "20", "--no-progress", "--plot", str(target)])
        return
    assert main(["train", "--iters", "30", "--no-progress", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,message", [
    (["train", "--iters", "0"], "expected a positive integer"),
    (["train", "--lr", "-1"], "expected a positive finite number"),
    (["train", "--epochs", "2", "--iters", "5"], "not allowed with argument"),
    (["train", "--optimizer", "adamw"], "invalid choice"),
    (["train", "--plot", "curves.jpg"], "give a .png file name"),
    (["shopping", "--tax", "abc"], "expected a finite number >= 0"),
    (["shopping", "--apples", "0"], "expected a positive integer"),
    (["gradcheck", "--batch", "x"], "expected a positive integer"),
    (["fly"], "invalid choice"),
    ([], "required"),
])
def test_bad_options_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_train_mnist_without_files_fails_clearly(tmp_path):
    proc = run_module("train", "--data", "mnist", "--data-dir", str(tmp_path), "--no-progress")
    assert proc.returncode == 1
    assert "zk-layers train: error:" in proc.stderr and "train-images-idx3-ubyte" in proc.stderr


def test_gradcheck():
    proc = run_module("gradcheck")
    assert proc.returncode == 0, proc.stderr
    for key in ("W1", "b1", "W2", "b2"):
        diff = float(re.search(rf"^{key} .* ([0-9.]+e[-+]\d+)$", proc.stdout, re.M).group(1))
        assert diff < 1e-6
    assert "7520 forward passes (2 per parameter, 3760 parameters)" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("OK")


def test_shopping_answers():
    proc = run_module("shopping")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "The bill: 780.00 rub a day." in out
    assert "2.4 × +10 = +24.00 rub" in out and "+24.00 rub, matches" in out
    assert "3.6 × +5 = +18.00 rub" in out and "+18.00 rub, matches" in out
    assert "650 × -0.1 = -65.00 rub" in out and "-65.00 rub, matches" in out
    assert "DIFFERS" not in out
    # The graph shows forward values and gradients on the edges.
    assert "apple_price     200.00" in out and "[     2.4]" in out and "[     650]" in out


def test_shopping_other_prices(capsys):
    assert main(["shopping", "--apple-price", "80", "--apples", "4", "--orange-price", "120",
                 "--oranges", "1", "--tax", "10", "--new-tax", "0"]) == 0
    out = capsys.readouterr().out
    assert "The bill: 484.00 rub a day." in out  # (320 + 120) * 1.1
    assert "440 × -0.1 = -44.00 rub" in out


def test_info(capsys):
    assert main(["info"]) == 0
    assert f"zk_layers {zk.__version__}" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("zk-layers") is None, reason="console script not installed (in-place build)")
def test_console_script_is_installed():
    import subprocess

    proc = subprocess.run(["zk-layers", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and zk.__version__ in proc.stdout


# ---------------------------------------------------------------- train --model convnet
def test_train_convnet_on_digits(tmp_path):
    """SimpleConvNet on the 8x8 digits: filter 3, pad 1, Adam lr 0.001, batch
    100; one line per epoch with its time per step; 20 epochs reach 0.92."""
    out_json = tmp_path / "convnet.json"
    proc = run_module("train", "--model", "convnet", "--epochs", "20", "--no-progress", "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "SimpleConvNet on digits (1438 training images 1x8x8, 359 test)" in out
    assert "conv 30 filters 3x3 pad 1 stride 1 - relu - 2x2 max-pool - affine 100" in out
    assert "adam lr=0.001, batch 100, 300 steps (20 epochs)" in out
    epochs = re.findall(r"^epoch +(\d+\.\d) +iter +(\d+) .* test acc (\d\.\d+) +([0-9.]+|-) ms/step$", out, re.M)
    assert [e[0] for e in epochs] == [f"{k}.0" for k in range(21)]
    assert [int(e[1]) for e in epochs] == list(range(0, 301, 15))
    assert epochs[0][3] == "-" and all(float(e[3]) > 0 for e in epochs[1:])
    assert "nan" not in out.lower(), out
    first = float(re.search(r"iter +0 +loss +(\d+\.\d+)", out).group(1))
    final = float(re.search(r"final test accuracy (\d\.\d+)", out).group(1))
    assert final >= 0.92 and final == float(epochs[-1][2])
    assert re.search(r"done: 300 steps in [0-9.]+ s \([0-9.]+ ms per step: gradient \+ Adam update", out)
    data = json.loads(out_json.read_text())
    assert data["settings"]["model"] == "SimpleConvNet" and data["settings"]["data"] == "digits"
    assert data["settings"]["conv_param"] == {"filter_num": 30, "filter_size": 3, "pad": 1, "stride": 1}
    assert len(data["losses"]) == 300 and data["test_accuracy"][-1] == pytest.approx(final, abs=1e-4)
    assert first == pytest.approx(data["initial_loss"], abs=1e-4)
    assert data["initial_loss"] == pytest.approx(data["losses"][0], rel=1e-12)  # same batch, same weights


def test_train_convnet_on_mnist_files_uses_the_books_convolution(tmp_path, capsys, monkeypatch):
    from zk_layers.datasets import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    monkeypatch.setenv("ZK_LAYERS_MNIST_DIR", str(tmp_path))
    assert main(["train", "--model", "convnet", "--data", "mnist", "--iters", "3", "--no-progress",
                 "--hidden", "20", "--filter-num", "4", "--optimizer", "sgd"]) == 0
    out = capsys.readouterr().out
    assert "SimpleConvNet on mnist (40 training images 1x28x28, 10 test)" in out
    assert "conv 4 filters 5x5 pad 0 stride 1 - relu - 2x2 max-pool - affine 20" in out
    assert "sgd lr=0.1, batch 100, 3 steps (3 epochs)" in out
    assert "accuracy per epoch on the first 1000 images of each set" in out  # the book's Trainer
    assert "done: 3 steps" in out


def test_train_convnet_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "convnet.png"
    assert main(["train", "--model", "convnet", "--iters", "5", "--no-progress", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,message", [
    (["--model", "cnn"], "invalid choice: 'cnn'"),
    (["--model", "convnet", "--pad", "-1"], "expected an integer >= 0, got -1"),
    (["--model", "convnet", "--stride", "0"], "expected a positive integer, got 0"),
    (["--model", "convnet", "--preset", "strong"], "--preset applies to --model twolayer"),
    (["--pad", "1"], "--pad needs --model convnet"),
    (["--eval-samples", "100"], "--eval-samples needs --model convnet"),
    (["--model", "convnet", "--eval-samples", "0"], "expected a positive integer, got 0"),
    (["--filter-size", "3", "--filter-num", "8"], "--filter-num, --filter-size need --model convnet"),
])
def test_bad_convnet_options_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("model,others", [
    ("convnet", "--optimizer, --lr, --hidden, --batch-size or --weight-init-std instead"),
    ("deepconvnet", "--optimizer, --lr, --hidden or --batch-size instead"),
])
def test_preset_error_names_the_options_the_model_takes(model, others, capsys):
    """DeepConvNet's weights are He-initialised: its message does not offer
    --weight-init-std, which it refuses."""
    with pytest.raises(SystemExit):
        main(["train", "--model", model, "--preset", "book"])
    assert others in capsys.readouterr().err


def test_optimizer_help_names_deepconvnets_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "adam for convnet and deepconvnet" in " ".join(capsys.readouterr().out.split())


def test_convnet_that_does_not_fit_the_images_fails_clearly(capsys):
    assert main(["train", "--model", "convnet", "--filter-size", "4", "--iters", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "zk-layers train: error: conv_param does not fit input_dim" in err and "must be even" in err
