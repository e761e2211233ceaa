/* simd.h -- AVX2+FMA versions of the transcendental pointwise math (exp, erf) that the
 * compiler does not vectorise, chosen at run time.
 *
 * The build stays portable (no -march): functions marked RIN_AVX2 are compiled for AVX2+FMA
 * and called only when rin_simd_avx2() says the CPU has both; other machines (and non-x86
 * builds) take the scalar loops next to them. The vector paths round differently from libm
 * (exp within 1.3 ulp, erf within 5.4 ulp over [-6, 6], measured against double in
 * tests/test_ops.c), so results match the scalar path to float tolerance, not bitwise; one
 * machine always takes the same path, so runs stay repeatable and thread-count independent.
 * RIN_SIMD=0 in the environment forces the scalar paths (for comparing the two).
 */
#ifndef RIN_SIMD_H
#define RIN_SIMD_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RIN_X86_SIMD 1
#include <immintrin.h>

#define RIN_AVX2 __attribute__((target("avx2,fma")))

/* 1 when the CPU has AVX2 and FMA and RIN_SIMD is not "0" (read once). */
int rin_simd_avx2(void);
/* Tests only: force the choice (0 scalar, 1 AVX2 if the CPU has it); returns the previous. */
int rin_simd_set(int on);

/* exp(x) for 8 floats: k = round(x / ln 2), r = x - k ln 2 (two-part ln 2), a degree-7
 * polynomial for exp(r) on |r| <= ln2/2, then 2^k applied in two halves so results down to
 * the subnormal range stay exact. x is clamped to [-104, 88.376] (0 and FLT_MAX-ish ends). */
RIN_AVX2 static inline __m256 rin_v_exp(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-103.972f)), _mm256_set1_ps(88.37626f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* erf(x) for 8 floats: the odd/even rational approximation x P(x^2) / Q(x^2) on [-4, 4]
 * (erf is +-1 in float beyond), with the coefficients Eigen and XLA use. */
RIN_AVX2 static inline __m256 rin_v_erf(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
    p = _mm256_mul_ps(p, x);
    __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
    return _mm256_div_ps(p, q);
}

/* Horizontal sum of 8 floats, in a fixed order. */
RIN_AVX2 static inline float rin_v_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* Horizontal max of 8 floats. */
RIN_AVX2 static inline float rin_v_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#else
static inline int rin_simd_avx2(void) {
    return 0;
}
static inline int rin_simd_set(int on) {
    (void)on;
    return 0;
}
#endif

#endif /* RIN_SIMD_H */
