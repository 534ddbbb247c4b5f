# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Affine helpers around the BLAS products: bias add and the bias gradient.

The products x @ W, dout @ W.T and x.T @ dout go through NumPy's matmul
(BLAS); a hand-written loop is 3-5x slower than BLAS on our machines.  What
is left to us is what BLAS does not fuse:
    bias_add_inplace   out[i, :] += b           (after out = x @ W)
    bias_gradient      db[j] = sum_i dout[i, j] (rows added in order i = 0..N-1)
One pass over out / dout each.

What the caller guarantees (zk_layers/layers.py): out and dout are
C-contiguous (N, M) arrays, b and db contiguous with M elements, one dtype.

Parallelisation: bias_add_inplace cuts the rows into n_threads chunks;
bias_gradient cuts the columns into chunks, and every column is summed by one
thread over all rows in row order.  No partial sums are ever combined across
threads, so both are bitwise identical for every thread count, and
bias_gradient adds in the same order as NumPy's sum(axis=0) on a C-ordered
array.

One-call entry points (affine_forward_call, affine_backward_call) take the
layer's objects, check in C that the common case applies (x, dout and b
C-contiguous, W any layout, all of one float dtype, shapes that fit), and do
the whole method: the products through NumPy's dot (PyArray_MatrixProduct2,
the very function np.dot calls, so the results are np.dot's; dW = x.T @ dout
through np.matmul, the same BLAS call with less overhead for the transposed
x), except dW for one sample, an outer product, which a loop here forms with
the same bits faster than BLAS's GEMM; the bias add and the bias
gradient.  Anything else returns None and the layer validates
in Python.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from _common cimport (GIL_RELEASE_MIN_ITEMS, PyArray_MatrixProduct,
                      PyArray_MatrixProduct2, chunk_start, kernel_float_type,
                      threads_for_items)

from numpy import matmul as _matmul

from zk_layers._platform import threads_for as _threads_for  # the compiled policy

cnp.import_array()


