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
"""
from cython cimport floating
from cython.parallel cimport prange

from _common cimport GIL_RELEASE_MIN_ITEMS, chunk_start


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


def bias_add_inplace(floating[:, ::1] out, const floating[::1] b,
                     int n_threads):
    cdef Py_ssize_t n = out.shape[0], n_columns = out.shape[1], c
    if n == 0 or n_columns == 0:
        return
    if n_threads <= 1 and n * n_columns < GIL_RELEASE_MIN_ITEMS:
        _bias_add_rows(&out[0, 0], &b[0], n_columns, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _bias_add_rows(&out[0, 0], &b[0], n_columns,
                       chunk_start(c, n_threads, n),
                       chunk_start(c + 1, n_threads, n))


def bias_gradient(const floating[:, ::1] dout, floating[::1] db,
                  int n_threads):
    cdef Py_ssize_t n = dout.shape[0], n_columns = dout.shape[1], c
    if n_columns == 0:
        return
    if n == 0:
        db[:] = 0
        return
    if n_threads <= 1 and n * n_columns < GIL_RELEASE_MIN_ITEMS:
        _bias_gradient_columns(&dout[0, 0], &db[0], n, n_columns,
                               0, n_columns)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _bias_gradient_columns(&dout[0, 0], &db[0], n, n_columns,
                               chunk_start(c, n_threads, n_columns),
                               chunk_start(c + 1, n_threads, n_columns))
