# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Elementwise kernels, Relu and Sigmoid: built once per instruction set.

Each computes elements [start, stop) of flat arrays (the contract of each
is in src/_tables.pxd, ActivationKernels); the glue, src/_activations.pyx,
checks and allocates the arrays and splits the work between threads.  No
Python object, no allocation, no thread policy here.

Every element is computed by the same arithmetic wherever the work is cut,
so results are bitwise identical for every thread count and every build.
Sigmoid uses the formula of the book.  exp(-x) overflows to +inf for very
negative x and 1 / (1 + inf) is exactly 0, the correctly rounded answer, so
no special case is needed.  float32 arrays are computed in float32 (zk_expf),
float64 in float64 (zk_exp); blocks within the range of the moderate
exponential (see _exp.h) take it instead, with the same bits.  A NaN
input gives np.nan (one bit pattern in every build).
"""
from cython cimport floating
from libc.math cimport NAN
from libc.string cimport memcpy

from _math cimport exp_general, exp_moderate, extremes, moderate_limit

# Sigmoid's forward checks the range of its input a block at a time (in
# cache when the exponentials read it); shorter work skips the check.
cdef enum:
    SIGMOID_BLOCK = 1024
    SIGMOID_CHECK_MIN = 64


cdef void _relu_forward_range(const floating* x, floating* out,
                              unsigned char* mask, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint not_positive
    for i in range(start, stop):
        # `x <= 0` is false for NaN, so NaN passes through as in NumPy.
        not_positive = x[i] <= 0
        mask[i] = not_positive
        out[i] = 0 if not_positive else x[i]


cdef void _relu_backward_range(const floating* dout,
                               const unsigned char* mask, floating* dx,
                               Py_ssize_t start,
                               Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        dx[i] = 0 if mask[i] else dout[i]


cdef void _sigmoid_forward_range(const floating* x, floating* out,
                                 floating* kept, Py_ssize_t start,
                                 Py_ssize_t stop) noexcept nogil:
    # Block by block: a block whose elements all lie within the moderate
    # exponential's range (|x| <= 707, or 86 in float32: exp(-x) a normal
    # number) takes it, the same bits with fewer operations; any other
    # block, and work too short to pay for the range check, the general
    # one.  Elementwise, so which blocks take which never changes a bit.
    # kept (a layer's own copy of out, when the caller owns out) is
    # written from each block while it is in L1, not in a second pass.
    cdef Py_ssize_t i, block_start, block_stop
    # A typed 1 keeps float32 arithmetic in float32, as in NumPy (Cython
    # would turn a literal 1 into the double 1.0).
    cdef floating e, smallest, largest, one = 1
    cdef floating limit = moderate_limit(one)
    cdef bint moderate
    block_start = start
    while block_start < stop:
        block_stop = min(block_start + SIGMOID_BLOCK, stop)
        moderate = False
        if block_stop - block_start >= SIGMOID_CHECK_MIN:
            largest = extremes(x + block_start, block_stop - block_start,
                               &smallest)
            # NaN elements are ignored by extremes() and give NaN through
            # either exponential; a block of nothing but NaN has largest <
            # smallest and takes the general one.
            moderate = (smallest <= largest and largest <= limit
                        and smallest >= -limit)
        # A NaN in gives np.nan out: one bit pattern in every build (the
        # sign a NaN keeps through the exponential's code does depend on
        # the build).
        if moderate:
            for i in range(block_start, block_stop):
                e = exp_moderate(-x[i])
                out[i] = NAN if x[i] != x[i] else one / (one + e)
        else:
            for i in range(block_start, block_stop):
                e = exp_general(-x[i])
                out[i] = NAN if x[i] != x[i] else one / (one + e)
        if kept != NULL:
            memcpy(kept + block_start, out + block_start,
                   (block_stop - block_start) * sizeof(floating))
        block_start = block_stop


cdef void _sigmoid_backward_range(const floating* dout,
                                  const floating* out, floating* dx,
                                  Py_ssize_t start,
                                  Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(start, stop):
        # Same association as the book's `dout * (1.0 - self.out) * self.out`.
        dx[i] = (dout[i] * (one - out[i])) * out[i]


include "_cpu_activations_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
