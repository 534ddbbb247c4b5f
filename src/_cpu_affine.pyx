# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Affine's kernels around the BLAS products: built once per instruction set.

The bias add, the bias gradient (rows added in order i = 0..N-1, as NumPy's
sum(axis=0) on a C-ordered array) and the one-sample outer product; each
computes a range of rows or columns (contracts: src/_tables.pxd,
AffineKernels).  The glue, src/_affine.pyx, owns the checks, the products,
the allocation and the threads.  No Python object here.
"""
from cython cimport floating


cdef void _bias_add_rows(floating* out, const floating* b,
                         Py_ssize_t n_columns, Py_ssize_t start,
                         Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef floating* row
    for i in range(start, stop):
        row = out + i * n_columns
        for j in range(n_columns):
            row[j] = row[j] + b[j]


cdef void _bias_gradient_columns(const floating* dout, floating* db,
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


cdef void _outer_rows(const char* x, Py_ssize_t x_stride, const floating* d,
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


include "_cpu_affine_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
