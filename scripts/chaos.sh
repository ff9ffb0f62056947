#!/usr/bin/env bash
# The long fault test: a seeded schedule of process faults (leader SIGKILL and SIGSTOP, etcd member killed, etcd
# quorum lost, a broker wiped) against 3 etcd members and 3 `tributary serve` processes on loopback, for about
# SECONDS of faults, while idempotent producers (Confluent.Kafka, kcat, kafkajs) and a consumer group run; then the
# history checker and a byte comparison of the replicas. The CI test (ClusterFaultTests) runs every fault kind once.
# Then the same for network partitions (ClusterNetworkFaultTests: a partition leader cut from its peers, from etcd,
# or from everything, in network namespaces; needs root).
#   scripts/chaos.sh [SEED] [SECONDS]     (defaults: a random seed, 300 s)
# Prints the schedule, each fault as it happens and the checker's verdict; exits non-zero if the check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-$((RANDOM * 32768 + RANDOM))}
seconds=${2:-300}
[ -x /usr/bin/etcd ] || { echo "chaos.sh: /usr/bin/etcd is missing (apt-get install etcd-server)" >&2; exit 1; }
# The workload's kcat and kafkajs clients.
command -v kcat >/dev/null 2>&1 || { echo "chaos.sh: kcat is missing (apt-get install kcat)" >&2; exit 1; }
[ -f tests/interop-js/node_modules/kafkajs/package.json ] || (cd tests/interop-js && npm ci --no-audit --no-fund --loglevel=error)
dotnet build tests/Tributary.Interop.Tests -c Release -v q -nologo >/dev/null
echo "chaos.sh: seed $seed, $seconds s of faults"
CHAOS_SEED=$seed CHAOS_SECONDS=$seconds dotnet test tests/Tributary.Interop.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Chaos.ClusterFaultTests|FullyQualifiedName~Chaos.ClusterNetworkFaultTests" --logger "console;verbosity=detailed" \
  | grep -vE '^\s*$|^(Test run for|A total of|\[xUnit\.net [0-9:.]+\] +(Discover|Start|Finish))'
