"""State changed between ``forward`` and ``backward``: never a crash, never a wrong answer.

Book code changes things between the two calls: it reuses label arrays and
buffers, and it assigns layer attributes.  The rule (docs/usage.md, "State between
forward and backward"):

* what the layer computed or copied at forward -- the class indices, Relu's
  mask, Sigmoid's saved output when ``out=`` was given -- belongs to the
  layer: changing the caller's arrays afterwards does not change backward;
* an attribute assigned since forward (``relu.mask = ...``, ``loss.t = ...``,
  ``affine.W = ...``) is read, as the book's backward reads it, and checked
  like an input: the book's answer or a clear TypeError/ValueError;
* ``Affine`` keeps the caller's ``x`` by reference, as the book does, so an
  in-place change reaches ``dW`` in both implementations alike.

Each case runs in a forked child, so a segfault is reported as a failure of
that case instead of killing the test run.  Every case runs on both
implementations; the expected values are the book's formulas in NumPy.
"""
from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import in_forked_child
from numpy.testing import assert_allclose

import zk_layers as zk
from zk_layers import reference
from zk_layers._validate import ForwardNotCalledError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork to isolate crashes")

IMPLEMENTATIONS = {"fast": zk, "reference": reference}


def _onehot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[labels]


RNG_SEED = 20261201


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    return {
        "x": rng.standard_normal((5, 4)),
        "scores": rng.standard_normal((5, 3)),
        "labels": np.array([0, 2, 1, 2, 0], dtype=np.intp),
        "W": rng.standard_normal((4, 3)),
        "b": rng.standard_normal(3),
        "dout": rng.standard_normal((5, 3)),
        "dout4": rng.standard_normal((5, 4)),
    }


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------- the cases
# name -> (case(impl) -> value, expected value or (exception type, match)).
# The data are rebuilt inside each case, so the children share nothing.
CASES: dict[str, tuple[Callable[[Any], Any], Any]] = {}


def case(name: str, expected: Any) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        CASES[name] = (fn, expected)
        return fn
    return register


D = _data()
Y = _softmax(D["scores"])
LOSS_GRAD = (Y - _onehot(D["labels"], 3)) / 5


def _loss_after_forward(impl: Any, t: Any = None) -> tuple[Any, Any]:
    d = _data()
    layer = impl.SoftmaxWithLoss()
    t = d["labels"] if t is None else t
    layer.forward(d["scores"], t)
    return layer, t


# SoftmaxWithLoss: the caller's labels changed in place after forward.
for _name, _value in [("huge", 1 << 40), ("negative", -5), ("one-too-large", 3)]:
    def _mutated_labels(impl: Any, value: int = _value) -> np.ndarray:
        layer, t = _loss_after_forward(impl)
        t[3] = value  # contiguous intp: the very array forward saw
        return layer.backward()

    case(f"loss: labels mutated in place ({_name})", LOSS_GRAD)(_mutated_labels)


@case("loss: one-hot labels mutated in place", LOSS_GRAD)
def _mutated_one_hot(impl: Any) -> np.ndarray:
    layer, t = _loss_after_forward(impl, _onehot(_data()["labels"], 3))
    t[...] = 0
    return layer.backward()


@case("loss: labels as a column (N, 1), mutated", LOSS_GRAD)
def _column_labels(impl: Any) -> np.ndarray:
    layer, t = _loss_after_forward(impl, _data()["labels"].reshape(5, 1))
    t[0, 0] = 1 << 40
    return layer.backward()


NEW_LABELS = np.array([1, 1, 0, 0, 2])


