#!/usr/bin/env bash
# Regenerates src/Tributary.Cli/Properties/aot-startup.order, the managed methods the Native AOT `tributary serve`
# runs from exec through its first ApiVersions answer and IDLE_SECONDS (default 2) of idling. The aot-linux-x64
# profile passes it to ILCompiler (IlcOrderFile), which places these methods first and together, so the start-up
# faults in about 1.3 MiB of code pages instead of nearly all of the 12 MiB the methods are spread over (the kernel
# maps the pages around each fault). A stale list costs only memory: names no longer in the binary are skipped and
# new methods land in the cold part. Rerun after changes to the start-up path (bench/journal/aot-startup.md).
# Runs the published binary (AOT_BINARY, default: publish first) under valgrind's callgrind (installed if missing).
# Usage: bash scripts/aot-order.sh   Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/processes.sh # stop_pid, free_port
IDLE_SECONDS=${IDLE_SECONDS:-2}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
binary=${AOT_BINARY:-}
if [ -z "$binary" ]; then
  dotnet publish src/Tributary.Cli -p:PublishProfile=aot-linux-x64 -v q -nologo >/dev/null
  binary=src/Tributary.Cli/bin/aot/linux-x64/tributary
fi
binary=$(realpath "$binary")
[ -f "$binary.dbg" ] || { echo "aot-order: $binary.dbg (the publish's symbols) is missing" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && stop_pid "$pid"; rm -rf "$work"; }
trap cleanup EXIT

# Valgrind 3.19 cannot read the DWARF 5 in tributary.dbg; it only needs the symbol table, so give it a copy of the
# binary whose debug link names a symbols-only file.
objcopy --strip-debug "$binary.dbg" "$work/tributary.sym"
(cd "$work" && objcopy --remove-section .gnu_debuglink --add-gnu-debuglink=tributary.sym "$binary" tributary)

port=$(free_port)
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" \
  "$work/tributary" serve --set listeners=PLAINTEXT://127.0.0.1:$port --set log.dirs="$work/data" \
  > "$work/broker.log" 2> "$work/valgrind.log" &
pid=$!
python3 - "$port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
deadline = time.monotonic() + 300  # valgrind runs the start-up some 50 times slower
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            client_id = b"aot-order"
            body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
            s.recv(size, socket.MSG_WAITALL)
            break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("aot-order: no answer from the broker under valgrind")
        time.sleep(0.1)
PY
# Under valgrind the admin listener may still be starting when the Kafka listener answers; the serve command logs
# this line once both are up.
for _ in $(seq 1 3000); do grep -q "Tributary listening" "$work/broker.log" && break; sleep 0.1; done
sleep "$IDLE_SECONDS"
callgrind_control --dump "$pid" >/dev/null
for _ in $(seq 1 100); do ls "$work"/callgrind.out.* >/dev/null 2>&1 && break; sleep 0.2; done
sleep 1
stop_pid "$pid"; pid=""

# Every function callgrind saw run (fn= and cfn= lines name it the first time, later by number), kept when it is a
# managed method of the binary (its symbol lies in __managedcode); sorted, so a rerun's diff shows what changed.
readelf -SW "$binary.dbg" 2>/dev/null | awk '$2 == "__managedcode" { print $4, $6 }' > "$work/managedcode"
nm --defined-only -S "$binary.dbg" > "$work/symbols"
python3 - "$work" src/Tributary.Cli/Properties/aot-startup.order <<'PY'
import glob, re, sys
work, out = sys.argv[1], sys.argv[2]
start, size = (int(x, 16) for x in open(f"{work}/managedcode").read().split())
managed = set()
for line in open(f"{work}/symbols"):
    fields = line.split()
    if len(fields) == 4 and fields[2] in "tT" and start <= int(fields[0], 16) < start + size:
        managed.add(fields[3])
ran = set()
for dump in glob.glob(f"{work}/callgrind.out.*"):
    for line in open(dump, errors="replace"):
        m = re.match(r"c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m:
            ran.add(re.sub(r"'\d+$", "", m.group(1)))  # callgrind's suffix for a repeated name
names = sorted(ran & managed)
open(out, "w").write("".join(n + "\n" for n in names))
print(f"{out}: {len(names)} methods")
PY
