/* featnet.c -- the evaluation feature network (featnet.h; shared/spec/evaluation.md 4.2):
 * parameter table, initialisation, forward, hand-written backward, Adam, the training loop,
 * accuracy, and safetensors save/load with the file's SHA-256.
 *
 * The network is fixed (28x28x1 in, 128 features, 10 logits): its sizes are constants here, not
 * a configuration. Ops come from op_conv.c and op_linear.c; this file only wires them.
 * What it is not: part of the RIN denoiser. It shares the op contract, the safetensors format
 * and the dataset reader, nothing else.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "featnet.h"
#include "gemm.h"
#include "internal.h"
#include "ops.h"

/* ---- sizes and the parameter table -------------------------------------------------------- */

enum {
    K5 = 5,
    C1 = 32,               /* conv1 channels */
    C2 = 64,               /* conv2 channels */
    S0 = RIN_FEATNET_IN_H, /* 28 */
    S1 = S0 - K5 + 1,      /* 24 conv1 output */
    Q1 = S1 / 2,           /* 12 pool1 output */
    S2 = Q1 - K5 + 1,      /* 8 conv2 output */
    Q2 = S2 / 2,           /* 4 pool2 output */
    FLAT = Q2 * Q2 * C2,   /* 1024 */
    HID = RIN_FEATNET_FEATURES,
    NCLS = RIN_FEATNET_CLASSES
};

enum { T_CONV1_W, T_CONV1_B, T_CONV2_W, T_CONV2_B, T_FC1_W, T_FC1_B, T_FC2_W, T_FC2_B };

/* Element counts and offsets of the tensors, packed without padding in table order. */
// clang-format off
enum {
    CW1    = K5 * K5 * RIN_FEATNET_IN_C,  /* 25, conv1 fan-in */
    CW2    = K5 * K5 * C1,                /* 800, conv2 fan-in */
    O_C1W  = 0,
    O_C1B  = O_C1W + C1 * CW1,
    O_C2W  = O_C1B + C1,
    O_C2B  = O_C2W + C2 * CW2,
    O_F1W  = O_C2B + C2,
    O_F1B  = O_F1W + HID * FLAT,
    O_F2W  = O_F1B + HID,
    O_F2B  = O_F2W + NCLS * HID,
    O_END  = O_F2B + NCLS
};
#define NPARAMS ((size_t)O_END)

static const rin_featnet_tensor table[RIN_FEATNET_NTENSORS] = {
    /* name     ndim  shape                             offset  numel        fan_in  fan_out */
    {"conv1_w", 4,    {C1, K5, K5, RIN_FEATNET_IN_C},   O_C1W,  C1 * CW1,    CW1,    C1},
    {"conv1_b", 1,    {C1},                             O_C1B,  C1,          CW1,    C1},
    {"conv2_w", 4,    {C2, K5, K5, C1},                 O_C2W,  C2 * CW2,    CW2,    C2},
    {"conv2_b", 1,    {C2},                             O_C2B,  C2,          CW2,    C2},
    {"fc1_w",   2,    {HID, FLAT},                      O_F1W,  HID * FLAT,  FLAT,   HID},
    {"fc1_b",   1,    {HID},                            O_F1B,  HID,         FLAT,   HID},
    {"fc2_w",   2,    {NCLS, HID},                      O_F2W,  NCLS * HID,  HID,    NCLS},
    {"fc2_b",   1,    {NCLS},                           O_F2B,  NCLS,        HID,    NCLS},
};
// clang-format on

const rin_featnet_tensor *rin_featnet_table(void) {
    return table;
}

size_t rin_featnet_num_params(void) {
    return NPARAMS;
}

/* ---- creation ------------------------------------------------------------------------------ */

rin_status rin_featnet_check_size(int H, int W, int C, char *err, size_t errlen) {
    if (H == RIN_FEATNET_IN_H && W == RIN_FEATNET_IN_W && C == RIN_FEATNET_IN_C)
        return RIN_STATUS_OK;
    return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                      "the feature network takes %dx%dx%d images (Fashion-MNIST, MNIST); these "
                      "are %dx%dx%d. Other image sizes are out of scope (docs/featnet.md)",
                      RIN_FEATNET_IN_H, RIN_FEATNET_IN_W, RIN_FEATNET_IN_C, H, W, C);
}

