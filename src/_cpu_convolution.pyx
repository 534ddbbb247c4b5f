# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Convolution and max-pooling kernels (chapter 7): im2col, col2im, pooling.

Built once per instruction set; the glue, src/_convolution.pyx, checks
the arrays and splits the work (contracts: src/_tables.pxd,
ConvolutionKernels).  No Python object here.

What they compute (col, dx, out, arg_max, db are written; the rest is read).
x is a batch of images (N, C, H, W); a filter is FH x FW, applied with
`stride` and `pad` zeros on every side; OH = (H + 2 pad - FH) // stride + 1,
OW likewise; K = C * FH * FW (one filter's weights), P = OH * OW (output
positions of one image).  Element (k, p) of an image's patch matrix, with
k = (c, i, j) and p = (oh, ow), is x[c, oh*stride + i - pad, ow*stride + j - pad],
or 0 where that falls in the padding.
    im2col                    col (N*P, K): the book's layout, rows (n, oh, ow)
    im2col_transposed         col (N, K, P): per image, one row per k, so that
                              W (FN, K) @ col[n] is the output (FN, OH, OW) of
                              image n in NCHW order, with no transpose after
    im2col_transposed_widened the same from float32 x into a float64 col (the
                              book's float32 images with float64 weights: the
                              conversion rides along with the copy)
    col2im / col2im_transposed  dx (N, C, H, W): every pixel's sum of the
                              patch entries that read it (the adjoint of
                              im2col), added in filter order (i, j) from 0, as
                              the book's col2im adds them
    conv_bias_add_inplace     out[n, f, :] += b[f]             out (N, FN, P)
    conv_bias_gradient        db[f] = sum over n, p of dout[n, f, p]
    max_pool_forward          out[n, c, oh, ow] = max of the window, and
                              arg_max = its index i*PW + j in the window (the
                              first maximum; NaN wins, as np.argmax decides)
    max_pool_backward         dx = dout scattered to each window's arg_max
One pass over the output each (im2col writes every element of col once;
col2im and the pooling backward zero an image, then add into it, except the
book's 2x2 stride-2 pooling, whose windows do not overlap: its backward
writes every pixel once).

What the caller guarantees (zk_layers/convolution.py validates, the glue
checks the sizes): arrays are
contiguous 1-D views of buffers of the stated shapes (x: N*C*H*W, col:
N*K*P, out and dout of pooling: N*C*OH*OW), float arrays of one dtype
(except the widened im2col), the geometry consistent (OH, OW from the formula
above, FH <= H + 2 pad, FW <= W + 2 pad, stride >= 1, pad >= 0), and every
arg_max entry in [0, PH*PW).  Indices outside the image are never formed:
each row of a window is clipped to the columns that fall inside.

