# The math the kernels of src/_cpu_*.pyx share: the vectorisable
# exponentials of _exp.h, the square root in the array's own precision and a
# row's extremes.  Pure nogil C: no Python object, no NumPy.
from cython cimport floating
from libc.math cimport INFINITY, sqrt, sqrtf

cdef extern from "_exp.h":
    double zk_exp(double x) noexcept nogil
    float zk_expf(float x) noexcept nogil
    double zk_exp_moderate(double x) noexcept nogil
    float zk_expf_moderate(float x) noexcept nogil
    double ZK_EXP_MODERATE_LIMIT
    float ZK_EXPF_MODERATE_LIMIT


# ---------------------------------------------------------------------------
# A row's largest and smallest elements, for the kernels that choose their
# exponential by range (the softmax loss per row, Sigmoid per block).
# Written as EXTREME_LANES independent partial results (element j goes to
# lane j % EXTREME_LANES): GCC (12) loop-vectorises that inner loop, both
# extremes in one read, four 512-bit registers of doubles each, where it
# leaves an unrolled 8-lane one scalar (maxsd per element).  The value does
# not depend on the lane count or the vector width.
cdef enum:
    EXTREME_LANES = 32


cdef inline floating extremes(const floating* row, Py_ssize_t n,
                              floating* row_min) noexcept nogil:
    """Largest of row[0:n], and the smallest into row_min, in one read,
    NaN ignored: every lane starts at -inf / +inf and a NaN fails both
    comparisons, so it never becomes an extreme nor hides one (a NaN that
    seeded a lane would hide every later element of that lane).  Only a
    row of nothing but NaN gives largest < smallest (-inf, +inf); callers
    send such a row, as any other whose extremes are out of range, to the
    general exponential."""
    cdef floating lane_max[EXTREME_LANES]
    cdef floating lane_min[EXTREME_LANES]
    cdef floating largest = -INFINITY
    cdef floating smallest = INFINITY
    cdef Py_ssize_t j, k, block, full = n - n % EXTREME_LANES
    if full:
        for k in range(EXTREME_LANES):
            lane_max[k] = -INFINITY
            lane_min[k] = INFINITY
        for block in range(full // EXTREME_LANES):
            j = block * EXTREME_LANES
            for k in range(EXTREME_LANES):
                lane_max[k] = row[j + k] if row[j + k] > lane_max[k] else lane_max[k]
                lane_min[k] = row[j + k] if row[j + k] < lane_min[k] else lane_min[k]
        for k in range(EXTREME_LANES):
            largest = lane_max[k] if lane_max[k] > largest else largest
            smallest = lane_min[k] if lane_min[k] < smallest else smallest
    for j in range(full, n):
        largest = row[j] if row[j] > largest else largest
        smallest = row[j] if row[j] < smallest else smallest
    row_min[0] = smallest
    return largest


# The float32 or float64 function for Cython's fused type, chosen at compile
# time (the test of `floating` is a constant in each specialisation).
cdef inline floating exp_general(floating x) noexcept nogil:
    return zk_expf(x) if floating is float else zk_exp(x)


cdef inline floating exp_moderate(floating x) noexcept nogil:
    """exp(x) with the general one's bits for |x| <= moderate_limit(x)."""
    return zk_expf_moderate(x) if floating is float else zk_exp_moderate(x)


cdef inline floating moderate_limit(floating x) noexcept nogil:
    """How far from 0 exp_moderate may go, in x's type (x only picks it)."""
    return ZK_EXPF_MODERATE_LIMIT if floating is float else ZK_EXP_MODERATE_LIMIT


cdef inline floating square_root(floating x) noexcept nogil:
    """In x's precision: float32 stays float32, as in NumPy."""
    return sqrtf(x) if floating is float else sqrt(x)