rin_status rin_featnet_create(rin_featnet **out, int max_batch, int train, char *err,
                              size_t errlen) {
    *out = NULL;
    if (max_batch < 1 || max_batch > (1 << 16))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "featnet: max_batch %d is outside [1, 65536]", max_batch);
    rin_status gst = rin_gemm_check(err, errlen); /* RIN_GEMM names a path this build runs */
    if (gst)
        return gst;
    rin_featnet *n = calloc(1, sizeof *n);
    if (!n)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
    n->max_batch = max_batch;
    n->train = train ? 1 : 0;
    n->last_B = -1;
    const size_t B = (size_t)max_batch;
    /* The arena: every activation and scratch buffer, each rounded to 64 bytes. In inference
     * mode col1 and col2 share memory (conv1's im2col is dead once conv2 starts). */
    struct {
        float **p;
        size_t n;
        int train_only;
    } parts[] = {
        {&n->col2, B * S2 * S2 * CW2, 0}, {&n->col1, B * S1 * S1 * CW1, 1},
        {&n->a1, B * S1 * S1 * C1, 0},    {&n->p1, B * Q1 * Q1 * C1, 0},
        {&n->a2, B * S2 * S2 * C2, 0},    {&n->p2, B * FLAT, 0},
        {&n->feat, B * HID, 0},           {&n->logits, B * NCLS, 0},
        {&n->dfeat, B * HID, 1},          {&n->dh, B * HID, 1},
        {&n->dp2, B * FLAT, 1},           {&n->da2, B * S2 * S2 * C2, 1},
        {&n->dz2, B * S2 * S2 * C2, 1},   {&n->dcol2, B * S2 * S2 * CW2, 1},
        {&n->dp1, B * Q1 * Q1 * C1, 1},   {&n->da1, B * S1 * S1 * C1, 1},
        {&n->dz1, B * S1 * S1 * C1, 1},
    };
    const size_t nparts = sizeof parts / sizeof parts[0];
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++)
        if (n->train || !parts[i].train_only)
            total += rin_round16(parts[i].n);
    n->params = rin_aligned_alloc(NPARAMS * sizeof(float));
    n->arena = rin_aligned_alloc(total * sizeof(float));
    n->iarena = rin_aligned_alloc((rin_round16(B * Q1 * Q1 * C1) + B * FLAT) * sizeof(int));
    if (!n->params || !n->arena || !n->iarena) {
        rin_featnet_free(n);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                          "featnet: out of memory for a batch of %d (%zu MB of activations)",
                          max_batch, total * sizeof(float) >> 20);
    }
    memset(n->params, 0, NPARAMS * sizeof(float));
    float *p = n->arena;
    for (size_t i = 0; i < nparts; i++) {
        if (!n->train && parts[i].train_only)
            continue;
        *parts[i].p = p;
        p += rin_round16(parts[i].n);
    }
    if (!n->train)
        n->col1 = n->col2;
    n->arg1 = n->iarena;
    n->arg2 = n->iarena + rin_round16(B * Q1 * Q1 * C1);
    *out = n;
    return RIN_STATUS_OK;
}

void rin_featnet_free(rin_featnet *n) {
    if (!n)
        return;
    free(n->params);
    free(n->arena);
    free(n->iarena);
    free(n);
}

void rin_featnet_init(rin_featnet *n, uint64_t seed) {
    rin_rng r;
    rin_rng_seed(&r, seed);
    for (int t = 0; t < RIN_FEATNET_NTENSORS; t++) {
        const rin_featnet_tensor *ti = &table[t];
        float *w = n->params + ti->offset;
        if (ti->ndim == 1) {
            memset(w, 0, ti->numel * sizeof *w);
            continue;
        }
        /* fc2 feeds the softmax (Glorot); the others feed a ReLU (He) */
        double limit = t == T_FC2_W ? sqrt(6.0 / (double)(ti->fan_in + ti->fan_out))
                                    : sqrt(6.0 / (double)ti->fan_in);
        for (size_t i = 0; i < ti->numel; i++)
            w[i] = (float)((2.0 * rin_rng_uniform(&r) - 1.0) * limit);
    }
}

/* ---- forward and backward ------------------------------------------------------------------ */

#define PARAM(n, t) ((n)->params + table[t].offset)

