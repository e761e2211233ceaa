/* op_attention.c -- the multi-head attention core, self and cross (Nq != Nk), no mask.
 *
 * q (B,Nq,A), k and v (B,Nk,A), A = NH * hs; head h owns columns [h hs, (h+1) hs).
 * att[b,h] = softmax(q_h k_h^T / sqrt(hs)), out_h = att[b,h] v_h. Projections are separate
 * linear ops (spec 1.5: Keras MultiHeadAttention with biases). Work is split over (batch,
 * head) pairs, never over queries, because dk and dv sum over all queries; every output
 * element is owned by one pair, so results do not depend on the thread count.
 *
 * With BLAS each pair is five small GEMMs read in place through the row stride A (no head
 * transposes): S = scale q_h k_h^T and out_h = P v_h forward; dP = dout_h v_h^T, dv_h += P^T
 * dout_h, dk_h += dS^T q_h, dq_h += dS k_h backward, through rin_sgemm (gemm.h), or
 * rin_gemm_bf16 in bf16 precision, each of which runs on its calling thread inside the
 * parallel loop. The *_naive loops are the serial
 * reference of the tests and the BLAS=none path.
 */
#include <math.h>

#include "gemm.h"
#include "ops.h"
#include "parallel.h"
#include "simd.h"
#include "profile.h"

#ifdef RIN_X86_SIMD
RIN_AVX2 static void softmax_rows_avx2(float *S, int Nq, int Nk) {
    int n8 = Nk & ~7;
    for (int i = 0; i < Nq; i++) {
        float *Si = S + (size_t)i * Nk;
        __m256 vm = _mm256_set1_ps(-INFINITY);
        for (int j = 0; j < n8; j += 8)
            vm = _mm256_max_ps(vm, _mm256_loadu_ps(Si + j));
        float mx = rin_v_hmax(vm);
        for (int j = n8; j < Nk; j++)
            if (Si[j] > mx)
                mx = Si[j];
        __m256 vmx = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
        for (int j = 0; j < n8; j += 8) {
            __m256 e = rin_v_exp(_mm256_sub_ps(_mm256_loadu_ps(Si + j), vmx));
            _mm256_storeu_ps(Si + j, e);
            vs = _mm256_add_ps(vs, e);
        }
        if (n8 < Nk) { /* the tail through the same vector exp, padded with -inf (exp 0) */
            float t[8];
            for (int j = 0; j < 8; j++)
                t[j] = n8 + j < Nk ? Si[n8 + j] : -INFINITY;
            __m256 e = rin_v_exp(_mm256_sub_ps(_mm256_loadu_ps(t), vmx));
            e = _mm256_and_ps(
                e, _mm256_cmp_ps(_mm256_loadu_ps(t), _mm256_set1_ps(-INFINITY), _CMP_GT_OQ));
            vs = _mm256_add_ps(vs, e);
            _mm256_storeu_ps(t, e);
            for (int j = n8; j < Nk; j++)
                Si[j] = t[j - n8];
        }
        __m256 inv = _mm256_set1_ps(1.0f / rin_v_hsum(vs));
        for (int j = 0; j < n8; j += 8)
            _mm256_storeu_ps(Si + j, _mm256_mul_ps(_mm256_loadu_ps(Si + j), inv));
        for (int j = n8; j < Nk; j++)
            Si[j] *= _mm256_cvtss_f32(inv);
    }
}
#endif

/* Row-wise softmax of S (Nq,Nk) in place, max-subtracted. */
static void softmax_rows(float *S, int Nq, int Nk) {
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2()) {
        softmax_rows_avx2(S, Nq, Nk);
        return;
    }
#endif
    for (int i = 0; i < Nq; i++) {
        float *Si = S + (size_t)i * Nk;
        float mx = -INFINITY;
        for (int j = 0; j < Nk; j++)
            if (Si[j] > mx)
                mx = Si[j];
        float sum = 0.0f;
        for (int j = 0; j < Nk; j++) {
            Si[j] = expf(Si[j] - mx);
            sum += Si[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < Nk; j++)
            Si[j] *= inv;
    }
}

/* dS = P * (dP - rowsum(P * dP)) * scale, in place over dP (Nq,Nk). */
static void softmax_backward_rows(float *dS, const float *P, float scale, int Nq, int Nk) {
    for (int i = 0; i < Nq; i++) {
        float *dSi = dS + (size_t)i * Nk;
        const float *Pi = P + (size_t)i * Nk;
        float dot = 0.0f;
        for (int j = 0; j < Nk; j++)
            dot += dSi[j] * Pi[j];
        for (int j = 0; j < Nk; j++)
            dSi[j] = Pi[j] * (dSi[j] - dot) * scale;
    }
}

/* The serial reference: the same three stages as the BLAS path with plain loops. */
void rin_attention_forward_naive(float *out, float *att, const float *q, const float *k,
                                 const float *v, int B, int Nq, int Nk, int A, int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *qb = q + (size_t)b * Nq * A + (size_t)h * hs;
        const float *kb = k + (size_t)b * Nk * A + (size_t)h * hs;
        const float *vb = v + (size_t)b * Nk * A + (size_t)h * hs;
        float *ob = out + (size_t)b * Nq * A + (size_t)h * hs;
        float *P = att + (size_t)bh * Nq * Nk;
        for (int i = 0; i < Nq; i++)
            for (int j = 0; j < Nk; j++) {
                float s = 0.0f;
                for (int d = 0; d < hs; d++)
                    s += qb[(size_t)i * A + d] * kb[(size_t)j * A + d];
                P[(size_t)i * Nk + j] = scale * s;
            }
        softmax_rows(P, Nq, Nk);
        for (int i = 0; i < Nq; i++)
            for (int d = 0; d < hs; d++) {
                float s = 0.0f;
                for (int j = 0; j < Nk; j++)
                    s += P[(size_t)i * Nk + j] * vb[(size_t)j * A + d];
                ob[(size_t)i * A + d] = s;
            }
    }
}

