# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Parameter update kernels: the book's six optimizers, one pass each.

What they compute, per element, with the book's association (chapter 6,
common/optimizer.py) and its roundings: every scalar coefficient is rounded
to the array's dtype first, as NumPy does with a Python float and a float32
array, and no fused multiply-add changes a bit (-ffp-contract=off):
    sgd_update       p = p - lr*g
    momentum_update  v = m*v - lr*g;  p = p + v
    nesterov_update  p = p + (m*m)*v;  p = p - ((1+m)*lr)*g;  v = v*m - lr*g
    adagrad_update   h = h + g*g;  p = p - (lr*g) / (sqrt(h) + 1e-7)
    rmsprop_update   h = h*decay + ((1-decay)*g)*g;
                     p = p - (lr*g) / (sqrt(h) + 1e-7)
    adam_update      m = m + (1-beta1)*(g - m);  v = v + (1-beta2)*(g*g - v)
                     p = p - (lr_t*m) / (sqrt(v) + 1e-7)
The caller passes the products of Python numbers the book forms before
touching an array ((1+m)*lr, m*m) already formed.  For float32 Adam the
last line is computed in double and rounded once, because the book's lr_t
is a NumPy float64 (np.sqrt of a Python float), which makes NumPy compute
that step in float64.  Each kernel replaces NumPy's two to five passes and
temporaries by one pass over param, grad and the optimizer's state.

What the caller guarantees (zk_layers/optimizers.py): every array is a
contiguous 1-D view of the same length and dtype, and none overlaps another.

Parallelisation: contiguous chunks with a static schedule; elementwise, so
bitwise identical for every thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf

from _common cimport GIL_RELEASE_MIN_ITEMS, chunk_start


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void _sgd_range(floating* param, const floating* grad, floating lr,
                            Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        param[i] = param[i] - lr * grad[i]


def sgd_update(floating[::1] param, const floating[::1] grad, double lr, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    cdef floating lr_as_floating = <floating>lr
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _sgd_range(&param[0], &grad[0], lr_as_floating, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _sgd_range(&param[0], &grad[0], lr_as_floating, chunk_start(c, n_threads, n),
                   chunk_start(c + 1, n_threads, n))


cdef inline void _momentum_range(floating* param, const floating* grad, floating* v,
                                 floating momentum, floating lr,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        v[i] = momentum * v[i] - lr * grad[i]
        param[i] = param[i] + v[i]


cdef inline void _nesterov_range(floating* param, const floating* grad, floating* v,
                                 floating momentum, floating lr, floating momentum_squared,
                                 floating step, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        param[i] = param[i] + momentum_squared * v[i]
        param[i] = param[i] - step * grad[i]
        v[i] = v[i] * momentum - lr * grad[i]


cdef inline void _adagrad_range(floating* param, const floating* grad, floating* h,
                                floating lr, floating eps,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        h[i] = h[i] + grad[i] * grad[i]
        param[i] = param[i] - (lr * grad[i]) / (_sqrt(h[i]) + eps)


cdef inline void _rmsprop_range(floating* param, const floating* grad, floating* h,
                                floating lr, floating decay, floating keep, floating eps,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        h[i] = h[i] * decay + (keep * grad[i]) * grad[i]
        param[i] = param[i] - (lr * grad[i]) / (_sqrt(h[i]) + eps)


cdef inline void _adam_range(floating* param, const floating* grad, floating* m,
                             floating* v, double lr_t, floating one_minus_beta1,
                             floating one_minus_beta2, floating eps,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        m[i] = m[i] + one_minus_beta1 * (grad[i] - m[i])
        v[i] = v[i] + one_minus_beta2 * (grad[i] * grad[i] - v[i])
        if floating is float:
            param[i] = <float>(<double>param[i] - (lr_t * <double>m[i]) / <double>(_sqrt(v[i]) + eps))
        else:
            param[i] = param[i] - (lr_t * m[i]) / (_sqrt(v[i]) + eps)


def momentum_update(floating[::1] param, const floating[::1] grad, floating[::1] v,
                    double momentum, double lr, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _momentum_range(&param[0], &grad[0], &v[0], <floating>momentum, <floating>lr, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _momentum_range(&param[0], &grad[0], &v[0], <floating>momentum, <floating>lr,
                        chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def nesterov_update(floating[::1] param, const floating[::1] grad, floating[::1] v,
                    double momentum, double lr, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    # The book's `self.momentum * self.momentum * self.v[key]` and
    # `(1 + self.momentum) * self.lr * grads[key]` form these in double first.
    cdef floating momentum_squared = <floating>(momentum * momentum)
    cdef floating step = <floating>((1 + momentum) * lr)
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _nesterov_range(&param[0], &grad[0], &v[0], <floating>momentum, <floating>lr,
                        momentum_squared, step, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _nesterov_range(&param[0], &grad[0], &v[0], <floating>momentum, <floating>lr,
                        momentum_squared, step,
                        chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def adagrad_update(floating[::1] param, const floating[::1] grad, floating[::1] h,
                   double lr, double eps, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _adagrad_range(&param[0], &grad[0], &h[0], <floating>lr, <floating>eps, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _adagrad_range(&param[0], &grad[0], &h[0], <floating>lr, <floating>eps,
                       chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def rmsprop_update(floating[::1] param, const floating[::1] grad, floating[::1] h,
                   double lr, double decay_rate, double eps, int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    cdef floating keep = <floating>(1 - decay_rate)
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _rmsprop_range(&param[0], &grad[0], &h[0], <floating>lr, <floating>decay_rate, keep,
                       <floating>eps, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _rmsprop_range(&param[0], &grad[0], &h[0], <floating>lr, <floating>decay_rate, keep,
                       <floating>eps, chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def adam_update(floating[::1] param, const floating[::1] grad, floating[::1] m,
                floating[::1] v, double lr_t, double beta1, double beta2, double eps,
                int n_threads):
    cdef Py_ssize_t n = param.shape[0], c
    cdef floating one_minus_beta1 = <floating>(1 - beta1)
    cdef floating one_minus_beta2 = <floating>(1 - beta2)
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _adam_range(&param[0], &grad[0], &m[0], &v[0], lr_t, one_minus_beta1, one_minus_beta2,
                    <floating>eps, 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _adam_range(&param[0], &grad[0], &m[0], &v[0], lr_t, one_minus_beta1, one_minus_beta2,
                    <floating>eps, chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))
