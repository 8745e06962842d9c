#!/usr/bin/env bash
# `make test`: the whole suite, as CI runs it on a clean clone.
#   1. build (warnings are errors under CI) and C unit tests
#   2. integration tests (pytest) against the real binary
#   3. 1 and 2 again under ASan+UBSan
#   4. every libFuzzer target for FUZZ_SECONDS (default 30) each
# Prints one closing "N passed, N failed" line over the steps.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-2}
passed=0 failed=0 failures=()

scripts/deps.sh test || { echo "test: cannot install test dependencies"; exit 1; }

step() { # step NAME COMMAND...
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

pytest_run() { # pytest_run BINARY
  WARPLINK_BIN="$1" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
}

step "format" make --no-print-directory check-format
step "build" make --no-print-directory -j"$JOBS" all unit-bins
step "unit" make --no-print-directory unit
step "integration" pytest_run "$PWD/build/warplink"
step "asan build" make --no-print-directory -j"$JOBS" SANITIZE=1 all unit-bins
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "asan unit" make --no-print-directory SANITIZE=1 unit
step "asan integration" pytest_run "$PWD/build/asan/warplink"
unset ASAN_OPTIONS UBSAN_OPTIONS
step "fuzz build" make --no-print-directory -j"$JOBS" FUZZ=1 fuzzers
step "fuzz" scripts/fuzz.sh "$FUZZ_SECONDS"

echo
[ ${#failures[@]} -gt 0 ] && echo "failed steps: ${failures[*]}"
echo "make-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
