#!/usr/bin/env bash
# Half load, open loop: WarpLink vs nginx at ~50% of each one's full-load rate,
# driven by bench/loadgen.c (paced timetable, coordinated-omission-safe) instead
# of wrk's Lua delay() (whole-ms timer ticks, hundreds of connections: bursts).
# Writes the "### Half load, open loop (loadgen)" subsection of docs/BENCHMARKS.md.
#
#   bench/halfload.sh            # ~3-4 minutes
#
# Environment (all optional):
#   BIN=build/warplink           WarpLink binary
#   HALF_RATE_WL, HALF_RATE_NGINX  target req/s; default 50% of the uniform
#                                full-load median req/s in docs/BENCHMARKS.md
#                                ("### Full load" table), else 65000
#   HALF_SECONDS=10              measured seconds per run
#   HALF_WARMUP=1                unrecorded seconds at the target rate before each
#   HALF_ROUNDS=5                alternating rounds (WarpLink, nginx, ...)
#   HALF_CONNS=16                keep-alive connections
#   HALF_N=1000000 HALF_SEED=42  keys (gen-keys.c), when bench/out/work has none
#   HALF_SERVER_CPUS=1 HALF_LG_CPUS=0   taskset CPU lists
#   HALF_NICE=-10                nice for servers and loadgen (root only; also the
#                                session autogroup, as run.sh's BENCH_NICE)
#   HALF_WL_PORT=18090 HALF_NGX_PORT=18091
#   HALF_CACHE_BYTES=512M        WarpLink --cache-bytes
#   HALF_WL_ARGS=                extra `serve` arguments (diagnostics, e.g.
#                                "--analytics off"; then use HALF_UPDATE_DOCS=0)
#   HALF_UPDATE_DOCS=1           0: only print and write bench/out/half/halfload.md
#
# Reuses bench/out/work/data (keys.txt, links.tsv, map.conf) when `make bench`
# ran with BENCH_KEEP=1 (and its wl-data if the import there completed);
# otherwise generates the same data (gen-keys.c, same seed) in bench/out/half.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BIN=${BIN:-build/warplink}
SECS=${HALF_SECONDS:-10}
WARM=${HALF_WARMUP:-1}
ROUNDS=${HALF_ROUNDS:-5}
CONNS=${HALF_CONNS:-16}
N=${HALF_N:-1000000}
SEED=${HALF_SEED:-42}
SRV_CPUS=${HALF_SERVER_CPUS:-1}
LG_CPUS=${HALF_LG_CPUS:-0}
NICE=${HALF_NICE:--10}
[ "$(id -u)" -eq 0 ] || NICE=0
WL_PORT=${HALF_WL_PORT:-18090}
NGX_PORT=${HALF_NGX_PORT:-18091}
CACHE=${HALF_CACHE_BYTES:-512M}
UPDATE_DOCS=${HALF_UPDATE_DOCS:-1}
PY=/usr/bin/python3
DOC=docs/BENCHMARKS.md

OUT=$ROOT/bench/out
HOUT=$OUT/half
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
LG=$OUT/loadgen

