# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Affine, forward and backward: the glue, compiled once.

    forward    out = x @ W + b
    backward   dW = x.T @ dout;  db = sum_i dout[i, :];  dx = dout @ W.T

Each entry point is the one compiled path of a layer method: it checks in C
that the arrays are ready -- exact ndarrays of one float dtype, aligned,
native byte order, shapes that fit; x and W in any layout (only the
products read them), dout and b C-contiguous -- and does the whole method;
otherwise it returns None and does nothing.  zk_layers/layers.py calls it
with the caller's arrays and, when it declines, normalises them and calls it
again.  A product the layer formed itself (mixed dtypes: block by block in
the wider type) is handed in as ``product`` / ``dW``; the rest is the same.

The products, chosen here once: x @ W and dout @ W.T as np.dot forms them,
x.T @ dout as np.matmul does (less overhead for the transposed x than
np.dot, docs/performance.md), except for one sample, an outer product,
which the outer kernel forms with the same bits faster than BLAS's GEMM.
Where NumPy's BLAS can be called directly (src/_blas.pxi), the glue makes
the very BLAS call np.dot or np.matmul would make, without their overhead;
otherwise, and for every case that route leaves to NumPy, it calls
PyArray_MatrixProduct2 / PyArray_MatrixProduct, the functions np.dot
calls, or np.matmul.  Either way the bits are NumPy's.

The kernels (bias add, bias gradient, outer product) are
src/_cpu_affine.pyx, called through the table that ``bind`` installs.  The
bias add cuts the rows between threads and the bias gradient the columns,
each column summed by one thread in row order: no partial sums are
combined, so results are bitwise identical for every thread count.
"""
cimport numpy as cnp

from _common cimport PyArray_MatrixProduct, PyArray_MatrixProduct2, kernel_float_type
from _tables cimport GRAIN_ELEMENTWISE, AffineKernels

from numpy import errstate as _errstate
from numpy import matmul as _np_matmul

ctypedef AffineKernels Table
cdef const char* TABLE_NAME = "zk_layers.AffineKernels"
include "_glue.pxi"
include "_blas.pxi"  # _dot, _matmul: NumPy's BLAS calls, made directly


def dot(object a, object b, object out):
    """np.dot(a, b, out=out), as the entry points call it: the one product
    call, for the layer's own block-by-block products too."""
    return PyArray_MatrixProduct2(a, b, <cnp.ndarray?>out)


# The runners, one per kernel signature (src/_runners.pxi.tp); the entry
# points pick the float32 or float64 kernel of the table with the array type.
include "_affine_runners.pxi"


# ---------------------------------------------------------- entry points
cdef inline bint _operand(object obj, int typenum, int ndim) noexcept:
    """An exact ndarray of typenum and ndim, aligned, native byte order (any
    strides: only the products read it)."""
    if not cnp.PyArray_CheckExact(obj):
        return False
    return (cnp.PyArray_TYPE(<cnp.ndarray>obj) == typenum
            and cnp.PyArray_NDIM(<cnp.ndarray>obj) == ndim
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>obj)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>obj))


cdef inline cnp.npy_intp _dim(object a, int axis) noexcept:
    """The length of an ndarray's axis (its dimensions are checked first)."""
    return cnp.PyArray_DIMS(<cnp.ndarray>a)[axis]


cdef inline bint _fresh_matrix(object obj, int typenum, cnp.npy_intp rows,
                               cnp.npy_intp columns) noexcept:
    """A product the layer formed: a C-contiguous (rows, columns) array."""
    return (kernel_float_type(obj) == typenum and cnp.PyArray_NDIM(<cnp.ndarray>obj) == 2
            and cnp.PyArray_DIMS(<cnp.ndarray>obj)[0] == rows
            and cnp.PyArray_DIMS(<cnp.ndarray>obj)[1] == columns)


