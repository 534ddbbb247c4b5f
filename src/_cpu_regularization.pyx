# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Chapter 6's regularisation layers, BatchNormalization and Dropout: the
kernels, built once per instruction set (contracts: src/_tables.pxd,
RegularizationKernels; the glue is src/_regularization.pyx).

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

Parallelisation, in the glue: batch normalisation cuts the D columns into
contiguous chunks; every column, its sums included, is computed by one
thread over all rows in row order, and nothing is combined across threads,
so results are bitwise identical for every thread count.  Dropout is
elementwise.  No Python object here.
"""
from cython cimport floating

from _math cimport square_root


cdef void _bn_train_columns(const floating* x, const floating* gamma,
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
        std[j] = square_root(var[j] + epsilon)
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            xn[row + j] = xc[row + j] / std[j]
            out[row + j] = gamma[j] * xn[row + j] + beta[j]


cdef void _bn_test_columns(const floating* x, const floating* running_mean,
                           const floating* denom, const floating* gamma,
                           const floating* beta, floating* out,
                           Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0,
                           Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t i, j, row
    for i in range(n):
        row = i * d
        for j in range(c0, c1):
            out[row + j] = gamma[j] * ((x[row + j] - running_mean[j]) / denom[j]) + beta[j]


cdef void _bn_backward_columns(const floating* dout, const floating* xc,
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


cdef void _dropout_train_range(const floating* x, const double* r, double ratio,
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


cdef void _scale_range(const floating* x, floating scale, floating* out,
                       Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = x[i] * scale


cdef void _dropout_backward_range(const floating* dout, const unsigned char* mask,
                                  floating* dx, Py_ssize_t start,
                                  Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, stop):
        dx[i] = dout[i] * <floating>(mask[i] != 0)


include "_cpu_regularization_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
