"""The book's own scripts (chapters 5-8) through `zk-layers book run`, compared
with the book's own code under the same seed and step limit.

Runs when ZK_LAYERS_BOOK_DIR names a checkout of the book
(oreilly-japan/deep-learning-from-scratch, with MNIST in its dataset/);
skipped otherwise.  Long training loops are cut at the same step on both
sides (``--max-steps``); the slow scripts are marked slow.
"""
from __future__ import annotations

import os

import pytest

BOOK_DIR = os.environ.get("ZK_LAYERS_BOOK_DIR")
pytestmark = pytest.mark.skipif(
    not (BOOK_DIR and os.path.isdir(os.path.join(BOOK_DIR, "common"))),
    reason="set ZK_LAYERS_BOOK_DIR to a checkout of the book to run its scripts")

QUICK = ["ch05/buy_apple.py", "ch05/buy_apple_orange.py", "ch06/optimizer_compare_naive.py",
         "ch06/weight_init_activation_histogram.py"]
SLOW = ["ch05/gradient_check.py", "ch05/train_neuralnet.py", "ch06/batch_norm_gradient_check.py",
        "ch06/batch_norm_test.py", "ch06/hyperparameter_optimization.py", "ch06/optimizer_compare_mnist.py",
        "ch06/overfit_dropout.py", "ch06/overfit_weight_decay.py", "ch06/weight_init_compare.py"]
CONVOLUTION = ["ch07/apply_filter.py", "ch07/gradient_check.py", "ch07/train_convnet.py",
               "ch07/visualize_filter.py", "ch08/half_float_network.py", "ch08/misclassified_mnist.py",
               "ch08/train_deepnet.py"]


# These print no number (they draw figures): both sides must run, and the
# check must say "not compared" rather than count them as the same.
NO_NUMBERS = {"ch06/optimizer_compare_naive.py", "ch06/weight_init_activation_histogram.py",
              "ch07/apply_filter.py", "ch07/visualize_filter.py"}


def _check(script, max_steps=200):
    from conftest import PACKAGE_PARENT

    from zk_layers.book import _check

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, saved]))
    try:
        import io

        out = io.StringIO()
        (row,) = _check.check(BOOK_DIR, [script], seed=0, max_steps=max_steps, out=out)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    assert row["book_rc"] == 0 and row["zk_rc"] == 0, out.getvalue()
    if script in NO_NUMBERS:
        assert row["same"] is None and row["verdict"] == "not compared", out.getvalue()
    else:
        assert row["same"] is True, out.getvalue()


@pytest.mark.parametrize("script", QUICK)
def test_quick_scripts_print_the_books_numbers(script):
    _check(script)


@pytest.mark.slow
@pytest.mark.parametrize("script", SLOW)
def test_training_scripts_print_the_books_numbers(script):
    _check(script)


@pytest.mark.slow
@pytest.mark.parametrize("script", CONVOLUTION)
def test_convolution_scripts_print_the_books_numbers(script):
    try:
        import zk_layers.convolution  # noqa: F401
    except ImportError:
        pytest.skip("needs zk_layers.convolution (Convolution/Pooling), not in this installation")
    _check(script, max_steps=3)
