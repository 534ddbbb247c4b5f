# The typed tables between the glue and the kernels, as PyTorch's
# DispatchStub: each per-ISA kernel module (src/_cpu_*.pyx, built once per
# instruction set) fills one struct of function pointers and exports it as a
# PyCapsule named in CAPSULE_*; zk_layers/_kernels.py picks the best build
# at import and hands its capsules to the glue (bind()), which is compiled
# once and calls the kernels only through these pointers.
#
# A kernel computes elements [start, stop) of its work: it holds no Python
# object, allocates nothing and knows nothing of threads; the glue splits
# the work between threads (chunk_start) and calls it once per piece.

# --------------------------------------------------------------- policy
# What the glue asks the thread policy (src/_platform.pyx): threads for
# n_items of work of one grain.  The grain is named by kind, bound where
# each kernel is called, and read from zk_layers.GRAINS at the call.
cdef enum GrainKind:
    GRAIN_ELEMENTWISE = 0  # Relu, bias add/gradient, SGD
    GRAIN_EXP = 1          # Sigmoid forward: one exp per element
    GRAIN_ROWWISE = 2      # the softmax loss: max, exp, sum per row
    GRAIN_UPDATE = 3       # AdaGrad, RMSprop, Adam

ctypedef struct Policy:
    Py_ssize_t (*threads_for)(Py_ssize_t n_items, int grain) except -1