rin_status rin_featnet_forward(rin_featnet *n, const float *x, int B, float *features,
                               float *logits) {
    if (B < 1 || B > n->max_batch)
        return RIN_STATUS_ARG;
    /* conv1 + ReLU: (B,28,28,1) -> (B,24,24,32); pool -> (B,12,12,32) */
    rin_conv2d_forward(n->a1, n->col1, x, PARAM(n, T_CONV1_W), PARAM(n, T_CONV1_B), B, S0, S0,
                       RIN_FEATNET_IN_C, C1, K5, K5);
    rin_relu_forward(n->a1, n->a1, (size_t)B * S1 * S1 * C1);
    rin_maxpool2_forward(n->p1, n->arg1, n->a1, B, S1, S1, C1);
    /* conv2 + ReLU: -> (B,8,8,64); pool -> (B,4,4,64) = (B,1024) in (h,w,c) order */
    rin_conv2d_forward(n->a2, n->col2, n->p1, PARAM(n, T_CONV2_W), PARAM(n, T_CONV2_B), B, Q1, Q1,
                       C1, C2, K5, K5);
    rin_relu_forward(n->a2, n->a2, (size_t)B * S2 * S2 * C2);
    rin_maxpool2_forward(n->p2, n->arg2, n->a2, B, S2, S2, C2);
    /* fc1 + ReLU: the features (B,128) */
    rin_linear_forward(n->feat, n->p2, PARAM(n, T_FC1_W), PARAM(n, T_FC1_B), B, FLAT, HID,
                       RIN_PRECISION_FP32);
    rin_relu_forward(n->feat, n->feat, (size_t)B * HID);
    /* fc2: the logits (B,10) */
    rin_linear_forward(n->logits, n->feat, PARAM(n, T_FC2_W), PARAM(n, T_FC2_B), B, HID, NCLS,
                       RIN_PRECISION_FP32);
    if (features)
        memcpy(features, n->feat, (size_t)B * HID * sizeof *features);
    if (logits)
        memcpy(logits, n->logits, (size_t)B * NCLS * sizeof *logits);
    n->last_B = B;
    return RIN_STATUS_OK;
}

rin_status rin_featnet_backward(rin_featnet *n, const float *dlogits, const float *dfeatures,
                                float *grads) {
    if (!n->train || n->last_B < 1)
        return RIN_STATUS_ARG;
    const int B = n->last_B;
    const size_t nf = (size_t)B * HID, na2 = (size_t)B * S2 * S2 * C2;
    const size_t na1 = (size_t)B * S1 * S1 * C1;
#define GRAD(t) (grads + table[t].offset)
    /* logits = fc2(feat) */
    memset(n->dfeat, 0, nf * sizeof(float));
    if (dlogits)
        rin_linear_backward(n->dfeat, GRAD(T_FC2_W), GRAD(T_FC2_B), dlogits, n->feat,
                            PARAM(n, T_FC2_W), B, HID, NCLS, RIN_PRECISION_FP32);
    if (dfeatures)
        for (size_t i = 0; i < nf; i++)
            n->dfeat[i] += dfeatures[i];
    /* feat = relu(fc1(p2)) */
    memset(n->dh, 0, nf * sizeof(float));
    rin_relu_backward(n->dh, n->dfeat, n->feat, nf);
    memset(n->dp2, 0, (size_t)B * FLAT * sizeof(float));
    rin_linear_backward(n->dp2, GRAD(T_FC1_W), GRAD(T_FC1_B), n->dh, n->p2, PARAM(n, T_FC1_W), B,
                        FLAT, HID, RIN_PRECISION_FP32);
    /* p2 = maxpool(a2), a2 = relu(conv2(p1)) */
    memset(n->da2, 0, na2 * sizeof(float));
    rin_maxpool2_backward(n->da2, n->dp2, n->arg2, B, S2, S2, C2);
    memset(n->dz2, 0, na2 * sizeof(float));
    rin_relu_backward(n->dz2, n->da2, n->a2, na2);
    memset(n->dp1, 0, (size_t)B * Q1 * Q1 * C1 * sizeof(float));
    rin_conv2d_backward(n->dp1, GRAD(T_CONV2_W), GRAD(T_CONV2_B), n->dcol2, n->dz2, n->col2,
                        PARAM(n, T_CONV2_W), B, Q1, Q1, C1, C2, K5, K5);
    /* p1 = maxpool(a1), a1 = relu(conv1(x)); no gradient for x */
    memset(n->da1, 0, na1 * sizeof(float));
    rin_maxpool2_backward(n->da1, n->dp1, n->arg1, B, S1, S1, C1);
    memset(n->dz1, 0, na1 * sizeof(float));
    rin_relu_backward(n->dz1, n->da1, n->a1, na1);
    rin_conv2d_backward(NULL, GRAD(T_CONV1_W), GRAD(T_CONV1_B), NULL, n->dz1, n->col1,
                        PARAM(n, T_CONV1_W), B, S0, S0, RIN_FEATNET_IN_C, C1, K5, K5);
#undef GRAD
    return RIN_STATUS_OK;
}

