#!/usr/bin/env bash
# SASL logins per second (issue #31): SCRAM-SHA-256 and SCRAM-SHA-512 against PLAIN and a bare connect + ApiVersions,
# as ratios from one invocation. Loopback only, one embedded broker, about 45 s; not run in CI.
# Usage: bash bench/scram-handshakes.sh [CLIENTS [SECONDS]]   (defaults: 8 concurrent clients, 5 s per mode and round)
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 300 dotnet run -c Release bench/scram-handshakes.cs -- "$@"
