#!/usr/bin/env bash
# Publishes the Native AOT `tributary` (profile aot-linux-x64; any trim or AOT warning fails it), starts it on a free
# loopback port, and checks it with kcat: metadata, then a produce and consume in each compression codec. Stops the
# broker by its PID. Not part of test.sh: the publish takes minutes on a 2-core machine (README: Native AOT).
# AOT_BINARY=path skips the publish and checks that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/processes.sh # stop_pid, free_port
command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
binary=${AOT_BINARY:-}
if [ -z "$binary" ]; then
  dotnet publish src/Tributary.Cli -p:PublishProfile=aot-linux-x64 -v q -nologo
  binary=src/Tributary.Cli/bin/aot/linux-x64/tributary
fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && stop_pid "$pid"; rm -rf "$work"; }
trap cleanup EXIT

port=$(free_port)
"$binary" serve --set listeners=PLAINTEXT://127.0.0.1:$port --set log.dirs="$work/data" > "$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "listening" "$work/broker.log" && break; sleep 0.1; done
kcat -b 127.0.0.1:$port -L | grep -q "1 brokers"
for codec in none gzip snappy lz4 zstd; do
  seq 1 100 | sed "s/^/$codec record /" | kcat -b 127.0.0.1:$port -P -t "smoke-$codec" -z "$codec"
  count=$(kcat -b 127.0.0.1:$port -C -t "smoke-$codec" -o beginning -e -q | grep -c "^$codec record ")
  [ "$count" -eq 100 ] || { echo "aot smoke: $codec read back $count of 100 records" >&2; exit 1; }
done
stop_pid "$pid"; pid=""
grep -q "Stopped cleanly" "$work/broker.log"
echo "aot smoke test passed: $(du -h "$binary" | cut -f1) binary"
