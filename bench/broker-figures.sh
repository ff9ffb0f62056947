#!/usr/bin/env bash
# Figures of the standalone broker: time from process start to accepting
# connections, idle RSS, and kcat produce/consume MB/s with 1 KB records. Bounded: one broker on a free
# loopback port, a fixed record count, every process stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-500000}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
bin=src/Tributary.Cli/bin/Release/net10.0/tributary
port=$(( 20000 + RANDOM % 20000 ))

start_ns=$(date +%s%N)
"$bin" --set listeners=PLAINTEXT://127.0.0.1:$port --set log.dirs="$work/data" > "$work/broker.log" 2>&1 &
pid=$!
until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 2
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

head -c 1000 /dev/urandom | base64 -w0 | head -c 1000 > "$work/value"
python3 - "$work/value" "$records" > "$work/input" <<'PY'
import sys
v = open(sys.argv[1]).read()
for i in range(int(sys.argv[2])):
    sys.stdout.write(v + "\n")
PY
bytes=$(( records * 1000 ))
t0=$(date +%s%N)
kcat -b 127.0.0.1:$port -t figures -P -X acks=1 -X linger.ms=5 -X batch.size=1000000 -l "$work/input"
t1=$(date +%s%N)
count=$(kcat -b 127.0.0.1:$port -t figures -C -e -q -o beginning -X fetch.max.bytes=52428800 -f '%o\n' | wc -l)
t2=$(date +%s%N)
loaded_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
produce_ms=$(( (t1 - t0) / 1000000 )); consume_ms=$(( (t2 - t1) / 1000000 ))
echo "| figure | value |"
echo "|---|---:|"
echo "| process start to accepting connections | ${ready_ms} ms |"
echo "| idle RSS after start | $(( idle_rss_kb / 1024 )) MiB |"
echo "| kcat produce ${records} × 1 KB, acks=1 (includes kcat start) | $(( bytes / 1000 / produce_ms )) MB/s (${produce_ms} ms) |"
echo "| kcat consume the same ${count} records from offset 0 | $(( bytes / 1000 / consume_ms )) MB/s (${consume_ms} ms) |"
echo "| RSS after the run | $(( loaded_rss_kb / 1024 )) MiB |"
