# gust - build with `make`; see README.md for the two commands that matter.
#
#   make                 build/gust (optimised, -Wall -Wextra)
#   make unit            build/unit-tests
#   make O=build/san SAN=1 WERROR=1 all unit    the sanitizer build the test command uses
#   make fuzz            build/fuzz/* libFuzzer targets (clang)
#   make bench           build/bench-admit (admission control; bench/run.sh admit runs it),
#                        build/bench-auth (password hashing, token checks, log masking) and
#                        build/bench-metrics (what GET /metrics costs the loop)
#
# Every dependency comes from pkg-config (scripts/deps.sh installs the Debian packages).

O ?= build
CC ?= cc
PKGS := yaml-0.1 jansson icu-i18n icu-uc sqlite3 libmicrohttpd libsodium libcurl libsystemd

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

CFLAGS_BASE := -std=c17 -D_GNU_SOURCE -Isrc -Wall -Wextra -Wno-unused-parameter \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -g -MMD -MP $(PKG_CFLAGS)
OPT ?= -O2
ifeq ($(SAN),1)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(OPT) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm $(LDLIBS)

LIB_SRCS := $(wildcard src/base/*.c src/dag/*.c src/cron/*.c src/engine/*.c src/exec/*.c src/store/*.c \
	src/auth/*.c src/ops/*.c src/http/*.c src/api/*.c src/server/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
# Only the benchmarks linked against the library; run.sh compiles bench/'s other C helpers.
BENCH_SRCS := bench/bench_admit.c bench/bench_auth.c bench/bench_metrics.c

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(O)/obj/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(O)/obj/%.o)

.PHONY: all unit fuzz bench clean format
all: $(O)/gust
unit: $(O)/unit-tests
bench: $(O)/bench-admit $(O)/bench-auth $(O)/bench-metrics

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/libgust.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/gust: $(CLI_OBJS) $(O)/libgust.a
	$(CC) $(OPT) $(LDSAN) $(LDFLAGS) -o $@ $(CLI_OBJS) $(O)/libgust.a $(LDLIBS_ALL)

$(O)/unit-tests: $(UNIT_OBJS) $(O)/libgust.a
	$(CC) $(OPT) $(LDSAN) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(O)/libgust.a $(LDLIBS_ALL)

$(O)/bench-admit: $(O)/obj/bench/bench_admit.o $(O)/libgust.a
	$(CC) $(OPT) $(LDSAN) $(LDFLAGS) -o $@ $< $(O)/libgust.a $(LDLIBS_ALL)

$(O)/bench-auth: $(O)/obj/bench/bench_auth.o $(O)/libgust.a
	$(CC) $(OPT) $(LDSAN) $(LDFLAGS) -o $@ $< $(O)/libgust.a $(LDLIBS_ALL)

$(O)/bench-metrics: $(O)/obj/bench/bench_metrics.o $(O)/libgust.a
	$(CC) $(OPT) $(LDSAN) $(LDFLAGS) -o $@ $< $(O)/libgust.a $(LDLIBS_ALL)

# libFuzzer targets: the library is rebuilt with clang and coverage instrumentation.
FUZZ_O := build/fuzz
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_O)/obj/%.o)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_O)/%)

fuzz: $(FUZZ_BINS)

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_O)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS) -lm

format:
	clang-format -i $(LIB_SRCS) $(CLI_SRCS) $(UNIT_SRCS) $(FUZZ_SRCS) $(wildcard src/*/*.h tests/unit/*.h)

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(BENCH_OBJS:.o=.d)