def affine_forward(object x, object W, object b, object product=None):
    """out = x @ W + b for a 2-D x (N, D), W (D, M) and a C-contiguous b
    (M,) of one float dtype; ``product``, when given, is x @ W, formed by
    the layer (C-contiguous (N, M), b's dtype; x is then not read).  None
    when the arrays are not ready."""
    cdef int typenum = kernel_float_type(b)
    if typenum < 0 or not _operand(W, typenum, 2) or cnp.PyArray_NDIM(<cnp.ndarray>b) != 1:
        return None
    if not cnp.PyArray_Check(x) or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    if product is None and not _operand(x, typenum, 2):
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = _dim(x, 0)
    dims[1] = _dim(W, 1)
    if _dim(x, 1) != _dim(W, 0) or _dim(b, 0) != dims[1]:
        return None
    cdef cnp.ndarray out
    cdef const void* bias = cnp.PyArray_DATA(<cnp.ndarray>b)
    if product is None:
        out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
        if not _dot(x, W, out):
            PyArray_MatrixProduct2(x, W, out)
    elif _fresh_matrix(product, typenum, dims[0], dims[1]):
        out = <cnp.ndarray>product
    else:
        return None
    cdef int n_threads = _threads(dims[0] * dims[1], GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_bias_add(K.bias_add_f64, <double*>cnp.PyArray_DATA(out), <const double*>bias,
                      dims[1], dims[0], n_threads)
    else:
        _run_bias_add(K.bias_add_f32, <float*>cnp.PyArray_DATA(out), <const float*>bias,
                      dims[1], dims[0], n_threads)
    return out


def affine_backward(object dout, object x, object W, object b,
                    bint need_dx, object dW=None, bint checked=False, object owner=None):
    """``(dW, db, dx)`` (dx None when not needed) for a C-contiguous (N, M)
    dout, the saved 2-D x (N, D), W (D, M) and b (M,) of one float dtype;
    ``dW``, when given, is x.T @ dout, formed by the layer (C-contiguous
    (D, M); x is then not read and may have another dtype).  b is only
    checked, as the layer checks the parameters together; ``checked``: the
    layer has checked them, and W need only be ready when dx is formed.
    ``owner``, when given, is the layer: once the arrays are known to be
    ready, its ``dW`` is dropped before the new one is allocated (see
    below), so a backward that fails after that (out of memory) leaves it
    None.  None when the arrays are not ready."""
    cdef int typenum = kernel_float_type(dout)
    if typenum < 0 or not cnp.PyArray_Check(x) or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    if not checked:
        if not (_operand(W, typenum, 2) and _operand(b, typenum, 1)):
            return None
    elif not (cnp.PyArray_Check(W) and cnp.PyArray_NDIM(<cnp.ndarray>W) == 2
              and cnp.PyArray_Check(b) and cnp.PyArray_NDIM(<cnp.ndarray>b) == 1):
        return None
    elif need_dx and not _operand(W, typenum, 2):
        return None
    if dW is None and not _operand(x, typenum, 2):
        return None
    if cnp.PyArray_NDIM(<cnp.ndarray>dout) != 2:
        return None
    cdef Py_ssize_t n = _dim(dout, 0), m = _dim(dout, 1), d_in = _dim(x, 1)
    if _dim(x, 0) != n or _dim(W, 1) != m or _dim(W, 0) != d_in or _dim(b, 0) != m:
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef cnp.ndarray Wa = <cnp.ndarray>W
    cdef cnp.ndarray dWa
    if dW is not None:
        if not _fresh_matrix(dW, typenum, d_in, m):
            return None
        dWa = <cnp.ndarray>dW
    else:
        if owner is not None:
            # The layer's last dW, about to be replaced, is dropped first:
            # when nobody else holds it, the allocator hands its memory,
            # still in cache, to the new one, where a step would otherwise
            # cycle through two buffers of W's size (docs/performance.md).
            owner.dW = None
        dWa = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(Wa), typenum, 0)
        if n == 1:
            # One sample: dW is the outer product x[0] (x) dout[0], each
            # element one rounded product, as BLAS forms it.  BLAS takes it
            # as a GEMM with inner dimension 1 and spends most of its time
            # packing.
            if typenum == cnp.NPY_DOUBLE:
                _run_outer(K.outer_f64, <const char*>cnp.PyArray_DATA(xa), cnp.PyArray_STRIDES(xa)[1],
                           <const double*>cnp.PyArray_DATA(da), <double*>cnp.PyArray_DATA(dWa),
                           m, d_in, _threads(d_in * m, GRAIN_ELEMENTWISE))
            else:
                _run_outer(K.outer_f32, <const char*>cnp.PyArray_DATA(xa), cnp.PyArray_STRIDES(xa)[1],
                           <const float*>cnp.PyArray_DATA(da), <float*>cnp.PyArray_DATA(dWa),
                           m, d_in, _threads(d_in * m, GRAIN_ELEMENTWISE))
        else:
            xT = cnp.PyArray_Transpose(xa, NULL)
            if not _matmul(xT, da, dWa):
                # np.matmul reports the floating-point flags that BLAS leaves
                # set (an overflow to inf); np.dot, the book's and the other
                # products', does not.
                with _errstate(all="ignore"):
                    _np_matmul(xT, da, out=dWa)
    cdef cnp.npy_intp m_dims[1]
    m_dims[0] = m
    cdef cnp.ndarray db = cnp.PyArray_EMPTY(1, m_dims, typenum, 0)
    cdef int n_threads = _threads(n * m, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_bias_gradient(K.bias_gradient_f64, <const double*>cnp.PyArray_DATA(da),
                           <double*>cnp.PyArray_DATA(db), n, m, n_threads)
    else:
        _run_bias_gradient(K.bias_gradient_f32, <const float*>cnp.PyArray_DATA(da),
                           <float*>cnp.PyArray_DATA(db), n, m, n_threads)
    if not need_dx:
        return dWa, db, None
    WT = cnp.PyArray_Transpose(Wa, NULL)
    cdef cnp.npy_intp dx_dims[2]
    dx_dims[0] = n
    dx_dims[1] = d_in
    cdef cnp.ndarray dx
    if _blas_on:
        dx = cnp.PyArray_EMPTY(2, dx_dims, typenum, 0)
        if _dot(da, WT, dx):
            return dWa, db, dx
    return dWa, db, PyArray_MatrixProduct(da, WT)
