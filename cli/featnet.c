/* featnet.c -- `rin featnet`: train and evaluate the evaluation feature network
 * (src/eval/featnet.h, shared/spec/evaluation.md 4.2, docs/featnet.md).
 *
 *   rin featnet train --data fmnist --epochs 5 --seed 0 --out models/featnet-fmnist.safetensors
 *   rin featnet eval  --model models/featnet-fmnist.safetensors --data fmnist:test
 *
 * train prints the loss and test accuracy of every epoch and writes the file atomically with
 * the training command, epochs, seed and test accuracy in its metadata; eval prints the
 * accuracy and the file's SHA-256, which every score computed on the features must quote.
 * Only 28x28x1 data (Fashion-MNIST, MNIST-format IDX files) is accepted.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "featnet.h"
#include "util.h"

int cmd_featnet(int argc, char **argv);

static void featnet_usage(FILE *f) {
    fprintf(
        f,
        "usage: rin featnet train --out FILE [options]\n"
        "       rin featnet eval [--model FILE] [--data SOURCE] [--batch B]\n"
        "\n"
        "Trains or evaluates the LeNet-style feature network of the evaluation protocol\n"
        "(28x28x1 input, 128 features, 10 logits; docs/featnet.md).\n"
        "\n"
        "train:\n"
        "  --data SOURCE       labeled training images (default fmnist, the training split)\n"
        "  --test-data SOURCE  accuracy after every epoch (default fmnist:test)\n"
        "  --epochs N          passes over the training data (default 10)\n"
        "  --seed S            initialisation and shuffling seed (default 0)\n"
        "  --batch B           batch size (default 128)\n"
        "  --lr LR             Adam peak learning rate (default 0.001)\n"
        "  --lr-schedule S     cosine (decay to 0 over the run, default) or constant\n"
        "  --no-flip           no random horizontal flips (default: flip training images)\n"
        "  --out FILE          weights to write (safetensors, required)\n"
        "\n"
        "eval:\n"
        "  --model FILE        weights (default models/featnet-fmnist.safetensors)\n"
        "  --data SOURCE       labeled images (default fmnist:test)\n"
        "  --batch B           images per forward pass (default 500)\n"
        "\n"
        "SOURCE: fmnist, fmnist:train, fmnist:test, idx:IMAGES,LABELS (see rin train --help).\n");
}

/* Loads a labeled 28x28x1 dataset, or dies with a message naming the source. */
static rin_dataset *load_data(const char *source, const char *what) {
    char err[512];
    rin_dataset *d;
    /* PNG folders are resized to the size asked for and have no labels; every other source
     * loads at its own size, so that a wrong size is reported by the feature network's check */
    int png = !strncmp(source, "png:", 4);
    if (rin_dataset_load(&d, source, png ? RIN_FEATNET_IN_H : 0, png ? RIN_FEATNET_IN_W : 0,
                         png ? RIN_FEATNET_IN_C : 0, err, sizeof err))
        die("featnet: %s: %s", what, err);
    if (rin_featnet_check_size(d->H, d->W, d->C, err, sizeof err))
        die("featnet: %s %s: %s", what, source, err);
    if (!d->labels)
        die("featnet: %s %s has no labels; the feature network needs labeled images", what, source);
    return d;
}

static void print_epoch(void *user, int epoch, int epochs, double loss, double acc,
                        double seconds) {
    (void)user;
    printf("epoch %d/%d: train loss %.4f, test accuracy %.4f (%.1f s)\n", epoch, epochs, loss, acc,
           seconds);
    fflush(stdout);
}

