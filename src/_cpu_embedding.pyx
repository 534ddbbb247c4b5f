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
them, so the result is bitwise the same at every thread count.  Its widened
form adds float64 rows to float32 dW as np.add.at does for those dtypes:
each sum in float64, rounded to float32 once.

The unigram kernels serve the negative sampler of chapter 4, which must
draw as the book's ``np.random.choice(V, size, replace=False, p=p)`` with
``p = word_p.copy(); p[target] = 0; p /= p.sum()``: the same sums in the
same order (NumPy's pairwise sum for ``p.sum()``, a running sum for
``np.cumsum``), so that the same uniform draws pick the same words.
"""
from cython cimport floating
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset


cdef void _gather_rows(const floating* W, const Py_ssize_t* idx, floating* out,
                       Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    for i in range(start, stop):
        row = W + idx[i] * d
        for j in range(d):
            out[i * d + j] = row[j]


cdef inline void _add_rows(const void* dout, bint widened, const Py_ssize_t* idx, floating* dW,
                           Py_ssize_t n, Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """dW[idx[k], :] += dout[k, :] for k = 0 .. n-1 in order, for the rows in
    [start, stop); widened: float64 rows into float32, each sum in float64."""
    cdef Py_ssize_t k, j, r
    cdef floating* row
    cdef const floating* src
    cdef const double* wide
    for k in range(n):
        r = idx[k]
        if r < start or r >= stop:
            continue
        row = dW + r * d
        if widened:
            wide = <const double*>dout + k * d
            for j in range(d):
                row[j] = <floating>(<double>row[j] + wide[j])
        else:
            src = <const floating*>dout + k * d
            for j in range(d):
                row[j] = row[j] + src[j]


cdef void _scatter_add_rows(const floating* dout, const Py_ssize_t* idx, floating* dW,
                            Py_ssize_t n, Py_ssize_t d, Py_ssize_t start,
                            Py_ssize_t stop) noexcept nogil:
    if stop > start:
        memset(dW + start * d, 0, <size_t>((stop - start) * d) * sizeof(floating))
    _add_rows(dout, False, idx, dW, n, d, start, stop)


cdef void _scatter_add_widened_rows(const double* dout, const Py_ssize_t* idx, float* dW,
                                    Py_ssize_t n, Py_ssize_t d, Py_ssize_t start,
                                    Py_ssize_t stop) noexcept nogil:
    if stop > start:
        memset(dW + start * d, 0, <size_t>((stop - start) * d) * sizeof(float))
    _add_rows(dout, True, idx, dW, n, d, start, stop)


cdef void _scatter_add_rows_kept(const void* dout, bint widened, const Py_ssize_t* idx,
                                 floating* dW, Py_ssize_t n, Py_ssize_t d, const Py_ssize_t* old,
                                 Py_ssize_t n_old, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """The scatter-add of a gradient known to be zero outside the rows old:
    in rows [start, stop), those and the rows of idx zeroed, then dout's
    rows added in order (widened: float64 rows into float32)."""
    cdef Py_ssize_t k, r
    for k in range(n_old):
        r = old[k]
        if start <= r < stop:
            memset(dW + r * d, 0, <size_t>d * sizeof(floating))
    for k in range(n):
        r = idx[k]
        if start <= r < stop:
            memset(dW + r * d, 0, <size_t>d * sizeof(floating))
    _add_rows(dout, widened, idx, dW, n, d, start, stop)


cdef double _pairwise_sum(const double* a, Py_ssize_t n) noexcept nogil:
    """NumPy's pairwise summation of a contiguous float64 array, step for
    step (its add reduction adds the result to an initial 0.0)."""
    cdef double r[8]
    cdef double res
    cdef Py_ssize_t i, j, half
    if n < 8:
        res = 0.0
        for i in range(n):
            res = res + a[i]
        return res
    if n <= 128:
        for j in range(8):
            r[j] = a[j]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] = r[j] + a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res = res + a[i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise_sum(a, half) + _pairwise_sum(a + half, n - half)


# NumPy's pairwise sum is a fixed tree over blocks of at most 128 elements
# (the leaves).  Zeroing one word changes one leaf: the sampler sums the
# leaves of w once and, per target, sums that leaf again and the tree.
cdef Py_ssize_t _leaves(const double* a, Py_ssize_t n, double* sums) noexcept nogil:
    """The leaf sums of _pairwise_sum(a, n), in order; returns their count."""
    cdef Py_ssize_t half
    if n <= 128:
        sums[0] = _pairwise_sum(a, n)
        return 1
    half = n // 2
    half -= half % 8
    cdef Py_ssize_t k = _leaves(a, half, sums)
    return k + _leaves(a + half, n - half, sums + k)


cdef double _tree(const double* sums, Py_ssize_t n, Py_ssize_t* at) noexcept nogil:
    """_pairwise_sum's result from its leaf sums (consumed from sums[at[0]])."""
    cdef Py_ssize_t half
    cdef double left
    if n <= 128:
        at[0] += 1
        return sums[at[0] - 1]
    half = n // 2
    half -= half % 8
    left = _tree(sums, half, at)
    return left + _tree(sums, n - half, at)


