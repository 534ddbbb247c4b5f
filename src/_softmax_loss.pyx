# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Softmax with cross-entropy loss: forward and backward.

What they compute, for x of shape (N, C) and class indices t of shape (N,):
    forward   y[i] = softmax(x[i]) = exp(x[i] - max(x[i])) / sum(...)
              losses[i] = -log(y[i, t[i]] + eps)             when eps != 0
              losses[i] = logsumexp(x[i]) - x[i, t[i]]       when eps == 0
              returns sum(losses), added serially in row order
    backward  dx[i, j] = (y[i, j] - [j == t[i]]) * scale,  scale = dout / N
Each row is handled in one fused sweep kept in cache: max, exp (written to
y), sum, normalise, then the row's loss; memory sees one read of x and one
write of y.  The max and the sum run in LANES interleaved partial results
so that they vectorise (see _row_max); the sum is formed in double.  eps == 0 never forms log(y), so it is exact and cannot overflow
or take log(0) for huge logits.

What the caller guarantees (zk_layers/layers.py): x, y, dx are C-contiguous
(N, C) arrays of one dtype with N >= 1 and C >= 1, losses has N elements,
and every label satisfies 0 <= t[i] < C (first_invalid_label checks it
before any kernel runs).  No bounds are checked here.

Parallelisation: rows are cut into n_threads contiguous chunks with a static
schedule.  Each row is computed entirely by one thread in a fixed order; the
per-row losses go to `losses` and their total is formed after the parallel
region, serially, so the loss and y are bitwise identical for every thread
count.  Small one-thread work runs inline without a parallel region.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log

from _common cimport GIL_RELEASE_MIN_ITEMS, chunk_start, zk_exp, zk_expf


# Row maxima and sums are reductions; without -ffast-math a compiler must add
# in the written order and cannot vectorise them.  So each is written as
# LANES independent partial results (element j goes to lane j % LANES),
# which the compiler packs into vector registers without changing a single
# operation, combined in a fixed order at the end: the same bits on every
# CPU, vector width and thread count.
cdef enum:
    LANES = 8


