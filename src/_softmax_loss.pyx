# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Softmax with cross-entropy loss, forward and backward: the glue, compiled once.

    forward   y = softmax(x) row by row; returns the mean of the rows'
              losses, -log(y[i, t[i]] + eps) (logsumexp(x[i]) - x[i, t[i]]
              when eps == 0), their total added serially in row order
    backward  dx[i, j] = (y[i, j] - [j == t[i]]) * dout / N

Each entry point is the one compiled path of a layer method: it checks in C
that the arrays are ready -- a C-contiguous float32/float64 (N, C) x;
labels as C-contiguous intp/int32 indices of shape (N,) or (N, 1), or exact
one-hot rows of x's dtype -- copies the labels into the layer's own intp
array while checking their range, allocates y (or writes over the one the
layer hands back) and runs the kernels; anything else, a bad label
included, returns None having written nothing.  zk_layers/layers.py calls
it with the caller's arrays and, when it declines, normalises them (labels
to checked intp indices, with the documented errors) and calls it again.

The kernels are src/_cpu_softmax_loss.pyx, called through the table that
``bind`` installs.  Rows are cut into n_threads contiguous chunks with a
static schedule; each row is computed by one thread in a fixed order and
the per-row losses are added after the parallel region, serially, so the
loss and y are bitwise identical for every thread count.  Small one-thread
work runs inline without a parallel region.
"""
cimport numpy as cnp
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsDouble
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cython cimport floating
from libc.stdlib cimport free, malloc

from _common cimport is_kernel_array, kernel_float_type, same_shape
from _tables cimport GRAIN_ELEMENTWISE, GRAIN_ROWWISE, SoftmaxLossKernels

ctypedef SoftmaxLossKernels Table
cdef const char* TABLE_NAME = "zk_layers.SoftmaxLossKernels"
include "_glue.pxi"


# The runners, one per kernel signature (src/_runners.pxi.tp); the entry
# points pick the float32 or float64 kernel of the table with the array type.
include "_softmax_loss_runners.pxi"


# ---------------------------------------------------------- entry points
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


ctypedef fused index_t:  # the class indices a caller may hand in: intp or int32
    Py_ssize_t
    int


cdef inline bint _copy_labels(const index_t* t, Py_ssize_t* labels, Py_ssize_t n,
                              Py_ssize_t n_classes) noexcept:
    cdef Py_ssize_t i, label
    for i in range(n):
        label = t[i]
        if label < 0 or label >= n_classes:
            return False
        labels[i] = label
    return True


cdef inline bint _copy_indices(cnp.ndarray t, Py_ssize_t* labels,
                               Py_ssize_t n, Py_ssize_t n_classes) noexcept:
    """Copy class indices (intp or int32, C-contiguous, n of them) into
    labels; False at the first one out of [0, n_classes)."""
    if cnp.PyArray_TYPE(t) == cnp.NPY_INTP:
        return _copy_labels(<const Py_ssize_t*>cnp.PyArray_DATA(t), labels, n, n_classes)
    return _copy_labels(<const int*>cnp.PyArray_DATA(t), labels, n, n_classes)


cdef inline bint _one_hot_indices(const floating* t, Py_ssize_t* labels,
                                  Py_ssize_t n, Py_ssize_t n_classes) noexcept:
    """The column of the single 1 of each row of t into labels; False if a
    row is not exactly one 1 and zeros elsewhere (the general path then
    raises the documented error)."""
    cdef Py_ssize_t i, j, hot
    cdef const floating* row
    for i in range(n):
        row = t + i * n_classes
        hot = -1
        for j in range(n_classes):
            if row[j] == 1:
                if hot >= 0:
                    return False
                hot = j
            elif row[j] != 0:
                return False
        if hot < 0:
            return False
        labels[i] = hot
    return True


cdef inline bint _reusable(object candidate, int typenum, cnp.ndarray x) noexcept:
    """``candidate`` can take this call's y: an exact, writeable,
    C-contiguous ndarray of x's dtype and shape that owns its data, and whose
    memory does not overlap x's (through a raw address: the layer has
    counted the references)."""
    if candidate is None or not is_kernel_array(candidate, typenum):
        return False
    cdef cnp.ndarray c = <cnp.ndarray>candidate
    if not (cnp.PyArray_ISWRITEABLE(c) and cnp.PyArray_CHKFLAGS(c, cnp.NPY_ARRAY_OWNDATA)
            and same_shape(c, x)):
        return False
    cdef char* c_start = <char*>cnp.PyArray_DATA(c)
    cdef char* x_start = <char*>cnp.PyArray_DATA(x)
    cdef Py_ssize_t size = cnp.PyArray_NBYTES(x)
    return c_start + size <= x_start or x_start + size <= c_start


def softmax_loss_forward(object x, object t, double eps, object y=None):
    """``(loss, y, labels)`` of SoftmaxWithLoss.forward: the loss the mean
    over the rows (the serial total divided by N), labels the layer's own
    intp copy of the class indices; or None when the arrays are not ready.
    ``y``, an array the layer hands back for reuse (its last forward's,
    which it holds alone), is written over when it fits (_reusable), else a
    new y is made.  A call that returns None has written nothing."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    if cnp.PyArray_NDIM(xa) != 2:
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(xa)
    cdef Py_ssize_t n = dims[0], n_classes = dims[1]
    if n < 1 or n_classes < 1 or not cnp.PyArray_CheckExact(t):
        return None
    cdef cnp.ndarray ta = <cnp.ndarray>t
    cdef int t_nd = cnp.PyArray_NDIM(ta)
    cdef cnp.npy_intp* t_dims = cnp.PyArray_DIMS(ta)
    cdef cnp.ndarray labels = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INTP, 0)
    cdef Py_ssize_t* label_data = <Py_ssize_t*>cnp.PyArray_DATA(labels)
    if t_nd == 2 and t_dims[0] == n and t_dims[1] == n_classes:
        # One-hot rows (an (N, 1) array with C == 1 is one-hot, as in
        # class_indices), of x's own dtype.
        if not is_kernel_array(t, typenum):
            return None
        if typenum == cnp.NPY_DOUBLE:
            if not _one_hot_indices(<const double*>cnp.PyArray_DATA(ta),
                                    label_data, n, n_classes):
                return None
        elif not _one_hot_indices(<const float*>cnp.PyArray_DATA(ta),
                                  label_data, n, n_classes):
            return None
    elif (t_nd == 1 and t_dims[0] == n) or (t_nd == 2 and t_dims[0] == n
                                            and t_dims[1] == 1):
        if not (is_kernel_array(t, cnp.NPY_INTP)
                or is_kernel_array(t, cnp.NPY_INT32)):
            return None
        if not _copy_indices(ta, label_data, n, n_classes):
            return None
    else:
        return None
    cdef int n_threads = _threads(n * n_classes, GRAIN_ROWWISE)
    cdef cnp.ndarray ya
    if _reusable(y, typenum, xa):
        ya = <cnp.ndarray>y
    else:
        ya = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    # Nothing between the malloc below and its free may raise.
    # The per-row losses are a scratch of ours: malloc, not an ndarray
    # (a NumPy allocation is a tenth of the whole call at N = 1).
    cdef double* losses = <double*>malloc(n * sizeof(double))
    if losses == NULL:
        raise MemoryError()
    cdef double total = 0.0
    cdef Py_ssize_t i
    if typenum == cnp.NPY_DOUBLE:
        _run_softmax_forward(K.forward_f64, <const double*>cnp.PyArray_DATA(xa), label_data,
                             <double*>cnp.PyArray_DATA(ya), losses, n_classes, eps, n,
                             n_threads)
    else:
        _run_softmax_forward(K.forward_f32, <const float*>cnp.PyArray_DATA(xa), label_data,
                             <float*>cnp.PyArray_DATA(ya), losses, n_classes, eps, n,
                             n_threads)
    # Serial, in row order: the total does not depend on the thread count.
    for i in range(n):
        total += losses[i]
    free(losses)
    return total / n, ya, labels


