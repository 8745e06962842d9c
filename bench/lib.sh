# bench/lib.sh - process, port and scheduling helpers shared by the bench scripts.
# Sourced (not run). The caller defines die() and log(). STOP_WAIT_TENTHS
# (default 100) is how long stop_pid waits before SIGKILL, in 0.1 s.

running() { # pid: exists and is not a zombie
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

stop_pid() { # pid signal: signal, wait, then SIGKILL; reap
  local p=$1 i
  [ -n "$p" ] && running "$p" || { [ -n "$p" ] && wait "$p" 2>/dev/null; return 0; }
  kill "-$2" "$p" 2>/dev/null || true
  for i in $(seq "${STOP_WAIT_TENTHS:-100}"); do
    running "$p" || break
    sleep 0.1
  done
  running "$p" && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null || true
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port pid what timeout_s
  local deadline=$((SECONDS + $4))
  while ! port_open "$1"; do
    running "$2" || die "$3 exited before listening"
    [ "$SECONDS" -lt "$deadline" ] || die "$3 not listening on :$1 after $4 s"
    sleep 0.1
  done
}

# Root only: the bench's servers and load generators run at a negative nice,
# but with autogroup scheduling nice only ranks tasks inside one session, so
# the session's own autogroup nice is raised for the run too (AG_OLD keeps
# the old value for autogroup_restore, which the caller's EXIT trap runs).
AG_OLD=''
autogroup_nice() { # nice
  local ag
  if [ "$1" != 0 ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] &&
    [ -w "/proc/$$/autogroup" ]; then
    ag=$(awk '{print $3}' "/proc/$$/autogroup")
    echo "$1" >"/proc/$$/autogroup" && AG_OLD=$ag
    log "session autogroup nice $ag -> $1 for the run"
  fi
}
autogroup_restore() {
  [ -z "$AG_OLD" ] || echo "$AG_OLD" >"/proc/$$/autogroup" || true
}
