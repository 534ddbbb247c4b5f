# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Softmax with cross-entropy loss, the kernels: built once per instruction set.

What they compute, for rows of x (N, C) and class indices t (contracts:
src/_tables.pxd, SoftmaxLossKernels):
    forward   y[i] = softmax(x[i]) = e * (1 / sum(e)),  e = exp(x[i] - max(x[i]))
              losses[i] = -log(y[i, t[i]] + eps)             when eps != 0
              losses[i] = logsumexp(x[i]) - x[i, t[i]]       when eps == 0
    backward  dx[i, j] = (y[i, j] - [j == t[i]]) * scale
Each row is handled in one fused sweep kept in cache: max and min, exp
(written to y), sum, normalise, then the row's loss; memory sees one read
of x and one write of y.  The extremes and the sum run in interleaved
partial results so that they vectorise (see _row_sum, and extremes in
_math.pxd); the sum is formed in double.  A row whose spread (max - min)
keeps every exp(x - max) a normal number takes zk_exp_moderate, the same
bits with fewer operations (see _exp.h); any other row (a wider spread, an
infinity, nothing but NaN) the general zk_exp.  A row with a NaN (or
inf - inf) is written as NaN, one NaN bit pattern whatever the build.
eps == 0 never forms log(y), so it is exact and cannot overflow or take
log(0) for huge logits.  Each row is computed by one thread in a fixed
order; the glue (src/_softmax_loss.pyx) adds the losses serially.
"""
from cython cimport floating
from libc.math cimport NAN, log

from _math cimport exp_general, exp_moderate, extremes, moderate_limit


# Row sums are reductions; without -ffast-math a compiler must add in the
# written order and cannot vectorise them.  So each is written as LANES
# independent partial sums (element j goes to lane j % LANES), which the
# compiler packs into vector registers without changing a single operation,
# combined in a fixed order at the end: the same bits on every CPU, vector
# width and thread count.  (The row's extremes: extremes() in _math.pxd.)
cdef enum:
    LANES = 8


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


cdef void _softmax_cross_entropy_rows(
        const floating* x, const Py_ssize_t* t, floating* y, double* losses,
        Py_ssize_t n_classes, double eps, Py_ssize_t start,
        Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef floating* y_row
    cdef floating row_max, row_min, inverse
    cdef double total
    for i in range(start, stop):
        row = x + i * n_classes
        y_row = y + i * n_classes
        # A NaN anywhere makes the whole row NaN below, as in NumPy:
        # exp(NaN - row_max) makes the total NaN.
        row_max = extremes(row, n_classes, &row_min)
        # Every row[j] - row_max (NaN aside) lies in [-(max - min), 0].
        # Within the range where exp gives normal numbers, the moderate
        # exponential (the same bits, fewer operations) does, NaN elements
        # included (NaN out, the same bits); a wider spread, an infinity or
        # a row of nothing but NaN (max < min) takes the general one.
        if row_max >= row_min and row_max - row_min <= moderate_limit(row_max):
            for j in range(n_classes):
                y_row[j] = exp_moderate(row[j] - row_max)
        else:
            for j in range(n_classes):
                y_row[j] = exp_general(row[j] - row_max)
        total = _row_sum(y_row, n_classes)
        if total != total:
            # A NaN in the row, or inf - inf: the whole row is NaN, as in
            # NumPy.  Written as one NaN (NumPy's np.nan), because which of
            # two different NaNs an addition passes on depends on the
            # operand order the compiler chose, which differs between the
            # builds.
            for j in range(n_classes):
                y_row[j] = NAN
            losses[i] = NAN
            continue
        # One division per row, then multiplications: within an ulp of
        # exp / total (our exp is itself within an ulp of libm's), and the
        # same for every thread count.
        inverse = <floating>(1.0 / total)
        for j in range(n_classes):
            y_row[j] = y_row[j] * inverse
        if eps != 0.0:
            # y + eps rounded in y's dtype, as NumPy rounds it in the book's
            # formula (for float32, 1 + 1e-7 is 1.0000001192...).
            losses[i] = -log(<double>(y_row[t[i]] + <floating>eps))
        else:
            # Both terms >= 0, so nothing cancels; (log(total) + row_max)
            # - row[t] lost log(total) next to logits of 1e17.
            losses[i] = log(total) + (row_max - row[t[i]])


cdef void _softmax_cross_entropy_backward_rows(
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


include "_cpu_softmax_loss_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
