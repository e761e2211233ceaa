/* rng.h -- random numbers (rng.c): a sequential generator and a counter-based hash.
 */
#ifndef RIN_RNG_H
#define RIN_RNG_H

#include <stdint.h>

/* ---- random numbers (rng.c) ---------------------------------------------------------------
 * Sequential: xoshiro256** seeded by splitmix64. Counter-based: a stateless hash of
 * (seed, stream, index), used for dropout and drop-path masks so that a mask element does not
 * depend on the order or thread that draws it. */
typedef struct rin_rng {
    uint64_t s[4];
} rin_rng;
void rin_rng_seed(rin_rng *r, uint64_t seed);
uint64_t rin_rng_u64(rin_rng *r);
double rin_rng_uniform(rin_rng *r); /* [0, 1), 53 bits */
double rin_rng_normal(rin_rng *r);  /* N(0, 1), Box-Muller: exactly two rin_rng_u64 draws */
/* Advances r by n rin_rng_u64 draws (a data-parallel shard skips the other shards' draws). */
void rin_rng_discard(rin_rng *r, uint64_t n);
/* The splitmix64 finaliser, a bijection of 64-bit words. */
static inline uint64_t rin_mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}
/* rin_hash64(seed, stream, index) = rin_mix64(rin_hash_key(seed, stream) ^ index): loops over
 * many indices of one stream compute the key once. */
uint64_t rin_hash_key(uint64_t seed, uint64_t stream);
uint64_t rin_hash64(uint64_t seed, uint64_t stream, uint64_t index);
/* [0, 1) with 24 bits of a hash. */
static inline float rin_hash_uniform(uint64_t h) {
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}
static inline float rin_counter_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    return rin_hash_uniform(rin_hash64(seed, stream, index));
}
uint64_t rin_hash_str(const char *s); /* FNV-1a, for per-tensor streams */

#endif /* RIN_RNG_H */
