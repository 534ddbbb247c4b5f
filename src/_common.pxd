# Declarations shared by the glue modules: the OpenMP shim, how a range of
# work is split between threads, and the checks of the one-call entry points.
# The kernels' own math (exponentials, a row's extremes) is in _math.pxd.

cdef extern from "_openmp_shim.h":
    int ZK_OPENMP_ENABLED
    int zk_omp_get_max_threads() noexcept nogil

# Below this many elements a one-thread kernel runs inline with the GIL held:
# releasing and re-taking it (and, with other Python threads waiting, being
# handed it back) costs more than the work.  Anything larger runs without
# the GIL: inline in a nogil block on one thread, in a prange region on
# several (src/_runners.pxi.tp).
cdef enum:
    GIL_RELEASE_MIN_ITEMS = 8192


cdef inline Py_ssize_t chunk_start(Py_ssize_t chunk, Py_ssize_t n_chunks,
                                   Py_ssize_t n) noexcept nogil:
    """First index of `chunk` when [0, n) is cut into n_chunks balanced,
    contiguous pieces.  Every kernel partitions its work this way, so which
    thread computes an element never changes what is computed."""
    return (n * chunk) // n_chunks


# ---------------------------------------------------------------------------
# The glue's entry points take Python objects and decide with these checks,
# in a few nanoseconds, whether the arrays are ready for the kernels: exact
# ndarrays, contiguous, native byte order, float32 or float64, matching
# shapes.  When they are not, an entry point returns None and the layer
# normalises them, raising the documented errors for bad input, and calls it
# again; so these checks never reject anything themselves.

cimport numpy as cnp


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


cdef inline bint apart(object a, object b) noexcept:
    """Two contiguous ndarrays whose bytes do not overlap."""
    cdef char* a0 = <char*>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char* b0 = <char*>cnp.PyArray_DATA(<cnp.ndarray>b)
    return (a0 + cnp.PyArray_NBYTES(<cnp.ndarray>a) <= b0
            or b0 + cnp.PyArray_NBYTES(<cnp.ndarray>b) <= a0)


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int nd = cnp.PyArray_NDIM(a)
    return nd == cnp.PyArray_NDIM(b) and (
        nd == 0 or memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(b),
                          nd * sizeof(cnp.npy_intp)) == 0)


# ---------------------------------------------------------------------------
# The elementwise entry points take contiguous arrays of either memory order:
# the kernels read flat memory, and arrays that list their elements in the
# same order (same shape, all C- or all Fortran-contiguous) pair up element
# by element.  C wins for an array contiguous both ways (1-D), as in
# zk_layers/layers.py's _contiguous.
cdef enum:
    ORDER_NONE = 0
    ORDER_C = 1
    ORDER_F = 2


cdef inline int float_input_order(object obj, int* typenum) noexcept:
    """ORDER_C or ORDER_F, and its type into typenum, if ``obj`` is an exact
    float32/float64 ndarray in native byte order, contiguous; else ORDER_NONE."""
    if not cnp.PyArray_CheckExact(obj):
        return ORDER_NONE
    cdef cnp.ndarray a = <cnp.ndarray>obj
    typenum[0] = cnp.PyArray_TYPE(a)
    if typenum[0] != cnp.NPY_DOUBLE and typenum[0] != cnp.NPY_FLOAT:
        return ORDER_NONE
    if not cnp.PyArray_ISNOTSWAPPED(a):
        return ORDER_NONE
    if cnp.PyArray_IS_C_CONTIGUOUS(a):
        return ORDER_C
    if cnp.PyArray_IS_F_CONTIGUOUS(a):
        return ORDER_F
    return ORDER_NONE


cdef inline bint pairs_with(object obj, int typenum, int order,
                            cnp.ndarray like, bint output) noexcept:
    """``obj`` holds ``like``'s elements in the same flat order: an ndarray
    of ``typenum`` and like's shape, contiguous in ``order``, native byte
    order; an exact ndarray if an input, any ndarray (subclasses too) and
    writeable if an output."""
    if not (cnp.PyArray_Check(obj) if output else cnp.PyArray_CheckExact(obj)):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>obj
    if cnp.PyArray_TYPE(a) != typenum or not cnp.PyArray_ISNOTSWAPPED(a):
        return False
    if output and not cnp.PyArray_ISWRITEABLE(a):
        return False
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) if order == ORDER_C
            else cnp.PyArray_IS_F_CONTIGUOUS(a)):
        return False
    return same_shape(a, like)


cdef inline cnp.ndarray empty_like_in(cnp.ndarray like, int typenum, int order):
    """A fresh array of like's shape, of ``typenum``, in ``order``."""
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like),
                             typenum, order == ORDER_F)
