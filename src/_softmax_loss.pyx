# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Softmax with cross-entropy loss: forward and backward.

What they compute, for x of shape (N, C) and class indices t of shape (N,):
    forward   y[i] = softmax(x[i]) = e * (1 / sum(e)),  e = exp(x[i] - max(x[i]))
              losses[i] = -log(y[i, t[i]] + eps)             when eps != 0
              losses[i] = logsumexp(x[i]) - x[i, t[i]]       when eps == 0
              returns sum(losses), added serially in row order
    backward  dx[i, j] = (y[i, j] - [j == t[i]]) * scale,  scale = dout / N
Each row is handled in one fused sweep kept in cache: max and min, exp
(written to y), sum, normalise, then the row's loss; memory sees one read
of x and one write of y.  The extremes and the sum run in interleaved
partial results so that they vectorise (see _row_sum and extremes in _common.pxd); the sum is formed in
double.  A row whose spread (max - min) keeps every exp(x - max) a normal
number takes zk_exp_moderate, the same bits with fewer operations (see
_exp.h); any other row (a wider spread, an infinity, nothing but NaN) the
general zk_exp.  A row with a NaN (or inf - inf) is written as NaN, one
NaN bit pattern whatever the build.  eps == 0 never forms log(y), so it is exact and cannot overflow
or take log(0) for huge logits.

What the caller guarantees (zk_layers/layers.py): x, y, dx are C-contiguous
(N, C) arrays of one dtype with N >= 1 and C >= 1, losses has N elements,
and every label satisfies 0 <= t[i] < C (first_invalid_label checks it
before any kernel runs).  No bounds are checked here.

Parallelisation: rows are cut into n_threads contiguous chunks with a static
schedule.  Each row is computed entirely by one thread in a fixed order; the
per-row losses go to `losses` and their total is formed after the parallel
region, serially, so the loss and y are bitwise identical for every thread
count.  Small one-thread work runs inline without a parallel region.

One-call entry points (softmax_cross_entropy_forward_call, ..._backward_call)
take the layer's objects, check in C that the common case applies (a
C-contiguous float32/float64 (N, C) x; labels as C-contiguous intp/int32
indices of shape (N,) or (N, 1), or exact one-hot rows of x's dtype),
copy the labels into the layer's own intp array while checking their range,
allocate y and run the same kernels.  Anything else -- including a bad
label, which the general path then reports -- returns None.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsDouble
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport NAN, log
from libc.stdlib cimport free, malloc

from _common cimport (GIL_RELEASE_MIN_ITEMS, chunk_start, exp_general,
                      exp_moderate, extremes, is_kernel_array,
                      kernel_float_type, moderate_limit, same_shape,
                      threads_for_items)

from zk_layers._platform import threads_for as _threads_for  # the compiled policy


cdef extern from "Python.h":
    # On raw pointers: converting to `object` would add a reference.
    Py_ssize_t Py_REFCNT(PyObject* o)
    PyObject* _tuple_item "PyTuple_GET_ITEM"(PyObject* o, Py_ssize_t i)

cnp.import_array()


# Row sums are reductions; without -ffast-math a compiler must add in the
# written order and cannot vectorise them.  So each is written as LANES
# independent partial sums (element j goes to lane j % LANES), which the
# compiler packs into vector registers without changing a single operation,
# combined in a fixed order at the end: the same bits on every CPU, vector
# width and thread count.  (The row's extremes: extremes() in _common.pxd.)
cdef enum:
    LANES = 8


