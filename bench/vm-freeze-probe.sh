#!/usr/bin/env bash
# Probes whether the host stops this whole VM when the VM's CPU use (its vCPUs and the host's work for its disk)
# exceeds a share per period: busy-loops that note every stretch over 2 ms in which they did not run, first two of
# them (both vCPUs busy) without disk writes, then the same two beside a `dd` of direct 4 MiB writes. A stall is a
# stretch in which both loops stood still at once: the guest's own scheduler could give one vCPU to dd, not both.
# Prints one JSON object:
#   spin2_stalls, spin2_stalled_ms: stalls without writes, and their time;
#   write_MB_per_s, write_s: what dd wrote, and for how long; write_stalls, write_stalled_ms, write_stall_max_ms: stalls beside it;
#   write_stalls_in_cycle_window: the most of those ending within one 10 ms window of a 100 ms cycle (about a tenth
#   if they were spread evenly over it). bench/README.md, "Fourteenth round", has what this showed on the benchmark's machine.
# Usage: bash bench/vm-freeze-probe.sh DIR   (DIR: where dd writes, on the disk under test; its file is removed)
set -euo pipefail
DIR=$1
SECONDS_EACH=3
WRITE_BYTES_MAX=$((3 * 1024 * 1024 * 1024)) # dd's bound; it also stops after SECONDS_EACH + 3 s
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; rm -f "$DIR/vm-freeze-probe.dat"' EXIT

spin() { # spin SECONDS OUT: busy-loop, printing "start_s length_ms" (CLOCK_MONOTONIC) of every stretch over 2 ms
  python3 -c '
import sys, time
secs = float(sys.argv[1]); now = time.monotonic; prev = start = now()
with open(sys.argv[2], "w") as out:
    gaps = []
    while prev - start < secs:
        t = now()
        if t - prev > 0.002:
            gaps.append((prev, t - prev))
        prev = t
    out.writelines("%.6f %.3f\n" % (s, d * 1000) for s, d in gaps)
' "$1" "$2"
}

stalls() { # stalls A B: "start_s length_ms" of every stretch in which both loops stood still at once
  awk 'FILENAME == ARGV[1] { s[n] = $1; e[n] = $1 + $2 / 1000; n++; next }
    { s2 = $1; e2 = $1 + $2 / 1000
      for (i = 0; i < n; i++) if (s[i] < e2 && s2 < e[i]) {
        lo = s[i] > s2 ? s[i] : s2; hi = e[i] < e2 ? e[i] : e2; if (hi - lo > 0.002) printf "%.6f %.3f\n", lo, (hi - lo) * 1000 } }' "$1" "$2"
}

# 1: two busy loops, no writes.
spin "$SECONDS_EACH" "$TMP/a.txt" & a=$!
spin "$SECONDS_EACH" "$TMP/b.txt" & b=$!
wait "$a" "$b"
stalls "$TMP/a.txt" "$TMP/b.txt" >"$TMP/quiet.txt"

# 2: two busy loops beside direct writes.
spin "$SECONDS_EACH" "$TMP/c.txt" & c=$!
spin "$SECONDS_EACH" "$TMP/d.txt" & d=$!
sleep 0.2
t0=$(date +%s.%N)
timeout $((SECONDS_EACH + 3)) dd if=/dev/zero of="$DIR/vm-freeze-probe.dat" bs=4M count=$((WRITE_BYTES_MAX / 4194304)) \
  oflag=direct status=none 2>/dev/null || true
t1=$(date +%s.%N)
written=$(stat -c %s "$DIR/vm-freeze-probe.dat" 2>/dev/null || echo 0)
wait "$c" "$d"
stalls "$TMP/c.txt" "$TMP/d.txt" >"$TMP/writes.txt"
awk -v written="$written" -v t0="$t0" -v t1="$t1" '
  FILENAME == ARGV[1] { qn++; qt += $2; next }
  { n++; total += $2; if ($2 > max) max = $2; endms[int(($1 * 1000 + $2) % 100)]++ }
  END { best = 0
    for (w = 0; w < 100; w++) { k = 0; for (j = 0; j < 10; j++) k += endms[(w + j) % 100]; if (k > best) best = k }
    printf "{\"spin2_stalls\": %d, \"spin2_stalled_ms\": %.1f, \"write_MB_per_s\": %.0f, \"write_s\": %.1f, \"write_stalls\": %d, \"write_stalled_ms\": %.1f, \"write_stall_max_ms\": %.1f, \"write_stalls_in_cycle_window\": %d}\n",
      qn, qt, written / 1e6 / (t1 - t0), t1 - t0, n, total, max, best }' "$TMP/quiet.txt" "$TMP/writes.txt"
