#!/usr/bin/env bash
# Redirect throughput and latency, WarpLink vs nginx, in the same run.
# Called by `make bench` after building build/warplink; see bench/README.md.
#
# Environment (all optional):
#   BIN=build/warplink         WarpLink binary
#   BENCH_SECONDS=10           length of one measured wrk run
#   BENCH_ROUNDS=5             alternating rounds (WarpLink, nginx, ...) per phase
#   BENCH_WARMUP=5             seconds of the discarded warm-up run per server+dist
#   BENCH_N=1000000            number of links
#   BENCH_CONNS=64             wrk connections (one wrk thread)
#   BENCH_WORKERS=1            nginx worker_processes = WarpLink --threads
#   BENCH_SERVER_CPUS=1        taskset CPU list for both servers
#   BENCH_WRK_CPUS=0           taskset CPU list for wrk
#   BENCH_CACHE_BYTES=512M     WarpLink --cache-bytes
#   BENCH_WL_PORT=18080 BENCH_NGX_PORT=18081
#   BENCH_HALF=1               also measure at ~50% of each server's max rate
#   BENCH_SEED=42              key generator seed
#   BENCH_NICE=0               e.g. -10 (root only): run servers and wrk at this nice
#                              level and, with sched_autogroup (each session shares
#                              the CPU as a group), give this session's autogroup the
#                              same nice for the run (restored on exit), so other
#                              work on a shared machine disturbs the run less
#   BENCH_UPDATE_DOCS=0        1: write the results into docs/BENCHMARKS.md
#   BENCH_KEEP=0               1: keep bench/out/work (keys, map, WarpLink data)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BIN=${BIN:-build/warplink}
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-5}
N=${BENCH_N:-1000000}
CONNS=${BENCH_CONNS:-64}
W=${BENCH_WORKERS:-1}
SRV_CPUS=${BENCH_SERVER_CPUS:-1}
WRK_CPUS=${BENCH_WRK_CPUS:-0}
CACHE=${BENCH_CACHE_BYTES:-512M}
WL_PORT=${BENCH_WL_PORT:-18080}
NGX_PORT=${BENCH_NGX_PORT:-18081}
HALF=${BENCH_HALF:-1}
SEED=${BENCH_SEED:-42}
NICE=${BENCH_NICE:-0}
[ "$(id -u)" -eq 0 ] || NICE=0
PIN_SRV=(nice -n "$NICE" taskset -c) # + cpu list + command
PIN_WRK=(nice -n "$NICE" taskset -c)
PROBE=3 # seconds of the half-load calibration probe
PY=/usr/bin/python3

OUT=$ROOT/bench/out
WORK=$OUT/work
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

for t in wrk taskset cc curl "$NGINX" "$PY"; do
  command -v "$t" >/dev/null || die "missing $t (make bench installs wrk and nginx-light)"
done
[ -x "$BIN" ] || die "no WarpLink binary at $BIN (set BIN=...)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

NPROC=$(nproc)
if [ "$NPROC" -lt 2 ]; then
  log "only $NPROC CPU: not pinning server and wrk apart"
  SRV_CPUS=0 WRK_CPUS=0
fi

# --- processes we start; the trap ends exactly these, by pid -------------------
WL_PID='' NGX_PID='' WRK_PID=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$WRK_PID" INT
  stop_pid "$WL_PID" TERM
  stop_pid "$NGX_PID" TERM # nginx master: fast shutdown, takes its workers along
  if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK/data" "$WORK/wl-data"
  fi
  autogroup_restore
  [ "$rc" -eq 0 ] || log "failed (exit $rc); logs in $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

autogroup_nice "$NICE"

alive() {
  running "$WL_PID" || die "WarpLink (pid $WL_PID) died; see $WORK/wl.log"
  running "$NGX_PID" || die "nginx (pid $NGX_PID) died; see $WORK/nginx.log"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; } # shared pages split
