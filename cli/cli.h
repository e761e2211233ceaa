/* cli.h -- shared pieces of the `rin` command line (the files of cli/): command entry points
 * (rin.c dispatches to them), and the helpers of common.c: fatal errors, option values and
 * key=value settings. Process concerns live here, never in librin; so do pages for people
 * (report.h). */
#ifndef RIN_CLI_H
#define RIN_CLI_H

#include <stdio.h>

#include <stdint.h>

#include "imageio.h"
#include "report.h"
#include "rin.h"

int cmd_init(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_featnet(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "rin: <message>" to stderr and exits with status 1; in an MPI job of several ranks
 * the message names the rank and every rank stops (MPI_Abort). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Parses an unsigned or signed integer option value, dying with a message naming the option. */
unsigned long long parse_u64(const char *opt, const char *v);
long parse_long(const char *opt, const char *v, long lo, long hi);
double parse_double(const char *opt, const char *v);

/* Splits "key=value" into key (cap bytes) and returns the value, or dies naming the text. */
const char *split_kv(const char *text, char *key, size_t cap, const char *what);

/* A config file: "key = value" lines, '#' starts a comment. Calls set(user, key, value, where)
 * for each, where = "FILE:LINE: " for messages; dies on an unreadable file or a bad line. */
/* key=value into the model config or the training config, whichever owns the key: 1 when set,
 * 0 when neither does; dies naming `where` on a bad value. */
int set_model_or_train_key(rin_config *model, rin_train_config *train, const char *key,
                           const char *value, const char *where);
typedef void (*settings_fn)(void *user, const char *key, const char *value, const char *where);
void read_settings_file(const char *path, settings_fn set, void *user);
/* --scale: "auto" -> 0 (rin_grid_auto_scale), else a whole number 1-64; dies naming opt. */
int parse_scale(const char *opt, const char *v);

/* ---- provenance: the text chunks of every PNG of samples (docs/training.md) ---- */
#define PROVENANCE_MAX 24
typedef struct png_provenance {
    rin_png_text text[PROVENANCE_MAX]; /* (n), values pointing into `values` */
    int n;
    char values[PROVENANCE_MAX][640];
} png_provenance;
/* Appends key = the formatted value (as printable Latin-1; see rin_png_text_latin1). */
void provenance_add(png_provenance *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts p with Software = rin and the checkpoint sampled: its path, the SHA-256 of its bytes
 * (checkpoint_sha256), its training step (metadata "step", or "unknown") and the weights used
 * (ema or raw). Dies when the file cannot be read. */
void provenance_checkpoint(png_provenance *p, const char *path, const char *weights);
/* Appends how the images were sampled: sampler, spacing, steps, seed, guidance, schedule, and
 * td, latent_carry and self_cond when they differ from the defaults. */
void provenance_sampler(png_provenance *p, const rin_sample_config *sc);

/* ---- sampling options shared by rin sample, rin eval and their video forms ---- */
enum { OPT_SAMPLER = 0x100, OPT_SPACING, OPT_SCHEDULE, OPT_LATENT_CARRY };
/* The long options of how to sample (docs/sampling.md); a command's option table lists them
 * and passes what getopt_long returns to sampling_option. */
// clang-format off
#define SAMPLING_OPTIONS                                         \
    {"sampler", required_argument, 0, OPT_SAMPLER},              \
    {"spacing", required_argument, 0, OPT_SPACING},              \
    {"schedule", required_argument, 0, OPT_SCHEDULE},            \
    {"latent-carry", required_argument, 0, OPT_LATENT_CARRY}
// clang-format on
/* The usage lines of SAMPLING_OPTIONS, in rin sample's layout. */
#define SAMPLING_USAGE                                                                             \
    "  --sampler S        ddpm (= ddpm@large), ddpm@small, ddim (the paper's); euler,\n"           \
    "                     euler_a, heun, dpm++2m (rin's; docs/sampling.md)\n"                      \
    "  --spacing P        noise levels: t, logsnr, karras (default auto = t)\n"                    \
    "  --schedule S       gamma(t) of the t spacing (default cosine; also\n"                       \
    "                     cosine@s,e,tau, sigmoid@s,e,tau, simple_linear)\n"                       \
    "  --latent-carry C   call (default: each network call gets the previous call's\n"             \
    "                     latents) or step (heun's corrector calls do not pass theirs on)\n"
/* Applies option `opt` (one of SAMPLING_OPTIONS) with value v to sc, dying with a message that
 * names the option when the value is not valid; returns 0 when opt is not one of them. */
int sampling_option(rin_sample_config *sc, int opt, const char *v);

/* ---- video (cli/video.c, docs/video.md) ---- */
typedef struct rin_video_source rin_video_source;
/* Opens the clip source of a video model's run, clips of seq_len + extra frames (roll-out
 * training reads one block more; rin_video_batch reads whole clips); an image dataset source such
 * as "fmnist" means moving items of it ("mmnist:fmnist"). Dies on failure. */
rin_video_source *video_open_for(const rin_config *c, const char *data, uint64_t seed, int extra);
/* 1 when `path` is a checkpoint of a video model (seq_len > 0 in its metadata). */
int video_model_file(const char *path);
/* 1 when argv has --model naming a video checkpoint (sample and eval dispatch on it). */
int video_args_name_video_model(int argc, char **argv);
/* Samples the predicted frames (N, T - Nc, H, W, C) of N clips from their conditioning frames
 * cond (N, Nc, H, W, C), max_batch clips per rin_sample call. */
void video_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                   int max_batch, float *out);
/* A PNG strip: per clip a row of the true clip, then a row of conditioning + predicted frames;
 * enlarged `scale` times (0: automatic, rin_grid_auto_scale), with the text chunks of prov
 * (NULL: none). */
void video_write_strip(const char *path, const rin_config *c, const float *cond, const float *truth,
                       const float *pred, int N, float b, int scale, const png_provenance *prov);
/* An animated GIF: per clip the truth beside the prediction, frame by frame, enlarged `scale`
 * times (0: automatic). */
void video_write_gif(const char *path, const rin_config *c, const float *cond, const float *truth,
                     const float *pred, int N, float b, int scale);
/* Samples N fixed held-out clips of src and writes their strip to path (training previews). */
void video_preview(const char *path, rin_ctx *ctx, const rin_video_source *src,
                   const rin_sample_config *sc, int N, float b, int scale,
                   const png_provenance *prov);
int cmd_sample_video(int argc, char **argv);
int cmd_eval_video(int argc, char **argv);

#endif /* RIN_CLI_H */
