#!/usr/bin/env bash
# Authorizer overhead: kcat produce/consume throughput with 10,000 ACLs as a ratio to no authorizer, one invocation.
# Loopback only, two embedded brokers one after the other, about a minute; not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout 600 dotnet run -c Release bench/acl-overhead.cs
