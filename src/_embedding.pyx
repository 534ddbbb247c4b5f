# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Embedding, forward and backward: the glue, compiled once.

    embedding_forward(W, idx)        out = W[idx]
    embedding_backward(dout, idx, dW) dW[...] = 0; np.add.at(dW, idx, dout)
    unigram_negative_samples(...)    the book's negative sampler, as
                                     np.random.choice(replace=False, p=p) draws

Each entry point is the one compiled path of its layer method.  It checks in
C that the arrays are ready for the kernels -- exact ndarrays, C-contiguous,
aligned, native byte order: W and dW (V, D) of one float dtype, dW
writeable and apart from the others, dout of shape (*idx.shape, D), idx
intp with every index in [0, V) -- and returns None, doing nothing,
otherwise.  zk_layers/embedding.py then normalises the input (negative
indices, other integer types, layouts) with the documented errors, and
calls it again or runs the book's NumPy lines.

The kernels are src/_cpu_embedding.pyx, called through the table that
``bind`` installs.  The gather cuts the output's rows between threads; the
scatter-add cuts dW's rows, each summed by one thread in the order of the
indices, so both are bitwise the same at every thread count, the
scatter-add bitwise np.add.at's.
"""
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from numpy.random cimport bitgen_t

from libc.math cimport signbit

from _common cimport apart, is_kernel_array, kernel_float_type
from _tables cimport GRAIN_ELEMENTWISE, EmbeddingKernels

ctypedef EmbeddingKernels Table
cdef const char* TABLE_NAME = "zk_layers.EmbeddingKernels"
include "_glue.pxi"

# The runners, one per kernel signature (src/_runners.pxi.tp); the entry
# points pick the float32 or float64 kernel of the table.
include "_embedding_runners.pxi"

cdef enum:
    MAX_DIMS = 64  # NumPy's NPY_MAXDIMS is at most 64


cdef inline bint _in_range(const Py_ssize_t* idx, Py_ssize_t n, Py_ssize_t rows) noexcept:
    cdef Py_ssize_t k
    for k in range(n):
        if idx[k] < 0 or idx[k] >= rows:
            return False
    return True


def embedding_forward(object W, object idx):
    """out = W[idx] (shape (*idx.shape, D), W's dtype) for a (V, D) W and
    indices in [0, V); None when the arrays are not ready."""
    cdef int typenum = kernel_float_type(W)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>W) != 2 or not is_kernel_array(idx, cnp.NPY_INTP):
        return None
    cdef cnp.ndarray Wa = <cnp.ndarray>W
    cdef cnp.ndarray ia = <cnp.ndarray>idx
    cdef int nd = cnp.PyArray_NDIM(ia)
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(Wa)[0], d = cnp.PyArray_DIMS(Wa)[1]
    cdef Py_ssize_t n = cnp.PyArray_SIZE(ia)
    cdef const Py_ssize_t* ix = <const Py_ssize_t*>cnp.PyArray_DATA(ia)
    if nd + 1 > MAX_DIMS or not _in_range(ix, n, rows):
        return None
    cdef cnp.npy_intp dims[MAX_DIMS]
    cdef int axis
    for axis in range(nd):
        dims[axis] = cnp.PyArray_DIMS(ia)[axis]
    dims[nd] = d
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd + 1, dims, typenum, 0)
    cdef int n_threads = _threads(n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_gather(K.gather_f64, <const double*>cnp.PyArray_DATA(Wa), ix,
                    <double*>cnp.PyArray_DATA(out), d, n, n_threads)
    else:
        _run_gather(K.gather_f32, <const float*>cnp.PyArray_DATA(Wa), ix,
                    <float*>cnp.PyArray_DATA(out), d, n, n_threads)
    return out


cdef bint _scatter_ready(object dout, object idx, object dW) noexcept:
    """Whether the scatter-add kernels take these arrays as they are: dW
    (V, D) writeable, dout (*idx.shape, D) of dW's dtype (or float64 into a
    float32 dW), idx intp with every index in [0, V), dW apart from both."""
    cdef int typenum = kernel_float_type(dW)
    cdef int dout_type = kernel_float_type(dout)
    # float64 rows into a float32 dW as np.add.at adds them: in float64
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dW) != 2 or not (
            dout_type == typenum or (typenum == cnp.NPY_FLOAT and dout_type == cnp.NPY_DOUBLE)):
        return False
    if not is_kernel_array(idx, cnp.NPY_INTP):
        return False
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray ia = <cnp.ndarray>idx
    cdef cnp.ndarray Wa = <cnp.ndarray>dW
    cdef int nd = cnp.PyArray_NDIM(ia), axis
    cdef Py_ssize_t d = cnp.PyArray_DIMS(Wa)[1]
    if not cnp.PyArray_ISWRITEABLE(Wa) or cnp.PyArray_NDIM(da) != nd + 1 or cnp.PyArray_DIMS(da)[nd] != d:
        return False
    for axis in range(nd):
        if cnp.PyArray_DIMS(da)[axis] != cnp.PyArray_DIMS(ia)[axis]:
            return False
    if not (apart(Wa, da) and apart(Wa, ia)):
        return False
    return _in_range(<const Py_ssize_t*>cnp.PyArray_DATA(ia), cnp.PyArray_SIZE(ia), cnp.PyArray_DIMS(Wa)[0])


def embedding_backward(object dout, object idx, object dW):
    """dW[...] = 0, then dout's rows added to dW's rows idx, in order (as
    np.add.at); True, or None, having written nothing, when the arrays are
    not ready."""
    if not _scatter_ready(dout, idx, dW):
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray Wa = <cnp.ndarray>dW
    cdef int typenum = cnp.PyArray_TYPE(Wa)
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(Wa)[0], d = cnp.PyArray_DIMS(Wa)[1]
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>idx)
    cdef const Py_ssize_t* ix = <const Py_ssize_t*>cnp.PyArray_DATA(<cnp.ndarray>idx)
    cdef int n_threads = _threads(rows * d + n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_FLOAT and cnp.PyArray_TYPE(da) == cnp.NPY_DOUBLE:
        _run_scatter_add_widened(K.scatter_add_widened, <const double*>cnp.PyArray_DATA(da), ix,
                                 <float*>cnp.PyArray_DATA(Wa), n, d, rows, n_threads)
    elif typenum == cnp.NPY_DOUBLE:
        _run_scatter_add(K.scatter_add_f64, <const double*>cnp.PyArray_DATA(da), ix,
                         <double*>cnp.PyArray_DATA(Wa), n, d, rows, n_threads)
    else:
        _run_scatter_add(K.scatter_add_f32, <const float*>cnp.PyArray_DATA(da), ix,
                         <float*>cnp.PyArray_DATA(Wa), n, d, rows, n_threads)
    return True


def embedding_backward_kept(object dout, object idx, object dW, object old):
    """embedding_backward for a dW known to be zero outside the rows ``old``
    (intp): those rows and the rows of idx are zeroed, then dout's rows
    added in order (float64 rows into a float32 dW as np.add.at adds them).
    Returns whether a row written holds a -0.0, or None, having written
    nothing, when the arrays are not ready."""
    if not (_scatter_ready(dout, idx, dW) and is_kernel_array(old, cnp.NPY_INTP) and apart(dW, old)):
        return None
    cdef cnp.ndarray Wa = <cnp.ndarray>dW
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(Wa)[0], d = cnp.PyArray_DIMS(Wa)[1]
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>idx), n_old = cnp.PyArray_SIZE(<cnp.ndarray>old)
    cdef const Py_ssize_t* ix = <const Py_ssize_t*>cnp.PyArray_DATA(<cnp.ndarray>idx)
    cdef const Py_ssize_t* ox = <const Py_ssize_t*>cnp.PyArray_DATA(<cnp.ndarray>old)
    if not _in_range(ox, n_old, rows):
        return None
    cdef bint widened = cnp.PyArray_TYPE(<cnp.ndarray>dout) != cnp.PyArray_TYPE(Wa)
    cdef const void* src = cnp.PyArray_DATA(<cnp.ndarray>dout)
    cdef int n_threads = _threads(n * d + n_old * d, GRAIN_ELEMENTWISE)
    cdef Py_ssize_t k, j
    cdef const float* row
    if cnp.PyArray_TYPE(Wa) == cnp.NPY_DOUBLE:
        _run_scatter_add_kept(K.scatter_add_kept_f64, src, widened, ix,
                              <double*>cnp.PyArray_DATA(Wa), n, d, ox, n_old, rows, n_threads)
        return False
    _run_scatter_add_kept(K.scatter_add_kept_f32, src, widened, ix,
                          <float*>cnp.PyArray_DATA(Wa), n, d, ox, n_old, rows, n_threads)
    if widened:  # a float64 sum may round to -0.0 in float32
        for k in range(n):
            row = <const float*>cnp.PyArray_DATA(Wa) + ix[k] * d
            for j in range(d):
                if row[j] == 0 and signbit(row[j]):
                    return True
    return False


cdef inline Py_ssize_t _search_right(const double* cdf, Py_ssize_t v, double x) noexcept nogil:
    """(cdf / cdf[-1]).searchsorted(x, side='right') for a running sum cdf:
    the division, monotone, done where the search looks."""
    cdef Py_ssize_t lo = 0, hi = v, mid
    cdef double last = cdf[v - 1]
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if cdf[mid] / last <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef void _draw_rows(bitgen_t* rng, const double* w, const Py_ssize_t* target, const double* cdf,
                     const double* sums, double* scratch, double* draws, Py_ssize_t* found,
                     int* out, Py_ssize_t v, Py_ssize_t rows, Py_ssize_t size) noexcept nogil:
    """np.random.choice(v, size, replace=False, p=p) for each row, in order:
    size - n uniform draws per round, each word found once (in the order
    first drawn), the words found zeroed in p for the next round."""
    cdef Py_ssize_t r, i, q, j, k, n, start
    cdef const double* p
    cdef bint seen
    for r in range(rows):
        p = cdf + r * v
        n = 0
        while n < size:
            k = size - n
            for i in range(k):
                draws[i] = rng.next_double(rng.state)
            if n > 0:
                K.unigram_cdf_without(w, target[r], sums[r], found, n, scratch, v)
                p = scratch
            start = n
            for i in range(k):
                j = _search_right(p, v, draws[i])
                seen = False
                for q in range(start, n):
                    if found[q] == j:
                        seen = True
                        break
                if not seen:
                    found[n] = j
                    n += 1
        for i in range(size):
            out[r * size + i] = <int>found[i]


def unigram_negative_samples(object word_p, object target, Py_ssize_t size, object out,
                             object cdf, object bit_generator):
    """For each target word t: ``p = word_p.copy(); p[t] = 0; p /= p.sum()``,
    then ``np.random.choice(len(word_p), size, replace=False, p=p)`` drawn
    from ``bit_generator`` (hold its lock), into the int32 rows of ``out``
    (len(target), size).  ``cdf`` is scratch: float64 (rows, V), rows >= 2.
    The caller has checked that word_p is finite and non-negative, with at
    least max(size, 1) positive entries besides each target.  True, or None
    when the arrays are not ready (nothing drawn)."""
    if kernel_float_type(word_p) != cnp.NPY_DOUBLE or kernel_float_type(cdf) != cnp.NPY_DOUBLE:
        return None
    if not (is_kernel_array(target, cnp.NPY_INTP) and is_kernel_array(out, cnp.NPY_INT)):
        return None
    cdef cnp.ndarray wa = <cnp.ndarray>word_p
    cdef cnp.ndarray ta = <cnp.ndarray>target
    cdef cnp.ndarray oa = <cnp.ndarray>out
    cdef cnp.ndarray ca = <cnp.ndarray>cdf
    if cnp.PyArray_NDIM(wa) != 1 or cnp.PyArray_NDIM(ta) != 1 or cnp.PyArray_NDIM(ca) != 2:
        return None
    cdef Py_ssize_t v = cnp.PyArray_DIMS(wa)[0], n = cnp.PyArray_DIMS(ta)[0]
    cdef Py_ssize_t chunk_rows = cnp.PyArray_DIMS(ca)[0] - 1  # the last row: a retry's cdf
    if (v < 1 or size < 0 or size > v or chunk_rows < 1 or cnp.PyArray_DIMS(ca)[1] != v
            or cnp.PyArray_NDIM(oa) != 2 or cnp.PyArray_DIMS(oa)[0] != n
            or cnp.PyArray_DIMS(oa)[1] != size or not cnp.PyArray_ISWRITEABLE(oa)
            or not cnp.PyArray_ISWRITEABLE(ca)):
        return None
    cdef const Py_ssize_t* tx = <const Py_ssize_t*>cnp.PyArray_DATA(ta)
    if not _in_range(tx, n, v):
        return None
    cdef bitgen_t* rng = <bitgen_t*>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")
    cdef const double* w = <const double*>cnp.PyArray_DATA(wa)
    cdef double* c = <double*>cnp.PyArray_DATA(ca)
    cdef int* o = <int*>cnp.PyArray_DATA(oa)
    cdef cnp.npy_intp rows_dim = chunk_rows, slots = max(size, 1)
    cdef double[::1] sums = cnp.PyArray_EMPTY(1, &rows_dim, cnp.NPY_DOUBLE, 0)
    cdef double[::1] draws = cnp.PyArray_ZEROS(1, &slots, cnp.NPY_DOUBLE, 0)
    cdef Py_ssize_t[::1] found = cnp.PyArray_ZEROS(1, &slots, cnp.NPY_INTP, 0)
    cdef cnp.npy_intp n_leaves = v // 64 + 1
    cdef double[::1] leaves = cnp.PyArray_ZEROS(1, &n_leaves, cnp.NPY_DOUBLE, 0)
    K.unigram_leaves(w, v, &leaves[0])
    cdef Py_ssize_t first, m, r
    cdef int n_threads
    for first in range(0, n, chunk_rows):
        m = min(chunk_rows, n - first)
        for r in range(m):
            sums[r] = -1.0
        n_threads = _threads(m * v, GRAIN_ELEMENTWISE)
        _run_unigram_cdf(K.unigram_cdf, w, tx + first, &leaves[0], c, &sums[0], v, m, n_threads)
        for r in range(m):
            if not sums[r] > 0.0:
                raise MemoryError("zk_layers: no memory for the sampler's scratch")
        with nogil:
            _draw_rows(rng, w, tx + first, c, &sums[0], c + chunk_rows * v, &draws[0], &found[0],
                       o + first * size, v, m, size)
    return True
