#!/usr/bin/env bash
# The seeded disk-fault injection run (tests/Tributary.Broker.Tests/Faults) over many more seeds than CI's 300:
#   tools/fault-soak.sh [seeds]   (default 20000; about 20 ms a seed on one core)
# A failing seed is named in the output; TRIBUTARY_FAULT_SEED=N replays it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-20000}
dotnet build tests/Tributary.Broker.Tests -c Release -v q -nologo
start=$(date +%s)
TRIBUTARY_FAULT_SEEDS=$seeds dotnet test tests/Tributary.Broker.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Tributary.Broker.Tests.Faults.FaultInjectionTests"
echo "fault soak: $seeds seeds passed in $(( $(date +%s) - start )) s"
