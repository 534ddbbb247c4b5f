# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""RNN and LSTM time steps, the elementwise part: the glue, compiled once.

    lstm_forward_step(gates, g, b, c0, cs, tcs, hs, t)
        a = gates[:, t] + g + b; gates[:, t] = the activated gates (f, g, i, o);
        cs[:, t] = f * c_prev + g * i; tcs[:, t] = tanh(cs[:, t]);
        hs[:, t] = o * tcs[:, t], with c_prev = c0 at t = 0, else cs[:, t - 1]
    lstm_backward_step(gates, dhs, dh_rec, dc, c0, cs, tcs, dA, t)
        dA[:, t] = the gates' gradients for dh = dhs[:, t] + dh_rec and dc;
        dc becomes the gradient of c_prev
    rnn_forward_step(ax, g, b, hs, t)      hs[:, t] = tanh(g + ax[:, t] + b)
    rnn_backward_step(hs, dhs, dh_rec, dts, t)
        dts[:, t] = (dhs[:, t] + dh_rec) * (1 - hs[:, t] ** 2)

zk_layers/recurrent.py calls them once per time step, between the products
``h_prev @ Wh`` (into g) and ``dA[:, t] @ Wh.T`` (into dh_rec) that BLAS
does.  Every array is an exact, C-contiguous ndarray of one float dtype, of
the shapes above (N the batch, T the time steps, H the hidden size; gates
and dA (N, T, 4H), g (N, 4H) or (N, H) for the RNN, b (4H,) or (H,), c0,
dh_rec and dc (N, H), the others (N, T, H)), and 0 <= t < T; anything else
raises ValueError or TypeError, before anything is written.

