# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Embedding, forward and backward: the glue, compiled once.

    embedding_forward(W, idx)        out = W[idx]
    embedding_backward(dout, idx, dW) dW[...] = 0; np.add.at(dW, idx, dout)

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


def embedding_backward(object dout, object idx, object dW):
    """dW[...] = 0, then dout's rows added to dW's rows idx, in order (as
    np.add.at); True, or None, having written nothing, when the arrays are
    not ready."""
    cdef int typenum = kernel_float_type(dW)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dW) != 2 or kernel_float_type(dout) != typenum:
        return None
    if not is_kernel_array(idx, cnp.NPY_INTP):
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    cdef cnp.ndarray ia = <cnp.ndarray>idx
    cdef cnp.ndarray Wa = <cnp.ndarray>dW
    cdef int nd = cnp.PyArray_NDIM(ia)
    cdef Py_ssize_t rows = cnp.PyArray_DIMS(Wa)[0], d = cnp.PyArray_DIMS(Wa)[1]
    cdef Py_ssize_t n = cnp.PyArray_SIZE(ia)
    cdef int axis
    if not cnp.PyArray_ISWRITEABLE(Wa) or cnp.PyArray_NDIM(da) != nd + 1 or cnp.PyArray_DIMS(da)[nd] != d:
        return None
    for axis in range(nd):
        if cnp.PyArray_DIMS(da)[axis] != cnp.PyArray_DIMS(ia)[axis]:
            return None
    if not (apart(Wa, da) and apart(Wa, ia)):
        return None
    cdef const Py_ssize_t* ix = <const Py_ssize_t*>cnp.PyArray_DATA(ia)
    if not _in_range(ix, n, rows):
        return None
    cdef int n_threads = _threads(rows * d + n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_scatter_add(K.scatter_add_f64, <const double*>cnp.PyArray_DATA(da), ix,
                         <double*>cnp.PyArray_DATA(Wa), n, d, rows, n_threads)
    else:
        _run_scatter_add(K.scatter_add_f32, <const float*>cnp.PyArray_DATA(da), ix,
                         <float*>cnp.PyArray_DATA(Wa), n, d, rows, n_threads)
    return True
