/* NumPy's own CBLAS, found in the library that NumPy's _multiarray_umath
 * module links, so that the layers call the very routines np.dot and
 * np.matmul call, with the same arguments, without their Python-level
 * overhead (src/_blas.pxi).
 *
 * Only ILP64 builds are taken: their symbols carry the "64_" suffix
 * (NumPy 2's scipy_openblas64_, the older openblas64_), so the integer
 * width is known.  Anything else -- an LP64 or unsuffixed BLAS, Windows,
 * a platform without dlopen -- finds nothing and the layers keep calling
 * NumPy.
 */
#ifndef ZK_BLAS_H
#define ZK_BLAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int64_t zk_blas_int;

typedef void (*zk_gemm_f64)(int, int, int, zk_blas_int, zk_blas_int, zk_blas_int, double,
                            const double *, zk_blas_int, const double *, zk_blas_int, double,
                            double *, zk_blas_int);
typedef void (*zk_gemm_f32)(int, int, int, zk_blas_int, zk_blas_int, zk_blas_int, float,
                            const float *, zk_blas_int, const float *, zk_blas_int, float,
                            float *, zk_blas_int);
typedef void (*zk_gemv_f64)(int, int, zk_blas_int, zk_blas_int, double, const double *,
                            zk_blas_int, const double *, zk_blas_int, double, double *,
                            zk_blas_int);
typedef void (*zk_gemv_f32)(int, int, zk_blas_int, zk_blas_int, float, const float *,
                            zk_blas_int, const float *, zk_blas_int, float, float *,
                            zk_blas_int);

typedef struct {
    zk_gemm_f64 dgemm;
    zk_gemm_f32 sgemm;
    zk_gemv_f64 dgemv;
    zk_gemv_f32 sgemv;
    char prefix[32]; /* the symbols' prefix, as found: "scipy_cblas_" or "cblas_" */
} zk_blas;

#if defined(_WIN32) || !defined(__has_include)
#define ZK_HAVE_DLOPEN 0
#elif __has_include(<dlfcn.h>)
#define ZK_HAVE_DLOPEN 1
#include <dlfcn.h>
#else
#define ZK_HAVE_DLOPEN 0
#endif

/* Fill *blas from the library that the already loaded module at `path`
 * depends on; 1 when all four routines were found under one prefix, else
 * 0 with *blas zeroed. */
static int zk_blas_find(const char *path, zk_blas *blas)
{
    static const char *const prefixes[] = {"scipy_cblas_", "cblas_"};
    size_t i;
    memset(blas, 0, sizeof(*blas));
#if ZK_HAVE_DLOPEN
    void *handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == NULL) {
        return 0;
    }
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        char name[64];
        void *found[4];
        static const char *const routines[] = {"dgemm", "sgemm", "dgemv", "sgemv"};
        size_t r;
        int all = 1;
        for (r = 0; r < 4; r++) {
            snprintf(name, sizeof(name), "%s%s64_", prefixes[i], routines[r]);
            found[r] = dlsym(handle, name);
            all = all && found[r] != NULL;
        }
        if (all) {
            blas->dgemm = (zk_gemm_f64)found[0];
            blas->sgemm = (zk_gemm_f32)found[1];
            blas->dgemv = (zk_gemv_f64)found[2];
            blas->sgemv = (zk_gemv_f32)found[3];
            snprintf(blas->prefix, sizeof(blas->prefix), "%s", prefixes[i]);
            break;
        }
    }
    /* The handle only adds a reference to a module Python keeps loaded. */
    dlclose(handle);
    return blas->dgemm != NULL;
#else
    (void)path;
    (void)i;
    (void)prefixes;
    return 0;
#endif
}

#endif