cdef double _sum_without(const double* w, Py_ssize_t v, Py_ssize_t t, double* sums,
                         double* block) noexcept nogil:
    """0.0 + _pairwise_sum(w with w[t] = 0, v), from the leaf sums of w
    (restored before returning)."""
    cdef Py_ssize_t lo = 0, n = v, half, j, at = 0
    while n > 128:  # the leaf of t: where the tree's splits put it
        half = n // 2
        half -= half % 8
        if t < lo + half:
            n = half
        else:
            lo += half
            n -= half
    for j in range(n):
        block[j] = w[lo + j]
    block[t - lo] = 0.0
    # the leaf's index: the leaves before lo
    cdef Py_ssize_t leaf = _count_leaves_before(v, lo)
    cdef double saved = sums[leaf], total
    sums[leaf] = _pairwise_sum(block, n)
    total = _tree(sums, v, &at)
    sums[leaf] = saved
    return 0.0 + total


cdef Py_ssize_t _count_leaves_before(Py_ssize_t n, Py_ssize_t lo) noexcept nogil:
    """How many leaves of the tree over n elements start before offset lo."""
    cdef Py_ssize_t half
    if n <= 128 or lo <= 0:
        return 0
    half = n // 2
    half -= half % 8
    if lo < half:
        return _count_leaves_before(half, lo)
    return _count_leaf_total(half) + _count_leaves_before(n - half, lo - half)


cdef Py_ssize_t _count_leaf_total(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t half
    if n <= 128:
        return 1
    half = n // 2
    half -= half % 8
    return _count_leaf_total(half) + _count_leaf_total(n - half)


cdef void _unigram_leaves(const double* w, Py_ssize_t v, double* sums) noexcept nogil:
    _leaves(w, v, sums)


cdef void _unigram_cdf_rows(const double* w, const Py_ssize_t* target, const double* leaves,
                            double* cdf, double* sums, Py_ssize_t v, Py_ssize_t start,
                            Py_ssize_t stop) noexcept nogil:
    """Rows [start, stop): cdf[r] = cumsum(p) for p = w / sums[r], p[target[r]] = 0
    (not yet divided by its last entry: the search divides where it looks)."""
    cdef Py_ssize_t r, g, j, n_leaves = _count_leaf_total(v)
    cdef double* p0
    cdef double* p1
    cdef double* p2
    cdef double* p3
    cdef double a0, a1, a2, a3, s
    cdef double local[128]
    cdef double* own = <double*>malloc(n_leaves * sizeof(double))
    if own == NULL:
        return  # the glue sees sums[r] unset and raises MemoryError
    memcpy(own, leaves, n_leaves * sizeof(double))
    # Four rows at a time, each group's rows staying in L2 from the division
    # to its running sums: four independent chains of additions.
    g = start
    while g < stop:
        for r in range(g, min(g + 4, stop)):
            s = _sum_without(w, v, target[r], own, local)
            sums[r] = s
            p0 = cdf + r * v
            for j in range(v):
                p0[j] = w[j] / s
            p0[target[r]] = 0.0
        if g + 4 <= stop:
            p0, p1, p2, p3 = cdf + g * v, cdf + (g + 1) * v, cdf + (g + 2) * v, cdf + (g + 3) * v
            a0 = a1 = a2 = a3 = 0.0
            for j in range(v):
                a0 = a0 + p0[j]
                p0[j] = a0
                a1 = a1 + p1[j]
                p1[j] = a1
                a2 = a2 + p2[j]
                p2[j] = a2
                a3 = a3 + p3[j]
                p3[j] = a3
        else:
            for r in range(g, stop):
                p0 = cdf + r * v
                a0 = 0.0
                for j in range(v):
                    a0 = a0 + p0[j]
                    p0[j] = a0
        g += 4
    free(own)


cdef void _unigram_cdf_without(const double* w, Py_ssize_t target, double s,
                               const Py_ssize_t* found, Py_ssize_t n_found, double* cdf,
                               Py_ssize_t v) noexcept nogil:
    cdef Py_ssize_t j
    cdef double acc = 0.0
    for j in range(v):
        cdf[j] = w[j] / s
    cdf[target] = 0.0
    for j in range(n_found):
        cdf[found[j]] = 0.0
    for j in range(v):
        acc = acc + cdf[j]
        cdf[j] = acc


include "_cpu_embedding_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
