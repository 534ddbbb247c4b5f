"""The layers' buffers: ``out=`` arrays, the saved arrays a layer reuses
(only when nothing else holds them), and state changed between calls."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import tolerance
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import reference as ref


@pytest.mark.parametrize("layer_name", ["Relu", "Sigmoid"])
def test_out_buffers(rng, layer_name, dtype, impl):
    x = rng.standard_normal((7, 5)).astype(dtype)
    dout = rng.standard_normal((7, 5)).astype(dtype)
    expected = getattr(zk.reference, layer_name)()
    y_expected, dx_expected = expected.forward(x), expected.backward(dout)
    layer = getattr(impl, layer_name)()
    buffer = np.full_like(x, np.nan)
    assert layer.forward(x, out=buffer) is buffer
    assert_allclose(buffer, y_expected, **tolerance(dtype))
    grad_buffer = np.empty_like(dout)
    assert layer.backward(dout, out=grad_buffer) is grad_buffer
    assert_allclose(grad_buffer, dx_expected, **tolerance(dtype))


@pytest.mark.parametrize("layer_name", ["Relu", "Sigmoid"])
def test_out_buffer_in_place_and_misuse(rng, layer_name):
    x = rng.standard_normal((6, 4))
    expected = getattr(zk.reference, layer_name)().forward(x)
    layer = getattr(zk, layer_name)()
    inplace = x.copy()
    assert layer.forward(inplace, out=inplace) is inplace  # handed over as the output
    assert_allclose(inplace, expected, rtol=1e-15)
    dout = rng.standard_normal((6, 4))
    layer.forward(x)
    fresh = layer.backward(dout)
    g = dout.copy()
    assert layer.backward(g, out=g) is g  # dout handed over as the output
    assert_array_equal(g, fresh)
    for bad, error, match in [
        (np.empty((4, 6)), ValueError, "must have shape"),
        (np.empty((6, 4), np.float32), TypeError, "must have dtype float64"),
        (np.empty((6, 4), order="F"), ValueError, "C-contiguous"),
        ([[0.0] * 4] * 6, TypeError, "must be a NumPy array"),
    ]:
        with pytest.raises(error, match=match):
            layer.forward(x, out=bad)
    readonly = np.empty((6, 4))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        layer.forward(x, out=readonly)
    big = np.zeros((7, 4))
    shifted_input = big[:6]
    with pytest.raises(ValueError, match="overlaps an input"):
        layer.forward(shifted_input, out=big[1:])


@pytest.mark.parametrize("layer_name, saved", [("Relu", "mask"), ("Sigmoid", "out")])
@pytest.mark.parametrize("order", ["C", "F"])
def test_out_forward_reuses_the_saved_array_only_when_nobody_else_holds_it(rng, layer_name, saved, order, dtype):
    """forward(x, out=) writes the mask (Relu) or its copy of the output
    (Sigmoid) over the last one instead of allocating, unless the caller
    kept that array or a view of it: then it stays as it was."""
    xs = [np.asarray(rng.standard_normal((9, 7)), dtype=dtype, order=order) for _ in range(4)]
    layer, oracle = getattr(zk, layer_name)(), getattr(zk.reference, layer_name)()
    buffer = np.empty_like(xs[0], order=order)
    dout = np.asarray(rng.standard_normal((9, 7)), dtype=dtype, order=order)

    def address() -> int:
        return getattr(layer, saved).__array_interface__["data"][0]

    def check(x: np.ndarray) -> None:
        assert_allclose(buffer, oracle.forward(x), **tolerance(dtype))
        assert_allclose(layer.backward(dout), oracle.backward(dout), **tolerance(dtype))

    layer.forward(xs[0], out=buffer)
    first = address()
    layer.forward(xs[1], out=buffer)
    assert address() == first  # nobody else held it: written over
    check(xs[1])
    kept = getattr(layer, saved)
    kept_values = kept.copy()
    layer.forward(xs[2], out=buffer)
    assert getattr(layer, saved) is not kept
    assert_array_equal(kept, kept_values)  # the caller's array did not change
    check(xs[2])
    del kept
    view = getattr(layer, saved)[1:3]
    view_values = view.copy()
    layer.forward(xs[3], out=buffer)
    assert_array_equal(view, view_values)
    check(xs[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_forward_reuses_its_y_only_when_nobody_else_holds_it(rng, dtype):
    """forward writes y over the last forward's y instead of allocating,
    unless the caller kept that array or a view of it, passes it back as x,
    or reassigned the attribute: then that array stays as it was."""
    xs = [rng.standard_normal((6, 5)).astype(dtype) for _ in range(5)]
    t = np.array([0, 4, 2, 1, 3, 0])
    layer, oracle = zk.SoftmaxWithLoss(), zk.reference.SoftmaxWithLoss()

    def check(x: np.ndarray) -> None:
        assert layer.forward(x, t) == pytest.approx(oracle.forward(x, t), rel=1e-6 if dtype == np.float32 else 1e-13)
        assert_allclose(layer.y, oracle.y, **tolerance(dtype))
        assert_allclose(layer.backward(), oracle.backward(), **tolerance(dtype))

    check(xs[0])
    first = id(layer.y)
    check(xs[1])
    assert id(layer.y) == first  # nobody else held it: written over
    kept = layer.y
    kept_values = kept.copy()
    check(xs[2])
    assert layer.y is not kept
    assert_array_equal(kept, kept_values)  # the caller's array did not change
    del kept
    view = layer.y[1:3]
    view_values = view.copy()
    check(xs[3])
    assert_array_equal(view, view_values)
    del view
    # y passed back as x: read, never written while being read.
    x = layer.y
    x_values = x.copy()
    check(x)
    assert_array_equal(x, x_values)
    del x, x_values
    # A reassigned y belongs to whoever assigned it.
    mine = np.full((6, 5), 0.2, dtype)
    layer.y = mine
    check(xs[4])
    assert_array_equal(mine, np.full((6, 5), 0.2, dtype))
    # A different batch size takes a fresh array.
    small = rng.standard_normal((3, 5)).astype(dtype)
    assert layer.forward(small, t[:3]) == pytest.approx(
        oracle.forward(small, t[:3]), rel=1e-6 if dtype == np.float32 else 1e-13
    )
    assert layer.y.shape == (3, 5)


def test_softmax_forward_interrupted_after_the_kernel_leaves_no_mixed_state(rng, monkeypatch):
    """y is written in place by the kernel; an interrupt (Ctrl-C) raised when
    the kernel returns, before t and the labels are updated, must not leave
    the new y paired with the old labels: backward raises instead."""
    import types

    from zk_layers import _softmax_loss
    from zk_layers import layers as layers_module
    from zk_layers._validate import ForwardNotCalledError

    layer = zk.SoftmaxWithLoss()
    x0, x1 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    layer.forward(x0, np.array([0, 1, 2, 3, 0]))
    address = layer.y.ctypes.data
    written = []

    def interrupted(*args):
        written.append(_softmax_loss.softmax_loss_forward(*args)[1].ctypes.data)
        raise KeyboardInterrupt

    monkeypatch.setattr(layers_module, "_softmax_loss", types.SimpleNamespace(softmax_loss_forward=interrupted))
    with pytest.raises(KeyboardInterrupt):
        layer.forward(x1, np.array([3, 2, 1, 0, 3]))
    assert written == [address]  # the kernel wrote over the last forward's y
    monkeypatch.undo()
    with pytest.raises(ForwardNotCalledError):
        layer.backward()


def test_softmax_forward_that_fails_keeps_the_last_forwards_state(rng):
    """A forward the compiled path declines and the general path rejects
    leaves y, t and the gradient of the last good forward as they were."""
    layer, oracle = zk.SoftmaxWithLoss(), ref.SoftmaxWithLoss()
    x, t = rng.standard_normal((5, 4)), np.array([0, 1, 2, 3, 0])
    layer.forward(x, t)
    oracle.forward(x, t)
    y = layer.y.copy()
    with pytest.raises(ValueError):
        layer.forward(rng.standard_normal((5, 4)), np.array([0, 1, 2, 9, 0]))  # a label out of range
    assert_array_equal(layer.y, y)
    assert_allclose(layer.backward(), oracle.backward(), rtol=1e-15)
    layer.forward(x, t)  # and the next good forward still reuses y
    assert_allclose(layer.y, y, rtol=1e-15)


def test_softmax_kernel_writes_over_a_handed_back_y_only_when_it_fits(rng):
    """The compiled entry point writes over the y the layer hands back only
    when it is an owning, writeable, C-contiguous array of x's dtype and
    shape that does not overlap x; otherwise y is fresh and the array handed
    back is left as it was."""
    import ctypes

    from zk_layers import _softmax_loss

    x = rng.standard_normal((4, 6))
    t = np.array([1, 0, 5, 2])
    call = _softmax_loss.softmax_loss_forward
    expected = ref.softmax(x)

    def readonly():
        a = np.zeros((4, 6))
        a.flags.writeable = False
        return a

    unfit = [lambda: np.zeros((8, 6))[:4], lambda: np.zeros((4, 6), np.float32), lambda: np.zeros((6, 4)),
             lambda: np.zeros((4, 6), order="F"), readonly, lambda: [[0.0] * 6] * 4]
    for factory in unfit:
        candidate = factory()
        before = np.array(candidate, copy=True)
        _, y, _ = call(x, t, 1e-7, candidate)
        assert y is not candidate
        assert_allclose(y, expected, rtol=1e-15)
        assert_array_equal(np.asarray(candidate), before)
    # Overlapping x through a raw address (no reference): left alone.
    candidate = np.zeros((4, 6))
    alias = np.ctypeslib.as_array(ctypes.cast(candidate.ctypes.data, ctypes.POINTER(ctypes.c_double)), (4, 6))
    alias[...] = x
    _, y, _ = call(alias, t, 1e-7, candidate)
    assert y is not candidate
    assert_array_equal(candidate, x)
    assert_allclose(y, expected, rtol=1e-15)
    del alias
    # Fits: written over.
    candidate = np.zeros((4, 6))
    _, y, _ = call(x, t, 1e-7, candidate)
    assert y is candidate
    assert_allclose(y, expected, rtol=1e-15)
    # Declined calls write nothing.
    candidate = np.zeros((4, 6))
    assert call(x, [1, 0, 5, 2], 1e-7, candidate) is None
    assert call(x, np.array([1, 0, 6, 2]), 1e-7, candidate) is None
    assert_array_equal(candidate, 0)


def test_softmax_layer_reuses_its_y_only_when_it_holds_it_alone(rng):
    """A forward writes over the last forward's y when the layer holds its
    only reference; a y the caller kept (or a view of it) is never written,
    and a declined forward leaves the layer's y where it was."""
    layer = zk.SoftmaxWithLoss()
    x, t = rng.standard_normal((4, 6)), np.array([1, 0, 5, 2])
    layer.forward(x, t)
    address = layer.y.ctypes.data
    layer.forward(x * 2, t)
    assert layer.y.ctypes.data == address  # reused
    assert_allclose(layer.y, ref.softmax(x * 2), rtol=1e-15)
    kept = layer.y
    before = kept.copy()
    layer.forward(x, t)
    assert layer.y is not kept
    assert_array_equal(kept, before)
    view = layer.y[:2]
    before, saved = view.copy(), layer.y
    del saved
    layer.forward(x * 3, t)
    assert_array_equal(view, before)
    del view
    saved = layer.y
    with pytest.raises(ValueError):
        layer.forward(x, np.array([1, 0, 9, 2]))  # declined, then rejected by the general path
    assert layer.y is saved


