# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Convolution and max pooling (chapter 7): the glue, compiled once.

    im2col(x, col, geometry, transposed)   col: the patches of x (N*P, K), or
                                           (N, K, P) when transposed; float32
                                           x into a float64 col widens
    col2im(col, dx, geometry, transposed)  dx: the adjoint of im2col
    bias_add(out, b)                       out[n, f, :] += b[f], out (N, FN, P)
    bias_gradient(dout)                    db[f] = sum over n, p of dout[n, f, p]
    max_pool_forward(x, window)            (out, windows): each window's maximum
                                           and its first index i*pool_w + j
    max_pool_backward(dout, windows, dx)   dx: dout scattered to the windows
``geometry`` is (N, C, H, W, FH, FW, stride, pad, OH, OW) and ``window``
(pool_h, pool_w, stride, pad, OH, OW); K = C*FH*FW, P = OH*OW.  Each entry
point checks that its arrays are exact C-contiguous ndarrays of one float
dtype (the windows int32) whose sizes are those the geometry gives, every
count non-negative and no size beyond an index -- so no kernel reads or
writes outside an array -- and returns None, doing nothing, otherwise;
zk_layers/convolution.py validates the geometry, with the documented
errors, before.  ``serial``: run on the calling thread (the layer already
runs its parts of the batch on the threads: the policy is asked for no
work); else the thread count is the policy's for the work.

