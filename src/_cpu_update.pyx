# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""The book's six optimizers, one pass each: built once per instruction set.

What they compute, per element, with the book's association (chapter 6,
common/optimizer.py) and its roundings: every scalar coefficient is rounded
to the array's dtype first, as NumPy does with a Python float and a float32
array, and no fused multiply-add changes a bit (-ffp-contract=off):
    sgd       p = p - lr*g
    momentum  v = m*v - lr*g;  p = p + v
    nesterov  p = p + (m*m)*v;  p = p - ((1+m)*lr)*g;  v = v*m - lr*g
    adagrad   h = h + g*g;  p = p - (lr*g) / (sqrt(h) + eps)
    rmsprop   h = h*decay + ((1-decay)*g)*g;  p = p - (lr*g) / (sqrt(h) + eps)
    adam      m = m + (1-beta1)*(g - m);  v = v + (1-beta2)*(g*g - v)
              p = p - (lr_t*m) / (sqrt(v) + eps)
The products of Python numbers the book forms before touching an array
((1+m)*lr, m*m, 1-decay) are formed in double, then rounded.  For float32
Adam the last line is computed in double and rounded once, because the
book's lr_t is a NumPy float64 (np.sqrt of a Python float), which makes
NumPy compute that step in float64.  Each kernel replaces NumPy's two to
five passes and temporaries by one pass over param, grad and the state.

All six share one signature (src/_tables.pxd, UpdateKernels), so the glue,
src/_update.pyx, runs them from one table.  No Python object here.
"""
from cython cimport floating

from _math cimport square_root


cdef inline Py_ssize_t _line_start(const floating* p, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """The first index from ``start`` whose element of p begins a 64-byte
    line (or ``stop``).  NumPy aligns its arrays to 16 bytes only; with
    the rows of every stream split across lines, Adam ran at half speed and
    SGD 10-20 % slower (docs/performance.md).  The kernels run [start, that
    index) and the rest as two ranges: the same arithmetic per element."""
    cdef size_t offset = (<size_t>(p + start)) % 64
    cdef Py_ssize_t skip = 0
    if offset and offset % sizeof(floating) == 0:
        skip = <Py_ssize_t>((64 - offset) // sizeof(floating))
    return start + skip if skip < stop - start else stop


# The update of each kind on one range, then the kernel: that range cut at
# the first cache line of param.
cdef inline void _sgd_range(floating* param, const floating* grad, floating* s1, floating* s2,
                            const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating lr = <floating>c[0]
    cdef Py_ssize_t i
    for i in range(start, stop):
        param[i] = param[i] - lr * grad[i]


cdef inline void _momentum_range(floating* param, const floating* grad, floating* v, floating* s2,
                                 const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating momentum = <floating>c[0], lr = <floating>c[1]
    cdef Py_ssize_t i
    for i in range(start, stop):
        v[i] = momentum * v[i] - lr * grad[i]
        param[i] = param[i] + v[i]


cdef inline void _nesterov_range(floating* param, const floating* grad, floating* v, floating* s2,
                                 const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating momentum = <floating>c[0], lr = <floating>c[1]
    # The book's `self.momentum * self.momentum * self.v[key]` and
    # `(1 + self.momentum) * self.lr * grads[key]` form these in double first.
    cdef floating momentum_squared = <floating>(c[0] * c[0])
    cdef floating step = <floating>((1 + c[0]) * c[1])
    cdef Py_ssize_t i
    for i in range(start, stop):
        param[i] = param[i] + momentum_squared * v[i]
        param[i] = param[i] - step * grad[i]
        v[i] = v[i] * momentum - lr * grad[i]


cdef inline void _adagrad_range(floating* param, const floating* grad, floating* h, floating* s2,
                                const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating lr = <floating>c[0], eps = <floating>c[1]
    cdef Py_ssize_t i
    for i in range(start, stop):
        h[i] = h[i] + grad[i] * grad[i]
        param[i] = param[i] - (lr * grad[i]) / (square_root(h[i]) + eps)


cdef inline void _rmsprop_range(floating* param, const floating* grad, floating* h, floating* s2,
                                const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating lr = <floating>c[0], decay = <floating>c[1], eps = <floating>c[2]
    cdef floating keep = <floating>(1 - c[1])
    cdef Py_ssize_t i
    for i in range(start, stop):
        h[i] = h[i] * decay + (keep * grad[i]) * grad[i]
        param[i] = param[i] - (lr * grad[i]) / (square_root(h[i]) + eps)


cdef inline void _adam_range(floating* param, const floating* grad, floating* m, floating* v,
                             const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef double lr_t = c[0]
    cdef floating one_minus_beta1 = <floating>(1 - c[1])
    cdef floating one_minus_beta2 = <floating>(1 - c[2])
    cdef floating eps = <floating>c[3]
    cdef Py_ssize_t i
    for i in range(start, stop):
        m[i] = m[i] + one_minus_beta1 * (grad[i] - m[i])
        v[i] = v[i] + one_minus_beta2 * (grad[i] * grad[i] - v[i])
        if floating is float:
            param[i] = <float>(<double>param[i] - (lr_t * <double>m[i]) / <double>(square_root(v[i]) + eps))
        else:
            param[i] = param[i] - (lr_t * m[i]) / (square_root(v[i]) + eps)


cdef void _sgd(floating* param, const floating* grad, floating* s1, floating* s2,
               const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _sgd_range(param, grad, s1, s2, c, start, line)
    _sgd_range(param, grad, s1, s2, c, line, stop)


cdef void _momentum(floating* param, const floating* grad, floating* v, floating* s2,
                    const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _momentum_range(param, grad, v, s2, c, start, line)
    _momentum_range(param, grad, v, s2, c, line, stop)


cdef void _nesterov(floating* param, const floating* grad, floating* v, floating* s2,
                    const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _nesterov_range(param, grad, v, s2, c, start, line)
    _nesterov_range(param, grad, v, s2, c, line, stop)


cdef void _adagrad(floating* param, const floating* grad, floating* h, floating* s2,
                   const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _adagrad_range(param, grad, h, s2, c, start, line)
    _adagrad_range(param, grad, h, s2, c, line, stop)


cdef void _rmsprop(floating* param, const floating* grad, floating* h, floating* s2,
                   const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _rmsprop_range(param, grad, h, s2, c, start, line)
    _rmsprop_range(param, grad, h, s2, c, line, stop)


cdef void _adam(floating* param, const floating* grad, floating* m, floating* v,
                const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t line = _line_start(param, start, stop)
    _adam_range(param, grad, m, v, c, start, line)
    _adam_range(param, grad, m, v, c, line, stop)


include "_cpu_update_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
