#!/usr/bin/env bash
# Fetch sessions (KIP-227): fetch request and response bytes per second with 1,000 partitions, sessions on vs off.
# Loopback only, two embedded brokers one after the other, about 35 s; not run in CI. Figures: journal/fetch-sessions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 300 dotnet run -c Release bench/fetch-sessions.cs
