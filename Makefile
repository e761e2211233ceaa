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
#   MPI     auto (default): with OpenMPI when its mpicc is found, else without (one line says so);
#           1: data-parallel training with OpenMPI (docs/distributed.md), an error without it;
#           0: one process only
#   DNNL    auto (default): also link oneDNN (libdnnl-dev) for the dnnl GEMM path when its header
#           is found, else without (one line says so); 1: an error without it; 0: OpenBLAS only.
#           Needs BLAS=openblas and OMP=1 (oneDNN's threads are OpenMP's); RIN_GEMM picks the
#           path at run time (src/nn/gemm.h, docs/performance.md)
#
# `make test` and `make demo` first install what is missing (.ci/install-deps.sh), then run make
# again for the work (run-tests, run-demo), so that the checks below see what was installed.

ifeq ($(origin CC),default)
CC = gcc
endif
OMP ?= 1
BLAS ?= openblas
SAN ?=
DEBUG ?= 0
WERROR ?= 0
PERF ?= 0
MPI ?= auto
DNNL ?= auto

BUILD ?= build

WARN = -Wall -Wextra -Wshadow -Wdouble-promotion -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Werror=implicit-function-declaration
# src/ has a folder per layer (README "Layout"); their headers are included by name
SRC_LAYERS = base nn diffusion data eval
SRC_INC = -Isrc $(addprefix -Isrc/,$(SRC_LAYERS))
CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off $(WARN) -MMD -MP -Iinclude $(SRC_INC) \
         -I/usr/include/stb -g
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
# Goals that compile and so need the flags below; the others build nothing, and test and demo
# only install what is missing and then run make again (a sub-make reads this file anew).
NOBUILD_GOALS = clean deps format format-check fixtures lint bench-torch test demo
BUILD_GOALS := $(if $(MAKECMDGOALS),$(filter-out $(NOBUILD_GOALS),$(MAKECMDGOALS)),all)
# MPI takes OpenMPI's flags from its compiler wrapper and keeps CC (gcc or clang) as it is.
ifeq ($(filter $(MPI),auto 0 1),)
$(error MPI must be auto, 0 or 1, not '$(MPI)')
endif
ifneq ($(BUILD_GOALS),)
ifneq ($(MPI),0)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null)
ifneq ($(MPI_LIBS),)
CFLAGS += -DRIN_MPI $(MPI_CFLAGS)
LDLIBS += $(MPI_LIBS)
else ifeq ($(MPI),1)
$(error MPI=1 needs OpenMPI (Debian: openmpi-bin libopenmpi-dev; `make deps` installs them); or build with MPI=0)
else
$(info OpenMPI not found (no mpicc): building without MPI, one process only; `make deps` installs it)
endif
endif
endif
# oneDNN: found by its header (a compile of one #include, no other probing). Its CPU runtime is
# OpenMP, so without OMP=1 it would start threads of its own; BLAS=none means no GEMM library.
ifeq ($(filter $(DNNL),auto 0 1),)
$(error DNNL must be auto, 0 or 1, not '$(DNNL)')
endif
ifneq ($(BUILD_GOALS),)
ifneq ($(DNNL),0)
ifeq ($(DNNL)$(BLAS),1none)
$(error DNNL=1 needs BLAS=openblas (BLAS=none builds have no GEMM library))
endif
ifeq ($(DNNL)$(OMP),10)
$(error DNNL=1 needs OMP=1: oneDNN runs its GEMMs on OpenMP threads, which must be rin's)
endif
ifeq ($(BLAS)$(OMP),openblas1)
DNNL_FOUND := $(shell printf '\043include <oneapi/dnnl/dnnl.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
ifeq ($(DNNL_FOUND),yes)
CFLAGS += -DRIN_DNNL
LDLIBS := -ldnnl $(LDLIBS)
else ifeq ($(DNNL),1)
$(error DNNL=1 needs oneDNN (Debian: libdnnl-dev; `make deps` installs it); or build with DNNL=0)
else
$(info oneDNN not found (no oneapi/dnnl/dnnl.h): building without the dnnl GEMM path; `make deps` installs it)
endif
endif
endif
endif
ifneq ($(SAN),)
CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif

# Objects depend on the flags that compiled them: a build directory built again with other flags
# (OpenMPI installed since, DEBUG=1, another CC) is rebuilt, not mixed.
FLAGS_FILE = $(BUILD)/flags
ifneq ($(BUILD_GOALS),)
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(shell mkdir -p $(BUILD) && [ "$$(cat $(FLAGS_FILE) 2>/dev/null)" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' >$(FLAGS_FILE))
endif

LIB_SRC = $(foreach l,$(SRC_LAYERS),$(wildcard src/$(l)/*.c))
CLI_SRC = $(wildcard cli/*.c)
TEST_SRC = $(wildcard tests/*.c)
LIB_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
# The program is main() (cli/rin.c) over librin_cli.a, its commands, helpers and the training
# report; the tests link librin_cli.a too, to test the report. Neither librin.a nor librin.so
# holds any of it.
CLI_MAIN_OBJ = $(BUILD)/cli/rin.o
CLI_OBJ = $(filter-out $(CLI_MAIN_OBJ),$(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC)))
TEST_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC))

.PHONY: bench bench-torch all test run-tests fixtures format format-check lint clean deps demo run-demo fuzz \
	shared install examples
all: $(BUILD)/rin $(BUILD)/rin_tests

# V=1 shows the full commands
ifeq ($(V),1)
Q =
else
Q = @
endif

$(BUILD)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# tests keep assert() and RIN_ASSERT on whatever the flags; they see the program's headers
$(BUILD)/tests/%.o: tests/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) -Icli -UNDEBUG -c $< -o $@

$(BUILD)/librin.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/librin_cli.a: $(CLI_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/rin: $(CLI_MAIN_OBJ) $(BUILD)/librin_cli.a $(BUILD)/librin.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/rin_tests: $(TEST_OBJ) $(BUILD)/librin_cli.a $(BUILD)/librin.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The shared library (docs/library.md): the same sources compiled position-independent with
# -fvisibility=hidden, so that it exports the RIN_API functions of include/ and nothing else
# (.ci/install_check.sh compares them with abi/librin.symbols). SOVERSION changes when a
# public struct or signature does.
VERSION := $(shell sed -n 's/^\#define RIN_VERSION "\(.*\)"/\1/p' include/rin.h)
SOVERSION = 0
SONAME = librin.so.$(SOVERSION)
PIC_OBJ = $(patsubst %.c,$(BUILD)/pic/%.o,$(LIB_SRC))

$(BUILD)/pic/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@echo "  CC $< (shared)"
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/librin.so.$(VERSION): $(PIC_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $(LDFLAGS) $^ $(LDLIBS) -o $@

shared: $(BUILD)/librin.so.$(VERSION)

# make install PREFIX=/usr/local DESTDIR=: the program, the shared and static libraries, the
# public headers, rin.pc for pkg-config and the rin(1) man page. The .pc's private libraries
# are the ones this build linked (OpenBLAS, oneDNN, OpenMPI when found, ...).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
install: $(BUILD)/rin $(BUILD)/librin.a $(BUILD)/librin.so.$(VERSION)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/rin $(DESTDIR)$(PREFIX)/bin/rin
	install -m 644 $(BUILD)/librin.a $(DESTDIR)$(LIBDIR)/librin.a
	install -m 755 $(BUILD)/librin.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librin.so.$(VERSION)
	ln -sf librin.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/librin.so
	install -m 644 include/rin.h include/rin_image.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 man/rin.1 $(DESTDIR)$(MANDIR)/man1/rin.1
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(strip $(LDFLAGS) $(LDLIBS))|' \
		rin.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/rin.pc
	@echo "installed rin $(VERSION) under $(DESTDIR)$(PREFIX)"

# The README's two commands install what is missing (quick when nothing is: dpkg-query only),
# then build and run in a sub-make, which reads this file again and so finds what was installed.
# Command-line variables (CC, MPI, SAN, BUILD, T, ...) reach the sub-make through MAKEFLAGS.
# clang needs LLVM's OpenMP, and its sanitizers their runtimes; gcc brings its own.
DEPS = $(if $(findstring clang,$(CC)),clang libomp-dev $(if $(SAN),libclang-rt-dev))
test:
	sh .ci/install-deps.sh $(DEPS)
	$(MAKE) --no-print-directory run-tests

demo:
	sh .ci/install-deps.sh $(DEPS)
	$(MAKE) --no-print-directory run-demo

# The test program runs from the repository root (fixtures in tests/fixtures, the CLI in
# $(BUILD)/rin). Thread counts are pinned so results do not depend on the machine.
# `make run-tests` is `make test` without the install.
run-tests: $(BUILD)/rin_tests $(BUILD)/rin
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
$(BUILD)/fuzz/stb_image_impl.o: fuzz/stb_image_impl.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -W% -MMD -MP,$(CFLAGS)) -w -c $< -o $@

# Regenerates tests/fixtures with the PyTorch reference (needs python3-torch; CI does not).
fixtures:
	/usr/bin/python3 ref/make_fixtures.py tests/fixtures

# Installs the Debian packages the build and tests need (run as root on a fresh machine).
deps:
	sh .ci/install-deps.sh $(DEPS)

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*.h src/*/*.h cli/*.h include/*.h tests/*.h examples/*.c

format-check:
	clang-format --dry-run --Werror $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) src/*.h src/*/*.h cli/*.h include/*.h tests/*.h examples/*.c

lint:
	-cppcheck --quiet --enable=warning,performance,portability -Iinclude $(SRC_INC) src cli
	-clang-tidy $(LIB_SRC) -- -std=c11 -Iinclude $(SRC_INC)

clean:
	rm -rf build build-*


# The main job on a fresh machine (`make demo` installs what is missing, then runs this): sample
# the shipped Fashion-MNIST model, then train a fresh one for a few minutes and write its report.
# DEMO_SECONDS=20 trains for 20 seconds (CI's short demo), DEMO_MINUTES=10 for 10 minutes.
DEMO_MINUTES ?= 4
DEMO_SECONDS ?= $$(( $(DEMO_MINUTES) * 60 ))
# passive OpenMP waits: a demo on a machine shared with other jobs ran 3x slower spin-waiting
run-demo: export OMP_WAIT_POLICY ?= passive
run-demo: $(BUILD)/rin
	@mkdir -p runs/demo
	./$(BUILD)/rin sample --model models/fmnist.safetensors --n 40 \
		--grid runs/demo/pretrained_samples.png --trajectory runs/demo/pretrained_trajectory.png
	rm -rf runs/demo/train
	./$(BUILD)/rin train --run runs/demo/train --preset fmnist --config configs/fmnist.conf \
		--set time_limit=$(DEMO_SECONDS) --set sample_every=250
	@echo
	@echo "Samples of the shipped model: runs/demo/pretrained_samples.png"
	@echo "The fresh run's report:       runs/demo/train/report.html"

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/pic/*/*/*.d)