cdef inline void _bias_add_rows(floating* out, const floating* b,
                                Py_ssize_t n_columns, Py_ssize_t start,
                                Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating* row
    for i in range(start, stop):
        row = out + i * n_columns
        for j in range(n_columns):
            row[j] = row[j] + b[j]


cdef inline void _bias_gradient_columns(const floating* dout, floating* db,
                                        Py_ssize_t n_rows, Py_ssize_t n_columns,
                                        Py_ssize_t start,
                                        Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    for j in range(start, stop):
        db[j] = 0
    for i in range(n_rows):
        row = dout + i * n_columns
        for j in range(start, stop):
            db[j] = db[j] + row[j]


cdef inline void _bias_add_run(floating* out, const floating* b, Py_ssize_t n,
                               Py_ssize_t n_columns, int n_threads) noexcept:
    cdef Py_ssize_t c
    if n == 0 or n_columns == 0:
        return
    if n_threads <= 1 and n * n_columns < GIL_RELEASE_MIN_ITEMS:
        _bias_add_rows(out, b, n_columns, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _bias_add_rows(out, b, n_columns, chunk_start(c, n_threads, n),
                           chunk_start(c + 1, n_threads, n))


cdef inline void _bias_gradient_run(const floating* dout, floating* db,
                                    Py_ssize_t n, Py_ssize_t n_columns,
                                    int n_threads) noexcept:
    cdef Py_ssize_t c, j
    if n_columns == 0:
        return
    if n == 0:
        for j in range(n_columns):
            db[j] = 0
        return
    if n_threads <= 1 and n * n_columns < GIL_RELEASE_MIN_ITEMS:
        _bias_gradient_columns(dout, db, n, n_columns, 0, n_columns)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _bias_gradient_columns(dout, db, n, n_columns,
                                   chunk_start(c, n_threads, n_columns),
                                   chunk_start(c + 1, n_threads, n_columns))


def bias_add_inplace(floating[:, ::1] out, const floating[::1] b,
                     int n_threads):
    if out.shape[0] and out.shape[1]:
        _bias_add_run(&out[0, 0], &b[0], out.shape[0], out.shape[1], n_threads)


def bias_gradient(const floating[:, ::1] dout, floating[::1] db,
                  int n_threads):
    if dout.shape[1] == 0:
        return
    if dout.shape[0] == 0:
        db[:] = 0
        return
    _bias_gradient_run(&dout[0, 0], &db[0], dout.shape[0], dout.shape[1],
                       n_threads)


cdef inline void _outer_rows(const char* x, Py_ssize_t x_stride, const floating* d,
                             floating* out, Py_ssize_t n_columns, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil:
    """out[i, :] = 0 + x[i] * d for rows i in [start, stop); x[i] is at byte
    offset i * x_stride (x is any 1-D view).  ``0 +`` as BLAS, which adds
    the products into a zeroed output (-0.0 -> 0.0)."""
    cdef Py_ssize_t i, j
    cdef floating xi, zero = 0
    cdef floating* row
    for i in range(start, stop):
        xi = (<const floating*>(x + i * x_stride))[0]
        row = out + i * n_columns
        for j in range(n_columns):
            row[j] = zero + xi * d[j]


cdef inline void _outer_run(const char* x, Py_ssize_t x_stride, const floating* d,
                            floating* out, Py_ssize_t n_rows, Py_ssize_t n_columns,
                            int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_rows == 0 or n_columns == 0:
        return
    if n_threads <= 1 and n_rows * n_columns < GIL_RELEASE_MIN_ITEMS:
        _outer_rows(x, x_stride, d, out, n_columns, 0, n_rows)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _outer_rows(x, x_stride, d, out, n_columns, chunk_start(c, n_threads, n_rows),
                        chunk_start(c + 1, n_threads, n_rows))


# ------------------------------------------------- one-call entry points
cdef inline bint _parameter(object obj, int typenum, int ndim) noexcept:
    """An exact ndarray of typenum and ndim, aligned, native byte order (any
    strides: only NumPy's dot reads W)."""
    if not cnp.PyArray_CheckExact(obj):
        return False
    return (cnp.PyArray_TYPE(<cnp.ndarray>obj) == typenum
            and cnp.PyArray_NDIM(<cnp.ndarray>obj) == ndim
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>obj)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>obj))


def affine_forward_call(object x, object W, object b, Py_ssize_t grain):
    """Affine.forward's common case: out = x @ W + b for a C-contiguous
    (N, D) x and W (D, M), b (M,) of x's float dtype, else None."""
    cdef int typenum = kernel_float_type(x)
    if (typenum < 0 or kernel_float_type(b) != typenum
            or not _parameter(W, typenum, 2)):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef cnp.ndarray Wa = <cnp.ndarray>W
    cdef cnp.ndarray ba = <cnp.ndarray>b
    if cnp.PyArray_NDIM(xa) != 2 or cnp.PyArray_NDIM(ba) != 1:
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = cnp.PyArray_DIMS(xa)[0]
    dims[1] = cnp.PyArray_DIMS(Wa)[1]
    if (cnp.PyArray_DIMS(xa)[1] != cnp.PyArray_DIMS(Wa)[0]
            or cnp.PyArray_DIMS(ba)[0] != dims[1]):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    PyArray_MatrixProduct2(xa, Wa, out)
    cdef int n_threads = threads_for_items(dims[0] * dims[1], grain,
                                           _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _bias_add_run(<double*>cnp.PyArray_DATA(out),
                      <const double*>cnp.PyArray_DATA(ba), dims[0], dims[1],
                      n_threads)
    else:
        _bias_add_run(<float*>cnp.PyArray_DATA(out),
                      <const float*>cnp.PyArray_DATA(ba), dims[0], dims[1],
                      n_threads)
    return out


def affine_backward_call(object dout, object x, object W, object b,
                         bint need_dx, Py_ssize_t grain):
    """Affine.backward's common case: ``(dW, db, dx)`` (dx None when not
    needed) for a C-contiguous (N, M) dout, the saved 2-D x (N, D), W (D, M)
    and b (M,) of one float dtype, else None.  b is not used, only checked,
    as the general path checks the parameters together."""
    cdef int typenum = kernel_float_type(dout)
    if (typenum < 0 or not _parameter(x, typenum, 2)
            or not _parameter(W, typenum, 2) or not _parameter(b, typenum, 1)):
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef cnp.ndarray Wa = <cnp.ndarray>W
    if cnp.PyArray_NDIM(da) != 2:
        return None
    cdef Py_ssize_t n = cnp.PyArray_DIMS(da)[0], m = cnp.PyArray_DIMS(da)[1]
    if (cnp.PyArray_DIMS(xa)[0] != n or cnp.PyArray_DIMS(Wa)[1] != m
            or cnp.PyArray_DIMS(xa)[1] != cnp.PyArray_DIMS(Wa)[0]
            or cnp.PyArray_DIMS(<cnp.ndarray>b)[0] != m):
        return None
    cdef cnp.ndarray dW = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(Wa), typenum, 0)
    cdef Py_ssize_t d_in = cnp.PyArray_DIMS(xa)[1]
    cdef int n_threads
    if n == 1:
        # One sample: dW is the outer product x[0] (x) dout[0], each element
        # one rounded product, as BLAS forms it.  BLAS takes it as a GEMM
        # with inner dimension 1 and spends most of its time packing.
        n_threads = threads_for_items(d_in * m, grain, _threads_for)
        if typenum == cnp.NPY_DOUBLE:
            _outer_run(<const char*>cnp.PyArray_DATA(xa), cnp.PyArray_STRIDES(xa)[1],
                       <const double*>cnp.PyArray_DATA(da), <double*>cnp.PyArray_DATA(dW),
                       d_in, m, n_threads)
        else:
            _outer_run(<const char*>cnp.PyArray_DATA(xa), cnp.PyArray_STRIDES(xa)[1],
                       <const float*>cnp.PyArray_DATA(da), <float*>cnp.PyArray_DATA(dW),
                       d_in, m, n_threads)
    else:
        # np.matmul, not np.dot: the same BLAS call and bits (tested), but
        # dot spends more on the transposed x (docs/performance.md).
        _matmul(cnp.PyArray_Transpose(xa, NULL), da, out=dW)
    cdef cnp.npy_intp m_dims[1]
    m_dims[0] = m
    cdef cnp.ndarray db = cnp.PyArray_EMPTY(1, m_dims, typenum, 0)
    n_threads = threads_for_items(n * m, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _bias_gradient_run(<const double*>cnp.PyArray_DATA(da),
                           <double*>cnp.PyArray_DATA(db), n, m, n_threads)
    else:
        _bias_gradient_run(<const float*>cnp.PyArray_DATA(da),
                           <float*>cnp.PyArray_DATA(db), n, m, n_threads)
    dx = PyArray_MatrixProduct(da, cnp.PyArray_Transpose(Wa, NULL)) if need_dx else None
    return dW, db, dx