void rin_attention_backward_naive(float *dq, float *dk, float *dv, float *scratch,
                                  const float *dout, const float *q, const float *k, const float *v,
                                  const float *att, int B, int Nq, int Nk, int A, int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qo = (size_t)b * Nq * A + (size_t)h * hs;
        size_t ko = (size_t)b * Nk * A + (size_t)h * hs;
        const float *P = att + (size_t)bh * Nq * Nk;
        float *dS = scratch + (size_t)bh * Nq * Nk;
        /* out_i = sum_j P_ij v_j  ->  dP_ij = dout_i . v_j */
        for (int i = 0; i < Nq; i++)
            for (int j = 0; j < Nk; j++) {
                float s = 0.0f;
                for (int d = 0; d < hs; d++)
                    s += dout[qo + (size_t)i * A + d] * v[ko + (size_t)j * A + d];
                dS[(size_t)i * Nk + j] = s;
            }
        softmax_backward_rows(dS, P, scale, Nq, Nk);
        /* dv_j += sum_i P_ij dout_i;  dk_j += sum_i dS_ij q_i;  dq_i += sum_j dS_ij k_j */
        for (int j = 0; j < Nk; j++)
            for (int d = 0; d < hs; d++) {
                float sv = 0.0f, sk = 0.0f;
                for (int i = 0; i < Nq; i++) {
                    sv += P[(size_t)i * Nk + j] * dout[qo + (size_t)i * A + d];
                    sk += dS[(size_t)i * Nk + j] * q[qo + (size_t)i * A + d];
                }
                dv[ko + (size_t)j * A + d] += sv;
                dk[ko + (size_t)j * A + d] += sk;
            }
        for (int i = 0; i < Nq; i++)
            for (int d = 0; d < hs; d++) {
                float s = 0.0f;
                for (int j = 0; j < Nk; j++)
                    s += dS[(size_t)i * Nk + j] * k[ko + (size_t)j * A + d];
                dq[qo + (size_t)i * A + d] += s;
            }
    }
}

static void attention_forward_gemm(rin_gemm_fn gemm, float *out, float *att, const float *q,
                                   const float *k, const float *v, int B, int Nq, int Nk, int A,
                                   int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *qb = q + (size_t)b * Nq * A + (size_t)h * hs;
        const float *kb = k + (size_t)b * Nk * A + (size_t)h * hs;
        const float *vb = v + (size_t)b * Nk * A + (size_t)h * hs;
        float *ob = out + (size_t)b * Nq * A + (size_t)h * hs;
        float *P = att + (size_t)bh * Nq * Nk;
        gemm(0, 1, Nq, Nk, hs, scale, qb, A, kb, A, 0.0f, P, Nk);
        softmax_rows(P, Nq, Nk);
        gemm(0, 0, Nq, hs, Nk, 1.0f, P, Nk, vb, A, 0.0f, ob, A);
    }
}

static void attention_backward_gemm(rin_gemm_fn gemm, float *dq, float *dk, float *dv,
                                    float *scratch, const float *dout, const float *q,
                                    const float *k, const float *v, const float *att, int B, int Nq,
                                    int Nk, int A, int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qo = (size_t)b * Nq * A + (size_t)h * hs;
        size_t ko = (size_t)b * Nk * A + (size_t)h * hs;
        const float *P = att + (size_t)bh * Nq * Nk;
        float *dS = scratch + (size_t)bh * Nq * Nk;
        /* dP = dout_h v_h^T, then dS through the softmax (scale folded in) */
        gemm(0, 1, Nq, Nk, hs, 1.0f, dout + qo, A, v + ko, A, 0.0f, dS, Nk);
        softmax_backward_rows(dS, P, scale, Nq, Nk);
        gemm(1, 0, Nk, hs, Nq, 1.0f, P, Nk, dout + qo, A, 1.0f, dv + ko, A);
        gemm(1, 0, Nk, hs, Nq, 1.0f, dS, Nk, q + qo, A, 1.0f, dk + ko, A);
        gemm(0, 0, Nq, hs, Nk, 1.0f, dS, Nk, k + ko, A, 1.0f, dq + qo, A);
    }
}

void rin_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           int B, int Nq, int Nk, int A, int NH, rin_precision prec) {
    double prof_t0 = RIN_PROF_BEGIN();
    rin_gemm_fn gemm = rin_gemm_for(prec);
    if (gemm)
        attention_forward_gemm(gemm, out, att, q, k, v, B, Nq, Nk, A, NH);
    else
        rin_attention_forward_naive(out, att, q, k, v, B, Nq, Nk, A, NH);
    RIN_PROF_END(ATTN_FWD, prof_t0, 4.0 * B * Nq * Nk * A);
}

void rin_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att, int B,
                            int Nq, int Nk, int A, int NH, rin_precision prec) {
    double prof_t0 = RIN_PROF_BEGIN();
    rin_gemm_fn gemm = rin_gemm_for(prec);
    if (gemm)
        attention_backward_gemm(gemm, dq, dk, dv, scratch, dout, q, k, v, att, B, Nq, Nk, A, NH);
    else
        rin_attention_backward_naive(dq, dk, dv, scratch, dout, q, k, v, att, B, Nq, Nk, A, NH);
    RIN_PROF_END(ATTN_BWD, prof_t0, 8.0 * B * Nq * Nk * A);
}
