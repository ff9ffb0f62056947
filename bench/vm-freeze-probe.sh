#!/usr/bin/env bash
# Probes whether the host stops this whole VM when the VM's CPU use (its vCPUs and the host's work for its disk)
# exceeds a share per period: busy-loops that note every stretch over 2 ms in which they did not run, first two of
# them (both vCPUs busy) without disk writes, then the same two beside a `dd` of direct 4 MiB writes. A stall is a
# stretch of over 2 ms in which both loops stood still at once: the guest's own scheduler could give one vCPU to dd,
# not both. Prints one JSON object:
#   spin2_stalls, spin2_stalled_ms: stalls without writes, and their time;
#   write_MB_per_s, write_s: what dd wrote, and for how long;
#   write_stalls, write_stalled_ms, write_stall_max_ms: stalls beside the writes;
#   write_stalls_in_cycle_window: the most of those ending within one 10 ms window of a 100 ms cycle (about a tenth
#   if they were spread evenly over it; counted by bench/slow-requests.sh).
# bench/journal/vm-pauses.md has what this showed on the benchmark's machine. Needs python3, dd, awk, jq.
# Usage: bash bench/vm-freeze-probe.sh DIR      DIR: where dd writes, on the disk under test; its file is removed
#        bash bench/vm-freeze-probe.sh --stalls A B
#                                              the stalls of two loops' stretches (files of "start_s length_ms"),
#                                              as "start_ns length_ns" lines (what the probe counts; for its tests)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

stalls() { # stalls A B: every stretch of over 2 ms in which both loops stood still at once, "start_ns length_ns"
  # n starts at 0 explicitly: an unset n would keep A's first stretch under the index "", where the loop never looks.
  awk 'BEGIN { n = 0 }
    FILENAME == ARGV[1] { s[n] = $1; e[n] = $1 + $2 / 1000; n++; next }
    { s2 = $1; e2 = $1 + $2 / 1000
      for (i = 0; i < n; i++) if (s[i] < e2 && s2 < e[i]) {
        lo = s[i] > s2 ? s[i] : s2; hi = e[i] < e2 ? e[i] : e2
        if (hi - lo > 0.002) printf "%.0f %.0f\n", lo * 1e9, (hi - lo) * 1e9 } }' "$1" "$2"
}

if [ "${1:-}" = --stalls ]; then
  stalls "$2" "$3"
  exit 0
fi

DIR=$1
SECONDS_EACH=3
WRITE_BYTES_MAX=$((3 * 1024 * 1024 * 1024)) # dd's bound; it also stops after SECONDS_EACH + 3 s
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; rm -f "$DIR/vm-freeze-probe.dat"' EXIT

spin() { # spin SECONDS OUT: busy-loop, writing "start_s length_ms" (CLOCK_MONOTONIC) of every stretch over 2 ms
  python3 -c '
import sys, time
secs = float(sys.argv[1]); now = time.monotonic; prev = start = now()
gaps = []
while prev - start < secs:
    t = now()
    if t - prev > 0.002:
        gaps.append((prev, t - prev))
    prev = t
with open(sys.argv[2], "w") as out:
    out.writelines("%.6f %.3f\n" % (s, d * 1000) for s, d in gaps)
' "$1" "$2"
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

: >"$TMP/no-pauses.txt"
cycle=$(bash "$HERE/slow-requests.sh" "$TMP/no-pauses.txt" "$TMP/writes.txt" | jq .requests_over_2ms_in_cycle_window)
sums() { awk '{ n++; t += $2 / 1e6; if ($2 / 1e6 > m) m = $2 / 1e6 } END { printf "%d %.1f %.1f", n, t, m }' "$1"; }
read -r qn qt _ <<<"$(sums "$TMP/quiet.txt")"
read -r wn wt wm <<<"$(sums "$TMP/writes.txt")"
jq -n -c --argjson qn "$qn" --argjson qt "$qt" --argjson wn "$wn" --argjson wt "$wt" --argjson wm "$wm" --argjson cycle "$cycle" \
  --argjson mbps "$(awk -v b="$written" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", b / 1e6 / (t1 - t0) }')" \
  --argjson secs "$(awk -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.1f", t1 - t0 }')" \
  '{spin2_stalls: $qn, spin2_stalled_ms: $qt, write_MB_per_s: $mbps, write_s: $secs, write_stalls: $wn,
    write_stalled_ms: $wt, write_stall_max_ms: $wm, write_stalls_in_cycle_window: $cycle}'
