#!/usr/bin/env bash
# Runs every test of Tributary on a fresh machine: installs what the tests need (kcat, jq, kafka-python, Go with
# sarama, AFL++ and prlimit from Debian, kafkajs from npm), builds, then runs all test projects, the benchmark
# report scripts' test, the package smoke test and a short fuzzing run.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v jq >/dev/null 2>&1 || need+=(jq) # the benchmark report scripts' test
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || need+=(python3-kafka) # kafka-python interop
command -v go >/dev/null 2>&1 || need+=(golang-go) # sarama interop, built offline
[ -d /usr/share/gocode/src/github.com/Shopify/sarama ] || need+=(golang-github-shopify-sarama-dev)
command -v afl-fuzz >/dev/null 2>&1 || need+=(afl++) # fuzz/run.sh
command -v prlimit >/dev/null 2>&1 || need+=(util-linux) # the broker under a descriptor limit (interop)
command -v unzip >/dev/null 2>&1 || need+=(unzip) # scripts/package-smoke.sh reads the packages' contents
[ -x /usr/bin/etcd ] || need+=(etcd-server) # cluster mode's metadata (Server tests, Interop fault tests, scripts/cluster.sh)
command -v ip >/dev/null 2>&1 || need+=(iproute2) # network namespaces of the network fault test (Interop)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The web console's browser tests drive Debian's Chromium headless through Playwright (no browser download). Its
# recommended packages (extensions, desktop integration) are not needed headless; one font is, for the screenshots.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

if [ -f tests/interop-js/package-lock.json ]; then
  (cd tests/interop-js && npm ci --no-audit --no-fund --loglevel=error)
fi

dotnet build Tributary.slnx -c Release
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The process fault test (category Chaos) runs here in its short form, every fault kind once (about a minute);
# so do the network fault test (ClusterNetworkFaultTests, network namespaces) and the full-disk test
# (ClusterDiskFullTests, tmpfs mounts), about a minute each; scripts/chaos.sh runs the first two in their long
# forms (src/Tributary.Broker/Cluster/FAULTS.md).
dotnet test Tributary.slnx -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
passed=$(awk '/^ +Passed: +[0-9]+$/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^ +Failed: +[0-9]+$/ {s += $2} END {print s + 0}' "$log")

# The benchmark's report scripts, on made-up inputs with known answers (each check counts as a test).
bench_log=$(mktemp)
if bench/tests/run.sh 2>&1 | tee "$bench_log"; then :; else status=1; fi
passed=$((passed + $(awk '/^bench script tests:/ {p = $4} END {print p + 0}' "$bench_log")))
failed=$((failed + $(awk '/^bench script tests:/ {print $6 + 0; found = 1} END {if (!found) print 1}' "$bench_log")))
rm -f "$bench_log"

# Packaging: the library and the .NET tool install from a local folder and work.
if scripts/package-smoke.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

# Fuzzing: every target 20 s from its seed corpus under AFL++ (fuzz/README.md); a crash or hang fails its target.
fuzz_log=$(mktemp)
if FUZZ_SECONDS=20 fuzz/run.sh 2>&1 | tee "$fuzz_log"; then :; else status=1; fi
passed=$((passed + $(awk '/^fuzz targets:/ {p = $3} END {print p + 0}' "$fuzz_log")))
failed=$((failed + $(awk '/^fuzz targets:/ {print $5 + 0; found = 1} END {if (!found) print 1}' "$fuzz_log")))
rm -f "$fuzz_log"

echo "tests: $passed passed, $failed failed"
exit "$status"
