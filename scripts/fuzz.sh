#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 20), starting from
# the committed seeds in tests/fuzz/corpus/<name>/. New inputs go to a
# scratch directory so the committed corpus only grows on purpose.
# A crash leaves its reproducer in build/fuzz/crashes/ and fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
make --no-print-directory -j2 FUZZ=1 fuzzers >/dev/null || exit 1
mkdir -p build/fuzz/crashes
status=0
for bin in build/fuzz/fuzz-bin/fuzz_*; do
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=tests/fuzz/corpus/$name
  scratch=$(mktemp -d)
  [ -d "$seeds" ] || seeds=""
  if "$bin" -max_total_time="$SECONDS_EACH" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix=build/fuzz/crashes/"$name"- -print_final_stats=1 \
       "$scratch" $seeds > build/fuzz/"$name".log 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' build/fuzz/"$name".log | grep -o '[0-9]*$')
    echo "fuzz $name: ok, ${runs:-?} runs in ${SECONDS_EACH}s"
  else
    echo "fuzz $name: FAILED (see build/fuzz/$name.log)"; tail -30 build/fuzz/"$name".log
    status=1
  fi
  rm -rf "$scratch"
done
exit $status