def test_out_forward_never_writes_a_class_level_array(rng):
    """A subclass whose class defines ``mask`` (or ``out``) as an array shares
    it between instances: forward(x, out=) must not write over it."""
    class SharedMask(zk.Relu):
        mask = np.zeros((3, 4), dtype=bool)

    class SharedOut(zk.Sigmoid):
        out = np.zeros((3, 4))

    for cls, name in ((SharedMask, "mask"), (SharedOut, "out")):
        before = getattr(cls, name).copy()  # no other reference kept: only the class holds it
        layer = cls.__new__(cls)  # no __init__: the instance has no attribute of its own yet
        layer.forward(rng.standard_normal((3, 4)), out=np.empty((3, 4)))
        assert getattr(layer, name) is not getattr(cls, name)
        assert_array_equal(getattr(cls, name), before)


def test_sigmoid_backward_refuses_its_saved_output_as_out(rng):
    layer = zk.Sigmoid()
    y = layer.forward(rng.standard_normal((3, 3)))
    with pytest.raises(ValueError, match="saved output"):
        layer.backward(np.ones((3, 3)), out=y)


def test_reassigned_state_attributes_are_used_or_refused(rng):
    """Book code may overwrite layer attributes; the fast layers follow them safely."""
    relu = zk.Relu()
    relu.forward(rng.standard_normal((3, 4)))
    relu.mask = np.zeros((3, 4), dtype=bool)  # now nothing is masked
    assert_array_equal(relu.backward(np.ones((3, 4))), np.ones((3, 4)))
    loss = zk.SoftmaxWithLoss()
    loss.forward(rng.standard_normal((2, 3)), np.array([0, 2]))
    loss.y = np.full((2, 3), 1 / 3)
    assert_allclose(loss.backward(), (np.full((2, 3), 1 / 3) - np.eye(3)[[0, 2]]) / 2, rtol=1e-15)
    loss.y = np.ones((2, 2))
    with pytest.raises(ValueError, match="the shape of the last forward's y"):
        loss.backward()


@pytest.mark.parametrize("shape", [(3, 5), (300, 1001)])
def test_sigmoid_out_forward_keeps_a_bitwise_copy_of_its_own(rng, shape, dtype):
    """forward(x, out=) writes the result into out and, in the same kernel,
    into the layer's own saved copy: both bitwise the fresh forward's, over
    both of the kernel's paths (a block with a huge or NaN element takes the
    general exponential), and backward still right once out is overwritten."""
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[5000 % x.size] = 1e4
    x.reshape(-1)[7 % x.size] = np.nan
    dout = rng.standard_normal(shape).astype(dtype)
    fresh = zk.Sigmoid()
    expected, expected_dx = fresh.forward(x), fresh.backward(dout)
    layer = zk.Sigmoid()
    buffer = np.empty_like(x)
    layer.forward(x, out=buffer)
    assert not np.may_share_memory(layer.out, buffer)
    assert_array_equal(buffer, expected)
    assert_array_equal(layer.out, expected)
    buffer[...] = 0.25  # the caller reuses its buffer before backward
    assert_array_equal(layer.backward(dout), expected_dx)
