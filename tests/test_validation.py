"""Bad input for every public entry point, on both implementations.

Every case is one row of ``CASES``: a call that must raise, the exception
type, and a fragment of the message that names the offending argument (the
messages come from ``zk_layers/_validate.py`` and ``zk_layers/reference.py``).
Each row runs on the fast layers and on the NumPy reference, and a second
test checks that the two raise the same type with the same message.  A few
of the nastiest rows also run in a child process, so that a crash in a
compiled kernel fails the test instead of killing the test run.
"""
from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import run_python

import zk_layers as zk

IMPLS = [pytest.param(zk, id="fast"), pytest.param(zk.reference, id="reference")]


# ---------------------------------------------------------------------------
# Inputs shared by the cases (fresh arrays on every call)
# ---------------------------------------------------------------------------

def _x() -> np.ndarray:
    """A (2, 3) batch with positive, negative and zero entries."""
    return np.array([[1.0, -2.0, 3.0], [-0.5, 0.0, 2.0]])


def _W() -> np.ndarray:
    return np.arange(12.0).reshape(3, 4) / 10


def _b() -> np.ndarray:
    return np.array([0.1, -0.2, 0.3, -0.4])


def _structured() -> np.ndarray:
    return np.zeros((2, 3), dtype=[("a", "f8"), ("b", "i4")])


def _bad_x_values() -> list[tuple[str, Any, str]]:
    """(id, value, message fragment) for x arguments that are not real arrays."""
    return [
        ("list-of-str", [["a", "b", "c"], ["d", "e", "f"]], r"^x must hold real numbers .* got strings"),
        ("object-array", np.array([[1, "a", None], [2, 3, 4]], dtype=object), r"^x must hold real numbers .* got Python objects"),
        ("complex", np.ones((2, 3), dtype=complex), r"^x must hold real numbers .* got complex numbers"),
        ("bool", np.ones((2, 3), dtype=bool), r"^x must hold real numbers .* got booleans"),
        ("structured", _structured(), r"^x must hold real numbers .* got a structured/void dtype"),
        ("None", None, r"^x must hold real numbers .* got Python objects"),
        ("ragged-list", [[1.0, 2.0, 3.0], [1.0]], r"^x must be a real-valued array, got list"),
    ]


def _forwarded(impl: Any, name: str) -> Any:
    """A layer of class ``name`` after one successful forward on ``_x()``."""
    layer = getattr(impl, name)
    if name in ("Relu", "Sigmoid"):
        obj = layer()
        obj.forward(_x())
    elif name == "Affine":
        obj = layer(_W(), _b())
        obj.forward(_x())
    elif name == "SoftmaxWithLoss":
        obj = layer()
        obj.forward(_x(), np.array([0, 2]))
    else:  # MulLayer, AddLayer
        obj = layer()
        obj.forward(_x(), 2.0)
    return obj


def _backward(name: str, dout: Any) -> Callable[[Any], Any]:
    return lambda impl: _forwarded(impl, name).backward(dout)


def _softmax(x: Any, t: Any, **kw: Any) -> Callable[[Any], Any]:
    return lambda impl: impl.SoftmaxWithLoss(**kw).forward(x, t)


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[Any], Any]
    exc: type[BaseException]
    match: str


FNC = zk.ForwardNotCalledError

CASES: list[Case] = []

# Relu, Sigmoid, Affine.forward, SoftmaxWithLoss.forward: x that is not a real array.
for _cid, _val, _msg in _bad_x_values():
    CASES += [
        Case(f"Relu.forward-x-{_cid}", lambda impl, v=_val: impl.Relu().forward(v), TypeError, _msg),
        Case(f"Sigmoid.forward-x-{_cid}", lambda impl, v=_val: impl.Sigmoid().forward(v), TypeError, _msg),
        Case(f"Affine.forward-x-{_cid}", lambda impl, v=_val: impl.Affine(_W(), _b()).forward(v), TypeError, _msg),
        Case(f"SoftmaxWithLoss.forward-x-{_cid}", lambda impl, v=_val: impl.SoftmaxWithLoss().forward(v, np.array([0, 1])), TypeError, _msg),
    ]

