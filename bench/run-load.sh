#!/usr/bin/env bash
# End-to-end load: Tributary against its peers, all measured in this one invocation on this machine.
#   iperf3 loopback ceiling; Redis Streams XADD pipelined (no persistence, and AOF everysec);
#   NATS JetStream async publish; Tributary produce (acks=1) at max and at half of max with tail consumers
#   (end-to-end latency), and for 1 KB at the sustained max with a tail consumer and at half of that; consume from
#   offset 0; Tributary with log.flush.interval.messages=1 (fsync before ack).
# Writes bench/results/latest.md (+ latest.jsonl, throughput.png, latency.png).
# Usage: bash bench/run-load.sh            (bench/README.md: how long it takes and how to read the results)
# Env:   REPS (default 3; each figure is the median run), RUN_SECONDS (default 8: length of each Tributary run).
# Every server binds 127.0.0.1, gets a scratch directory, and is stopped by its PID; every run is bounded by a
# record count and a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/bench/results"
REPS=${REPS:-3}
RUN_SECONDS=${RUN_SECONDS:-8}
mkdir -p "$OUT"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- tools -------------------------------------------------------------------------------------------------
need=()
for c in redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools nats-server:nats-server \
         iperf3:iperf3 gnuplot:gnuplot-nox jq:jq python3:python3; do
  command -v "${c%%:*}" >/dev/null 2>&1 || need+=("${c#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# perf (Debian's linux-perf) finds the moments the whole VM stood still during the paced runs (see vm_pauses); the
# report leaves that column out where it cannot be had.
if ! command -v perf >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf; } >/dev/null 2>&1 \
    || log "linux-perf did not install: VM pauses are left out of the report"
fi

log "building the broker and the load runner (Release)"
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
dotnet build bench/Tributary.LoadRunner -c Release -v q -nologo >/dev/null
BROKER="$ROOT/src/Tributary.Cli/bin/Release/net10.0/tributary"
LOAD="$ROOT/bench/Tributary.LoadRunner/bin/Release/net10.0/tributary-load"

# ---- servers: started here, stopped by PID -----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tributary-load.XXXXXX")
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
PIDS=()
. "$ROOT/bench/processes.sh" # stop_pid, free_port
cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && stop_pid "$p"; done
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The broker's own time per request (its tributary.request.duration histogram), read during the paced runs with
# dotnet-counters: each second's p99 of produce requests, from the broker taking a request to its response being
# written. Beside the client's figure it tells the broker's share of a produce's latency from the machine's.
COUNTERS_TOOL=""
if dotnet tool install --tool-path "$WORK/tools" dotnet-counters --version 10.0.750501 >/dev/null 2>&1; then
  COUNTERS_TOOL="$WORK/tools/dotnet-counters"
else
  log "dotnet-counters did not install: the broker's own request times are left out of the report"
fi

