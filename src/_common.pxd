# Declarations shared by the kernel modules: the OpenMP shim, the vectorisable
# exponential, and how a range of work is split between threads.

cdef extern from "_openmp_shim.h":
    int ZK_OPENMP_ENABLED
    int zk_omp_get_max_threads() noexcept nogil

cdef extern from "_exp.h":
    double zk_exp(double x) noexcept nogil
    float zk_expf(float x) noexcept nogil
    double zk_exp_moderate(double x) noexcept nogil
    float zk_expf_moderate(float x) noexcept nogil
    double ZK_EXP_MODERATE_LIMIT
    float ZK_EXPF_MODERATE_LIMIT

# Below this many elements a one-thread kernel runs inline with the GIL held:
# releasing and re-taking it (and, with other Python threads waiting, being
# handed it back) costs more than the work.  Anything larger goes through a
# prange region, which runs without the GIL even at num_threads=1.
cdef enum:
    GIL_RELEASE_MIN_ITEMS = 8192


cdef inline Py_ssize_t chunk_start(Py_ssize_t chunk, Py_ssize_t n_chunks,
                                   Py_ssize_t n) noexcept nogil:
    """First index of `chunk` when [0, n) is cut into n_chunks balanced,
    contiguous pieces.  Every kernel partitions its work this way, so which
    thread computes an element never changes what is computed."""
    return (n * chunk) // n_chunks


# ---------------------------------------------------------------------------
# The one-call entry points (``*_call`` in each kernel module) take Python
# objects and decide with these checks, in a few nanoseconds, whether the
# common case applies: exact ndarrays, C-contiguous, aligned, native byte
# order, float32 or float64, matching shapes.  When it does not, they return
# None and the layer takes its general Python path, which validates
# everything and raises the documented errors; so these checks only ever
# select the fast path, they never reject anything themselves.

cimport numpy as cnp
from cython cimport floating
from libc.math cimport INFINITY
from libc.string cimport memcmp


cdef extern from "numpy/arrayobject.h":
    # np.dot, with and without an output array (not in numpy's .pxd).
    object PyArray_MatrixProduct(object, object)
    object PyArray_MatrixProduct2(object, object, cnp.ndarray)


cdef inline int kernel_float_type(object obj) noexcept:
    """NPY_FLOAT or NPY_DOUBLE if ``obj`` is an ndarray (not a subclass) the
    kernels can read in place: C-contiguous, aligned, native byte order.
    Otherwise -1."""
    cdef int typenum
    if not cnp.PyArray_CheckExact(obj):
        return -1
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>obj)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return -1
    if not (cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>obj)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>obj)):
        return -1
    return typenum


cdef inline bint is_kernel_array(object obj, int typenum) noexcept:
    """``obj`` is an exact ndarray of ``typenum`` (any 1-byte or native
    type) that the kernels can read in place (as kernel_float_type)."""
    if not cnp.PyArray_CheckExact(obj):
        return False
    return (cnp.PyArray_TYPE(<cnp.ndarray>obj) == typenum
            and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>obj)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>obj))


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int nd = cnp.PyArray_NDIM(a)
    return nd == cnp.PyArray_NDIM(b) and (
        nd == 0 or memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(b),
                          nd * sizeof(cnp.npy_intp)) == 0)


cdef inline int threads_for_items(Py_ssize_t n_items, Py_ssize_t grain,
                                  object threads_for) except -1:
    """One thread below two grains of work, without a Python call; above,
    what ``zk_layers._platform.threads_for`` (passed in) decides."""
    if n_items < 2 * grain:
        return 1
    return threads_for(n_items, grain)


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


# The exponentials on Cython's fused type: the kernels call these, and the
# float32/float64 choice is made at compile time.
cdef inline floating exp_general(floating x) noexcept nogil:
    if floating is float:
        return zk_expf(x)
    else:
        return zk_exp(x)


cdef inline floating exp_moderate(floating x) noexcept nogil:
    """exp(x) with the general one's bits for |x| <= moderate_limit(x)."""
    if floating is float:
        return zk_expf_moderate(x)
    else:
        return zk_exp_moderate(x)


cdef inline floating moderate_limit(floating x) noexcept nogil:
    """How far from 0 exp_moderate may go, in x's type (x only picks it)."""
    if floating is float:
        return ZK_EXPF_MODERATE_LIMIT
    else:
        return ZK_EXP_MODERATE_LIMIT
