/* featnet.h -- the evaluation feature network: a LeNet-style CNN for 28x28x1 images
 * (shared/spec/evaluation.md section 4.2).
 *
 *   x (B,28,28,1) in [-1, 1]  (x = 2u/255 - 1 of uint8 pixels u, NHWC)
 *   conv5x5(1->32)  ReLU  maxpool2   -> (B,24,24,32) -> (B,12,12,32)
 *   conv5x5(32->64) ReLU  maxpool2   -> (B,8,8,64)   -> (B,4,4,64)
 *   flatten in (h, w, c) order       -> (B,1024)
 *   fc(1024->128) ReLU               -> (B,128)  the FEATURES (FD, KID)
 *   fc(128->10)                      -> (B,10)   the LOGITS (classifier score)
 *
 * 184,586 parameters in one float buffer, laid out by the table below (conv weights
 * (Co,kh,kw,Ci), fc weights PyTorch (out,in)). It is trained once on the Fashion-MNIST
 * training split, frozen, and committed as models/featnet-fmnist.safetensors; every score
 * computed on its features is printed with the file's SHA-256 (docs/featnet.md).
 *
 * What this is not: a general CNN. Only 28x28x1 inputs are accepted (rin_featnet_check_size
 * rejects others with a message); MNIST-format data would work, CIFAR-10 needs another network.
 * A PyTorch port must permute conv weights to (Co,Ci,kh,kw) and the columns of fc1_w from
 * (h,w,c) to (c,h,w) order.
 *
 * Usage (errors: a rin_status plus a message in err):
 *
 *     rin_featnet *net;
 *     rin_featnet_load(&net, "models/featnet-fmnist.safetensors", 500, 0, err, sizeof err);
 *     rin_featnet_forward(net, x, B, features, logits);   // x (B,28,28,1), B <= 500
 *     printf("featnet sha256 %s\n", net->sha256);
 *     rin_featnet_free(net);
 */
#ifndef RIN_FEATNET_H
#define RIN_FEATNET_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "rin.h"

#define RIN_FEATNET_IN_H     28
#define RIN_FEATNET_IN_W     28
#define RIN_FEATNET_IN_C     1
#define RIN_FEATNET_FEATURES 128
#define RIN_FEATNET_CLASSES  10
#define RIN_FEATNET_NTENSORS 8
#define RIN_FEATNET_FORMAT   "rin-featnet"
/* Stored in the file's metadata; a file with another string is rejected. */
#define RIN_FEATNET_ARCH                                                                           \
    "x(28,28,1) > conv5x5(1->32) relu maxpool2 > conv5x5(32->64) relu maxpool2 > "                 \
    "flatten(h,w,c) 1024 > fc(1024->128) relu = features > fc(128->10) = logits"

/* One parameter tensor: name, shape, and where it lives in the parameter buffer. */
typedef struct rin_featnet_tensor {
    const char *name;
    int ndim;
    int64_t shape[4];
    size_t offset; /* floats from the start of the buffer */
    size_t numel;
    int fan_in, fan_out; /* for the initialisation */
} rin_featnet_tensor;

/* The table, in buffer and file order: conv1_w (32,5,5,1), conv1_b (32), conv2_w (64,5,5,32),
 * conv2_b (64), fc1_w (128,1024), fc1_b (128), fc2_w (10,128), fc2_b (10). */
const rin_featnet_tensor *rin_featnet_table(void);
size_t rin_featnet_num_params(void); /* 184,586 */

typedef struct rin_featnet {
    float *params;   /* (num_params), table layout */
    int max_batch;   /* the arena's batch */
    int train;       /* the arena holds backward scratch */
    char sha256[65]; /* of the file it was loaded from; "" when not loaded */
    /* activations of the last forward, B <= max_batch; one allocation (arena) */
    float *arena;
    int *iarena;
    float *col1;   /* (B*24*24, 25) im2col of x (aliases col2 when !train) */
    float *a1;     /* (B,24,24,32) conv1 + ReLU */
    float *p1;     /* (B,12,12,32) */
    int *arg1;     /* (B,12,12,32) pooling argmax */
    float *col2;   /* (B*8*8, 800) im2col of p1 */
    float *a2;     /* (B,8,8,64) conv2 + ReLU */
    float *p2;     /* (B,4,4,64) = (B,1024) */
    int *arg2;     /* (B,4,4,64) */
    float *feat;   /* (B,128) fc1 + ReLU */
    float *logits; /* (B,10) */
    /* backward scratch (train only) */
    float *dfeat, *dh; /* (B,128) after and before the ReLU */
    float *dp2;        /* (B,1024) */
    float *da2, *dz2;  /* (B,8,8,64) after and before the ReLU */
    float *dcol2;      /* (B*8*8, 800) */
    float *dp1;        /* (B,12,12,32) */
    float *da1, *dz1;  /* (B,24,24,32) */
    int last_B;        /* batch of the last forward, -1 before one */
} rin_featnet;

/* Allocates the parameters (zero) and an arena for batches up to max_batch; train = 1 adds the
 * backward scratch. */