CASES += [
    # --- Relu / Sigmoid backward ---------------------------------------------
    Case("Relu.backward-before-forward", lambda impl: impl.Relu().backward(_x()), FNC, r"^Relu\.backward\(\) called before forward\(\)"),
    Case("Sigmoid.backward-before-forward", lambda impl: impl.Sigmoid().backward(_x()), FNC, r"^Sigmoid\.backward\(\) called before forward\(\)"),
    Case("Relu.backward-dout-transposed", _backward("Relu", np.ones((3, 2))), ValueError, r"^dout must have shape \(2, 3\) \(the shape of the forward input\), got shape \(3, 2\)"),
    Case("Relu.backward-dout-broadcastable", _backward("Relu", np.ones((1, 3))), ValueError, r"^dout must have shape \(2, 3\).*got shape \(1, 3\)"),
    Case("Relu.backward-dout-flat", _backward("Relu", np.ones(6)), ValueError, r"^dout must have shape \(2, 3\).*got shape \(6,\)"),
    Case("Relu.backward-dout-scalar", _backward("Relu", 1.0), ValueError, r"^dout must have shape \(2, 3\).*got shape \(\)"),
    Case("Relu.backward-dout-str", _backward("Relu", [["a"] * 3] * 2), TypeError, r"^dout must hold real numbers .* got strings"),
    Case("Relu.backward-dout-complex", _backward("Relu", np.ones((2, 3), complex)), TypeError, r"^dout must hold real numbers .* got complex numbers"),
    Case("Sigmoid.backward-dout-transposed", _backward("Sigmoid", np.ones((3, 2))), ValueError, r"^dout must have shape \(2, 3\) \(the shape of the forward input\), got shape \(3, 2\)"),
    Case("Sigmoid.backward-dout-broadcastable", _backward("Sigmoid", np.ones((2, 1))), ValueError, r"^dout must have shape \(2, 3\).*got shape \(2, 1\)"),
    Case("Sigmoid.backward-dout-bool", _backward("Sigmoid", np.ones((2, 3), bool)), TypeError, r"^dout must hold real numbers .* got booleans"),
    Case("Sigmoid.backward-dout-None", _backward("Sigmoid", None), TypeError, r"^dout must hold real numbers .* got Python objects"),

    # --- Affine: parameters --------------------------------------------------
    Case("Affine-W-list", lambda impl: impl.Affine(_W().tolist(), _b()), TypeError, r"^W must be a NumPy array \(the layer keeps it without copying.*got list"),
    Case("Affine-b-list", lambda impl: impl.Affine(_W(), _b().tolist()), TypeError, r"^b must be a NumPy array \(the layer keeps it without copying.*got list"),
    Case("Affine-W-None", lambda impl: impl.Affine(None, _b()), TypeError, r"^W must be a NumPy array .*got NoneType"),
    Case("Affine-W-int", lambda impl: impl.Affine(np.ones((3, 4), dtype=np.int64), _b()), TypeError, r"^W must have dtype float32 or float64, got int64"),
    Case("Affine-b-int", lambda impl: impl.Affine(_W(), np.ones(4, dtype=np.int32)), TypeError, r"^b must have dtype float32 or float64, got int32"),
    Case("Affine-W-bool", lambda impl: impl.Affine(np.ones((3, 4), dtype=bool), _b()), TypeError, r"^W must have dtype float32 or float64, got bool"),
    Case("Affine-W-complex", lambda impl: impl.Affine(np.ones((3, 4), dtype=complex), _b()), TypeError, r"^W must have dtype float32 or float64, got complex128"),
    Case("Affine-W-float16", lambda impl: impl.Affine(np.ones((3, 4), dtype=np.float16), _b()), TypeError, r"^W must have dtype float32 or float64, got float16"),
    Case("Affine-W-1d", lambda impl: impl.Affine(np.ones(3), _b()), ValueError, r"^W must be 2-D, got an array of 1 dimension\(s\) with shape \(3,\)"),
    Case("Affine-b-2d", lambda impl: impl.Affine(_W(), np.ones((1, 4))), ValueError, r"^b must be 1-D, got an array of 2 dimension\(s\) with shape \(1, 4\)"),
    Case("Affine-b-shape-mismatch", lambda impl: impl.Affine(_W(), np.ones(5)).forward(_x()), ValueError, r"^b must have shape \(4,\) to match W of shape \(3, 4\), got shape \(5,\)"),
    Case("Affine-b-reassigned-mismatch", lambda impl: _reassign_b(impl), ValueError, r"^b must have shape \(4,\) to match W of shape \(3, 4\), got shape \(2,\)"),
    # --- Affine.forward ------------------------------------------------------
    Case("Affine.forward-x-1d", lambda impl: impl.Affine(_W(), _b()).forward(np.ones(3)), ValueError, r"^x must be a batch of shape \(N, \.\.\.\) with at least 2 dimensions, got shape \(3,\)"),
    Case("Affine.forward-x-0d", lambda impl: impl.Affine(_W(), _b()).forward(np.float64(1.0)), ValueError, r"^x must be a batch of shape \(N, \.\.\.\).*got shape \(\)"),
    Case("Affine.forward-inner-mismatch", lambda impl: impl.Affine(_W(), _b()).forward(np.ones((2, 5))), ValueError, r"^x has 5 features per sample but W has shape \(3, 4\)"),
    Case("Affine.forward-inner-mismatch-4d", lambda impl: impl.Affine(_W(), _b()).forward(np.ones((2, 2, 2, 1))), ValueError, r"^x has 4 features per sample but W has shape \(3, 4\)"),
    Case("Affine.forward-x-transposed", lambda impl: impl.Affine(_W(), _b()).forward(np.ones((3, 2))), ValueError, r"^x has 2 features per sample but W has shape \(3, 4\)"),
    # --- Affine.backward -----------------------------------------------------
    Case("Affine.backward-before-forward", lambda impl: impl.Affine(_W(), _b()).backward(np.ones((2, 4))), FNC, r"^Affine\.backward\(\) called before forward\(\)"),
    Case("Affine.backward-dout-transposed", _backward("Affine", np.ones((4, 2))), ValueError, r"^dout must have shape \(2, 4\) \(the shape of the forward output\), got shape \(4, 2\)"),
    Case("Affine.backward-dout-broadcastable", _backward("Affine", np.ones((1, 4))), ValueError, r"^dout must have shape \(2, 4\).*got shape \(1, 4\)"),
    Case("Affine.backward-dout-input-shape", _backward("Affine", np.ones((2, 3))), ValueError, r"^dout must have shape \(2, 4\).*got shape \(2, 3\)"),
    Case("Affine.backward-dout-1d", _backward("Affine", np.ones(4)), ValueError, r"^dout must have shape \(2, 4\).*got shape \(4,\)"),
    Case("Affine.backward-dout-complex", _backward("Affine", np.ones((2, 4), complex)), TypeError, r"^dout must hold real numbers .* got complex numbers"),
    Case("Affine.backward-dout-str", _backward("Affine", [["1"] * 4] * 2), TypeError, r"^dout must hold real numbers .* got strings"),

    # --- SoftmaxWithLoss: x ---------------------------------------------------
    Case("SoftmaxWithLoss.forward-x-3d", _softmax(np.ones((2, 3, 1)), np.array([0, 1])), ValueError, r"^x must be scores of shape \(N, C\), or \(C,\) for one sample, got an array of 3 dimension\(s\)"),
    Case("SoftmaxWithLoss.forward-x-0d", _softmax(np.float64(1.0), 0), ValueError, r"^x must be scores of shape \(N, C\).*0 dimension\(s\)"),
    Case("SoftmaxWithLoss.forward-empty-batch", _softmax(np.ones((0, 3)), np.zeros(0, dtype=int)), ValueError, r"^x is an empty batch \(N = 0\)"),
    Case("SoftmaxWithLoss.forward-empty-batch-onehot", _softmax(np.ones((0, 3)), np.zeros((0, 3))), ValueError, r"^x is an empty batch \(N = 0\)"),
    Case("SoftmaxWithLoss.forward-zero-classes", _softmax(np.ones((2, 0)), np.array([0, 0])), ValueError, r"^x must have at least one class column, got shape \(2, 0\)"),
    Case("SoftmaxWithLoss.forward-zero-classes-1d", _softmax(np.ones(0), 0), ValueError, r"^x must have at least one class column, got shape \(0,\)"),
    # --- SoftmaxWithLoss: index labels ---------------------------------------
    Case("SoftmaxWithLoss.forward-label-equals-C", _softmax(_x(), np.array([0, 3])), ValueError, r"^label t\[1\] = 3 is out of range: class indices must satisfy 0 <= t < 3"),
    Case("SoftmaxWithLoss.forward-label-negative", _softmax(_x(), np.array([-1, 0])), ValueError, r"^label t\[0\] = -1 is out of range"),
    Case("SoftmaxWithLoss.forward-label-int8-negative", _softmax(_x(), np.array([0, -128], np.int8)), ValueError, r"^label t\[1\] = -128 is out of range"),
    Case("SoftmaxWithLoss.forward-label-huge-int64", _softmax(_x(), np.array([0, 2**62], np.int64)), ValueError, r"^label t\[1\] = 4611686018427387904 is out of range"),
    Case("SoftmaxWithLoss.forward-label-uint64-above-2**63", _softmax(_x(), np.array([2**63 + 1, 0], np.uint64)), ValueError, r"^label t\[0\] = 9223372036854775809 is out of range"),
    Case("SoftmaxWithLoss.forward-label-uint64-max", _softmax(_x(), np.array([0, 2**64 - 1], np.uint64)), ValueError, r"^label t\[1\] = 18446744073709551615 is out of range"),
    Case("SoftmaxWithLoss.forward-label-uint32-max", _softmax(_x(), np.array([0, 2**32 - 1], np.uint32)), ValueError, r"^label t\[1\] = 4294967295 is out of range"),
    Case("SoftmaxWithLoss.forward-label-python-int-too-big", _softmax(_x(), [0, 2**70]), TypeError, r"^class indices t must have an integer dtype, got object"),
    Case("SoftmaxWithLoss.forward-label-single-sample-out-of-range", _softmax(np.ones(3), 3), ValueError, r"^label t\[0\] = 3 is out of range"),
    Case("SoftmaxWithLoss.forward-label-float", _softmax(_x(), np.array([0.0, 1.0])), TypeError, r"^class indices t must have an integer dtype, got float64 \(convert with t\.astype\(int\)"),
    Case("SoftmaxWithLoss.forward-label-bool", _softmax(_x(), np.array([True, False])), TypeError, r"^class indices t must have an integer dtype, got bool"),
    Case("SoftmaxWithLoss.forward-label-str", _softmax(_x(), ["0", "1"]), TypeError, r"^class indices t must have an integer dtype, got <U1"),
    Case("SoftmaxWithLoss.forward-label-None", _softmax(_x(), None), ValueError, r"^t must be class indices of shape \(2,\) or one-hot of shape \(2, 3\), got shape \(\)"),
    Case("SoftmaxWithLoss.forward-label-too-long", _softmax(_x(), np.array([0, 1, 2])), ValueError, r"^t must have one label per sample: expected 2, got 3"),
    Case("SoftmaxWithLoss.forward-label-too-short", _softmax(_x(), np.array([0])), ValueError, r"^t must have one label per sample: expected 2, got 1"),
    Case("SoftmaxWithLoss.forward-label-3d", _softmax(_x(), np.zeros((2, 3, 1), int)), ValueError, r"^t must be class indices of shape \(2,\) or one-hot of shape \(2, 3\), got shape \(2, 3, 1\)"),
    # --- SoftmaxWithLoss: one-hot labels -------------------------------------
    Case("SoftmaxWithLoss.forward-onehot-too-narrow", _softmax(_x(), np.eye(2)), ValueError, r"^one-hot t must have shape \(2, 3\) \(one row of 3 classes per sample of x\), got shape \(2, 2\)"),
    Case("SoftmaxWithLoss.forward-onehot-too-wide", _softmax(_x(), np.eye(4)[:2]), ValueError, r"^one-hot t must have shape \(2, 3\).*got shape \(2, 4\)"),
    Case("SoftmaxWithLoss.forward-onehot-wrong-rows", _softmax(_x(), np.eye(3)), ValueError, r"^one-hot t must have shape \(2, 3\).*got shape \(3, 3\)"),
    Case("SoftmaxWithLoss.forward-onehot-all-zeros", _softmax(_x(), np.array([[1.0, 0, 0], [0, 0, 0]])), ValueError, r"^one-hot t must have exactly one 1 and zeros elsewhere in every row; row 1 is \[0\.0, 0\.0, 0\.0\]"),
    Case("SoftmaxWithLoss.forward-onehot-two-ones", _softmax(_x(), np.array([[1, 1, 0], [0, 1, 0]])), ValueError, r"^one-hot t must have exactly one 1.*row 0 is \[1, 1, 0\]"),
    Case("SoftmaxWithLoss.forward-onehot-halves", _softmax(_x(), np.array([[0.5, 0.5, 0], [0, 1, 0]])), ValueError, r"^one-hot t must have exactly one 1.*row 0 is \[0\.5, 0\.5, 0\.0\]"),
    Case("SoftmaxWithLoss.forward-onehot-two", _softmax(_x(), np.array([[0, 2, 0], [0, 1, 0]])), ValueError, r"^one-hot t must have exactly one 1.*row 0 is \[0, 2, 0\]"),
    Case("SoftmaxWithLoss.forward-onehot-nan", _softmax(_x(), np.array([[1, 0, 0], [0, 1, np.nan]])), ValueError, r"^one-hot t must have exactly one 1.*row 1 is \[0\.0, 1\.0, nan\]"),
    Case("SoftmaxWithLoss.forward-onehot-single-sample-bad", _softmax(np.ones(3), np.array([0, 0, 0])), ValueError, r"^one-hot t must have exactly one 1.*row 0 is \[0, 0, 0\]"),
    Case("SoftmaxWithLoss.forward-onehot-str", _softmax(_x(), np.array([["1", "0", "0"], ["0", "1", "0"]])), TypeError, r"^one-hot t must be numeric, got dtype <U1"),
    Case("SoftmaxWithLoss.forward-onehot-complex", _softmax(_x(), np.eye(3, dtype=complex)[:2]), TypeError, r"^one-hot t must be numeric, got dtype complex128"),
    # --- SoftmaxWithLoss: eps --------------------------------------------------
    Case("SoftmaxWithLoss-eps-negative", lambda impl: impl.SoftmaxWithLoss(eps=-1e-7), ValueError, r"^eps must be finite and >= 0, got -1e-07"),
    Case("SoftmaxWithLoss-eps-nan", lambda impl: impl.SoftmaxWithLoss(eps=float("nan")), ValueError, r"^eps must be finite and >= 0, got nan"),
    Case("SoftmaxWithLoss-eps-inf", lambda impl: impl.SoftmaxWithLoss(eps=np.inf), ValueError, r"^eps must be finite and >= 0, got inf"),
    Case("SoftmaxWithLoss-eps-str", lambda impl: impl.SoftmaxWithLoss(eps="1e-7"), TypeError, r"^eps must be a real number, got str"),
    Case("SoftmaxWithLoss-eps-None", lambda impl: impl.SoftmaxWithLoss(eps=None), TypeError, r"^eps must be a real number, got NoneType"),
    Case("SoftmaxWithLoss-eps-bool", lambda impl: impl.SoftmaxWithLoss(eps=True), TypeError, r"^eps must be a real number, got bool"),
    Case("SoftmaxWithLoss-eps-array", lambda impl: impl.SoftmaxWithLoss(eps=np.array([1e-7])), TypeError, r"^eps must be a real number, got ndarray"),
    # --- SoftmaxWithLoss.backward ----------------------------------------------
    Case("SoftmaxWithLoss.backward-before-forward", lambda impl: impl.SoftmaxWithLoss().backward(), FNC, r"^SoftmaxWithLoss\.backward\(\) called before forward\(\)"),
    Case("SoftmaxWithLoss.backward-dout-1-element", _backward("SoftmaxWithLoss", np.ones(1)), ValueError, r"^dout must be a scalar \(the loss is a scalar\), got shape \(1,\)"),
    Case("SoftmaxWithLoss.backward-dout-like-x", _backward("SoftmaxWithLoss", np.ones((2, 3))), ValueError, r"^dout must be a scalar.*got shape \(2, 3\)"),
    Case("SoftmaxWithLoss.backward-dout-list", _backward("SoftmaxWithLoss", [1.0, 1.0]), ValueError, r"^dout must be a scalar.*got shape \(2,\)"),
    Case("SoftmaxWithLoss.backward-dout-str", _backward("SoftmaxWithLoss", "1"), TypeError, r"^dout must be a real number, got str '1'"),
    Case("SoftmaxWithLoss.backward-dout-None", _backward("SoftmaxWithLoss", None), TypeError, r"^dout must be a real number, got NoneType None"),
    Case("SoftmaxWithLoss.backward-dout-complex", _backward("SoftmaxWithLoss", 1j), TypeError, r"^dout must be a real number, got complex 1j"),
    Case("SoftmaxWithLoss.backward-dout-bool", _backward("SoftmaxWithLoss", True), TypeError, r"^dout must be a real number, got bool True"),
]

