#!/usr/bin/env bash
# Click analytics: what capture costs the redirect path, how fast the worker
# consumes, and how soon a click shows in the stats. Called by `make bench`
# after bench/run.sh; see bench/README.md and docs/BENCHMARKS.md ("Click analytics").
#
#   1. Redirect req/s and server CPU µs/req, alternating rounds (order rotates
#      every round) of three fresh `serve` processes on copies of one store:
#        A  serve --analytics off        (no click capture, no worker)
#        B  serve                        (default: capture + in-process worker)
#        C  serve --no-worker --queue-budget 8G   (capture only)
#      After the first BENCH_AN_DRAINS C rounds, `warplink worker` drains that
#      round's clicks alone (same CPU): the real binary's events/s. (Later C
#      rounds leave their clicks queued: no worker reads data-C until the end.)
#   2. bench/worker.sh EVENTS RUNS 10000 LINKS DIST (worker_bench.c: pre-filled
#      queue, library) for 1,000 links uniform, 100,000 zipf and 100,000 uniform
#      (every click a different link: the worst case).
#   3. Freshness, for each key distribution x load fraction (BENCH_FRESH_DISTS x
#      BENCH_FRESH_LOADS): a fresh default `serve` on a fresh copy of the store
#      under bench/loadgen.c's open-loop load at that fraction of B's median
#      full-load req/s, while freshness.py clicks a fresh link N times and polls
#      its stats. loadgen (32 connections, UA + Referer) is started with a far
#      longer duration than any probe, must still be running when the probe
#      ends, and is then stopped with SIGINT.
#
# Environment (all optional):
#   BIN=build/warplink          WarpLink binary (its directory is the worker.sh BUILD)
#   BENCH_SECONDS=10            one measured wrk run
#   BENCH_ROUNDS=5              rounds; each runs A, B and C once
#   BENCH_AN_WARMUP=3           discarded warm-up seconds after each server start
#   BENCH_AN_LINKS=100000       links imported (gen-keys.c, seed BENCH_SEED=42)
#   BENCH_CONNS=64              wrk connections at full load (one wrk thread)
#   BENCH_SERVER_CPUS=1 BENCH_WRK_CPUS=0   taskset CPU lists
#   BENCH_CACHE_BYTES=512M      serve --cache-bytes
#   BENCH_AN_PORT=18090
#   BENCH_AN_UA=<Chrome UA>     User-Agent of wrk's and loadgen's requests (a human click);
#   BENCH_AN_REFERER=https://news.example.com/item?id=1    their Referer
#   BENCH_AN_DIST=uniform       key distribution of wrk's requests (uniform | zipf,
#                               see redirect.lua); uniform: every click a different
#                               link, the hardest case for the worker's aggregation
#   BENCH_AN_DRAINS=2           C rounds after which `warplink worker` drains the
#                               round's clicks (the first ones; ~20 s each at 100k links)
#   BENCH_WORKER_EVENTS=1000000 BENCH_WORKER_RUNS=5   worker.sh arguments
#   BENCH_FRESH_N=200           freshness clicks per case
#   BENCH_FRESH_DISTS="uniform zipf"   background key distributions (loadgen -Z: zipf)
#   BENCH_FRESH_LOADS="0.25 0.5"       background rates, fractions of B's median req/s
#   BENCH_NICE=0                as in run.sh (root: servers, wrk and session autogroup)
#   BENCH_UPDATE_DOCS=0         1: write the results into docs/BENCHMARKS.md
#   BENCH_KEEP=0                1: keep bench/out/analytics (keys, data dirs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BIN=${BIN:-build/warplink}
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_AN_WARMUP:-3}
N=${BENCH_AN_LINKS:-100000}
CONNS=${BENCH_CONNS:-64}
SRV_CPUS=${BENCH_SERVER_CPUS:-1}
WRK_CPUS=${BENCH_WRK_CPUS:-0}
CACHE=${BENCH_CACHE_BYTES:-512M}
PORT=${BENCH_AN_PORT:-18090}
SEED=${BENCH_SEED:-42}
UA=${BENCH_AN_UA:-Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36}
REFERER=${BENCH_AN_REFERER:-https://news.example.com/item?id=1}
DIST=${BENCH_AN_DIST:-uniform}
DRAINS=${BENCH_AN_DRAINS:-2}
WEVENTS=${BENCH_WORKER_EVENTS:-1000000}
WRUNS=${BENCH_WORKER_RUNS:-5}
FRESH_N=${BENCH_FRESH_N:-200}
FRESH_DISTS=${BENCH_FRESH_DISTS:-uniform zipf}
FRESH_LOADS=${BENCH_FRESH_LOADS:-0.25 0.5}
FRESH_WARM=3   # s of background load before each probe
FRESH_CONNS=32 # loadgen keep-alive connections (fewer make loadgen late at 50%)
LG_SECS=900    # loadgen -d: far longer than a probe
FRESH_DEADLINE=$((LG_SECS - FRESH_WARM - 30)) # no click starts later: the load outlasts each
NICE=${BENCH_NICE:-0}
[ "$(id -u)" -eq 0 ] || NICE=0
PIN=(nice -n "$NICE" taskset -c) # + cpu list + command
PY=/usr/bin/python3

OUT=$ROOT/bench/out
WORK=$OUT/analytics

log() { printf '[analytics %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
STOP_WAIT_TENTHS=150

for t in wrk taskset cc curl "$PY"; do
  command -v "$t" >/dev/null || die "missing $t (make bench installs wrk)"
done
[ -x "$BIN" ] || die "no WarpLink binary at $BIN (set BIN=...)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
# worker.sh builds with `make BUILD=<dir>`: the binary's build directory,
# relative to the repository when it is inside it
BDIR=$(dirname "$BIN")
WBUILD=${BENCH_WORKER_BUILD:-${BDIR#"$ROOT"/}}

NPROC=$(nproc)
if [ "$NPROC" -lt 2 ]; then
  log "only $NPROC CPU: not pinning server and wrk apart"
  SRV_CPUS=0 WRK_CPUS=0
fi

# --- processes we start; the trap ends exactly these, by pid -------------------
WL_PID='' LG_PID=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$LG_PID" INT
  stop_pid "$WL_PID" TERM
  if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK/data" "$WORK"/wl-*
  fi
  autogroup_restore
  [ "$rc" -eq 0 ] || log "failed (exit $rc); logs in $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

autogroup_nice "$NICE"

calc() { awk "BEGIN { printf \"%.6g\", ($*) }"; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; } # key line: value of key= in loadgen's output
CLK_TCK=$(getconf CLK_TCK)
# "total loop" CPU ticks of a process: all threads, and the event-loop thread.
# With --threads 1 the loop is the thread serve creates last (after the offload
# threads and the analytics threads), so the highest thread id.
cpu_threads() {
  local t s f all=0 loop=0 maxtid=0 v tid
  for t in /proc/"$1"/task/*/stat; do
    s=$(cat "$t" 2>/dev/null) || continue
    tid=${s%% *}
    s=${s##*) }
    read -r -a f <<<"$s"
    v=$((f[11] + f[12]))
    all=$((all + v))
    if [ "$tid" -gt "$maxtid" ]; then maxtid=$tid loop=$v; fi
  done
  echo "$all $loop"
}
scrape() { # file: save /metrics
  curl -s -m 5 -o "$1" "http://127.0.0.1:$PORT/metrics" || die "cannot read /metrics"
}
metric() { # file name: value from a saved /metrics (0 if absent; labels summed)
  awk -v n="$2" '{m = $1; sub(/\{.*/, "", m)} m == n {s += $2; found = 1}
    END {if (found) printf "%.0f\n", s; else print 0}' "$1"
}

# --- work dir, links --------------------------------------------------------------
port_open "$PORT" && die "port $PORT already in use (set BENCH_AN_PORT)"
rm -rf "$WORK"
mkdir -p "$WORK/data" "$WORK/wrk"
log "work dir $WORK; $ROUNDS rounds x (A, B, C) x ${SECS}s (+${WARMUP}s warm-up each)," \
  "$CONNS connections, server on CPU $SRV_CPUS, wrk on CPU $WRK_CPUS"
cc -O2 -std=c11 -Wall -Wextra -o "$WORK/gen-keys" bench/gen-keys.c
"$WORK/gen-keys" "$N" "$SEED" "$WORK/data"
rm -f "$WORK/data/map.conf"
KEYFILE=$WORK/data/keys.txt
for d in $FRESH_DISTS; do
  [ "$d" = uniform ] || [ "$d" = zipf ] || die "BENCH_FRESH_DISTS: '$d' is not uniform or zipf"
done
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra bench/loadgen.c -o "$WORK/loadgen" -lm

cmd="make bench" # MAKELEVEL: started by make; else by hand
[ -n "${MAKELEVEL:-}" ] || cmd="bench/analytics.sh"
envs=$(env | grep -E '^(BENCH_[A-Z_]+|BIN)=' | sort | tr '\n' ' ' || true)
[ -n "$envs" ] && cmd="${envs}${cmd}"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host=$(uname -sr)"
  echo "nproc=$NPROC"
  echo "cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "mem_mib=$(awk '/^MemTotal:/ {printf "%d", $2/1024}' /proc/meminfo)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
  echo "command=$cmd"
  echo "links=$N"
  echo "conns=$CONNS"
  echo "server_cpu=$SRV_CPUS"
  echo "wrk_cpu=$WRK_CPUS"
  echo "nice=$NICE"
  echo "cache_bytes=$CACHE"
  echo "seconds=$SECS"
  echo "rounds=$ROUNDS"
  echo "warmup_s=$WARMUP"
  echo "ua=$UA"
  echo "referer=$REFERER"
  echo "dist=$DIST"
  echo "worker_events=$WEVENTS"
  echo "fresh_dists=$FRESH_DISTS"
  echo "fresh_loads=$FRESH_LOADS"
  echo "fresh_warmup_s=$FRESH_WARM"
  echo "fresh_conns=$FRESH_CONNS"
  echo "fresh_n=$FRESH_N"
  echo "fresh_deadline_s=$FRESH_DEADLINE"
} >"$WORK/meta.env"
printf 'mode\tround\tfile\tcpu_s\tloop_s\trest_s\tpublished\tconsumed\tdropped\tdepth_bytes\tlag_s\tdrain_events\tdrain_s\tdrain_cpu_s\n' \
  >"$WORK/runs.tsv"

log "importing $N links"
mkdir -p "$WORK/wl-base"
timeout 300 "$BIN" link import --data-dir "$WORK/wl-base" "$WORK/data/links.tsv" \
  >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; die "warplink link import failed"; }
