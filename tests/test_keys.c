/* test_keys.c -- the settings-table engine (src/base/keys.h) and the tables that use it:
 *   - every key type sets from text, reads back as the same text, and refuses bad text with a
 *     message naming the key and what was expected, leaving the struct as it was;
 *   - defaults, formatting, --help listings, range checks, joined names, preset text;
 *   - the model, training and run keys keep their fixed order (checkpoint metadata, config.txt
 *     and `rin train --help` depend on it), and every preset and the training defaults equal,
 *     byte for byte, what the code before the engine produced (copied below as it was).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keys.h"
#include "test.h"

typedef struct demo {
    int i, flag, mode, n, list[4];
    long l;
    uint64_t u;
    float rate;
    double d, secs;
    char s[8], checked[8];
} demo;

static rin_status check_abc(const char *v, char *err, size_t errlen) {
    if (strspn(v, "abc") != strlen(v))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "'%s' has letters other than a, b, c", v);
    return RIN_STATUS_OK;
}

static const char *const modes[] = {"off", "low", "high", NULL};

#define F(f) RIN_KEY_FIELD(demo, f)
// clang-format off
static const rin_key demo_keys[] = {
    {"i",       RIN_KEY_INT,      F(i),    .lo = -5, .hi = 5, .def = "3", .help = "an int"},
    {"l",       RIN_KEY_LONG,     F(l),    .lo = 0, .hi = 1e12, .def = "1000000000000"},
    {"u",       RIN_KEY_U64,      F(u),    .def = "18446744073709551615"},
    {"flag",    RIN_KEY_BOOL,     F(flag), .def = "true", .help = "a bool"},
    {"rate",    RIN_KEY_FLOAT,    F(rate), .lo = 0, .hi = 1, .flags = RIN_KEY_OPEN_HI,
                .def = "0.1"},
    {"d",       RIN_KEY_DOUBLE,   F(d),    .lo = 0, .hi = 10, .flags = RIN_KEY_FINITE,
                .def = "3e-3"},
    {"secs",    RIN_KEY_DOUBLE,   F(secs), .lo = 0, .hi = (double)INFINITY, .what = "seconds >= 0"},
    {"s",       RIN_KEY_STRING,   F(s),    .def = "abc"},
    {"checked", RIN_KEY_STRING,   F(checked), .check = check_abc},
    {"mode",    RIN_KEY_ENUM,     F(mode), .choices = modes, .def = "high"},
    {"list",    RIN_KEY_INT_LIST, offsetof(demo, list), 4, offsetof(demo, n), .lo = 0, .hi = 9,
                .def = "1,2"},
};
// clang-format on
#undef F
#define NDEMO ((int)(sizeof demo_keys / sizeof demo_keys[0]))

static const rin_key *demo_key(const char *name) {
    int i = rin_keys_find(demo_keys, NDEMO, name);
    RIN_ASSERT(i >= 0);
    return &demo_keys[i];
}

TEST(keys_set_get_round_trip_every_type) {
    struct {
        const char *key, *in, *out; /* out: what get gives back */
    } cases[] = {
        {"i", "-5", "-5"},
        {"i", "+4", "4"},
        {"l", "999999999999", "999999999999"},
        {"u", "18446744073709551615", "18446744073709551615"},
        {"flag", "false", "0"},
        {"flag", "1", "1"},
        {"rate", "0.1", "0.1"},
        {"rate", "0", "0"},
        {"d", "0.003", "0.003"},
        {"d", "7.25", "7.25"},
        {"secs", "inf", "inf"},
        {"s", "1234567", "1234567"},
        {"checked", "cab", "cab"},
        {"mode", "low", "low"},
        {"list", "9,0,3,4", "9,0,3,4"},
        {"list", "7", "7"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        demo d;
        memset(&d, 0, sizeof d);
        char err[256] = "", v[64];
        const rin_key *k = demo_key(cases[c].key);
        CHECK_MSG(rin_key_set(k, &d, cases[c].in, err, sizeof err) == RIN_STATUS_OK, "%s=%s: %s",
                  cases[c].key, cases[c].in, err);
        rin_key_get(k, &d, v, sizeof v);
        CHECK_MSG(!strcmp(v, cases[c].out), "%s=%s reads back as '%s', not '%s'", cases[c].key,
                  cases[c].in, v, cases[c].out);
        /* and the text read back sets the same bytes */
        demo e;
        memset(&e, 0, sizeof e);
        CHECK(rin_key_set(k, &e, v, NULL, 0) == RIN_STATUS_OK);
        CHECK_MSG(!memcmp(&d, &e, sizeof d), "%s: '%s' does not read back", cases[c].key, v);
    }
    /* the values land in their own fields, with the right types */
    demo d;
    memset(&d, 0, sizeof d);
    CHECK(rin_key_set(demo_key("rate"), &d, "0.1", NULL, 0) == 0 && d.rate == 0.1f);
    CHECK(rin_key_set(demo_key("d"), &d, "3e-3", NULL, 0) == 0 && d.d == 3e-3);
    CHECK(rin_key_set(demo_key("l"), &d, "1000000000000", NULL, 0) == 0 && d.l == 1000000000000L);
    CHECK(rin_key_set(demo_key("mode"), &d, "high", NULL, 0) == 0 && d.mode == 2);
    CHECK(rin_key_set(demo_key("list"), &d, "5,6,7", NULL, 0) == 0 && d.n == 3);
    CHECK(d.list[0] == 5 && d.list[1] == 6 && d.list[2] == 7 && d.list[3] == 0);
}