# --- MulLayer / AddLayer ------------------------------------------------------
for _name in ("MulLayer", "AddLayer"):
    CASES += [
        Case(f"{_name}.forward-x-str", lambda impl, n=_name: getattr(impl, n)().forward("apple", 2), TypeError, r"^x must be a real number or array, got str 'apple'"),
        Case(f"{_name}.forward-y-str", lambda impl, n=_name: getattr(impl, n)().forward(100, "2"), TypeError, r"^y must be a real number or array, got str '2'"),
        Case(f"{_name}.forward-x-list-of-str", lambda impl, n=_name: getattr(impl, n)().forward(["a", "b"], 2), TypeError, r"^x must be a real number or array, got list \['a', 'b'\]"),
        Case(f"{_name}.forward-x-complex", lambda impl, n=_name: getattr(impl, n)().forward(1 + 2j, 2), TypeError, r"^x must be a real number or array, got complex \(1\+2j\)"),
        Case(f"{_name}.forward-y-complex-array", lambda impl, n=_name: getattr(impl, n)().forward(1.0, np.ones(2, complex)), TypeError, r"^y must be a real number or array, got array of dtype complex128 and shape \(2,\)"),
        Case(f"{_name}.forward-x-bool", lambda impl, n=_name: getattr(impl, n)().forward(True, 2), TypeError, r"^x must be a real number or array, got bool True"),
        Case(f"{_name}.forward-x-None", lambda impl, n=_name: getattr(impl, n)().forward(None, 2), TypeError, r"^x must be a real number or array, got NoneType None"),
        Case(f"{_name}.forward-x-object-array", lambda impl, n=_name: getattr(impl, n)().forward(np.array([1, 2], dtype=object), 2), TypeError, r"^x must be a real number or array, got array of dtype object"),
        Case(f"{_name}.backward-before-forward", lambda impl, n=_name: getattr(impl, n)().backward(1.0), FNC, rf"^{_name}\.backward\(\) called before forward\(\)"),
        Case(f"{_name}.backward-dout-shape", _backward(_name, np.ones((3, 2))), ValueError, r"^dout must have the shape of the forward output \(2, 3\), got shape \(3, 2\)"),
        Case(f"{_name}.backward-dout-scalar-for-array", _backward(_name, 1.0), ValueError, r"^dout must have the shape of the forward output \(2, 3\), got shape \(\)"),
        Case(f"{_name}.backward-dout-str", _backward(_name, "1"), TypeError, r"^dout must be a real number or array, got str '1'"),
        Case(f"{_name}.backward-dout-complex", _backward(_name, np.ones((2, 3), complex)), TypeError, r"^dout must be a real number or array, got array of dtype complex128"),
    ]


