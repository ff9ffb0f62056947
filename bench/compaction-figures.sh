#!/usr/bin/env bash
# Log-cleaner figures: cleaning throughput (MB/s) and bytes reclaimed on one on-disk partition where 10% of the
# records are live (bench/compaction-figures.cs). Bounded: RECORDS records (default 2,000,000), one process, no
# network, its temp directory deleted at the end. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-2000000} timeout 600 dotnet run -c Release bench/compaction-figures.cs