ngx_pids() { echo "$NGX_PID" $(ps -o pid= --ppid "$NGX_PID"); }
srv_pids() { if [ "$1" = wl ]; then echo "$WL_PID"; else ngx_pids; fi; }
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # user+system ticks summed over pids (all threads of each)
  local p s t=0 f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat") || continue
    s=${s##*) } # fields after "(comm) "; utime, stime are fields 14, 15
    read -r -a f <<<"$s"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
srv_port() { if [ "$1" = wl ]; then echo "$WL_PORT"; else echo "$NGX_PORT"; fi; }
calc() { awk "BEGIN { printf \"%.6g\", ($*) }"; }

# --- work dir, keys ---------------------------------------------------------------
for p in "$WL_PORT" "$NGX_PORT"; do
  port_open "$p" && die "port $p already in use (set BENCH_WL_PORT / BENCH_NGX_PORT)"
done
rm -rf "$WORK"
mkdir -p "$WORK/data" "$WORK/wrk" "$WORK/nginx-tmp"
log "work dir $WORK; $ROUNDS rounds x ${SECS}s, $CONNS connections, $W worker(s)," \
  "server on CPU $SRV_CPUS, wrk on CPU $WRK_CPUS"

cc -O2 -std=c11 -Wall -Wextra -o "$WORK/gen-keys" bench/gen-keys.c
"$WORK/gen-keys" "$N" "$SEED" "$WORK/data"
KEYFILE=$WORK/data/keys.txt

# meta.env feeds report.py
cmd="make bench"
envs=$(env | grep -E '^(BENCH_[A-Z_]+|BIN)=' | sort | tr '\n' ' ' || true)
[ -n "$envs" ] && cmd="${envs}make bench"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "host=$(uname -sr)"
  echo "nproc=$NPROC"
  echo "cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "mem_mib=$(awk '/^MemTotal:/ {printf "%d", $2/1024}' /proc/meminfo)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
  echo "command=$cmd"
  echo "keys=$N"
  echo "workers=$W"
  echo "conns=$CONNS"
  echo "server_cpu=$SRV_CPUS"
  echo "wrk_cpu=$WRK_CPUS"
  echo "nice=$NICE"
  echo "cache_bytes=$CACHE"
  echo "seconds=$SECS"
  echo "rounds=$ROUNDS"
  echo "warmup_s=$WARMUP"
  echo "probe_s=$PROBE"
  echo "nginx_version=$("$NGINX" -v 2>&1 | sed 's|.*nginx/||')"
} >"$WORK/meta.env"
printf 'phase\tdist\tserver\tround\tfile\tcpu_s\twall_s\ttarget\tdelay_ms\tconns\n' >"$WORK/runs.tsv"

# --- nginx ------------------------------------------------------------------------
user_line='# not root: no user directive'
[ "$(id -u)" -eq 0 ] && user_line='user root;'
sed -e "s|@USER_LINE@|$user_line|" -e "s|@WORKERS@|$W|" -e "s|@WORK@|$WORK|g" \
  -e "s|@MAP@|$WORK/data/map.conf|" -e "s|@PORT@|$NGX_PORT|" \
  bench/nginx.conf.in >"$WORK/nginx.conf"
NGX_ARGS=(-p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log")
log "nginx -t (builds the 1M-entry map hash)"
timeout 300 "$NGINX" -t "${NGX_ARGS[@]}" >"$WORK/nginx-t.log" 2>&1 ||
  { cat "$WORK/nginx-t.log" >&2; die "nginx -t failed"; }
if grep -q 'could not build' "$WORK/nginx-t.log"; then
  cat "$WORK/nginx-t.log" >&2
  die "nginx map hash sizes too small for $N keys (bench/nginx.conf.in)"
fi
"${PIN_SRV[@]}" "$SRV_CPUS" "$NGINX" "${NGX_ARGS[@]}" >"$WORK/nginx.log" 2>&1 &
NGX_PID=$!

# --- WarpLink: import while nginx parses its map --------------------------------
log "importing $N links into WarpLink"
mkdir -p "$WORK/wl-data"
t0=$SECONDS
timeout 900 "$BIN" link import --data-dir "$WORK/wl-data" "$WORK/data/links.tsv" \
  >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; die "warplink link import failed"; }
grep -q "imported $N links" "$WORK/import.log" ||
  { cat "$WORK/import.log" >&2; die "import did not report 'imported $N links'"; }
echo "import_s=$((SECONDS - t0))" >>"$WORK/meta.env"
log "import took $((SECONDS - t0)) s"

wait_port "$NGX_PORT" "$NGX_PID" nginx 300
log "nginx up (pid $NGX_PID)"

"${PIN_SRV[@]}" "$SRV_CPUS" "$BIN" serve --listen "127.0.0.1:$WL_PORT" --data-dir "$WORK/wl-data" \
  --threads "$W" --cache-bytes "$CACHE" >"$WORK/wl.log" 2>&1 &
WL_PID=$!
wait_port "$WL_PORT" "$WL_PID" WarpLink 120
grep -q "listening on http://127.0.0.1:$WL_PORT" "$WORK/wl.log" ||
  log "warning: WarpLink did not print 'listening on http://127.0.0.1:$WL_PORT'"
log "WarpLink up (pid $WL_PID)"
echo "wl_rss_before_kb=$(rss_kb "$WL_PID")" >>"$WORK/meta.env"