/* ---- Adam ---------------------------------------------------------------------------------- */

rin_status rin_featnet_trainer_create(rin_featnet_trainer **out, rin_featnet *net, double lr,
                                      char *err, size_t errlen) {
    *out = NULL;
    if (!net->train)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "featnet: the trainer needs a net created in train mode");
    if (!(lr > 0.0 && lr < 1.0))
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "featnet: lr %g is outside (0, 1)", lr);
    rin_featnet_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
    t->net = net;
    t->lr = lr;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->grads = rin_aligned_alloc(NPARAMS * sizeof(float));
    t->m = rin_aligned_alloc(NPARAMS * sizeof(float));
    t->v = rin_aligned_alloc(NPARAMS * sizeof(float));
    t->dlogits = rin_aligned_alloc((size_t)net->max_batch * NCLS * sizeof(float));
    if (!t->grads || !t->m || !t->v || !t->dlogits) {
        rin_featnet_trainer_free(t);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
    }
    memset(t->m, 0, NPARAMS * sizeof(float));
    memset(t->v, 0, NPARAMS * sizeof(float));
    *out = t;
    return RIN_STATUS_OK;
}

void rin_featnet_trainer_free(rin_featnet_trainer *t) {
    if (!t)
        return;
    free(t->grads);
    free(t->m);
    free(t->v);
    free(t->dlogits);
    free(t);
}

rin_status rin_featnet_train_step(rin_featnet_trainer *t, const float *x, const int *labels, int B,
                                  double *loss) {
    rin_featnet *n = t->net;
    for (int b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= NCLS)
            return RIN_STATUS_ARG;
    rin_status s = rin_featnet_forward(n, x, B, NULL, NULL);
    if (s)
        return s;
    double l = rin_softmax_xent_forward_backward(t->dlogits, n->logits, labels, B, NCLS);
    if (loss)
        *loss = l;
    if (!isfinite(l))
        return RIN_STATUS_NONFINITE;
    memset(t->grads, 0, NPARAMS * sizeof(float));
    s = rin_featnet_backward(n, t->dlogits, NULL, t->grads);
    if (s)
        return s;
    double g2 = 0.0;
    for (size_t i = 0; i < NPARAMS; i++)
        g2 += (double)t->grads[i] * (double)t->grads[i];
    if (!isfinite(g2))
        return RIN_STATUS_NONFINITE;
    /* PyTorch Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), bc_i = 1 - b_i^k */
    const long k = t->step + 1;
    const double bc1 = 1.0 - pow(t->beta1, (double)k), bc2 = 1.0 - pow(t->beta2, (double)k);
    const float b1 = (float)t->beta1, b2 = (float)t->beta2;
    const float step = (float)(t->lr / bc1), rsb2 = (float)(1.0 / sqrt(bc2));
    const float eps = (float)t->eps;
    float *w = n->params, *m = t->m, *v = t->v;
    const float *g = t->grads;
#pragma omp parallel for
    for (size_t i = 0; i < NPARAMS; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        w[i] -= step * m[i] / (sqrtf(v[i]) * rsb2 + eps);
    }
    t->step = k;
    return RIN_STATUS_OK;
}

/* ---- datasets: accuracy and the training loop ---------------------------------------------- */

static rin_status check_dataset(const rin_dataset *d, const char *what, char *err, size_t errlen) {
    rin_status s = rin_featnet_check_size(d->H, d->W, d->C, err, errlen);
    if (s) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err ? err : "");
        return rin_errorf(err, errlen, s, "%s (%s): %s", what, d->name, msg);
    }
    if (!d->labels || d->n < 1)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s (%s) has no labeled images", what,
                          d->name);
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= NCLS)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s (%s): label %d of image %d is outside [0, %d)", what, d->name,
                              d->labels[i], i, NCLS);
    return RIN_STATUS_OK;
}