wait_port() { # wait_port PORT: up to 30 s
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  log "port $1 did not open"; return 1
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
# Before every measured run: write back the dirty pages earlier runs left, so no system starts with another's
# writeback debt (on this VM the page cache absorbs a few GB, then writes are held to the disk's sustained rate),
# and, before a run that writes, drop the clean page cache too, so every writer starts from the same free memory
# instead of paying to evict what earlier runs cached (measured: a 1 KB max run fell from ~680 to ~300 MB/s after a
# 3 GB fill). Consume runs keep the cache: they read what was just written, as a tail reader does.
settle() {
  sync
  if [ "${1:-}" != keep-cache ] && [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi
  sleep 1
}
cpu_s() { awk '{printf "%.2f", ($14+$15)/100}' "/proc/$1/stat"; } # utime+stime of a PID, in seconds (USER_HZ=100)

# CPU time the host took from this VM ("steal" in /proc/stat): a VM's vCPU that the host runs something else on
# stops, with whatever request it was serving, for as long as the host keeps it. steal_mark before a measured run,
# and record gives the share of all CPU time stolen since then.
stat_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
STEAL0=$(stat_ticks)
steal_mark() { STEAL0=$(stat_ticks); }
steal_pct() {
  local s0 t0 s1 t1; read -r s0 t0 <<<"$STEAL0"; read -r s1 t1 <<<"$(stat_ticks)"
  awk -v s="$(( s1 - s0 ))" -v t="$(( t1 - t0 ))" 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}

# VM pauses: moments when neither vCPU ran anything, not even the idle loop. perf samples each CPU 1,000 times a second
# (cpu-clock, which also fires while a CPU idles), so a stretch of over 5 ms in which no CPU took a sample is time the
# host did not run this VM at all. Measured here: two threads spinning alone, none; the same with `dd oflag=direct`
# writing alongside, about a fifth of the time in pauses of up to 30 ms; so the host counts the disk writes it does
# for the VM against the VM's CPU time. A request in flight when the VM pauses waits out the pause.
# pauses_start before a run; pauses_stop after it (in this shell, not in a $(...) subshell: it waits for perf to finish
# its file) writes {vm_pauses, vm_paused_ms, vm_pause_max_ms}, or {} without perf, to $WORK/pauses.json, and each
# pause as "start end" (seconds on CLOCK_MONOTONIC, the clock the runner's request log uses) to $WORK/pauses.txt.
PAUSES_PID=""
pauses_start() {
  PAUSES_PID=""
  rm -f "$WORK/pauses.txt"
  command -v perf >/dev/null 2>&1 || return 0
  perf record -k CLOCK_MONOTONIC -a -F 1000 -e cpu-clock -o "$WORK/pauses.data" >/dev/null 2>&1 &
  PAUSES_PID=$!; PIDS+=("$PAUSES_PID")
  sleep 0.5
}
pauses_stop() {
  echo '{}' >"$WORK/pauses.json"
  [ -n "$PAUSES_PID" ] || return 0
  kill -INT "$PAUSES_PID" 2>/dev/null || true
  wait "$PAUSES_PID" 2>/dev/null || true
  PAUSES_PID=""
  perf script -i "$WORK/pauses.data" -F time 2>/dev/null | tr -d ' :' | sort -n | awk -v list="$WORK/pauses.txt" '
    NR > 1 && $1 - last > 0.005 { n++; total += $1 - last; if ($1 - last > max) max = $1 - last; printf "%.6f %.6f\n", last, $1 >list }
    { last = $1 }
    END { if (NR < 100) print "{}"; else printf "{\"vm_pauses\": %d, \"vm_paused_ms\": %.0f, \"vm_pause_max_ms\": %.1f}\n", n, total * 1000, max * 1000 }' \
    >"$WORK/pauses.json"
  rm -f "$WORK/pauses.data"
}

# slow_requests: from the runner's request log ($WORK/requests.txt: send time and latency in ns, recorded requests
# only) and the pauses of the same run, how many produce requests took over 2 ms and how many of those were in flight
# during a VM pause. {} when either is missing (no perf, or a run without the log).
slow_requests() {
  if [ ! -s "$WORK/requests.txt" ] || [ ! -s "$WORK/pauses.json" ] || [ "$(cat "$WORK/pauses.json")" = "{}" ]; then
    echo '{}'
    return
  fi
  touch "$WORK/pauses.txt" # a run without a single pause has an empty list
  bash "$ROOT/bench/slow-requests.sh" "$WORK/pauses.txt" "$WORK/requests.txt"
}

# record JSON: adds rep, load average and the host's steal since steal_mark, appends to the results
record() {
  local line; line=$(cat) # the whole run's output first, so the steal covers the run
  jq -c --argjson rep "$rep" --argjson load "$1" --argjson steal "$(steal_pct)" \
    '. + {rep: $rep, loadavg: $load, steal_pct: $steal}' <<<"$line" >>"$RESULTS"
}

# ---- iperf3 ------------------------------------------------------------------------------------------------
run_iperf() {
  local port; port=$(free_port)
  iperf3 -s -B 127.0.0.1 -p "$port" >"$WORK/iperf3-server.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  wait_port "$port"
  local l; l=$(loadavg); steal_mark
  timeout 30 iperf3 -c 127.0.0.1 -B 127.0.0.1 -p "$port" -t 5 -P 1 -J >"$WORK/iperf3.json"
  jq -c '{label: "iperf3", system: "iperf3", MB_per_s: (.end.sum_received.bits_per_second / 8 / 1e6 | . * 10 | round / 10)}' \
    "$WORK/iperf3.json" | record "$l"
  stop_pid "$pid"
  log "iperf3: $(tail -1 "$RESULTS" | jq .MB_per_s) MB/s"
}

# ---- page cache ------------------------------------------------------------------------------------------
# A machine ceiling for the broker's writes: one thread writing 1 GiB of new file data into the page cache
# (dd, buffered, no fsync), the copy every produced byte pays before acks=1 is answered. On a VM whose host backs
# guest memory lazily, pages the host has taken back cost a fault each (about 350-750 MB/s here), pages the guest
# freed moments ago do not (4-5 GB/s), and this figure shows which case the runs are in.
run_pagecache() {
  settle
  local l; l=$(loadavg); steal_mark
  local t0 t1; t0=$(date +%s%N)
  dd if=/dev/zero of="$WORK/pagecache.bin" bs=1M count=1024 status=none
  t1=$(date +%s%N)
  rm -f "$WORK/pagecache.bin"
  jq -nc --argjson ns "$(( t1 - t0 ))" '{label: "pagecache-write", system: "dd", MB_per_s: (1073741824 / ($ns / 1e9) / 1e6 | . * 10 | round / 10)}' \
    | record "$l"
  log "page cache, 1 GiB of fresh pages: $(tail -1 "$RESULTS" | jq .MB_per_s) MB/s"
}

# ---- Redis Streams -----------------------------------------------------------------------------------------
# redis-benchmark, 50 clients, pipeline 64, XADD with a literal value (7.0 substitutes no __data__ in custom commands).
run_redis() { # run_redis noaof|aof
  local mode=$1 port dir
  port=$(free_port); dir="$WORK/redis-$mode-$rep"; mkdir -p "$dir"
  local persist=(--save "" --appendonly no)
  [ "$mode" = aof ] && persist=(--save "" --appendonly yes --appendfsync everysec)
  redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --dir "$dir" --logfile "$dir/redis.log" "${persist[@]}" &
  local pid=$!; PIDS+=("$pid")
  wait_port "$port"
  for _ in $(seq 100); do [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
  for size in 100 1000; do
    local n=$(( size == 100 ? 2000000 : 1000000 ))
    local payload; payload=$(head -c "$size" /dev/zero | tr '\0' x)
    timeout 30 redis-cli -h 127.0.0.1 -p "$port" DEL s >/dev/null
    settle
    local l; l=$(loadavg); steal_mark
    local line; line=$(timeout 60 redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -c 50 -P 64 --csv XADD s '*' f "$payload" | tail -1)
    local xlen; xlen=$(timeout 30 redis-cli -h 127.0.0.1 -p "$port" XLEN s)
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"${line//\"/}"
    jq -nc --arg name "redis-$mode-$size" --argjson size "$size" --argjson rps "$rps" --argjson p50 "$p50" \
        --argjson p99 "$p99" --argjson xlen "$xlen" \
      '{label: $name, system: "redis", record_bytes: $size, records: $xlen, records_per_s: ($rps | round),
        MB_per_s: ($rps * $size / 1e6 | . * 10 | round / 10), produce_p50_ms: $p50, produce_p99_ms: $p99}' | record "$l"
    log "redis $mode XADD ${size} B P64: $rps/s ($(tail -1 "$RESULTS" | jq .MB_per_s) MB/s), XLEN $xlen"
  done
  stop_pid "$pid"
  rm -rf "$dir"
}

# ---- NATS JetStream ----------------------------------------------------------------------------------------
run_nats() {
  local port dir; port=$(free_port); dir="$WORK/nats"; mkdir -p "$dir"
  nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir" -l "$dir/nats.log" &
  local pid=$!; PIDS+=("$pid")
  wait_port "$port"
  settle
  local l; l=$(loadavg); steal_mark
  timeout 60 "$LOAD" --mode jetstream --bootstrap "127.0.0.1:$port" --record-bytes 1000 --records 1000000 \
    --time-limit-s "$RUN_SECONDS" --window 4000 --label nats-js-1000 | record "$l" \
    || log "the JetStream publisher failed (exit $?); its figure is left out of this repetition"
  log "nats jetstream 1000 B: $(tail -1 "$RESULTS" | jq -c '{records_per_s, MB_per_s, produce_error}')"
  stop_pid "$pid"
  rm -rf "$dir"
}

# ---- Tributary ---------------------------------------------------------------------------------------------
BROKER_PID=""
# BROKER_SETTINGS: extra broker settings for every Tributary run, space-separated key=value (default none), e.g.
# BROKER_SETTINGS="tributary.log.cache.drop.behind.bytes=0".
start_broker() { # start_broker NAME [--set k=v ...]
  local name=$1; shift
  BROKER_PORT=$(free_port); BROKER_DIR="$WORK/$name"; mkdir -p "$BROKER_DIR"
  local extra=() kv
  for kv in ${BROKER_SETTINGS:-}; do extra+=(--set "$kv"); done
  "$BROKER" --set "listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT" --set "log.dirs=$BROKER_DIR/data" "${extra[@]}" "$@" \
    >"$BROKER_DIR/broker.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID")
  for _ in $(seq 300); do grep -q "listening" "$BROKER_DIR/broker.log" && break; sleep 0.1; done
  wait_port "$BROKER_PORT"
  # What the broker's `auto` settings resolved to on this machine, for the report.
  grep -o 'Page-cache drop after read: .*' "$BROKER_DIR/broker.log" | head -1 >"$WORK/cache-drop.txt" || true
}
stop_broker() { stop_pid "$BROKER_PID"; rm -rf "$BROKER_DIR"; }

# warm_broker: 3 s of produce and tail-consume on a topic of its own, not recorded. A .NET broker compiles its hot
# paths just in time and tiers them up over its first seconds; a broker in service is past that, and runs of a
# second or two (as many records as redis-benchmark sends) would otherwise measure the compiler.
warm_broker() {
  timeout 30 "$LOAD" --bootstrap "127.0.0.1:$BROKER_PORT" --label warmup --mode pipeline --topic warmup \
    --record-bytes 1000 --rate 100000 --records 300000 --time-limit-s 3 --from latest --fetch-wait-ms 100 \
    --partitions 4 --producers 1 --consumers 1 --acks 1 >/dev/null
}

# tributary LABEL ARGS...: one runner invocation, with the broker's CPU seconds and RSS added to its JSON line.
# A label ending in -observed gets the observers: perf recording the whole VM (VM pauses), dotnet-counters reading the
# broker's own request times, and the runner's request log. They cost this VM CPU (bench/journal/observer-cost.md: at 450,000
# records/s, dotnet-counters alone took the p99 from 1.45-1.55 ms to 2.04-2.41, perf from 1.35-1.52 to 1.55-2.25), so
# the paced runs that the goals are judged on run without them, and each paced 1 KB run has an observed twin at the
# same pace right after it for the report's per-run diagnosis.
tributary() {
  local label=$1; shift
  case " $* " in *" --mode consume "*) settle keep-cache ;; *) settle ;; esac
  local counters="" paced=""
  [[ $label == *-observed ]] && paced=1
  if [ -n "$COUNTERS_TOOL" ] && [ -n "$paced" ]; then
    rm -f "$WORK/counters.json"
    timeout $(( RUN_SECONDS * 2 + 40 )) "$COUNTERS_TOOL" collect -p "$BROKER_PID" --refresh-interval 1 --format json \
      -o "$WORK/counters.json" --counters 'Tributary.Server[tributary.request.duration]' >/dev/null 2>&1 &
    counters=$!
  fi
  local l c0 c1 pauses='{}' slow='{}' reqlog=(); l=$(loadavg)
  rm -f "$WORK/requests.txt"
  if [ -n "$paced" ]; then pauses_start; reqlog=(--request-log "$WORK/requests.txt"); fi
  steal_mark; c0=$(cpu_s "$BROKER_PID")
  timeout $(( RUN_SECONDS * 2 + 40 )) "$LOAD" --bootstrap "127.0.0.1:$BROKER_PORT" --label "$label" "$@" "${reqlog[@]}" >"$WORK/run.json"
  c1=$(cpu_s "$BROKER_PID")
  if [ -n "$paced" ]; then pauses_stop; pauses=$(cat "$WORK/pauses.json"); slow=$(slow_requests); fi
  local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status")
  local own='{}'
  if [ -n "$counters" ]; then
    kill -TERM "$counters" 2>/dev/null || true
    wait "$counters" 2>/dev/null || true
    # Median and highest of the per-second p99s of produce requests, in ms. Read event by event: a collector stopped
    # by a signal may leave its JSON unfinished.
    # A collector that wrote nothing (a run shorter than its start-up) gives {}: grep finding nothing is not a failure.
    own=$({ grep -oE '"tags": "kafka.api=Produce,[^"]*Percentile=99",[^}]*"value": [-0-9.eE+]+' "$WORK/counters.json" 2>/dev/null || true; } \
      | { grep -oE '[-0-9.eE+]+$' || true; } | jq -s -c 'map(. * 1000) | sort
      | if length == 0 then {} else {broker_produce_p99_ms: (.[length / 2 | floor] * 1000 | round / 1000),
        broker_produce_p99_max_ms: (.[-1] * 1000 | round / 1000)} end' 2>/dev/null) || own='{}'
    [ -n "$own" ] || own='{}'
  fi
  jq -c --argjson cpu "$(awk "BEGIN { printf \"%.2f\", $c1 - $c0 }")" --argjson rss "$rss" --argjson own "$own" \
    --argjson pauses "$pauses" --argjson slow "$slow" '. + {broker_cpu_s: $cpu, broker_rss_mb: ($rss / 1024 | round)} + $own + $pauses + $slow' \
    "$WORK/run.json" | record "$l"
  log "tributary $label: $(tail -1 "$RESULTS" | jq -c '{MB_per_s, consume_MB_per_s, produce_p99_ms, e2e_p99_ms, broker_cpu_s, produce_error, consume_error}')"
}

