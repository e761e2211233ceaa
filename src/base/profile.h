/* profile.h -- where a step's time goes, per kind of op (`rin bench --profile`).
 *
 * Off by default: each op pays one predictable branch. When on (rin_profile_enable), every op
 * entry point adds its wall time, call count and analytic FLOPs to its kind's counters. Ops
 * are called from the main thread (their parallel regions are inside), so the counters need
 * no locking. Time outside any op (the trainer's bookkeeping, memsets, the sampler update) is
 * what the caller's total minus the sum of the kinds leaves.
 */
#ifndef RIN_PROFILE_H
#define RIN_PROFILE_H

#define RIN_PROF_KINDS(X)                                                                          \
    X(LINEAR_FWD, "linear forward")                                                                \
    X(LINEAR_BWD, "linear backward")                                                               \
    X(ATTN_FWD, "attention core forward")                                                          \
    X(ATTN_BWD, "attention core backward")                                                         \
    X(LN_FWD, "layernorm forward")                                                                 \
    X(LN_BWD, "layernorm backward")                                                                \
    X(GELU_FWD, "gelu forward")                                                                    \
    X(GELU_BWD, "gelu backward")                                                                   \
    X(POINTWISE, "residual, dropout, silu, rows")                                                  \
    X(PATCH, "patchify, unpatchify")                                                               \
    X(OPTIM, "optimizer and EMA")

/* generated enum: clang-format cannot see the macro's commas */
// clang-format off
typedef enum {
#define RIN_PROF_ENUM(k, s) RIN_PROF_##k,
    RIN_PROF_KINDS(RIN_PROF_ENUM)
#undef RIN_PROF_ENUM
    RIN_PROF_COUNT
} rin_prof_kind;
// clang-format on

typedef struct rin_prof_entry {
    double seconds, flops;
    long calls;
} rin_prof_entry;

extern int rin_prof_on;
void rin_profile_enable(int on); /* also clears the counters */
const rin_prof_entry *rin_profile_get(rin_prof_kind k);
const char *rin_profile_name(rin_prof_kind k);
double rin_prof_clock(void);
void rin_prof_add(rin_prof_kind k, double t0, double flops);

/* At an op's entry and exit: double t0 = RIN_PROF_BEGIN(); ... RIN_PROF_END(kind, t0, flops); */
#define RIN_PROF_BEGIN() (rin_prof_on ? rin_prof_clock() : 0.0)
#define RIN_PROF_END(kind, t0, flops)                                                              \
    do {                                                                                           \
        if (rin_prof_on)                                                                           \
            rin_prof_add(RIN_PROF_##kind, (t0), (flops));                                          \
    } while (0)

#endif /* RIN_PROFILE_H */
