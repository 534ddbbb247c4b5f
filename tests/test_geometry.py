"""Hostile window geometry and optimizer mismatches: each case in a forked
child, so that a crash fails one test; the geometry fuzz target
(tests/fuzz_geometry.py), a short run and its negative control."""
import os

import numpy as np
import pytest
from conftest import PACKAGE_PARENT, in_forked_child

import zk_layers as zk


def _fuzz_module():
    import fuzz_geometry  # tests/fuzz_geometry.py: a module of the suite, and a command-line tool

    return fuzz_geometry


def _conv_both(args):
    """forward and backward of both implementations: outputs, or the error."""
    W, b, stride, pad, x, threads = args
    results = []
    for cls in (zk.Convolution, zk.reference.Convolution):
        try:
            with zk.limit_threads(threads):
                layer = cls(W, b, stride=stride, pad=pad)
                out = layer.forward(x)
                dx = layer.backward(np.arange(1.0, out.size + 1).reshape(out.shape))
            results.append(("ok", out, dx, layer.dW, layer.db))
        except (TypeError, ValueError) as e:
            results.append((type(e).__name__, str(e)))
    return results


def _pool_both(args):
    size, stride, pad, x = args
    results = []
    for cls in (zk.Pooling, zk.reference.Pooling):
        try:
            layer = cls(size, size, stride=stride, pad=pad)
            out = layer.forward(x)
            results.append(("ok", out, layer.backward(np.ones_like(out))))
        except (TypeError, ValueError) as e:
            results.append((type(e).__name__, str(e)))
    return results


