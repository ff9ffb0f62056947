#!/usr/bin/env bash
# Many partitions under a descriptor limit (issue #29): the standalone broker under prlimit --nofile=LIMIT:LIMIT
# (default 20,000) with PARTITIONS partitions (default 50,000, in topics of 10,000, the per-topic maximum), RECORDS
# records produced to each (kcat, keys chosen so every partition gets its share). Then: start time and RSS after a
# clean stop, and after kill -9, with the records read back each time. Bounded: one broker on a free loopback port,
# every process stopped by its PID, the data directory deleted at the end. Not run in CI. Figures:
# bench/journal/many-partitions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/processes.sh
# A clean close of 50,000 partitions can take longer than the usual 20 s before stop_pid kills.
STOP_GRACE_SECONDS=${STOP_GRACE_SECONDS:-180}
partitions=${PARTITIONS:-50000}
records=${RECORDS:-3}
limit=${LIMIT:-20000}
per_topic=$(( partitions < 10000 ? partitions : 10000 ))
(( partitions % per_topic == 0 )) || { echo "PARTITIONS must be below 10,000 or a multiple of it" >&2; exit 2; }
topics=$(( partitions / per_topic ))
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && stop_pid "$pid"; rm -rf "$work" || { sleep 1; rm -rf "$work"; }; }
trap cleanup EXIT
command -v kcat >/dev/null && command -v prlimit >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat util-linux >/dev/null; }
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
bin=src/Tributary.Cli/bin/Release/net10.0/tributary
port=$(free_port)
bootstrap=127.0.0.1:$port

# start: runs the broker under the limit (pid); ready_ms: milliseconds from exec to accepting connections.
start() {
  local t0; t0=$(date +%s%N)
  prlimit --nofile="$limit:$limit" "$bin" --set listeners=PLAINTEXT://$bootstrap --set log.dirs="$work/data" \
    --set num.partitions=$per_topic >> "$work/broker.log" 2>&1 &
  pid=$!
  until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/broker.log"; exit 1; }
    sleep 0.05
  done
  ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
rss_mib() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )); }
fds() { ls /proc/$pid/fd | wc -l; }

# Every partition of every topic must hold exactly RECORDS records.
check() {
  local t n got
  for t in $(seq 0 $((topics - 1))); do
    n=$per_topic
    got=$(kcat -C -b $bootstrap -t many-$t -o beginning -e -q -X check.crcs=true -f '%p\n' | sort -n | uniq -c | awk -v r="$records" '$1 == r' | wc -l)
    [ "$got" -eq "$n" ] || { echo "topic many-$t: $got of $n partitions hold $records records" >&2; exit 1; }
  done
}

start; ready_first=$ready_ms
t0=$(date +%s%N)
for t in $(seq 0 $((topics - 1))); do
  n=$per_topic
  kcat -L -m 120 -b $bootstrap -t many-$t >/dev/null # auto-creates it with num.partitions partitions
  # librdkafka's "consistent" partitioner is CRC-32 of the key modulo the partition count: one key per partition.
  python3 - "$n" "$records" > "$work/input-$t" <<'PY'
import sys, zlib
n, records = int(sys.argv[1]), int(sys.argv[2])
key_of, i = {}, 0
while len(key_of) < n:
    k = f"k{i}"
    key_of.setdefault(zlib.crc32(k.encode()) % n, k)
    i += 1
for p in range(n):
    for r in range(records):
        print(f"{key_of[p]}\tp{p}-r{r}")
PY
  kcat -P -b $bootstrap -t many-$t -K '\t' -X topic.partitioner=consistent -X linger.ms=20 -l "$work/input-$t"
done
produce_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check
loaded_rss=$(rss_mib); loaded_fds=$(fds)

t0=$(date +%s%N); stop_pid "$pid"; stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
start; ready_clean=$ready_ms; sleep 2; clean_rss=$(rss_mib); clean_fds=$(fds)
check
after_check_rss=$(rss_mib)

kill -9 "$pid"; wait "$pid" 2>/dev/null || true
start; ready_killed=$ready_ms; sleep 2; killed_rss=$(rss_mib); killed_fds=$(fds)
check

echo "| figure ($partitions partitions in $topics topics, $records records each, nofile $limit) | value |"
echo "|---|---:|"
echo "| first start (empty data directory) to accepting connections | ${ready_first} ms |"
echo "| create the topics and produce to every partition (kcat) | ${produce_ms} ms |"
echo "| RSS / descriptors after producing and reading everything back | ${loaded_rss} MiB / ${loaded_fds} |"
echo "| clean stop (SIGTERM to exit) | ${stop_ms} ms |"
echo "| start after the clean stop to accepting connections | ${ready_clean} ms |"
echo "| RSS / descriptors 2 s later; RSS after reading everything back | ${clean_rss} MiB / ${clean_fds}; ${after_check_rss} MiB |"
echo "| start after kill -9 to accepting connections | ${ready_killed} ms |"
echo "| RSS / descriptors 2 s later | ${killed_rss} MiB / ${killed_fds} |"
grep -E "Log files hold|Loaded [0-9]+ partitions" "$work/broker.log" | sed 's/^/    /'