grep -q "imported $N links" "$WORK/import.log" ||
  { cat "$WORK/import.log" >&2; die "import did not report 'imported $N links'"; }
for m in A B C; do cp -a "$WORK/wl-base" "$WORK/wl-$m"; done

mode_flags() {
  case $1 in
  A) echo "--analytics off" ;;
  B | F) echo "" ;; # F: B's flags, for the freshness runs
  C) echo "--no-worker --queue-budget 8G" ;;
  esac
}
start_server() { # mode [log suffix]
  local flags
  flags=$(mode_flags "$1")
  # shellcheck disable=SC2086 # flags split on purpose
  "${PIN[@]}" "$SRV_CPUS" "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/wl-$1" \
    --threads 1 --cache-bytes "$CACHE" $flags >>"$WORK/wl-$1.log" 2>&1 &
  WL_PID=$!
  local deadline=$((SECONDS + 60))
  while ! port_open "$PORT"; do
    running "$WL_PID" || die "serve ($1) exited before listening; see $WORK/wl-$1.log"
    [ "$SECONDS" -lt "$deadline" ] || die "serve ($1) not listening after 60 s"
    sleep 0.05
  done
}
stop_server() { # a clean shutdown is part of the run
  local rc=0 i
  kill -TERM "$WL_PID"
  for i in $(seq 150); do running "$WL_PID" || break; sleep 0.1; done
  running "$WL_PID" && die "serve (pid $WL_PID) still running 15 s after SIGTERM"
  wait "$WL_PID" || rc=$?
  [ "$rc" = 0 ] || die "serve exited with status $rc after SIGTERM"
  WL_PID=''
  # the port must be free again before the next start
  local deadline=$((SECONDS + 10))
  while port_open "$PORT"; do
    [ "$SECONDS" -lt "$deadline" ] || die "port $PORT still open after serve exited"
    sleep 0.05
  done
}
wrk_run() { # file seconds conns delay_ms
  BENCH_KEYFILE=$KEYFILE BENCH_DIST=$DIST BENCH_DELAY_MS=$4 \
    timeout -s INT $(($2 + 60)) "${PIN[@]}" "$WRK_CPUS" \
    wrk -t1 -c"$3" -d"$2s" --timeout 5s --latency -s bench/redirect.lua \
    -H "User-Agent: $UA" -H "Referer: $REFERER" \
    "http://127.0.0.1:$PORT/" >"$WORK/$1" 2>&1 || { cat "$WORK/$1" >&2; die "wrk failed ($1)"; }
  "$PY" bench/report.py wrk "$WORK/$1" >/dev/null || die "cannot parse $1"
}