def _reassign_b(impl: Any) -> Any:
    """Affine whose b attribute is replaced by one of the wrong shape after construction."""
    layer = impl.Affine(_W(), _b())
    layer.b = np.ones(2)
    return layer.forward(_x())


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def test_case_ids_are_unique() -> None:
    """Every row of the table has its own id (no row silently shadows another)."""
    assert len(set(_ids(CASES))) == len(CASES)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_bad_input_raises(case: Case, impl: Any) -> None:
    """The call raises the documented type with a message naming the argument."""
    with pytest.raises(case.exc, match=case.match) as info:
        case.call(impl)
    # pytest.raises accepts subclasses: pin the exact class too, except that a
    # ForwardNotCalledError is what a "ValueError" row would also accept.
    assert type(info.value) is case.exc


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_both_implementations_raise_the_same(case: Case) -> None:
    """Fast layers and reference: same exception type and identical message."""
    raised = []
    for impl in (zk, zk.reference):
        try:
            case.call(impl)
        except Exception as exc:  # noqa: BLE001 - the comparison is the test
            raised.append((type(exc), str(exc)))
        else:
            pytest.fail(f"{impl.__name__}: {case.id} did not raise")
    assert raised[0] == raised[1]


def test_forward_not_called_error_is_both_runtime_and_value_error() -> None:
    """Code catching either RuntimeError or ValueError also catches backward-before-forward."""
    assert issubclass(zk.ForwardNotCalledError, RuntimeError)
    assert issubclass(zk.ForwardNotCalledError, ValueError)
    for impl in (zk, zk.reference):
        with pytest.raises(RuntimeError):
            impl.Relu().backward(np.ones(2))
        with pytest.raises(ValueError):
            impl.Affine(_W(), _b()).backward(np.ones((2, 4)))


