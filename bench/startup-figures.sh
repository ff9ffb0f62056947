#!/usr/bin/env bash
# Start-up time after a clean stop and after kill -9 (issue #30: producer snapshots, transaction indexes, recovery
# points), two revisions on the same data directory in one invocation. GB of 1 KB records (default 20) are produced
# once, by the BEFORE broker, to one topic of PARTITIONS partitions (default 1,000); then for each revision in turn:
# start, clean stop, start (timed: "clean"), kill -9, start (timed: "kill -9"), clean stop. The data directory is
# shared (a newer release opens an older one's files, an older one ignores the newer files) and deleted at the end.
# Usage: bash bench/startup-figures.sh [BEFORE [AFTER]]   (defaults: main, HEAD). Not run in CI.
# Every broker binds 127.0.0.1 on a free port and is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BEFORE=${1:-main}
AFTER=${2:-HEAD}
GB=${GB:-20}
PARTITIONS=${PARTITIONS:-1000}
. "$ROOT/bench/processes.sh" # stop_pid, free_port
command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tributary-startup.XXXXXX")
pid=""
cleanup() {
  local rc=$?
  [ -n "$pid" ] && stop_pid "$pid"
  for side in before after; do [ -d "$WORK/$side/src" ] && git -C "$ROOT" worktree remove --force "$WORK/$side/src" 2>/dev/null; done
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for side in before after; do
  rev=$BEFORE; [ "$side" = after ] && rev=$AFTER
  mkdir -p "$WORK/$side"
  git -C "$ROOT" worktree add -q --detach "$WORK/$side/src" "$rev"
  log "building $side ($(git -C "$ROOT" rev-parse --short "$rev"))"
  dotnet build "$WORK/$side/src/src/Tributary.Cli" -c Release -v q -nologo -o "$WORK/$side/bin" >/dev/null
done

port=$(free_port)
bootstrap=127.0.0.1:$port

# start SIDE: runs that side's broker on the shared data directory; ready_ms: milliseconds until it accepts connections.
start() {
  local t0; t0=$(date +%s%N)
  "$WORK/$1/bin/tributary" --set listeners=PLAINTEXT://$bootstrap --set log.dirs="$WORK/data" \
    --set num.partitions="$PARTITIONS" >> "$WORK/broker-$1.log" 2>&1 &
  pid=$!
  until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/broker-$1.log"; exit 1; }
    sleep 0.05
  done
  ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop() { stop_pid "$pid"; pid=""; }
killed() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

start before
kcat -L -m 120 -b $bootstrap -t startup >/dev/null # auto-creates the topic with num.partitions partitions
records=$(( GB * 1000 * 1000 ))
log "producing $GB GB to $PARTITIONS partitions"
t0=$(date +%s%N)
# Keyless records: librdkafka spreads them over the partitions at random. Not compressed, so GB is what is stored.
# `yes` ends on SIGPIPE when head has its lines; under pipefail that status would end the script.
{ yes "$(head -c 1000 /dev/zero | tr '\0' x)" || true; } | head -n "$records" \
  | kcat -P -b $bootstrap -t startup -X linger.ms=20 -X batch.size=1000000 -X queue.buffering.max.kbytes=1048576
produce_s=$(( ($(date +%s%N) - t0) / 1000000000 ))
stored=$(du -sb "$WORK/data" | cut -f1)
stop

declare -A clean_ms killed_ms
for side in before after; do
  start "$side"; stop
  start "$side"; clean_ms[$side]=$ready_ms
  killed
  start "$side"; killed_ms[$side]=$ready_ms
  stop
  log "$side: clean ${clean_ms[$side]} ms, kill -9 ${killed_ms[$side]} ms"
done

echo "| start-up, $PARTITIONS partitions, $(( stored / 1000000 )) MB stored (produced in ${produce_s} s) | $(git -C "$ROOT" rev-parse --short "$BEFORE") | $(git -C "$ROOT" rev-parse --short "$AFTER") |"
echo "|---|---:|---:|"
echo "| after a clean stop, to accepting connections | ${clean_ms[before]} ms | ${clean_ms[after]} ms |"
echo "| after kill -9, to accepting connections | ${killed_ms[before]} ms | ${killed_ms[after]} ms |"
