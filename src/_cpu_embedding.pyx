# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Embedding's kernels, the gather and the scatter-add: built once per
instruction set.

The contracts are in src/_tables.pxd (EmbeddingKernels); the glue,
src/_embedding.pyx, checks the arrays and every index (each in [0, V)) and
splits the work between threads.  No Python object here.

The scatter-add works on a range of dW's rows: it zeroes them, then adds
dout's rows, in their order, to those that land in its range.  Every row of
dW is summed by one thread in the order of the indices, as np.add.at adds
them, so the result is bitwise the same at every thread count.
"""
from cython cimport floating
from libc.string cimport memset


cdef void _gather_rows(const floating* W, const Py_ssize_t* idx, floating* out,
                       Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    for i in range(start, stop):
        row = W + idx[i] * d
        for j in range(d):
            out[i * d + j] = row[j]


cdef void _scatter_add_rows(const floating* dout, const Py_ssize_t* idx, floating* dW,
                            Py_ssize_t n, Py_ssize_t d, Py_ssize_t start,
                            Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t k, j, r
    cdef floating* row
    cdef const floating* src
    if stop > start:
        memset(dW + start * d, 0, <size_t>((stop - start) * d) * sizeof(floating))
    for k in range(n):
        r = idx[k]
        if r < start or r >= stop:
            continue
        row = dW + r * d
        src = dout + k * d
        for j in range(d):
            row[j] = row[j] + src[j]


include "_cpu_embedding_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