# ---------------------------------------------------------------------------
# numerical_gradient (one function, shared by both implementations)
# ---------------------------------------------------------------------------

def _square_sum(x: np.ndarray) -> float:
    return float(np.sum(x ** 2))


def _read_only() -> np.ndarray:
    x = np.ones(3)
    x.flags.writeable = False
    return x


NUMERICAL_GRADIENT_CASES = [
    ("int-array", lambda: zk.numerical_gradient(_square_sum, np.arange(3)), TypeError, r"^x must have a floating dtype, float32 or float64 \(a step of h=0\.0001 is lost to rounding in other dtypes\), got int64"),
    ("bool-array", lambda: zk.numerical_gradient(_square_sum, np.ones(3, bool)), TypeError, r"^x must have a floating dtype.*got bool"),
    ("complex-array", lambda: zk.numerical_gradient(_square_sum, np.ones(3, complex)), TypeError, r"^x must have a floating dtype.*got complex128"),
    ("list", lambda: zk.numerical_gradient(_square_sum, [1.0, 2.0]), TypeError, r"^x must be a NumPy array \(it is perturbed in place\), got list"),
    ("float", lambda: zk.numerical_gradient(_square_sum, 1.0), TypeError, r"^x must be a NumPy array .*got float"),
    ("None", lambda: zk.numerical_gradient(_square_sum, None), TypeError, r"^x must be a NumPy array .*got NoneType"),
    ("read-only", lambda: zk.numerical_gradient(_square_sum, _read_only()), ValueError, r"^x must be writeable: numerical_gradient perturbs it in place"),
    ("h-zero", lambda: zk.numerical_gradient(_square_sum, np.ones(3), 0.0), ValueError, r"^h must be positive and finite, got 0\.0"),
    ("h-negative", lambda: zk.numerical_gradient(_square_sum, np.ones(3), -1e-4), ValueError, r"^h must be positive and finite, got -0\.0001"),
    ("h-nan", lambda: zk.numerical_gradient(_square_sum, np.ones(3), float("nan")), ValueError, r"^h must be positive and finite, got nan"),
    ("h-inf", lambda: zk.numerical_gradient(_square_sum, np.ones(3), float("inf")), ValueError, r"^h must be positive and finite, got inf"),
]


