# faultline: one non-recursive Makefile for the whole tree.
#
#   make            build bin/faultline and bin/taskd
#   make chaos      install missing packages, build, run scenarios/default.json
#   make test       install missing packages, build, run every test
#   make test-quick build, run the tests that start no cluster (< 1 min)
#   make asan       the same tests under AddressSanitizer + UBSan
#   make deps       install missing Debian packages (apt-get; needs root)
#   make format     clang-format every C file
#
# Each module is a folder; its sources are every .c file in it except the
# tests (test_*.c), so adding a file needs no edit here. A test_X.c becomes
# build/tests/test_X, linked with its module; test_*.sh scripts run as they
# are, with FAULTLINE_BIN pointing at the binaries under test. The tests run
# through test/run_tests.sh: a progress line each, a log each under
# $(BUILD)/test-logs (printed when it fails), a closing count; a script
# with a line "# test-quick" is in make test-quick (it starts no cluster).

# SAN=1 builds everything with sanitizers into a separate tree.
ifeq ($(SAN),1)
BUILD := build/asan
BIN := build/asan/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
else
BUILD := build/release
BIN := bin
SANFLAGS :=
endif

CC ?= cc
PKGS_CORE := jansson
PKGS_UV := libuv libcurl hiredis
PKGS_NODE := raft libuv sqlite3 jansson
PKGS_FUSE := fuse3

# -Wno-format-truncation: messages are cut to their buffers on purpose.
CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
               -Wno-unused-parameter -Wno-format-truncation -Wstrict-prototypes -Wmissing-prototypes \
               -D_GNU_SOURCE -I. $(SANFLAGS)
LDFLAGS_BASE := $(SANFLAGS)

pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs = $(shell pkg-config --libs $(1) 2>/dev/null)