def softmax_loss_backward(object y, object labels, object dout, object y_shape):
    """dx = (y - onehot) * dout / N of SoftmaxWithLoss.backward for a
    C-contiguous float (N, C) ``y``, checked labels (an intp array of N
    indices in [0, the last element of ``y_shape``); y must have that many
    columns) and a Python int or float ``dout``; else None."""
    cdef double scale
    cdef Py_ssize_t n_classes_checked
    if type(dout) is float:
        scale = PyFloat_AS_DOUBLE(dout)
    elif type(dout) is int:
        try:
            scale = PyLong_AsDouble(dout)
        except OverflowError:  # too large: the general path reports it
            return None
    else:
        return None
    if type(y_shape) is not tuple or PyTuple_GET_SIZE(y_shape) != 2:
        return None
    n_classes_checked = <Py_ssize_t>(<object>PyTuple_GET_ITEM(y_shape, 1))
    cdef int typenum = kernel_float_type(y)
    if typenum < 0 or not is_kernel_array(labels, cnp.NPY_INTP):
        return None
    cdef cnp.ndarray ya = <cnp.ndarray>y
    cdef cnp.ndarray la = <cnp.ndarray>labels
    if cnp.PyArray_NDIM(ya) != 2 or cnp.PyArray_NDIM(la) != 1:
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(ya)
    cdef Py_ssize_t n = dims[0], n_classes = dims[1]
    if n < 1 or cnp.PyArray_DIMS(la)[0] != n or n_classes != n_classes_checked:
        return None
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    cdef int n_threads = _threads(n * n_classes, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_softmax_backward(K.backward_f64, <const double*>cnp.PyArray_DATA(ya),
                              <const Py_ssize_t*>cnp.PyArray_DATA(la),
                              <double>(scale / n), <double*>cnp.PyArray_DATA(dx), n_classes,
                              n, n_threads)
    else:
        _run_softmax_backward(K.backward_f32, <const float*>cnp.PyArray_DATA(ya),
                              <const Py_ssize_t*>cnp.PyArray_DATA(la),
                              <float>(scale / n), <float*>cnp.PyArray_DATA(dx), n_classes,
                              n, n_threads)
    return dx
