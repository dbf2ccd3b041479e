# cnnlab build. `make` builds build/cnnlab and build/libcnnlab.a; `make test`
# builds and runs every test program under tests/.
# PORTABLE=1 builds for any x86-64-v2 machine (no AVX-512 assumed; oneDNN still
# picks the best kernels for the CPU at run time).

CC ?= gcc
ifeq ($(PORTABLE),1)
ARCH := -march=x86-64-v2
BUILD ?= build-portable
else
ARCH := -march=native
BUILD ?= build
endif

CFLAGS ?= -O3 -g
CFLAGS += -std=c11 $(ARCH) -fopenmp -Wall -Wextra -Wshadow -Wstrict-prototypes \
          -Wno-unused-parameter -Iinclude -Isrc -MMD -MP
LDLIBS := -ldnnl -llapacke -lprotobuf-c -lpng -ljpeg -lstb -lz -lm
# ONNX export (src/export/onnx_graph.c) writes through protobuf-c code that
# protoc-c generates here from the onnx.proto Debian's python3-onnx ships.
ONNX_PROTO := /usr/lib/python3/dist-packages/onnx/onnx.proto
CFLAGS += -I$(BUILD)/gen
LDFLAGS += -fopenmp

# MPI (src/dist/, docs/distributed.md) is built in when pkg-config finds it
# (Debian's libopenmpi-dev and libmpich-dev install mpi.pc, the system's
# default MPI): src/dist/mpi.c, else src/dist/single.c, a world of one
# process. MPI=0 builds without it; MPI_PC=mpich picks MPICH beside Open MPI.
# The answer is found once per build folder, after `deps` (which installs
# MPI on a fresh machine), and kept in $(BUILD)/config.mk; make reads its
# makefiles again once it has written that file, so the very first `make`
# on a fresh machine builds with MPI. `make clean` forgets it.
MPI_PC ?= mpi
ifneq ($(MAKECMDGOALS),clean)
-include $(BUILD)/config.mk
endif
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags $(MPI_PC))
LDLIBS += $(shell pkg-config --libs $(MPI_PC))
DIST_SKIP := src/dist/single.c
else
DIST_SKIP := src/dist/mpi.c
endif

