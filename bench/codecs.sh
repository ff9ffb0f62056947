#!/usr/bin/env bash
# Compression codecs, native (system libsnappy, liblz4, libzstd) vs managed (Snappier, K4os.Compression.LZ4,
# ZstdSharp.Port, what Tributary uses): throughput ratios on 16 KiB–1 MiB batches of ~1 KB JSON records, and the
# broker's produce-path check of a 1 MiB batch. One process, no network, no disk, about a minute. Not run in CI.
# Figures: journal/codecs.md.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for lib in libsnappy.so.1:libsnappy1v5 liblz4.so.1:liblz4-1 libzstd.so.1:libzstd1; do
  ldconfig -p | grep -q "${lib%%:*}" || need+=("${lib##*:}")
done
[ ${#need[@]} -eq 0 ] || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
timeout 600 dotnet run -c Release bench/codecs.cs
