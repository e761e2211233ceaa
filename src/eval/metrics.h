/* metrics.h -- sample-quality metrics in float64 (shared/spec/evaluation.md sections 3-6):
 * Frechet distance on features (symmetric eigen route with LAPACKE), KID (unbiased MMD^2 with
 * the cubic polynomial kernel over random subsets), the classifier score (the Inception Score
 * analogue), and the video metrics PSNR and SSIM. Feature extraction may run in float32; every
 * statistic here is double.
 */
#ifndef RIN_METRICS_H
#define RIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

/* Mean and unbiased (N-1) covariance of n feature vectors of dimension d. */
typedef struct rin_feature_stats {
    int d;
    long n;
    double *mu;  /* (d) */
    double *cov; /* (d, d), symmetric */
} rin_feature_stats;

/* feats: (n, d) float32 row-major. n >= 2. */
rin_status rin_stats_compute(rin_feature_stats *s, const float *feats, long n, int d, char *err,
                             size_t errlen);
void rin_stats_free(rin_feature_stats *s);

/* FD = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr sqrt(S1 S2), with Tr sqrt(S1 S2) computed as
 * sum sqrt(max(eig(sqrt(S1) S2 sqrt(S1)), 0)) (two dsyevd calls). Not clamped: a tiny
 * negative result is returned as is. */
rin_status rin_frechet_distance(double *fd, const rin_feature_stats *a, const rin_feature_stats *b,
                                char *err, size_t errlen);
/* The symmetric PSD square root V diag(sqrt(max(w,0))) V^T of a (d,d) symmetric matrix. */
rin_status rin_sqrtm_psd(double *out, const double *A, int d);

/* Unbiased MMD^2 of X (m,d) and Y (n,d) with k(x,y) = (x.y/d + 1)^3 (KID), in double. */
double rin_kid_mmd2(const double *X, long m, const double *Y, long n, int d);
/* KID over `subsets` random subsets of `subset_size` (without replacement, from a seed), as
 * torch-fidelity: mean and std over subsets. subset_size is reduced to min(nx, ny) if larger. */
rin_status rin_kid(double *mean, double *std, const float *X, long nx, const float *Y, long ny,
                   int d, int subsets, int subset_size, uint64_t seed, char *err, size_t errlen);

/* Classifier score exp(E KL(p(y|x) || p(y))) from logits (n, K), over `splits` splits of a
 * seeded shuffle (torch-fidelity's protocol); mean and std over splits. */
rin_status rin_classifier_score(double *mean, double *std, const float *logits, long n, int K,
                                int splits, uint64_t seed, char *err, size_t errlen);

/* PSNR = 10 log10(max^2 / MSE) over n values; +INFINITY for identical inputs. */
double rin_psnr(const float *a, const float *b, size_t n, double max_val);
/* SSIM (Wang et al. 2004; tf.image.ssim): 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03,
 * valid filtering, mean of the map over pixels and channels. a, b: (H, W, C), range L. */
double rin_ssim(const float *a, const float *b, int H, int W, int C, double L);

#endif /* RIN_METRICS_H */
