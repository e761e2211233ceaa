/* profile.c -- the op-kind counters of profile.h. */
#include <string.h>

#include "internal.h"
#include "profile.h"

int rin_prof_on;
static rin_prof_entry entries[RIN_PROF_COUNT];

static const char *const names[RIN_PROF_COUNT] = {
#define RIN_PROF_NAME(k, s) s,
    RIN_PROF_KINDS(RIN_PROF_NAME)
#undef RIN_PROF_NAME
};

void rin_profile_enable(int on) {
    memset(entries, 0, sizeof entries);
    rin_prof_on = on;
}

const rin_prof_entry *rin_profile_get(rin_prof_kind k) {
    return &entries[k];
}
const char *rin_profile_name(rin_prof_kind k) {
    return names[k];
}
double rin_prof_clock(void) {
    return rin_time_seconds();
}

void rin_prof_add(rin_prof_kind k, double t0, double flops) {
    entries[k].seconds += rin_time_seconds() - t0;
    entries[k].flops += flops;
    entries[k].calls++;
}