@case("loss.t reassigned: valid indices", (Y - _onehot(NEW_LABELS, 3)) / 5)
def _t_reassigned(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.t = NEW_LABELS.copy()
    return layer.backward()


@case("loss.t reassigned: one-hot rows", (Y - _onehot(NEW_LABELS, 3)) / 5)
def _t_reassigned_one_hot(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.t = _onehot(NEW_LABELS, 3)
    return layer.backward()


@case("loss.t reassigned: column (N, 1)", (Y - _onehot(NEW_LABELS, 3)) / 5)
def _t_reassigned_column(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.t = NEW_LABELS.reshape(5, 1)
    return layer.backward()


for _name, _value, _error in [
    ("out of range", np.array([0, 1, 2, 1 << 40, 0]), (ValueError, r"label t\[3\] = 1099511627776 is out of range")),
    ("negative", np.array([0, -1, 2, 1, 0]), (ValueError, r"label t\[1\] = -1 is out of range")),
    ("wrong length", np.array([0, 1]), (ValueError, "t must have one label per sample: expected 5, got 2")),
    ("float", np.zeros(5), (TypeError, "class indices t must have an integer dtype")),
    ("string", "abcde", (ValueError, "t must be class indices")),
    ("bad one-hot", np.ones((5, 3)), (ValueError, "one-hot t must have exactly one 1")),
]:
    def _t_bad(impl: Any, value: Any = _value) -> np.ndarray:
        layer, _ = _loss_after_forward(impl)
        layer.t = value
        return layer.backward()

    case(f"loss.t reassigned: {_name}", _error)(_t_bad)


@case("loss.y reassigned: same shape", (np.full((5, 3), 1 / 3) - _onehot(D["labels"], 3)) / 5)
def _y_reassigned(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.y = np.full((5, 3), 1 / 3)
    return layer.backward()


@case("loss.y reassigned: wrong shape", (ValueError, r"SoftmaxWithLoss.y must have shape \(5, 3\)"))
def _y_wrong_shape(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.y = np.ones((5, 2))
    return layer.backward()


@case("loss.y reassigned: not numbers", (TypeError, "SoftmaxWithLoss.y must hold real numbers"))
def _y_garbage(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.y = np.array(["a"] * 15).reshape(5, 3)
    return layer.backward()


@case("loss.y reassigned: None", (ForwardNotCalledError, "backward\\(\\) called before forward"))
def _y_none(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.y = None
    return layer.backward()


# Sigmoid
SIG = _sigmoid(D["x"])
SIG_GRAD = D["dout4"] * (1 - SIG) * SIG


@case("sigmoid: out= buffer reused before backward", SIG_GRAD)
def _sigmoid_buffer_reused(impl: Any) -> np.ndarray:
    d = _data()
    layer, buf = impl.Sigmoid(), np.empty((5, 4))
    layer.forward(d["x"], out=buf)
    buf[...] = 0.5
    return layer.backward(d["dout4"])


@case("sigmoid: input mutated after forward", SIG_GRAD)
def _sigmoid_input_mutated(impl: Any) -> np.ndarray:
    d = _data()
    layer = impl.Sigmoid()
    layer.forward(d["x"])
    d["x"][...] = 100.0
    return layer.backward(d["dout4"])


for _name, _make, _expected in [
    ("same shape", lambda: np.full((5, 4), 0.5), D["dout4"] * 0.25),
    ("wrong shape", lambda: np.full((5, 3), 0.5), (ValueError, r"dout must have shape \(5, 3\)")),
    ("not numbers", lambda: np.array(["a"] * 20).reshape(5, 4),
     (TypeError, "Sigmoid.out must hold real numbers")),
]:
    def _sigmoid_out_reassigned(impl: Any, make: Callable[[], Any] = _make) -> np.ndarray:
        d = _data()
        layer = impl.Sigmoid()
        layer.forward(d["x"])
        layer.out = make()
        return layer.backward(d["dout4"])

    case(f"sigmoid.out reassigned: {_name}", _expected)(_sigmoid_out_reassigned)


# Relu
RELU_GRAD = np.where(D["x"] <= 0, 0.0, D["dout4"])


@case("relu: input mutated after forward", RELU_GRAD)
def _relu_input_mutated(impl: Any) -> np.ndarray:
    d = _data()
    layer = impl.Relu()
    layer.forward(d["x"])
    d["x"][...] = -1.0
    return layer.backward(d["dout4"])


@case("relu: out= buffer reused before backward", RELU_GRAD)
def _relu_buffer_reused(impl: Any) -> np.ndarray:
    d = _data()
    layer, buf = impl.Relu(), np.empty((5, 4))
    layer.forward(d["x"], out=buf)
    buf[...] = -1.0
    return layer.backward(d["dout4"])


@case("relu.mask reassigned: boolean, same shape", np.where(D["x"] > 0, 0.0, D["dout4"]))
def _relu_mask_reassigned(impl: Any) -> np.ndarray:
    d = _data()
    layer = impl.Relu()
    layer.forward(d["x"])
    layer.mask = d["x"] > 0
    return layer.backward(d["dout4"])


for _name, _value, _error in [
    ("wrong shape", np.zeros((5, 3), bool), (ValueError, r"dout must have shape \(5, 3\)")),
    ("integers", np.zeros((5, 4), int), (TypeError, "Relu.mask must be a boolean array")),
    ("list", [[True] * 4] * 5, (TypeError, "Relu.mask must be a boolean array")),
    ("None", None, (ForwardNotCalledError, "backward\\(\\) called before forward")),
]:
    def _mask_bad(impl: Any, value: Any = _value) -> np.ndarray:
        d = _data()
        layer = impl.Relu()
        layer.forward(d["x"])
        layer.mask = value
        return layer.backward(d["dout4"])

    case(f"relu.mask reassigned: {_name}", _error)(_mask_bad)


# Affine
def _affine_after_forward(impl: Any, x: Any = None) -> tuple[Any, dict[str, np.ndarray]]:
    d = _data()
    layer = impl.Affine(d["W"], d["b"])
    layer.forward(d["x"] if x is None else x)
    return layer, d


@case("affine: W updated in place, dx uses the new W", D["dout"] @ (D["W"] * 2).T)
def _affine_w_in_place(impl: Any) -> np.ndarray:
    layer, d = _affine_after_forward(impl)
    d["W"] *= 2
    return layer.backward(d["dout"])


@case("affine.W reassigned: same shape", D["dout"] @ np.ones((4, 3)).T)
def _affine_w_reassigned(impl: Any) -> np.ndarray:
    layer, d = _affine_after_forward(impl)
    layer.W = np.ones((4, 3))
    return layer.backward(d["dout"])


@case("affine: x (float64) mutated in place, dW follows it as in the book", np.ones((5, 4)).T @ D["dout"])
def _affine_x_in_place(impl: Any) -> np.ndarray:
    layer, d = _affine_after_forward(impl)
    d["x"][...] = 1.0
    layer.backward(d["dout"])
    return layer.dW


@case("affine: x (float32, W float64) mutated in place, dW follows it as in the book",
      np.ones((5, 4)).T @ D["dout"])
def _affine_x32_in_place(impl: Any) -> np.ndarray:
    x32 = _data()["x"].astype(np.float32)
    layer, d = _affine_after_forward(impl, x32)
    x32[...] = 1.0
    layer.backward(d["dout"])
    return layer.dW


@case("affine.x reassigned: same shape", np.ones((5, 4)).T @ D["dout"])
def _affine_x_reassigned(impl: Any) -> np.ndarray:
    layer, d = _affine_after_forward(impl)
    layer.x = np.ones((5, 4))
    layer.backward(d["dout"])
    return layer.dW


for _name, _attr, _value, _error in [
    ("W wrong shape", "W", np.ones((4, 2)), (ValueError, r"b must have shape \(2,\) to match W of shape \(4, 2\)")),
    ("W float16", "W", np.ones((4, 3), np.float16), (TypeError, "W must have dtype float32 or float64")),
    ("W a list", "W", [[1.0] * 3] * 4, (TypeError, "W must be a NumPy array")),
    ("b wrong shape", "b", np.ones(2), (ValueError, r"b must have shape \(3,\)")),
    ("x wrong shape", "x", np.ones((5, 7)), (ValueError, r"Affine.x was replaced by an array of shape \(5, 7\)")),
    ("x fewer samples", "x", np.ones((2, 4)), (ValueError, r"dout must have shape \(2, 3\)")),
    ("x not numbers", "x", np.array(["a"] * 20).reshape(5, 4), (TypeError, "Affine.x must hold real numbers")),
    ("original_x_shape garbage", "original_x_shape", "abc", (TypeError, "Affine.original_x_shape must be a tuple")),
    ("original_x_shape wrong", "original_x_shape", (5, 3),
     (ValueError, r"Affine.original_x_shape \(5, 3\) does not hold")),
    ("x None", "x", None, (ForwardNotCalledError, "backward\\(\\) called before forward")),
]:
    def _affine_bad(impl: Any, attr: str = _attr, value: Any = _value) -> np.ndarray:
        layer, d = _affine_after_forward(impl)
        setattr(layer, attr, value)
        return layer.backward(d["dout"])

    case(f"affine.{_name}", _error)(_affine_bad)


@case("affine.original_x_shape reassigned: a compatible shape", (D["dout"] @ D["W"].T).reshape(5, 2, 2))
def _affine_shape_reassigned(impl: Any) -> np.ndarray:
    layer, d = _affine_after_forward(impl)
    layer.original_x_shape = (5, 2, 2)
    return layer.backward(d["dout"])


# Found by the fuzzer's state-change steps (fixed in 0.2.0).
@case("relu.mask set with no forward at all", np.array([0.0, 1.0]))
def _relu_mask_without_forward(impl: Any) -> np.ndarray:
    layer = impl.Relu()
    layer.mask = np.array([True, False])
    return layer.backward(np.ones(2))


@case("loss.y and loss.t set with no forward at all", (np.full((2, 3), 1 / 3) - np.eye(3)[[0, 2]]) / 2)
def _loss_state_without_forward(impl: Any) -> np.ndarray:
    layer = impl.SoftmaxWithLoss()
    layer.y = np.full((2, 3), 1 / 3)
    layer.t = np.array([0, 2])
    return layer.backward()


@case("affine.W with other rows, need_dx=False", (ValueError, r"Affine.W was replaced by an array of shape \(2, 2\)"))
def _affine_w_rows(impl: Any) -> np.ndarray:
    layer = impl.Affine(np.ones((3, 2)), np.zeros(2), need_dx=False)
    layer.forward(np.ones((4, 3)))
    layer.W = np.ones((2, 2))
    return layer.backward(np.ones((4, 2)))


@case("loss: bad y and bad dout, dout is checked first", (ValueError, "dout must be a scalar"))
def _loss_check_order(impl: Any) -> np.ndarray:
    layer, _ = _loss_after_forward(impl)
    layer.y = np.ones((5, 3), bool)
    return layer.backward(np.ones(2))


@case("relu: a Fortran-ordered forward result as backward's out=", np.where(np.ones((3, 2)) > 0, 1.0, 0.0))
def _relu_fortran_result_as_out(impl: Any) -> np.ndarray:
    layer = impl.Relu()
    y = layer.forward(np.asfortranarray(np.ones((3, 2))))
    return layer.backward(np.ones((3, 2)), out=y)


@case("0-d input: saved state is an array, changed in place", np.array([1.0, 0.09]))
def _zero_d_state(impl: Any) -> np.ndarray:
    relu, sig = impl.Relu(), impl.Sigmoid()
    relu.forward(np.array(-1.0))
    y = sig.forward(np.array(0.0))
    relu.mask[...] = False
    y[...] = 0.9
    return np.array([relu.backward(np.array(1.0)), sig.backward(np.array(1.0))])


@case("sigmoid.out reassigned as float16, then passed as out=", (ValueError, "must not be the layer's saved output"))
def _sigmoid_out_alias(impl: Any) -> np.ndarray:
    layer = impl.Sigmoid()
    layer.forward(np.zeros(3))
    layer.out = np.full(3, 0.5, np.float16)
    return layer.backward(np.ones(3), out=layer.out)


@pytest.mark.parametrize("impl_name", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", CASES)
def test_state_changed_between_calls(name: str, impl_name: str) -> None:
    fn, expected = CASES[name]
    kind, value = in_forked_child(fn, IMPLEMENTATIONS[impl_name])
    assert kind != "crashed", f"{name} ({impl_name}): the process {value}"
    if isinstance(expected, tuple):
        error, match = expected
        assert kind == "raised", f"{name} ({impl_name}): expected {error.__name__}, got a result {value!r}"
        type_name, message = value
        assert type_name == error.__name__, f"{name} ({impl_name}): {type_name}: {message}"
        assert issubclass(error, (TypeError, ValueError)), f"{name}: {type_name} is not a TypeError/ValueError"
        assert re.search(match, message), f"{name} ({impl_name}): message {message!r}"
    else:
        assert kind == "ok", f"{name} ({impl_name}): raised {value}"
        assert_allclose(value, expected, rtol=1e-12, atol=1e-15, err_msg=f"{name} ({impl_name})")


def test_every_case_is_run_on_both_implementations() -> None:
    assert len(CASES) >= 40
    assert set(IMPLEMENTATIONS) == {"fast", "reference"}


def test_a_crash_in_a_case_is_reported_not_fatal() -> None:
    """The isolation itself can fail: a child killed by a signal is a crash."""
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("under AddressSanitizer the deliberate SIGSEGV becomes an ASan report")
    def crash(_: Any) -> None:
        import faulthandler

        faulthandler.disable()  # pytest's traceback on stderr would look like a real crash
        os.kill(os.getpid(), signal.SIGSEGV)

    kind, value = in_forked_child(crash, None)
    assert kind == "crashed" and "SIGSEGV" in value


if __name__ == "__main__":  # pragma: no cover - a quick look without pytest
    sys.exit(pytest.main([__file__, "-q"]))