# --- 1. capture cost: A/B/C rounds -----------------------------------------------
MODES=(A B C)
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2; do
    m=${MODES[$(((r - 1 + i) % 3))]}
    start_server "$m"
    wrk_run "wrk/warmup-$m-$r.txt" "$WARMUP" "$CONNS" 0
    read -r c0 l0 < <(cpu_threads "$WL_PID")
    rest0=$((c0 - l0))
    file=wrk/full-$m-$r.txt
    wrk_run "$file" "$SECS" "$CONNS" 0
    read -r c1 l1 < <(cpu_threads "$WL_PID")
    running "$WL_PID" || die "serve ($m) died; see $WORK/wl-$m.log"
    scrape "$WORK/metrics-$m-$r.txt"
    pub=$(metric "$WORK/metrics-$m-$r.txt" warplink_click_events_published_total)
    con=$(metric "$WORK/metrics-$m-$r.txt" warplink_click_events_consumed_total)
    drp=$(metric "$WORK/metrics-$m-$r.txt" warplink_click_events_dropped_total)
    dep=$(metric "$WORK/metrics-$m-$r.txt" warplink_queue_depth_bytes)
    lag=$(awk '$1 == "warplink_queue_lag_seconds" {print $2}' "$WORK/metrics-$m-$r.txt")
    stop_server
    de='' ds='' dc=''
    if [ "$m" = C ] && [ "$pub" -gt 0 ] && [ "$r" -le "$DRAINS" ]; then
      # the real worker binary drains what this server published, alone on its CPU
      read -r de ds dc _ < <("${PIN[@]}" "$WRK_CPUS" "$PY" bench/freshness.py drain \
        "$BIN" "$WORK/wl-C" "$pub" "$SRV_CPUS" 300) || die "drain failed"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$file" \
      "$(calc "($c1 - $c0) / $CLK_TCK")" "$(calc "($l1 - $l0) / $CLK_TCK")" \
      "$(calc "(($c1 - $l1) - $rest0) / $CLK_TCK")" "$pub" "$con" "$drp" "$dep" "${lag:-}" "$de" "$ds" "$dc" \
      >>"$WORK/runs.tsv"
    read -r -a L < <("$PY" bench/report.py wrk "$WORK/$file")
    log "$(printf 'round %s %s %9.0f req/s  cpu %5.2f us/req  p99 %6s us  published %s consumed %s dropped %s%s' \
      "$r" "$m" "${L[0]}" "$(calc "($c1 - $c0) / $CLK_TCK * 1e6 / ${L[3]}")" "${L[2]}" "$pub" "$con" "$drp" \
      "${ds:+  drain $de events in $ds s (cpu $dc s)}")"
  done
