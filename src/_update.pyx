# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""The optimizers' updates: the glue, compiled once, driven by one table.

``step(kind, param, grad, s1, s2, c0, c1, c2, c3)`` updates ``param`` and
the optimizer's state arrays ``s1``, ``s2`` in place, in one pass, with the
kernel of ``kind`` (SGD ... ADAM, the UpdateKind of src/_tables.pxd, which
also says what the state and coefficients are) and returns True; it returns
None, having written nothing, when the arrays are not ready: exact
C-contiguous ndarrays of one float dtype and size, param and the state
writeable, none overlapping another.  zk_layers/optimizers.py decides which
entries take it and runs the book's NumPy lines for the others.

The kernels are src/_cpu_update.pyx, called through the table that ``bind``
installs; each kind's grain is bound here, in GRAINS_OF.  [0, n) is cut
into n_threads contiguous chunks with a static schedule; elementwise, so
bitwise identical for every thread count.
"""
cimport numpy as cnp

from _common cimport apart, kernel_float_type, same_shape
from _tables cimport (GRAIN_ELEMENTWISE, GRAIN_UPDATE, UPDATE_ADAGRAD,
                      UPDATE_ADAM, UPDATE_KINDS, UPDATE_MOMENTUM,
                      UPDATE_NESTEROV, UPDATE_RMSPROP, UPDATE_SGD, UpdateKernels)

SGD, MOMENTUM, NESTEROV = UPDATE_SGD, UPDATE_MOMENTUM, UPDATE_NESTEROV
ADAGRAD, RMSPROP, ADAM = UPDATE_ADAGRAD, UPDATE_RMSPROP, UPDATE_ADAM

ctypedef UpdateKernels Table
cdef const char* TABLE_NAME = "zk_layers.UpdateKernels"
include "_glue.pxi"

# Per kind: how many state arrays it updates, and its grain (AdaGrad,
# RMSprop and Adam take a square root and a division per element and stream
# four to six arrays).
cdef int STATES_OF[UPDATE_KINDS]
cdef int GRAINS_OF[UPDATE_KINDS]
STATES_OF[:] = [0, 1, 1, 1, 1, 2]
GRAINS_OF[:] = [GRAIN_ELEMENTWISE, GRAIN_ELEMENTWISE, GRAIN_ELEMENTWISE,
                GRAIN_UPDATE, GRAIN_UPDATE, GRAIN_UPDATE]


cdef inline bint _fits(object a, int typenum, cnp.npy_intp size, bint written) noexcept:
    """``a`` is an exact C-contiguous ndarray of typenum and size, native
    byte order, and writeable if ``written``."""
    if kernel_float_type(a) != typenum:
        return False
    return (cnp.PyArray_SIZE(<cnp.ndarray>a) == size
            and (not written or cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)))


include "_update_runners.pxi"  # _run_update (src/_runners.pxi.tp)


cdef bint _pair_fits(object param, object grad) noexcept:
    cdef int typenum = kernel_float_type(param)
    if typenum < 0 or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>param):
        return False
    if kernel_float_type(grad) != typenum or not same_shape(<cnp.ndarray>param, <cnp.ndarray>grad):
        return False
    return apart(param, grad)


cdef object _step(int kind, object param, object grad, object s1, object s2,
                  double c0, double c1, double c2, double c3):
    if kind < 0 or kind >= UPDATE_KINDS:
        raise ValueError(f"kind must be one of the UpdateKind values 0..{UPDATE_KINDS - 1}, got {kind}")
    cdef int typenum = kernel_float_type(param)
    if typenum < 0 or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>param):
        return None
    cdef cnp.npy_intp n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    cdef int states = STATES_OF[kind]
    if not _fits(grad, typenum, n, False) or not apart(param, grad):
        return None
    if states >= 1 and not (_fits(s1, typenum, n, True) and apart(s1, param) and apart(s1, grad)):
        return None
    if states >= 2 and not (_fits(s2, typenum, n, True) and apart(s2, param) and apart(s2, grad)
                            and apart(s2, s1)):
        return None
    cdef double c[4]
    c[0], c[1], c[2], c[3] = c0, c1, c2, c3
    cdef int n_threads = _threads(n, GRAINS_OF[kind])
    cdef void* p = cnp.PyArray_DATA(<cnp.ndarray>param)
    cdef const void* g = cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef void* a = cnp.PyArray_DATA(<cnp.ndarray>s1) if states >= 1 else NULL
    cdef void* b = cnp.PyArray_DATA(<cnp.ndarray>s2) if states >= 2 else NULL
    if typenum == cnp.NPY_DOUBLE:
        _run_update(K.f64[kind], <double*>p, <const double*>g, <double*>a, <double*>b, c, n, n_threads)
    else:
        _run_update(K.f32[kind], <float*>p, <const float*>g, <float*>a, <float*>b, c, n, n_threads)
    return True


def fits(object param, object grad):
    """Whether the kernels take ``param`` (updated in place) and ``grad`` as
    they are: exact C-contiguous, aligned float32/float64 ndarrays of one
    dtype and shape, in native byte order, ``param`` writeable, their bytes
    apart.  The optimizers ask it of every entry before updating any."""
    return _pair_fits(param, grad)


def step(int kind, object param, object grad, object s1=None, object s2=None,
         double c0=0.0, double c1=0.0, double c2=0.0, double c3=0.0):
    """One update of ``param`` (and the state ``s1``, ``s2``) by the
    optimizer ``kind``; True, or None when the arrays are not ready (then
    nothing was written)."""
    return _step(kind, param, grad, s1, s2, c0, c1, c2, c3)


def sgd_all(dict params, dict grads, double lr):
    """SGD.update of every entry of ``params`` by ``grads``' entry of the same
    key, in the dict's order, in one call: True, or None, having written
    nothing, when an entry is missing from grads or not ready (see fits)."""
    cdef list pairs = []
    cdef object key, param, grad
    for key, param in params.items():
        grad = grads.get(key)
        if grad is None or not _pair_fits(param, grad):
            return None
        pairs.append((param, grad))
    for param, grad in pairs:
        if _step(UPDATE_SGD, param, grad, None, None, lr, 0.0, 0.0, 0.0) is None:
            # Checked above; only a change of flags from another thread gets here.
            raise RuntimeError("zk_layers: an SGD entry stopped fitting during the update")
    return True
