"""The one-call entry points: the common case in one compiled call.

Each layer method first offers its arguments to a compiled entry point
(``KERNELS.*_call``).  It must take exactly the common case -- exact
ndarrays, C-contiguous, aligned, native byte order, one float dtype,
matching shapes -- and compute what the general path computes; everything
else it must decline (return None), so that the general path validates and
raises the documented errors.  These tests pin both halves.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import zk_layers as zk
from zk_layers._kernels import KERNELS
from zk_layers._threads import GRAINS, forced_grain


def _unaligned(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(int(np.prod(shape)) * itemsize + 1, np.uint8)
    arr = raw[1:].view(dtype).reshape(shape)
    assert not arr.flags.aligned
    arr[...] = np.linspace(-1, 1, arr.size).reshape(shape)
    return arr


class _Sub(np.ndarray):
    pass


def _declined_inputs(x: np.ndarray) -> dict[str, object]:
    return {
        "fortran": np.asfortranarray(np.stack([x[0], x[0]])) if x.ndim == 2 else np.asfortranarray(x),
        "strided": np.repeat(x, 2, axis=-1)[..., ::2],
        "byteswapped": x.astype(x.dtype.newbyteorder()),
        "unaligned": _unaligned(x.shape, x.dtype.type),
        "subclass": x.view(_Sub),
        "int": x.astype(np.int64),
        "float16": x.astype(np.float16),
        "list": x.tolist(),
    }


@pytest.fixture(params=[np.float32, np.float64])
def dtype(request):
    return request.param


def test_entry_points_compute_what_the_general_path_computes(rng, dtype):
    x = rng.standard_normal((3, 7)).astype(dtype)
    dout = rng.standard_normal((3, 7)).astype(dtype)
    out, mask = KERNELS.relu_forward_call(x, GRAINS.elementwise)
    ref = zk.reference.Relu()
    assert_array_equal(out, ref.forward(x))
    assert_array_equal(mask, ref.mask)
    assert_array_equal(KERNELS.relu_backward_call(dout, mask, GRAINS.elementwise), ref.backward(dout))
    y = KERNELS.sigmoid_forward_call(x, GRAINS.exp)
    assert y.dtype == dtype
    sig = zk.reference.Sigmoid()
    np.testing.assert_allclose(y, sig.forward(x), rtol=1e-6 if dtype is np.float32 else 1e-15)
    np.testing.assert_allclose(KERNELS.sigmoid_backward_call(dout, y, GRAINS.elementwise),
                               dout * (1 - y) * y, rtol=1e-6 if dtype is np.float32 else 1e-15)


@pytest.mark.parametrize("labels", ["indices", "int32", "column", "one-hot"])
def test_softmax_entry_point_takes_the_book_label_forms(rng, dtype, labels):
    x = rng.standard_normal((4, 5)).astype(dtype)
    t = np.array([0, 4, 2, 2])
    given = {"indices": t, "int32": t.astype(np.int32), "column": t.reshape(4, 1),
             "one-hot": np.eye(5, dtype=dtype)[t]}[labels]
    loss, y, own = KERNELS.softmax_cross_entropy_forward_call(x, given, 1e-7, GRAINS.rowwise)
    assert own.dtype == np.intp and not np.shares_memory(own, given)
    assert_array_equal(own, t)
    ref = zk.reference.SoftmaxWithLoss()
    np.testing.assert_allclose(loss, ref.forward(x, t), rtol=1e-6 if dtype is np.float32 else 1e-13)
    for dout in (1, 1.0, 2.5, -3):
        dx = KERNELS.softmax_cross_entropy_backward_call(y, own, dout, (4, 5), GRAINS.elementwise)
        np.testing.assert_allclose(dx, ref.backward(dout), rtol=1e-5 if dtype is np.float32 else 1e-12,
                                   atol=1e-7)


def test_softmax_entry_point_declines_what_the_general_path_must_report(rng):
    x = rng.standard_normal((3, 4))
    call = KERNELS.softmax_cross_entropy_forward_call
    for t in (np.array([0, 4, 1]), np.array([0, -1, 1]), np.array([0, 1]), np.array([0.0, 1.0, 2.0]),
              np.array([[1, 0, 0, 0]] * 3, float) * 2, np.eye(4)[[0, 1, 2]].astype(np.float32),
              np.array([0, 1, 2], np.uint64), [0, 1, 2]):
        assert call(x, t, 1e-7, GRAINS.rowwise) is None, t
    assert call(np.empty((0, 4)), np.empty(0, np.intp), 1e-7, GRAINS.rowwise) is None
    assert call(x[0], np.array(1), 1e-7, GRAINS.rowwise) is None  # one sample: general path
    _, y, labels = call(x, np.array([0, 3, 1]), 1e-7, GRAINS.rowwise)
    # Backward checks y against the number of classes forward checked, and
    # takes only a Python int or float dout (the general path converts or
    # reports the rest: NumPy scalars, arrays, bool, ints too large).
    backward = KERNELS.softmax_cross_entropy_backward_call
    assert backward(np.ones((3, 2)), labels, 1.0, (3, 4), GRAINS.elementwise) is None
    assert backward(np.ones((3, 4)), labels, 1.0, (3, 3), GRAINS.elementwise) is None
    assert backward(np.ones((2, 4)), labels, 1.0, (3, 4), GRAINS.elementwise) is None
    assert backward(y, labels, 1.0, None, GRAINS.elementwise) is None  # no forward
    assert backward(None, labels, 1.0, (3, 4), GRAINS.elementwise) is None
    for dout in (np.float64(1.0), np.array(1.0), True, 10**400, "1", None):
        assert backward(y, labels, dout, (3, 4), GRAINS.elementwise) is None, dout
    assert backward(y, labels, 1.0, (3, 4), GRAINS.elementwise) is not None
    layer = zk.SoftmaxWithLoss()
    layer.forward(x, np.array([0, 3, 1]))
    with pytest.raises(OverflowError):
        layer.backward(10**400)
    with pytest.raises(TypeError, match="dout must be a real number"):
        layer.backward("1")


def test_affine_entry_points_are_np_dot_and_decline_mixed_dtypes(rng, dtype):
    x = rng.standard_normal((5, 6)).astype(dtype)
    W, b = rng.standard_normal((6, 3)).astype(dtype), rng.standard_normal(3).astype(dtype)
    dout = rng.standard_normal((5, 3)).astype(dtype)
    out = KERNELS.affine_forward_call(x, W, b, GRAINS.elementwise)
    assert_array_equal(out, np.dot(x, W) + b)
    dW, db, dx = KERNELS.affine_backward_call(dout, x, W, b, True, GRAINS.elementwise)
    assert_array_equal(dW, np.dot(x.T, dout))
    assert_array_equal(dx, np.dot(dout, W.T))
    assert db.shape == (3,) and dx.shape == x.shape
    assert KERNELS.affine_backward_call(dout, x, W, b, False, GRAINS.elementwise)[2] is None
    other = np.float64 if dtype is np.float32 else np.float32
    assert KERNELS.affine_forward_call(x.astype(other), W, b, GRAINS.elementwise) is None
    assert KERNELS.affine_forward_call(x, W, b[:2], GRAINS.elementwise) is None
    assert KERNELS.affine_forward_call(x[:, :5], W, b, GRAINS.elementwise) is None
    assert KERNELS.affine_forward_call(x.reshape(5, 2, 3), W, b, GRAINS.elementwise) is None
    assert KERNELS.affine_backward_call(dout, x, W, b[:2], True, GRAINS.elementwise) is None
    assert KERNELS.affine_backward_call(dout[:4], x, W, b, True, GRAINS.elementwise) is None
    # Any layout of W is fine: only np.dot reads it.
    assert_array_equal(KERNELS.affine_forward_call(x, np.asfortranarray(W), b, GRAINS.elementwise), out)


@pytest.mark.parametrize("layout", ["C", "strided"])
def test_affine_one_sample_dW_is_np_dots_outer_product(rng, dtype, layout, threads):
    """For N = 1 the entry point forms dW itself (an outer product): the
    same bits as np.dot, for a strided saved x too, at 1 and 2 threads."""
    base = rng.standard_normal((784, 3)).astype(dtype)
    x = base[:, 1:2].T if layout == "strided" else np.ascontiguousarray(base[:, 1:2].T)
    x[0, :4] = [0.0, -0.0, np.inf, 1e-30]
    W, b = rng.standard_normal((784, 50)).astype(dtype), rng.standard_normal(50).astype(dtype)
    dout = rng.standard_normal((1, 50)).astype(dtype)
    for n in (1, 2):
        threads(n)
        with forced_grain(1):
            dW, db, dx = KERNELS.affine_backward_call(dout, x, W, b, True, GRAINS.elementwise)
        assert_array_equal(dW, np.dot(x.T, dout))
        assert_array_equal(np.signbit(dW), np.signbit(np.dot(x.T, dout)))
        assert_array_equal(dx, np.dot(dout, W.T))
        assert_array_equal(db, dout[0])
    layer = zk.Affine(W, b)
    with np.errstate(invalid="ignore"):  # the inf in x: the forward output has NaN
        layer.forward(x)
    layer.backward(dout)
    assert_array_equal(layer.dW, np.dot(x.T, dout))


@pytest.mark.parametrize("kind", ["fortran", "strided", "byteswapped", "unaligned", "subclass", "int", "float16",
                                  "list"])
def test_uncommon_inputs_are_declined_and_still_right(rng, kind):
    x = rng.standard_normal((1, 6))
    given = _declined_inputs(x)[kind]
    assert KERNELS.relu_forward_call(given, GRAINS.elementwise) is None
    assert KERNELS.sigmoid_forward_call(given, GRAINS.exp) is None
    as_array = np.asarray(given)
    for name in ("Relu", "Sigmoid"):
        fast, ref = getattr(zk, name)(), getattr(zk.reference, name)()
        np.testing.assert_allclose(fast.forward(given), ref.forward(as_array), rtol=1e-12)
        np.testing.assert_allclose(fast.backward(given), ref.backward(as_array), rtol=1e-12)


def test_layers_take_the_entry_point_in_the_common_case(rng, monkeypatch):
    """A layer call in the common case runs the entry point and nothing else
    (the memoryview kernels of the general path are not reached)."""
    from zk_layers import layers

    class Spy:
        def __init__(self, table):
            self._table, self.used = table, []

        def __getattr__(self, name):
            self.used.append(name)
            return getattr(self._table, name)

    spy = Spy(KERNELS)
    monkeypatch.setattr(layers, "KERNELS", spy)
    x = rng.standard_normal((4, 10))
    relu, sig, loss = zk.Relu(), zk.Sigmoid(), zk.SoftmaxWithLoss()
    aff = zk.Affine(rng.standard_normal((10, 10)), np.zeros(10))
    relu.backward(relu.forward(x))
    sig.backward(sig.forward(x))
    aff.backward(aff.forward(x))
    loss.forward(x, np.array([1, 2, 3, 4]))
    loss.backward()
    assert all(name.endswith("_call") for name in spy.used), spy.used
    assert len(spy.used) == 8
