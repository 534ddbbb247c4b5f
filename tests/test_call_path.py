"""The one-call entry points: the common case in one compiled call.

Each layer method first offers its arguments to its compiled entry point
(``zk_layers._activations.relu_forward``, ...), the one compiled path of
the method.  It must take exactly the arrays its kernels can read as they
are -- exact ndarrays, contiguous, native byte order, one float dtype,
matching shapes -- and compute what the reference computes; everything else
it must decline (return None), so that the layer normalises it, with the
documented errors, and calls the same entry point again.  These tests pin
both halves.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import zk_layers as zk
from zk_layers import _activations, _affine, _softmax_loss
from zk_layers._threads import forced_grain


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
    out, mask = _activations.relu_forward(x)
    ref = zk.reference.Relu()
    assert_array_equal(out, ref.forward(x))
    assert_array_equal(mask, ref.mask)
    assert_array_equal(_activations.relu_backward(dout, mask), ref.backward(dout))
    y = _activations.sigmoid_forward(x)
    assert y.dtype == dtype
    sig = zk.reference.Sigmoid()
    np.testing.assert_allclose(y, sig.forward(x), rtol=1e-6 if dtype is np.float32 else 1e-15)
    np.testing.assert_allclose(_activations.sigmoid_backward(dout, y),
                               dout * (1 - y) * y, rtol=1e-6 if dtype is np.float32 else 1e-15)


def test_elementwise_entry_points_write_given_outputs_in_either_order(rng, dtype):
    """Given outputs are written and returned; Fortran-ordered arrays pair
    up element by element; arrays that do not pair up are declined."""
    x = np.asfortranarray(rng.standard_normal((3, 7)).astype(dtype))
    out, mask = np.empty_like(x), np.empty(x.shape, np.bool_, order="F")
    got = _activations.relu_forward(x, out, mask)
    assert got[0] is out and got[1] is mask
    assert_array_equal(out, np.maximum(x, 0))
    assert_array_equal(mask, x <= 0)
    dx = np.empty_like(x)
    assert _activations.relu_backward(x, mask, dx) is dx
    assert_array_equal(dx, np.where(mask, 0, x))
    assert _activations.relu_forward(x, np.empty(x.shape, dtype)) is None  # C-ordered out, F-ordered x
    assert _activations.relu_forward(x, out[:, :3]) is None  # wrong shape
    assert _activations.relu_forward(x, out.astype(np.float16)) is None  # wrong type
    readonly = np.empty_like(x)
    readonly.flags.writeable = False
    assert _activations.sigmoid_forward(x, readonly) is None
    assert _activations.relu_backward(x, mask.astype(np.uint8)) is None  # the mask must be boolean
    assert _activations.sigmoid_backward(x, x.astype(np.float16)) is None


@pytest.mark.parametrize("labels", ["indices", "int32", "column", "one-hot"])
def test_softmax_entry_point_takes_the_book_label_forms(rng, dtype, labels):
    x = rng.standard_normal((4, 5)).astype(dtype)
    t = np.array([0, 4, 2, 2])
    given = {"indices": t, "int32": t.astype(np.int32), "column": t.reshape(4, 1),
             "one-hot": np.eye(5, dtype=dtype)[t]}[labels]
    loss, y, own = _softmax_loss.softmax_loss_forward(x, given, 1e-7)
    assert own.dtype == np.intp and not np.shares_memory(own, given)
    assert_array_equal(own, t)
    ref = zk.reference.SoftmaxWithLoss()
    np.testing.assert_allclose(loss, ref.forward(x, t), rtol=1e-6 if dtype is np.float32 else 1e-13)
    for dout in (1, 1.0, 2.5, -3):
        dx = _softmax_loss.softmax_loss_backward(y, own, dout, (4, 5))
        np.testing.assert_allclose(dx, ref.backward(dout), rtol=1e-5 if dtype is np.float32 else 1e-12,
                                   atol=1e-7)


def test_softmax_entry_point_declines_what_the_general_path_must_report(rng):
    x = rng.standard_normal((3, 4))
    call = _softmax_loss.softmax_loss_forward
    for t in (np.array([0, 4, 1]), np.array([0, -1, 1]), np.array([0, 1]), np.array([0.0, 1.0, 2.0]),
              np.array([[1, 0, 0, 0]] * 3, float) * 2, np.eye(4)[[0, 1, 2]].astype(np.float32),
              np.array([0, 1, 2], np.uint64), [0, 1, 2]):
        assert call(x, t, 1e-7) is None, t
    assert call(np.empty((0, 4)), np.empty(0, np.intp), 1e-7) is None
    assert call(x[0], np.array(1), 1e-7) is None  # one sample: general path
    _, y, labels = call(x, np.array([0, 3, 1]), 1e-7)
    # Backward checks y against the number of classes forward checked, and
    # takes only a Python int or float dout (the general path converts or
    # reports the rest: NumPy scalars, arrays, bool, ints too large).
    backward = _softmax_loss.softmax_loss_backward
    assert backward(np.ones((3, 2)), labels, 1.0, (3, 4)) is None
    assert backward(np.ones((3, 4)), labels, 1.0, (3, 3)) is None
    assert backward(np.ones((2, 4)), labels, 1.0, (3, 4)) is None
    assert backward(y, labels, 1.0, None) is None  # no forward
    assert backward(None, labels, 1.0, (3, 4)) is None
    for dout in (np.float64(1.0), np.array(1.0), True, 10**400, "1", None):
        assert backward(y, labels, dout, (3, 4)) is None, dout
    assert backward(y, labels, 1.0, (3, 4)) is not None
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
    out = _affine.affine_forward(x, W, b)
    assert_array_equal(out, np.dot(x, W) + b)
    dW, db, dx = _affine.affine_backward(dout, x, W, b, True)
    assert_array_equal(dW, np.dot(x.T, dout))
    assert_array_equal(dx, np.dot(dout, W.T))
    assert db.shape == (3,) and dx.shape == x.shape
    assert _affine.affine_backward(dout, x, W, b, False)[2] is None
    other = np.float64 if dtype is np.float32 else np.float32
    assert _affine.affine_forward(x.astype(other), W, b) is None
    assert _affine.affine_forward(x, W, b[:2]) is None
    assert _affine.affine_forward(x[:, :5], W, b) is None
    assert _affine.affine_forward(x.reshape(5, 2, 3), W, b) is None
    assert _affine.affine_backward(dout, x, W, b[:2], True) is None
    assert _affine.affine_backward(dout[:4], x, W, b, True) is None
    # Any layout of x and W is fine: only np.dot reads them.
    assert_array_equal(_affine.affine_forward(x, np.asfortranarray(W), b), out)
    assert_array_equal(_affine.affine_forward(np.asfortranarray(x), W, b), out)
    # A product the layer formed is taken, and only the bias is added.
    product = np.dot(x, W)
    assert _affine.affine_forward(x.astype(other), W, b, product) is product
    assert_array_equal(product, out)
    assert _affine.affine_forward(x, W, b, product[:, :2].copy()) is None


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
            dW, db, dx = _affine.affine_backward(dout, x, W, b, True)
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
    # The elementwise kernels read flat memory: a Fortran-ordered or an
    # unaligned array is taken as it is.
    taken = kind in ("fortran", "unaligned")
    assert (_activations.relu_forward(given) is not None) is taken
    assert (_activations.sigmoid_forward(given) is not None) is taken
    as_array = np.asarray(given)
    for name in ("Relu", "Sigmoid"):
        fast, ref = getattr(zk, name)(), getattr(zk.reference, name)()
        np.testing.assert_allclose(fast.forward(given), ref.forward(as_array), rtol=1e-12)
        np.testing.assert_allclose(fast.backward(given), ref.backward(as_array), rtol=1e-12)


def test_layers_take_the_entry_point_in_the_common_case(rng, monkeypatch):
    """A layer call in the common case runs the entry point and nothing else
    (no other entry point of the core, and no NumPy call)."""
    from zk_layers import layers

    class Spy:
        def __init__(self, table):
            self._table, self.used = table, []

        def __getattr__(self, name):
            self.used.append(name)
            return getattr(self._table, name)

    spies = {name: Spy(getattr(layers, name)) for name in ("_activations", "_affine", "_softmax_loss", "np")}
    for name, spy in spies.items():
        monkeypatch.setattr(layers, name, spy)
    x = rng.standard_normal((4, 10))
    relu, sig, loss = zk.Relu(), zk.Sigmoid(), zk.SoftmaxWithLoss()
    aff = zk.Affine(rng.standard_normal((10, 10)), np.zeros(10))
    relu.backward(relu.forward(x))
    sig.backward(sig.forward(x))
    aff.backward(aff.forward(x))
    loss.forward(x, np.array([1, 2, 3, 4]))
    loss.backward()
    assert spies["_activations"].used == ["relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward"]
    assert spies["_affine"].used == ["affine_forward", "affine_backward"]
    assert spies["_softmax_loss"].used == ["softmax_loss_forward", "softmax_loss_backward"]
    assert spies["np"].used == []  # no NumPy call in the Python methods


def _twin(a: np.ndarray) -> np.ndarray:
    """An unaligned copy of ``a``: the same values at an odd byte offset."""
    twin = _unaligned(a.shape, a.dtype.type)
    twin[...] = a
    return twin


def test_unaligned_arrays_reach_every_kernel_with_the_bits_of_aligned_ones(rng, dtype):
    """An unaligned array (a view at an odd byte offset) is taken where the
    kernels read it as it is and copied once where they need alignment;
    either way every layer gives the bits the aligned array gives."""
    x = rng.standard_normal((4, 6)).astype(dtype)
    dout = rng.standard_normal((4, 6)).astype(dtype)
    W, b = rng.standard_normal((6, 6)).astype(dtype), rng.standard_normal(6).astype(dtype)
    images = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    filters, bias = rng.standard_normal((3, 2, 3, 3)).astype(dtype), rng.standard_normal(3).astype(dtype)
    t = np.array([0, 5, 2, 1])

    def run(twin):
        out = []
        for layer in (zk.Relu(), zk.Sigmoid()):
            out += [layer.forward(twin(x)), layer.backward(twin(dout))]
        affine = zk.Affine(twin(W), twin(b))
        out += [affine.forward(twin(x)), affine.backward(twin(dout)), affine.dW, affine.db]
        loss = zk.SoftmaxWithLoss()
        out += [np.array(loss.forward(twin(x), t)), loss.backward()]
        norm = zk.BatchNormalization(twin(np.ones(6, dtype)), twin(np.zeros(6, dtype)))
        out += [norm.forward(twin(x)), norm.backward(twin(dout)), norm.dgamma, norm.dbeta]
        np.random.seed(0)  # noqa: NPY002 (Dropout draws from the book's generator)
        drop = zk.Dropout(0.5)
        out += [drop.forward(twin(x)), drop.backward(twin(dout)), drop.forward(twin(x), train_flg=False)]
        conv = zk.Convolution(twin(filters), twin(bias), 1, 1)
        y = conv.forward(twin(images))
        out += [y, conv.backward(twin(np.ones_like(y))), conv.dW, conv.db]
        pool = zk.Pooling(2, 2, 2)
        y = pool.forward(twin(images))
        out += [y, pool.backward(twin(np.ones_like(y)))]
        col = zk.im2col(twin(images), 3, 3, 1, 1)
        out += [col, zk.col2im(twin(col), images.shape, 3, 3, 1, 1)]
        for optimizer in (zk.SGD(), zk.Adam()):
            params = {"W": twin(W)}
            optimizer.update(params, {"W": twin(W * 0.1)})
            out.append(params["W"])
        return out

    for aligned, unaligned in zip(run(np.array), run(_twin), strict=True):
        assert_array_equal(np.atleast_1d(unaligned).view(np.uint8), np.atleast_1d(aligned).view(np.uint8))
