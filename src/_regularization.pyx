# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""BatchNormalization and Dropout: the glue, compiled once.

What the entry points compute (the formulas: src/_cpu_regularization.pyx):
    batchnorm_forward_train  (out, xc, xn, mu, var, std) for x (N, D)
    batchnorm_forward_test   out for x (N, D) and the running mean and denominator
    batchnorm_backward       (dx, dgamma, dbeta)
    dropout_forward_train    (out, mask) for x and the draws r: mask = r > ratio
    dropout_scale            out = x * scale
    dropout_backward         dx = dout * mask
Each checks in C that its arrays are ready -- exact C-contiguous ndarrays of
one float dtype (the draws float64, the mask boolean), native byte order,
shapes that fit -- allocates the outputs, picks the thread count and runs
the kernel; otherwise it returns None and does nothing.
zk_layers/regularization.py prepares the arrays (the book's dtype rules,
flattening 4-D input) and checks the state.

The kernels are src/_cpu_regularization.pyx, called through the table that
``bind`` installs.  Batch normalisation cuts the D columns into contiguous
chunks, Dropout the elements; nothing is combined across threads, so
results are bitwise identical for every thread count.  Small one-thread
work runs inline with the GIL held (GIL_RELEASE_MIN_ITEMS).
"""
cimport numpy as cnp
from libc.string cimport memset

from _common cimport is_kernel_array, kernel_float_type, same_shape
from _tables cimport GRAIN_ELEMENTWISE, RegularizationKernels

ctypedef RegularizationKernels Table
cdef const char* TABLE_NAME = "zk_layers.RegularizationKernels"
include "_glue.pxi"


cdef inline bint _rows(object a, int typenum, cnp.npy_intp n, cnp.npy_intp d) noexcept:
    """An exact C-contiguous (n, d) ndarray of typenum."""
    return (kernel_float_type(a) == typenum and cnp.PyArray_NDIM(<cnp.ndarray>a) == 2
            and cnp.PyArray_DIMS(<cnp.ndarray>a)[0] == n
            and cnp.PyArray_DIMS(<cnp.ndarray>a)[1] == d)


cdef inline bint _features(object a, int typenum, cnp.npy_intp d) noexcept:
    """An exact C-contiguous ndarray of typenum with d elements."""
    return kernel_float_type(a) == typenum and cnp.PyArray_SIZE(<cnp.ndarray>a) == d


cdef inline void* _data(object a) noexcept:
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline cnp.ndarray _empty_like(object a, int typenum):
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>a), cnp.PyArray_DIMS(<cnp.ndarray>a),
                             typenum, 0)


cdef inline cnp.ndarray _vector(cnp.npy_intp d, int typenum):
    return cnp.PyArray_EMPTY(1, &d, typenum, 0)


# The runners, one per kernel signature (src/_runners.pxi.tp): column
# chunks for batch normalisation, element chunks for Dropout.  The entry
# points pick the float32 or float64 kernel of the table.
include "_regularization_runners.pxi"


# ---------------------------------------------------------- entry points
def batchnorm_forward_train(object x, object gamma, object beta):
    """``(out, xc, xn, mu, var, std)`` for a C-contiguous (N, D) x and
    gamma, beta of D elements, one float dtype; else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(<cnp.ndarray>x)[0], d = cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    if not (_features(gamma, typenum, d) and _features(beta, typenum, d)):
        return None
    cdef cnp.ndarray out = _empty_like(x, typenum), xc = _empty_like(x, typenum)
    cdef cnp.ndarray xn = _empty_like(x, typenum)
    cdef cnp.ndarray mu = _vector(d, typenum), var = _vector(d, typenum), std = _vector(d, typenum)
    cdef int n_threads = _threads(n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_bn_train(K.bn_train_f64, <const double*>_data(x), <const double*>_data(gamma),
                      <const double*>_data(beta), <double*>_data(xc), <double*>_data(xn),
                      <double*>_data(out), <double*>_data(mu), <double*>_data(var),
                      <double*>_data(std), n, d, n_threads)
    else:
        _run_bn_train(K.bn_train_f32, <const float*>_data(x), <const float*>_data(gamma),
                      <const float*>_data(beta), <float*>_data(xc), <float*>_data(xn),
                      <float*>_data(out), <float*>_data(mu), <float*>_data(var),
                      <float*>_data(std), n, d, n_threads)
    return out, xc, xn, mu, var, std


def batchnorm_forward_test(object x, object mean, object denom, object gamma, object beta):
    """out for a C-contiguous (N, D) x and the running mean, the denominator
    sqrt(running_var + 10e-7), gamma and beta of D elements, one float
    dtype; else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(<cnp.ndarray>x)[0], d = cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    if not (_features(mean, typenum, d) and _features(denom, typenum, d)
            and _features(gamma, typenum, d) and _features(beta, typenum, d)):
        return None
    cdef cnp.ndarray out = _empty_like(x, typenum)
    cdef int n_threads = _threads(n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_bn_test(K.bn_test_f64, <const double*>_data(x), <const double*>_data(mean),
                     <const double*>_data(denom), <const double*>_data(gamma),
                     <const double*>_data(beta), <double*>_data(out), n, d, n_threads)
    else:
        _run_bn_test(K.bn_test_f32, <const float*>_data(x), <const float*>_data(mean),
                     <const float*>_data(denom), <const float*>_data(gamma),
                     <const float*>_data(beta), <float*>_data(out), n, d, n_threads)
    return out


def batchnorm_backward(object dout, object xc, object xn, object gamma, object std):
    """``(dx, dgamma, dbeta)`` for C-contiguous (N, D) dout, xc, xn and
    gamma, std of D elements, one float dtype (no sample: zero sums); else
    None."""
    cdef int typenum = kernel_float_type(dout)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dout) != 2:
        return None
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(<cnp.ndarray>dout)[0]
    cdef cnp.npy_intp d = cnp.PyArray_DIMS(<cnp.ndarray>dout)[1]
    if not (_rows(xc, typenum, n, d) and _rows(xn, typenum, n, d)
            and _features(gamma, typenum, d) and _features(std, typenum, d)):
        return None
    cdef cnp.ndarray dx = _empty_like(dout, typenum)
    cdef cnp.ndarray dgamma = _vector(d, typenum), dbeta = _vector(d, typenum)
    cdef cnp.ndarray work = _vector(2 * d, typenum)
    if n == 0:
        memset(cnp.PyArray_DATA(dgamma), 0, cnp.PyArray_NBYTES(dgamma))
        memset(cnp.PyArray_DATA(dbeta), 0, cnp.PyArray_NBYTES(dbeta))
        return dx, dgamma, dbeta
    cdef int n_threads = _threads(n * d, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_bn_backward(K.bn_backward_f64, <const double*>_data(dout), <const double*>_data(xc),
                         <const double*>_data(xn), <const double*>_data(gamma),
                         <const double*>_data(std), <double*>_data(dx), <double*>_data(dgamma),
                         <double*>_data(dbeta), <double*>_data(work), <double*>_data(work) + d,
                         n, d, n_threads)
    else:
        _run_bn_backward(K.bn_backward_f32, <const float*>_data(dout), <const float*>_data(xc),
                         <const float*>_data(xn), <const float*>_data(gamma),
                         <const float*>_data(std), <float*>_data(dx), <float*>_data(dgamma),
                         <float*>_data(dbeta), <float*>_data(work), <float*>_data(work) + d,
                         n, d, n_threads)
    return dx, dgamma, dbeta


def dropout_forward_train(object x, object r, double ratio):
    """``(out, mask)`` for a C-contiguous float x and float64 draws r of
    its shape; else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0 or not is_kernel_array(r, cnp.NPY_DOUBLE) or not same_shape(<cnp.ndarray>x, <cnp.ndarray>r):
        return None
    cdef cnp.ndarray out = _empty_like(x, typenum), mask = _empty_like(x, cnp.NPY_BOOL)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef int n_threads = _threads(n, GRAIN_ELEMENTWISE)
    cdef unsigned char* m = <unsigned char*>_data(mask)
    if typenum == cnp.NPY_DOUBLE:
        _run_dropout(K.dropout_train_f64, <const double*>_data(x), <const double*>_data(r),
                     ratio, m, <double*>_data(out), n, n_threads)
    else:
        _run_dropout(K.dropout_train_f32, <const float*>_data(x), <const double*>_data(r),
                     ratio, m, <float*>_data(out), n, n_threads)
    return out, mask


def dropout_scale(object x, double scale):
    """x * scale (rounded to x's dtype first) for a C-contiguous float x; else None."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0:
        return None
    cdef cnp.ndarray out = _empty_like(x, typenum)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef int n_threads = _threads(n, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_scale(K.scale_f64, <const double*>_data(x), scale, <double*>_data(out), n, n_threads)
    else:
        _run_scale(K.scale_f32, <const float*>_data(x), <float>scale, <float*>_data(out), n,
                   n_threads)
    return out


def dropout_backward(object dout, object mask):
    """dout * mask for a C-contiguous float dout and a boolean mask of its
    size (any shape: the layer has checked it); else None."""
    cdef int typenum = kernel_float_type(dout)
    if (typenum < 0 or not is_kernel_array(mask, cnp.NPY_BOOL)
            or cnp.PyArray_SIZE(<cnp.ndarray>mask) != cnp.PyArray_SIZE(<cnp.ndarray>dout)):
        return None
    cdef cnp.ndarray dx = _empty_like(dout, typenum)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(dx)
    cdef int n_threads = _threads(n, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_masked(K.dropout_backward_f64, <const double*>_data(dout),
                    <const unsigned char*>_data(mask), <double*>_data(dx), n, n_threads)
    else:
        _run_masked(K.dropout_backward_f32, <const float*>_data(dout),
                    <const unsigned char*>_data(mask), <float*>_data(dx), n, n_threads)
    return dx
