#!/usr/bin/env bash
# Runs each unit-test binary in its own process with a time limit; prints a
# closing "N passed, N failed" line over all binaries.
set -uo pipefail
passed=0 failed=0
for t in "$@"; do
  if timeout 120 "$t"; then passed=$((passed + 1)); else
    echo "FAILED: $t" >&2; failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
