#!/usr/bin/env bash
# Cluster figures (issue #32), not CI: in one invocation on loopback, (1) acks=all to a topic of replication factor 3
# on three brokers (etcd with three members) against acks=1 on one standalone broker: throughput and p99 produce
# latency; (2) time from SIGKILL of a partition leader to the first acknowledged acks=all produce, median and p99
# over KILLS kills (default settings: etcd lease 6 s); (3) time for an emptied broker to re-replicate GB gigabytes.
#   RECORDS=100000 KILLS=20 GB=1 [LEASE_MS=3000] bench/cluster-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/etcd ] || { echo "cluster-figures.sh: /usr/bin/etcd is missing (apt-get install etcd-server)" >&2; exit 1; }
dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
export BROKER_DLL=$PWD/src/Tributary.Cli/bin/Release/net10.0/tributary.dll
RECORDS=${RECORDS:-100000} KILLS=${KILLS:-20} GB=${GB:-1} LEASE_MS=${LEASE_MS:-} timeout 5400 dotnet run -c Release bench/cluster-figures.cs