Each image (for pooling each (image, channel) plane) is computed in a
fixed order whatever range it falls in, and the bias gradient sums each
filter over the images in order, accumulated in double, so every result is
bitwise identical for every way the glue cuts the work.
"""
from cython cimport floating

from _tables cimport Geometry


ctypedef fused source_t:  # the input of im2col, which may be narrower than col
    float
    double


cdef inline Py_ssize_t _first_inside(Py_ssize_t offset, Py_ssize_t stride,
                                     Py_ssize_t n_out) noexcept nogil:
    """Smallest o >= 0 with o * stride + offset >= 0, at most n_out (a
    window column that lies in the left padding for every output)."""
    cdef Py_ssize_t first
    if offset >= 0:
        return 0
    first = (-offset - 1) // stride + 1
    return first if first < n_out else n_out


cdef inline Py_ssize_t _end_inside(Py_ssize_t offset, Py_ssize_t stride,
                                   Py_ssize_t size, Py_ssize_t n_out) noexcept nogil:
    """One past the largest o < n_out with o * stride + offset < size."""
    cdef Py_ssize_t last = size - 1 - offset
    if last < 0:
        return 0
    last = last // stride + 1
    return last if last < n_out else n_out


cdef inline void _im2col_image(const source_t* x, floating* col,
                               Py_ssize_t k_step, Py_ssize_t p_step,
                               Geometry g) noexcept nogil:
    """One image: col[k * k_step + p * p_step] for every (k, p)."""
    cdef Py_ssize_t c, i, j, k, oh, ow, iy, first, end, base
    cdef floating* row
    for c in range(g.channels):
        for i in range(g.filter_h):
            for j in range(g.filter_w):
                k = (c * g.filter_h + i) * g.filter_w + j
                first = _first_inside(j - g.pad, g.stride, g.out_w)
                end = _end_inside(j - g.pad, g.stride, g.width, g.out_w)
                if end < first:
                    end = first
                for oh in range(g.out_h):
                    row = col + k * k_step + oh * g.out_w * p_step
                    iy = oh * g.stride + i - g.pad
                    if iy < 0 or iy >= g.height:
                        for ow in range(g.out_w):
                            row[ow * p_step] = 0
                        continue
                    base = (c * g.height + iy) * g.width + j - g.pad
                    for ow in range(first):
                        row[ow * p_step] = 0
                    if p_step == 1 and g.stride == 1:  # contiguous: vectorised
                        for ow in range(first, end):
                            row[ow] = <floating>x[base + ow]
                    else:
                        for ow in range(first, end):
                            row[ow * p_step] = <floating>x[base + ow * g.stride]
                    for ow in range(end, g.out_w):
                        row[ow * p_step] = 0


cdef inline void _col2im_image(const floating* col, floating* dx,
                               Py_ssize_t k_step, Py_ssize_t p_step,
                               Geometry g) noexcept nogil:
    """One image: dx = 0, then every in-image patch entry added to its pixel."""
    cdef Py_ssize_t c, i, j, k, oh, ow, iy, first, end, base
    cdef const floating* row
    for k in range(g.channels * g.height * g.width):
        dx[k] = 0
    for c in range(g.channels):
        for i in range(g.filter_h):
            for j in range(g.filter_w):
                k = (c * g.filter_h + i) * g.filter_w + j
                first = _first_inside(j - g.pad, g.stride, g.out_w)
                end = _end_inside(j - g.pad, g.stride, g.width, g.out_w)
                for oh in range(g.out_h):
                    iy = oh * g.stride + i - g.pad
                    if iy < 0 or iy >= g.height:
                        continue
                    row = col + k * k_step + oh * g.out_w * p_step
                    base = (c * g.height + iy) * g.width + j - g.pad
                    for ow in range(first, end):
                        dx[base + ow * g.stride] = dx[base + ow * g.stride] + row[ow * p_step]


cdef inline void _layout(Geometry g, bint transposed, Py_ssize_t* image, Py_ssize_t* patches,
                         Py_ssize_t* p_step, Py_ssize_t* k_step) noexcept nogil:
    """One image's element count, its patches' count, and the strides of the
    patches' position and tap axes: col is (N, K, P) if transposed, else
    (N*P, K)."""
    cdef Py_ssize_t positions = g.out_h * g.out_w
    cdef Py_ssize_t taps = g.channels * g.filter_h * g.filter_w
    image[0] = g.channels * g.height * g.width
    patches[0] = taps * positions
    p_step[0] = 1 if transposed else taps
    k_step[0] = positions if transposed else 1


cdef void _im2col_images(const source_t* x, floating* col, bint transposed,
                         Py_ssize_t start, Py_ssize_t stop,
                         Geometry g) noexcept nogil:
    cdef Py_ssize_t n, image, patches, p_step, k_step
    _layout(g, transposed, &image, &patches, &p_step, &k_step)
    for n in range(start, stop):
        _im2col_image(x + n * image, col + n * patches, k_step, p_step, g)


cdef void _col2im_images(const floating* col, floating* dx, bint transposed,
                         Py_ssize_t start, Py_ssize_t stop,
                         Geometry g) noexcept nogil:
    cdef Py_ssize_t n, image, patches, p_step, k_step
    _layout(g, transposed, &image, &patches, &p_step, &k_step)
    for n in range(start, stop):
        _col2im_image(col + n * patches, dx + n * image, k_step, p_step, g)


# ------------------------------------------------------------------ bias
cdef void _bias_add_images(floating* out, const floating* b, Py_ssize_t n_filters,
                           Py_ssize_t positions, Py_ssize_t start,
                           Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t n, f, p
    cdef floating* row
    cdef floating bias
    for n in range(start, stop):
        for f in range(n_filters):
            row = out + (n * n_filters + f) * positions
            bias = b[f]
            for p in range(positions):
                row[p] = row[p] + bias


cdef void _bias_gradient_filters(const floating* dout, double* lanes, floating* db,
                                 Py_ssize_t n_images, Py_ssize_t n_filters,
                                 Py_ssize_t positions, Py_ssize_t start,
                                 Py_ssize_t stop) noexcept nogil:
    """db[f] for f in [start, stop), in double: eight running sums (element p
    goes to sum p % 8), independent so that the adds vectorise instead of
    waiting on each other in one dependent chain, then combined in a fixed
    order.  The order depends only on the shapes.  The sums are
    lanes[8 f .. 8 f + 7], which the caller zeroes: a batch given in blocks
    of images, in order, adds up to the same bits as in one call.  db NULL:
    only the sums (a block before the last)."""
    cdef Py_ssize_t n, f, p, lane, blocked = positions - positions % 8
    cdef const floating* row
    cdef double* sums
    for f in range(start, stop):
        sums = lanes + 8 * f
        for n in range(n_images):
            row = dout + (n * n_filters + f) * positions
            for p in range(0, blocked, 8):
                for lane in range(8):
                    sums[lane] = sums[lane] + row[p + lane]
            for p in range(blocked, positions):
                sums[p - blocked] = sums[p - blocked] + row[p]
        if db != NULL:
            db[f] = <floating>(((sums[0] + sums[1]) + (sums[2] + sums[3]))
                               + ((sums[4] + sums[5]) + (sums[6] + sums[7])))


# --------------------------------------------------------------- pooling
cdef inline bint _max_pool_row_inside(const floating* image, floating* out_row,
                                      int* arg_row, Py_ssize_t oh, Geometry g) noexcept nogil:
    """One output row whose windows lie inside the image (no padding), in
    two branch-free passes across the row (see _max_pool_row_2x2): the
    maxima, then the first index equal to each (window elements in reverse
    order, so that the first one writes last).  Returns the NaN flag."""
    cdef Py_ssize_t i, j, ow
    cdef const floating* source
    cdef floating value, best
    cdef int index, nan_seen = 0
    source = image + (oh * g.stride) * g.width
    for ow in range(g.out_w):
        out_row[ow] = source[ow * g.stride]
    for i in range(g.filter_h):
        source = image + (oh * g.stride + i) * g.width
        for j in range(g.filter_w):
            for ow in range(g.out_w):
                value = source[ow * g.stride + j]
                best = out_row[ow]
                out_row[ow] = value if value > best else best
                nan_seen = nan_seen | <int>(value != value)
    for ow in range(g.out_w):
        arg_row[ow] = 0
    for i in range(g.filter_h - 1, -1, -1):
        source = image + (oh * g.stride + i) * g.width
        for j in range(g.filter_w - 1, -1, -1):
            index = <int>(i * g.filter_w + j)
            for ow in range(g.out_w):
                arg_row[ow] = arg_row[ow] + (index - arg_row[ow]) * <int>(source[ow * g.stride + j] == out_row[ow])
    return nan_seen


cdef inline bint _max_pool_row_2x2(const floating* image, floating* out_row,
                                   int* arg_row, Py_ssize_t oh, Geometry g) noexcept nogil:
    """The book's pooling (2x2 windows, stride 2, no padding), vectorised.

    With random data a branch per comparison mispredicts half the time, so
    the loop is kept free of branches for gcc to vectorise: the maximum by
    `v > m ? v : m`, the index as the first element equal to it by integer
    arithmetic on the comparisons (equal values keep the first, as np.argmax
    does).  NaN is not handled here: the row's NaN flag is returned and the
    caller redoes such a row with the general code (NaN propagates, and the
    first NaN is the argmax, as in np.max and np.argmax)."""
    cdef Py_ssize_t ow
    cdef const floating* top = image + (2 * oh) * g.width
    cdef const floating* bottom = top + g.width
    cdef floating a, b, c, d, m
    cdef int index, nan_seen = 0
    for ow in range(g.out_w):
        a = top[2 * ow]
        b = top[2 * ow + 1]
        c = bottom[2 * ow]
        d = bottom[2 * ow + 1]
        m = b if b > a else a
        m = c if c > m else m
        m = d if d > m else m
        index = 3 - <int>(c == m)
        index = index - (index - 1) * <int>(b == m)
        index = index * <int>(a != m)
        nan_seen = nan_seen | <int>(a != a) | <int>(b != b) | <int>(c != c) | <int>(d != d)
        out_row[ow] = m
        arg_row[ow] = index
    return nan_seen


cdef inline void _max_pool_row_padded(const floating* image, floating* out_row,
                                      int* arg_row, Py_ssize_t oh, Geometry g) noexcept nogil:
    """One output row with zero padding: positions outside the image read 0,
    as in the book's im2col."""
    cdef Py_ssize_t i, j, ow, iy, ix
    cdef floating value, best
    cdef bint take
    cdef int index
    for ow in range(g.out_w):
        best = 0
        index = 0
        for i in range(g.filter_h):
            iy = oh * g.stride + i - g.pad
            for j in range(g.filter_w):
                ix = ow * g.stride + j - g.pad
                if iy >= 0 and iy < g.height and ix >= 0 and ix < g.width:
                    value = image[iy * g.width + ix]
                else:
                    value = 0
                take = (i == 0 and j == 0) or value > best or (value != value and best == best)
                if take:
                    best = value
                    index = <int>(i * g.filter_w + j)
        out_row[ow] = best
        arg_row[ow] = index


