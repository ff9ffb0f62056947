#!/usr/bin/env bash
# Before/after: the same end-to-end load against the broker built from two git revisions, in one invocation,
# runs alternating between them so both see the same machine. Prints a markdown table of medians and the
# after/before ratio (produce MB/s, consume MB/s, tail-consumer end-to-end p99 at a fixed pace).
# Usage: bash bench/compare-revisions.sh BEFORE [AFTER]   (AFTER defaults to HEAD; about 4 minutes with REPS=3)
# Env:   REPS (default 3), RUN_SECONDS (default 6), RATE (records/s of 1 KB for the paced run, default 100000),
#        RECORDS (1 KB records of the produce burst, default 4000000: a few seconds, not a sub-second blip).
# Every broker binds 127.0.0.1 on a free port, gets a scratch directory, and is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BEFORE=${1:?usage: compare-revisions.sh BEFORE [AFTER]}
AFTER=${2:-HEAD}
REPS=${REPS:-3}
RUN_SECONDS=${RUN_SECONDS:-6}
RATE=${RATE:-100000}
RECORDS=${RECORDS:-4000000}
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tributary-compare.XXXXXX")
PIDS=()
. "$ROOT/bench/processes.sh" # stop_pid, free_port
cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && stop_pid "$p"; done
  for side in before after; do [ -d "$WORK/$side/src" ] && git -C "$ROOT" worktree remove --force "$WORK/$side/src" 2>/dev/null; done
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build each revision's broker from a detached worktree; the load runner comes from this checkout.
for side in before after; do
  rev=$BEFORE; [ "$side" = after ] && rev=$AFTER
  mkdir -p "$WORK/$side"
  git -C "$ROOT" worktree add -q --detach "$WORK/$side/src" "$rev"
  log "building $side ($(git -C "$ROOT" rev-parse --short "$rev"))"
  dotnet build "$WORK/$side/src/src/Tributary.Cli" -c Release -v q -nologo -o "$WORK/$side/bin" >/dev/null
done
dotnet build bench/Tributary.LoadRunner -c Release -v q -nologo >/dev/null
LOAD="$ROOT/bench/Tributary.LoadRunner/bin/Release/net10.0/tributary-load"
COMMON=(--record-bytes 1000 --partitions 4 --producers 1 --consumers 1 --batch-bytes 131072 --linger-ms 5 --in-flight 5 --acks 1)

run_side() { # run_side SIDE: one broker, warm-up, then a produce burst, a consume and a paced tail run
  local side=$1 port dir
  port=$(free_port); dir="$WORK/$side/run"; rm -rf "$dir"; mkdir -p "$dir"
  "$WORK/$side/bin/tributary" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$dir/data" >"$dir/broker.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  local run=(timeout $(( RUN_SECONDS * 3 + 40 )) "$LOAD" --bootstrap "127.0.0.1:$port")
  "${run[@]}" --label warmup --mode pipeline --topic warmup --rate 100000 --records 300000 --time-limit-s 3 \
    --from latest --fetch-wait-ms 100 "${COMMON[@]}" >/dev/null
  sync
  "${run[@]}" --label "$side-produce" --mode produce --topic burst --records "$RECORDS" --time-limit-s "$RUN_SECONDS" \
    --warmup-s 0 "${COMMON[@]}" >>"$WORK/results.jsonl"
  "${run[@]}" --label "$side-consume" --mode consume --topic burst --fetch-max-bytes 8388608 \
    --time-limit-s "$RUN_SECONDS" "${COMMON[@]}" >>"$WORK/results.jsonl"
  "${run[@]}" --label "$side-paced" --mode pipeline --topic paced --rate "$RATE" --records $(( RATE * RUN_SECONDS )) \
    --time-limit-s $(( RUN_SECONDS + 4 )) --from latest --fetch-wait-ms 100 "${COMMON[@]}" >>"$WORK/results.jsonl"
  stop_pid "$pid"; rm -rf "$dir"
}

for rep in $(seq "$REPS"); do
  for side in before after; do log "rep $rep: $side"; run_side "$side"; done
done

median() { jq -s "map(select(.label == \"$1\") | .$2) | sort | .[length / 2 | floor]" "$WORK/results.jsonl"; }
runs() { jq -s -r "map(select(.label == \"$1\") | .$2 | tostring) | join(\", \")" "$WORK/results.jsonl"; }
row() { # row NAME LABEL FIELD
  local b a; b=$(median "before-$2" "$3"); a=$(median "after-$2" "$3")
  printf '| %s | %s (%s) | %s (%s) | %s |\n' "$1" "$b" "$(runs "before-$2" "$3")" "$a" "$(runs "after-$2" "$3")" \
    "$(awk "BEGIN { printf \"%.2f\", $a / $b }")"
}
echo "Before $(git rev-parse --short "$BEFORE"), after $(git rev-parse --short "$AFTER"); $REPS runs each, alternating; medians."
echo
echo "| figure (1 KB records) | before: median (runs) | after: median (runs) | after / before |"
echo "|---|---|---|---|"
row "produce MB/s (acks=1, burst)" produce MB_per_s
row "consume MB/s (from offset 0)" consume consume_MB_per_s
row "end-to-end p99 ms at $RATE records/s" paced e2e_p99_ms