rin_status rin_featnet_accuracy(rin_featnet *n, const rin_dataset *d, double *acc, long *correct,
                                char *err, size_t errlen) {
    rin_status s = check_dataset(d, "accuracy set", err, errlen);
    if (s)
        return s;
    const size_t per = (size_t)S0 * S0 * RIN_FEATNET_IN_C;
    float *x = malloc((size_t)n->max_batch * per * sizeof *x);
    if (!x)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
    float lut[256];
    for (int u = 0; u < 256; u++)
        lut[u] = 2.0f * (float)u / 255.0f - 1.0f; /* as rin_batcher_next */
    long hits = 0;
    for (int i0 = 0; i0 < d->n; i0 += n->max_batch) {
        int B = d->n - i0 < n->max_batch ? d->n - i0 : n->max_batch;
        const uint8_t *src = d->images + (size_t)i0 * per;
        for (size_t k = 0; k < (size_t)B * per; k++)
            x[k] = lut[src[k]];
        rin_featnet_forward(n, x, B, NULL, NULL);
        for (int b = 0; b < B; b++) {
            const float *z = n->logits + (size_t)b * NCLS;
            int best = 0;
            for (int c = 1; c < NCLS; c++)
                if (z[c] > z[best])
                    best = c;
            hits += best == d->labels[i0 + b];
        }
    }
    free(x);
    if (acc)
        *acc = (double)hits / (double)d->n;
    if (correct)
        *correct = hits;
    return RIN_STATUS_OK;
}

rin_status rin_featnet_train(rin_featnet *n, const rin_featnet_train_opts *o,
                             const rin_dataset *train, const rin_dataset *test,
                             rin_featnet_epoch_fn on_epoch, void *user, double *test_acc, char *err,
                             size_t errlen) {
    if (o->epochs < 1 || o->batch < 1 || o->batch > n->max_batch)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "featnet: need epochs >= 1 and 1 <= batch <= %d (got %d, %d)",
                          n->max_batch, o->epochs, o->batch);
    rin_status s = check_dataset(train, "training set", err, errlen);
    if (!s && test)
        s = check_dataset(test, "test set", err, errlen);
    if (s)
        return s;
    rin_featnet_trainer *t;
    if ((s = rin_featnet_trainer_create(&t, n, o->lr, err, errlen)))
        return s;
    rin_batcher bt;
    if ((s = rin_batcher_init(&bt, train, o->seed, o->flip, 0, 0))) {
        rin_featnet_trainer_free(t);
        return rin_errorf(err, errlen, s, "featnet: cannot create the batcher");
    }
    const size_t per = (size_t)S0 * S0 * RIN_FEATNET_IN_C;
    float *x = malloc((size_t)o->batch * per * sizeof *x);
    int *labels = malloc((size_t)o->batch * sizeof *labels);
    if (!x || !labels) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
        goto done;
    }
    double t0 = rin_time_seconds(), acc = (double)NAN;
    const long steps_per_epoch = (train->n + o->batch - 1) / o->batch;
    const long total = steps_per_epoch * o->epochs;
    const double pi = 3.14159265358979323846;
    for (int e = 0; e < o->epochs; e++) {
        /* exactly one pass: the batcher moves to the next permutation after n images */
        double sum = 0.0;
        for (long seen = 0; seen < train->n;) {
            int B = train->n - seen < o->batch ? (int)(train->n - seen) : o->batch;
            rin_batcher_next(&bt, B, 1.0f, x, labels);
            double loss = (double)NAN;
            t->lr =
                o->cosine ? o->lr * 0.5 * (1.0 + cos(pi * (double)t->step / (double)total)) : o->lr;
            s = rin_featnet_train_step(t, x, labels, B, &loss);
            if (s) {
                s = rin_errorf(err, errlen, s, "featnet: epoch %d, step %ld: %s (loss %g)", e + 1,
                               t->step + 1, rin_status_str(s), loss);
                goto done;
            }
            sum += loss * B;
            seen += B;
        }
        if (test && (s = rin_featnet_accuracy(n, test, &acc, NULL, err, errlen)))
            goto done;
        if (on_epoch)
            on_epoch(user, e + 1, o->epochs, sum / (double)train->n, acc, rin_time_seconds() - t0);
    }
    if (test_acc)
        *test_acc = acc;
done:
    free(x);
    free(labels);
    rin_batcher_free(&bt);
    rin_featnet_trainer_free(t);
    return s;
}

/* ---- files ------------------------------------------------------------------------------- */

