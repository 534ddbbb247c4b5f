# NumPy's own BLAS calls, made from C (src/_blas.h finds the routines).
#
# np.dot (numpy/_core/src/common/cblasfuncs.c) and np.matmul (the BLAS
# loop of numpy/_core/src/umath/matmul.c.src) spend microseconds choosing
# and wrapping one BLAS call: at the layers' small shapes that is a tenth
# of the product and more (docs/performance.md).  _dot and _matmul make the
# call those functions make -- the same routine, order, transposes, leading
# dimensions and scalars -- for the two-dimensional cases they decide the
# same way every time, and return False for every other case (a vector, a
# length-one side, a layout NumPy would copy, a matrix times its own
# transpose, which NumPy sends to syrk), which the caller then hands to
# NumPy.  The same call on the same arrays gives the same bits; the tests
# compare both routes bit for bit, and zk_layers/_kernels.py does once at
# import before switching it on.
from libc.string cimport memset

from os import fsencode as _fsencode

from numpy import may_share_memory as _may_share_memory

cdef extern from "_blas.h" nogil:
    ctypedef long long zk_blas_int
    ctypedef void (*zk_gemm_f64)(int, int, int, zk_blas_int, zk_blas_int, zk_blas_int, double,
                                 const double*, zk_blas_int, const double*, zk_blas_int, double,
                                 double*, zk_blas_int)
    ctypedef void (*zk_gemm_f32)(int, int, int, zk_blas_int, zk_blas_int, zk_blas_int, float,
                                 const float*, zk_blas_int, const float*, zk_blas_int, float,
                                 float*, zk_blas_int)
    ctypedef void (*zk_gemv_f64)(int, int, zk_blas_int, zk_blas_int, double, const double*,
                                 zk_blas_int, const double*, zk_blas_int, double, double*,
                                 zk_blas_int)
    ctypedef void (*zk_gemv_f32)(int, int, zk_blas_int, zk_blas_int, float, const float*,
                                 zk_blas_int, const float*, zk_blas_int, float, float*,
                                 zk_blas_int)
    ctypedef struct zk_blas:
        zk_gemm_f64 dgemm
        zk_gemm_f32 sgemm
        zk_gemv_f64 dgemv
        zk_gemv_f32 sgemv
        char prefix[32]
    int zk_blas_find(const char* path, zk_blas* blas)

# The CBLAS enumerations' values, fixed by the CBLAS interface.
cdef enum:
    ROW_MAJOR = 101
    COL_MAJOR = 102
    NO_TRANS = 111
    TRANS = 112

cdef zk_blas _blas
cdef bint _blas_found = False
cdef bint _blas_on = False


def find_blas(str numpy_module):
    """Look up the CBLAS routines in the library that the already loaded
    extension module at path ``numpy_module`` (NumPy's _multiarray_umath)
    links; their symbol prefix, or None when there are none to call
    directly.  The direct route stays off until ``use_blas(True)``."""
    global _blas_found, _blas_on
    _blas_on = False
    _blas_found = zk_blas_find(_fsencode(numpy_module), &_blas) == 1
    return _blas.prefix.decode() if _blas_found else None


def use_blas(bint on):
    """Switch the direct route on or off (on only once ``find_blas`` found
    the routines); returns whether it is on."""
    global _blas_on
    _blas_on = on and _blas_found
    return _blas_on


cdef inline bint _numpy_copies(cnp.ndarray a) noexcept:
    """NumPy's _bad_strides (cblasfuncs.c): np.dot copies such an array
    first (a data pointer or a stride that is not a whole number of items,
    a negative stride, a zero stride on a longer axis)."""
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(a)
    cdef Py_ssize_t i, stride
    if (<size_t>cnp.PyArray_DATA(a)) % itemsize:
        return True
    for i in range(cnp.PyArray_NDIM(a)):
        stride = cnp.PyArray_STRIDES(a)[i]
        if stride < 0 or stride % itemsize or (stride == 0 and cnp.PyArray_DIMS(a)[i] > 1):
            return True
    return False


cdef inline void _gemm(int typenum, int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n,
                       Py_ssize_t k, const void* a, Py_ssize_t lda, const void* b,
                       Py_ssize_t ldb, void* c, Py_ssize_t ldc) noexcept nogil:
    """cblas_?gemm(RowMajor, ...) with alpha 1 and beta 0, as NumPy calls it."""
    if typenum == cnp.NPY_DOUBLE:
        _blas.dgemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, <const double*>a, lda,
                    <const double*>b, ldb, 0.0, <double*>c, ldc)
    else:
        _blas.sgemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, <const float*>a, lda,
                    <const float*>b, ldb, 0.0, <float*>c, ldc)