cdef inline floating _row_max(const floating* row, Py_ssize_t n) noexcept nogil:
    """Largest element; NaN-tolerant in the sense needed below (a NaN in
    the row makes exp(row - max) NaN somewhere, so the row's sum is NaN)."""
    cdef floating lane_max[LANES]
    cdef floating result
    cdef Py_ssize_t j, k, block, full = n - n % LANES
    if full == 0:
        result = row[0]
        for j in range(1, n):
            result = row[j] if row[j] > result else result
        return result
    for k in range(LANES):
        lane_max[k] = row[k]
    for block in range(1, full // LANES):
        j = block * LANES
        for k in range(LANES):
            lane_max[k] = row[j + k] if row[j + k] > lane_max[k] else lane_max[k]
    result = lane_max[0]
    for k in range(1, LANES):
        result = lane_max[k] if lane_max[k] > result else result
    for j in range(full, n):
        result = row[j] if row[j] > result else result
    return result


cdef inline double _row_sum(const floating* row, Py_ssize_t n) noexcept nogil:
    """Sum in double precision, in LANES interleaved partial sums."""
    cdef double lane_sum[LANES]
    cdef double result = 0.0
    cdef Py_ssize_t j, k, block, full = n - n % LANES
    for k in range(LANES):
        lane_sum[k] = 0.0
    for block in range(full // LANES):
        j = block * LANES
        for k in range(LANES):
            lane_sum[k] += row[j + k]
    for k in range(LANES):
        result += lane_sum[k]
    for j in range(full, n):
        result += row[j]
    return result


cdef inline void _softmax_cross_entropy_rows(
        const floating* x, const Py_ssize_t* t, floating* y, double* losses,
        Py_ssize_t n_classes, double eps, Py_ssize_t start,
        Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef floating* y_row
    cdef floating row_max, total_as_floating
    cdef double total
    for i in range(start, stop):
        row = x + i * n_classes
        y_row = y + i * n_classes
        # A NaN anywhere makes the whole row NaN below, as in NumPy: either
        # row_max is NaN, or exp(NaN - row_max) makes the total NaN.
        row_max = _row_max(row, n_classes)
        for j in range(n_classes):
            if floating is float:
                y_row[j] = zk_expf(row[j] - row_max)
            else:
                y_row[j] = zk_exp(row[j] - row_max)
        total = _row_sum(y_row, n_classes)
        total_as_floating = <floating>total
        for j in range(n_classes):
            y_row[j] = y_row[j] / total_as_floating
        if eps != 0.0:
            # y + eps rounded in y's dtype, as NumPy rounds it in the book's
            # formula (for float32, 1 + 1e-7 is 1.0000001192...).
            losses[i] = -log(<double>(y_row[t[i]] + <floating>eps))
        else:
            losses[i] = (log(total) + row_max) - row[t[i]]


cdef inline void _softmax_cross_entropy_backward_rows(
        const floating* y, const Py_ssize_t* t, floating scale, floating* dx,
        Py_ssize_t n_classes, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j, base
    cdef floating one = 1  # typed, so float32 stays float32 (as in NumPy)
    for i in range(start, stop):
        base = i * n_classes
        for j in range(base, base + n_classes):
            dx[j] = y[j] * scale
        # (y - 1) first, then the scale: the same rounding as the reference.
        dx[base + t[i]] = (y[base + t[i]] - one) * scale


def softmax_cross_entropy_forward(const floating[:, ::1] x,
                                  const Py_ssize_t[::1] t,
                                  floating[:, ::1] y, double[::1] losses,
                                  double eps, int n_threads):
    """Fill y and losses; return the sum of the per-sample losses."""
    cdef Py_ssize_t n = x.shape[0], n_classes = x.shape[1], c, i
    cdef double total = 0.0
    if n == 0:
        return total
    if n_threads <= 1 and n * n_classes < GIL_RELEASE_MIN_ITEMS:
        _softmax_cross_entropy_rows(&x[0, 0], &t[0], &y[0, 0], &losses[0],
                                    n_classes, eps, 0, n)
    else:
        for c in prange(n_threads, nogil=True, schedule="static",
                        num_threads=n_threads):
            _softmax_cross_entropy_rows(&x[0, 0], &t[0], &y[0, 0],
                                        &losses[0], n_classes, eps,
                                        chunk_start(c, n_threads, n),
                                        chunk_start(c + 1, n_threads, n))
    # Serial, in row order: the total does not depend on the thread count.
    for i in range(n):
        total += losses[i]
    return total


def softmax_cross_entropy_backward(const floating[:, ::1] y,
                                   const Py_ssize_t[::1] t, double scale,
                                   floating[:, ::1] dx, int n_threads):
    """Fill dx with (y - onehot(t)) * scale."""
    cdef Py_ssize_t n = y.shape[0], n_classes = y.shape[1], c
    cdef floating scale_as_floating = <floating>scale
    if n == 0:
        return
    if n_threads <= 1 and n * n_classes < GIL_RELEASE_MIN_ITEMS:
        _softmax_cross_entropy_backward_rows(&y[0, 0], &t[0],
                                             scale_as_floating, &dx[0, 0],
                                             n_classes, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static",
                    num_threads=n_threads):
        _softmax_cross_entropy_backward_rows(&y[0, 0], &t[0],
                                             scale_as_floating, &dx[0, 0],
                                             n_classes,
                                             chunk_start(c, n_threads, n),
                                             chunk_start(c + 1, n_threads, n))


def first_invalid_label(const Py_ssize_t[::1] t, Py_ssize_t n_classes):
    """Index of the first label outside [0, n_classes), or -1 if none is.

    A validation helper for the Python wrapper: the kernels above index rows
    with these labels and must never see one out of range.
    """
    cdef Py_ssize_t i
    for i in range(t.shape[0]):
        if t[i] < 0 or t[i] >= n_classes:
            return i
    return -1
