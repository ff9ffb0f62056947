#!/usr/bin/env bash
# Publishes the Native AOT `tributary` (profile aot-linux-x64; any trim or AOT warning fails it), starts it on a free
# loopback port, and checks it with kcat: metadata, then a produce and consume in each compression codec; then its own
# CLI against a SASL_SSL listener (--command-config; openssl makes the certificates). Stops each broker by its PID.
# Not part of test.sh: the publish takes minutes on a 2-core machine (README: Native AOT).
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

# The CLI against a SASL_SSL listener (PLAIN, a test authority made here) through --command-config.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
  -days 1 -subj "/CN=aot smoke CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/broker.key" -out "$work/broker.csr" \
  -subj "/CN=broker" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/ext.cnf" -out "$work/broker.crt" 2>/dev/null
cat "$work/broker.crt" "$work/broker.key" > "$work/keystore.pem"
port=$(free_port)
"$binary" serve --set listeners=SASL_SSL://127.0.0.1:$port --set log.dirs="$work/secured" --set tributary.admin.listeners= \
  --set ssl.keystore.type=PEM --set ssl.keystore.location="$work/keystore.pem" \
  --set 'listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="al1ce";' \
  > "$work/secured.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -qs "listening" "$work/secured.log" && break; sleep 0.1; done
client() { printf 'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=%s\nssl.ca.location=%s\n' "$1" "$work/ca.pem"; }
client al1ce > "$work/client.properties"
client wrong > "$work/wrong.properties"
"$binary" topics create secured -b 127.0.0.1:$port --command-config "$work/client.properties" >/dev/null
seq 1 10 | "$binary" produce secured -b 127.0.0.1:$port --command-config "$work/client.properties" 2>/dev/null
count=$("$binary" consume secured --from beginning -e -b 127.0.0.1:$port --command-config "$work/client.properties" | wc -l)
[ "$count" -eq 10 ] || { echo "aot smoke: SASL_SSL read back $count of 10 records" >&2; exit 1; }
if "$binary" topics list -b 127.0.0.1:$port --command-config "$work/wrong.properties" 2>/dev/null; then
  echo "aot smoke: a wrong password was accepted" >&2; exit 1
fi
stop_pid "$pid"; pid=""
echo "aot smoke test passed: $(du -h "$binary" | cut -f1) binary"
