/*
 * Which vector extensions this CPU (and its operating system) offers, for
 * choosing among the kernel builds at import time.  GCC's and clang's
 * __builtin_cpu_supports check the CPUID bits and that the OS saves the
 * wider registers (XGETBV).  Other compilers and other architectures answer
 * "no", which selects the baseline build: always correct, only slower.
 */
#ifndef ZK_CPU_FEATURES_H
#define ZK_CPU_FEATURES_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static inline int zk_cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
static inline int zk_cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq");
}
#else
static inline int zk_cpu_has_avx2(void) { return 0; }
static inline int zk_cpu_has_avx512(void) { return 0; }
#endif

#endif /* ZK_CPU_FEATURES_H */
