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
LDLIBS := -ldnnl -llapacke -lm
LDFLAGS += -fopenmp

LIB_SRC := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
MODEL_FILES := $(sort $(wildcard models/*.cnn))
RECIPE_FILES := $(sort $(wildcard recipes/*.rcp))

# The built-in models: models/*.cnn compiled in as one generated source.
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/models.o $(BUILD)/obj/gen/recipes.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test clean deps
all: $(BUILD)/cnnlab

# The headers of the libraries cnnlab links: when one is missing (a fresh
# machine), scripts/deps.sh installs the Debian packages before anything is
# compiled; when it cannot, make stops naming it.
DEP_HEADERS := dnnl.h lapacke.h
deps:
	@for h in $(DEP_HEADERS); do \
	    printf '#include <%s>\n' $$h | $(CC) -E -x c - >/dev/null 2>&1 && continue; \
	    echo "make: $$h not found: running scripts/deps.sh to install cnnlab's Debian packages"; \
	    bash scripts/deps.sh && \
	    printf '#include <%s>\n' $$h | $(CC) -E -x c - >/dev/null 2>&1 && continue; \
	    echo "make: $$h still not found: run scripts/deps.sh (it needs root or sudo)" >&2; \
	    exit 1; \
	done

$(BUILD)/libcnnlab.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/cnnlab: $(CLI_OBJ) $(BUILD)/libcnnlab.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/models.c: $(MODEL_FILES) tools/embed_models.sh models
	@mkdir -p $(@D)
	sh tools/embed_models.sh cnn_embedded_models $(MODEL_FILES) > $@.tmp && mv $@.tmp $@

# The built-in recipes: recipes/*.rcp, the same way.
$(BUILD)/gen/recipes.c: $(RECIPE_FILES) tools/embed_models.sh recipes
	@mkdir -p $(@D)
	sh tools/embed_models.sh cnn_embedded_recipes $(RECIPE_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libcnnlab.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: $(BUILD)/cnnlab $(TESTS)
	@CNNLAB=$(BUILD)/cnnlab TESTBIN=$(BUILD)/tests tests/run_all.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_SRC:%.c=$(BUILD)/obj/%.d)
