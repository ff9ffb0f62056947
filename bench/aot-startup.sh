#!/usr/bin/env bash
# Native AOT vs JIT start-up (issue #34): time from exec to the first ApiVersions answer on a fresh broker (a TCP
# connect retried every 2 ms, then ApiVersions v0), median of RUNS (default 10) runs each, the CPU time (user +
# system) the broker used until then, which waiting for a core does not inflate, and idle RSS (VmRSS of
# /proc/PID/status IDLE_SECONDS, default 2, after that answer, the probe's connection closed). Then RUNS more starts
# of each for the admin listener: time from exec to the first 200 from its /health/ready (retried every 2 ms), in runs
# of their own so neither probe delays the other and the idle RSS stays that of a broker no HTTP client has used.
# Both builds in one invocation: the AOT binary (published first with the aot-linux-x64 profile unless AOT_BINARY
# names one) and the JIT build of the same CLI (its apphost in bin/Release). Each run: the default `tributary serve`
# with an empty data directory and free loopback ports for the Kafka and the admin listener, stopped by its PID.
# Usage: bash bench/aot-startup.sh   Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
IDLE_SECONDS=${IDLE_SECONDS:-2}
AOT_BINARY=${AOT_BINARY:-}
if [ -z "$AOT_BINARY" ]; then
  dotnet publish src/Tributary.Cli -p:PublishProfile=aot-linux-x64 -v q -nologo >/dev/null
  AOT_BINARY=src/Tributary.Cli/bin/aot/linux-x64/tributary
fi
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
JIT_BINARY=src/Tributary.Cli/bin/Release/net10.0/tributary
echo "AOT binary: $(du -h "$AOT_BINARY" | cut -f1)"

python3 - "$RUNS" "$IDLE_SECONDS" "$AOT_BINARY" "$JIT_BINARY" <<'PY'
import os, socket, statistics, struct, subprocess, sys, tempfile, time

runs, idle_seconds = int(sys.argv[1]), float(sys.argv[2])
binaries = {"AOT": sys.argv[3], "JIT": sys.argv[4]}

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def api_versions(port):
    """One ApiVersions v0 request on a new connection; True when a full answer with error 0 came back."""
    client_id = b"startup-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        answer = s.recv(size, socket.MSG_WAITALL)
        return len(answer) == size and struct.unpack(">ih", answer[:6]) == (1, 0)

def health_ready(port):
    """GET /health/ready on a new connection; True on a 200."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200 ")

def cpu_ms(pid):
    """User plus system CPU time the process has used: what start-up costs apart from waiting for a core."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

def start(name, binary, probe, idle):
    """Starts the broker, retries probe(kafka_port, admin_port) every 2 ms until it is true; returns the ms from exec
    to then, the CPU ms the broker used until then, and its RSS in MiB idle seconds later (None without idle)."""
    kafka_port, admin_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="tributary-aot-startup-") as data:
        args = [binary, "serve", "--set", f"listeners=PLAINTEXT://127.0.0.1:{kafka_port}", "--set", f"log.dirs={data}",
                "--set", f"tributary.admin.listeners=http://127.0.0.1:{admin_port}"]
        started = time.perf_counter()
        broker = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if probe(kafka_port, admin_port):
                        break
                except OSError:
                    pass
                if broker.poll() is not None:
                    sys.exit(f"{name}: the broker exited with {broker.returncode}")
                time.sleep(0.002)
            elapsed = (time.perf_counter() - started) * 1000
            cpu = cpu_ms(broker.pid)
            rss = None
            if idle:
                time.sleep(idle_seconds)
                rss = rss_kib(broker.pid) / 1024
            return elapsed, cpu, rss
        finally:
            broker.terminate()
            broker.wait(30)

print("| build | start to ApiVersions, median (min–max) | CPU time to then, median | idle RSS, median (min–max) | start to admin /health/ready 200, median (min–max) |")
print("|---|---:|---:|---:|---:|")
for name, binary in binaries.items():
    kafka = [start(name, binary, lambda k, a: api_versions(k), idle=True) for _ in range(runs)]
    admin = [start(name, binary, lambda k, a: health_ready(a), idle=False)[0] for _ in range(runs)]
    starts, cpus, rsses = [r[0] for r in kafka], [r[1] for r in kafka], [r[2] for r in kafka]
    print(f"| {name} | {statistics.median(starts):.0f} ms ({min(starts):.0f}–{max(starts):.0f}) | {statistics.median(cpus):.0f} ms | "
          f"{statistics.median(rsses):.1f} MiB ({min(rsses):.1f}–{max(rsses):.1f}) | {statistics.median(admin):.0f} ms ({min(admin):.0f}–{max(admin):.0f}) |")
PY
