/* keys.h -- one engine for every table of settings: the model config (config.c), the training
 * config (trainer.c) and the run settings of `rin train` (cli/train.c).
 *
 * A table is an array of rin_key, one row per key: its name, its type, where its field lies in
 * the owning struct, what values it takes, its default as text and a line of help. The order
 * of the rows is the order of the keys everywhere they appear (checkpoint metadata,
 * config.txt, `rin train --help`), so it is part of the file formats: append, never reorder.
 *
 * Why one engine: the four tables it replaced (two switch-per-type tables, the run keys written
 * three times over, presets as an if/else chain next to a name list and a hard-coded string)
 * drifted apart in what they accepted and how they said no, the way llm.c's parallel lists of
 * tensor names and sizes did (style.md section 14). Each table keeps its own messages through
 * `what` and `flags`, so moving a table here changed none of them.
 *
 * Not here: what a value means (a sampler name, a schedule string); the owning layer checks
 * that, in a `check` function or in its validate function.
 */
#ifndef RIN_KEYS_H
#define RIN_KEYS_H

#include <stddef.h>

#include "rin.h"

typedef enum rin_key_type {
    RIN_KEY_INT,      /* int in [lo, hi] */
    RIN_KEY_LONG,     /* long in [lo, hi] */
    RIN_KEY_U64,      /* uint64_t: any non-negative integer */
    RIN_KEY_BOOL,     /* int 0 or 1, from 1, 0, true or false */
    RIN_KEY_FLOAT,    /* float in [lo, hi] (or [lo, hi) with RIN_KEY_OPEN_HI) */
    RIN_KEY_DOUBLE,   /* double, the same */
    RIN_KEY_STRING,   /* char[size], checked by `check` when there is one */
    RIN_KEY_ENUM,     /* int: the index of the value in `choices` */
    RIN_KEY_INT_LIST, /* int[size] of entries in [lo, hi], comma-separated; count at `count` */
} rin_key_type;

enum {
    RIN_KEY_FINITE = 1,  /* numbers: inf and nan are "not a number" (else the range judges them) */
    RIN_KEY_OPEN_HI = 2, /* numbers: hi itself is out of range */
    RIN_KEY_INDEX = 4,   /* enums: the index as text ("0", "1") is accepted too */
    /* Newer than the first files written: a stored file may lack it, and a reader then leaves
     * the field 0, the value that keeps the old file's meaning (the owner's loader does that) */
    RIN_KEY_OPTIONAL = 8,
};

/* Checks a string value; a message without the key's name (the engine adds it). */
typedef rin_status (*rin_key_check_fn)(const char *value, char *err, size_t errlen);

typedef struct rin_key {
    const char *name;
    rin_key_type type;
    size_t offset; /* of the field in the owning struct */
    size_t size;   /* STRING: capacity (terminator included); INT_LIST: most entries */
    size_t count;  /* INT_LIST: offset of the int that holds the number of entries */
    double lo, hi; /* numbers and list entries: the range */
    unsigned flags;
    const char *const *choices; /* ENUM: the names by value, NULL-terminated */
    rin_key_check_fn check;     /* STRING: optional */
    /* What a value must be, for the messages that the type alone cannot word: "a
     * comma-separated list of depths such as 2,2,2", "seconds >= 0", "latent or none". */
    const char *what;
    const char *def;  /* the default as text; NULL: the field stays zero */
    const char *help; /* one line for --help */
} rin_key;

/* The offset and size of field f of struct type T, for a row's `offset` and `size`. */
#define RIN_KEY_FIELD(T, f) offsetof(T, f), sizeof(((T *)0)->f)

/* The row of `name`, or -1. */
int rin_keys_find(const rin_key *keys, int n, const char *name);

/* Sets key k of obj from text. Malformed and out-of-range values fail with RIN_STATUS_CONFIG
 * and a message that names the key and says what was expected; obj is then unchanged. */
rin_status rin_key_set(const rin_key *k, void *obj, const char *value, char *err, size_t errlen);

/* The value of key k of obj as text that rin_key_set reads back to the same value (floats and
 * doubles as their shortest exact decimal). Returns snprintf's count. */
int rin_key_get(const rin_key *k, const void *obj, char *buf, size_t buflen);

/* Every key of obj as "name=value\n" lines, in table order. Returns the length the whole text
 * needs (as snprintf), so a caller can tell that buflen was short. */
int rin_keys_format(const rin_key *keys, int n, const void *obj, char *buf, size_t buflen);

/* Sets every key that has a default from its text. The fields of the others keep their value
 * (callers zero the struct first). A default that does not parse is a bug: it aborts. */
void rin_keys_defaults(const rin_key *keys, int n, void *obj);

/* Range checks for a struct built in code rather than through rin_key_set: int, bool, enum,
 * float and double fields against their table range ("key: 7 is out of range [0, 2]").
 * Lists, strings and u64 fields are left to the owner's validation. */
rin_status rin_keys_check(const rin_key *keys, int n, const void *obj, char *err, size_t errlen);

/* --help: one line per key, "<indent>name=value  help", values from obj (a struct holding the
 * defaults the caller wants shown), the help column aligned. Returns the length needed. */
int rin_keys_usage(const rin_key *keys, int n, const void *obj, const char *indent, char *buf,
                   size_t buflen);

/* "a, b, c" with `last` between the last two ("a, b or c" with last = " or "): the names of a
 * NULL-terminated list, for messages and help texts. Returns the length needed. */
int rin_keys_join(char *buf, size_t buflen, const char *const *names, const char *last);

/* Applies "key=value key=value ..." (whitespace-separated, as a preset is written) through
 * set, stopping at the first failure, whose message is returned. */
typedef rin_status (*rin_key_setter)(void *obj, const char *key, const char *value, char *err,
                                     size_t errlen);
rin_status rin_keys_apply(const char *text, rin_key_setter set, void *obj, char *err,
                          size_t errlen);

/* The tables of the library, for listings and tests (the public API names keys one at a time:
 * rin_config_key, rin_train_config_key). Defined by their owners, config.c and trainer.c. */
const rin_key *rin_config_keys(int *n);
const rin_key *rin_train_config_keys(int *n);

#endif