TEST(keys_refuse_bad_values_naming_key_and_expectation) {
    struct {
        const char *key, *in, *msg; /* the whole message */
    } cases[] = {
        {"i", "x", "i: 'x' is not an integer"},
        {"i", "3.5", "i: '3.5' is not an integer"},
        {"i", "6", "i: 6 is out of range [-5, 5]"},
        {"i", "99999999999999999999", "i: '99999999999999999999' is not an integer"},
        {"l", "1000000000001", "l: 1000000000001 is out of range [0, 1000000000000]"},
        {"u", "-1", "u: '-1' is not a non-negative integer"},
        {"flag", "yes", "flag: 'yes' is not a boolean (expected 1, 0, true or false)"},
        {"rate", "1", "rate: 1 is out of range [0, 1)"},
        {"rate", "nan", "rate: nan is out of range [0, 1)"},
        {"rate", "fast", "rate: 'fast' is not a number"},
        {"d", "inf", "d: 'inf' is not a number"},
        {"d", "-1", "d: -1 is out of range [0, 10]"},
        {"secs", "-1", "secs: -1 (expected seconds >= 0)"},
        {"s", "12345678", "s: '12345678' is too long"},
        {"checked", "abd", "checked: 'abd' has letters other than a, b, c"},
        {"mode", "medium", "mode: 'medium' is not supported (expected off, low or high)"},
        {"mode", "1", "mode: '1' is not supported (expected off, low or high)"},
        {"list", "1,,2", "list: '1,,2' is not a comma-separated list of integers"},
        {"list", "1,x", "list: 'x' is not an integer"},
        {"list", "1,10", "list: 10 is out of range [0, 9]"},
        {"list", "1,2,3,4,5", "list: more than 4 entries"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        demo d, before;
        memset(&d, 0x5a, sizeof d);
        before = d;
        char err[256] = "";
        CHECK_MSG(rin_key_set(demo_key(cases[c].key), &d, cases[c].in, err, sizeof err) ==
                      RIN_STATUS_CONFIG,
                  "%s=%s was accepted", cases[c].key, cases[c].in);
        CHECK_MSG(!strcmp(err, cases[c].msg), "message '%s', expected '%s'", err, cases[c].msg);
        CHECK_MSG(!memcmp(&d, &before, sizeof d), "%s=%s changed the struct", cases[c].key,
                  cases[c].in);
    }
}

TEST(keys_defaults_format_usage_check) {
    demo d;
    memset(&d, 0, sizeof d);
    rin_keys_defaults(demo_keys, NDEMO, &d);
    char buf[1024];
    int len = rin_keys_format(demo_keys, NDEMO, &d, buf, sizeof buf);
    const char *want = "i=3\nl=1000000000000\nu=18446744073709551615\nflag=1\nrate=0.1\n"
                       "d=0.003\nsecs=0\ns=abc\nchecked=\nmode=high\nlist=1,2\n";
    CHECK_MSG(!strcmp(buf, want), "format gave\n%s", buf);
    CHECK(len == (int)strlen(want));
    /* a short buffer still reports the whole length, as snprintf does */
    char small[8];
    CHECK(rin_keys_format(demo_keys, NDEMO, &d, small, sizeof small) == len);
    CHECK(!strcmp(small, "i=3\nl=1"));

    /* --help: the help column aligned, keys without help alone on their line */
    rin_keys_usage(demo_keys, 1, &d, "  ", buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, "  i=3                             an int\n"), "'%s'", buf);
    rin_keys_usage(demo_keys + 1, 1, &d, "  ", buf, sizeof buf);
    CHECK_MSG(!strcmp(buf, "  l=1000000000000\n"), "'%s'", buf);

    /* range checks of a struct built in code */
    char err[256] = "";
    CHECK(rin_keys_check(demo_keys, NDEMO, &d, err, sizeof err) == RIN_STATUS_OK);
    demo e = d;
    e.mode = 3;
    CHECK(rin_keys_check(demo_keys, NDEMO, &e, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "mode: 3 is out of range [0, 2]"), "%s", err);
    e = d;
    e.rate = 1.0f;
    CHECK(rin_keys_check(demo_keys, NDEMO, &e, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "rate: 1 is out of range [0, 1)"), "%s", err);
    e = d;
    e.flag = 2;
    CHECK(rin_keys_check(demo_keys, NDEMO, &e, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "flag: 2 is out of range [0, 1]"), "%s", err);

    /* joined names */
    rin_keys_join(buf, sizeof buf, modes, " or ");
    CHECK(!strcmp(buf, "off, low or high"));
    rin_keys_join(buf, sizeof buf, modes, ", ");
    CHECK(!strcmp(buf, "off, low, high"));
    static const char *const one[] = {"only", NULL}, *const none[] = {NULL};
    rin_keys_join(buf, sizeof buf, one, " or ");
    CHECK(!strcmp(buf, "only"));
    rin_keys_join(buf, sizeof buf, none, " or ");
    CHECK(!strcmp(buf, ""));
}

