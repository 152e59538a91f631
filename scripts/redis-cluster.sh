#!/usr/bin/env bash
# A local Redis Cluster for trying the server on one (and for the bench): 3 masters with one
# replica each, on loopback ports BASE..BASE+5 (and their bus ports BASE+10000..), files in DIR.
#   bash scripts/redis-cluster.sh start [BASE=7100] [DIR=/tmp/chat-redis-cluster]
#   bash scripts/redis-cluster.sh stop  [BASE=7100] [DIR=/tmp/chat-redis-cluster]
#   bash scripts/redis-cluster.sh node PORT [DIR]   (re)starts one node, e.g. a killed master,
#                                                   which rejoins as a replica
# Then: STORE=redis REDIS_CLUSTER_NODES=127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102 cargo run
set -euo pipefail
cmd=${1:?start or stop}
base=${2:-7100}
dir=${3:-/tmp/chat-redis-cluster}
ports=$(seq "$base" $((base + 5)))

node() {
    redis-server --port "$1" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file "$dir/nodes-$1.conf" --cluster-node-timeout 2000 \
        --save '' --appendonly no --dir "$dir" --daemonize yes --repl-diskless-sync-delay 0 \
        --pidfile "$dir/redis-$1.pid" --logfile "$dir/redis-$1.log"
}

case $cmd in
node) node "$base" ;;
start)
    mkdir -p "$dir"
    for p in $ports; do node "$p"; done
    for p in $ports; do
        for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    done
    redis-cli --cluster create $(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done) \
        --cluster-replicas 1 --cluster-yes >"$dir/create.log"
    for p in $ports; do
        for _ in $(seq 200); do
            redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' && break
            sleep 0.05
        done
    done
    echo "REDIS_CLUSTER_NODES=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
    ;;
stop)
    for p in $ports; do
        [ -f "$dir/redis-$p.pid" ] && kill "$(cat "$dir/redis-$p.pid")" 2>/dev/null || true
    done
    sleep 0.5
    rm -rf "$dir"
    ;;
*) echo "usage: $0 start|stop [BASE] [DIR]" >&2; exit 2 ;;
esac
