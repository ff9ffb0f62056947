# Sourced by the bench scripts: processes they start and the loopback ports they use.

# stop_pid PID: TERM, wait up to STOP_GRACE_SECONDS (default 20), then KILL.
stop_pid() {
  local p=$1
  kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null || true
  for _ in $(seq $(( ${STOP_GRACE_SECONDS:-20} * 10 ))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# free_port: a loopback port nothing listens on.
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 20000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
