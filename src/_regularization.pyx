# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Chapter 6's regularisation layers: BatchNormalization and Dropout.

What they compute, for x of shape (N, D) (the layer flattens 4-D input to
(N, C*H*W) as the book does) with the book's formulas and association:
    batchnorm_forward_train  mu = sum_i x / N;  xc = x - mu;
                             var = sum_i xc*xc / N;  std = sqrt(var + 10e-7)
                             xn = xc / std;  out = gamma * xn + beta
    batchnorm_forward_test   out = gamma * ((x - running_mean) / denom) + beta,
                             denom = sqrt(running_var + 10e-7) from the caller
    batchnorm_backward       dbeta = sum_i dout;  dgamma = sum_i xn * dout
                             dstd = -sum_i (gamma*dout*xc) / (std*std)
                             dvar = 0.5 * dstd / std
                             dxc = gamma*dout/std + (2/N) * xc * dvar
                             dx = dxc - sum_i dxc / N
    dropout_forward_train    mask = r > ratio;  out = x * mask
    dropout_scale            out = x * scale   (test mode: scale = 1 - ratio)
    dropout_backward         dx = dout * mask
Memory: batch normalisation reads x three times in training (mean, variance
with xc written, then xn and out written) and dout, xc, xn twice in
backward; dropout is one pass.  The column sums are formed in the input
dtype, one row after another, which is the order of NumPy's sum(axis=0) on
a C-ordered array.

What the caller guarantees (zk_layers/regularization.py): every (N, D) array
is C-contiguous with N * D elements, every per-feature array has D elements,
all floating arrays share one dtype, N >= 1 for the batch statistics, and
`work` has 2 * D elements.  No bounds are checked here.

Parallelisation: batch normalisation cuts the D columns into n_threads
contiguous chunks (static schedule); every column, its sums included, is
computed by one thread over all rows in row order, and nothing is combined
across threads, so results are bitwise identical for every thread count.
Dropout is elementwise over [0, N*D), cut the same way.  Small one-thread
work runs inline with the GIL held (GIL_RELEASE_MIN_ITEMS).
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


