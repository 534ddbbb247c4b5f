"""Affine's products through NumPy's BLAS routines called directly
(src/_blas.pxi): bit for bit what np.dot and np.matmul give, on every case
the route takes, and NumPy's own route for every case it leaves alone."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import zk_layers as zk
from zk_layers import _affine, _kernels

needs_direct = pytest.mark.skipif(_kernels.DIRECT_BLAS is None,
                                  reason="this NumPy's BLAS is not one the layers call directly")


@contextlib.contextmanager
def direct(on: bool) -> Iterator[None]:
    was = _kernels.DIRECT_BLAS is not None
    _affine.use_blas(on)
    try:
        yield
    finally:
        _affine.use_blas(was)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


def _layouts(a: np.ndarray) -> list[np.ndarray]:
    """a as C order, Fortran order and a strided view: NumPy multiplies the
    last by a copy, which the direct route leaves to it."""
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
    wide[:, ::2] = a
    return [a, np.asfortranarray(a), wide[:, ::2]]


SHAPES = [(n, k, m) for n in (1, 2, 3, 8, 33) for k in (1, 2, 7, 50) for m in (1, 2, 10)]


@needs_direct
@pytest.mark.parametrize("n,k,m", SHAPES, ids=str)
def test_direct_dot_is_np_dot_bit_for_bit(rng, n, k, m, dtype):
    taken = 0
    for a in _layouts(rng.standard_normal((n, k)).astype(dtype)):
        for b in _layouts(rng.standard_normal((k, m)).astype(dtype)):
            got = _affine.direct_dot(a, b)
            if got is not None:
                taken += 1
                assert got.dtype == dtype and got.flags.c_contiguous
                assert_array_equal(_bits(got), _bits(np.dot(a, b)))
    # The route takes a matrix times a matrix, both C- or Fortran-ordered, and
    # a row (of any positive stride, as np.dot reads it) times such a matrix.
    assert taken == (0 if k < 2 or m < 2 else 4 if n > 1 else 6)


def _padded(a: np.ndarray) -> np.ndarray:
    """a as a view of wider rows: a leading dimension above its width."""
    wide = np.zeros((a.shape[0], a.shape[1] + 3), a.dtype)
    wide[:, :a.shape[1]] = a
    return wide[:, :a.shape[1]]


@needs_direct
@pytest.mark.parametrize("n,k,m", SHAPES, ids=str)
def test_direct_matmul_is_np_matmul_bit_for_bit(rng, n, k, m, dtype):
    # The layer's x.T @ dout: a (k, n) view of a C-ordered (n, k) array, or
    # of rows longer than k (a column slice of a wider x).
    x = rng.standard_normal((n, k)).astype(dtype)
    d = rng.standard_normal((n, m)).astype(dtype)
    taken = 0
    for a in (x.T, np.ascontiguousarray(x.T), _padded(x).T):
        for b in [*_layouts(d), _padded(d)]:
            got = _affine.direct_matmul(a, b)
            if got is not None:
                taken += 1
                assert_array_equal(_bits(got), _bits(np.matmul(a, b)))
    # Every layout but the strided one, whose rows are not contiguous.
    assert taken == (9 if min(n, k, m) > 1 else 0)


@needs_direct
def test_direct_route_leaves_numpy_its_special_cases(rng):
    W = rng.standard_normal((6, 6))
    # A matrix times its own transpose: NumPy calls syrk, not gemm.
    assert _affine.direct_dot(W, W.T) is None
    assert _affine.direct_matmul(W.T, W) is None
    assert _affine.direct_dot(W.T, W) is None
    # No rows, negative strides, mixed dtypes, other dtypes.
    assert _affine.direct_dot(np.empty((0, 6)), W) is None
    assert _affine.direct_dot(W[::-1], W) is None
    assert _affine.direct_dot(W.astype(np.float32), W) is None
    assert _affine.direct_dot(W.astype(np.int64), W.astype(np.int64)) is None
    # A copy of W is not W: gemm, and np.dot's bits all the same.
    V = W.copy()
    assert_array_equal(_affine.direct_dot(V, W.T), np.dot(V, W.T))


@needs_direct
@pytest.mark.parametrize("n", [1, 2, 9])
def test_direct_products_never_read_their_output(rng, n, dtype):
    """np.dot zeroes its output before BLAS; the direct gemm does not (beta 0
    never reads it): an output full of NaN gives the same bits."""
    W = rng.standard_normal((12, 5)).astype(dtype)
    x, d = rng.standard_normal((n, 12)).astype(dtype), rng.standard_normal((n, 5)).astype(dtype)
    for call, numpy_call, a, b in ((_affine.direct_dot, np.dot, x, W), (_affine.direct_dot, np.dot, d, W.T),
                                   (_affine.direct_matmul, np.matmul, x.T, d)):
        expected = numpy_call(a, b)
        got = call(a, b, np.full(expected.shape, np.nan, dtype))
        if got is not None:
            assert_array_equal(_bits(got), _bits(expected))


def test_direct_route_switched_off_takes_nothing(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    with direct(False):
        assert _affine.direct_dot(a, b) is None
        assert _affine.direct_matmul(a, b) is None


@needs_direct
def test_direct_route_is_on_where_numpy_links_an_ilp64_cblas():
    assert _kernels.DIRECT_BLAS in ("scipy_cblas_", "cblas_")
    assert _kernels._direct_products_agree()


@needs_direct
def test_a_probe_that_disagrees_switches_the_route_off(monkeypatch, rng):
    real = _affine.direct_dot
    monkeypatch.setattr(_affine, "direct_dot", lambda a, b, out=None: np.zeros((a.shape[0], b.shape[1]), a.dtype))
    try:
        assert _kernels._bind_blas() is None
        monkeypatch.setattr(_affine, "direct_dot", real)
        a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
        assert _affine.direct_dot(a, b) is None  # off: the layers call NumPy
    finally:
        monkeypatch.setattr(_affine, "direct_dot", real)
        assert _kernels._bind_blas() == _kernels.DIRECT_BLAS


@needs_direct
@pytest.mark.parametrize("n", [1, 2, 8, 100])
def test_affine_gives_the_same_bits_with_and_without_the_direct_route(rng, n, dtype):
    W = rng.standard_normal((50, 20)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    x = rng.standard_normal((n, 50)).astype(dtype)
    dout = rng.standard_normal((n, 20)).astype(dtype)
    results = []
    for on in (True, False):
        with direct(on):
            layer = zk.Affine(W, b)
            out = layer.forward(x)
            dx = layer.backward(dout)
            results.append((out, dx, layer.dW, layer.db))
    for fast, numpy_route in zip(*results, strict=True):
        assert_array_equal(_bits(fast), _bits(numpy_route))


def test_affine_backward_gives_new_gradients_and_leaves_the_ones_held(rng):
    """Backward drops its last dW before allocating the next (so that its
    memory can be reused): a dW the caller still holds keeps its values."""
    W, b = rng.standard_normal((30, 4)), rng.standard_normal(4)
    layer = zk.Affine(W, b)
    for n in (1, 5):
        x = rng.standard_normal((n, 30))
        layer.forward(x)
        layer.backward(np.ones((n, 4)))
        held, held_values = layer.dW, layer.dW.copy()
        layer.backward(np.full((n, 4), 2.0))
        assert layer.dW is not held
        assert_array_equal(held, held_values)
        assert_array_equal(layer.dW, 2.0 * held_values)


def test_affine_failed_backward_keeps_the_last_gradients(rng):
    W, b = rng.standard_normal((30, 4)), rng.standard_normal(4)
    layer = zk.Affine(W, b)
    layer.forward(rng.standard_normal((3, 30)))
    layer.backward(np.ones((3, 4)))
    dW, db = layer.dW, layer.db
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((2, 4)))
    assert layer.dW is dW and layer.db is db


def test_a_subclass_whose_dW_is_a_property_gets_every_gradient(rng):
    """The glue drops the last dW only where it is a plain attribute: a
    subclass's dW setter sees only the gradients (and the constructor's None)."""

    class Recording(zk.Affine):
        @property
        def dW(self):  # noqa: N802 (the book's name)
            return self._dW

        @dW.setter
        def dW(self, value):  # noqa: N802
            self.__dict__.setdefault("set_to", []).append(value)
            self._dW = value

    W, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    layer = Recording(W, b)
    assert layer.set_to == [None]
    for n in (1, 4):
        x = rng.standard_normal((n, 6))
        layer.forward(x)
        layer.set_to.clear()
        layer.backward(np.ones((n, 3)))
        layer.backward(2 * np.ones((n, 3)))
        assert len(layer.set_to) == 2 and all(value is not None for value in layer.set_to)
        assert_array_equal(layer.set_to[1], 2 * layer.set_to[0])
