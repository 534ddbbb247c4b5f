"""The reference and graph layers on the book's own numbers (chapter 5)."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk


@pytest.fixture(params=["fast", "reference"])
def layers_module(request):
    return zk if request.param == "fast" else zk.reference


def test_graph_layers_are_shared_by_both_packages():
    assert zk.MulLayer is zk.reference.MulLayer and zk.AddLayer is zk.reference.AddLayer


ORACLE = ("reference", "_reference_conv", "_reference_regularization", "_reference_embedding")
FAST = ("layers", "convolution", "regularization", "embedding", "optimizers", "nets", "convnet", "_kernels",
        "_threads")
NEUTRAL = ("_validate", "_base", "_graph")


def _package_imports(module: str) -> set[str]:
    """The zk_layers modules that zk_layers/<module>.py imports (relative imports)."""
    tree = ast.parse((Path(zk.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [alias.name for alias in node.names])
    return found


@pytest.mark.parametrize("module", ORACLE)
def test_the_oracle_imports_nothing_of_the_fast_side(module):
    assert _package_imports(module) <= set(ORACLE) | set(NEUTRAL), _package_imports(module)


@pytest.mark.parametrize("module", FAST + NEUTRAL)
def test_the_fast_side_imports_no_private_helper_of_the_oracle(module):
    assert not _package_imports(module) & set(ORACLE[1:])
    if module in NEUTRAL or module in ("layers", "convolution", "regularization"):
        assert "reference" not in _package_imports(module), _package_imports(module)


def test_the_import_check_sees_imports():
    """Negative control: the check reads the imports it must forbid."""
    assert {"_validate", "_base"} <= _package_imports("_reference_conv")
    assert "reference" in _package_imports("nets")  # backend="reference" builds oracle nets


def test_buy_apple(layers_module):
    """Section 5.4.1: 2 apples at 100 yen with 10% tax."""
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = layers_module.MulLayer(), layers_module.MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    assert price == pytest.approx(220)
    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert dapple == pytest.approx(2.2)
    assert dapple_num == pytest.approx(110)
    assert dtax == pytest.approx(200)


def test_buy_apple_orange(layers_module):
    """Section 5.4.2: 2 apples at 100 and 3 oranges at 150, 10% tax."""
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple_layer = layers_module.MulLayer()
    mul_orange_layer = layers_module.MulLayer()
    add_apple_orange_layer = layers_module.AddLayer()
    mul_tax_layer = layers_module.MulLayer()

    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)

    dprice = 1
    dall_price, dtax = mul_tax_layer.backward(dprice)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)

    assert price == pytest.approx(715)
    assert dapple_num == pytest.approx(110)
    assert dapple == pytest.approx(2.2)
    assert dorange == pytest.approx(3.3)
    assert dorange_num == pytest.approx(165)
    assert dtax == pytest.approx(650)
    assert isinstance(price, float) and isinstance(dtax, (int, float))


def test_mul_layer_broadcast_gradients_are_summed_to_operand_shape():
    layer = zk.MulLayer()
    prices = np.array([100.0, 150.0])
    out = layer.forward(prices, 1.1)  # one tax rate for every item
    assert_allclose(out, [110.0, 165.0])
    dprices, dtax = layer.backward(np.ones(2))
    assert_allclose(dprices, [1.1, 1.1])
    assert np.ndim(dtax) == 0 and dtax == pytest.approx(250.0)
    column = zk.AddLayer()
    column.forward(np.ones((3, 1)), np.ones((1, 4)))
    dx, dy = column.backward(np.ones((3, 4)))
    assert dx.shape == (3, 1) and dy.shape == (1, 4)
    assert_array_equal(dx, 4.0) and assert_array_equal(dy, 3.0)


def test_reference_relu_does_not_mutate_dout():
    """The book's Relu.backward writes into dout; ours does not."""
    relu = zk.reference.Relu()
    relu.forward(np.array([-1.0, 1.0]))
    dout = np.array([5.0, 5.0])
    assert_array_equal(relu.backward(dout), [0.0, 5.0])
    assert_array_equal(dout, [5.0, 5.0])


def test_reference_softmax_with_loss_applies_dout():
    layer = zk.reference.SoftmaxWithLoss()
    x = np.array([[0.0, 0.0]])
    layer.forward(x, np.array([0]))
    assert_allclose(layer.backward(), [[-0.5, 0.5]])
    assert_allclose(layer.backward(2.0), [[-1.0, 1.0]])


def test_reference_sigmoid_matches_the_book_formula_where_it_does_not_overflow():
    x = np.linspace(-30, 30, 101)
    assert_allclose(zk.reference.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=0, atol=0)