cdef inline void _bn_train_columns(const floating* x, const floating* gamma,
                                   const floating* beta, floating* xc,
                                   floating* xn, floating* out, floating* mu,
                                   floating* var, floating* std,
                                   Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0,
                                   Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t i, j, row
    cdef floating centred
    cdef floating count = <floating>n
    cdef floating epsilon = <floating>10e-7
    for j in range(c0, c1):
        mu[j] = 0
        var[j] = 0
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            mu[j] = mu[j] + x[row + j]
    for j in range(c0, c1):
        mu[j] = mu[j] / count
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            centred = x[row + j] - mu[j]
            xc[row + j] = centred
            var[j] = var[j] + centred * centred
    for j in range(c0, c1):
        var[j] = var[j] / count
        std[j] = _sqrt(var[j] + epsilon)
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            xn[row + j] = xc[row + j] / std[j]
            out[row + j] = gamma[j] * xn[row + j] + beta[j]


cdef inline void _bn_test_columns(const floating* x, const floating* running_mean,
                                  const floating* denom, const floating* gamma,
                                  const floating* beta, floating* out,
                                  Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0,
                                  Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t i, j, row
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            out[row + j] = gamma[j] * ((x[row + j] - running_mean[j]) / denom[j]) + beta[j]


cdef inline void _bn_backward_columns(const floating* dout, const floating* xc,
                                      const floating* xn, const floating* gamma,
                                      const floating* std, floating* dx,
                                      floating* dgamma, floating* dbeta,
                                      floating* dvar, floating* dmu,
                                      Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0,
                                      Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t i, j, row
    cdef floating dxc
    cdef floating count = <floating>n
    cdef floating two_over_n = <floating>(2.0 / n)
    cdef floating half = 0.5
    for j in range(c0, c1):
        dbeta[j] = 0
        dgamma[j] = 0
        dvar[j] = 0  # first the sum that makes -dstd
        dmu[j] = 0
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            dbeta[j] = dbeta[j] + dout[row + j]
            dgamma[j] = dgamma[j] + xn[row + j] * dout[row + j]
            dvar[j] = dvar[j] + (gamma[j] * dout[row + j] * xc[row + j]) / (std[j] * std[j])
    for j in range(c0, c1):
        dvar[j] = half * (-dvar[j]) / std[j]
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            dxc = (gamma[j] * dout[row + j]) / std[j] + two_over_n * xc[row + j] * dvar[j]
            dx[row + j] = dxc
            dmu[j] = dmu[j] + dxc
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            dx[row + j] = dx[row + j] - dmu[j] / count


def batchnorm_forward_train(const floating[::1] x, const floating[::1] gamma,
                            const floating[::1] beta, floating[::1] xc,
                            floating[::1] xn, floating[::1] out,
                            floating[::1] mu, floating[::1] var,
                            floating[::1] std, Py_ssize_t n, int n_threads):
    cdef Py_ssize_t d = gamma.shape[0], c
    if n == 0 or d == 0:
        return
    if n_threads <= 1 and n * d < GIL_RELEASE_MIN_ITEMS:
        _bn_train_columns(&x[0], &gamma[0], &beta[0], &xc[0], &xn[0], &out[0],
                          &mu[0], &var[0], &std[0], n, d, 0, d)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _bn_train_columns(&x[0], &gamma[0], &beta[0], &xc[0], &xn[0], &out[0],
                          &mu[0], &var[0], &std[0], n, d,
                          chunk_start(c, n_threads, d), chunk_start(c + 1, n_threads, d))


def batchnorm_forward_test(const floating[::1] x, const floating[::1] running_mean,
                           const floating[::1] denom, const floating[::1] gamma,
                           const floating[::1] beta, floating[::1] out,
                           Py_ssize_t n, int n_threads):
    cdef Py_ssize_t d = gamma.shape[0], c
    if n == 0 or d == 0:
        return
    if n_threads <= 1 and n * d < GIL_RELEASE_MIN_ITEMS:
        _bn_test_columns(&x[0], &running_mean[0], &denom[0], &gamma[0], &beta[0],
                         &out[0], n, d, 0, d)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _bn_test_columns(&x[0], &running_mean[0], &denom[0], &gamma[0], &beta[0],
                         &out[0], n, d, chunk_start(c, n_threads, d),
                         chunk_start(c + 1, n_threads, d))


def batchnorm_backward(const floating[::1] dout, const floating[::1] xc,
                       const floating[::1] xn, const floating[::1] gamma,
                       const floating[::1] std, floating[::1] dx,
                       floating[::1] dgamma, floating[::1] dbeta,
                       floating[::1] work, Py_ssize_t n, int n_threads):
    cdef Py_ssize_t d = gamma.shape[0], c
    if n == 0 or d == 0:
        return
    if n_threads <= 1 and n * d < GIL_RELEASE_MIN_ITEMS:
        _bn_backward_columns(&dout[0], &xc[0], &xn[0], &gamma[0], &std[0], &dx[0],
                             &dgamma[0], &dbeta[0], &work[0], &work[d], n, d, 0, d)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _bn_backward_columns(&dout[0], &xc[0], &xn[0], &gamma[0], &std[0], &dx[0],
                             &dgamma[0], &dbeta[0], &work[0], &work[d], n, d,
                             chunk_start(c, n_threads, d), chunk_start(c + 1, n_threads, d))


cdef inline void _dropout_train_range(const floating* x, const double* r, double ratio,
                                      unsigned char* mask, floating* out,
                                      Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint keep
    for i in range(start, stop):
        keep = r[i] > ratio
        mask[i] = keep
        # x * mask as NumPy computes it: the boolean becomes 1.0 or 0.0, so
        # a dropped -3.0 gives -0.0 and a dropped inf gives NaN, as in the book.
        out[i] = x[i] * <floating>keep


cdef inline void _scale_range(const floating* x, floating scale, floating* out,
                              Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = x[i] * scale


cdef inline void _dropout_backward_range(const floating* dout, const unsigned char* mask,
                                         floating* dx, Py_ssize_t start,
                                         Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        dx[i] = dout[i] * <floating>(mask[i] != 0)


def dropout_forward_train(const floating[::1] x, const double[::1] r, double ratio,
                          unsigned char[::1] mask, floating[::1] out, int n_threads):
    cdef Py_ssize_t n = x.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _dropout_train_range(&x[0], &r[0], ratio, &mask[0], &out[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _dropout_train_range(&x[0], &r[0], ratio, &mask[0], &out[0],
                             chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def dropout_scale(const floating[::1] x, double scale, floating[::1] out, int n_threads):
    cdef Py_ssize_t n = x.shape[0], c
    cdef floating scale_as_floating = <floating>scale
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _scale_range(&x[0], scale_as_floating, &out[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _scale_range(&x[0], scale_as_floating, &out[0],
                     chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))


def dropout_backward(const floating[::1] dout, const unsigned char[::1] mask,
                     floating[::1] dx, int n_threads):
    cdef Py_ssize_t n = dout.shape[0], c
    if n == 0:
        return
    if n_threads <= 1 and n < GIL_RELEASE_MIN_ITEMS:
        _dropout_backward_range(&dout[0], &mask[0], &dx[0], 0, n)
        return
    for c in prange(n_threads, nogil=True, schedule="static", num_threads=n_threads):
        _dropout_backward_range(&dout[0], &mask[0], &dx[0],
                                chunk_start(c, n_threads, n), chunk_start(c + 1, n_threads, n))