srcs_in = $(filter-out $(1)/test_%.c,$(wildcard $(1)/*.c))
objs_of = $(patsubst %.c,$(BUILD)/%.o,$(1))

HISTORY_SRC := $(call srcs_in,histories)
CHECKER_SRC := $(call srcs_in,checker)
TASKD_SRC := $(call srcs_in,nodes/taskd)
ADAPTER_SRC := $(call srcs_in,nodes)
PLUGIN_SRC := $(call srcs_in,plugin)
NEMESIS_SRC := $(call srcs_in,nemesis)
RUNNER_SRC := $(call srcs_in,runner)
FAULTFS_SRC := $(call srcs_in,nemesis/faultfs)

HISTORY_OBJ := $(call objs_of,$(HISTORY_SRC))
CHECKER_OBJ := $(call objs_of,$(CHECKER_SRC))
TASKD_OBJ := $(call objs_of,$(TASKD_SRC))
TASKD_LIB_OBJ := $(filter-out $(BUILD)/nodes/taskd/main.o,$(TASKD_OBJ))
RUNNER_ALL_OBJ := $(call objs_of,$(PLUGIN_SRC) $(ADAPTER_SRC) $(NEMESIS_SRC) \
                                  $(RUNNER_SRC))
RUNNER_LIB_OBJ := $(filter-out $(BUILD)/runner/main.o,$(RUNNER_ALL_OBJ))
FAULTFS_OBJ := $(call objs_of,$(FAULTFS_SRC))
FAULTFS_LIB_OBJ := $(filter-out $(BUILD)/nemesis/faultfs/main.o,$(FAULTFS_OBJ))

LIBS_CORE := $(call pc_libs,$(PKGS_CORE))
LIBS_RUNNER := $(call pc_libs,$(PKGS_UV) $(PKGS_CORE)) -lm
LIBS_NODE := $(call pc_libs,$(PKGS_NODE)) -lfiu -lm
LIBS_FAULTFS := $(call pc_libs,$(PKGS_FUSE)) -lpthread

# Every object gets the include flags of every library we use: simpler than
# per-module flags, and harmless.
ALL_PKG_CFLAGS = $(call pc_cflags,$(PKGS_NODE) $(PKGS_FUSE))

PROGRAMS := $(BIN)/faultline $(BIN)/taskd $(BIN)/faultfs

C_TESTS := \
  $(patsubst histories/%.c,$(BUILD)/tests/%,$(wildcard histories/test_*.c)) \
  $(patsubst checker/%.c,$(BUILD)/tests/%,$(wildcard checker/test_*.c)) \
  $(patsubst nodes/%.c,$(BUILD)/tests/%,$(wildcard nodes/test_*.c)) \
  $(patsubst nodes/taskd/%.c,$(BUILD)/tests/%,$(wildcard nodes/taskd/test_*.c)) \
  $(patsubst nemesis/%.c,$(BUILD)/tests/%,$(wildcard nemesis/test_*.c)) \
  $(patsubst nemesis/faultfs/%.c,$(BUILD)/tests/%,$(wildcard nemesis/faultfs/test_*.c)) \
  $(patsubst runner/%.c,$(BUILD)/tests/%,$(wildcard runner/test_*.c))
# Script tests, in the order they run: fast ones first, the chaos runs last.
SCRIPT_TESTS := $(sort $(wildcard test/test_*.sh histories/test_*.sh checker/test_*.sh \
                  nodes/test_*.sh nodes/taskd/test_*.sh nemesis/test_*.sh report/test_*.sh \
                  nemesis/faultfs/test_*.sh ci/test_*.sh)) \
                $(sort $(wildcard runner/test_*.sh))

.PHONY: all chaos test test-all test-quick test-c test-scripts asan deps format clean bench \
        bench-taskd bench-checker fuzz-checker fuzz-readers gate nightly \
        gate-mutants
all: $(PROGRAMS) $(C_TESTS)

# Test objects are intermediates of chained rules: keep them, so that the
# next make does not rebuild them.
.SECONDARY:

# taskd's libfiu fault points (nodes/taskd/README.md); libfiu has no .pc
# file everywhere, hence the plain -lfiu above.
$(BUILD)/nodes/taskd/%.o: CFLAGS_BASE += -DFIU_ENABLE

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(ALL_PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The version (runner/version.c): `git describe` at build time, kept in a
# stamp file rewritten only when it changes, so that version.o is rebuilt
# after a commit and not otherwise; outside a git checkout, the fallback.
GIT_DESCRIBE := $(shell git describe --tags --always --dirty 2>/dev/null)
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_DESCRIBE)' | cmp -s - $@ || echo '$(GIT_DESCRIBE)' > $@
$(BUILD)/runner/version.o: $(BUILD)/version.stamp
$(BUILD)/runner/version.o: CFLAGS_BASE += \
  $(if $(GIT_DESCRIBE),-DFAULTLINE_GIT_DESCRIBE='"$(GIT_DESCRIBE)"')
.PHONY: FORCE
FORCE:

$(BIN)/taskd: $(TASKD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_NODE)

$(BIN)/faultline: $(RUNNER_ALL_OBJ) $(CHECKER_OBJ) $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_RUNNER)

$(BUILD)/tests/test_%: $(BUILD)/histories/test_%.o $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_CORE)

$(BUILD)/tests/test_%: $(BUILD)/checker/test_%.o $(CHECKER_OBJ) $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_CORE) -lm

$(BUILD)/tests/test_%: $(BUILD)/nodes/taskd/test_%.o $(TASKD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_NODE)

# faultfs: the FUSE daemon (nemesis/faultfs/), with libfuse3.
$(BIN)/faultfs: $(FAULTFS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_FAULTFS)

$(BUILD)/tests/test_%: $(BUILD)/nemesis/faultfs/test_%.o $(FAULTFS_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_FAULTFS)

$(BUILD)/tests/test_%: $(BUILD)/nemesis/test_%.o $(RUNNER_LIB_OBJ) \
                       $(CHECKER_OBJ) $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_RUNNER)

# nodes/test_*.c: a system's client against the real system.
$(BUILD)/tests/test_%: $(BUILD)/nodes/test_%.o $(RUNNER_LIB_OBJ) \
                       $(CHECKER_OBJ) $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_RUNNER)

$(BUILD)/tests/test_%: $(BUILD)/runner/test_%.o $(RUNNER_LIB_OBJ) \
                       $(CHECKER_OBJ) $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_RUNNER)

deps:
	@ci/install-deps

chaos: deps
	@$(MAKE) --no-print-directory all
	$(BIN)/faultline run scenarios/default.json

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-all

# Tests run from the top of the tree, one after the other
# (test/run_tests.sh); each prints its name and its seed into its log.
TEST_RUN = FAULTLINE_BIN=$(BIN) bash test/run_tests.sh --logs $(BUILD)/test-logs

test-all: $(C_TESTS) $(PROGRAMS)
	@$(TEST_RUN) $(C_TESTS) $(SCRIPT_TESTS)

# The unit and checker tests: no cluster, no root, under a minute (the
# differential test on 100 histories per model; make test runs 1000).
test-quick: $(C_TESTS) $(PROGRAMS)
	@DIFF_COUNT=$${DIFF_COUNT:-100} $(TEST_RUN) --quick $(C_TESTS) $(SCRIPT_TESTS)

test-c: $(C_TESTS)
	@$(TEST_RUN) $(C_TESTS)

test-scripts: $(PROGRAMS)
	@$(TEST_RUN) $(SCRIPT_TESTS)

asan: deps
	@$(MAKE) --no-print-directory SAN=1 all
	@$(MAKE) --no-print-directory SAN=1 test-all

# Throughput and latency of a local 3-node taskd cluster, and of etcd and
# Redis (primary + 2 replicas) under the same load when installed (no
# assertions).
# Every benchmark, one after the other.
bench: bench-checker bench-taskd

bench-taskd: $(BIN)/taskd $(BIN)/faultfs
	FAULTLINE_BIN=$(BIN) python3 nodes/taskd/bench_taskd.py $(BENCH_ARGS)

# The checker's speed on the conformance set and a generated million-op
# history (a table, no assertions), and the differential test at length.
$(BUILD)/bench_checker: $(BUILD)/checker/bench/bench_checker.o $(CHECKER_OBJ) \
                        $(HISTORY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) $(LDFLAGS) -o $@ $^ $(LIBS_CORE) -lm

bench-checker: $(BUILD)/bench_checker
	$(BUILD)/bench_checker

fuzz-checker: $(BIN)/faultline $(BUILD)/tests/test_linearizable
	FAULTLINE_BIN=$(BIN) DIFF_COUNT=$${DIFF_COUNT:-100000} \
	  bash checker/test_differential.sh
	FAULTLINE_UNWRITTEN_ROUNDS=$${UNWRITTEN_ROUNDS:-300} \
	  $(BUILD)/tests/test_linearizable
	@$(MAKE) --no-print-directory fuzz-readers

# libFuzzer on the history readers (JSONL, EDN, etcd log, kv EDN) and the
# checker behind them, FUZZ_SECONDS long (default 600), at the lowest
# priority; the corpus grows in build/fuzz/corpus from histories/testdata
# and the conformance set, crashes land in build/fuzz/.
CONFORMANCE ?= /work/shared/conformance/porcupine
FUZZ_SRC := histories/fuzz/fuzz_import.c $(HISTORY_SRC) $(CHECKER_SRC)
build/fuzz/fuzz_import: $(FUZZ_SRC) $(wildcard histories/*.h checker/*.h)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
	  -D_GNU_SOURCE $(FUZZ_SRC) $(LIBS_CORE) -lm -o $@

fuzz-readers: build/fuzz/fuzz_import
	@mkdir -p build/fuzz/corpus
	@for d in histories/testdata/*/; do \
	  cp -n $$d/history.jsonl build/fuzz/corpus/$$(basename $$d).jsonl; done
	@for f in $(CONFORMANCE)/kv/c01-*.txt $(CONFORMANCE)/etcd/etcd_00[0-4].log; do \
	  [ -f $$f ] && cp -n $$f build/fuzz/corpus/ || true; done
	cd build/fuzz && nice -n 19 ./fuzz_import -max_total_time=$${FUZZ_SECONDS:-600} \
	  -max_len=4096 -print_final_stats=1 corpus

# The release gate (ci/gate: every fault family once, 20 minutes at most),
# the nightly hunt (ci/nightly --budget MIN) and the gate against each
# seeded bug of taskd (ci/gate-mutants: caught or missed, and how soon).
# Long: not part of make test. ARGS passes options through.
gate: $(PROGRAMS)
	ci/gate --bin $(BIN) $(ARGS)

nightly: $(PROGRAMS)
	ci/nightly --bin $(BIN) $(ARGS)

gate-mutants: $(PROGRAMS)
	nice ci/gate-mutants --bin $(BIN) $(ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
