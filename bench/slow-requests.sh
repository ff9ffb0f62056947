#!/usr/bin/env bash
# From a run's VM pauses and the runner's request log, how many produce requests took over 2 ms, how many of those
# were in flight during a pause, and how many of them ended within one 10 ms window of a 100 ms cycle (the most any
# such window holds; about a tenth of them if their ends were spread evenly over the cycle). This machine's host
# stops the whole VM near the same point of every 100 ms period when the VM has used up its CPU time for that period
# (bench/journal/vm-pauses.md); those stops end on the period's boundary, and so do the requests they catch.
# Prints one JSON object.
# Usage: bash bench/slow-requests.sh PAUSES REQUESTS
#   PAUSES: one pause per line, "start end" in seconds on CLOCK_MONOTONIC (may be empty: no pause);
#   REQUESTS: one request per line, "send latency" in nanoseconds on the same clock (--request-log of the runner).
set -euo pipefail
PAUSES=$1
REQUESTS=$2
# mawk: the first file is told apart by its name (NR == FNR would also hold for the log after an empty pause list),
# and n starts at 0 explicitly, so the first pause is not kept under an empty index.
awk 'BEGIN { n = 0 }
  FILENAME == ARGV[1] { ps[n] = $1; pe[n] = $2; n++; next }
  { s = $1 / 1e9; e = s + $2 / 1e9; hit = 0
    for (i = 0; i < n; i++) if (ps[i] < e && pe[i] > s) { hit = 1; break }
    total++; paused += hit
    if ($2 > 2e6) { slow++; slowpaused += hit; endms[int((($1 + $2) / 1e6) % 100)]++ } }
  END { best = 0
    for (w = 0; w < 100; w++) { c = 0; for (k = 0; k < 10; k++) c += endms[(w + k) % 100]; if (c > best) best = c }
    printf "{\"requests_logged\": %d, \"requests_in_pause\": %d, \"requests_over_2ms\": %d, \"requests_over_2ms_in_pause\": %d, \"requests_over_2ms_in_cycle_window\": %d}\n",
    total, paused, slow, slowpaused, best }' "$PAUSES" "$REQUESTS"
