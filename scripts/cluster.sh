#!/usr/bin/env bash
# Three etcd members and three Tributary brokers on loopback: a cluster on one machine.
#   scripts/cluster.sh start   builds the CLI, starts etcd on 127.0.0.1:23790-23792 and brokers 1-3 on 9092-9094
#   scripts/cluster.sh stop    stops them by the process ids kept in $CLUSTER_DIR/*.pid
# Data and logs go to $CLUSTER_DIR (default ./cluster-data; not TRIBUTARY_*: the CLI reads those as config keys);
# remove it for a fresh cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CLUSTER_DIR:-$PWD/cluster-data}
etcd=${ETCD:-/usr/bin/etcd}
endpoints="http://127.0.0.1:23790,http://127.0.0.1:23791,http://127.0.0.1:23792"

start() {
  command -v "$etcd" >/dev/null || { echo "cluster.sh: $etcd is missing (apt-get install etcd-server)" >&2; exit 1; }
  mkdir -p "$dir"
  dotnet build src/Tributary.Cli -c Release -v q -nologo >/dev/null
  local initial="m0=http://127.0.0.1:23800,m1=http://127.0.0.1:23801,m2=http://127.0.0.1:23802"
  for i in 0 1 2; do
    "$etcd" --name "m$i" --data-dir "$dir/etcd-m$i" \
      --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
      --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token tributary-local \
      >"$dir/etcd-m$i.log" 2>&1 &
    echo $! >"$dir/etcd-m$i.pid"
  done
  for id in 1 2 3; do
    cat >"$dir/broker-$id.properties" <<PROPS
node.id=$id
listeners=PLAINTEXT://127.0.0.1:909$((id + 1))
log.dirs=$dir/broker-$id
tributary.metadata.etcd.endpoints=$endpoints
default.replication.factor=3
PROPS
    dotnet src/Tributary.Cli/bin/Release/net10.0/tributary.dll serve --config "$dir/broker-$id.properties" >"$dir/broker-$id.log" 2>&1 &
    echo $! >"$dir/broker-$id.pid"
  done
  echo "etcd: $endpoints"
  echo "brokers: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 (logs and pids in $dir)"
}

stop() {
  for pidfile in "$dir"/broker-*.pid "$dir"/etcd-*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      # Brokers first and gracefully: each revokes its lease so the others take over its partitions at once.
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
