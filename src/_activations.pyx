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

Entry points: the memoryview kernels (relu_forward, ...) take 1-D views of
buffers the caller validated and allocated.  The one-call entry points
(relu_forward_call, ...) take the layer's Python objects, check in C that
the common case applies (C-contiguous native float32/float64 ndarrays of
matching shapes; see _common.pxd), allocate the outputs through NumPy's C
API and run the same kernel; otherwise they return None and the layer
validates in Python.  Both reach the same *_run function.

Sigmoid uses the formula of the book.  exp(-x) overflows to +inf for very
negative x and 1 / (1 + inf) is exactly 0, the correctly rounded answer, so
no special case is needed; the overflow raises no Python warning because no
NumPy ufunc is involved.  float32 arrays are computed in float32 (zk_expf),
float64 in float64 (zk_exp); blocks within the range of the moderate
exponential (see _exp.h) take it instead, with the same bits.  A NaN
input gives np.nan (one bit pattern in every build).
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport NAN

from _common cimport (GIL_RELEASE_MIN_ITEMS, chunk_start, exp_general,
                      exp_moderate, extremes, is_kernel_array,
                      kernel_float_type, moderate_limit, same_shape,
                      threads_for_items)

from zk_layers._platform import threads_for as _threads_for  # the compiled policy

cnp.import_array()

# Sigmoid's forward checks the range of its input a block at a time (in
# cache when the exponentials read it); shorter work skips the check.
cdef enum:
    SIGMOID_BLOCK = 1024
    SIGMOID_CHECK_MIN = 64


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
    # Block by block: a block whose elements all lie within the moderate
    # exponential's range (|x| <= 707, or 86 in float32: exp(-x) a normal
    # number) takes it, the same bits with fewer operations; any other
    # block, and work too short to pay for the range check, the general
    # one.  Elementwise, so which blocks take which never changes a bit.
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
        block_start = block_stop


