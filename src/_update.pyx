# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Parameter update kernel: SGD's ``param -= lr * grad`` in one pass.

What it computes: param[i] = param[i] - lr * grad[i], the same two roundings
as NumPy's ``param -= lr * grad`` (no fused multiply-add: -ffp-contract=off),
without NumPy's temporary array for ``lr * grad`` and its extra pass.

What the caller guarantees (zk_layers/optimizers.py): param and grad are
contiguous 1-D views of the same length and dtype that do not overlap.

Parallelisation: contiguous chunks with a static schedule; elementwise, so
bitwise identical for every thread count.
"""
from cython cimport floating
from cython.parallel cimport prange

from _common cimport GIL_RELEASE_MIN_ITEMS, chunk_start


cdef inline void _sgd_range(floating* param, const floating* grad, floating lr,
                            Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        param[i] = param[i] - lr * grad[i]


def sgd_update(floating[::1] param, const floating[::1] grad, double lr, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    cdef floating lr_as_floating = <floating>lr
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sgd_range(&param[0], &grad[0], lr_as_floating, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _sgd_range(&param[0], &grad[0], lr_as_floating, chunk_start(c, n_threads, n),
                   chunk_start(c + 1, n_threads, n))