# Producer settings shared by every Tributary run (1 producer, 4 partitions, 128 KiB batches, linger 5 ms,
# 5 requests in flight, acks=1). Max runs send as many records as redis-benchmark's XADD runs (2,000,000 of 100 B,
# 1,000,000 of 1000 B; 100,000 of 10000 B is the same 1 GB), with the time limit as a bound only.
COMMON=(--partitions 4 --producers 1 --consumers 1 --batch-bytes 131072 --linger-ms 5 --in-flight 5 --acks 1)
max_records() { case $1 in 100) echo 2000000 ;; 1000) echo 1000000 ;; *) echo 100000 ;; esac; }

run_tributary() {
  start_broker "broker-$rep"
  warm_broker
  for size in 100 1000 10000; do
    tributary "tributary-max-$size" --mode produce --topic "max-$size" --record-bytes "$size" \
      --records "$(max_records "$size")" --time-limit-s "$RUN_SECONDS" --warmup-s 0 "${COMMON[@]}"
    local rate; rate=$(jq -s '.[-1].records_per_s / 2 | floor' "$RESULTS")
    # Consume reads a log of 3 GB written beforehand (not measured), so it runs for seconds as iperf3 does, not for
    # the fraction of a second the 1 GB max-run log would take.
    timeout $(( RUN_SECONDS * 4 + 40 )) "$LOAD" --bootstrap "127.0.0.1:$BROKER_PORT" --label fill --mode produce \
      --topic "read-$size" --record-bytes "$size" --records $(( 3000000000 / size )) --time-limit-s $(( RUN_SECONDS * 4 )) \
      "${COMMON[@]}" >/dev/null
    tributary "tributary-consume-$size" --mode consume --topic "read-$size" --record-bytes "$size" \
      --fetch-max-bytes 8388608 --time-limit-s $(( RUN_SECONDS * 2 )) "${COMMON[@]}"
    tributary "tributary-half-$size" --mode pipeline --topic "half-$size" --record-bytes "$size" \
      --rate "$rate" --records $(( rate * RUN_SECONDS )) --time-limit-s $(( RUN_SECONDS + 4 )) \
      --from latest --fetch-wait-ms 100 "${COMMON[@]}"
    if [ "$size" = 1000 ]; then
      tributary "tributary-half-$size-observed" --mode pipeline --topic "half-observed-$size" --record-bytes "$size" \
        --rate "$rate" --records $(( rate * RUN_SECONDS )) --time-limit-s $(( RUN_SECONDS + 4 )) \
        --from latest --fetch-wait-ms 100 "${COMMON[@]}"
      # The sustained maximum: full speed with the tail consumer for as long as a paced run, then half of that.
      # The max run above is a 1 GB burst with no consumer; on 2 cores the broker, both clients and the kernel
      # share the cores, so the sustained figure is the one a latency test at "half of max" is half of.
      tributary "tributary-sustained-$size" --mode pipeline --topic "sustained-$size" --record-bytes "$size" \
        --records $(( 3000000 * RUN_SECONDS )) --time-limit-s "$RUN_SECONDS" --from latest --fetch-wait-ms 100 "${COMMON[@]}"
      rate=$(jq -s '.[-1].records_per_s / 2 | floor' "$RESULTS")
      tributary "tributary-halfsustained-$size" --mode pipeline --topic "halfsustained-$size" --record-bytes "$size" \
        --rate "$rate" --records $(( rate * RUN_SECONDS )) --time-limit-s $(( RUN_SECONDS + 4 )) \
        --from latest --fetch-wait-ms 100 "${COMMON[@]}"
      tributary "tributary-halfsustained-$size-observed" --mode pipeline --topic "halfsustained-observed-$size" \
        --record-bytes "$size" --rate "$rate" --records $(( rate * RUN_SECONDS )) --time-limit-s $(( RUN_SECONDS + 4 )) \
        --from latest --fetch-wait-ms 100 "${COMMON[@]}"
    fi
  done
  stop_broker
  start_broker "broker-fsync-$rep" --set log.flush.interval.messages=1
  warm_broker
  tributary "tributary-fsync-max-1000" --mode produce --topic fsync-1000 --record-bytes 1000 \
    --records "$(max_records 1000)" --time-limit-s "$RUN_SECONDS" --warmup-s 0 "${COMMON[@]}"
  stop_broker
}