The kernels are src/_cpu_recurrent.pyx, called through the table that
``bind`` installs; the batch's rows are cut between threads, each row
computed by the same arithmetic, so results are bitwise the same at every
thread count.
"""
cimport numpy as cnp

from _common cimport kernel_float_type
from _tables cimport GRAIN_EXP, RecurrentKernels

ctypedef RecurrentKernels Table
cdef const char* TABLE_NAME = "zk_layers.RecurrentKernels"
include "_glue.pxi"

include "_recurrent_runners.pxi"


cdef cnp.ndarray _array(object a, str name, int typenum, int nd, Py_ssize_t d0, Py_ssize_t d1,
                        Py_ssize_t d2, bint output):
    """``a`` as the kernels read it, checked: an exact C-contiguous ndarray
    of typenum (or, if typenum < 0, float32 or float64) with nd dimensions
    d0, d1, d2 (the first nd of them), writeable when an output."""
    cdef int found = kernel_float_type(a)
    if found < 0:
        raise TypeError(f"{name}: expected a C-contiguous float32 or float64 ndarray, got "
                        f"{type(a).__name__}" + (f" of {a.dtype}" if hasattr(a, "dtype") else ""))
    if typenum >= 0 and found != typenum:
        raise TypeError(f"{name}: expected the dtype of the other arrays, got {a.dtype}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef Py_ssize_t want[3]
    want[0], want[1], want[2] = d0, d1, d2
    cdef int axis
    cdef bint ok = cnp.PyArray_NDIM(arr) == nd
    if ok:
        for axis in range(nd):
            ok = ok and cnp.PyArray_DIMS(arr)[axis] == want[axis]
    if not ok:
        raise ValueError(f"{name}: expected shape {(d0, d1, d2)[:nd]}, got {a.shape}")
    if output and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: expected a writeable array")
    return arr


cdef int _leading(object a, str name, Py_ssize_t parts, Py_ssize_t* dims) except -1:
    """The float type of the 3-D array ``a`` that sets the sizes, and into
    dims its (N, T, last // parts)."""
    cdef int typenum = kernel_float_type(a)
    if typenum < 0:
        _array(a, name, -1, 3, 0, 0, 0, False)  # raises the TypeError
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != 3 or cnp.PyArray_DIMS(arr)[2] % parts:
        raise ValueError(f"{name}: expected 3 dimensions, the last a multiple of {parts}, got shape {a.shape}")
    dims[0] = cnp.PyArray_DIMS(arr)[0]
    dims[1] = cnp.PyArray_DIMS(arr)[1]
    dims[2] = cnp.PyArray_DIMS(arr)[2] // parts
    return typenum


cdef inline Py_ssize_t _step(object t, Py_ssize_t T) except -1:
    cdef Py_ssize_t step = t
    if step < 0 or step >= T:
        raise ValueError(f"t: expected a time step in [0, {T}), got {t}")
    return step


cdef inline void* _at(cnp.ndarray a, Py_ssize_t offset) noexcept:
    """Element `offset` of a C-contiguous array."""
    return <char*>cnp.PyArray_DATA(a) + offset * cnp.PyArray_ITEMSIZE(a)


def lstm_forward_step(object gates, object g, object b, object c0, object cs, object tcs,
                      object hs, object t):
    """One LSTM time step forward, written into gates, cs, tcs and hs."""
    cdef Py_ssize_t dims[3]
    cdef int typenum = _leading(gates, "gates", 4, dims)
    cdef Py_ssize_t N = dims[0], T = dims[1], H = dims[2]
    cdef cnp.ndarray ga = _array(gates, "gates", typenum, 3, N, T, 4 * H, True)
    cdef cnp.ndarray gg = _array(g, "g", typenum, 2, N, 4 * H, 0, False)
    cdef cnp.ndarray ba = _array(b, "b", typenum, 1, 4 * H, 0, 0, False)
    cdef cnp.ndarray c0a = _array(c0, "c0", typenum, 2, N, H, 0, False)
    cdef cnp.ndarray ca = _array(cs, "cs", typenum, 3, N, T, H, True)
    cdef cnp.ndarray ta = _array(tcs, "tcs", typenum, 3, N, T, H, True)
    cdef cnp.ndarray ha = _array(hs, "hs", typenum, 3, N, T, H, True)
    cdef Py_ssize_t step = _step(t, T)
    cdef cnp.ndarray prev = c0a if step == 0 else ca
    cdef Py_ssize_t prev_at = 0 if step == 0 else (step - 1) * H
    cdef Py_ssize_t prev_stride = H if step == 0 else T * H
    cdef int n_threads = _threads(N * H * 4, GRAIN_EXP)
    if typenum == cnp.NPY_DOUBLE:
        _run_lstm_forward(K.lstm_forward_f64, <double*>_at(ga, step * 4 * H), T * 4 * H,
                          <const double*>_at(gg, 0), <const double*>_at(ba, 0),
                          <const double*>_at(prev, prev_at), prev_stride,
                          <double*>_at(ca, step * H), <double*>_at(ta, step * H),
                          <double*>_at(ha, step * H), T * H, H, N, n_threads)
    else:
        _run_lstm_forward(K.lstm_forward_f32, <float*>_at(ga, step * 4 * H), T * 4 * H,
                          <const float*>_at(gg, 0), <const float*>_at(ba, 0),
                          <const float*>_at(prev, prev_at), prev_stride,
                          <float*>_at(ca, step * H), <float*>_at(ta, step * H),
                          <float*>_at(ha, step * H), T * H, H, N, n_threads)


def lstm_backward_step(object gates, object dhs, object dh_rec, object dc, object c0, object cs,
                       object tcs, object dA, object t):
    """One LSTM time step backward, written into dA and dc."""
    cdef Py_ssize_t dims[3]
    cdef int typenum = _leading(gates, "gates", 4, dims)
    cdef Py_ssize_t N = dims[0], T = dims[1], H = dims[2]
    cdef cnp.ndarray ga = _array(gates, "gates", typenum, 3, N, T, 4 * H, False)
    cdef cnp.ndarray da = _array(dhs, "dhs", typenum, 3, N, T, H, False)
    cdef cnp.ndarray ra = _array(dh_rec, "dh_rec", typenum, 2, N, H, 0, False)
    cdef cnp.ndarray dca = _array(dc, "dc", typenum, 2, N, H, 0, True)
    cdef cnp.ndarray c0a = _array(c0, "c0", typenum, 2, N, H, 0, False)
    cdef cnp.ndarray ca = _array(cs, "cs", typenum, 3, N, T, H, False)
    cdef cnp.ndarray ta = _array(tcs, "tcs", typenum, 3, N, T, H, False)
    cdef cnp.ndarray out = _array(dA, "dA", typenum, 3, N, T, 4 * H, True)
    cdef Py_ssize_t step = _step(t, T)
    cdef cnp.ndarray prev = c0a if step == 0 else ca
    cdef Py_ssize_t prev_at = 0 if step == 0 else (step - 1) * H
    cdef Py_ssize_t prev_stride = H if step == 0 else T * H
    cdef int n_threads = _threads(N * H * 4, GRAIN_EXP)
    if typenum == cnp.NPY_DOUBLE:
        _run_lstm_backward(K.lstm_backward_f64, <const double*>_at(ga, step * 4 * H), T * 4 * H,
                           <const double*>_at(da, step * H), <const double*>_at(ra, 0),
                           <double*>_at(dca, 0), <const double*>_at(prev, prev_at), prev_stride,
                           <const double*>_at(ta, step * H), T * H,
                           <double*>_at(out, step * 4 * H), H, N, n_threads)
    else:
        _run_lstm_backward(K.lstm_backward_f32, <const float*>_at(ga, step * 4 * H), T * 4 * H,
                           <const float*>_at(da, step * H), <const float*>_at(ra, 0),
                           <float*>_at(dca, 0), <const float*>_at(prev, prev_at), prev_stride,
                           <const float*>_at(ta, step * H), T * H,
                           <float*>_at(out, step * 4 * H), H, N, n_threads)


def rnn_forward_step(object ax, object g, object b, object hs, object t):
    """One RNN time step forward, written into hs[:, t]."""
    cdef Py_ssize_t dims[3]
    cdef int typenum = _leading(hs, "hs", 1, dims)
    cdef Py_ssize_t N = dims[0], T = dims[1], H = dims[2]
    cdef cnp.ndarray ha = _array(hs, "hs", typenum, 3, N, T, H, True)
    cdef cnp.ndarray xa = _array(ax, "ax", typenum, 3, N, T, H, False)
    cdef cnp.ndarray gg = _array(g, "g", typenum, 2, N, H, 0, False)
    cdef cnp.ndarray ba = _array(b, "b", typenum, 1, H, 0, 0, False)
    cdef Py_ssize_t step = _step(t, T)
    cdef int n_threads = _threads(N * H, GRAIN_EXP)
    if typenum == cnp.NPY_DOUBLE:
        _run_rnn_forward(K.rnn_forward_f64, <const double*>_at(xa, step * H), T * H,
                         <const double*>_at(gg, 0), <const double*>_at(ba, 0),
                         <double*>_at(ha, step * H), T * H, H, N, n_threads)
    else:
        _run_rnn_forward(K.rnn_forward_f32, <const float*>_at(xa, step * H), T * H,
                         <const float*>_at(gg, 0), <const float*>_at(ba, 0),
                         <float*>_at(ha, step * H), T * H, H, N, n_threads)


def rnn_backward_step(object hs, object dhs, object dh_rec, object dts, object t):
    """One RNN time step backward, written into dts[:, t]."""
    cdef Py_ssize_t dims[3]
    cdef int typenum = _leading(hs, "hs", 1, dims)
    cdef Py_ssize_t N = dims[0], T = dims[1], H = dims[2]
    cdef cnp.ndarray ha = _array(hs, "hs", typenum, 3, N, T, H, False)
    cdef cnp.ndarray da = _array(dhs, "dhs", typenum, 3, N, T, H, False)
    cdef cnp.ndarray ra = _array(dh_rec, "dh_rec", typenum, 2, N, H, 0, False)
    cdef cnp.ndarray out = _array(dts, "dts", typenum, 3, N, T, H, True)
    cdef Py_ssize_t step = _step(t, T)
    cdef int n_threads = _threads(N * H, GRAIN_EXP)
    if typenum == cnp.NPY_DOUBLE:
        _run_rnn_backward(K.rnn_backward_f64, <const double*>_at(ha, step * H), T * H,
                          <const double*>_at(da, step * H), <const double*>_at(ra, 0),
                          <double*>_at(out, step * H), T * H, H, N, n_threads)
    else:
        _run_rnn_backward(K.rnn_backward_f32, <const float*>_at(ha, step * H), T * H,
                          <const float*>_at(da, step * H), <const float*>_at(ra, 0),
                          <float*>_at(out, step * H), T * H, H, N, n_threads)
