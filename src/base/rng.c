/* rng.c -- seeded random numbers with no hidden global state.
 *
 * Sequential generator: xoshiro256** (Blackman and Vigna) seeded with splitmix64.
 * Counter-based hash for masks: mix(mix(mix(seed ^ GOLDEN) ^ stream) ^ index), where mix is the
 * splitmix64 finaliser (a bijection). ref/rin_ref.py implements the same hash, so dropout and
 * drop-path masks are reproduced exactly by the PyTorch reference.
 */
#include <math.h>

#include "internal.h"

uint64_t rin_hash_key(uint64_t seed, uint64_t stream) {
    return rin_mix64(rin_mix64(seed ^ 0x9E3779B97F4A7C15ull) ^ stream);
}

uint64_t rin_hash64(uint64_t seed, uint64_t stream, uint64_t index) {
    return rin_mix64(rin_hash_key(seed, stream) ^ index);
}

uint64_t rin_hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void rin_rng_seed(rin_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ull;
        r->s[i] = rin_mix64(x);
    }
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t rin_rng_u64(rin_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void rin_rng_discard(rin_rng *r, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        rin_rng_u64(r);
}

double rin_rng_uniform(rin_rng *r) {
    return (double)(rin_rng_u64(r) >> 11) * 0x1.0p-53;
}

double rin_rng_normal(rin_rng *r) {
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - rin_rng_uniform(r);
    double u2 = rin_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
