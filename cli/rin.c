/* rin.c -- the `rin` command line: a dispatcher over librin. Each command lives in its own file of
 * cli/ (init.c, info.c, forward.c, train.c, sample.c, eval.c, featnet.c, bench.c), the helpers
 * they share in common.c (cli.h).
 *
 * The CLI owns process concerns (arguments, messages, exit codes); the library does the work.
 * Every failure prints what went wrong and exits non-zero.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rin.h"

static void usage(FILE *f) {
    fprintf(f,
            "rin %s -- Recurrent Interface Networks in C\n"
            "\n"
            "usage: rin COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  init      write a freshly initialised checkpoint\n"
            "  info      print a checkpoint's config and parameter counts per part, or a\n"
            "            PNG's size and text chunks (the provenance of rin's samples)\n"
            "  forward   run the denoiser of a checkpoint on tensors from a safetensors file\n"
            "  train     train a model on a dataset, with checkpoints, samples and a report\n"
            "  sample    generate images from a checkpoint\n"
            "  eval      FD, KID and classifier score of images against real data\n"
            "  featnet   train or check the feature network the metrics use\n"
            "  bench     measure train and sampling throughput\n"
            "\n"
            "Run `rin COMMAND --help` for the options of a command.\n",
            RIN_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* A file-size limit (ulimit -f) then fails a write with EFBIG, which the writers report
     * naming the file, instead of killing the process mid-write with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("rin %s\n", RIN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "init"))
        return cmd_init(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "forward"))
        return cmd_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample"))
        return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "featnet"))
        return cmd_featnet(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "rin: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