static int featnet_train(int argc, char **argv) {
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"test-data", required_argument, 0, 't'},
                                         {"epochs", required_argument, 0, 'e'},
                                         {"seed", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"lr", required_argument, 0, 'l'},
                                         {"lr-schedule", required_argument, 0, 'c'},
                                         {"no-flip", no_argument, 0, 'f'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = "fmnist", *test_data = "fmnist:test", *out = NULL;
    long epochs = 10, batch = 128;
    unsigned long long seed = 0;
    double lr = 1e-3;
    const char *schedule = "cosine";
    int flip = 1, o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': data = optarg; break;
        case 't': test_data = optarg; break;
        case 'e': epochs = parse_long("--epochs", optarg, 1, 1000); break;
        case 's': seed = parse_u64("--seed", optarg); break;
        case 'b': batch = parse_long("--batch", optarg, 1, 4096); break;
        case 'l':
            lr = parse_double("--lr", optarg);
            if (!(lr > 0.0 && lr < 1.0))
                die("--lr: %g is outside (0, 1)", lr);
            break;
        case 'c':
            schedule = optarg;
            if (strcmp(schedule, "cosine") && strcmp(schedule, "constant"))
                die("--lr-schedule: '%s' is neither cosine nor constant", schedule);
            break;
        case 'f': flip = 0; break;
        case 'o': out = optarg; break;
        case 'h': featnet_usage(stdout); return 0;
        default: featnet_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("featnet train: unexpected argument '%s'", argv[optind]);
    if (!out) {
        featnet_usage(stderr);
        fprintf(stderr, "rin featnet train: --out is required\n");
        return 2;
    }
    /* the command as typed, for the file's metadata */
    char command[2048];
    size_t k = (size_t)snprintf(command, sizeof command, "rin featnet");
    for (int i = 0; i < argc && k < sizeof command; i++)
        k += (size_t)snprintf(command + k, sizeof command - k, " %s", argv[i]);
    if (k >= sizeof command)
        die("featnet train: the command line is too long to record");

    rin_dataset *train = load_data(data, "training data");
    rin_dataset *test = load_data(test_data, "test data");
    printf("featnet: %d training images (%s), %d test images (%s), %zu parameters\n", train->n,
           data, test->n, test_data, rin_featnet_num_params());
    printf("featnet: %ld epochs, batch %ld, Adam lr %g (%s), %s, seed %llu\n", epochs, batch, lr,
           schedule, flip ? "random horizontal flips" : "no flips", seed);
    fflush(stdout);
    char err[512];
    rin_featnet *net;
    if (rin_featnet_create(&net, (int)batch, 1, err, sizeof err))
        die("%s", err);
    rin_featnet_init(net, seed);
    rin_featnet_train_opts to = {.epochs = (int)epochs,
                                 .batch = (int)batch,
                                 .lr = lr,
                                 .cosine = !strcmp(schedule, "cosine"),
                                 .flip = flip,
                                 .seed = seed};
    double acc = (double)NAN, t0 = rin_time_seconds();
    if (rin_featnet_train(net, &to, train, test, print_epoch, NULL, &acc, err, sizeof err))
        die("%s", err);
    double secs = rin_time_seconds() - t0;

    char s_epochs[32], s_seed[32], s_acc[32], s_batch[32], s_lr[32];
    snprintf(s_epochs, sizeof s_epochs, "%ld", epochs);
    snprintf(s_seed, sizeof s_seed, "%llu", seed);
    snprintf(s_acc, sizeof s_acc, "%.4f", acc);
    snprintf(s_batch, sizeof s_batch, "%ld", batch);
    snprintf(s_lr, sizeof s_lr, "%g", lr);
    // clang-format off
    const char *meta[] = {"training_command", command,   "train_data", data,
                          "test_data",        test_data, "epochs",     s_epochs,
                          "seed",             s_seed,    "batch",      s_batch,
                          "lr",               s_lr,      "optimizer",  "adam",
                          "lr_schedule",      schedule,  "augment",    flip ? "hflip" : "none",
                          "test_accuracy",    s_acc,     NULL};
    // clang-format on
    if (rin_featnet_save(net, out, meta, err, sizeof err))
        die("%s", err);
    char sha[65];
    if (rin_file_sha256_hex(out, sha, err, sizeof err))
        die("%s", err);
    printf("wrote %s: test accuracy %.4f, %.1f s of training\nsha256 %s\n", out, acc, secs, sha);
    rin_featnet_free(net);
    rin_dataset_free(train);
    rin_dataset_free(test);
    return 0;
}

static int featnet_eval(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"data", required_argument, 0, 'd'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = "models/featnet-fmnist.safetensors", *data = "fmnist:test";
    long batch = 500;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'b': batch = parse_long("--batch", optarg, 1, 4096); break;
        case 'h': featnet_usage(stdout); return 0;
        default: featnet_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("featnet eval: unexpected argument '%s'", argv[optind]);
    char err[512];
    rin_featnet *net;
    if (rin_featnet_load(&net, model, (int)batch, 0, err, sizeof err))
        die("%s", err);
    rin_dataset *d = load_data(data, "data");
    double acc, t0 = rin_time_seconds();
    long correct;
    if (rin_featnet_accuracy(net, d, &acc, &correct, err, sizeof err))
        die("%s", err);
    printf("%s on %s: accuracy %.4f (%ld/%d) in %.1f s\nsha256 %s\n", model, data, acc, correct,
           d->n, rin_time_seconds() - t0, net->sha256);
    rin_dataset_free(d);
    rin_featnet_free(net);
    return 0;
}

int cmd_featnet(int argc, char **argv) {
    if (argc < 2) {
        featnet_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        featnet_usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "train"))
        return featnet_train(argc - 1, argv + 1);
    if (!strcmp(sub, "eval"))
        return featnet_eval(argc - 1, argv + 1);
    fprintf(stderr, "rin featnet: unknown subcommand '%s' (train or eval)\n\n", sub);
    featnet_usage(stderr);
    return 2;
}
