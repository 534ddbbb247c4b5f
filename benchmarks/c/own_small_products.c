/* Two small-N products written as plain C loops for GCC to vectorise, no
 * FMA (-ffp-contract=off, as the kernels), against NumPy's own OpenBLAS
 * on the same data: why Affine keeps BLAS for both.
 *
 *   - x @ W for one row (784 x 50 and other shapes): the forward at N = 1,
 *     a GEMV; the loop accumulates rows of W into a 512-wide tile, four
 *     rows at a time, each output summed in row order.
 *   - dout @ W.T at N = 2 ... 100 (W 784 x 50): the backward's dx, which
 *     OpenBLAS runs at half the rate of x @ W; the loop keeps eight rows of
 *     dout (transposed) against four rows of W at a time.
 *
 * Build against NumPy's OpenBLAS and run pinned to one core:
 *
 *   L=$(python -c "import numpy, glob, os; print(glob.glob(os.path.join(os.path.dirname(numpy.__file__) + '.libs', 'libscipy_openblas64_*.so'))[0])")
 *   gcc -O3 -mavx2 -mavx512f -mavx512vl -mavx512bw -mavx512dq -ffp-contract=off -fno-trapping-math \
 *       benchmarks/c/own_small_products.c -o /tmp/own_small_products "$L" -Wl,-rpath,"$(dirname "$L")"
 *   OPENBLAS_NUM_THREADS=1 taskset -c 0 /tmp/own_small_products
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t blas_int;
void scipy_cblas_dgemv64_(int, int, blas_int, blas_int, double, const double *, blas_int,
                          const double *, blas_int, double, double *, blas_int);
void scipy_cblas_dgemm64_(int, int, int, blas_int, blas_int, blas_int, double, const double *,
                          blas_int, const double *, blas_int, double, double *, blas_int);

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, TILE = 512, LANES = 8, REPEATS = 2001 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, n, sizeof(double), by_value);
    return t[n / 2];
}

/* out[j] = sum_i x[i] W[i, j], rows in order, four at a time into a tile. */
static void __attribute__((noinline)) own_gemv(const double *x, const double *W, double *out,
                                               long rows, long cols)
{
    double acc[TILE];
    for (long j0 = 0; j0 < cols; j0 += TILE) {
        long width = cols - j0 < TILE ? cols - j0 : TILE, i = 0;
        for (long k = 0; k < width; k++)
            acc[k] = 0;
        for (; i + 4 <= rows; i += 4) {
            const double *w0 = W + i * cols + j0, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
            for (long k = 0; k < width; k++) {
                double a = acc[k];
                a = a + x[i] * w0[k];
                a = a + x[i + 1] * w1[k];
                a = a + x[i + 2] * w2[k];
                a = a + x[i + 3] * w3[k];
                acc[k] = a;
            }
        }
        for (; i < rows; i++)
            for (long k = 0; k < width; k++)
                acc[k] = acc[k] + x[i] * W[i * cols + j0 + k];
        memcpy(out + j0, acc, width * sizeof(double));
    }
}

/* dx[n, i] = sum_j d[n, j] W[i, j] for eight rows of d held transposed in dT. */
static void __attribute__((noinline, noclone)) own_dx_rows(const double *W, const double *dT, double *dx,
                                                  long d_in, long m, long n_rows)
{
    const long tail = d_in - d_in % 4;
    for (long i = 0; i < tail; i += 4) {
        double a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
        const double *w0 = W + i * m, *w1 = w0 + m, *w2 = w1 + m, *w3 = w2 + m;
        for (long j = 0; j < m; j++) {
            const double *t = dT + j * LANES;
            for (int l = 0; l < LANES; l++) {
                a0[l] = a0[l] + w0[j] * t[l];
                a1[l] = a1[l] + w1[j] * t[l];
                a2[l] = a2[l] + w2[j] * t[l];
                a3[l] = a3[l] + w3[j] * t[l];
            }
        }
        for (long l = 0; l < n_rows; l++) {
            double *o = dx + l * d_in + i;
            o[0] = a0[l], o[1] = a1[l], o[2] = a2[l], o[3] = a3[l];
        }
    }
    for (long i = tail; i < d_in; i++) {
        double a0[LANES] = {0};
        const double *w = W + i * m;
        for (long j = 0; j < m; j++) {
            const double *t = dT + j * LANES;
            for (int l = 0; l < LANES; l++)
                a0[l] = a0[l] + w[j] * t[l];
        }
        for (long l = 0; l < n_rows; l++)
            dx[l * d_in + i] = a0[l];
    }
}

static void own_dx(const double *d, const double *W, double *dx, long n, long d_in, long m, double *dT)
{
    for (long n0 = 0; n0 < n; n0 += LANES) {
        long rows = n - n0 < LANES ? n - n0 : LANES;
        for (long j = 0; j < m; j++)
            for (long l = 0; l < LANES; l++)
                dT[j * LANES + l] = l < rows ? d[(n0 + l) * m + j] : 0.0;
        own_dx_rows(W, dT, dx + n0 * d_in, d_in, m, rows);
    }
}

static double *filled(long n, long seed)
{
    double *a = aligned_alloc(64, ((n * sizeof(double) + 63) / 64) * 64);
    for (long k = 0; k < n; k++)
        a[k] = (double)((k * 7919 + seed) % 1000) * 1e-3 - 0.5;
    return a;
}

int main(void)
{
    static double t_own[REPEATS], t_blas[REPEATS];
    const long shapes[][2] = {{784, 50}, {50, 10}, {1000, 1000}, {784, 1000}};
    printf("x @ W, one row: own loop against cblas_dgemv, microseconds (medians of %d)\n", REPEATS);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        long rows = shapes[s][0], cols = shapes[s][1];
        double *W = filled(rows * cols, 1), *x = filled(rows, 2), *o1 = filled(cols, 0), *o2 = filled(cols, 0);
        for (int r = 0; r < REPEATS; r++) {
            double a = now();
            own_gemv(x, W, o1, rows, cols);
            double b = now();
            scipy_cblas_dgemv64_(ROW_MAJOR, TRANS, rows, cols, 1.0, W, cols, x, 1, 0.0, o2, 1);
            t_own[r] = b - a, t_blas[r] = now() - b;
        }
        printf("  %ld x %ld: own %.2f, BLAS %.2f\n", rows, cols, median(t_own, REPEATS) * 1e6,
               median(t_blas, REPEATS) * 1e6);
        free(W), free(x), free(o1), free(o2);
    }
    const long d_in = 784, m = 50, batches[] = {2, 8, 32, 100};
    double *W = filled(d_in * m, 3), *dT = filled(m * LANES, 0);
    printf("dout @ W.T, W 784 x 50: own loop against cblas_dgemm, microseconds\n");
    for (size_t s = 0; s < sizeof(batches) / sizeof(batches[0]); s++) {
        long n = batches[s];
        double *d = filled(n * m, 4), *o1 = filled(n * d_in, 0), *o2 = filled(n * d_in, 0);
        for (int r = 0; r < REPEATS; r++) {
            double a = now();
            own_dx(d, W, o1, n, d_in, m, dT);
            double b = now();
            scipy_cblas_dgemm64_(ROW_MAJOR, NO_TRANS, TRANS, n, d_in, m, 1.0, d, m, W, m, 0.0, o2, d_in);
            t_own[r] = b - a, t_blas[r] = now() - b;
        }
        printf("  N = %ld: own %.2f, BLAS %.2f\n", n, median(t_own, REPEATS) * 1e6, median(t_blas, REPEATS) * 1e6);
        free(d), free(o1), free(o2);
    }
    return 0;
}
