/* op_loss.c -- the plain mean squared error (spec 3.3), summed in double. */
#include "ops.h"
#include "rin.h"

double rin_mse_forward_backward(float *dpred, const float *pred, const float *target, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        s += d * d;
        if (dpred)
            dpred[i] = (float)(2.0 * d / (double)n);
    }
    return n ? s / (double)n : 0.0;
}

double rin_mse_loss(float *dpred, const float *pred, const float *target, size_t n) {
    return rin_mse_forward_backward(dpred, pred, target, n);
}
