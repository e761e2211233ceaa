# rin -- Recurrent Interface Networks in C. The only build entry point.
#
# Knobs (override on the command line, e.g. `make CC=clang SAN=address,undefined test`):
#   CC      compiler (gcc or clang)
#   OMP     1: OpenMP threads; 0: serial
#   BLAS    openblas: cblas_sgemm from OpenBLAS; none: the naive loops
#   SAN     sanitizers, e.g. address,undefined or thread (thread needs CC=clang)
#   DEBUG   1: -O0 -g3
#   WERROR  1: warnings are errors (CI)
#   PERF    1: -march=native (changes rounding and portability; benchmarks only)
#   MPI     1: data-parallel training with OpenMPI (docs/distributed.md); 0: one process only

ifeq ($(origin CC),default)
CC = gcc
endif
OMP ?= 1
BLAS ?= openblas
SAN ?=
DEBUG ?= 0
WERROR ?= 0
PERF ?= 0
MPI ?= 1

BUILD ?= build

WARN = -Wall -Wextra -Wshadow -Wdouble-promotion -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Werror=implicit-function-declaration
CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off $(WARN) -MMD -MP -Iinclude -Isrc -I/usr/include/stb -g
LDLIBS = -ljansson -lstb -lgif -lz -lcrypto -llapacke -lm

ifeq ($(DEBUG),1)
CFLAGS += -O0 -g3
else
CFLAGS += -O2
endif
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
ifeq ($(PERF),1)
CFLAGS += -march=native
endif
ifeq ($(OMP),1)
CFLAGS += -fopenmp
LDFLAGS += -fopenmp
else
# the omp pragmas stay in the source and are ignored
CFLAGS += -Wno-unknown-pragmas
endif
ifeq ($(BLAS),openblas)
CFLAGS += -DRIN_BLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread
LDLIBS := -lopenblas $(LDLIBS)
else ifneq ($(BLAS),none)
$(error BLAS must be openblas or none, not '$(BLAS)')
endif
# MPI takes OpenMPI's flags from its compiler wrapper and keeps CC (gcc or clang) as it is.
# Goals that build nothing (deps installs OpenMPI) do not need it.
ifeq ($(MPI),1)
ifneq ($(if $(MAKECMDGOALS),$(filter-out clean deps format format-check fixtures,$(MAKECMDGOALS)),all),)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null)
ifeq ($(MPI_LIBS),)
$(error MPI=1 needs OpenMPI (Debian: openmpi-bin libopenmpi-dev; `make deps` installs them); or build with MPI=0)
endif
CFLAGS += -DRIN_MPI $(MPI_CFLAGS)
LDLIBS += $(MPI_LIBS)
endif
else ifneq ($(MPI),0)
$(error MPI must be 0 or 1, not '$(MPI)')
endif
ifneq ($(SAN),)
CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif

LIB_SRC = $(wildcard src/*.c)
CLI_SRC = $(wildcard cli/*.c)
TEST_SRC = $(wildcard tests/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
CLI_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
TEST_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC))

.PHONY: bench bench-torch all test fixtures format format-check lint clean deps demo fuzz
all: $(BUILD)/rin $(BUILD)/rin_tests

# V=1 shows the full commands
ifeq ($(V),1)
Q =
else
Q = @
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# tests keep assert() and RIN_ASSERT on whatever the flags
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -UNDEBUG -c $< -o $@

$(BUILD)/librin.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/rin: $(CLI_OBJ) $(BUILD)/librin.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/rin_tests: $(TEST_OBJ) $(BUILD)/librin.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The test program runs from the repository root (fixtures in tests/fixtures, the CLI in
# $(BUILD)/rin). Thread counts are pinned so results do not depend on the machine.
test: $(BUILD)/rin_tests $(BUILD)/rin
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-2} \
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} \
	RIN_CLI=$(BUILD)/rin ./$(BUILD)/rin_tests $(T)

# Throughput of rin next to its PyTorch peer on the same models, shapes and threads
# (docs/performance.md). BENCH_STEPS timed steps per figure, BENCH_THREADS the thread counts,
# BENCH_ONLY=cifar10 or fmnist-small one model. The peers are Debian's python3-torch and,
# after `make bench-torch`, the newest PyTorch from the Python package index (bench/.venv).
BENCH_STEPS ?= 3
BENCH_THREADS ?= 1,2
bench: $(BUILD)/rin
	@command -v python3 >/dev/null || { echo "make bench needs python3 (apt-get install python3)"; exit 1; }
	python3 bench/run.py --rin $(BUILD)/rin --steps $(BENCH_STEPS) --threads $(BENCH_THREADS) \
		$(if $(BENCH_ONLY),--only $(BENCH_ONLY))

bench-torch:
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install torch numpy

# libFuzzer harnesses (fuzz/fuzz_*.c), built with clang and sanitizers in their own build dir:
#   make BUILD=build-fuzz CC=clang OMP=0 BLAS=none SAN=fuzzer-no-link,address,undefined fuzz
# .ci/fuzz.sh builds them this way and runs each for a bounded time over fuzz/corpus/<name>/.
FUZZ_BIN = $(patsubst fuzz/%.c,$(BUILD)/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_COMMON = $(BUILD)/fuzz/common.o $(BUILD)/fuzz/stb_image_impl.o
fuzz: $(FUZZ_BIN)
.SECONDARY: $(FUZZ_COMMON) $(patsubst %.c,$(BUILD)/%.o,$(wildcard fuzz/fuzz_*.c))

$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(FUZZ_COMMON) $(BUILD)/librin.a
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@

# third-party code: its own warnings are not ours
$(BUILD)/fuzz/stb_image_impl.o: fuzz/stb_image_impl.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -W% -MMD -MP,$(CFLAGS)) -w -c $< -o $@

# Regenerates tests/fixtures with the PyTorch reference (needs python3-torch; CI does not).
fixtures:
	/usr/bin/python3 ref/make_fixtures.py tests/fixtures

# Installs the Debian packages the build and tests need (run as root on a fresh machine).
deps:
	sh .ci/install-deps.sh

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*.h include/*.h tests/*.h

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*.h include/*.h tests/*.h

lint:
	-cppcheck --quiet --enable=warning,performance,portability -Iinclude -Isrc src cli
	-clang-tidy $(LIB_SRC) -- -std=c11 -Iinclude -Isrc

clean:
	rm -rf build build-*


# The main job on a fresh machine: install what is missing, build, sample the shipped
# Fashion-MNIST model, then train a fresh one for a few minutes and write its report.
DEMO_MINUTES ?= 4
demo:
	sh .ci/install-deps.sh
	$(MAKE) all
	@mkdir -p runs/demo
	./$(BUILD)/rin sample --model models/fmnist.safetensors --n 40 --steps 100 --sampler ddim \
		--grid runs/demo/pretrained_samples.png --trajectory runs/demo/pretrained_trajectory.png
	rm -rf runs/demo/train
	./$(BUILD)/rin train --run runs/demo/train --preset fmnist --config configs/fmnist.conf \
		--set time_limit=$$(( $(DEMO_MINUTES) * 60 )) --set sample_every=250
	@echo
	@echo "Samples of the shipped model: runs/demo/pretrained_samples.png"
	@echo "The fresh run's report:       runs/demo/train/report.html"

-include $(wildcard $(BUILD)/*/*.d)