rin_status rin_featnet_create(rin_featnet **out, int max_batch, int train, char *err,
                              size_t errlen);
void rin_featnet_free(rin_featnet *n);
/* He uniform (limit sqrt(6/fan_in)) for the layers followed by a ReLU, Glorot uniform
 * (sqrt(6/(fan_in+fan_out))) for fc2, zero biases; drawn in table order from rin_rng(seed). */
void rin_featnet_init(rin_featnet *n, uint64_t seed);

/* RIN_STATUS_OK for 28x28x1; otherwise RIN_STATUS_FORMAT with a message naming both sizes. */
rin_status rin_featnet_check_size(int H, int W, int C, char *err, size_t errlen);

/* x (B,28,28,1) in [-1, 1], 1 <= B <= max_batch. Copies the features (B,128) and logits (B,10)
 * into the arguments that are not NULL; they also stay in n->feat and n->logits. */
rin_status rin_featnet_forward(rin_featnet *n, const float *x, int B, float *features,
                               float *logits);
/* After a forward of batch B on a train-mode net: grads (num_params, table layout) +=
 * d/dparams of sum(dlogits * logits) + sum(dfeatures * features). dlogits (B,10) and
 * dfeatures (B,128) may each be NULL (zero). */
rin_status rin_featnet_backward(rin_featnet *n, const float *dlogits, const float *dfeatures,
                                float *grads);

/* Adam (PyTorch's torch.optim.Adam: no weight decay, bias-corrected, eps outside the square
 * root) over the parameter buffer. */
typedef struct rin_featnet_trainer {
    rin_featnet *net;
    float *grads, *m, *v; /* (num_params) each */
    float *dlogits;       /* (max_batch,10) */
    double lr;            /* of the next step; rin_featnet_train sets it per step */
    double beta1, beta2, eps;
    long step; /* updates done */
} rin_featnet_trainer;

/* net must be in train mode. beta1 0.9, beta2 0.999, eps 1e-8. */
rin_status rin_featnet_trainer_create(rin_featnet_trainer **out, rin_featnet *net, double lr,
                                      char *err, size_t errlen);
void rin_featnet_trainer_free(rin_featnet_trainer *t);
/* One Adam step on the mean cross-entropy of a batch x (B,28,28,1), labels (B) in [0,10).
 * *loss: the batch's loss before the update. RIN_STATUS_NONFINITE (weights untouched) when the
 * loss or a gradient is not finite. */
rin_status rin_featnet_train_step(rin_featnet_trainer *t, const float *x, const int *labels, int B,
                                  double *loss);

/* Fraction of d's images whose argmax logit equals the label, in batches of n->max_batch in
 * dataset order. d must be 28x28x1 with labels in [0,10). correct may be NULL. */
rin_status rin_featnet_accuracy(rin_featnet *n, const rin_dataset *d, double *acc, long *correct,
                                char *err, size_t errlen);

typedef struct rin_featnet_train_opts {
    int epochs;    /* 10 for the committed network */
    int batch;     /* 128; <= the net's max_batch */
    double lr;     /* 1e-3: the peak learning rate */
    int cosine;    /* 1: lr (1 + cos(pi k / K)) / 2 at step k of K (no warm-up); 0: constant */
    int flip;      /* 1: random horizontal flips of training images (rin_batcher) */
    uint64_t seed; /* shuffling and flips (rin_batcher); the caller initialises the weights */
} rin_featnet_train_opts;

/* Called after every epoch (1-based) with the mean training loss over the epoch, the test
 * accuracy (NaN without a test set) and the seconds since training started. */
typedef void (*rin_featnet_epoch_fn)(void *user, int epoch, int epochs, double train_loss,
                                     double test_acc, double seconds);

/* Trains n (train mode, initialised by the caller) for opts->epochs exact passes over train
 * (each epoch a fresh permutation, the last batch of an epoch smaller), then measures accuracy
 * on test (may be NULL). *test_acc (may be NULL) receives the final test accuracy. */
rin_status rin_featnet_train(rin_featnet *n, const rin_featnet_train_opts *opts,
                             const rin_dataset *train, const rin_dataset *test,
                             rin_featnet_epoch_fn on_epoch, void *user, double *test_acc, char *err,
                             size_t errlen);

/* Writes the parameters as F32 tensors under the table names, atomically. Metadata: format
 * "rin-featnet", version, architecture, input convention, then the NULL-terminated key/value
 * pairs of extra_meta (may be NULL), e.g. training command, epochs, seed, test accuracy. */
rin_status rin_featnet_save(const rin_featnet *n, const char *path, const char *const *extra_meta,
                            char *err, size_t errlen);
/* Reads a file written by rin_featnet_save into a new net (max_batch, train as in create),
 * checking the format, architecture, and every tensor's presence, dtype and shape (messages
 * name the tensor); extra tensors are rejected. Sets n->sha256 to the file's SHA-256. */
rin_status rin_featnet_load(rin_featnet **out, const char *path, int max_batch, int train,
                            char *err, size_t errlen);

#endif /* RIN_FEATNET_H */