cdef inline double _row_sum(const floating* row, Py_ssize_t n) noexcept nogil:
    """Sum in double precision, in LANES interleaved partial sums."""
    cdef double lane_sum[LANES]
    cdef double result = 0.0
    cdef Py_ssize_t j, k, block, full = n - n % LANES
    for k in range(LANES):
        lane_sum[k] = 0.0
    for block in range(full // LANES):
        j = block * LANES
        for k in range(LANES):
            lane_sum[k] += row[j + k]
    for k in range(LANES):
        result += lane_sum[k]
    for j in range(full, n):
        result += row[j]
    return result


cdef inline void _softmax_cross_entropy_rows(
        const floating* x, const Py_ssize_t* t, floating* y, double* losses,
        Py_ssize_t n_classes, double eps, Py_ssize_t start,
        Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* row
    cdef floating* y_row
    cdef floating row_max, row_min, inverse
    cdef double total
    for i in range(start, stop):
        row = x + i * n_classes
        y_row = y + i * n_classes
        # A NaN anywhere makes the whole row NaN below, as in NumPy:
        # exp(NaN - row_max) makes the total NaN.
        row_max = extremes(row, n_classes, &row_min)
        # Every row[j] - row_max (NaN aside) lies in [-(max - min), 0].
        # Within the range where exp gives normal numbers, the moderate
        # exponential (the same bits, fewer operations) does, NaN elements
        # included (NaN out, the same bits); a wider spread, an infinity or
        # a row of nothing but NaN (max < min) takes the general one.
        if row_max >= row_min and row_max - row_min <= moderate_limit(row_max):
            for j in range(n_classes):
                y_row[j] = exp_moderate(row[j] - row_max)
        else:
            for j in range(n_classes):
                y_row[j] = exp_general(row[j] - row_max)
        total = _row_sum(y_row, n_classes)
        if total != total:
            # A NaN in the row, or inf - inf: the whole row is NaN, as in
            # NumPy.  Written as one NaN (NumPy's np.nan), because which of
            # two different NaNs an addition passes on depends on the
            # operand order the compiler chose, which differs between the
            # builds.
            for j in range(n_classes):
                y_row[j] = NAN
            losses[i] = NAN
            continue
        # One division per row, then multiplications: within an ulp of
        # exp / total (our exp is itself within an ulp of libm's), and the
        # same for every thread count.
        inverse = <floating>(1.0 / total)
        for j in range(n_classes):
            y_row[j] = y_row[j] * inverse
        if eps != 0.0:
            # y + eps rounded in y's dtype, as NumPy rounds it in the book's
            # formula (for float32, 1 + 1e-7 is 1.0000001192...).
            losses[i] = -log(<double>(y_row[t[i]] + <floating>eps))
        else:
            # Both terms >= 0, so nothing cancels; (log(total) + row_max)
            # - row[t] lost log(total) next to logits of 1e17.
            losses[i] = log(total) + (row_max - row[t[i]])


cdef inline void _softmax_cross_entropy_backward_rows(
        const floating* y, const Py_ssize_t* t, floating scale, floating* dx,
        Py_ssize_t n_classes, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i, j, base
    cdef floating one = 1  # typed, so float32 stays float32 (as in NumPy)
    for i in range(start, stop):
        base = i * n_classes
        for j in range(base, base + n_classes):
            dx[j] = y[j] * scale
        # (y - 1) first, then the scale: the same rounding as the reference.
        dx[base + t[i]] = (y[base + t[i]] - one) * scale


cdef inline double _forward_run(const floating* x, const Py_ssize_t* t,
                                floating* y, double* losses, Py_ssize_t n,
                                Py_ssize_t n_classes, double eps,
                                int n_threads) noexcept:
    """Fill y and losses (n >= 1 rows); return the sum of the losses."""
    cdef Py_ssize_t c, i
    cdef double total = 0.0
    if n_threads <= 1 and n * n_classes < GIL_RELEASE_MIN_ITEMS:
        _softmax_cross_entropy_rows(x, t, y, losses, n_classes, eps, 0, n)
    else:
        with nogil:
            for c in prange(n_threads, schedule="static",
                            num_threads=n_threads):
                _softmax_cross_entropy_rows(x, t, y, losses, n_classes, eps,
                                            chunk_start(c, n_threads, n),
                                            chunk_start(c + 1, n_threads, n))
    # Serial, in row order: the total does not depend on the thread count.
    for i in range(n):
        total += losses[i]
    return total


cdef inline void _backward_run(const floating* y, const Py_ssize_t* t,
                               floating scale, floating* dx, Py_ssize_t n,
                               Py_ssize_t n_classes, int n_threads) noexcept:
    cdef Py_ssize_t c
    if n_threads <= 1 and n * n_classes < GIL_RELEASE_MIN_ITEMS:
        _softmax_cross_entropy_backward_rows(y, t, scale, dx, n_classes, 0, n)
        return
    with nogil:
        for c in prange(n_threads, schedule="static", num_threads=n_threads):
            _softmax_cross_entropy_backward_rows(
                y, t, scale, dx, n_classes, chunk_start(c, n_threads, n),
                chunk_start(c + 1, n_threads, n))


def softmax_cross_entropy_forward(const floating[:, ::1] x,
                                  const Py_ssize_t[::1] t,
                                  floating[:, ::1] y, double[::1] losses,
                                  double eps, int n_threads):
    """Fill y and losses; return the sum of the per-sample losses."""
    if x.shape[0] == 0:
        return 0.0
    return _forward_run(&x[0, 0], &t[0], &y[0, 0], &losses[0], x.shape[0],
                        x.shape[1], eps, n_threads)


def softmax_cross_entropy_backward(const floating[:, ::1] y,
                                   const Py_ssize_t[::1] t, double scale,
                                   floating[:, ::1] dx, int n_threads):
    """Fill dx with (y - onehot(t)) * scale."""
    if y.shape[0]:
        _backward_run(&y[0, 0], &t[0], <floating>scale, &dx[0, 0], y.shape[0],
                      y.shape[1], n_threads)


def first_invalid_label(const Py_ssize_t[::1] t, Py_ssize_t n_classes):
    """Index of the first label outside [0, n_classes), or -1 if none is.

    A validation helper for the Python wrapper: the kernels above index rows
    with these labels and must never see one out of range.
    """
    cdef Py_ssize_t i
    for i in range(t.shape[0]):
        if t[i] < 0 or t[i] >= n_classes:
            return i
    return -1


# ------------------------------------------------- one-call entry points
cdef inline bint _copy_indices(cnp.ndarray t, Py_ssize_t* labels,
                               Py_ssize_t n, Py_ssize_t n_classes) noexcept:
    """Copy class indices (intp or int32, C-contiguous, n of them) into
    labels; False at the first one out of [0, n_classes)."""
    cdef Py_ssize_t i, label
    cdef const Py_ssize_t* wide
    cdef const int* narrow
    if cnp.PyArray_TYPE(t) == cnp.NPY_INTP:
        wide = <const Py_ssize_t*>cnp.PyArray_DATA(t)
        for i in range(n):
            label = wide[i]
            if label < 0 or label >= n_classes:
                return False
            labels[i] = label
    else:
        narrow = <const int*>cnp.PyArray_DATA(t)
        for i in range(n):
            label = narrow[i]
            if label < 0 or label >= n_classes:
                return False
            labels[i] = label
    return True


cdef inline bint _one_hot_indices(const floating* t, Py_ssize_t* labels,
                                  Py_ssize_t n, Py_ssize_t n_classes) noexcept:
    """The column of the single 1 of each row of t into labels; False if a
    row is not exactly one 1 and zeros elsewhere (the general path then
    raises the documented error)."""
    cdef Py_ssize_t i, j, hot
    cdef const floating* row
    for i in range(n):
        row = t + i * n_classes
        hot = -1
        for j in range(n_classes):
            if row[j] == 1:
                if hot >= 0:
                    return False
                hot = j
            elif row[j] != 0:
                return False
        if hot < 0:
            return False
        labels[i] = hot
    return True


cdef inline bint _reusable(object candidate, int typenum, cnp.ndarray x) noexcept:
    """``candidate`` can take this call's y: an exact, writeable,
    C-contiguous ndarray of x's dtype and shape that owns its data, and whose
    memory does not overlap x's."""
    if candidate is None or not is_kernel_array(candidate, typenum):
        return False
    cdef cnp.ndarray c = <cnp.ndarray>candidate
    if not (cnp.PyArray_ISWRITEABLE(c) and cnp.PyArray_CHKFLAGS(c, cnp.NPY_ARRAY_OWNDATA)
            and same_shape(c, x)):
        return False
    cdef char* c_start = <char*>cnp.PyArray_DATA(c)
    cdef char* x_start = <char*>cnp.PyArray_DATA(x)
    cdef Py_ssize_t size = cnp.PyArray_NBYTES(x)
    return c_start + size <= x_start or x_start + size <= c_start


cdef object _take_saved_y(object layer, int typenum, cnp.ndarray x):
    """The y of the layer's last forward, taken out of the layer for this
    call to write over; or None.

    Taken only when the layer holds its only references: its attribute
    ``y`` and both slots of its ``_y2d``, a tuple that nothing else holds
    (what the common case saves), and when it fits (_reusable).  A caller
    who kept ``layer.y``, a view of it or the tuple adds a reference, and
    then y is left alone.  Taking it sets ``layer.y`` to None and
    ``layer._y2d`` to (None, None), so that a forward interrupted between
    this kernel and the layer's saving of t and the labels leaves backward
    raising instead of pairing the new y with the old labels.  Attributes,
    not ``layer.__dict__``: on CPython 3.11+ asking for an instance's
    __dict__ slows every later attribute access of that instance.
    """
    if layer is None:
        return None
    cdef object pair = getattr(layer, "_y2d", None)
    if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
        return None
    cdef object y = getattr(layer, "y", None)
    cdef PyObject* y_ptr = <PyObject*>y
    cdef PyObject* pair_ptr = <PyObject*>pair
    if _tuple_item(pair_ptr, 0) != y_ptr or _tuple_item(pair_ptr, 1) != y_ptr:
        return None
    # Ours (the locals `pair` and `y`) plus the layer's: the attribute _y2d;
    # the attribute y and the tuple's two slots.
    if Py_REFCNT(pair_ptr) != 2 or Py_REFCNT(y_ptr) != 4:
        return None
    if not _reusable(y, typenum, x):
        return None
    layer.y = None
    layer._y2d = (None, None)
    return y


def softmax_cross_entropy_forward_call(object x, object t, double eps,
                                       Py_ssize_t grain, object layer=None):
    """SoftmaxWithLoss.forward's common case: ``(loss, y, labels)``, the
    loss the mean over the rows (the serial total divided by N), labels the
    layer's own intp copy of the class indices; or None.  ``layer``: y is
    written over the y of its last forward when the layer holds it alone and
    it fits (see _take_saved_y), else y is a new array.  A call that returns
    None has changed nothing."""
    cdef int typenum = kernel_float_type(x)
    if typenum < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    if cnp.PyArray_NDIM(xa) != 2:
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(xa)
    cdef Py_ssize_t n = dims[0], n_classes = dims[1]
    if n < 1 or n_classes < 1 or not cnp.PyArray_CheckExact(t):
        return None
    cdef cnp.ndarray ta = <cnp.ndarray>t
    cdef int t_nd = cnp.PyArray_NDIM(ta)
    cdef cnp.npy_intp* t_dims = cnp.PyArray_DIMS(ta)
    cdef cnp.ndarray labels = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INTP, 0)
    cdef Py_ssize_t* label_data = <Py_ssize_t*>cnp.PyArray_DATA(labels)
    if t_nd == 2 and t_dims[0] == n and t_dims[1] == n_classes:
        # One-hot rows (an (N, 1) array with C == 1 is one-hot, as in
        # class_indices), of x's own dtype.
        if not is_kernel_array(t, typenum):
            return None
        if typenum == cnp.NPY_DOUBLE:
            if not _one_hot_indices(<const double*>cnp.PyArray_DATA(ta),
                                    label_data, n, n_classes):
                return None
        elif not _one_hot_indices(<const float*>cnp.PyArray_DATA(ta),
                                  label_data, n, n_classes):
            return None
    elif (t_nd == 1 and t_dims[0] == n) or (t_nd == 2 and t_dims[0] == n
                                            and t_dims[1] == 1):
        if not (is_kernel_array(t, cnp.NPY_INTP)
                or is_kernel_array(t, cnp.NPY_INT32)):
            return None
        if not _copy_indices(ta, label_data, n, n_classes):
            return None
    else:
        return None
    # Decided before y is taken from the layer: it may call into Python and
    # raise.
    cdef int n_threads = threads_for_items(n * n_classes, grain, _threads_for)
    cdef object saved = _take_saved_y(layer, typenum, xa)
    cdef cnp.ndarray y
    if saved is not None:
        y = <cnp.ndarray>saved
    else:
        y = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    # Nothing between the malloc below and its free may raise.
    # The per-row losses are a scratch of ours: malloc, not an ndarray
    # (a NumPy allocation is a tenth of the whole call at N = 1).
    cdef double* losses = <double*>malloc(n * sizeof(double))
    if losses == NULL:
        raise MemoryError()
    cdef double total
    if typenum == cnp.NPY_DOUBLE:
        total = _forward_run(<const double*>cnp.PyArray_DATA(xa), label_data,
                             <double*>cnp.PyArray_DATA(y), losses, n, n_classes,
                             eps, n_threads)
    else:
        total = _forward_run(<const float*>cnp.PyArray_DATA(xa), label_data,
                             <float*>cnp.PyArray_DATA(y), losses, n, n_classes,
                             eps, n_threads)
    free(losses)
    return total / n, y, labels


def softmax_cross_entropy_backward_call(object y, object labels, object dout,
                                        object y_shape, Py_ssize_t grain):
    """SoftmaxWithLoss.backward's common case: dx = (y - onehot) * dout / N
    for a C-contiguous float (N, C) ``y``, the layer's own labels (an intp
    array of N indices that forward checked against the last element of
    ``y_shape``, the shape of forward's y; y must have that many columns)
    and a Python int or float ``dout``; else None."""
    cdef double scale
    cdef Py_ssize_t n_classes_checked
    if type(dout) is float:
        scale = PyFloat_AS_DOUBLE(dout)
    elif type(dout) is int:
        try:
            scale = PyLong_AsDouble(dout)
        except OverflowError:  # too large: the general path reports it
            return None
    else:
        return None
    if type(y_shape) is not tuple or PyTuple_GET_SIZE(y_shape) != 2:
        return None
    n_classes_checked = <Py_ssize_t>(<object>PyTuple_GET_ITEM(y_shape, 1))
    cdef int typenum = kernel_float_type(y)
    if typenum < 0 or not is_kernel_array(labels, cnp.NPY_INTP):
        return None
    cdef cnp.ndarray ya = <cnp.ndarray>y
    cdef cnp.ndarray la = <cnp.ndarray>labels
    if cnp.PyArray_NDIM(ya) != 2 or cnp.PyArray_NDIM(la) != 1:
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(ya)
    cdef Py_ssize_t n = dims[0], n_classes = dims[1]
    if n < 1 or cnp.PyArray_DIMS(la)[0] != n or n_classes != n_classes_checked:
        return None
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    cdef int n_threads = threads_for_items(n * n_classes, grain, _threads_for)
    if typenum == cnp.NPY_DOUBLE:
        _backward_run(<const double*>cnp.PyArray_DATA(ya),
                      <const Py_ssize_t*>cnp.PyArray_DATA(la),
                      <double>(scale / n), <double*>cnp.PyArray_DATA(dx), n,
                      n_classes, n_threads)
    else:
        _backward_run(<const float*>cnp.PyArray_DATA(ya),
                      <const Py_ssize_t*>cnp.PyArray_DATA(la),
                      <float>(scale / n), <float*>cnp.PyArray_DATA(dx), n,
                      n_classes, n_threads)
    return dx
