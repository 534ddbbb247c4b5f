# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Relu and Sigmoid, forward and backward: the glue, compiled once.

What they compute (out, mask, dx are written; everything else is read):
    relu_forward      mask = x <= 0;  out = 0 where mask else x
    relu_backward     dx = 0 where mask else dout
    sigmoid_forward   out = 1 / (1 + exp(-x)), and a copy into kept if given
    sigmoid_backward  dx = dout * (1 - out) * out

Each entry point is the one compiled path of a layer method.  It takes the
layer's arrays, checks in C that they are ready for the kernels -- exact
float32/float64 ndarrays in native byte order, contiguous, all in one
memory order (C or Fortran) and of one shape; given outputs may be
subclasses and must be writeable -- allocates what was not given, picks the
thread count and runs the kernel; otherwise it returns None and does
nothing.  zk_layers/layers.py calls it first with the caller's arrays and,
when it declines, normalises them (dtype, layout, ``out=``, with the
documented errors) and calls it again, when it cannot decline.

The kernels are src/_cpu_activations.pyx, built once per instruction set and
called through the typed table of src/_tables.pxd that ``bind`` installs.
[0, n) is cut into n_threads contiguous chunks (chunk_start) with a static
schedule; every element is computed by the same arithmetic whatever thread
runs it and nothing is reduced, so results are bitwise identical for every
thread count.  Small one-thread work runs inline with the GIL held;
everything else without it (src/_runners.pxi.tp).
"""
cimport numpy as cnp

from _common cimport ORDER_NONE, empty_like_in, float_input_order, pairs_with
from _tables cimport GRAIN_ELEMENTWISE, GRAIN_EXP, ActivationKernels

ctypedef ActivationKernels Table
cdef const char* TABLE_NAME = "zk_layers.ActivationKernels"
include "_glue.pxi"


# The runners, one per kernel signature (src/_runners.pxi.tp); the entry
# points pick the float32 or float64 kernel of the table with the array type.
include "_activations_runners.pxi"


cdef enum:  # which activation an entry point computes
    RELU = 0
    SIGMOID = 1


cdef inline object _output(cnp.ndarray a, object given, int typenum, int order):
    """Where a kernel writes its result over a's elements: ``given`` if it
    pairs with a (writeable, a's shape and memory order, of typenum), a
    fresh array if None; None when it does not pair."""
    if given is None:
        return empty_like_in(a, typenum, order)
    return given if pairs_with(given, typenum, order, a, True) else None


cdef inline object _forward(int kind, object x, object out, object mask):
    """out (Sigmoid, with its copy into mask when given) or (out, mask)
    (Relu) for x; None when not ready."""
    cdef int typenum
    cdef int order = float_input_order(x, &typenum)
    if order == ORDER_NONE:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    out = _output(xa, out, typenum, order)
    if out is None:
        return None
    if kind == RELU:
        mask = _output(xa, mask, cnp.NPY_BOOL, order)
        if mask is None:
            return None
    elif mask is not None and not pairs_with(mask, typenum, order, xa, True):
        return None  # Sigmoid's kept copy
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef const void* xs = cnp.PyArray_DATA(xa)
    cdef void* o = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef unsigned char* m
    cdef void* kept = NULL
    if kind == SIGMOID:
        if mask is not None:
            kept = cnp.PyArray_DATA(<cnp.ndarray>mask)
        if typenum == cnp.NPY_DOUBLE:
            _run_sigmoid(K.sigmoid_forward_f64, <const double*>xs, <double*>o, <double*>kept, n,
                         _threads(n, GRAIN_EXP))
        else:
            _run_sigmoid(K.sigmoid_forward_f32, <const float*>xs, <float*>o, <float*>kept, n,
                         _threads(n, GRAIN_EXP))
        return out
    m = <unsigned char*>cnp.PyArray_DATA(<cnp.ndarray>mask)
    if typenum == cnp.NPY_DOUBLE:
        _run_mask(K.relu_forward_f64, <const double*>xs, <double*>o, m, n, _threads(n, GRAIN_ELEMENTWISE))
    else:
        _run_mask(K.relu_forward_f32, <const float*>xs, <float*>o, m, n, _threads(n, GRAIN_ELEMENTWISE))
    return out, mask


cdef inline object _backward(int kind, object dout, object saved, object out):
    """dx for dout and the saved mask (Relu) or output (Sigmoid), which must
    pair with dout; None when not ready."""
    cdef int typenum
    cdef int order = float_input_order(dout, &typenum)
    if order == ORDER_NONE:
        return None
    cdef cnp.ndarray da = <cnp.ndarray>dout
    if not pairs_with(saved, cnp.NPY_BOOL if kind == RELU else typenum, order, da, False):
        return None
    out = _output(da, out, typenum, order)
    if out is None:
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(da)
    cdef int n_threads = _threads(n, GRAIN_ELEMENTWISE)
    cdef const void* d = cnp.PyArray_DATA(da)
    cdef const void* s = cnp.PyArray_DATA(<cnp.ndarray>saved)
    cdef void* dx = cnp.PyArray_DATA(<cnp.ndarray>out)
    if kind == RELU and typenum == cnp.NPY_DOUBLE:
        _run_masked(K.relu_backward_f64, <const double*>d, <const unsigned char*>s, <double*>dx, n, n_threads)
    elif kind == RELU:
        _run_masked(K.relu_backward_f32, <const float*>d, <const unsigned char*>s, <float*>dx, n, n_threads)
    elif typenum == cnp.NPY_DOUBLE:
        _run_binary(K.sigmoid_backward_f64, <const double*>d, <const double*>s, <double*>dx, n, n_threads)
    else:
        _run_binary(K.sigmoid_backward_f32, <const float*>d, <const float*>s, <float*>dx, n, n_threads)
    return out


# ---------------------------------------------------------- entry points
def relu_forward(object x, object out=None, object mask=None):
    """``(out, mask)`` of Relu.forward for ``x``, written into ``out`` and
    ``mask`` when given (x's shape and memory order; float like x, boolean),
    else fresh; None when the arrays are not ready (see the module notes)."""
    return _forward(RELU, x, out, mask)


def relu_backward(object dout, object mask, object out=None):
    """dx of Relu.backward for ``dout`` and the boolean ``mask`` (dout's
    shape and memory order), into ``out`` when given; else None."""
    return _backward(RELU, dout, mask, out)


def sigmoid_forward(object x, object out=None, object kept=None):
    """out of Sigmoid.forward for ``x``, into ``out`` when given (x's shape,
    type and memory order), and the same values into ``kept`` when given
    (the same rules; it must not overlap out); else None."""
    return _forward(SIGMOID, x, out, kept)


def sigmoid_backward(object dout, object y, object out=None):
    """dx of Sigmoid.backward for ``dout`` and the saved output ``y`` (one
    type, shape and memory order), into ``out`` when given; else None."""
    return _backward(SIGMOID, dout, y, out)
