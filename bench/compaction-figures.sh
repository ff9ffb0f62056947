#!/usr/bin/env bash
# Log-cleaner figures: cleaning throughput (MB/s) and bytes reclaimed on one on-disk partition where 10% of the
# records are live (bench/compaction-figures.cs), then append p50/p99 on a compacted partition with the cleaner off
# and with it cleaning meanwhile, same invocation (bench/compaction-produce-p99.cs). Bounded: RECORDS records
# (default 2,000,000), PRODUCE_BATCHES batches of 100 at BATCHES_PER_SECOND, one process each, no network, temp
# directories deleted at the end. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-2000000} timeout 600 dotnet run -c Release bench/compaction-figures.cs
RECORDS=${RECORDS:-2000000} timeout 600 dotnet run -c Release bench/compaction-produce-p99.cs