cdef bint _dot(object a, object b, cnp.ndarray out) noexcept:
    """out = np.dot(a, b) for a (n, k) and b (k, m), ndarrays of out's float
    type, out a fresh C-contiguous (n, m): the BLAS call cblas_matrixproduct
    makes for a matrix or a row times a matrix.  False, with nothing
    written, for any other case."""
    if not _blas_on:
        return False
    cdef cnp.ndarray A = <cnp.ndarray>a, B = <cnp.ndarray>b
    cdef int typenum = cnp.PyArray_TYPE(out)
    cdef Py_ssize_t n = cnp.PyArray_DIMS(A)[0], k = cnp.PyArray_DIMS(A)[1]
    cdef Py_ssize_t m = cnp.PyArray_DIMS(B)[1]
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(out)
    cdef int trans_a, trans_b, order
    cdef Py_ssize_t lda, ldb
    # b must be a "matrix" (k > 1, m > 1); a a matrix (n > 1) or a row (n == 1).
    if n < 1 or k < 2 or m < 2 or _numpy_copies(A) or _numpy_copies(B):
        return False
    if n > 1:
        if cnp.PyArray_IS_F_CONTIGUOUS(A):
            trans_a, lda = TRANS, n
        elif cnp.PyArray_IS_C_CONTIGUOUS(A):
            trans_a, lda = NO_TRANS, k
        else:
            return False
        if cnp.PyArray_IS_F_CONTIGUOUS(B):
            trans_b, ldb = TRANS, k
        elif cnp.PyArray_IS_C_CONTIGUOUS(B):
            trans_b, ldb = NO_TRANS, m
        else:
            return False
        if (cnp.PyArray_DATA(A) == cnp.PyArray_DATA(B) and n == m
                and cnp.PyArray_STRIDES(A)[0] == cnp.PyArray_STRIDES(B)[1]
                and cnp.PyArray_STRIDES(A)[1] == cnp.PyArray_STRIDES(B)[0]
                and trans_a != trans_b):
            return False  # a matrix times its transpose: NumPy calls syrk
        # np.dot zeroes the output first; gemm with beta 0 never reads it (the
        # BLAS standard's rule, which OpenBLAS keeps: it writes zeros, NaN or
        # not), so that pass is not repeated here: about 1 us at N = 8.
        with nogil:
            _gemm(typenum, trans_a, trans_b, n, m, k, cnp.PyArray_DATA(A), lda,
                  cnp.PyArray_DATA(B), ldb, cnp.PyArray_DATA(out), m)
        return True
    # A row times a matrix: gemv with the matrix transposed.
    if cnp.PyArray_IS_C_CONTIGUOUS(B):
        order, ldb = ROW_MAJOR, m
    elif cnp.PyArray_IS_F_CONTIGUOUS(B):
        order, ldb = COL_MAJOR, k
    else:
        return False
    cdef Py_ssize_t inc = cnp.PyArray_STRIDES(A)[1] // item
    with nogil:
        memset(cnp.PyArray_DATA(out), 0, m * item)
        if typenum == cnp.NPY_DOUBLE:
            _blas.dgemv(order, TRANS, k, m, 1.0, <const double*>cnp.PyArray_DATA(B), ldb,
                        <const double*>cnp.PyArray_DATA(A), inc, 0.0, <double*>cnp.PyArray_DATA(out), 1)
        else:
            _blas.sgemv(order, TRANS, k, m, 1.0, <const float*>cnp.PyArray_DATA(B), ldb,
                        <const float*>cnp.PyArray_DATA(A), inc, 0.0, <float*>cnp.PyArray_DATA(out), 1)
    return True


cdef cnp.ndarray _test_output(object out, cnp.npy_intp* dims, int typenum):
    """A fresh output, or ``out`` (the tests' NaN-filled one) when it fits."""
    if out is None:
        return cnp.PyArray_EMPTY(2, dims, typenum, 0)
    if not (cnp.PyArray_CheckExact(out) and cnp.PyArray_TYPE(<cnp.ndarray>out) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>out) and cnp.PyArray_NDIM(<cnp.ndarray>out) == 2
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
            and cnp.PyArray_DIMS(<cnp.ndarray>out)[0] == dims[0]
            and cnp.PyArray_DIMS(<cnp.ndarray>out)[1] == dims[1]):
        raise ValueError("out must be a writeable C-contiguous array of the product's shape and dtype")
    return <cnp.ndarray>out


