# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Elementwise kernels: Relu and Sigmoid, forward and backward.

What they compute (out, mask, dx are written; everything else is read):
    relu_forward      mask = x <= 0;  out = 0 where mask else x
    relu_backward     dx = 0 where mask else dout
    sigmoid_forward   out = 1 / (1 + exp(-x))
    sigmoid_backward  dx = dout * (1 - out) * out
One pass over memory each: every input element is read once and every output
element written once; Relu forward produces its output and the book's mask in
that same pass.

What the caller guarantees (zk_layers/layers.py does it): all arrays are 1-D
views of contiguous buffers of the same length, in the same element order,
and float arrays share one dtype.  No bounds are checked here.

Parallelisation: [0, n) is cut into n_threads contiguous chunks
(chunk_start) with a static schedule.  Each element is computed by the same
arithmetic whatever thread runs it and nothing is reduced, so results are
bitwise identical for every thread count.  Small work (n_threads == 1 and
fewer than GIL_RELEASE_MIN_ITEMS elements) runs inline, with no parallel
region; everything else runs in a prange region without the GIL.

Sigmoid uses the formula of the book.  exp(-x) overflows to +inf for very
negative x and 1 / (1 + inf) is exactly 0, the correctly rounded answer, so
no special case is needed; the overflow raises no Python warning because no
NumPy ufunc is involved.  float32 arrays are computed in float32 (zk_expf),
float64 in float64 (zk_exp).
"""
from cython cimport floating
from cython.parallel cimport prange

from _common cimport GIL_RELEASE_MIN_ITEMS, chunk_start, zk_exp, zk_expf


cdef inline void _relu_forward_range(const floating* x, floating* out,
                                     unsigned char* mask, Py_ssize_t start,
                                     Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint not_positive
    for i in range(start, stop):
        # `x <= 0` is false for NaN, so NaN passes through as in NumPy.
        not_positive = x[i] <= 0
        mask[i] = not_positive
        out[i] = 0 if not_positive else x[i]


cdef inline void _relu_backward_range(const floating* dout,
                                      const unsigned char* mask, floating* dx,
                                      Py_ssize_t start,
                                      Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        dx[i] = 0 if mask[i] else dout[i]


cdef inline void _sigmoid_forward_range(const floating* x, floating* out,
                                        Py_ssize_t start,
                                        Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    # A typed 1 keeps float32 arithmetic in float32, as in NumPy (Cython
    # would turn a literal 1 into the double 1.0).
    cdef floating e, one = 1
    for i in range(start, stop):
        if floating is float:
            e = zk_expf(-x[i])
        else:
            e = zk_exp(-x[i])
        out[i] = one / (one + e)


cdef inline void _sigmoid_backward_range(const floating* dout,
                                         const floating* out, floating* dx,
                                         Py_ssize_t start,
                                         Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(start, stop):
        # Same association as the book's `dout * (1.0 - self.out) * self.out`.
        dx[i] = (dout[i] * (one - out[i])) * out[i]


def relu_forward(const floating[::1] x, floating[::1] out,
                 unsigned char[::1] mask, int n_threads):
    cdef Py_ssize_t n = x.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _relu_forward_range(&x[0], &out[0], &mask[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _relu_forward_range(&x[0], &out[0], &mask[0],
                            chunk_start(c, n_threads, n),
                            chunk_start(c + 1, n_threads, n))


def relu_backward(const floating[::1] dout, const unsigned char[::1] mask,
                  floating[::1] dx, int n_threads):
    cdef Py_ssize_t n = dout.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _relu_backward_range(&dout[0], &mask[0], &dx[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _relu_backward_range(&dout[0], &mask[0], &dx[0],
                             chunk_start(c, n_threads, n),
                             chunk_start(c + 1, n_threads, n))


def sigmoid_forward(const floating[::1] x, floating[::1] out, int n_threads):
    cdef Py_ssize_t n = x.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sigmoid_forward_range(&x[0], &out[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _sigmoid_forward_range(&x[0], &out[0],
                               chunk_start(c, n_threads, n),
                               chunk_start(c + 1, n_threads, n))


def sigmoid_backward(const floating[::1] dout, const floating[::1] out,
                     floating[::1] dx, int n_threads):
    cdef Py_ssize_t n = dout.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sigmoid_backward_range(&dout[0], &out[0], &dx[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _sigmoid_backward_range(&dout[0], &out[0], &dx[0],
                                chunk_start(c, n_threads, n),
                                chunk_start(c + 1, n_threads, n))