cdef void _max_pool_planes(const floating* x, floating* out, int* arg_max,
                           Py_ssize_t start, Py_ssize_t stop,
                           Geometry g) noexcept nogil:
    """Planes [start, stop) of the N*C planes."""
    cdef Py_ssize_t plane, oh
    cdef Py_ssize_t plane_in = g.height * g.width, plane_out = g.out_h * g.out_w
    for plane in range(start, stop):
        for oh in range(g.out_h):
            if g.pad == 0 and g.stride == 2 and g.filter_h == 2 and g.filter_w == 2:
                if _max_pool_row_2x2(x + plane * plane_in, out + plane * plane_out + oh * g.out_w,
                                     arg_max + plane * plane_out + oh * g.out_w, oh, g):
                    _max_pool_row_padded(x + plane * plane_in, out + plane * plane_out + oh * g.out_w,
                                         arg_max + plane * plane_out + oh * g.out_w, oh, g)
            elif g.pad == 0:
                if _max_pool_row_inside(x + plane * plane_in, out + plane * plane_out + oh * g.out_w,
                                        arg_max + plane * plane_out + oh * g.out_w, oh, g):
                    _max_pool_row_padded(x + plane * plane_in, out + plane * plane_out + oh * g.out_w,
                                         arg_max + plane * plane_out + oh * g.out_w, oh, g)
            else:
                _max_pool_row_padded(x + plane * plane_in, out + plane * plane_out + oh * g.out_w,
                                     arg_max + plane * plane_out + oh * g.out_w, oh, g)


