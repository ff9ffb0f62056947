#!/usr/bin/env bash
# TLS against plaintext in one invocation: one standalone broker with a PLAINTEXT and an SSL listener (a
# certificate made here with openssl), kcat producing and consuming 1 KB records through each, alternately,
# ROUNDS times; the best run of each. Prints MB/s and the TLS/plaintext ratios (goal ≥ 0.60). Not in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-200000}
rounds=${ROUNDS:-2}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
bin=src/Tributary.Cli/bin/Release/net10.0/tributary

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=broker" -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 -extfile "$work/ext" -out "$work/broker.pem" 2>/dev/null
cat "$work/broker.pem" "$work/broker.key" > "$work/keystore.pem"

plain=$(( 20000 + RANDOM % 20000 )); tls=$(( plain + 1 ))
"$bin" --set listeners=PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$tls --set log.dirs="$work/data" \
  --set ssl.keystore.type=PEM --set ssl.keystore.location="$work/keystore.pem" > "$work/broker.log" 2>&1 &
pid=$!
until (exec 3<>/dev/tcp/127.0.0.1/$plain) 2>/dev/null; do sleep 0.01; done

head -c 1000 /dev/urandom | base64 -w0 | head -c 1000 > "$work/value"
python3 - "$work/value" "$records" > "$work/input" <<'PY'
import sys
v = open(sys.argv[1]).read()
for i in range(int(sys.argv[2])):
    sys.stdout.write(v + "\n")
PY
bytes=$(( records * 1000 ))
declare -A best
run() { # name port topic extra-args...
  local name=$1 port=$2 topic=$3; shift 3
  local t0 t1 t2 count
  t0=$(date +%s%N)
  kcat -b 127.0.0.1:$port -t "$topic" -P -X acks=1 -X linger.ms=5 -X batch.size=1000000 "$@" -l "$work/input"
  t1=$(date +%s%N)
  count=$(kcat -b 127.0.0.1:$port -t "$topic" -C -e -q -o beginning -X fetch.max.bytes=52428800 "$@" -f '%o\n' | wc -l)
  t2=$(date +%s%N)
  [ "$count" -eq "$records" ] || { echo "$name: consumed $count of $records" >&2; exit 1; }
  local p=$(( bytes / 1000 / ((t1 - t0) / 1000000) )) c=$(( bytes / 1000 / ((t2 - t1) / 1000000) ))
  [ "${best[$name-produce]:-0}" -ge "$p" ] || best[$name-produce]=$p
  [ "${best[$name-consume]:-0}" -ge "$c" ] || best[$name-consume]=$c
}
for r in $(seq 1 "$rounds"); do
  run plaintext "$plain" "plain-$r"
  run tls "$tls" "tls-$r" -X security.protocol=SSL -X ssl.ca.location="$work/ca.pem"
done
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "| kcat, $records × 1 KB, best of $rounds | plaintext | TLS | TLS / plaintext |"
echo "|---|---:|---:|---:|"
echo "| produce, acks=1 (kcat start included) | ${best[plaintext-produce]} MB/s | ${best[tls-produce]} MB/s | $(ratio "${best[tls-produce]}" "${best[plaintext-produce]}") |"
echo "| consume from offset 0 | ${best[plaintext-consume]} MB/s | ${best[tls-consume]} MB/s | $(ratio "${best[tls-consume]}" "${best[plaintext-consume]}") |"
