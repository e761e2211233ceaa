/* op_embed.c -- the sinusoidal code of the noise level gamma (spec 1.2).
 *
 * s = scale * gamma (scale = time_scaling = 1000); code = [sin(s w_k)]_k ++ [cos(s w_k)]_k with
 * w_k = 10000^(-2k/d), k < d/2 (all sines, then all cosines), standardised per example with
 * the population std and no eps. Computed in double: s reaches 1000, where float32 arguments
 * would already lose 6e-5 of absolute accuracy in sin and cos. The network is conditioned on
 * gamma, not on t (spec pitfall 1).
 */
#include <math.h>

#include "ops.h"

void rin_gamma_code(float *code, const float *gamma, float scale, int B, int d) {
    int half = d / 2;
    for (int b = 0; b < B; b++) {
        double s = (double)scale * (double)gamma[b];
        double buf[4096];
        double *c = buf;
        /* d is bounded by the config validation (D <= 16384 -> d <= 4096) */
        for (int k = 0; k < half; k++) {
            double w = pow(10000.0, -2.0 * k / d);
            c[k] = sin(s * w);
            c[half + k] = cos(s * w);
        }
        double m = 0.0;
        for (int k = 0; k < d; k++)
            m += c[k];
        m /= d;
        double v = 0.0;
        for (int k = 0; k < d; k++)
            v += (c[k] - m) * (c[k] - m);
        double sd = sqrt(v / d);
        for (int k = 0; k < d; k++)
            code[(size_t)b * d + k] = (float)((c[k] - m) / sd);
    }
}