LIB_SRC := $(filter-out $(DIST_SKIP),$(shell find src -name '*.c' ! -path 'src/cli/*' | sort))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
MODEL_FILES := $(sort $(wildcard models/*.cnn))
RECIPE_FILES := $(sort $(wildcard recipes/*.rcp))

# The built-in models: models/*.cnn compiled in as one generated source.
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/models.o $(BUILD)/obj/gen/recipes.o \
           $(BUILD)/obj/gen/onnx.pb-c.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test clean deps
all: $(BUILD)/cnnlab

# The headers of the libraries cnnlab links: when one is missing (a fresh
# machine), scripts/deps.sh installs the Debian packages before anything is
# compiled; when it cannot, make stops naming it.
DEP_HEADERS := dnnl.h lapacke.h protobuf-c/protobuf-c.h zlib.h png.h jpeglib.h \
               stb/stb_image_resize.h
have_dep = case $(1) in *.h) printf '\#include <%s>\n' $(1) | $(CC) -E -x c - >/dev/null 2>&1;; \
               /*) [ -f $(1) ];; *) command -v $(1) >/dev/null;; esac
deps:
	@for h in $(DEP_HEADERS) protoc-c $(ONNX_PROTO); do \
	    $(call have_dep,$$h) && continue; \
	    echo "make: $$h not found: running scripts/deps.sh to install cnnlab's Debian packages"; \
	    bash scripts/deps.sh && $(call have_dep,$$h) && continue; \
	    echo "make: $$h still not found: run scripts/deps.sh (it needs root or sudo)" >&2; \
	    exit 1; \
	done

$(BUILD)/config.mk: | deps
	@mkdir -p $(@D)
	@if pkg-config --exists $(MPI_PC) 2>/dev/null; then mpi=1; else mpi=0; fi; \
	    echo "make: MPI=$$mpi for $(BUILD) (pkg-config $(MPI_PC)), kept in $@"; \
	    echo "MPI ?= $$mpi" >$@.tmp && mv $@.tmp $@

$(BUILD)/libcnnlab.a: $(LIB_OBJ) $(wildcard $(BUILD)/config.mk)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/cnnlab: $(CLI_OBJ) $(BUILD)/libcnnlab.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/src/dist/mpi.o: CFLAGS += $(MPI_CFLAGS)

$(BUILD)/gen/models.c: $(MODEL_FILES) tools/embed_models.sh models
	@mkdir -p $(@D)
	sh tools/embed_models.sh cnn_embedded_models $(MODEL_FILES) > $@.tmp && mv $@.tmp $@

# The built-in recipes: recipes/*.rcp, the same way.
$(BUILD)/gen/recipes.c: $(RECIPE_FILES) tools/embed_models.sh recipes
	@mkdir -p $(@D)
	sh tools/embed_models.sh cnn_embedded_recipes $(RECIPE_FILES) > $@.tmp && mv $@.tmp $@

# The ONNX protobuf messages: C code generated from Debian's onnx.proto.
$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h &: $(ONNX_PROTO) | deps
	@mkdir -p $(@D)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(ONNX_PROTO)
$(BUILD)/obj/src/export/onnx_graph.o: | $(BUILD)/gen/onnx.pb-c.h

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libcnnlab.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# `make test` also checks that every path docs/architecture.md names exists.
test: $(BUILD)/cnnlab $(TESTS)
	@sh tools/check_doc_paths.sh docs/architecture.md docs/data.md
	@CNNLAB=$(BUILD)/cnnlab TESTBIN=$(BUILD)/tests tests/run_all.sh

clean:
	rm -rf $(BUILD)

# `make sanitize`: the whole test suite built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc; -O1, frame pointers) in build-asan. Leak
# checking stays on; tests/lsan.supp names the libraries whose lasting caches
# (oneDNN's primitive cache, the OpenMP runtime) are not leaks of ours.
# SANITIZE_TESTS=c runs the C test programs only (no tests/cli_*.sh).
SAN_BUILD := build-asan
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:halt_on_error=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
.PHONY: sanitize fuzz fuzz-build
sanitize:
	CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	    $(MAKE) BUILD=$(SAN_BUILD) $(SAN_BUILD)/cnnlab \
	    $(TEST_SRC:tests/%.c=$(SAN_BUILD)/tests/%)
ifeq ($(SANITIZE_TESTS),c)
	@$(SAN_ENV) sh -c 'failed=""; for t in $(SAN_BUILD)/tests/test_*; do echo "=== $$t"; \
	    $$t || failed="$$failed $${t##*/}"; done; \
	    if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; echo "all C tests passed"'
else
	@$(SAN_ENV) CNNLAB=$(SAN_BUILD)/cnnlab TESTBIN=$(SAN_BUILD)/tests tests/run_all.sh
endif

# `make fuzz`: the libFuzzer targets of fuzz/ (clang, ASan, UBSan; the library
# built again in build-fuzz), each run for FUZZ_SECONDS on a copy of its seed
# corpus fuzz/corpus/TARGET (new finds go to build-fuzz/corpus/TARGET; the
# repository's corpus is not changed). A crash stops make, its input saved as
# build-fuzz/crash-TARGET-*. scripts/fuzz-deps.sh installs clang.
FUZZ_SECONDS ?= 60
# One input's time limit: the largest image image_file decodes (64 megapixels,
# which a 10 KB 1-bit PNG can claim) takes ~6 s under the sanitizers on the
# Zen 5 (1.5 s in the release build); slower machines need the margin.
FUZZ_TIMEOUT ?= 30
FUZZ_BUILD := build-fuzz
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(sort $(basename $(notdir $(filter-out fuzz/common.c,$(wildcard fuzz/*.c)))))
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)
fuzz-build:
	CC=clang CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" LDFLAGS="-fsanitize=address,undefined" \
	    $(MAKE) BUILD=$(FUZZ_BUILD) $(FUZZ_BUILD)/libcnnlab.a
	$(MAKE) $(FUZZ_BINS)
$(FUZZ_BUILD)/fuzz/%: fuzz/%.c fuzz/common.c fuzz/fuzz.h $(FUZZ_BUILD)/libcnnlab.a
	@mkdir -p $(@D)
	clang -std=c11 $(FUZZ_FLAGS) -fsanitize=fuzzer -fopenmp -Iinclude -Isrc -Ifuzz -Wall -Wextra \
	    -o $@ fuzz/$*.c fuzz/common.c $(FUZZ_BUILD)/libcnnlab.a $(LDLIBS)
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=$(FUZZ_TIMEOUT) \
	        -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t 2>$(FUZZ_BUILD)/$$t.log || \
	        { tail -n 40 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_BUILD)/$$t.log | tr '\n' ' '; echo; \
	done

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:%.c=$(BUILD)/obj/%.d)
