#!/usr/bin/env bash
# Issue #29's idle-connection figure: the real broker holding CONNECTIONS idle clients (each connects, asks ApiVersions
# once, then says nothing), with its thread count and RSS before, at the peak while they connect, and once they have
# parked, and whether a kcat produce and consume succeed meanwhile. Prints a markdown table.
# Usage: bash bench/idle-connections.sh   Env: CONNECTIONS (default 10000), RECORDS (kcat records of 1 KB, default 10000).
# Raises the descriptor limit (as root, or up to the hard limit) for the broker and the client; one broker on a free
# loopback port with a scratch directory, every process stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-10000}
RECORDS=${RECORDS:-10000}
. bench/processes.sh # stop_pid, free_port
command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Each idle connection costs the broker one descriptor (two while it has a thread) and the client one.
want=$(( CONNECTIONS * 2 + 1000 ))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge "$want" ] || log "descriptor limit $(ulimit -n) is below $want: connections may be refused"

work=$(mktemp -d "${TMPDIR:-/tmp}/tributary-idle.XXXXXX")
pid="" client=""
cleanup() {
  [ -n "$client" ] && stop_pid "$client"
  [ -n "$pid" ] && stop_pid "$pid"
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
port=$(free_port)
src/Tributary.Cli/bin/Release/net10.0/tributary --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$work/data" \
  --set "max.connections=$(( CONNECTIONS + 100 ))" >"$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
sleep 2
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
threads_idle=$(status Threads) rss_idle_kb=$(status VmRSS)

# The client: blocking sockets, one ApiVersions v0 each (answer checked by correlation id), then it holds them until
# stdin closes. Prints "held N" once all are open.
mkfifo "$work/hold"
python3 - "$port" "$CONNECTIONS" >"$work/client.out" 2>&1 <"$work/hold" <<'PY' &
import socket, struct, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
def exactly(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise SystemExit(f"closed by the broker after {len(held)} connections")
        b += chunk
    return b
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    body = struct.pack(">hhih", 18, 0, i, 4) + b"idle"
    s.sendall(struct.pack(">i", len(body)) + body)
    size, correlation = struct.unpack(">ii", exactly(s, 8))
    assert correlation == i, (correlation, i)
    exactly(s, size - 4)
    held.append(s)
print("held", len(held), flush=True)
sys.stdin.read()
PY
client=$!
exec 4>"$work/hold" # keeps the client's stdin open until the end

# Peak while they connect, sampled every 100 ms.
log "opening $CONNECTIONS idle connections"
threads_peak=0
until grep -q '^held' "$work/client.out"; do
  kill -0 "$client" 2>/dev/null || { cat "$work/client.out" >&2; exit 1; }
  t=$(status Threads); [ "$t" -gt "$threads_peak" ] && threads_peak=$t
  sleep 0.1
done
sleep 3 # connections park after SocketTransportLimits.ParkAfterIdleMs (1 s) without a request
threads_held=$(status Threads) rss_held_kb=$(status VmRSS) rss_peak_kb=$(status VmHWM)

# A normal client meanwhile.
head -c 1000 /dev/zero | tr '\0' x > "$work/value"
python3 -c "import sys; v = open(sys.argv[1]).read(); sys.stdout.write((v + '\n') * int(sys.argv[2]))" "$work/value" "$RECORDS" >"$work/input"
kcat -b "127.0.0.1:$port" -t idle-figures -P -X acks=1 -l "$work/input"
consumed=$(kcat -b "127.0.0.1:$port" -t idle-figures -C -e -q -o beginning -f '%o\n' | wc -l)
[ "$consumed" -eq "$RECORDS" ] && served="yes ($RECORDS records produced and consumed)" || served="no: consumed $consumed of $RECORDS"
threads_after=$(status Threads)

echo "| figure | value |"
echo "|---|---|"
echo "| idle connections held | $(awk '/^held/ {print $2}' "$work/client.out") |"
echo "| broker threads: before / peak while connecting / held / after kcat | $threads_idle / $threads_peak / $threads_held / $threads_after |"
echo "| broker RSS: before / held / peak (VmHWM) | $(( rss_idle_kb / 1024 )) / $(( rss_held_kb / 1024 )) / $(( rss_peak_kb / 1024 )) MiB |"
echo "| kcat produce and consume while they are held | $served |"
