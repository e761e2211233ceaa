/* op_attention.c -- the multi-head attention core, self and cross (Nq != Nk), no mask.
 *
 * q (B,Nq,A), k and v (B,Nk,A), A = NH * hs; head h owns columns [h hs, (h+1) hs).
 * att[b,h] = softmax(q_h k_h^T / sqrt(hs)), out_h = att[b,h] v_h. Projections are separate
 * linear ops (spec 1.5: Keras MultiHeadAttention with biases). Work is split over (batch,
 * head) pairs, never over queries, because dk and dv sum over all queries; every output
 * element is owned by one pair, so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

void rin_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           int B, int Nq, int Nk, int A, int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *qb = q + (size_t)b * Nq * A + (size_t)h * hs;
        const float *kb = k + (size_t)b * Nk * A + (size_t)h * hs;
        const float *vb = v + (size_t)b * Nk * A + (size_t)h * hs;
        float *ob = out + (size_t)b * Nq * A + (size_t)h * hs;
        float *P = att + (size_t)bh * Nq * Nk;
        for (int i = 0; i < Nq; i++) {
            const float *qi = qb + (size_t)i * A;
            float *Pi = P + (size_t)i * Nk;
            float mx = -INFINITY;
            for (int j = 0; j < Nk; j++) {
                const float *kj = kb + (size_t)j * A;
                float s = 0.0f;
                for (int d = 0; d < hs; d++)
                    s += qi[d] * kj[d];
                s *= scale;
                Pi[j] = s;
                if (s > mx)
                    mx = s;
            }
            float sum = 0.0f;
            for (int j = 0; j < Nk; j++) {
                Pi[j] = expf(Pi[j] - mx);
                sum += Pi[j];
            }
            float inv = 1.0f / sum;
            for (int j = 0; j < Nk; j++)
                Pi[j] *= inv;
            float *oi = ob + (size_t)i * A;
            memset(oi, 0, (size_t)hs * sizeof *oi);
            for (int j = 0; j < Nk; j++) {
                const float *vj = vb + (size_t)j * A;
                float p = Pi[j];
                for (int d = 0; d < hs; d++)
                    oi[d] += p * vj[d];
            }
        }
    }
}

void rin_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att,
                            int B, int Nq, int Nk, int A, int NH) {
    int hs = A / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qo = (size_t)b * Nq * A + (size_t)h * hs;
        size_t ko = (size_t)b * Nk * A + (size_t)h * hs;
        const float *P = att + (size_t)bh * Nq * Nk;
        float *dS = scratch + (size_t)bh * Nq * Nk;
        for (int i = 0; i < Nq; i++) {
            const float *gi = dout + qo + (size_t)i * A;
            const float *Pi = P + (size_t)i * Nk;
            float *dSi = dS + (size_t)i * Nk;
            /* out_i = sum_j P_ij v_j  ->  dP_ij = dout_i . v_j;  dv_j += P_ij dout_i */
            float dot = 0.0f;
            for (int j = 0; j < Nk; j++) {
                const float *vj = v + ko + (size_t)j * A;
                float s = 0.0f;
                for (int d = 0; d < hs; d++)
                    s += gi[d] * vj[d];
                dSi[j] = s;
                dot += s * Pi[j];
            }
            /* P = softmax(S)  ->  dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij') */
            for (int j = 0; j < Nk; j++)
                dSi[j] = Pi[j] * (dSi[j] - dot) * scale;
        }
        /* dv_j += sum_i P_ij dout_i;  dk_j += sum_i dS_ij q_i (scale folded into dS) */
        for (int j = 0; j < Nk; j++) {
            float *dvj = dv + ko + (size_t)j * A;
            float *dkj = dk + ko + (size_t)j * A;
            for (int i = 0; i < Nq; i++) {
                float p = P[(size_t)i * Nk + j], s = dS[(size_t)i * Nk + j];
                const float *gi = dout + qo + (size_t)i * A;
                const float *qi = q + qo + (size_t)i * A;
                for (int d = 0; d < hs; d++) {
                    dvj[d] += p * gi[d];
                    dkj[d] += s * qi[d];
                }
            }
        }
        /* S = scale q_i . k_j  ->  dq_i += sum_j dS_ij k_j */
        for (int i = 0; i < Nq; i++) {
            float *dqi = dq + qo + (size_t)i * A;
            const float *dSi = dS + (size_t)i * Nk;
            for (int j = 0; j < Nk; j++) {
                const float *kj = k + ko + (size_t)j * A;
                float s = dSi[j];
                for (int d = 0; d < hs; d++)
                    dqi[d] += s * kj[d];
            }
        }
    }
}