@pytest.mark.parametrize(
    "call, exc, match",
    [c[1:] for c in NUMERICAL_GRADIENT_CASES],
    ids=[c[0] for c in NUMERICAL_GRADIENT_CASES],
)
def test_numerical_gradient_bad_input(call: Callable[[], Any], exc: type, match: str) -> None:
    """numerical_gradient rejects points it cannot perturb, naming x or h."""
    with pytest.raises(exc, match=match) as info:
        call()
    assert type(info.value) is exc


# ---------------------------------------------------------------------------
# Nothing is modified when a call raises
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "t",
    [np.array([0, 3]), np.array([-1, 1]), np.array([2**63 + 1, 0], np.uint64),
     np.array([[1.0, 0, 0], [0, 0, 0]]), np.array([0.0, 1.0])],
    ids=["label-C", "negative", "uint64-huge", "onehot-zero-row", "float"],
)
def test_softmax_with_loss_bad_labels_modify_nothing(impl: Any, t: np.ndarray) -> None:
    """A rejected forward leaves x, t and the layer's stored state untouched."""
    layer = impl.SoftmaxWithLoss()
    x, t_before = _x(), t.copy()
    with pytest.raises((ValueError, TypeError)):
        layer.forward(x, t)
    np.testing.assert_array_equal(x, _x())
    np.testing.assert_array_equal(t, t_before)
    assert t.dtype == t_before.dtype
    assert layer.y is None and layer.t is None and layer.loss is None
    with pytest.raises(zk.ForwardNotCalledError):
        layer.backward()


