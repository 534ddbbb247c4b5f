/*
 * zk_exp: the exponential used by the Sigmoid and SoftmaxWithLoss kernels.
 *
 * Why our own: libm's scalar exp() is an opaque call that stops GCC from
 * vectorising the loops around it, and glibc only exposes its vector variants
 * (libmvec) under -ffast-math, which we refuse because it changes results.
 * This one is branch-free straight-line arithmetic that the compiler can
 * vectorise at any SIMD width, and it is the same code on every platform.
 *
 * Method (double): Cody-Waite range reduction x = n*ln2 + r with
 * |r| <= ln2/2, fdlibm's rational approximation of exp(r) (a degree-5
 * Remez polynomial in r*r and one division: 19% faster than a degree-13
 * Taylor polynomial at the same accuracy), and a scale by 2^n applied in
 * two steps so that results in the subnormal range are formed correctly.
 * Accuracy: within 1 ulp of libm's exp() over the whole double range
 * (tests/test_layers.py checks it against NumPy through Sigmoid).  Overflow gives +inf, underflow 0,
 * NaN propagates, like exp().    Compiled with -ffp-contract=off so no fused
 * multiply-add changes the last bits between builds.
 */
#ifndef ZK_EXP_H
#define ZK_EXP_H

#include <stdint.h>
#include <string.h>

static inline double zk_pow2_integral(double k)
{
    /* 2**k for an integral double -1022 <= k <= 1023.  Adding 2**52 + 1023
       leaves k + 1023 in the low mantissa bits; shifting those bits into the
       exponent field builds the power of two.  No double-to-integer
       conversion: that instruction does not exist for packed doubles before
       AVX-512 and would stop the loop from vectorising. */
    double biased = k + (4503599627370496.0 + 1023.0);
    uint64_t bits;
    memcpy(&bits, &biased, sizeof bits);
    bits <<= 52;
    double result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

/* The common part of zk_exp and zk_exp_moderate: x = n*ln2 + r with
   |r| <= ln2/2 (Cody-Waite), and exp(r) by fdlibm's rational form, returned.
   *shifted receives x * log2e + 1.5 * 2**52, whose low mantissa bits hold n
   (rounded to nearest without rint(), which does not vectorise on SSE2);
   n itself is *shifted - 1.5 * 2**52.  Valid for |x| <= 746. */
static inline double zk_exp_reduced(double x, double *shifted)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01; /* 32 significant bits */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round_shift = 6755399441055744.0;      /* 1.5 * 2**52 */
    /* Remez coefficients of fdlibm's e_exp.c (public domain, Sun 1993). */
    const double P1 = 1.66666666666666019037e-01;
    const double P2 = -2.77777777770155933842e-03;
    const double P3 = 6.61375632143793436117e-05;
    const double P4 = -1.65339022054652515390e-06;
    const double P5 = 4.13813679705723846039e-08;
    double s = x * log2e + round_shift;
    double n = s - round_shift;
    double hi = x - n * ln2_hi;
    double lo = n * ln2_lo;
    double r = hi - lo;
    double z = r * r;
    double c = r - z * (P1 + z * (P2 + z * (P3 + z * (P4 + z * P5))));
    *shifted = s;
    return 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
}

static inline double zk_exp(double x)
{
    const double round_shift = 6755399441055744.0;      /* 1.5 * 2**52 */
    /* Clamp so that n fits the two-step scaling; the clamped values still
       overflow to inf / underflow to 0 through that scaling.  Two separate
       selects: a nested one does not if-convert, and the loop would not
       vectorise. */
    double xc = x < -746.0 ? -746.0 : x;
    xc = xc > 710.0 ? 710.0 : xc;
    double shifted;
    double p = zk_exp_reduced(xc, &shifted);
    double n = shifted - round_shift;
    /* n lies in [-1077, 1025]: split it so that each factor is a normal
       number; the second multiplication rounds into the subnormal range
       exactly as exp() does.  A NaN x stays NaN through p. */
    double n_half = (n * 0.5 + round_shift) - round_shift;
    return p * zk_pow2_integral(n_half) * zk_pow2_integral(n - n_half);
}

/* zk_exp_moderate(x): exp(x) for |x| <= ZK_EXP_MODERATE_LIMIT (707) and
   NaN (which stays NaN), bitwise equal to zk_exp(x) there, with fewer
   operations: no clamps, and one scaling by 2^n, built from the rounding's
   own bits, in place of the two-step one.  In that range n = round(x / ln 2)
   lies in [-1020, 1020], so 2^n and p * 2^n (p in [0.7, 1.42]) are normal
   numbers and every multiplication by a power of two is exact: p * 2^n is
   then the value p * 2^n_half * 2^(n - n_half) of zk_exp, bit for bit.
   Outside that range the result is wrong; callers check the range first
   (the softmax each row's spread, max - min, Sigmoid each block's |x|).
   The float32 twin's limit is ZK_EXPF_MODERATE_LIMIT (86). */
#define ZK_EXP_MODERATE_LIMIT 707.0
#define ZK_EXPF_MODERATE_LIMIT 86.0f

static inline double zk_exp_moderate(double x)
{
    double shifted;
    double p = zk_exp_reduced(x, &shifted);
    uint64_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    /* bits(1.5 * 2**52) = 0x4338000000000000; n + 1023 into the exponent. */
    bits = (bits - UINT64_C(0x4338000000000000) + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Single-precision twin, for float32 arrays: the same method with a degree-7
   polynomial (truncation error < 5e-9, below half an ulp of float), so that
   float32 kernels run twice as many lanes per vector as double would. */
static inline float zk_pow2_integralf(float k)
{
    float biased = k + (8388608.0f + 127.0f);           /* 2**23 + bias */
    uint32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    bits <<= 23;
    float result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

/* The common part of zk_expf and zk_expf_moderate, as zk_exp_reduced:
   exp(r) returned, *shifted = x * log2e + 1.5 * 2**23.  |x| <= 104. */
static inline float zk_expf_reduced(float x, float *shifted)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;                  /* 9 significant bits */
    const float ln2_lo = -2.12194440e-4f;
    const float round_shift = 12582912.0f;              /* 1.5 * 2**23 */
    float s = x * log2e + round_shift;
    float n = s - round_shift;
    float r = (x - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f / 5040.0f;                           /* 1/7! */
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    *shifted = s;
    return p;
}

static inline float zk_expf(float x)
{
    const float round_shift = 12582912.0f;              /* 1.5 * 2**23 */
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float shifted;
    float p = zk_expf_reduced(xc, &shifted);
    float n = shifted - round_shift;
    /* n lies in [-151, 129]. */
    float n_half = (n * 0.5f + round_shift) - round_shift;
    return p * zk_pow2_integralf(n_half) * zk_pow2_integralf(n - n_half);
}

/* Single-precision twin of zk_exp_moderate: zk_expf(x)'s bits for
   |x| <= ZK_EXPF_MODERATE_LIMIT (n in [-125, 125]; p * 2^n normal), and
   NaN stays NaN. */
static inline float zk_expf_moderate(float x)
{
    float shifted;
    float p = zk_expf_reduced(x, &shifted);
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    /* bits(1.5 * 2**23) = 0x4B400000; n + 127 into the exponent. */
    bits = (bits - UINT32_C(0x4B400000) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#endif /* ZK_EXP_H */