cdef object _test_product(object a, object b, object out, bint matmul):
    """The direct call's result for the tests (see direct_dot)."""
    cdef cnp.npy_intp dims[2]
    if not (cnp.PyArray_CheckExact(a) and cnp.PyArray_CheckExact(b)):
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if ((typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) or cnp.PyArray_TYPE(<cnp.ndarray>b) != typenum
            or cnp.PyArray_NDIM(<cnp.ndarray>a) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>b) != 2
            or not (cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a) and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>b))
            or cnp.PyArray_DIMS(<cnp.ndarray>a)[1] != cnp.PyArray_DIMS(<cnp.ndarray>b)[0]):
        return None
    dims[0] = cnp.PyArray_DIMS(<cnp.ndarray>a)[0]
    dims[1] = cnp.PyArray_DIMS(<cnp.ndarray>b)[1]
    cdef cnp.ndarray result = _test_output(out, dims, typenum)
    if out is not None and (_may_share_memory(out, a) or _may_share_memory(out, b)):
        raise ValueError("out must not overlap a or b")
    return result if (_matmul(a, b, result) if matmul else _dot(a, b, result)) else None


def direct_dot(object a, object b, object out=None):
    """np.dot(a, b) by the direct call, for the tests: the result (in ``out``
    when given), or None when the direct route is off or the case is
    NumPy's alone."""
    return _test_product(a, b, out, False)


def direct_matmul(object a, object b, object out=None):
    """np.matmul(a, b) by the direct call, for the tests (see direct_dot)."""
    return _test_product(a, b, out, True)


cdef inline bint _blasable(Py_ssize_t stride1, Py_ssize_t stride2, Py_ssize_t d2,
                           Py_ssize_t item) noexcept:
    """matmul.c.src's is_blasable2d: the second axis contiguous, the first a
    whole number of items and no shorter than the second axis."""
    return stride2 == item and stride1 % item == 0 and stride1 // item >= d2


cdef bint _matmul(object a, object b, cnp.ndarray out) noexcept:
    """out = np.matmul(a, b) for a (m, n) and b (n, p), ndarrays of out's
    float type, out a fresh C-contiguous (m, p): the gemm call of matmul's
    BLAS loop when m, n and p are all above one and neither operand needs
    its copy.  False, with nothing written, for any other case."""
    if not _blas_on:
        return False
    cdef cnp.ndarray A = <cnp.ndarray>a, B = <cnp.ndarray>b
    cdef int typenum = cnp.PyArray_TYPE(out)
    cdef Py_ssize_t dm = cnp.PyArray_DIMS(A)[0], dn = cnp.PyArray_DIMS(A)[1]
    cdef Py_ssize_t dp = cnp.PyArray_DIMS(B)[1]
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(out)
    cdef Py_ssize_t is1_m = cnp.PyArray_STRIDES(A)[0], is1_n = cnp.PyArray_STRIDES(A)[1]
    cdef Py_ssize_t is2_n = cnp.PyArray_STRIDES(B)[0], is2_p = cnp.PyArray_STRIDES(B)[1]
    cdef int trans_a, trans_b
    cdef Py_ssize_t lda, ldb
    if dm < 2 or dn < 2 or dp < 2:
        return False
    if (<size_t>cnp.PyArray_DATA(A)) % item or (<size_t>cnp.PyArray_DATA(B)) % item:
        return False
    if _blasable(is1_m, is1_n, dn, item):
        trans_a, lda = NO_TRANS, is1_m // item
    elif _blasable(is1_n, is1_m, dm, item):
        trans_a, lda = TRANS, is1_n // item
    else:
        return False
    if _blasable(is2_n, is2_p, dp, item):
        trans_b, ldb = NO_TRANS, is2_n // item
    elif _blasable(is2_p, is2_n, dn, item):
        trans_b, ldb = TRANS, is2_p // item
    else:
        return False
    if (cnp.PyArray_DATA(A) == cnp.PyArray_DATA(B) and dm == dp and is1_m == is2_p
            and is1_n == is2_n and trans_a != trans_b):
        return False  # a matrix times its transpose: NumPy calls syrk
    with nogil:
        _gemm(typenum, trans_a, trans_b, dm, dp, dn, cnp.PyArray_DATA(A), lda,
              cnp.PyArray_DATA(B), ldb, cnp.PyArray_DATA(out), dp)
    return True