rin_status rin_featnet_save(const rin_featnet *n, const char *path, const char *const *extra_meta,
                            char *err, size_t errlen) {
    rin_st_writer *w = rin_st_writer_new();
    if (!w)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "featnet: out of memory");
    char nparams[32];
    snprintf(nparams, sizeof nparams, "%zu", NPARAMS);
    rin_status s = rin_st_writer_meta(w, "format", RIN_FEATNET_FORMAT);
    if (!s)
        s = rin_st_writer_meta(w, "version", "1");
    if (!s)
        s = rin_st_writer_meta(w, "architecture", RIN_FEATNET_ARCH);
    if (!s)
        s = rin_st_writer_meta(w, "input", "NHWC (B,28,28,1) float32, x = 2u/255 - 1 for uint8 u");
    if (!s)
        s = rin_st_writer_meta(w, "features", "fc1 after ReLU, 128");
    if (!s)
        s = rin_st_writer_meta(w, "num_params", nparams);
    for (int i = 0; !s && extra_meta && extra_meta[i]; i += 2) {
        if (!extra_meta[i + 1]) {
            s = rin_errorf(err, errlen, RIN_STATUS_ARG, "featnet: metadata key %s has no value",
                           extra_meta[i]);
            rin_st_writer_free(w);
            return s;
        }
        s = rin_st_writer_meta(w, extra_meta[i], extra_meta[i + 1]);
    }
    for (int t = 0; !s && t < RIN_FEATNET_NTENSORS; t++)
        s = rin_st_writer_add(w, table[t].name, RIN_DTYPE_F32, table[t].ndim, table[t].shape,
                              n->params + table[t].offset);
    if (s) {
        rin_st_writer_free(w);
        return rin_errorf(err, errlen, s, "%s: cannot build the file: %s", path, rin_status_str(s));
    }
    s = rin_st_writer_save(w, path, err, errlen);
    rin_st_writer_free(w);
    return s;
}

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
}

rin_status rin_featnet_load(rin_featnet **out, const char *path, int max_batch, int train,
                            char *err, size_t errlen) {
    *out = NULL;
    rin_st_file *f;
    rin_status s = rin_st_read(&f, path, err, errlen);
    if (s)
        return s;
    const char *fmt = rin_st_meta(f, "format"), *arch = rin_st_meta(f, "architecture");
    if (!fmt || strcmp(fmt, RIN_FEATNET_FORMAT)) {
        s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                       "%s: not a feature network file (metadata format is '%s', expected '%s')",
                       path, fmt ? fmt : "(none)", RIN_FEATNET_FORMAT);
        goto fail;
    }
    if (!arch || strcmp(arch, RIN_FEATNET_ARCH)) {
        s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                       "%s: architecture '%s' differs from this build's '%s'", path,
                       arch ? arch : "(none)", RIN_FEATNET_ARCH);
        goto fail;
    }
    for (int t = 0; t < RIN_FEATNET_NTENSORS; t++) {
        const rin_featnet_tensor *ti = &table[t];
        const rin_st_tensor *st = rin_st_find(f, ti->name);
        if (!st) {
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: tensor %s is missing", path,
                           ti->name);
            goto fail;
        }
        int same = st->ndim == ti->ndim;
        for (int i = 0; same && i < ti->ndim; i++)
            same = st->shape[i] == ti->shape[i];
        if (!same) {
            char a[64], b[64];
            format_shape(a, sizeof a, ti->ndim, ti->shape);
            format_shape(b, sizeof b, st->ndim, st->shape);
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                           "%s: tensor %s: expected shape %s, file has %s", path, ti->name, a, b);
            goto fail;
        }
        if (st->dtype != RIN_DTYPE_F32) {
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                           "%s: tensor %s: expected dtype F32, file has %s", path, ti->name,
                           rin_dtype_name(st->dtype));
            goto fail;
        }
    }
    for (int i = 0; i < f->ntensors; i++) {
        int known = 0;
        for (int t = 0; t < RIN_FEATNET_NTENSORS && !known; t++)
            known = !strcmp(f->tensors[i].name, table[t].name);
        if (!known) {
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                           "%s: tensor %s is not a parameter of the feature network", path,
                           f->tensors[i].name);
            goto fail;
        }
    }
    rin_featnet *n;
    if ((s = rin_featnet_create(&n, max_batch, train, err, errlen)))
        goto fail;
    for (int t = 0; t < RIN_FEATNET_NTENSORS; t++)
        memcpy(n->params + table[t].offset, rin_st_data(f, rin_st_find(f, table[t].name)),
               table[t].numel * sizeof(float));
    rin_st_free(f);
    if ((s = rin_file_sha256_hex(path, n->sha256, err, errlen))) {
        rin_featnet_free(n);
        return s;
    }
    *out = n;
    return RIN_STATUS_OK;
fail:
    rin_st_free(f);
    return s;
}