static rin_status demo_set(void *obj, const char *key, const char *value, char *err,
                           size_t errlen) {
    int i = rin_keys_find(demo_keys, NDEMO, key);
    if (i < 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "unknown key '%s'", key);
    return rin_key_set(&demo_keys[i], obj, value, err, errlen);
}

TEST(keys_apply_preset_text) {
    demo d;
    memset(&d, 0, sizeof d);
    char err[256] = "";
    CHECK(rin_keys_apply("  i=-2 list=4,5\tmode=low\n s=x ", demo_set, &d, err, sizeof err) ==
          RIN_STATUS_OK);
    CHECK(d.i == -2 && d.n == 2 && d.list[1] == 5 && d.mode == 1 && !strcmp(d.s, "x"));
    CHECK(rin_keys_apply("", demo_set, &d, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_keys_apply("i=1 i", demo_set, &d, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "'i': expected key=value"), "%s", err);
    CHECK(rin_keys_apply("i=1 j=2", demo_set, &d, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "unknown key 'j'"), "%s", err);
    CHECK(rin_keys_apply("i=9", demo_set, &d, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "i: 9 is out of range [-5, 5]"), "%s", err);
}

/* ---- the library's tables ------------------------------------------------------------------ */

static const char *const model_order[] = {
    "image_height",      "image_width",      "image_channels",
    "patch_size",        "tape_dim",         "latent_dim",
    "latent_slots",      "num_layers",       "latent_num_heads",
    "rw_num_heads",      "latent_mlp_ratio", "tape_mlp_ratio",
    "drop_units",        "drop_path",        "num_classes",
    "time_on_latent",    "cond_on_latent",   "self_cond",
    "seq_len",           "seq_stride",       "cond_frames",
    "tape_pos_encoding", "video_cond",       "video_cond_frames",
    "token_gamma",       "video_cond_halo",  NULL};
static const char *const train_order[] = {"batch_size",
                                          "total_steps",
                                          "seed",
                                          "optimizer",
                                          "lr",
                                          "beta1",
                                          "beta2",
                                          "eps",
                                          "weight_decay",
                                          "warmup_steps",
                                          "lr_schedule",
                                          "clip_norm",
                                          "exclude_from_weight_decay",
                                          "ema_decay",
                                          "ema_warmup",
                                          "train_schedule",
                                          "pred_type",
                                          "b_scale",
                                          "normalize_noisy_input",
                                          "self_cond_rate",
                                          "cond_dropout",
                                          "frame_noise",
                                          "precision",
                                          "rollout_rate",
                                          NULL};
static const char *const run_order[] = {"data",         "random_flip",    "log_every",
                                        "sample_every", "ckpt_every",     "sample_count",
                                        "sample_steps", "sample_sampler", "time_limit",
                                        "sample_scale", "sample_spacing", NULL};

TEST(keys_tables_keep_their_order) {
    int n, m = 0;
    const rin_key *k = rin_config_keys(&n);
    while (model_order[m])
        m++;
    CHECK(n == m && rin_config_num_keys() == m);
    for (int i = 0; i < m && i < n; i++) {
        CHECK_MSG(!strcmp(rin_config_key(i), model_order[i]), "model key %d: %s, not %s", i,
                  rin_config_key(i), model_order[i]);
        CHECK(k[i].name == rin_config_key(i));
    }
    CHECK(rin_config_key(m) == NULL && rin_config_key(-1) == NULL);
    k = rin_train_config_keys(&n);
    for (m = 0; train_order[m];)
        m++;
    CHECK(n == m && rin_train_config_num_keys() == m);
    for (int i = 0; i < m && i < n; i++)
        CHECK_MSG(!strcmp(rin_train_config_key(i), train_order[i]), "train key %d: %s, not %s", i,
                  rin_train_config_key(i), train_order[i]);
    CHECK(rin_train_config_key(m) == NULL);
    /* the optional (newer) model keys are those a checkpoint may lack */
    for (int i = 0; i < rin_config_num_keys(); i++)
        CHECK(rin_config_key_optional(i) == (i >= 18));
}

/* The presets as the code before the engine wrote them (config.c, an if/else chain of
 * designated initialisers over these base defaults). */
static void old_preset(rin_config *c, int which) {
    memset(c, 0, sizeof *c);
    // clang-format off
    static const rin_config old[] = {
        {.H = 32, .W = 32, .C = 3, .patch = 2, .E = 256, .D = 512, .L = 128,
         .lat_heads = 16, .rw_heads = 8, .lat_mlp_ratio = 4, .tape_mlp_ratio = 2,
         .drop_units = 0.1f, .drop_path = 0.1f, .num_classes = 10, .time_on_latent = 1,
         .cond_on_latent = 1, .self_cond = 1, .num_blocks = 3, .K = {2, 2, 2}},
        {.H = 64, .W = 64, .C = 3, .patch = 8, .E = 512, .D = 768, .L = 128,
         .lat_heads = 16, .rw_heads = 16, .lat_mlp_ratio = 4, .tape_mlp_ratio = 4,
         .num_classes = 1000, .time_on_latent = 1, .cond_on_latent = 1, .self_cond = 1,
         .num_blocks = 4, .K = {4, 4, 4, 4}},
        {.H = 28, .W = 28, .C = 1, .patch = 4, .E = 64, .D = 128, .L = 32,
         .lat_heads = 4, .rw_heads = 4, .lat_mlp_ratio = 4, .tape_mlp_ratio = 2,
         .num_classes = 10, .time_on_latent = 1, .cond_on_latent = 1, .self_cond = 1,
         .num_blocks = 2, .K = {2, 2}},
        {.H = 8, .W = 8, .C = 3, .patch = 4, .E = 32, .D = 32, .L = 8,
         .lat_heads = 4, .rw_heads = 2, .lat_mlp_ratio = 2, .tape_mlp_ratio = 1,
         .num_classes = 10, .time_on_latent = 1, .cond_on_latent = 1, .self_cond = 1,
         .num_blocks = 2, .K = {1, 1}},
        {.H = 32, .W = 32, .C = 1, .patch = 8, .E = 128, .D = 128, .L = 32,
         .lat_heads = 4, .rw_heads = 4, .lat_mlp_ratio = 4, .tape_mlp_ratio = 2,
         .num_classes = 0, .time_on_latent = 1, .cond_on_latent = 1, .self_cond = 1,
         .seq_len = 16, .seq_stride = 1, .cond_frames = 5, .tape_pos_encoding = 2,
         .num_blocks = 2, .K = {2, 2}},
    };
    // clang-format on
    *c = old[which];
}

TEST(keys_presets_equal_the_old_code) {
    static const char *const names[] = {"cifar10", "imagenet64", "fmnist", "tiny", "video"};
    const char *const *got = rin_config_preset_names();
    for (int p = 0; p < 5; p++) {
        CHECK_MSG(got[p] && !strcmp(got[p], names[p]), "preset %d: %s", p, got[p]);
        rin_config a, b;
        memset(&a, 0x5a, sizeof a); /* every byte must be written */
        char err[256] = "";
        CHECK_MSG(rin_config_preset(&a, names[p], err, sizeof err) == RIN_STATUS_OK, "%s: %s",
                  names[p], err);
        old_preset(&b, p);
        CHECK_MSG(!memcmp(&a, &b, sizeof a), "preset %s differs from the old code", names[p]);
        CHECK(rin_config_validate(&a, err, sizeof err) == RIN_STATUS_OK);
    }
    CHECK(got[5] == NULL);
    char err[256];
    rin_config c;
    CHECK(rin_config_preset(&c, "cifar100", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "unknown preset 'cifar100' (known: cifar10, imagenet64, fmnist, tiny, "
                           "video)"),
              "%s", err);
    /* the released configurations keep the spec's parameter counts */
    rin_config_preset(&c, "cifar10", NULL, 0);
    CHECK(rin_config_num_params(&c) == 30951180);
}

TEST(keys_train_defaults_equal_the_old_code) {
    rin_train_config a, b;
    memset(&a, 0x5a, sizeof a);
    rin_train_config_default(&a);
    /* rin_train_config_default as it was written before the engine */
    memset(&b, 0, sizeof b);
    b.batch_size = 64;
    b.total_steps = 150000;
    b.seed = 0;
    snprintf(b.optimizer, sizeof b.optimizer, "lamb");
    b.lr = 3e-3;
    b.beta1 = 0.9;
    b.beta2 = 0.999;
    b.eps = 1e-8;
    b.weight_decay = 0.01;
    b.warmup_steps = 10000;
    snprintf(b.lr_schedule, sizeof b.lr_schedule, "cosine@0.8");
    b.clip_norm = 0;
    snprintf(b.exclude_from_weight_decay, sizeof b.exclude_from_weight_decay, "bias,beta,gamma");
    b.ema_decay = 0.9999;
    b.ema_warmup = 1;
    snprintf(b.train_schedule, sizeof b.train_schedule, "sigmoid@-3,3,0.9");
    snprintf(b.pred_type, sizeof b.pred_type, "eps");
    b.b_scale = 1.0;
    b.normalize_noisy_input = 0;
    b.self_cond_rate = 0.9;
    b.cond_dropout = 0;
    snprintf(b.frame_noise, sizeof b.frame_noise, "shared");
    snprintf(b.precision, sizeof b.precision, "fp32"); /* newer than the engine, rin's */
    CHECK(!memcmp(&a, &b, sizeof a));
    char err[256] = "";
    CHECK_MSG(rin_train_config_validate(&a, err, sizeof err) == RIN_STATUS_OK, "%s", err);
}

/* Whole messages of the model and training tables, as the code before the engine wrote them. */
TEST(keys_config_messages_unchanged) {
    struct {
        int train;
        const char *key, *value, *msg;
    } cases[] = {
        {0, "latent_dim", "-4", "latent_dim: -4 is out of range [1, 16384]"},
        {0, "latent_dim", "4x", "latent_dim: '4x' is not an integer"},
        {0, "drop_path", "1.5", "drop_path: 1.5 is out of range [0, 1)"},
        {0, "drop_units", "a", "drop_units: 'a' is not a number"},
        {0, "num_layers", "2,,2",
         "num_layers: '2,,2' is not a comma-separated list of depths such as 2,2,2"},
        {0, "num_layers", "2,300", "num_layers: 300 is out of range [0, 256]"},
        {0, "time_on_latent", "yes",
         "time_on_latent: 'yes' is not a boolean (expected 1, 0, true or false)"},
        {0, "self_cond", "tape", "self_cond: 'tape' is not supported (expected latent or none)"},
        {0, "tape_pos_encoding", "2",
         "tape_pos_encoding: '2' is not supported (expected learned, sin_cos_plus_learned or "
         "sin_cos_3d_plus_learned)"},
        {0, "video_cond", "frames",
         "video_cond: 'frames' is not supported (expected tokens or channels)"},
        {0, "tape_dimension", "8", "unknown config key 'tape_dimension'"},
        {1, "batch_size", "0", "batch_size: 0 is out of range [1, 65536]"},
        {1, "total_steps", "0", "total_steps: 0 is out of range [1, 1000000000000]"},
        {1, "seed", "-3", "seed: '-3' is not a non-negative integer"},
        {1, "lr", "fast", "lr: 'fast' is not a number"},
        {1, "lr", "inf", "lr: 'inf' is not a number"},
        {1, "lr", "-1", "lr: -1 is out of range [0, 10]"},
        {1, "beta2", "1", "beta2: 1 is out of range [0, 1]"},
        {1, "self_cond_rate", "1.5", "self_cond_rate: 1.5 is out of range [0, 1]"},
        {1, "ema_warmup", "on", "ema_warmup: 'on' is not a boolean (expected 1, 0, true or false)"},
        {1, "optimizer", "lamb_with_a_long_name", "optimizer: 'lamb_with_a_long_name' is too long"},
        {1, "optimiser", "lamb", "unknown config key 'optimiser'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        rin_status s;
        if (cases[i].train) {
            rin_train_config t;
            rin_train_config_default(&t);
            s = rin_train_config_set(&t, cases[i].key, cases[i].value, err, sizeof err);
        } else {
            rin_config c;
            rin_config_preset(&c, "tiny", NULL, 0);
            s = rin_config_set(&c, cases[i].key, cases[i].value, err, sizeof err);
        }
        CHECK_MSG(s == RIN_STATUS_CONFIG, "%s=%s was accepted", cases[i].key, cases[i].value);
        CHECK_MSG(!strcmp(err, cases[i].msg), "message '%s', expected '%s'", err, cases[i].msg);
    }
    /* the old aliases and side effects */
    rin_config c;
    rin_config_preset(&c, "video", NULL, 0);
    CHECK(rin_config_set(&c, "self_cond", "0", NULL, 0) == 0 && c.self_cond == 0);
    CHECK(rin_config_set(&c, "self_cond", "latent", NULL, 0) == 0 && c.self_cond == 1);
    CHECK(rin_config_set(&c, "video_cond", "channels", NULL, 0) == 0 && c.video_cond_frames == 1);
    CHECK(rin_config_set(&c, "video_cond_frames", "3", NULL, 0) == 0);
    CHECK(rin_config_set(&c, "video_cond", "channels", NULL, 0) == 0 && c.video_cond_frames == 3);
    CHECK(rin_config_set(&c, "video_cond_halo", "4", NULL, 0) == 0 && c.video_cond_halo == 4);
    CHECK(rin_config_validate(&c, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_config_set(&c, "video_cond", "tokens", NULL, 0) == 0 && c.video_cond_frames == 0 &&
          c.video_cond_halo == 0);
    /* a halo is for channels only, and no wider than the frame */
    char herr[256] = "";
    c.video_cond_halo = 2;
    CHECK(rin_config_validate(&c, herr, sizeof herr) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(herr, "video_cond_halo: 2 applies to video_cond = channels only (the clean "
                            "frames' context around each noisy patch); set video_cond = channels "
                            "or leave it 0"),
              "%s", herr);
    CHECK(rin_config_set(&c, "video_cond", "channels", NULL, 0) == 0);
    c.video_cond_halo = 33;
    CHECK(rin_config_validate(&c, herr, sizeof herr) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(herr, "video_cond_halo: 33 is out of range [0, max(image_height, "
                            "image_width) = 32] (a wider window sees only zeros past the frame)"),
              "%s", herr);
    /* a window so wide that the stem input would not fit the model's int sizes */
    CHECK(rin_config_set(&c, "image_height", "4096", NULL, 0) == 0 &&
          rin_config_set(&c, "image_width", "4096", NULL, 0) == 0 &&
          rin_config_set(&c, "video_cond_frames", "5", NULL, 0) == 0);
    c.video_cond_halo = 4096;
    CHECK(rin_config_validate(&c, herr, sizeof herr) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(herr, "video_cond_halo: 4096 makes each token's stem input 336200064 floats "
                            "wide (at most 10,000,000)"),
              "%s", herr);
    /* rin_config_validate's range checks name the key */
    rin_config_preset(&c, "tiny", NULL, 0);
    c.tape_pos_encoding = 3;
    char err[256] = "";
    CHECK(rin_config_validate(&c, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "tape_pos_encoding: 3 is out of range [0, 2]"), "%s", err);
    rin_config_preset(&c, "tiny", NULL, 0);
    c.drop_units = 1.0f;
    CHECK(rin_config_validate(&c, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(!strcmp(err, "drop_units: 1 is out of range [0, 1)"), "%s", err);
}

/* ---- rin train: the run keys and --help -------------------------------------------------- */

/* `rin args` with stderr merged into out; the exit status. */
static int run_cli(char *out, size_t cap, const char *args) {
    const char *cli = getenv("RIN_CLI");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", cli && *cli ? cli : "build/rin", args);
    return test_shell(out, cap, cmd);
}

TEST(cli_keys_train_help_lists_every_key_in_order) {
    static char out[32768];
    CHECK(run_cli(out, sizeof out, "train --help") == 0);
    CHECK(strstr(out, "--preset NAME    model preset: cifar10, imagenet64, fmnist, tiny, video "
                      "(default fmnist)") != NULL);
    /* the "  key=value" lines, in order: the model's, the training's, the run's */
    const char *const *tables[] = {model_order, train_order, run_order};
    const char *p = strstr(out, "Model keys");
    CHECK(p != NULL);
    for (int t = 0; t < 3 && p; t++)
        for (int i = 0; tables[t][i] && p; i++) {
            char want[64];
            snprintf(want, sizeof want, "\n  %s=", tables[t][i]);
            const char *q = strstr(p, want);
            CHECK_MSG(q != NULL, "--help lacks '%s' after the keys before it", tables[t][i]);
            p = q ? q + 1 : NULL;
        }
    /* defaults as the old listing showed them */
    CHECK(strstr(out, "\n  num_layers=2,2 ") != NULL);
    CHECK(strstr(out, "\n  lr=0.003 ") != NULL);
    CHECK(strstr(out, "\n  train_schedule=sigmoid@-3,3,0.9 ") != NULL);
    CHECK(strstr(out, "\n  sample_spacing=auto ") != NULL);
    CHECK(strstr(out, "\n  time_limit=0 ") != NULL);
}

TEST(cli_keys_run_key_errors) {
    static char out[8192];
    struct {
        const char *set, *msg;
    } cases[] = {
        {"time_limit=-1", "--set: time_limit: -1 (expected seconds >= 0)"},
        {"time_limit=soon", "--set: time_limit: 'soon' is not a number"},
        {"log_every=0", "--set: log_every: 0 is out of range [1, 1099511627776]"},
        {"sample_count=2000", "--set: sample_count: 2000 is out of range [1, 1024]"},
        {"random_flip=true", "--set: random_flip: 'true' is not an integer"},
        {"sample_sampler=bogus", "--set: sample_sampler: "},
        {"learning_rate=1", "--set: unknown key 'learning_rate'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "train --run /nonexistent/rin_keys_run --set %s", cases[i].set);
        CHECK(run_cli(out, sizeof out, args) == 1);
        CHECK_MSG(strstr(out, cases[i].msg) != NULL, "--set %s: '%s' lacks '%s'", cases[i].set, out,
                  cases[i].msg);
    }
    CHECK(run_cli(out, sizeof out, "train --run /nonexistent/rin_keys_run --preset nope") == 1);
    CHECK_MSG(strstr(out, "unknown preset 'nope' (known: cifar10, imagenet64, fmnist, tiny, "
                          "video)"),
              "%s", out);
}