@pytest.mark.parametrize("impl", IMPLS)
def test_affine_bad_shapes_modify_nothing(impl: Any) -> None:
    """Rejected Affine calls leave x, W, b and dout as they were."""
    W, b = _W(), _b()
    layer = impl.Affine(W, b)
    x = np.ones((2, 5))
    with pytest.raises(ValueError):
        layer.forward(x)
    np.testing.assert_array_equal(x, np.ones((2, 5)))
    np.testing.assert_array_equal(W, _W())
    np.testing.assert_array_equal(b, _b())
    assert layer.W is W and layer.b is b
    assert layer.x is None and layer.dW is None and layer.db is None
    layer.forward(_x())
    dout = np.ones((4, 2))
    with pytest.raises(ValueError):
        layer.backward(dout)
    np.testing.assert_array_equal(dout, np.ones((4, 2)))
    assert layer.dW is None and layer.db is None
    np.testing.assert_array_equal(W, _W())


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ["Relu", "Sigmoid"])
def test_activation_bad_dout_modifies_nothing(impl: Any, name: str) -> None:
    """A rejected backward leaves dout and the stored forward state untouched."""
    layer = getattr(impl, name)()
    layer.forward(_x())
    state = "mask" if name == "Relu" else "out"
    before = getattr(layer, state).copy()
    dout = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="^dout must have shape"):
        layer.backward(dout)
    np.testing.assert_array_equal(dout, np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(getattr(layer, state), before)
    # The layer still differentiates the forward it remembers.
    np.testing.assert_allclose(layer.backward(np.ones((2, 3))), _forwarded(impl, name).backward(np.ones((2, 3))))


def test_numerical_gradient_restores_x_when_f_raises() -> None:
    """x is restored exactly even when f raises midway (the docstring's promise)."""
    x = np.array([0.1, 0.2, 0.3])
    calls = []

    def f(v: np.ndarray) -> float:
        calls.append(v.copy())
        if len(calls) == 4:  # the second element, on its way up
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        zk.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [0.1, 0.2, 0.3])
    assert calls[3][1] != 0.2  # f really saw a perturbed x


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 1)])
def test_affine_empty_batch(impl: Any, shape: tuple[int, ...]) -> None:
    """An empty batch gives an empty (0, M) output, dx of x's shape and zero dW, db
    (x.reshape(N, -1) cannot do N = 0; the layers must not use it)."""
    layer = impl.Affine(_W(), _b())
    out = layer.forward(np.ones(shape))
    assert out.shape == (0, 4)
    dx = layer.backward(np.ones((0, 4)))
    assert dx.shape == shape
    np.testing.assert_array_equal(layer.dW, np.zeros((3, 4)))
    np.testing.assert_array_equal(layer.db, np.zeros(4))


# ---------------------------------------------------------------------------
# Bugs found while writing this file, fixed since: kept as regression tests
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_affine_rejects_mismatched_b_at_construction(impl: Any) -> None:
    """Affine(W of (3, 4), b of (5,)) raises at once, in both implementations."""
    with pytest.raises(ValueError, match=r"^b must have shape \(4,\) to match W"):
        impl.Affine(_W(), np.ones(5))


@pytest.mark.parametrize("impl", IMPLS)
def test_softmax_with_loss_ragged_labels_name_t(impl: Any) -> None:
    """Ragged one-hot labels are rejected with a message that names t."""
    with pytest.raises((TypeError, ValueError), match=r"\bt must"):
        impl.SoftmaxWithLoss().forward(_x(), [[1, 0, 0], [0, 1]])


@pytest.mark.parametrize("name", ["MulLayer", "AddLayer"])
@pytest.mark.parametrize("impl", IMPLS)
def test_mul_add_backward_after_rejected_first_forward(impl: Any, name: str) -> None:
    """A layer whose only forward was rejected has not run forward: backward says so."""
    layer = getattr(impl, name)()
    with pytest.raises(TypeError, match="^y must be"):
        layer.forward(2.0, "apple")
    with pytest.raises(zk.ForwardNotCalledError):
        layer.backward(1.0)