cdef inline void _max_pool_backward_row_2x2(const floating* d_row, const int* a_row,
                                            floating* row, Py_ssize_t out_w,
                                            int first) noexcept nogil:
    """One image row under a row of windows of the book's pooling (2x2,
    stride 2, no padding): the top row (first = 0, window indices 0 and 1)
    or the bottom row (first = 2).  The windows do not overlap, so every
    pixel receives at most one value and is written once, ``0 + d`` or 0:
    exactly the book's col2im, which adds into zeros (-0.0 -> 0.0).  One row
    per loop, with selects, is what gcc vectorises (both rows in one loop,
    or a select per window index, stayed scalar with a branch per pixel)."""
    cdef Py_ssize_t ow
    cdef floating d, zero = 0
    cdef int a
    for ow in range(out_w):
        d = d_row[ow]
        a = a_row[ow]
        row[2 * ow] = zero + (d if a == first else zero)
        row[2 * ow + 1] = zero + (d if a == first + 1 else zero)


cdef inline void _max_pool_backward_plane_2x2(const floating* dout, const int* arg_max,
                                              floating* image, Geometry g) noexcept nogil:
    """One plane of the book's pooling, row of windows by row of windows;
    rows and columns no window covers (odd sizes) are zero."""
    cdef Py_ssize_t oh, k
    cdef floating* top
    cdef floating* bottom
    for oh in range(g.out_h):
        top = image + (2 * oh) * g.width
        bottom = top + g.width
        _max_pool_backward_row_2x2(dout + oh * g.out_w, arg_max + oh * g.out_w, top, g.out_w, 0)
        _max_pool_backward_row_2x2(dout + oh * g.out_w, arg_max + oh * g.out_w, bottom, g.out_w, 2)
        for k in range(2 * g.out_w, g.width):
            top[k] = 0
            bottom[k] = 0
    for k in range(2 * g.out_h * g.width, g.height * g.width):
        image[k] = 0


cdef void _max_pool_backward_planes(const floating* dout, const int* arg_max,
                                    floating* dx, Py_ssize_t start, Py_ssize_t stop,
                                    Geometry g) noexcept nogil:
    cdef Py_ssize_t plane, oh, ow, iy, ix, k, o
    cdef Py_ssize_t plane_in = g.height * g.width, plane_out = g.out_h * g.out_w
    cdef floating* image
    if g.pad == 0 and g.stride == 2 and g.filter_h == 2 and g.filter_w == 2:
        for plane in range(start, stop):
            _max_pool_backward_plane_2x2(dout + plane * plane_out, arg_max + plane * plane_out,
                                         dx + plane * plane_in, g)
        return
    for plane in range(start, stop):
        image = dx + plane * plane_in
        for k in range(plane_in):
            image[k] = 0
        for oh in range(g.out_h):
            for ow in range(g.out_w):
                o = plane * plane_out + oh * g.out_w + ow
                k = arg_max[o]
                iy = oh * g.stride + k // g.filter_w - g.pad
                ix = ow * g.stride + k % g.filter_w - g.pad
                if iy >= 0 and iy < g.height and ix >= 0 and ix < g.width:
                    image[iy * g.width + ix] = image[iy * g.width + ix] + dout[o]


include "_cpu_convolution_table.pxi"  # the table of the kernels above (src/_table.pxi.tp)
