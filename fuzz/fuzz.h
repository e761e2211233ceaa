/* fuzz.h -- helpers shared by the libFuzzer harnesses of fuzz/.
 *
 * The readers under test take file names (they stat, open and read like they do in a run), so a
 * harness writes each input to a file in a private directory made once per process, under
 * $TMPDIR or /tmp, and removed at exit. Build and run: `make fuzz` (see the Makefile) or
 * .ci/fuzz.sh, which runs every harness for a bounded time over its seed corpus in
 * fuzz/corpus/<harness>/.
 */
#ifndef RIN_FUZZ_H
#define RIN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* out = <private dir>/name (the directory is created on the first call). */
void fuzz_path(char *out, size_t cap, const char *name);
/* Writes size bytes to path, aborting on failure (a harness bug, not a finding). */
void fuzz_write(const char *path, const void *data, size_t size);
/* The private directory itself. */
const char *fuzz_dir(void);

#endif
