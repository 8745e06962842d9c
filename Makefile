# WarpLink - the front door.
#
#   make            build build/warplink
#   make run        install missing packages, build, serve on 127.0.0.1:8080 (data in ./data)
#   make test       unit + integration tests, again under ASan+UBSan, then time-boxed fuzzing
#   make bench      redirect benchmark against nginx (docs/BENCHMARKS.md)
#   make fuzz       longer fuzzing (FUZZ_SECONDS per target, default 300)
#   make SANITIZE=1 ASan+UBSan build in build/asan
#   make format     apply .clang-format to every C file

SANITIZE ?= 0
FUZZ ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
else ifeq ($(FUZZ),1)
BUILD ?= build/fuzz
else
BUILD ?= build
endif

PKGS := sqlite3 libsodium jansson libmaxminddb libisal
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wformat=2
ifeq ($(CI),true)
WARN += -Werror
endif

OPT ?= -O2
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -pthread -Isrc $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -pthread -lm

ifeq ($(SANITIZE),1)
OPT := -O1
CFLAGS_ALL += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
CC := clang
OPT := -O1
CFLAGS_ALL += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DWL_FUZZING=1
endif

LIB_SRC := $(filter-out src/main.c,$(sort $(shell find src -name '*.c')))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(BUILD)/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-bin/%)

.PHONY: all run test unit integration bench fuzz fuzzers deps deps-test format check-format clean

all: $(BUILD)/warplink

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libwarplink.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/warplink: $(BUILD)/src/main.o $(BUILD)/libwarplink.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/libwarplink.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BUILD)/fuzz-bin/%: tests/fuzz/%.c $(BUILD)/libwarplink.a
	@mkdir -p $(dir $@)
	clang $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_ALL)

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/main.d

unit-bins: $(UNIT_BIN)
fuzzers: $(FUZZ_BIN)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p data
	exec $(BUILD)/warplink serve --data-dir ./data

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: $(BUILD)/warplink
	WARPLINK_BIN=$(abspath $(BUILD)/warplink) /usr/bin/python3 -m pytest -q tests/integration

test:
	@scripts/test.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@BIN=$(abspath $(BUILD)/warplink) bench/run.sh
	@BIN=$(abspath $(BUILD)/warplink) bench/halfload.sh
	@BIN=$(abspath $(BUILD)/warplink) bench/analytics.sh

fuzz:
	@scripts/deps.sh test
	@scripts/fuzz.sh $${FUZZ_SECONDS:-300}

format:
	clang-format -i $$(find src tests -name '*.[ch]')

check-format:
	@clang-format --dry-run --Werror $$(find src tests -name '*.[ch]')

clean:
	rm -rf build