def test_numerical_gradient_rejects_float16() -> None:
    """A float16 point, where the step h is lost to rounding, is rejected like an int one."""
    with pytest.raises(TypeError, match=r"^x must have a floating dtype"):
        zk.numerical_gradient(_square_sum, np.ones(3, np.float16))


def test_numerical_gradient_empty_array() -> None:
    """The gradient with respect to an empty parameter is an empty array."""
    grad = zk.numerical_gradient(_square_sum, np.ones((0, 3)))
    assert grad.shape == (0, 3)


@pytest.mark.parametrize("h", ["1e-4", None])
def test_numerical_gradient_non_numeric_h_names_h(h: Any) -> None:
    """A non-numeric step is a TypeError that names h."""
    with pytest.raises(TypeError, match=r"^h must"):
        zk.numerical_gradient(_square_sum, np.ones(3), h)


# ---------------------------------------------------------------------------
# The nastiest cases in a child process: a crash is a failure, not a lost run
# ---------------------------------------------------------------------------

SUBPROCESS_CASES = [
    ("label-equals-C-big-batch", """
        x = np.random.default_rng(0).standard_normal((50_000, 10))
        t = np.zeros(50_000, dtype=np.int64); t[-1] = 10
        zk.SoftmaxWithLoss().forward(x, t)
     """, "ValueError"),
    ("label-huge-int64", """
        zk.SoftmaxWithLoss().forward(np.ones((4, 3)), np.array([0, 1, 2**62, 2]))
     """, "ValueError"),
    ("label-uint64-above-2**63", """
        zk.SoftmaxWithLoss().forward(np.ones((4, 3)), np.array([0, 1, 2**63 + 7, 2], np.uint64))
     """, "ValueError"),
    ("label-negative-float32", """
        zk.SoftmaxWithLoss().forward(np.ones((4, 3), np.float32), np.array([0, -2**40, 1, 2]))
     """, "ValueError"),
    ("onehot-all-zeros-row", """
        t = np.eye(3)[[0, 1, 2, 0]]; t[3] = 0
        zk.SoftmaxWithLoss().forward(np.ones((4, 3)), t)
     """, "ValueError"),
    ("affine-inner-mismatch", """
        zk.Affine(np.ones((1000, 8)), np.ones(8)).forward(np.ones((4, 3)))
     """, "ValueError"),
    ("affine-b-too-short", """
        layer = zk.Affine(np.ones((3, 1000)), np.ones(1000))
        layer.b = np.ones(2)
        layer.forward(np.ones((4, 3)))
     """, "ValueError"),
    ("affine-backward-dout-too-small", """
        layer = zk.Affine(np.ones((3, 1000)), np.ones(1000))
        layer.forward(np.ones((400, 3)))
        layer.backward(np.ones((1, 1000)))
     """, "ValueError"),
    ("relu-backward-dout-too-small", """
        relu = zk.Relu(); relu.forward(np.ones((1000, 1000)))
        relu.backward(np.ones((10, 10)))
     """, "ValueError"),
    ("sigmoid-backward-dout-too-small", """
        sig = zk.Sigmoid(); sig.forward(np.ones((1000, 1000), np.float32))
        sig.backward(np.ones(3, np.float32))
     """, "ValueError"),
    ("softmax-backward-before-forward", """
        zk.SoftmaxWithLoss().backward()
     """, "ForwardNotCalledError"),
]


@pytest.mark.parametrize(
    "body, expected", [c[1:] for c in SUBPROCESS_CASES], ids=[c[0] for c in SUBPROCESS_CASES]
)
def test_nasty_cases_do_not_crash_the_process(body: str, expected: str) -> None:
    """In a fresh interpreter the call raises the expected Python exception; the
    process exits normally (return code 0, so no segfault or abort) and the
    layers still compute correctly afterwards."""
    code = "\n".join([
        "import numpy as np, zk_layers as zk",
        "try:",
        textwrap.indent(textwrap.dedent(body).strip(), "    "),
        "except Exception as exc:",
        "    print('RAISED', type(exc).__name__, flush=True)",
        "else:",
        "    print('NO EXCEPTION', flush=True)",
        "loss = zk.SoftmaxWithLoss().forward(np.zeros((2, 4)), np.array([1, 3]))",
        "print('AFTER', repr(loss), flush=True)",
    ])
    proc = run_python(code, {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}, timeout=60)
    assert proc.returncode == 0, f"child died (rc={proc.returncode}): {proc.stderr[-2000:]}"
    lines = proc.stdout.splitlines()
    assert f"RAISED {expected}" in lines, proc.stdout + proc.stderr
    after = [line for line in lines if line.startswith("AFTER ")]
    assert len(after) == 1
    np.testing.assert_allclose(float(after[0].split()[1]), np.log(4), rtol=1e-6)
