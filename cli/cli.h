/* cli.h -- shared pieces of the `rin` command line (the files of cli/): command entry points, fatal
 * errors, and key=value settings. Process concerns live here, never in librin. */
#ifndef RIN_CLI_H
#define RIN_CLI_H

#include <stdio.h>

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
typedef void (*settings_fn)(void *user, const char *key, const char *value, const char *where);
void read_settings_file(const char *path, settings_fn set, void *user);

#endif /* RIN_CLI_H */
