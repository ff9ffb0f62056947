#!/usr/bin/env bash
# Single-node start with the internal topics' partition counts (issue #32): for each COUNT in COUNTS (default "1 50"),
# a data directory whose __consumer_offsets was created with offsets.topic.num.partitions=COUNT (a topic created, a
# group's offsets committed with `tributary groups reset-offsets`), then RUNS (default 5) restarts on it, each timed
# from exec to the first ApiVersions answer, with the open file descriptors of the idle broker (/proc/PID/fd).
# JIT build of the CLI; loopback only; every broker stopped by its PID. Usage: bash bench/coordinator-partitions-startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
COUNTS=${COUNTS:-"1 50"}
BINARY=src/Tributary.Cli/bin/Release/net10.0/tributary

python3 - "$RUNS" "$BINARY" $COUNTS <<'PY'
import os, socket, statistics, struct, subprocess, sys, tempfile, time

runs, binary, counts = int(sys.argv[1]), sys.argv[2], [int(c) for c in sys.argv[3:]]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def api_versions(port):
    body = struct.pack(">hhih", 18, 0, 1, 5) + b"probe"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        return len(s.recv(size, socket.MSG_WAITALL)) == size

def start(data, port, count):
    args = [binary, "serve", "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--set", f"log.dirs={data}",
            "--set", f"offsets.topic.num.partitions={count}", "--set", f"transaction.state.log.num.partitions={count}"]
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if api_versions(port):
                return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.002)

def stop(proc):
    proc.terminate()
    proc.wait(30)

print("| internal topic partitions | restart to ApiVersions, median (min-max) | open fds idle |")
print("|---:|---:|---:|")
for count in counts:
    with tempfile.TemporaryDirectory(prefix="tributary-coordparts-") as data:
        port = free_port()
        proc, _ = start(data, port, count)
        bootstrap = ["--bootstrap", f"127.0.0.1:{port}"]
        subprocess.run([binary, "topics", "create", "orders"] + bootstrap, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "groups", "reset-offsets", "billing", "--topic", "orders", "--to-earliest", "--execute"] + bootstrap, check=True, stdout=subprocess.DEVNULL)
        stop(proc)
        times, fds = [], []
        for _ in range(runs):
            proc, took = start(data, port, count)
            time.sleep(1)
            fds.append(len(os.listdir(f"/proc/{proc.pid}/fd")))
            stop(proc)
            times.append(took * 1000)
        print(f"| {count} | {statistics.median(times):.0f} ms ({min(times):.0f}-{max(times):.0f}) | {statistics.median(fds):.0f} |")
PY