The kernels are src/_cpu_convolution.pyx, called through the table that
``bind`` installs.  The images (for pooling the (image, channel) planes)
are cut into contiguous chunks, and the bias gradient's filters; nothing is
combined across threads, so every result is bitwise identical for every
thread count.  Small one-thread work runs inline with the GIL held.
"""
cimport numpy as cnp
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.string cimport memset

from _common cimport apart, is_kernel_array, kernel_float_type
from _tables cimport GRAIN_ELEMENTWISE, ConvolutionKernels, Geometry

ctypedef ConvolutionKernels Table
cdef const char* TABLE_NAME = "zk_layers.ConvolutionKernels"
include "_glue.pxi"


cdef inline Py_ssize_t _times(Py_ssize_t a, Py_ssize_t b) noexcept:
    """a * b for counts >= 0, or -1 when it would overflow."""
    if a < 0 or b < 0 or (a != 0 and b > PY_SSIZE_T_MAX // a):
        return -1
    return a * b


cdef bint _read_geometry(object geometry, Geometry* g, Py_ssize_t* n) except -1:
    """The 10-tuple (N, C, H, W, FH, FW, stride, pad, OH, OW) into n and g;
    False if it is not one of non-negative counts with stride >= 1."""
    if type(geometry) is not tuple or len(geometry) != 10:
        return False
    n[0], g.channels, g.height, g.width, g.filter_h, g.filter_w, g.stride, g.pad, g.out_h, g.out_w = geometry
    return (n[0] >= 0 and g.channels >= 0 and g.height >= 0 and g.width >= 0 and g.filter_h >= 0
            and g.filter_w >= 0 and g.stride >= 1 and g.pad >= 0 and g.out_h >= 0 and g.out_w >= 0)


cdef inline Py_ssize_t _image_size(Geometry g) noexcept:
    return _times(_times(g.channels, g.height), g.width)


cdef inline Py_ssize_t _patch_size(Geometry g) noexcept:
    """K * P of one image, or -1."""
    return _times(_times(_times(g.channels, g.filter_h), g.filter_w), _times(g.out_h, g.out_w))


cdef inline Py_ssize_t _size(object a) noexcept:
    return cnp.PyArray_SIZE(<cnp.ndarray>a)


cdef inline void* _data(object a) noexcept:
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _fit(Py_ssize_t n, object x, object col, Geometry g) noexcept:
    """x holds the n images and col their patches."""
    cdef Py_ssize_t image = _times(n, _image_size(g)), patches = _times(n, _patch_size(g))
    return image >= 0 and patches >= 0 and _size(x) == image and _size(col) == patches


# The runners, one per kernel signature (src/_runners.pxi.tp): [0, n) cut
# into one contiguous range per thread; the entry points pick the kernel of
# the table.
include "_convolution_runners.pxi"


# ---------------------------------------------------------- entry points
def im2col(object x, object col, object geometry, bint transposed, bint serial=False):
    """Write the patches of the images x into col (see the module notes);
    col, or None when the arrays do not fit."""
    cdef Geometry g
    cdef Py_ssize_t n
    cdef int x_type = kernel_float_type(x), col_type = kernel_float_type(col)
    if x_type < 0 or col_type < 0 or not _read_geometry(geometry, &g, &n):
        return None
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>col):
        return None
    cdef bint widened = x_type == cnp.NPY_FLOAT and col_type == cnp.NPY_DOUBLE
    if x_type != col_type and not (widened and transposed):
        return None
    if not _fit(n, x, col, g):
        return None
    cdef Py_ssize_t items = _size(col)
    if items == 0:
        return col
    cdef int n_threads = _threads(0 if serial else items, GRAIN_ELEMENTWISE)
    cdef const void* xs = _data(x)
    cdef void* cs = _data(col)
    if widened:
        _run_images(K.im2col_widened, <const float*>xs, <double*>cs, transposed, g, n, items, n_threads)
    elif col_type == cnp.NPY_DOUBLE:
        _run_images(K.im2col_f64, <const double*>xs, <double*>cs, transposed, g, n, items, n_threads)
    else:
        _run_images(K.im2col_f32, <const float*>xs, <float*>cs, transposed, g, n, items, n_threads)
    return col


def col2im(object col, object dx, object geometry, bint transposed, bint serial=False):
    """Write into dx (whole images) the sum of the patch entries of col that
    read each pixel; dx, or None when the arrays do not fit."""
    cdef Geometry g
    cdef Py_ssize_t n
    cdef int typenum = kernel_float_type(col)
    if typenum < 0 or kernel_float_type(dx) != typenum or not _read_geometry(geometry, &g, &n):
        return None
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>dx):
        return None
    if not _fit(n, dx, col, g):
        return None
    if _size(dx) == 0:
        return dx
    if _size(col) == 0:  # an empty output (no patches): every gradient is 0
        memset(_data(dx), 0, cnp.PyArray_NBYTES(<cnp.ndarray>dx))
        return dx
    cdef int n_threads = _threads(0 if serial else _size(col), GRAIN_ELEMENTWISE)
    cdef Py_ssize_t items = _size(col) + _size(dx)
    if typenum == cnp.NPY_DOUBLE:
        _run_images(K.col2im_f64, <const double*>_data(col), <double*>_data(dx), transposed, g, n, items,
                    n_threads)
    else:
        _run_images(K.col2im_f32, <const float*>_data(col), <float*>_data(dx), transposed, g, n, items,
                    n_threads)
    return dx


def bias_add(object out, object b, bint serial=False):
    """out[n, f, :] += b[f] for a C-contiguous (N, FN, P) out and b of FN
    elements, one float dtype; out, or None."""
    cdef int typenum = kernel_float_type(out)
    if (typenum < 0 or kernel_float_type(b) != typenum or cnp.PyArray_NDIM(<cnp.ndarray>out) != 3
            or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)):
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(<cnp.ndarray>out)
    cdef Py_ssize_t n = dims[0], n_filters = dims[1], positions = dims[2], items = _size(out)
    if _size(b) != n_filters:
        return None
    if items == 0:
        return out
    cdef int n_threads = _threads(0 if serial else items, GRAIN_ELEMENTWISE)
    if typenum == cnp.NPY_DOUBLE:
        _run_filters(K.bias_add_f64, <double*>_data(out), <const double*>_data(b), n_filters, positions, n,
                     items, n_threads)
    else:
        _run_filters(K.bias_add_f32, <float*>_data(out), <const float*>_data(b), n_filters, positions, n,
                     items, n_threads)
    return out


def bias_gradient(object dout, object lanes=None, bint finish=True):
    """db (FN,) for a C-contiguous float (N, FN, P) dout; or None.

    With ``lanes``, a C-contiguous float64 (FN, 8) array of running sums
    (zeros before the first block): dout is one block of the batch's
    images, added into them; ``finish``: the batch's last block, db is
    returned, else ``lanes``.  The blocks of a batch, given in order, give
    the bits of one call."""
    cdef int typenum = kernel_float_type(dout)
    if typenum < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dout) != 3:
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(<cnp.ndarray>dout)
    cdef Py_ssize_t n = dims[0], n_filters = dims[1], positions = dims[2], items = _size(dout)
    cdef cnp.npy_intp lane_dims[2]
    cdef cnp.ndarray sums
    if lanes is None:
        lane_dims[0], lane_dims[1] = n_filters, 8
        sums = cnp.PyArray_ZEROS(2, lane_dims, cnp.NPY_DOUBLE, 0)
    elif (not is_kernel_array(lanes, cnp.NPY_DOUBLE) or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>lanes)
            or cnp.PyArray_NDIM(<cnp.ndarray>lanes) != 2 or cnp.PyArray_DIMS(<cnp.ndarray>lanes)[0] != n_filters
            or cnp.PyArray_DIMS(<cnp.ndarray>lanes)[1] != 8 or not apart(lanes, dout)):
        return None
    else:
        sums = <cnp.ndarray>lanes
    cdef cnp.ndarray db = cnp.PyArray_ZEROS(1, &dims[1], typenum, 0) if finish else None
    cdef int n_threads = _threads(items, GRAIN_ELEMENTWISE)
    if positions == 0:
        n = 0  # nothing to add: the sums combine as they stand
    if n_filters > 0:
        if typenum == cnp.NPY_DOUBLE:
            _run_sums(K.bias_gradient_f64, <const double*>_data(dout), <double*>_data(sums),
                      <double*>_data(db) if finish else NULL, n, n_filters, positions, items, n_threads)
        else:
            _run_sums(K.bias_gradient_f32, <const float*>_data(dout), <double*>_data(sums),
                      <float*>_data(db) if finish else NULL, n, n_filters, positions, items, n_threads)
    return db if finish else sums


cdef bint _read_window(object x_like, object window, Geometry* g, Py_ssize_t* planes) except -1:
    """Pooling's geometry for the 4-D x_like (N, C, H, W) and the 6-tuple
    (pool_h, pool_w, stride, pad, OH, OW): planes N*C of one channel."""
    if cnp.PyArray_NDIM(<cnp.ndarray>x_like) != 4 or type(window) is not tuple or len(window) != 6:
        return False
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(<cnp.ndarray>x_like)
    g.channels, g.height, g.width = 1, dims[2], dims[3]
    g.filter_h, g.filter_w, g.stride, g.pad, g.out_h, g.out_w = window
    planes[0] = _times(dims[0], dims[1])
    return (g.filter_h >= 1 and g.filter_w >= 1 and g.stride >= 1 and g.pad >= 0
            and g.out_h >= 0 and g.out_w >= 0 and planes[0] >= 0
            and _times(g.filter_h, g.filter_w) <= INT_MAX)


def max_pool_forward(object x, object window):
    """``(out, windows)`` for C-contiguous float (N, C, H, W) images x:
    out (N, C, OH, OW) in x's dtype, windows int32 of out's shape; or None."""
    cdef Geometry g
    cdef Py_ssize_t planes
    cdef int typenum = kernel_float_type(x)
    if typenum < 0 or not _read_window(x, window, &g, &planes):
        return None
    cdef cnp.npy_intp dims[4]
    dims[0], dims[1] = cnp.PyArray_DIMS(<cnp.ndarray>x)[0], cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    dims[2], dims[3] = g.out_h, g.out_w
    if _times(planes, _times(g.out_h, g.out_w)) < 0:
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(4, dims, typenum, 0)
    cdef cnp.ndarray windows = cnp.PyArray_EMPTY(4, dims, cnp.NPY_INT32, 0)
    if _size(out) == 0:
        return out, windows
    cdef Py_ssize_t items = _size(x)
    cdef int n_threads = _threads(items, GRAIN_ELEMENTWISE)
    cdef int* a = <int*>_data(windows)
    if typenum == cnp.NPY_DOUBLE:
        _run_pool(K.max_pool_f64, <const double*>_data(x), <double*>_data(out), a, g, planes, items, n_threads)
    else:
        _run_pool(K.max_pool_f32, <const float*>_data(x), <float*>_data(out), a, g, planes, items, n_threads)
    return out, windows


def max_pool_backward(object dout, object windows, object dx, object window):
    """Write into the C-contiguous (N, C, H, W) dx the float (N, C, OH, OW)
    dout scattered to each window's maximum (``windows``: int32, dout's
    shape, every index below pool_h * pool_w -- the layer checks a replaced
    one); dx, or None."""
    cdef Geometry g
    cdef Py_ssize_t planes
    cdef int typenum = kernel_float_type(dout)
    if (typenum < 0 or kernel_float_type(dx) != typenum or not is_kernel_array(windows, cnp.NPY_INT32)
            or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>dx) or not _read_window(dx, window, &g, &planes)):
        return None
    cdef Py_ssize_t outputs = _times(planes, _times(g.out_h, g.out_w))
    if outputs < 0 or _size(dout) != outputs or _size(windows) != outputs:
        return None
    if _size(dx) == 0:
        return dx
    if outputs == 0:
        memset(_data(dx), 0, cnp.PyArray_NBYTES(<cnp.ndarray>dx))
        return dx
    cdef Py_ssize_t items = _size(dx)
    cdef int n_threads = _threads(items, GRAIN_ELEMENTWISE)
    cdef const int* a = <const int*>_data(windows)
    if typenum == cnp.NPY_DOUBLE:
        _run_unpool(K.max_pool_backward_f64, <const double*>_data(dout), a, <double*>_data(dx), g, planes, items,
                    n_threads)
    else:
        _run_unpool(K.max_pool_backward_f32, <const float*>_data(dout), a, <float*>_data(dx), g, planes, items,
                    n_threads)
    return dx
