# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""The recurrent layers' elementwise steps, RNN and LSTM: built once per
instruction set.

A time step of these layers is one matrix product (``h_prev @ Wh``, by BLAS
in the glue's caller) and, around it, elementwise work over the batch's
rows: the gates, the new state and, backward, the gates' gradients.  These
kernels do that elementwise work for rows [start, stop) of the batch, one
row of every operand at a time, each operand at its own row stride (a time
step's slice of an (N, T, ...) array).  The contracts are in
src/_tables.pxd (RecurrentKernels).  No Python object here.

Every element is computed by the same arithmetic wherever the rows are cut,
so results are bitwise identical for every thread count and every build.
The gates are laid out as the book's: f, g, i, o, H columns each.
"""
from cython cimport floating
from libc.math cimport NAN, fabsf, tanh

from _math cimport exp_general, exp_moderate, extremes, moderate_limit

# tanh in float32: below TANH_SMALL in magnitude its odd Taylor polynomial
# (to x**17: the first term left out is under 1e-9 of the value), above it
# (e - 1) / (e + 1) with e = exp(2x), x clamped to [-9, 9] (tanh(9) rounds
# to 1 in float32), so that exp's moderate form always applies.  Within a
# few ulp of the exact value (tested).  Both sides are computed and one is
# chosen, so GCC vectorises the loops; a NaN stays NaN.  float64 takes
# libm's tanh (one function in every build).
cdef float TANH_SMALL = 0.5
cdef float TANH_CLAMP = 9
cdef float T3 = -1.0 / 3
cdef float T5 = 2.0 / 15
cdef float T7 = -17.0 / 315
cdef float T9 = 62.0 / 2835
cdef float T11 = -1382.0 / 155925
cdef float T13 = 21844.0 / 6081075
cdef float T15 = -929569.0 / 638512875
cdef float T17 = 6404582.0 / 10854718875


# Cython writes a literal such as 1 as a double (1.0): in float32 kernels
# every constant is a typed one, so that the arithmetic stays float32 (and
# vectorises as such) instead of going through double.
cdef inline floating _tanh(floating x) noexcept nogil:
    cdef float x2, xc, e, small, large, one = 1, two = 2
    if floating is double:
        return tanh(x)
    else:
        x2 = x * x
        small = x + x * (x2 * (T3 + x2 * (T5 + x2 * (T7 + x2 * (T9 + x2 * (T11 + x2 * (T13 + x2 * (
            T15 + x2 * T17))))))))
        xc = -TANH_CLAMP if x < -TANH_CLAMP else x
        xc = TANH_CLAMP if xc > TANH_CLAMP else xc
        e = exp_moderate(two * xc)
        large = (e - one) / (e + one)
        return small if fabsf(x) < TANH_SMALL else large


cdef inline floating _sigmoid(floating x) noexcept nogil:
    cdef floating one = 1
    return one / (one + exp_general(-x))


cdef inline floating _sigmoid_moderate(floating x) noexcept nogil:
    """_sigmoid's bits for |x| <= moderate_limit (and NaN)."""
    cdef floating one = 1
    return one / (one + exp_moderate(-x))


cdef inline bint _within(const floating* a, Py_ssize_t m, floating limit) noexcept nogil:
    """Every element of a[0:m] (NaN aside) in [-limit, limit]."""
    cdef floating smallest
    cdef floating largest = extremes(a, m, &smallest)
    return largest <= limit and smallest >= -limit


# The LSTM kernels work on BLOCK columns of a row at a time: each operand
# is copied in or out of a local array by a loop of its own and the
# arithmetic runs on the local arrays only.  GCC vectorises that; over the
# many pointers of the whole step, which might alias, it gives up.
cdef enum:
    BLOCK = 128


cdef inline void _load(floating* into, const floating* a, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(m):
        into[k] = a[k]


cdef inline floating _canonical(floating v) noexcept nogil:
    """v, or np.nan for any NaN: which NaN an operation passes on (its sign,
    its payload) depends on the order of its operands in the machine code,
    which differs between the builds."""
    return <floating>NAN if v != v else v


cdef inline void _store(floating* a, const floating* values, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(m):
        a[k] = _canonical(values[k])


cdef inline void _preactivation(floating* into, const floating* a, const floating* g, const floating* b,
                                Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(m):
        into[k] = (a[k] + g[k]) + b[k]  # (x Wx + h Wh) + b, as the book adds them


cdef void _lstm_forward_rows(floating* gates, Py_ssize_t gates_stride, const floating* g,
                             const floating* b, const floating* c_prev, Py_ssize_t c_prev_stride,
                             floating* c, floating* tc, floating* h, Py_ssize_t stride,
                             Py_ssize_t hidden, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t n, j, k, m, q, block, H = hidden
    cdef floating* a
    cdef const floating* gr
    cdef floating f[BLOCK]
    cdef floating gg[BLOCK]
    cdef floating i[BLOCK]
    cdef floating o[BLOCK]
    cdef floating cn[BLOCK]
    cdef floating t[BLOCK]
    cdef floating limit = moderate_limit(<floating>0)
    for n in range(start, stop):
        a = gates + n * gates_stride
        gr = g + n * 4 * H
        for block in range((H + BLOCK - 1) // BLOCK):
            j = block * BLOCK
            m = BLOCK if H - j > BLOCK else H - j
            _preactivation(f, a + j, gr + j, b + j, m)
            _preactivation(gg, a + H + j, gr + H + j, b + H + j, m)
            _preactivation(i, a + 2 * H + j, gr + 2 * H + j, b + 2 * H + j, m)
            _preactivation(o, a + 3 * H + j, gr + 3 * H + j, b + 3 * H + j, m)
            _load(cn, c_prev + n * c_prev_stride + j, m)
            # A block whose arguments lie within the moderate exponential's
            # range takes it: the same bits with fewer operations (see _exp.h).
            if _within(f, m, limit) and _within(i, m, limit) and _within(o, m, limit):
                for k in range(m):
                    f[k] = _sigmoid_moderate(f[k])
                    gg[k] = _tanh(gg[k])
                    i[k] = _sigmoid_moderate(i[k])
                    o[k] = _sigmoid_moderate(o[k])
            else:
                for k in range(m):
                    f[k] = _sigmoid(f[k])
                    gg[k] = _tanh(gg[k])
                    i[k] = _sigmoid(i[k])
                    o[k] = _sigmoid(o[k])
            for k in range(m):
                cn[k] = f[k] * cn[k] + gg[k] * i[k]
                t[k] = _tanh(cn[k])
            _store(a + j, f, m)
            _store(a + H + j, gg, m)
            _store(a + 2 * H + j, i, m)
            _store(a + 3 * H + j, o, m)
            q = n * stride + j
            _store(c + q, cn, m)
            _store(tc + q, t, m)
            for k in range(m):
                cn[k] = o[k] * t[k]  # h
            _store(h + q, cn, m)


cdef void _lstm_backward_rows(const floating* gates, Py_ssize_t gates_stride, const floating* dh_up,
                              const floating* dh_rec, floating* dc, const floating* c_prev,
                              Py_ssize_t c_prev_stride, const floating* tc, Py_ssize_t stride,
                              floating* dA, Py_ssize_t hidden, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t n, j, k, m, q, block, H = hidden
    cdef const floating* a
    cdef floating* d
    cdef floating f[BLOCK]
    cdef floating gg[BLOCK]
    cdef floating i[BLOCK]
    cdef floating o[BLOCK]
    cdef floating t[BLOCK]
    cdef floating dh[BLOCK]
    cdef floating ds[BLOCK]
    cdef floating cp[BLOCK]
    cdef floating up[BLOCK]
    cdef floating one = 1
    for n in range(start, stop):
        a = gates + n * gates_stride
        d = dA + n * gates_stride
        for block in range((H + BLOCK - 1) // BLOCK):
            j = block * BLOCK
            m = BLOCK if H - j > BLOCK else H - j
            q = n * stride + j
            _load(f, a + j, m)
            _load(gg, a + H + j, m)
            _load(i, a + 2 * H + j, m)
            _load(o, a + 3 * H + j, m)
            _load(t, tc + q, m)
            _load(up, dh_up + q, m)
            _load(dh, dh_rec + n * H + j, m)
            _load(ds, dc + n * H + j, m)
            _load(cp, c_prev + n * c_prev_stride + j, m)
            for k in range(m):
                dh[k] = up[k] + dh[k]
                ds[k] = ds[k] + (dh[k] * o[k]) * (one - t[k] * t[k])
                cp[k] = (ds[k] * cp[k]) * (f[k] * (one - f[k]))          # df
                up[k] = (ds[k] * i[k]) * (one - gg[k] * gg[k])           # dg
                i[k] = (ds[k] * gg[k]) * (i[k] * (one - i[k]))           # di
                o[k] = (dh[k] * t[k]) * (o[k] * (one - o[k]))            # do
                ds[k] = ds[k] * f[k]                                   # dc_prev
            _store(dc + n * H + j, ds, m)
            _store(d + j, cp, m)
            _store(d + H + j, up, m)
            _store(d + 2 * H + j, i, m)
            _store(d + 3 * H + j, o, m)


cdef void _rnn_forward_rows(const floating* ax, Py_ssize_t ax_stride, const floating* g,
                            const floating* b, floating* h, Py_ssize_t stride, Py_ssize_t hidden,
                            Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t n, j, H = hidden
    for n in range(start, stop):
        for j in range(H):
            # (h Wh + x Wx) + b, as the book adds them
            h[n * stride + j] = _canonical(_tanh((g[n * H + j] + ax[n * ax_stride + j]) + b[j]))


cdef void _rnn_backward_rows(const floating* h, Py_ssize_t stride, const floating* dh_up,
                             const floating* dh_rec, floating* dt, Py_ssize_t dt_stride,
                             Py_ssize_t hidden, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t n, j, H = hidden
    cdef floating y, one = 1
    for n in range(start, stop):
        for j in range(H):
            y = h[n * stride + j]
            dt[n * dt_stride + j] = _canonical((dh_up[n * stride + j] + dh_rec[n * H + j]) * (one - y * y))


include "_cpu_recurrent_table.pxi"