log() { printf '[half %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

for t in taskset cc curl "$NGINX" "$PY"; do
  command -v "$t" >/dev/null || die "missing $t (make bench installs nginx-light)"
done
[ -x "$BIN" ] || die "no WarpLink binary at $BIN (set BIN=...)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
if [ "$(nproc)" -lt 2 ]; then
  log "only $(nproc) CPU: not pinning server and loadgen apart"
  SRV_CPUS=0 LG_CPUS=0
fi
PIN=(nice -n "$NICE" taskset -c) # + cpu list + command

# --- processes we start; the trap ends exactly these, by pid -------------------
WL_PID='' NGX_PID='' LG_PID=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$LG_PID" INT
  stop_pid "$WL_PID" TERM
  stop_pid "$NGX_PID" TERM
  autogroup_restore
  [ "$rc" -eq 0 ] || log "failed (exit $rc); logs in $HOUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

autogroup_nice "$NICE"

alive() {
  running "$WL_PID" || die "WarpLink (pid $WL_PID) died; see $HOUT/wl.log"
  running "$NGX_PID" || die "nginx (pid $NGX_PID) died; see $HOUT/nginx.log"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local p s t=0 f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat") || continue
    s=${s##*) }
    read -r -a f <<<"$s"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
srv_pids() { if [ "$1" = wl ]; then echo "$WL_PID"; else echo "$NGX_PID" "$(ps -o pid= --ppid "$NGX_PID" | tr -d " " | paste -sd" ")"; fi; }
srv_port() { if [ "$1" = wl ]; then echo "$WL_PORT"; else echo "$NGX_PORT"; fi; }
kv() { # key line: value of key=... in a loadgen output line
  tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

for p in "$WL_PORT" "$NGX_PORT"; do
  port_open "$p" && die "port $p already in use (set HALF_WL_PORT / HALF_NGX_PORT)"
done
rm -rf "$HOUT"
mkdir -p "$HOUT/nginx-tmp" "$HOUT/runs"

# --- loadgen, target rates ---------------------------------------------------------
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra bench/loadgen.c -o "$LG" -lm
full_median() { # server name in the docs table -> req/s of the uniform full-load row
  awk -v s="$1" -F'|' '
    /^### / { in_full = ($0 ~ /^### Full load/) }
    in_full && $2 ~ /^ *uniform *$/ && $3 ~ "^ *" s " *$" { gsub(/[ ,]/, "", $4); print $4; exit }
  ' "$DOC" 2>/dev/null
}
rate_src="default 65000 req/s"
RATE_WL=${HALF_RATE_WL:-}
RATE_NGX=${HALF_RATE_NGINX:-}
if [ -z "$RATE_WL" ] || [ -z "$RATE_NGX" ]; then
  fw=$(full_median WarpLink) fn=$(full_median nginx)
  if [ -n "$fw" ] && [ -n "$fn" ]; then
    RATE_WL=${RATE_WL:-$((fw / 2))} RATE_NGX=${RATE_NGX:-$((fn / 2))}
    rate_src="50% of the uniform full-load medians in $DOC (WarpLink $fw, nginx $fn req/s)"
  else
    RATE_WL=${RATE_WL:-65000} RATE_NGX=${RATE_NGX:-65000}
  fi
fi
[ -n "${HALF_RATE_WL:-}${HALF_RATE_NGINX:-}" ] && rate_src="HALF_RATE_WL=$RATE_WL HALF_RATE_NGINX=$RATE_NGX"
log "targets: WarpLink $RATE_WL req/s, nginx $RATE_NGX req/s ($rate_src)"

# --- data ------------------------------------------------------------------------------
KEEP=$OUT/work
if [ -s "$KEEP/data/keys.txt" ] && [ -s "$KEEP/data/links.tsv" ] && [ -s "$KEEP/data/map.conf" ]; then
  DATA=$KEEP/data
  log "reusing $DATA (make bench with BENCH_KEEP=1)"
else
  DATA=$HOUT/data
  mkdir -p "$DATA"
  cc -O2 -std=c11 -Wall -Wextra -o "$HOUT/gen-keys" bench/gen-keys.c
  "$HOUT/gen-keys" "$N" "$SEED" "$DATA"
fi
KEYFILE=$DATA/keys.txt
NKEYS=$(wc -l <"$KEYFILE")

user_line='# not root: no user directive'
[ "$(id -u)" -eq 0 ] && user_line='user root;'
sed -e "s|@USER_LINE@|$user_line|" -e "s|@WORKERS@|1|" -e "s|@WORK@|$HOUT|g" \
  -e "s|@MAP@|$DATA/map.conf|" -e "s|@PORT@|$NGX_PORT|" \
  bench/nginx.conf.in >"$HOUT/nginx.conf"
"${PIN[@]}" "$SRV_CPUS" "$NGINX" -p "$HOUT" -c "$HOUT/nginx.conf" -e "$HOUT/nginx-error.log" \
  >"$HOUT/nginx.log" 2>&1 &
NGX_PID=$!

if [ "$DATA" = "$KEEP/data" ] && [ -d "$KEEP/wl-data" ] &&
  grep -q "imported $NKEYS links" "$KEEP/import.log" 2>/dev/null; then
  WLDATA=$KEEP/wl-data
  log "reusing $WLDATA"
else
  WLDATA=$HOUT/wl-data
  log "importing $NKEYS links into WarpLink"
  timeout 900 "$BIN" link import --data-dir "$WLDATA" "$DATA/links.tsv" >"$HOUT/import.log" 2>&1 ||
    { cat "$HOUT/import.log" >&2; die "warplink link import failed"; }
  grep -q "imported $NKEYS links" "$HOUT/import.log" ||
    { cat "$HOUT/import.log" >&2; die "import did not report 'imported $NKEYS links'"; }
fi
wait_port "$NGX_PORT" "$NGX_PID" nginx 300
log "nginx up (pid $NGX_PID)"
"${PIN[@]}" "$SRV_CPUS" "$BIN" serve --threads 1 --cache-bytes "$CACHE" \
  --listen "127.0.0.1:$WL_PORT" --data-dir "$WLDATA" ${HALF_WL_ARGS:-} >"$HOUT/wl.log" 2>&1 &
WL_PID=$!
wait_port "$WL_PORT" "$WL_PID" WarpLink 120
log "WarpLink up (pid $WL_PID)"

k1=$(head -1 "$KEYFILE")
for s in wl ngx; do
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$(srv_port $s)/$k1") || true
  [ "$code" = 302 ] || die "$s: GET /$k1 gave HTTP '$code', want 302"
done

# --- one loadgen run ------------------------------------------------------------------
# lg name server rate [extra loadgen args...]  -> sets LAST (key=value line), LAST_CPU_US
lg() {
  local name=$1 srv=$2 rate=$3 pids c0 c1
  shift 3
  pids=$(srv_pids "$srv")
  c0=$(cpu_ticks $pids)
  "${PIN[@]}" "$LG_CPUS" timeout -s INT 700 "$LG" -p "$(srv_port "$srv")" -k "$KEYFILE" \
    -c "$CONNS" -r "$rate" "$@" >"$HOUT/runs/$name.out" 2>"$HOUT/runs/$name.err" &
  LG_PID=$!
  wait "$LG_PID" || { LG_PID=''; cat "$HOUT/runs/$name.err" >&2; die "loadgen failed ($name)"; }
  LG_PID=''
  c1=$(cpu_ticks $pids)
  alive
  LAST=$(tail -1 "$HOUT/runs/$name.out")
  LAST_CPU_US=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$(kv completed "$LAST")" \
    'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }')
  log "$(printf '%-10s %-3s target %6s  achieved %8.0f  p50 %5s p99 %5s p99.9 %5s max %8s us  late %s errors %s non3xx %s  CPU %s us/req  loadgen stall %s us' \
    "$name" "$srv" "$rate" "$(kv achieved_rps "$LAST")" "$(kv p50_us "$LAST")" "$(kv p99_us "$LAST")" \
    "$(kv p999_us "$LAST")" "$(kv max_us "$LAST")" "$(kv late "$LAST")" "$(kv errors "$LAST")" \
    "$(kv non3xx "$LAST")" "$LAST_CPU_US" "$(kv gen_gap_max_us "$LAST")")"
}

# --- warm every key once (closed loop, file order), then a low-rate sanity check ---------
for s in wl ngx; do
  lg "walk-$s" "$s" 0 -S
  [ "$(kv completed "$LAST")" -ge "$NKEYS" ] || log "warning: $s walk completed $(kv completed "$LAST") of $NKEYS"
  [ "$(kv non3xx "$LAST")" = 0 ] && [ "$(kv errors "$LAST")" = 0 ] ||
    die "$s walk: $(kv errors "$LAST") errors, $(kv non3xx "$LAST") non-3xx"
done
# the walk's clicks are consumed by WarpLink's in-process analytics worker (same
# CPU): wait until both servers are idle (< 3% CPU over 1 s; at most 120 s)
idle_t0=$SECONDS
while [ $((SECONDS - idle_t0)) -lt 120 ]; do
  # shellcheck disable=SC2046 # pid lists split on purpose
  c0=$(cpu_ticks $(srv_pids wl) $(srv_pids ngx))
  sleep 1
  # shellcheck disable=SC2046
  c1=$(cpu_ticks $(srv_pids wl) $(srv_pids ngx))
  [ $((c1 - c0)) -le $((CLK_TCK * 3 / 100)) ] && break
done
alive
log "servers idle after $((SECONDS - idle_t0)) s (last second: $((c1 - c0)) ticks of $CLK_TCK)"
declare -A SANITY
for s in wl ngx; do
  lg "sanity-$s" "$s" 1000 -d 3 -w 0.5
  SANITY[$s]="$(kv p50_us "$LAST") / $(kv p99_us "$LAST") / $(kv p999_us "$LAST") µs (p50 from send $(kv svc_p50_us "$LAST") µs, late $(kv late "$LAST"))"
  [ "$(kv p99_us "$LAST")" -le 300 ] ||
    log "warning: $s p99 $(kv p99_us "$LAST") us at 1000 req/s: the machine is busy or loadgen is off"
done

# --- alternating rounds -------------------------------------------------------------
loadavg0=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'round\tserver\ttarget\tachieved\tp50\tp90\tp99\tp999\tmax\tsvc_p99\tlate\tmax_backlog\terrors\tnon3xx\tunfinished\tcpu_us\tgen_gap\n' \
  >"$HOUT/rounds.tsv"
for r in $(seq "$ROUNDS"); do
  for s in wl ngx; do
    rate=$RATE_WL
    [ "$s" = ngx ] && rate=$RATE_NGX
    lg "half-$r-$s" "$s" "$rate" -d "$SECS" -w "$WARM"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$rate" \
      "$(kv achieved_rps "$LAST")" "$(kv p50_us "$LAST")" "$(kv p90_us "$LAST")" \
      "$(kv p99_us "$LAST")" "$(kv p999_us "$LAST")" "$(kv max_us "$LAST")" \
      "$(kv svc_p99_us "$LAST")" "$(kv late "$LAST")" "$(kv max_backlog "$LAST")" \
      "$(kv errors "$LAST")" "$(kv non3xx "$LAST")" "$(kv unfinished "$LAST")" "$LAST_CPU_US" \
      "$(kv gen_gap_max_us "$LAST")" \
      >>"$HOUT/rounds.tsv"
  done
done
loadavg1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------------------
cmd="bench/halfload.sh"
envs=$(env | grep -E '^(HALF_[A-Z_]+|BIN)=' | sort | tr '\n' ' ' || true)
[ -n "$envs" ] && cmd="${envs}bench/halfload.sh"
H_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
H_HOST=$(uname -sr)
H_NPROC=$(nproc)
H_CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
H_MEM=$(awk '/^MemTotal:/ {printf "%d", $2/1024}' /proc/meminfo)
H_GIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
H_NGXV=$("$NGINX" -v 2>&1 | sed 's|.*nginx/||')
export H_DATE H_HOST H_NPROC H_CPU H_MEM H_GIT H_NGXV
export H_CMD="$cmd" H_LOAD0="$loadavg0" H_LOAD1="$loadavg1" H_SECS="$SECS" H_WARM="$WARM"
export H_ROUNDS="$ROUNDS" H_CONNS="$CONNS" H_NICE="$NICE" H_SRV="$SRV_CPUS" H_LG="$LG_CPUS"
export H_RATE_SRC="$rate_src" H_NKEYS="$NKEYS" H_CACHE="$CACHE"
export H_SAN_WL="${SANITY[wl]}" H_SAN_NGX="${SANITY[ngx]}"
"$PY" - "$HOUT/rounds.tsv" "$HOUT/halfload.md" "$DOC" "$UPDATE_DOCS" <<'EOF'
import csv, os, statistics, sys

tsv, out_md, doc, update = sys.argv[1:5]
E = os.environ
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
NAMES = {"wl": "WarpLink", "ngx": "nginx"}

def us(v):
    v = float(v)
    return "%.0f µs" % v if v < 1000 else "%.2f ms" % (v / 1000)

def med(s, k):
    return statistics.median(float(r[k]) for r in rows if r["server"] == s)

def ratio(a, b):
    return "%.2f×" % (a / b) if b else "-"

L = []
L.append("### Half load, open loop (loadgen)")
L.append("")
L.append("Measured %s on %s (%s cores, `%s`, %s MiB RAM; load average %s at start, %s at the end); git %s."
         % (E["H_DATE"], E["H_HOST"], E["H_NPROC"], E["H_CPU"], E["H_MEM"], E["H_LOAD0"], E["H_LOAD1"], E["H_GIT"]))
L.append("Command: `%s` (its own servers and data; reuses `bench/out/work` when `make bench` ran with `BENCH_KEEP=1`). "
         "`make bench` (report.py splice) rewrites this whole section, so run it again after a `BENCH_UPDATE_DOCS=1` run." % E["H_CMD"])
L.append("")
L.append(
    "Same servers and data as above (%s links; WarpLink `serve --threads 1 --cache-bytes %s`, nginx %s `map` + `return 302`, "
    "pinned to CPU %s), but driven by `bench/loadgen.c` (pinned to CPU %s%s) instead of wrk: %s keep-alive connections, "
    "an open-loop timetable (request *i* is due at t0 + *i*/rate, sent on the next idle connection round-robin, uniform random key), "
    "latency from the request's *scheduled* time to the last byte of the response, in 1 µs buckets. "
    "A request due while all connections are busy waits and counts as *late*, its wait included in its latency, "
    "so stalls are not hidden (coordinated omission). Target: %s. Every key requested once per server first "
    "(closed loop), then %s alternating rounds of %s s recorded after %s s unrecorded at the same rate; medians over rounds below. "
    "After the walk the script waits until both servers are idle (WarpLink's in-process analytics worker drains the walk's clicks). "
    "*p99 from send*: from the request's write() instead of its scheduled time (the server's share of the tail); "
    "*loadgen's longest stall*: the longest gap between two polling passes of loadgen's loop (its own hiccups, which also delay sends). "
    "Sanity check at 1000 req/s (3 s, p50 / p99 / p99.9): WarpLink %s, nginx %s; "
    "slower than at half load because at 1000 req/s both CPUs go idle between requests and every request pays the (virtual) "
    "machine's wake-ups, while loadgen itself is on time (p50 from send ≈ p50 from schedule)."
    % (format(int(E["H_NKEYS"]), ","), E["H_CACHE"], E["H_NGXV"], E["H_SRV"], E["H_LG"],
       ", nice %s" % E["H_NICE"] if E["H_NICE"] != "0" else "", E["H_CONNS"], E["H_RATE_SRC"],
       E["H_ROUNDS"], E["H_SECS"], E["H_WARM"], E["H_SAN_WL"], E["H_SAN_NGX"]))
L.append("")
L.append("| server | target req/s | achieved req/s | p50 | p90 | p99 | p99.9 | max (worst round) | late (all rounds) | errors / non-3xx | CPU µs/req |")
L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
M = {}
for s in ("wl", "ngx"):
    rs = [r for r in rows if r["server"] == s]
    if not rs:
        continue
    M[s] = {k: med(s, k) for k in ("achieved", "p50", "p90", "p99", "p999", "cpu_us")}
    late = sum(int(r["late"]) for r in rs)
    sent = sum(float(r["target"]) for r in rs) * float(E["H_SECS"])  # scheduled in the windows
    L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s (%.3f%%) | %d / %d | %.2f |" % (
        NAMES[s], format(int(float(rs[0]["target"])), ","), format(round(M[s]["achieved"]), ","),
        us(M[s]["p50"]), us(M[s]["p90"]), us(M[s]["p99"]), us(M[s]["p999"]),
        us(max(float(r["max"]) for r in rs)), format(late, ","), 100.0 * late / sent if sent else 0,
        sum(int(r["errors"]) for r in rs), sum(int(r["non3xx"]) for r in rs), M[s]["cpu_us"]))
if len(M) == 2:
    w, n = M["wl"], M["ngx"]
    L.append("| **WarpLink / nginx** | | | %s | %s | **%s** | %s | | | | %s |" % (
        ratio(w["p50"], n["p50"]), ratio(w["p90"], n["p90"]), ratio(w["p99"], n["p99"]),
        ratio(w["p999"], n["p999"]), ratio(w["cpu_us"], n["cpu_us"])))
L.append("")
L.append("<details><summary>Every round</summary>")
L.append("")
L.append("| round | server | target | achieved req/s | p50 | p90 | p99 | p99.9 | max | p99 from send | late | max backlog | errors | non-3xx | unfinished | CPU µs/req | loadgen's longest stall |")
L.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["round"], NAMES[r["server"]], format(int(float(r["target"])), ","), format(round(float(r["achieved"])), ","),
        us(r["p50"]), us(r["p90"]), us(r["p99"]), us(r["p999"]), us(r["max"]), us(r["svc_p99"]),
        r["late"], r["max_backlog"], r["errors"], r["non3xx"], r["unfinished"], r["cpu_us"], us(r["gen_gap"])))