cdef inline void _sigmoid_backward_range(const floating* dout,
                                         const floating* out, floating* dx,
                                         Py_ssize_t start,
                                         Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating one = 1
    for i in range(start, stop):
        # Same association as the book's `dout * (1.0 - self.out) * self.out`.
        dx[i] = (dout[i] * (one - out[i])) * out[i]


# ------------------------------------------------ one run of each kernel
# Inline with the GIL held for small one-thread work; otherwise a prange
# region without the GIL.

cdef inline void _relu_forward_run(const floating* x, floating* out,
                                   unsigned char* mask, Py_ssize_t n,
                                   int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _relu_forward_range(x, out, mask, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _relu_forward_range(x, out, mask, chunk_start(c, n_threads, n),
                                chunk_start(c + 1, n_threads, n))


cdef inline void _relu_backward_run(const floating* dout,
                                    const unsigned char* mask, floating* dx,
                                    Py_ssize_t n, int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _relu_backward_range(dout, mask, dx, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _relu_backward_range(dout, mask, dx, chunk_start(c, n_threads, n),
                                 chunk_start(c + 1, n_threads, n))


cdef inline void _sigmoid_forward_run(const floating* x, floating* out,
                                      Py_ssize_t n, int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sigmoid_forward_range(x, out, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _sigmoid_forward_range(x, out, chunk_start(c, n_threads, n),
                                   chunk_start(c + 1, n_threads, n))


cdef inline void _sigmoid_backward_run(const floating* dout,
                                       const floating* out, floating* dx,
                                       Py_ssize_t n, int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sigmoid_backward_range(dout, out, dx, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _sigmoid_backward_range(dout, out, dx,
                                    chunk_start(c, n_threads, n),
                                    chunk_start(c + 1, n_threads, n))


# --------------------------------------------------- memoryview kernels
def relu_forward(const floating[::1] x, floating[::1] out,
                 unsigned char[::1] mask, int n_threads):
    if x.shape[0]:
        _relu_forward_run(&x[0], &out[0], &mask[0], x.shape[0], n_threads)


def relu_backward(const floating[::1] dout, const unsigned char[::1] mask,
                  floating[::1] dx, int n_threads):
    if dout.shape[0]:
        _relu_backward_run(&dout[0], &mask[0], &dx[0], dout.shape[0],
                           n_threads)


def sigmoid_forward(const floating[::1] x, floating[::1] out, int n_threads):
    if x.shape[0]:
        _sigmoid_forward_run(&x[0], &out[0], x.shape[0], n_threads)


def sigmoid_backward(const floating[::1] dout, const floating[::1] out,
                     floating[::1] dx, int n_threads):
    if dout.shape[0]:
        _sigmoid_backward_run(&dout[0], &out[0], &dx[0], dout.shape[0],
                              n_threads)


# ------------------------------------------------- one-call entry points
def relu_forward_call(object x, Py_ssize_t grain):
    """Relu.forward's common case: ``(out, mask)`` for a C-contiguous
    float32/float64 ndarray ``x``, else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa)
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(xa)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    cdef cnp.ndarray mask = cnp.PyArray_EMPTY(nd, dims, cnp.NPY_BOOL, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef int n_threads = threads_for_items(n, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _relu_forward_run(<const double*>cnp.PyArray_DATA(xa),
                          <double*>cnp.PyArray_DATA(out),
                          <unsigned char*>cnp.PyArray_DATA(mask), n, n_threads)
    else:
        _relu_forward_run(<const float*>cnp.PyArray_DATA(xa),
                          <float*>cnp.PyArray_DATA(out),
                          <unsigned char*>cnp.PyArray_DATA(mask), n, n_threads)
    return out, mask


def relu_backward_call(object dout, object mask, Py_ssize_t grain):
    """Relu.backward's common case: dx for a C-contiguous float ``dout`` and
    a C-contiguous boolean ``mask`` of the same shape, else None."""
    cdef int typenum = kernel_float_type(dout)
    if typenum < 0 or not is_kernel_array(mask, cnp.NPY_BOOL):
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray ma = <cnp.ndarray>mask
    if not same_shape(da, ma):
        return None
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(da),
                                            cnp.PyArray_DIMS(da), typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(da)
    cdef int n_threads = threads_for_items(n, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _relu_backward_run(<const double*>cnp.PyArray_DATA(da),
                           <const unsigned char*>cnp.PyArray_DATA(ma),
                           <double*>cnp.PyArray_DATA(dx), n, n_threads)
    else:
        _relu_backward_run(<const float*>cnp.PyArray_DATA(da),
                           <const unsigned char*>cnp.PyArray_DATA(ma),
                           <float*>cnp.PyArray_DATA(dx), n, n_threads)
    return dx


def sigmoid_forward_call(object x, Py_ssize_t grain):
    """Sigmoid.forward's common case: out for a C-contiguous float32/float64
    ndarray ``x``, else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(xa),
                                             cnp.PyArray_DIMS(xa), typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef int n_threads = threads_for_items(n, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _sigmoid_forward_run(<const double*>cnp.PyArray_DATA(xa),
                             <double*>cnp.PyArray_DATA(out), n, n_threads)
    else:
        _sigmoid_forward_run(<const float*>cnp.PyArray_DATA(xa),
                             <float*>cnp.PyArray_DATA(out), n, n_threads)
    return out


def sigmoid_backward_call(object dout, object out, Py_ssize_t grain):
    """Sigmoid.backward's common case: dx for C-contiguous ``dout`` and
    saved ``out`` of one float dtype and shape, else None."""
    cdef int typenum = kernel_float_type(dout)
    if typenum < 0 or kernel_float_type(out) != typenum:
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray ya = <cnp.ndarray>out
    if not same_shape(da, ya):
        return None
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(da),
                                            cnp.PyArray_DIMS(da), typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(da)
    cdef int n_threads = threads_for_items(n, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _sigmoid_backward_run(<const double*>cnp.PyArray_DATA(da),
                              <const double*>cnp.PyArray_DATA(ya),
                              <double*>cnp.PyArray_DATA(dx), n, n_threads)
    else:
        _sigmoid_backward_run(<const float*>cnp.PyArray_DATA(da),
                              <const float*>cnp.PyArray_DATA(ya),
                              <float*>cnp.PyArray_DATA(dx), n, n_threads)
    return dx