# Whether the host stops the whole VM once the VM's CPU (with the host's work for its disk writes) exceeds its share of
# a period: measured once, before the runs, and reported with them.
log "probing the VM's stalls under disk writes (bench/vm-freeze-probe.sh)"
bash "$ROOT/bench/vm-freeze-probe.sh" "$WORK" >"$WORK/vm-probe.json" 2>/dev/null || echo '{}' >"$WORK/vm-probe.json"
log "vm probe: $(cat "$WORK/vm-probe.json")"

t0=$(date +%s)
for rep in $(seq "$REPS"); do
  log "=== rep $rep of $REPS ==="
  run_iperf
  run_pagecache
  run_redis noaof
  run_redis aof
  run_nats
  run_tributary
done
log "runs took $(( $(date +%s) - t0 )) s"
cp "$RESULTS" "$OUT/latest.jsonl"
RUN_SECONDS=$RUN_SECONDS bash "$ROOT/bench/load-report.sh" "$OUT/latest.jsonl" "$OUT"
if [ -s "$WORK/cache-drop.txt" ]; then
  printf '\nThe broker logged at start: "%s" (`tributary.log.cache.drop.after.read`, README).\n' "$(cat "$WORK/cache-drop.txt")" >>"$OUT/latest.md"
fi
jq -r 'if .write_stalls == null then empty else
  "\nThe VM stall probe before the runs (`bench/vm-freeze-probe.sh`): two busy loops, one per vCPU, stood still together "
  + "\(.spin2_stalls) times (\(.spin2_stalled_ms) ms in all) in 3 s on their own, and \(.write_stalls) times "
  + "(\(.write_stalled_ms) ms in all, the longest \(.write_stall_max_ms) ms) in 3 s beside direct disk writes "
  + "(\(.write_MB_per_s) MB/s, for \(.write_s) s); \(.write_stalls_in_cycle_window) of those ended within the same 10 ms of a 100 ms cycle." end' \
  "$WORK/vm-probe.json" >>"$OUT/latest.md" 2>/dev/null || true
if [ -n "${BROKER_SETTINGS:-}" ]; then # a report of a non-default broker says so
  printf '\nEvery Tributary run used these broker settings beyond the defaults: `%s`.\n' "$BROKER_SETTINGS" >>"$OUT/latest.md"
fi
log "wrote $OUT/latest.md, throughput.png, latency.png"