done

# --- 2. worker throughput (library, pre-filled queue) -----------------------------
for w in "1000 uniform 1k" "100000 zipf 100k-zipf" "100000 uniform 100k-uniform"; do
  read -r links wdist name <<<"$w"
  log "bench/worker.sh $WEVENTS $WRUNS 10000 $links $wdist (BUILD=$WBUILD)"
  BUILD=$WBUILD "${PIN[@]}" "$SRV_CPUS" bench/worker.sh "$WEVENTS" "$WRUNS" 10000 "$links" "$wdist" \
    >"$WORK/worker-$name.txt" 2>&1 || { cat "$WORK/worker-$name.txt" >&2; die "worker.sh failed"; }
  grep -E '^(cpu:|worker:)' "$WORK/worker-$name.txt" >&2 || true
done

# --- 3. freshness under background load (default serve) ---------------------------
B_RPS=$(awk -F'\t' '$1 == "B" {print $3}' "$WORK/runs.tsv" |
  while read -r f; do "$PY" bench/report.py wrk "$WORK/$f" | cut -d' ' -f1; done |
  sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
cases=()
for dist in $FRESH_DISTS; do
  for frac in $FRESH_LOADS; do cases+=("$dist $frac"); done
done
for cs in "${cases[@]}"; do
  read -r dist frac <<<"$cs"
  c=${dist}_$frac
  target=$(calc "int($frac * $B_RPS + 0.5)")
  # a fresh copy of the store: no backlog left over from B's full-load rounds
  rm -rf "$WORK/wl-F"
  cp -a "$WORK/wl-base" "$WORK/wl-F"
  start_server F
  log "freshness $c: loadgen $target req/s, $FRESH_N clicks"
  zipf=()
  [ "$dist" = uniform ] || zipf=(-Z)
  "${PIN[@]}" "$WRK_CPUS" "$WORK/loadgen" -p "$PORT" -k "$KEYFILE" -r "$target" -c "$FRESH_CONNS" \
    -d "$LG_SECS" -w "$FRESH_WARM" "${zipf[@]}" -A "User-Agent: $UA" -A "Referer: $REFERER" \
    >"$WORK/loadgen-$c.out" 2>"$WORK/loadgen-$c.err" &
  LG_PID=$!
  sleep "$FRESH_WARM" # deliberate: let the load and the queue settle
  running "$LG_PID" || { cat "$WORK/loadgen-$c.err" >&2; die "loadgen exited early ($c)"; }
  read -r c0 _ < <(cpu_threads "$WL_PID")
  t0=$(date +%s.%N)
  fr=$("${PIN[@]}" "$WRK_CPUS" "$PY" bench/freshness.py probe "http://127.0.0.1:$PORT" "$FRESH_N" \
    "$WORK/freshness-$c.tsv" 5 10 "$FRESH_DEADLINE") ||
    die "freshness probe failed ($c)"
  t1=$(date +%s.%N)
  read -r c1 _ < <(cpu_threads "$WL_PID")
  running "$LG_PID" || { cat "$WORK/loadgen-$c.err" >&2; die "loadgen ended before the probe ($c)"; }
  running "$WL_PID" || die "serve died; see $WORK/wl-F.log"
  scrape "$WORK/metrics-fresh-$c.txt"
  stop_pid "$LG_PID" INT # loadgen prints its key=value line on SIGINT
  LG_PID=''
  lg=$(tail -1 "$WORK/loadgen-$c.out")
  [ -n "$(kv completed "$lg")" ] || { cat "$WORK/loadgen-$c.err" >&2; die "no loadgen summary ($c)"; }
  [ "$(kv errors "$lg") $(kv non3xx "$lg")" = "0 0" ] ||
    log "warning: loadgen $c: $(kv errors "$lg") errors, $(kv non3xx "$lg") non-3xx"
  # stopped early, loadgen reports over the time it ran (window ends at SIGINT)
  rps=$(kv achieved_rps "$lg") p99=$(kv p99_us "$lg")
  stop_server
  {
    echo "fresh_$c=$fr"
    echo "fresh_${c}_target=$target"
    echo "fresh_${c}_rps=$rps"
    echo "fresh_${c}_p99_us=$p99"
    echo "fresh_${c}_late=$(kv late "$lg")"
    echo "fresh_${c}_wall_s=$(calc "$t1 - $t0")"
    echo "fresh_${c}_cpu_util=$(calc "($c1 - $c0) / $CLK_TCK / ($t1 - $t0)")"
    echo "fresh_${c}_depth_end=$(metric "$WORK/metrics-fresh-$c.txt" warplink_queue_depth_bytes)"
    echo "fresh_${c}_lag_end_s=$(awk '$1 == "warplink_queue_lag_seconds" {print $2}' "$WORK/metrics-fresh-$c.txt")"
  } >>"$WORK/meta.env"
  log "freshness $c (n p50 p99 max timeouts, ms): $fr; background $rps req/s, p99 $p99 us"
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/meta.env"

"$PY" bench/analytics-report.py summary "$WORK" "$OUT/analytics.md"
if [ "${BENCH_UPDATE_DOCS:-0}" = 1 ]; then
  "$PY" bench/analytics-report.py splice "$OUT/analytics.md" docs/BENCHMARKS.md
  log "updated docs/BENCHMARKS.md"
fi
log "results: $OUT/analytics.md (wrk outputs in $WORK/wrk, loadgen's in $WORK)"