# --- both serve the same answers? (sample of keys, and a miss) --------------------
check_same() { # sample keys: Location from each server must equal the TSV's URL
  local key url srv got code
  while IFS=$'\t' read -r key url; do
    for srv in wl ngx; do
      got=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{redirect_url}' \
        "http://127.0.0.1:$(srv_port $srv)/$key") || true
      [ "$got" = "302 $url" ] || die "$srv: GET /$key gave '$got', want '302 $url'"
    done
  done < <(awk 'NR % 99991 == 1' "$WORK/data/links.tsv")
  for srv in wl ngx; do
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$(srv_port $srv)/zz-no-such-key") || true
    [ "$code" = 404 ] || die "$srv: unknown key gave HTTP '$code', want 404"
  done
}

# --- one wrk run ------------------------------------------------------------------
# run_wrk phase dist server round seconds delay_ms target [conns]
run_wrk() {
  local phase=$1 dist=$2 srv=$3 round=$4 secs=$5 delay=$6 target=$7 conns=${8:-$CONNS}
  local file=wrk/$phase-$dist-$srv-$round.txt c0 c1 t0 t1 pids
  pids=$(srv_pids "$srv")
  c0=$(cpu_ticks $pids)
  t0=$(date +%s.%N)
  BENCH_KEYFILE=$KEYFILE BENCH_DIST=$dist BENCH_DELAY_MS=$delay \
    timeout -s INT $((secs + 60)) "${PIN_WRK[@]}" "$WRK_CPUS" \
    wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s --latency -s bench/redirect.lua \
    "http://127.0.0.1:$(srv_port "$srv")/" >"$WORK/$file" 2>&1 ||
    { cat "$WORK/$file" >&2; die "wrk failed ($file)"; }
  t1=$(date +%s.%N)
  c1=$(cpu_ticks $pids)
  alive
  "$PY" bench/report.py wrk "$WORK/$file" >/dev/null || die "cannot parse $file"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$dist" "$srv" "$round" "$file" \
    "$(calc "($c1 - $c0) / $CLK_TCK")" "$(calc "$t1 - $t0")" "$target" "$delay" "$conns" \
    >>"$WORK/runs.tsv"
  LAST=($("$PY" bench/report.py wrk "$WORK/$file")) # rps p50 p99 requests errors non3xx
  log "$(printf '%-6s %-7s %-3s %-2s %9.0f req/s  p50 %6s us  p99 %7s us  err %s non3xx %s%s' \
    "$phase" "$dist" "$srv" "$round" "${LAST[0]}" "${LAST[1]}" "${LAST[2]}" "${LAST[4]}" "${LAST[5]}" \
    "${target:+  (target $target, delay $delay ms, $conns conns)}")"
}

# --- RSS per cached link: request every key once (sequential walk) -----------------
log "walking all $N keys once on WarpLink (RSS per cached link)"
rm -f "$WORK/walk.done"
BENCH_KEYFILE=$KEYFILE BENCH_DIST=seq BENCH_DONE=$WORK/walk.done \
  "${PIN_WRK[@]}" "$WRK_CPUS" wrk -t1 -c"$CONNS" -d600s --timeout 5s --latency -s bench/redirect.lua \
  "http://127.0.0.1:$WL_PORT/" >"$WORK/wrk/walk-wl.txt" 2>&1 &
WRK_PID=$!
deadline=$((SECONDS + 590))
until [ -e "$WORK/walk.done" ]; do
  running "$WRK_PID" || { cat "$WORK/wrk/walk-wl.txt" >&2; die "walk: wrk exited early"; }
  alive
  [ "$SECONDS" -lt "$deadline" ] || die "walk did not finish in 590 s"
  sleep 0.2
done
stop_pid "$WRK_PID" INT # SIGINT: wrk prints its statistics and exits
WRK_PID=''
read -r -a walk < <("$PY" bench/report.py wrk "$WORK/wrk/walk-wl.txt")
[ "${walk[3]}" -ge "$N" ] || log "warning: walk completed ${walk[3]} of $N requests"
[ "${walk[4]}" = 0 ] && [ "${walk[5]}" = 0 ] ||
  log "warning: walk had ${walk[4]} socket errors, ${walk[5]} non-2xx/3xx responses"
log "walk: ${walk[3]} requests at ${walk[0]} req/s, ${walk[5]} non-3xx"
{
  echo "wl_rss_after_kb=$(rss_kb "$WL_PID")"
  echo "walked=${walk[3]}"
  echo "walk_non3xx=${walk[5]}"
} >>"$WORK/meta.env"

check_same
log "both servers return the same Location for sampled keys, 404 for a miss"

# --- warm-up (discarded), then alternating full-load rounds -----------------------
for dist in uniform zipf; do
  for srv in wl ngx; do run_wrk warmup "$dist" "$srv" 0 "$WARMUP" 0 ''; done
done
{
  echo "ngx_rss_kb=$(($(for p in $(ngx_pids); do rss_kb "$p"; done | paste -sd+)))"
  echo "ngx_pss_kb=$(($(for p in $(ngx_pids); do pss_kb "$p"; done | paste -sd+)))"
  echo "wl_pss_kb=$(pss_kb "$WL_PID")"
} >>"$WORK/meta.env"