L.append("")
L.append("</details>")
text = "\n".join(L) + "\n"
open(out_md, "w", encoding="utf-8").write(text)
sys.stdout.write(text)

if update != "1":
    sys.exit(0)
HEAD = "### Half load, open loop (loadgen)"
lines = open(doc, encoding="utf-8").read().split("\n")
sec = next((i for i, l in enumerate(lines) if l.strip() == "## Redirects vs nginx"), None)
if sec is None:
    sys.exit("no '## Redirects vs nginx' section in %s" % doc)
sec_end = next((i for i in range(sec + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
old = next((i for i in range(sec, sec_end) if lines[i].strip() == HEAD), None)
if old is not None:  # replace a previous run's subsection
    end = next((i for i in range(old + 1, len(lines)) if lines[i].startswith("## ") or lines[i].startswith("### ")), len(lines))
    start = old
else:  # insert right after the "### Half load (" subsection (before the next heading)
    half = next((i for i in range(sec, sec_end) if lines[i].startswith("### Half load (")), None)
    if half is None:
        sys.exit("no '### Half load (' subsection in %s" % doc)
    start = end = next((i for i in range(half + 1, len(lines)) if lines[i].startswith("## ") or lines[i].startswith("### ")), len(lines))
new = text.rstrip("\n").split("\n") + [""]
lines[start:end] = new
open(doc, "w", encoding="utf-8").write("\n".join(lines))
print("updated %s" % doc, file=sys.stderr)
EOF
# a clean shutdown: WarpLink should exit 0 on SIGTERM
kill -TERM "$WL_PID"
for _ in $(seq 100); do running "$WL_PID" || break; sleep 0.1; done
if ! running "$WL_PID"; then
  wl_rc=0
  wait "$WL_PID" || wl_rc=$?
  WL_PID=''
  [ "$wl_rc" = 0 ] || log "warning: WarpLink exited with status $wl_rc after SIGTERM"
fi
log "results: $HOUT/halfload.md, rounds in $HOUT/rounds.tsv"
