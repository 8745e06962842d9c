#!/bin/sh
# worker.sh - analytics worker throughput: builds bench/worker_bench.c against
# $BUILD/libwarplink.a and runs it RUNS times, printing the median.
#
#   bench/worker.sh [events=1000000] [runs=5] [batch_max=10000] [links=1000] [dist=uniform]
#
# dist: uniform (every link equally often) or zipf (Zipf(s=1) over the links,
# as bench/redirect.lua); see worker_bench.c.
#
# Environment:
#   BUILD=build-perf   build directory (only `make BUILD=$BUILD` targets are used)
#   BASE=path          another worker_bench binary (e.g. one built from the
#                      previous commit): its runs alternate with ours, so both
#                      medians see the same machine load, and its median is
#                      printed too (with zipf it must take the dist
#                      argument: older builds ignore it and fill uniformly).
# Prints, last line: "worker: N events/s (median of R runs)". The median of
# events per CPU-second (all threads) is printed as well: on a shared machine
# it is the steadier figure.
set -eu
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
RUNS=${2:-5}
BATCH=${3:-10000}
LINKS=${4:-1000}
DIST=${5:-uniform}
BUILD=${BUILD:-build-perf}
[ "$RUNS" -ge 3 ] || { echo "worker.sh: runs must be >= 3" >&2; exit 2; }

make -s BUILD="$BUILD" "$BUILD/libwarplink.a"
# shellcheck disable=SC2046 # pkg-config output is meant to split
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/worker_bench.c "$BUILD/libwarplink.a" \
    $(pkg-config --libs sqlite3 libsodium jansson libmaxminddb libisal) -pthread -lm \
    -o "$BUILD/worker_bench"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run BIN TAG: one run, appends "events/s events/cpu-s" to $TMP/TAG
run() {
    out=$("$1" "$EVENTS" "$BATCH" "$LINKS" "$DIST") || { echo "worker.sh: $1 failed: $out" >&2; exit 1; }
    echo "  $2: $out" >&2
    echo "$out" | sed -n 's/.* = \([0-9]*\) events\/s, cpu [0-9.]* s (\([0-9]*\) events\/cpu-s).*/\1 \2/p' >>"$TMP/$2"
}

# median COLUMN FILE
median() {
    cut -d' ' -f"$1" "$2" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

i=0
while [ "$i" -lt "$RUNS" ]; do
    if [ -n "${BASE:-}" ]; then
        run "$BASE" base
    fi
    run "$BUILD/worker_bench" new
    i=$((i + 1))
done
if [ -n "${BASE:-}" ]; then
    echo "base: $(median 1 "$TMP/base") events/s, $(median 2 "$TMP/base") events/cpu-s (median of $RUNS runs)"
fi
echo "cpu: $(median 2 "$TMP/new") events/cpu-s (median of $RUNS runs)"
echo "worker: $(median 1 "$TMP/new") events/s (median of $RUNS runs)"