for r in $(seq "$ROUNDS"); do
  for dist in uniform zipf; do
    for srv in wl ngx; do run_wrk full "$dist" "$srv" "$r" "$SECS" 0 ''; done
  done
done

# --- half load: each server at ~50% of its own median full-load rate -------------
median_rps() { # dist srv
  awk -F'\t' -v d="$1" -v s="$2" '$1 == "full" && $2 == d && $3 == s {print $5}' "$WORK/runs.tsv" |
    while read -r f; do "$PY" bench/report.py wrk "$WORK/$f" | cut -d' ' -f1; done |
    sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# Half load. wrk's delay() timers have whole-ms resolution (redis ae), too coarse
# for 64 connections at ~50k req/s (a 1.3 ms cycle each), so this phase opens
# HALF_CONNS = target/100 connections (at least CONNS): each then waits ~10 ms
# between requests and the timer's granularity is a small error. A connection's
# cycle is delay + overhead (response time, wrk's own work, timer lateness), so
# rate = conns / (delay + overhead). Every run at delay d with achieved rate a is
# an overhead sample 1000*conns/a - d; the next delay aims at the target with the
# median sample so far (damps the machine's noise). The overhead is real and grows
# with the connection count (wrk scans its timer list per expiry: ~3 ms at 300
# connections, ~5.5 ms at 650), but a run in which other work starved wrk or the
# server overstates it, so a sample is clamped to 70% of the ~10 ms interval.
declare -A TARGET OVH HCONNS
delay_for() { # key
  local m
  m=$(tr ' ' '\n' <<<"${OVH[$1]}" | sed '/^$/d' | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  calc "1000*${HCONNS[$1]}/${TARGET[$1]} - $m < 0 ? 0 : 1000*${HCONNS[$1]}/${TARGET[$1]} - $m"
}
ovh_sample() { # key delay achieved
  local i=$(calc "1000*${HCONNS[$1]}/${TARGET[$1]}") o=$(calc "1000*${HCONNS[$1]}/$3 - $2")
  calc "$o < 0 ? 0 : ($o > 0.7 * $i ? 0.7 * $i : $o)"
}
if [ "$HALF" = 1 ]; then
  for dist in uniform zipf; do
    for srv in wl ngx; do
      k=$dist.$srv
      TARGET[$k]=$(calc "0.5 * $(median_rps "$dist" "$srv")")
      HCONNS[$k]=$(awk -v t="${TARGET[$k]}" -v c="$CONNS" 'BEGIN {n = int(t / 100 + 0.5); print (n > c) ? n : c}')
      OVH[$k]=3 # a first guess; the probe measures it
      d=$(delay_for "$k")
      run_wrk probe "$dist" "$srv" 0 "$PROBE" "$d" "${TARGET[$k]}" "${HCONNS[$k]}"
      OVH[$k]=$(ovh_sample "$k" "$d" "${LAST[0]}")
    done
  done
  for r in $(seq "$ROUNDS"); do
    for dist in uniform zipf; do
      for srv in wl ngx; do
        k=$dist.$srv
        d=$(delay_for "$k")
        run_wrk half "$dist" "$srv" "$r" "$SECS" "$d" "${TARGET[$k]}" "${HCONNS[$k]}"
        OVH[$k]="${OVH[$k]} $(ovh_sample "$k" "$d" "${LAST[0]}")"
      done
    done
  done
fi

echo "wl_rss_end_kb=$(rss_kb "$WL_PID")" >>"$WORK/meta.env"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/meta.env"
alive
# a clean shutdown is part of the run: report if WarpLink needs SIGKILL or fails
kill -TERM "$WL_PID"
for i in $(seq 100); do running "$WL_PID" || break; sleep 0.1; done
if running "$WL_PID"; then
  log "warning: WarpLink still running 10 s after SIGTERM"
  echo "notes=WarpLink did not exit within 10 s of SIGTERM." >>"$WORK/meta.env"
else
  wl_rc=0
  wait "$WL_PID" || wl_rc=$?
  WL_PID=''
  [ "$wl_rc" = 0 ] || log "warning: WarpLink exited with status $wl_rc after SIGTERM"
fi
grep -iE 'error|warn|fatal|abort' "$WORK/wl.log" | head -5 >&2 || true

"$PY" bench/report.py summary "$WORK" "$OUT/results.md"
cp "$WORK/runs.tsv" "$WORK/meta.env" "$OUT/"
if [ "${BENCH_UPDATE_DOCS:-0}" = 1 ]; then
  "$PY" bench/report.py splice "$OUT/results.md" docs/BENCHMARKS.md
  log "updated docs/BENCHMARKS.md"
fi
log "results: $OUT/results.md (wrk outputs in $WORK/wrk)"
