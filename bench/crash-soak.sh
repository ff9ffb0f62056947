#!/usr/bin/env bash
# Crash soak (bench/crash-soak.cs): the real broker under an acks=all producer, an idempotent producer and a
# committing consumer group, kill -9'd at random moments (some while it recovers) for CYCLES cycles (default 30),
# then every acknowledged record and commit checked. Figures: bench/journal/crash-soak.md. Not run in CI.
#   CYCLES=30 SEED=1 bench/crash-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Tributary.Cli -c Release -v q -nologo
export BROKER_DLL=$PWD/src/Tributary.Cli/bin/Release/net10.0/tributary.dll
CYCLES=${CYCLES:-30} SEED=${SEED:-1} timeout 3600 dotnet run -c Release bench/crash-soak.cs