def _same(results):
    fast, ref = results
    assert fast[0] == ref[0], results
    if fast[0] != "ok":
        assert fast[1] == ref[1]
        return fast
    for a, b in zip(fast[1:], ref[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    return fast


X_SMALL = np.arange(16.0).reshape(1, 1, 4, 4)


def test_pad_and_stride_past_64_bits_is_a_value_error_not_a_segfault():
    # Was a SIGSEGV inside im2col: pad - j + stride - 1 overflowed.
    status, result = in_forked_child(_conv_both, (np.full((2, 1, 1, 1), 2.0), np.zeros(2), 4 * 10**18,
                                                  8 * 10**18, X_SMALL, 1))
    assert status == "ok", result
    kind, message = _same(result)
    assert kind == "ValueError" and "pad=8000000000000000000 is too large" in message


@pytest.mark.parametrize("threads", [1, 2])
def test_stride_just_below_2_63_reads_no_float_before_x(threads):
    # Was 48.0 (the two floats before x read as pixels), dW wrong, then heap corruption.
    x = np.arange(1.0, 33.0).reshape(2, 1, 4, 4)[1:]
    status, result = in_forked_child(_conv_both, (np.ones((1, 1, 3, 3)), np.zeros(1), 2**63 - 1, 2, x, threads))
    assert status == "ok", result
    _, out, _, dW, _ = _same(result)
    assert out.ravel().tolist() == [17.0]
    assert dW.ravel().tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 17.0]


@pytest.mark.parametrize("stride", [2**63, 2**64, 10**30])
def test_strides_past_ssize_t_give_the_top_left_window(stride):
    status, result = in_forked_child(_conv_both, (np.ones((1, 1, 3, 3)), np.zeros(1), stride, 0, X_SMALL, 1))
    assert status == "ok", result
    assert _same(result)[1].ravel().tolist() == [45.0]
    status, result = in_forked_child(_pool_both, (2, stride, 0, X_SMALL))
    assert status == "ok", result
    assert _same(result)[1].ravel().tolist() == [5.0]


@pytest.mark.parametrize("pad", [2**40, 2**64])
def test_outputs_too_large_to_allocate_name_pad(pad):
    for case in (_conv_both, _pool_both):
        args = (np.ones((1, 1, 3, 3)), np.zeros(1), 1, pad, X_SMALL, 1) if case is _conv_both else (2, 1, pad, X_SMALL)
        status, result = in_forked_child(case, args)
        assert status == "ok", result
        kind, message = _same(result)
        assert kind == "ValueError" and f"pad={pad} is too large" in message
        assert "more than an array can hold" in message


def test_huge_stride_and_pad_output_of_too_many_windows_names_both():
    # Padding that fits, windows that do not: (2**29 + 1)**2 windows of 3x3 values.
    status, result = in_forked_child(_conv_both, (np.ones((1, 1, 3, 3)), np.zeros(1), 1, 2**28, X_SMALL, 1))
    assert status == "ok", result
    kind, message = _same(result)
    assert kind == "ValueError" and f"stride=1 and pad={2**28} give" in message


def test_many_filters_on_a_huge_output_name_stride_and_pad():
    # The patches fit; the output (FN channels of them) does not.
    W = np.ones((2**20, 1, 1, 1))
    status, result = in_forked_child(_conv_both, (W, np.zeros(2**20), 1, 2**19, np.ones((1, 1, 1, 1)), 1))
    assert status == "ok", result
    kind, message = _same(result)
    assert kind == "ValueError" and f"pad={2**19} give x of shape (1, 1, 1, 1) an output of 1 x {2**20}" in message


@pytest.mark.parametrize("threads", [1, 2])
def test_window_column_in_the_padding_for_every_output(threads):
    # A 1-pixel-wide image with a 5-wide window and pad 2: the first window
    # column lies in the left padding for every output; im2col once wrote
    # past the row's end there.
    x = np.arange(1.0, 7.0).reshape(2, 1, 3, 1)
    status, result = in_forked_child(_conv_both, (np.arange(25.0).reshape(1, 1, 5, 5), np.ones(1), 1, 2, x, threads))
    assert status == "ok", result
    _same(result)


def test_reference_and_fast_batch_norm_agree_on_empty_batches():
    for shape in ((0, 5), (0, 5, 1, 1), (0, 1, 1, 5)):
        outs = []
        for cls in (zk.BatchNormalization, zk.reference.BatchNormalization):
            layer = cls(np.ones(5), np.zeros(5))
            with pytest.raises(ValueError, match="at least one sample in training mode"):
                layer.forward(np.zeros(shape), train_flg=True)
            outs.append(layer.forward(np.zeros(shape), train_flg=False))
        assert outs[0].shape == outs[1].shape == shape


# ---------------------------------------------------------------- optimizers
def _update(args):
    name, params, grads = args
    zk.optimizers.OPTIMIZERS[name]().update(params, grads)
    return params


@pytest.mark.parametrize("name", sorted(zk.optimizers.OPTIMIZERS))
@pytest.mark.parametrize("param,grad,error,message", [
    (np.zeros((3, 4)), np.zeros((4, 3)), ValueError,
     "grads['W'] has shape (4, 3), but params['W'] has shape (3, 4)"),
    (np.zeros((3, 4)), np.zeros(4), ValueError, "grads['W'] has shape (4,), but params['W'] has shape (3, 4)"),
    (np.zeros(3), np.zeros(3, complex), TypeError, "grads['W'] must hold real numbers, got array of dtype complex128"),
    (np.zeros(3), np.array(["a", "b", "c"]), TypeError, "grads['W'] must hold real numbers, got array of dtype <U1"),
    (np.zeros(3), [1.0, 2.0, 3.0], TypeError, "grads['W'] must be a real array or number, got list"),
    (np.zeros(3, int), np.zeros(3), TypeError, "params['W'] must be a float array to be updated in place, "
                                               "got array of dtype int64"),
    ("x", 1.0, TypeError, "params['W'] must be a float array or a real number, got str"),
])
def test_optimizer_mismatches_name_the_key(name, param, grad, error, message):
    params = {"b": np.ones(2), "W": param}
    status, result = in_forked_child(_update, (name, params, {"b": np.ones(2), "W": grad}))
    assert status == "raised", result
    assert result[0] == error.__name__ and result[1].startswith(message), result


@pytest.mark.parametrize("name", sorted(zk.optimizers.OPTIMIZERS))
def test_a_refused_update_changes_nothing(name):
    opt = zk.optimizers.OPTIMIZERS[name]()
    params = {"b": np.ones(2), "W": np.ones(3)}
    opt.update(params, {"b": np.ones(2), "W": np.ones(3)})
    before = {k: v.copy() for k, v in params.items()}
    states = {s: {k: v.copy() for k, v in getattr(opt, s).items()} for s in ("v", "h", "m") if hasattr(opt, s)}
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(4,\)"):
        opt.update(params, {"b": np.ones(2), "W": np.ones(4)})  # b comes first and is fine
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    for s, saved in states.items():
        for k in saved:
            np.testing.assert_array_equal(getattr(opt, s)[k], saved[k])


def test_python_floats_still_take_the_books_lines():
    params = {"x": -7.0, "y": 2.0}
    zk.SGD(lr=0.9).update(params, {"x": 1.0, "y": np.float64(-2.0)})
    assert params == {"x": -7.9, "y": 2.0 + 0.9 * 2.0}


@pytest.mark.parametrize("name,attribute,value,error,message", [
    ("sgd", "lr", "0.1", TypeError, "lr must be a real number, got str '0.1'"),
    ("momentum", "momentum", 1.5, ValueError, r"momentum must be in \[0, 1\), got 1.5"),
    ("nesterov", "lr", -1, ValueError, "lr must be positive and finite, got -1.0"),
    ("adagrad", "eps", "x", TypeError, "eps must be a real number, got str 'x'"),
    ("rmsprop", "decay_rate", None, TypeError, "decay_rate must be a real number, got NoneType None"),
    ("adam", "beta1", 1.0, ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
    ("adam", "beta2", np.nan, ValueError, r"beta2 must be in \[0, 1\), got nan"),
    ("adam", "iter", 2.5, TypeError, "iter must be a non-negative integer, got float 2.5"),
])
def test_hyperparameters_assigned_later_are_checked(name, attribute, value, error, message):
    opt = zk.optimizers.OPTIMIZERS[name]()
    before = getattr(opt, attribute)
    with pytest.raises(error, match=message):
        setattr(opt, attribute, value)
    assert getattr(opt, attribute) == before
    setattr(opt, attribute, 0.5 if attribute != "iter" else 3)
    params = {"W": np.ones(3)}
    opt.update(params, {"W": np.ones(3)})  # the assigned value is used
    assert np.all(params["W"] < 1)


# ------------------------------------------------------- geometry fuzz target
def test_geometry_fuzz_finds_no_difference(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    ran, failures = _fuzz_module().fuzz(cases=4000, seed=1_000_000, batch=1000)
    assert ran >= 4000 and not failures, failures[:5]


def test_geometry_fuzz_detects_an_uncapped_stride(monkeypatch):
    # Negative control: hand the kernels the stride as given, as before the
    # cap; the fuzz target must report it (Python refuses the conversion to
    # Py_ssize_t before any kernel runs, so this control cannot crash).
    fuzz = _fuzz_module()
    monkeypatch.setattr(zk.convolution, "kernel_stride", lambda stride, *_: stride)
    ran, failures = fuzz.run_seeds(0, 3000)
    assert ran > 1000 and any("OverflowError" in f for f in failures), failures[:3]


def test_geometry_fuzz_detects_a_wrong_output(monkeypatch):
    fuzz = _fuzz_module()
    real = zk.Pooling.forward
    monkeypatch.setattr(zk.Pooling, "forward", lambda self, x: real(self, x) + (self.pad > 0))
    ran, failures = fuzz.run_seeds(0, 3000)
    assert any("output 0: got" in f for f in failures), failures[:3]