# --------------------------------------- src/_cpu_activations.pyx: Relu, Sigmoid
ctypedef struct ActivationKernels:
    # mask = x <= 0; out = 0 where mask else x
    void (*relu_forward_f32)(const float* x, float* out, unsigned char* mask,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*relu_forward_f64)(const double* x, double* out, unsigned char* mask,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # dx = 0 where mask else dout
    void (*relu_backward_f32)(const float* dout, const unsigned char* mask, float* dx,
                              Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*relu_backward_f64)(const double* dout, const unsigned char* mask, double* dx,
                              Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # out = 1 / (1 + exp(-x)); kept, unless NULL, a second copy of out
    void (*sigmoid_forward_f32)(const float* x, float* out, float* kept,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*sigmoid_forward_f64)(const double* x, double* out, double* kept,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # dx = dout * (1 - out) * out
    void (*sigmoid_backward_f32)(const float* dout, const float* out, float* dx,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*sigmoid_backward_f64)(const double* dout, const double* out, double* dx,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil


# -------------------------------------------- src/_cpu_affine.pyx: around the products
ctypedef struct AffineKernels:
    # rows [start, stop) of the (n, n_columns) out: out[i, :] += b
    void (*bias_add_f32)(float* out, const float* b, Py_ssize_t n_columns,
                         Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*bias_add_f64)(double* out, const double* b, Py_ssize_t n_columns,
                         Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # columns [start, stop): db[j] = sum over the n_rows rows of dout[i, j],
    # added in row order
    void (*bias_gradient_f32)(const float* dout, float* db, Py_ssize_t n_rows,
                              Py_ssize_t n_columns, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    void (*bias_gradient_f64)(const double* dout, double* db, Py_ssize_t n_rows,
                              Py_ssize_t n_columns, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    # rows [start, stop) of the outer product: out[i, :] = 0 + x[i] * d,
    # x[i] at byte offset i * x_stride
    void (*outer_f32)(const char* x, Py_ssize_t x_stride, const float* d,
                      float* out, Py_ssize_t n_columns, Py_ssize_t start,
                      Py_ssize_t stop) noexcept nogil
    void (*outer_f64)(const char* x, Py_ssize_t x_stride, const double* d,
                      double* out, Py_ssize_t n_columns, Py_ssize_t start,
                      Py_ssize_t stop) noexcept nogil


# ---------------------------------- src/_cpu_softmax_loss.pyx: SoftmaxWithLoss
ctypedef struct SoftmaxLossKernels:
    # rows [start, stop) of the (n, n_classes) x: y[i] = softmax(x[i]) and
    # losses[i] = -log(y[i, t[i]] + eps), or logsumexp(x[i]) - x[i, t[i]]
    # when eps == 0; every t[i] in [0, n_classes)
    void (*forward_f32)(const float* x, const Py_ssize_t* t, float* y, double* losses,
                        Py_ssize_t n_classes, double eps, Py_ssize_t start,
                        Py_ssize_t stop) noexcept nogil
    void (*forward_f64)(const double* x, const Py_ssize_t* t, double* y, double* losses,
                        Py_ssize_t n_classes, double eps, Py_ssize_t start,
                        Py_ssize_t stop) noexcept nogil
    # rows [start, stop): dx[i, j] = (y[i, j] - [j == t[i]]) * scale
    void (*backward_f32)(const float* y, const Py_ssize_t* t, float scale, float* dx,
                         Py_ssize_t n_classes, Py_ssize_t start,
                         Py_ssize_t stop) noexcept nogil
    void (*backward_f64)(const double* y, const Py_ssize_t* t, double scale, double* dx,
                         Py_ssize_t n_classes, Py_ssize_t start,
                         Py_ssize_t stop) noexcept nogil


# ---------------------------------------------- src/_cpu_update.pyx: the optimizers
# One signature for the six: the parameter, its gradient, up to two state
# arrays and four coefficients (Python floats, rounded to the array's dtype
# inside, as NumPy rounds a Python float against an array), elements
# [start, stop).  Indexed by UpdateKind.
cdef enum:  # UpdateKind
    UPDATE_SGD = 0       # c: lr
    UPDATE_MOMENTUM = 1  # s1 = v; c: momentum, lr
    UPDATE_NESTEROV = 2  # s1 = v; c: momentum, lr
    UPDATE_ADAGRAD = 3   # s1 = h; c: lr, eps
    UPDATE_RMSPROP = 4   # s1 = h; c: lr, decay_rate, eps
    UPDATE_ADAM = 5      # s1 = m, s2 = v; c: lr_t, beta1, beta2, eps
    UPDATE_KINDS = 6

ctypedef void (*update_f32)(float* param, const float* grad, float* s1, float* s2,
                            const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
ctypedef void (*update_f64)(double* param, const double* grad, double* s1, double* s2,
                            const double* c, Py_ssize_t start, Py_ssize_t stop) noexcept nogil

ctypedef struct UpdateKernels:
    update_f32 f32[UPDATE_KINDS]
    update_f64 f64[UPDATE_KINDS]


# ------------- src/_cpu_regularization.pyx: BatchNormalization and Dropout
# Batch normalisation works on columns [c0, c1) of (n, d) arrays, each
# column, its sums included, over all rows in row order; Dropout on
# elements [start, stop).
ctypedef struct RegularizationKernels:
    # mu, var, std: per column; xc = x - mu, xn = xc / std, out = gamma*xn + beta
    void (*bn_train_f32)(const float* x, const float* gamma, const float* beta, float* xc,
                         float* xn, float* out, float* mu, float* var, float* std,
                         Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    void (*bn_train_f64)(const double* x, const double* gamma, const double* beta, double* xc,
                         double* xn, double* out, double* mu, double* var, double* std,
                         Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    # out = gamma * ((x - running_mean) / denom) + beta
    void (*bn_test_f32)(const float* x, const float* running_mean, const float* denom,
                        const float* gamma, const float* beta, float* out,
                        Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    void (*bn_test_f64)(const double* x, const double* running_mean, const double* denom,
                        const double* gamma, const double* beta, double* out,
                        Py_ssize_t n, Py_ssize_t d, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    # dx, dgamma, dbeta; dvar and dmu are per-column scratch
    void (*bn_backward_f32)(const float* dout, const float* xc, const float* xn,
                            const float* gamma, const float* std, float* dx, float* dgamma,
                            float* dbeta, float* dvar, float* dmu, Py_ssize_t n, Py_ssize_t d,
                            Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    void (*bn_backward_f64)(const double* dout, const double* xc, const double* xn,
                            const double* gamma, const double* std, double* dx, double* dgamma,
                            double* dbeta, double* dvar, double* dmu, Py_ssize_t n, Py_ssize_t d,
                            Py_ssize_t c0, Py_ssize_t c1) noexcept nogil
    # mask = r > ratio; out = x * mask
    void (*dropout_train_f32)(const float* x, const double* r, double ratio, unsigned char* mask,
                              float* out, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*dropout_train_f64)(const double* x, const double* r, double ratio, unsigned char* mask,
                              double* out, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # out = x * scale
    void (*scale_f32)(const float* x, float scale, float* out,
                      Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*scale_f64)(const double* x, double scale, double* out,
                      Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # dx = dout * mask
    void (*dropout_backward_f32)(const float* dout, const unsigned char* mask, float* dx,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*dropout_backward_f64)(const double* dout, const unsigned char* mask, double* dx,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil


# ------------------------- src/_cpu_embedding.pyx: Embedding's gather and scatter-add
ctypedef struct EmbeddingKernels:
    # rows [start, stop) of out (n, d): out[i, :] = W[idx[i], :], every idx[i] in [0, V)
    void (*gather_f32)(const float* W, const Py_ssize_t* idx, float* out, Py_ssize_t d,
                       Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*gather_f64)(const double* W, const Py_ssize_t* idx, double* out, Py_ssize_t d,
                       Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # rows [start, stop) of dW (V, d): zeroed, then dW[idx[k], :] += dout[k, :] for k = 0 .. n-1
    # in order, for the idx[k] in the range
    void (*scatter_add_f32)(const float* dout, const Py_ssize_t* idx, float* dW, Py_ssize_t n,
                            Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*scatter_add_f64)(const double* dout, const Py_ssize_t* idx, double* dW, Py_ssize_t n,
                            Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # the same for a dW that is zero outside the rows old[0:n_old]: in rows
    # [start, stop), those and the rows of idx zeroed, then the rows of dout
    # (float64 ones into a float32 dW when widened) added in order
    void (*scatter_add_kept_f32)(const void* dout, bint widened, const Py_ssize_t* idx, float* dW,
                                 Py_ssize_t n, Py_ssize_t d, const Py_ssize_t* old, Py_ssize_t n_old,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*scatter_add_kept_f64)(const void* dout, bint widened, const Py_ssize_t* idx, double* dW,
                                 Py_ssize_t n, Py_ssize_t d, const Py_ssize_t* old, Py_ssize_t n_old,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # the same for float64 dout into float32 dW: each sum in float64, rounded once
    void (*scatter_add_widened)(const double* dout, const Py_ssize_t* idx, float* dW, Py_ssize_t n,
                                Py_ssize_t d, Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # the leaf sums of NumPy's pairwise sum of w (v,): at most v // 64 + 1 of them
    void (*unigram_leaves)(const double* w, Py_ssize_t v, double* leaves) noexcept nogil
    # rows [start, stop) of cdf (rows, v): for word weights w, p = w with
    # p[target[r]] = 0, sums[r] = p.sum() (NumPy's pairwise order, from w's
    # leaves), p = w / sums[r] with p[target[r]] = 0, cdf[r] = cumsum(p)
    void (*unigram_cdf)(const double* w, const Py_ssize_t* target, const double* leaves,
                        double* cdf, double* sums, Py_ssize_t v, Py_ssize_t start,
                        Py_ssize_t stop) noexcept nogil
    # one row's cumsum again with the words found[0:n_found] zeroed too
    void (*unigram_cdf_without)(const double* w, Py_ssize_t target, double s,
                                const Py_ssize_t* found, Py_ssize_t n_found, double* cdf,
                                Py_ssize_t v) noexcept nogil


# ---------------- src/_cpu_convolution.pyx: im2col, col2im, bias, max pooling
# x is a batch of images (N, C, H, W); a window is filter_h x filter_w,
# placed with `stride` and `pad` zeros on every side, out_h x out_w times.
# The kernels work on images [start, stop) (pooling: the N*C planes, with
# channels = 1), or for the bias gradient on filters [start, stop).
cdef struct Geometry:
    Py_ssize_t channels, height, width
    Py_ssize_t filter_h, filter_w, stride, pad
    Py_ssize_t out_h, out_w

ctypedef struct ConvolutionKernels:
    # col (N, K, P) if transposed else (N*P, K): the patches of images [start, stop)
    void (*im2col_f32)(const float* x, float* col, bint transposed, Py_ssize_t start,
                       Py_ssize_t stop, Geometry g) noexcept nogil
    void (*im2col_f64)(const double* x, double* col, bint transposed, Py_ssize_t start,
                       Py_ssize_t stop, Geometry g) noexcept nogil
    # float32 images into float64 patches: the conversion rides along
    void (*im2col_widened)(const float* x, double* col, bint transposed, Py_ssize_t start,
                           Py_ssize_t stop, Geometry g) noexcept nogil
    # dx of images [start, stop): zeroed, then every in-image patch entry added
    # to its pixel in filter order
    void (*col2im_f32)(const float* col, float* dx, bint transposed, Py_ssize_t start,
                       Py_ssize_t stop, Geometry g) noexcept nogil
    void (*col2im_f64)(const double* col, double* dx, bint transposed, Py_ssize_t start,
                       Py_ssize_t stop, Geometry g) noexcept nogil
    # out[n, f, :] += b[f] for images [start, stop) of out (N, FN, P)
    void (*bias_add_f32)(float* out, const float* b, Py_ssize_t n_filters, Py_ssize_t positions,
                         Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void (*bias_add_f64)(double* out, const double* b, Py_ssize_t n_filters, Py_ssize_t positions,
                         Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    # db[f] = sum over n, p of dout[n, f, p], for filters [start, stop), in
    # double: added into lanes (8 per filter), then combined into db (unless NULL)
    void (*bias_gradient_f32)(const float* dout, double* lanes, float* db, Py_ssize_t n_images,
                              Py_ssize_t n_filters, Py_ssize_t positions, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    void (*bias_gradient_f64)(const double* dout, double* lanes, double* db, Py_ssize_t n_images,
                              Py_ssize_t n_filters, Py_ssize_t positions, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    # out = each window's maximum, arg_max = its first index i*filter_w + j
    void (*max_pool_f32)(const float* x, float* out, int* arg_max, Py_ssize_t start,
                         Py_ssize_t stop, Geometry g) noexcept nogil
    void (*max_pool_f64)(const double* x, double* out, int* arg_max, Py_ssize_t start,
                         Py_ssize_t stop, Geometry g) noexcept nogil
    # dx: dout scattered to each window's arg_max (every arg_max in range)
    void (*max_pool_backward_f32)(const float* dout, const int* arg_max, float* dx,
                                  Py_ssize_t start, Py_ssize_t stop, Geometry g) noexcept nogil
    void (*max_pool_backward_f64)(const double* dout, const int* arg_max, double* dx,
                                  Py_ssize_t start, Py_ssize_t stop, Geometry g) noexcept nogil


# ------------------ src/_cpu_recurrent.pyx: RNN and LSTM, one time step's elementwise work
# Rows [start, stop) of the batch.  Each (N, ...) operand is given at its
# row (that time step's slice) and with its row stride in elements; g, dh_rec
# and dc are contiguous (N, 4H) or (N, H).  Gates are f, g, i, o, H columns each.
ctypedef struct RecurrentKernels:
    # a = gates + g + b (gates holding x Wx, g h_prev Wh); gates = sigmoid(a_f),
    # tanh(a_g), sigmoid(a_i), sigmoid(a_o) in place; c = f c_prev + g i;
    # tc = tanh(c); h = o tc (c, tc, h at row stride `stride`)
    void (*lstm_forward_f32)(float* gates, Py_ssize_t gates_stride, const float* g, const float* b,
                             const float* c_prev, Py_ssize_t c_prev_stride, float* c, float* tc,
                             float* h, Py_ssize_t stride, Py_ssize_t hidden, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil
    void (*lstm_forward_f64)(double* gates, Py_ssize_t gates_stride, const double* g, const double* b,
                             const double* c_prev, Py_ssize_t c_prev_stride, double* c, double* tc,
                             double* h, Py_ssize_t stride, Py_ssize_t hidden, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil
    # dh = dh_up + dh_rec; ds = dc + dh o (1 - tc^2); dA = the gates' gradients
    # (at gates_stride); dc = ds f (the previous step's)
    void (*lstm_backward_f32)(const float* gates, Py_ssize_t gates_stride, const float* dh_up,
                              const float* dh_rec, float* dc, const float* c_prev,
                              Py_ssize_t c_prev_stride, const float* tc, Py_ssize_t stride,
                              float* dA, Py_ssize_t hidden, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    void (*lstm_backward_f64)(const double* gates, Py_ssize_t gates_stride, const double* dh_up,
                              const double* dh_rec, double* dc, const double* c_prev,
                              Py_ssize_t c_prev_stride, const double* tc, Py_ssize_t stride,
                              double* dA, Py_ssize_t hidden, Py_ssize_t start,
                              Py_ssize_t stop) noexcept nogil
    # h = tanh(g + ax + b)
    void (*rnn_forward_f32)(const float* ax, Py_ssize_t ax_stride, const float* g, const float* b,
                            float* h, Py_ssize_t stride, Py_ssize_t hidden, Py_ssize_t start,
                            Py_ssize_t stop) noexcept nogil
    void (*rnn_forward_f64)(const double* ax, Py_ssize_t ax_stride, const double* g, const double* b,
                            double* h, Py_ssize_t stride, Py_ssize_t hidden, Py_ssize_t start,
                            Py_ssize_t stop) noexcept nogil
    # dt = (dh_up + dh_rec) (1 - h^2)
    void (*rnn_backward_f32)(const float* h, Py_ssize_t stride, const float* dh_up, const float* dh_rec,
                             float* dt, Py_ssize_t dt_stride, Py_ssize_t hidden, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil
    void (*rnn_backward_f64)(const double* h, Py_ssize_t stride, const double* dh_up,
                             const double* dh_rec, double* dt, Py_ssize_t dt_stride, Py_ssize_t hidden,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil
