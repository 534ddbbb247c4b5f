/*
 * OpenMP shim for the zk_layers kernels.
 *
 * `cimport openmp` would include <omp.h> unconditionally: with a compiler that
 * lacks OpenMP (or a build with ZK_LAYERS_DISABLE_OPENMP=1) the module would
 * compile but fail at import on an undefined omp_get_max_threads.  Every
 * kernel module includes this header instead; without _OPENMP the functions
 * below answer as a one-thread runtime would, and Cython's prange pragmas are
 * ignored by the compiler, so the same source builds serial kernels.
 */
#ifndef ZK_OPENMP_SHIM_H
#define ZK_OPENMP_SHIM_H

#ifdef _OPENMP
#include <omp.h>
#define ZK_OPENMP_ENABLED 1
static inline int zk_omp_get_max_threads(void) { return omp_get_max_threads(); }
#else
#define ZK_OPENMP_ENABLED 0
static inline int zk_omp_get_max_threads(void) { return 1; }
#endif

#endif /* ZK_OPENMP_SHIM_H */
