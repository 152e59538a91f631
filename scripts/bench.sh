#!/usr/bin/env bash
# Measures our server (memory and Redis stores) and the peers of ../shared/peers (FastAPI and
# Node, both on Redis) with the project's own load generator (bench/: the chat-bench crate's
# loadgen), back to back and interleaved, on this machine, and prints a Markdown table with ratios.
#
#   scripts/bench.sh [--quick] [--rounds N] [--servers "ours-memory ours-redis ours-cluster node fastapi"]
#                    [--scenarios "fanout paced burst idle history scale"] [--out DIR]
#
# --quick     small sizes and a few seconds per scenario (about 3 minutes in all)
# --rounds N  repeat every (scenario, server) N times, interleaved; the table shows medians
# --out DIR   where the JSON results and table.md go (default artifacts/bench/<time>)
# In full mode the idle scenario is idle-10k and idle-50k; either may be named alone.
#
# Ours runs with WORKER_THREADS=1, one thread like each peer (OURS_WORKER_THREADS=0: one per core).
# ours-cluster (not in the default list) is ours on a private Redis Cluster of 3 masters with a
# replica each (REDIS_CLUSTER_NODES); its Redis CPU and memory are the six nodes' sum.
# OURS_WAIT_REPLICAS=N runs ours with REDIS_WAIT_REPLICAS=N (what waiting for replicas costs).
#
# After each round's idle-10k, the bench's acceptor (answers the upgrade, nothing else) is
# measured the same way: the most connections per second any server could show here. After each
# paced run, the bench's relay (copies each text to its room, nothing else) is: the lowest latency
# any server could show here. The lines under the table give both.
#
# A server and its generator each hold one descriptor per connection. When the open-file limit
# is too low for one process to hold an idle run (50k needs 51000), ours-redis runs it sharded:
# K instances of ours on one private Redis, each driven by its own generator at once, each
# holding at most 4/5 of the limit (4 x 12500 under 20000); `loadgen merge-idle` sums them
# into the one result the table reads, which says K. The peers are one process each: they skip
# it. BENCH_IDLE50K_CONNECTIONS (default 50000) and BENCH_SHARD_CONNECTIONS (most connections
# per process, default 4/5 of the limit; setting it shards any idle run above it) exist to try
# the sharded path at small sizes.
#
# Every server under test runs alone, with a private redis-server on a free port (started
# fresh for each run, killed after), and is stopped after each run. The peers are copied
# outside the repository (their venv and node_modules are cached in ${BENCH_CACHE:-~/.cache/
# chat-bench}). Every run is bounded by `timeout`; the trap stops everything at exit. The last
# line is `bench: N runs, M failed` (a run fails when the generator gives no result or reports
# `"complete": false`); the exit status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$PWD
peers_src=${PEERS_DIR:-$repo/../shared/peers}
[ -d "$peers_src" ] || peers_src=/work/shared/peers
cache=${BENCH_CACHE:-$HOME/.cache/chat-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}

mode=full
rounds=1
servers="ours-memory ours-redis node fastapi"
scenarios="fanout paced burst idle history scale"
out=
while [ $# -gt 0 ]; do
    case $1 in
        --quick) mode=quick ;;
        --rounds) rounds=$2; shift ;;
        --servers) servers=$2; shift ;;
        --scenarios) scenarios=$2; shift ;;
        --out) out=$2; shift ;;
        -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$mode" = quick ] && [ "$scenarios" = "fanout paced burst idle history scale" ] &&
    scenarios="fanout paced burst idle history"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
server_log=$tmp/server.log
results=${out:-$repo/artifacts/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
server_pid=
redis_pid=
# The processes of a sharded run (run_idle_sharded), also stopped by the trap.
shard_loadgens=()
shard_servers=()
runs=0
failed=0
t_start=$SECONDS

# Stops one process we started: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local rc=$? pid
    for pid in "${shard_loadgens[@]}" "${shard_servers[@]}"; do stop_pid "$pid"; done
    stop_pid "$server_pid"
    stop_pids "$redis_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------------ the machine
model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
ulimit -n "$(ulimit -Hn)" 2>/dev/null
fd_limit=$(ulimit -n)
clk=$(getconf CLK_TCK)
machine="$(nproc) × ${model:-unknown CPU}, $mem RAM, Linux $(uname -r), open files $fd_limit"
# The most connections one process (a server or a generator) is given in a sharded run: the
# limit less a fifth, for the descriptors that are not connections (listener, Redis, logs,
# the ones closing) and to stay clear of the limit itself.
shard_max=${BENCH_SHARD_CONNECTIONS:-$((fd_limit * 4 / 5))}
[ "$shard_max" -ge 1 ] || shard_max=1
echo "machine: $machine"
echo "mode: $mode, rounds: $rounds, servers: $servers, scenarios: $scenarios"
echo "results: $results"

# ------------------------------------------------------------------ build
# Two builds: the server alone, so that it is built with its own features only (as it ships),
# not with those the bench's crate adds to their shared dependencies.
echo "building (cargo build --release -p chat-server --bin chat-server; cargo build --release -p chat-bench --bins)..."
if ! timeout 1800 cargo build --release --quiet -p chat-server --bin chat-server ||
    ! timeout 1800 cargo build --release --quiet -p chat-bench --bins; then
    echo "bench: build failed"
    exit 1
fi
server_bin=$CARGO_TARGET_DIR/release/chat-server
loadgen=$CARGO_TARGET_DIR/release/loadgen
acceptor=$CARGO_TARGET_DIR/release/acceptor
relay=$CARGO_TARGET_DIR/release/relay

# ------------------------------------------------------------------ peers
# Prepares a peer in the cache (venv / node_modules keyed by the lock file's hash) and copies
# its current code there. Prints nothing on success; on failure the server is skipped.
declare -A peer_dir
prepare_peers() {
    local key dir
    # Each setup is one chain: any step failing (A && B || C) skips that peer.
    # shellcheck disable=SC2015
    for s in $servers; do
        case $s in
            fastapi)
                key=$(sha256sum "$peers_src/fastapi/requirements.txt" | cut -c1-12)
                dir=$cache/fastapi-$key
                if [ ! -x "$dir/.venv/bin/uvicorn" ]; then
                    echo "preparing the FastAPI peer (venv + pip install) in $dir..."
                    rm -rf "$dir" && mkdir -p "$dir" &&
                        cp "$peers_src/fastapi/requirements.txt" "$dir/" &&
                        timeout 600 python3 -m venv "$dir/.venv" &&
                        timeout 600 "$dir/.venv/bin/pip" install -q -r "$dir/requirements.txt" \
                            >"$tmp/pip.log" 2>&1 ||
                        { echo "bench: FastAPI peer setup failed:"; tail -5 "$tmp/pip.log"; rm -rf "$dir"; continue; }
                fi
                cp "$peers_src/fastapi/app.py" "$dir/" && peer_dir[fastapi]=$dir
                ;;
            node)
                key=$(sha256sum "$peers_src/node/package-lock.json" | cut -c1-12)
                dir=$cache/node-$key
                if [ ! -d "$dir/node_modules" ]; then
                    echo "preparing the Node peer (npm ci) in $dir..."
                    rm -rf "$dir" && mkdir -p "$dir" &&
                        cp "$peers_src/node/package.json" "$peers_src/node/package-lock.json" "$dir/" &&
                        (cd "$dir" && timeout 600 npm ci --no-audit --no-fund --silent) >"$tmp/npm.log" 2>&1 ||
                        { echo "bench: Node peer setup failed:"; tail -5 "$tmp/npm.log"; rm -rf "$dir"; continue; }
                fi
                cp "$peers_src/node/server.js" "$dir/" && peer_dir[node]=$dir
                ;;
        esac
    done
}
prepare_peers

# ------------------------------------------------------------------ one run
start_redis() {
    local port i
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --maxclients 100000 --logfile '' >"$tmp/redis.log" 2>&1 &
    redis_pid=$!
    for i in $(seq 100); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { redis_port=$port; return 0; }
        sleep 0.05
    done
    echo "    redis did not start:"; sed 's/^/      /' "$tmp/redis.log"
    return 1
}

# A private 3-master cluster with a replica each, on six free ports (and their bus ports,
# +10000); sets redis_pid (the six pids, comma-separated) and cluster_nodes.
start_redis_cluster() {
    local base p i pids=() ok
    base=$(python3 -c '
import socket, random
for _ in range(200):
    b = random.randrange(20000, 40000)
    try:
        socks = []
        for p in list(range(b, b + 6)) + list(range(b + 10000, b + 10006)):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(b); break
    except OSError:
        pass')
    cluster_dir=$tmp/cluster
    rm -rf "$cluster_dir" && mkdir -p "$cluster_dir"
    for p in $(seq "$base" $((base + 5))); do
        redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file "$cluster_dir/nodes-$p.conf" --cluster-node-timeout 2000 \
            --save '' --appendonly no --dir "$cluster_dir" --maxclients 100000 --logfile '' \
            --repl-diskless-sync-delay 0 \
            >"$cluster_dir/$p.log" 2>&1 &
        pids+=($!)
    done
    redis_pid=$(IFS=,; echo "${pids[*]}")
    for p in $(seq "$base" $((base + 5))); do
        for i in $(seq 100); do
            [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && break
            sleep 0.05
        done
    done
    # shellcheck disable=SC2046
    redis-cli --cluster create $(for p in $(seq "$base" $((base + 5))); do echo "127.0.0.1:$p"; done) \
        --cluster-replicas 1 --cluster-yes >"$cluster_dir/create.log" 2>&1 || {
        echo "    cluster create failed:"; tail -5 "$cluster_dir/create.log" | sed 's/^/      /'; return 1; }
    for p in $(seq "$base" $((base + 5))); do
        ok=
        for i in $(seq 200); do
            redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && { ok=1; break; }
            sleep 0.05
        done
        [ -n "$ok" ] || { echo "    cluster not ok on $p"; return 1; }
    done
    # Every replica's first sync done (REDIS_WAIT_REPLICAS needs it).
    for p in $(seq "$base" $((base + 5))); do
        for i in $(seq 200); do
            info=$(redis-cli -p "$p" info replication 2>/dev/null)
            case $info in *role:master*|*master_link_status:up*) break ;; esac
            sleep 0.05
        done
    done
    cluster_nodes=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))
}

# Stops every pid of a comma-separated list.
stop_pids() {
    local pid
    for pid in ${1//,/ }; do stop_pid "$pid"; done
}

# Starts server $1 on a free port, its output in $server_log; sets server_pid and port. The pid
# is the server process itself (exec), so /proc/PID is what we sample.
start_server() {
    local name=$1 i
    port=$(free_port)
    mkdir -p "$tmp/run"
    case $name in
        ours-memory | ours-redis | ours-cluster)
            local store=${name#ours-} url= nodes=
            [ "$store" = redis ] && url=redis://127.0.0.1:$redis_port/0
            [ "$store" = cluster ] && store=redis nodes=$cluster_nodes
            (cd "$tmp/run" && exec env HOST=127.0.0.1 PORT="$port" STORE="$store" \
                ${url:+REDIS_URL=$url} ${nodes:+REDIS_CLUSTER_NODES=$nodes} \
                REDIS_WAIT_REPLICAS="${OURS_WAIT_REPLICAS:-0}" \
                RATE_LIMIT_PER_SECOND=0 MAX_CONNECTIONS=200000 \
                MAX_CONNECTIONS_PER_USER=100000 SHUTDOWN_DRAIN_SECONDS=0 RUST_LOG=warn \
                WORKER_THREADS="${OURS_WORKER_THREADS:-1}" \
                "$server_bin") >"$server_log" 2>&1 &
            ;;
        node)
            [ -n "${peer_dir[node]:-}" ] || return 1
            (cd "${peer_dir[node]}" && exec env HOST=127.0.0.1 PORT="$port" REDIS_HOST=127.0.0.1 \
                REDIS_PORT="$redis_port" node server.js) >"$server_log" 2>&1 &
            ;;
        fastapi)
            [ -n "${peer_dir[fastapi]:-}" ] || return 1
            (cd "${peer_dir[fastapi]}" && exec env PORT="$port" REDIS_HOST=127.0.0.1 \
                REDIS_PORT="$redis_port" .venv/bin/uvicorn app:app --host 127.0.0.1 --port "$port" \
                --loop uvloop --http httptools --ws-max-size 65536 --log-level warning \
                --no-access-log) >"$server_log" 2>&1 &
            ;;
        *) echo "    unknown server $name"; return 1 ;;
    esac
    server_pid=$!
    for i in $(seq 300); do
        kill -0 "$server_pid" 2>/dev/null || break
        curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
        sleep 0.1
    done
    echo "    $name did not become healthy:"; tail -20 "$server_log" | sed 's/^/      /'
    return 1
}

order=0
# run_one TAG SERVER ROUND DURATION LOADGEN-ARGS...
run_one() {
    local tag=$1 name=$2 round=$3 duration=$4
    shift 4
    local file=$results/$tag.$name.r$round.json t0=$SECONDS ok=1 redis_arg=
    order=$((order + 1))
    runs=$((runs + 1))
    echo "== $tag on $name (round $round): loadgen $*"
    redis_port=
    if [ "$name" = ours-cluster ]; then
        start_redis_cluster || ok=0
        redis_arg="--redis-pid $redis_pid"
    elif [ "$name" != ours-memory ]; then
        start_redis || ok=0
        redis_arg="--redis-pid $redis_pid"
    fi
    if [ $ok = 1 ] && start_server "$name"; then
        # shellcheck disable=SC2086
        timeout --kill-after=5 "$((duration + 30))" "$loadgen" --url "http://127.0.0.1:$port" \
            --server-pid "$server_pid" $redis_arg --clk-tck "$clk" --server-name "$name" \
            --tag "$tag" --order "$order" --json "$file" "$@" \
            2> >(sed -u 's/^/    /' >&2) >/dev/null
        local rc=$?
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "    $name exited during the run:"; tail -20 "$server_log" | sed 's/^/      /'
        fi
        if [ $rc -ne 0 ] || [ ! -s "$file" ]; then ok=0; fi
        [ -s "$file" ] || echo "    no result (loadgen exit $rc)"
    else
        ok=0
    fi
    stop_pid "$server_pid"; server_pid=
    stop_pids "$redis_pid"; redis_pid=
    [ $ok = 1 ] || failed=$((failed + 1))
    echo "   -> $([ $ok = 1 ] && echo ok || echo FAILED) in $((SECONDS - t0)) s"
}

# shards_for CONNECTIONS: 1 if one process can hold them (the limit with 1000 to spare, as
# idle-50k always required), else the fewest processes holding at most shard_max each.
shards_for() {
    local n=$1
    if [ -z "${BENCH_SHARD_CONNECTIONS:-}" ] && [ "$fd_limit" -ge $((n + 1000)) ]; then
        echo 1
    else
        echo $(((n + shard_max - 1) / shard_max))
    fi
}

# run_idle_sharded TAG ROUND DURATION SHARDS idle ARGS...: the idle run of ours-redis held by
# SHARDS instances on one private Redis, each with its own generator, all at once; the
# generators' results (in $results/shards/) are merged into the run's one result file.
run_idle_sharded() {
    local tag=$1 name=ours-redis round=$2 duration=$3 k=$4
    shift 4
    local file=$results/$tag.$name.r$round.json t0=$SECONDS ok=1 total='' i j rc pid f
    local -a args=("$@") ports=() files=()
    for i in "${!args[@]}"; do
        [ "${args[i]}" = --connections ] && total=${args[i + 1]}
    done
    order=$((order + 1))
    runs=$((runs + 1))
    echo "== $tag on $name (round $round): $k instances on one Redis, one loadgen each: loadgen $*"
    mkdir -p "$results/shards"
    redis_port=
    start_redis || ok=0
    for ((i = 0; i < k && ok; i++)); do
        server_log=$tmp/server.$i.log
        start_server "$name" || ok=0
        # Kept even if it did not become healthy: it may still be running.
        [ -n "$server_pid" ] && shard_servers+=("$server_pid")
        ports+=("$port")
        server_pid=
    done
    if [ $ok = 1 ]; then
        for ((i = 0; i < k; i++)); do
            # The first (total % k) shards take one more, so that they add up to the total.
            local n=$((total / k + (i < total % k ? 1 : 0)))
            local -a shard_args=("${args[@]}")
            for j in "${!shard_args[@]}"; do
                [ "${shard_args[j]}" = --connections ] && shard_args[j + 1]=$n
            done
            files+=("$results/shards/$tag.$name.r$round.s$i.json")
            rm -f "${files[i]}"
            timeout --kill-after=5 "$((duration + 30))" "$loadgen" --url "http://127.0.0.1:${ports[i]}" \
                --server-pid "${shard_servers[i]}" --redis-pid "$redis_pid" --clk-tck "$clk" \
                --server-name "$name" --tag "$tag" --order "$order" --json "${files[i]}" \
                "${shard_args[@]}" </dev/null 2> >(sed -u "s/^/    [$i] /" >&2) >/dev/null &
            shard_loadgens+=("$!")
        done
        for ((i = 0; i < k; i++)); do
            wait "${shard_loadgens[i]}"
            rc=$?
            if [ $rc -ne 0 ] || [ ! -s "${files[i]}" ]; then ok=0; fi
            [ -s "${files[i]}" ] || echo "    shard $i: no result (loadgen exit $rc)"
        done
        shard_loadgens=()
        for ((i = 0; i < k; i++)); do
            # An idle generator whose instance dies while held still reports itself complete
            # (the drops count as closed), but the run was not K instances then.
            if ! kill -0 "${shard_servers[i]}" 2>/dev/null; then
                echo "    instance $i exited during the run:"; tail -20 "$tmp/server.$i.log" | sed 's/^/      /'
                ok=0
            fi
        done
        # A partial set would add up to a smaller run than the one named: no result then.
        local have=0
        for f in "${files[@]}"; do [ -s "$f" ] && have=$((have + 1)); done
        if [ $have -eq "$k" ]; then
            rm -f "$file"
            "$loadgen" merge-idle "$file" "${files[@]}" 2>&1 | sed 's/^/    /'
            if [ "${PIPESTATUS[0]}" -ne 0 ] || [ ! -s "$file" ]; then
                echo "    no result (merge failed)"
                ok=0
            fi
        else
            ok=0
        fi
    fi
    for pid in "${shard_servers[@]}"; do stop_pid "$pid"; done
    shard_servers=()
    stop_pid "$redis_pid"; redis_pid=
    server_log=$tmp/server.log
    [ $ok = 1 ] || failed=$((failed + 1))
    echo "   -> $([ $ok = 1 ] && echo ok || echo FAILED) in $((SECONDS - t0)) s"
}

# start_bench_server BIN: starts one of the bench's do-nothing servers (the acceptor or the
# relay: no /health) on a free port, sets server_pid and port, and waits until the port accepts
# a TCP connection.
start_bench_server() {
    port=$(free_port)
    PORT=$port "$1" >"$tmp/$(basename "$1").log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
}

# json_field FILE KEY: the first numeric value of KEY in a generator's JSON (one key per line).
json_field() {
    sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" 2>/dev/null | head -1
}

# run_ceiling ROUND: the connect phase of idle-10k against the bench's acceptor, which answers
# the upgrade and nothing else: the most connections per second this machine and this generator
# allow any server. Its join phase fails by design (no rooms there), so it is not counted as a
# run; its connections_per_s goes under the table.
ceiling_rates=()
run_ceiling() {
    # In its own folder: the table is made from the results folder's JSON files.
    local file=$results/ceiling/r$1.json rate conns=10000
    mkdir -p "$results/ceiling"
    echo "== ceiling for connections opened/s (the bench's acceptor, round $1)"
    start_bench_server "$acceptor"
    timeout --kill-after=5 30 "$loadgen" --url "http://127.0.0.1:$port" --server-pid "$server_pid" \
        --clk-tck "$clk" --json "$file" idle --connections "$conns" --settle 0.2 --hold 0.2 \
        --duration 6 >/dev/null 2>&1
    stop_pid "$server_pid"; server_pid=
    rate=$(json_field "$file" connections_per_s)
    [ "$(json_field "$file" opened)" = "$conns" ] && [ -n "$rate" ] && ceiling_rates+=("${rate%.*}")
    echo "   -> ${rate:-no result} connections/s"
}

# on_relay FILE KEY DURATION ARGS...: runs the generator against the bench's relay, which copies
# each text to its room and does nothing else (no storage, no checks), and sets `relay_value` to
# KEY of its result if the run completed (else empty). Not a run of the table: what it measures
# goes under it, as the best any server could do on this machine under this generator.
on_relay() {
    local file=$1 key=$2 duration=$3
    shift 3
    mkdir -p "$(dirname "$file")"
    start_bench_server "$relay"
    timeout --kill-after=5 "$((duration + 30))" "$loadgen" --url "http://127.0.0.1:$port" \
        --server-pid "$server_pid" --clk-tck "$clk" --json "$file" "$@" >/dev/null 2>&1
    stop_pid "$server_pid"; server_pid=
    relay_value=$(json_field "$file" "$key")
    grep -q '"complete": true' "$file" 2>/dev/null || relay_value=
}

# run_floor ROUND DURATION ARGS...: the paced scenario against the relay: the lowest latency.
floor_p99s=()
run_floor() {
    echo "== floor for paced latency (the bench's relay, round $1)"
    on_relay "$results/floor/r$1.json" p99_ms "${@:2}"
    [ -n "$relay_value" ] && floor_p99s+=("$relay_value")
    echo "   -> p99 ${relay_value:-no result} ms"
}

# run_relay_cpu ROUND DURATION ARGS...: the eager-reader fanout against the relay: the most
# deliveries per server CPU-second.
relay_cpu=()
run_relay_cpu() {
    echo "== relay in fanout-eager (deliveries per server CPU-s, round $1)"
    on_relay "$results/floor/eager-r$1.json" deliveries_per_server_cpu_s "${@:2}"
    [ -n "$relay_value" ] && relay_cpu+=("${relay_value%.*}")
    echo "   -> ${relay_value:-no result} deliveries per server CPU-s"
}

# ------------------------------------------------------------------ scenarios
# scenario_runs SCENARIO: lines "TAG DURATION ARGS..." for this mode.
scenario_runs() {
    if [ "$mode" = quick ]; then
        case $1 in
            fanout)
                echo "fanout 25 fanout --rooms 10 --members 10 --messages 100 --window 8 --size 100 --duration 25"
                echo "fanout-eager 25 fanout --rooms 10 --members 10 --messages 100 --window 8 --size 100 --duration 25 --eager"
                ;;
            paced) echo "paced 15 paced --rooms 10 --members 10 --rate 200 --send-for 3 --size 100 --duration 15" ;;
            burst) echo "burst 15 burst --members 10 --window 64 --send-for 3 --size 100 --duration 15" ;;
            idle) echo "idle-2k 40 idle --connections 2000 --members 10 --settle 1 --hold 2 --duration 40" ;;
            history) echo "history 25 history --concurrency 32 --seed 1000 --limit 50 --send-for 3 --duration 25" ;;
            scale)
                echo "fanout-1k 60 fanout --rooms 100 --members 10 --messages 20 --window 8 --duration 60"
                echo "fanout-5k 60 fanout --rooms 500 --members 10 --messages 4 --window 8 --duration 60"
                ;;
        esac
        return
    fi
    case $1 in
        fanout)
            echo "fanout 120 fanout --rooms 50 --members 10 --messages 100 --window 8 --size 100 --duration 120"
            # The same shape, read as each frame comes (small read buffers): what phones and
            # browsers do, and the case where each delivery is written on its own.
            echo "fanout-eager 120 fanout --rooms 50 --members 10 --messages 100 --window 8 --size 100 --duration 120 --eager"
            ;;
        paced) echo "paced 40 paced --rooms 50 --members 10 --rate 500 --send-for 10 --size 100 --duration 40" ;;
        burst) echo "burst 40 burst --members 10 --window 64 --send-for 10 --size 100 --duration 40" ;;
        idle | idle-10k | idle-50k)
            [ "$1" = idle-50k ] ||
                echo "idle-10k 180 idle --connections 10000 --members 10 --settle 2 --hold 6 --duration 180"
            # Sharded below an open-file limit of 51000 (see the main loop).
            [ "$1" = idle-10k ] ||
                echo "idle-50k 300 idle --connections ${BENCH_IDLE50K_CONNECTIONS:-50000} --members 10 --settle 3 --hold 6 --duration 300"
            ;;
        history) echo "history 60 history --concurrency 32 --seed 1000 --limit 50 --send-for 10 --duration 60" ;;
        scale)
            # Same work (500k deliveries) over 1k and 10k connections: deliveries per CPU-second should hold.
            echo "fanout-1k 150 fanout --rooms 100 --members 10 --messages 50 --window 8 --duration 150"
            echo "fanout-10k 150 fanout --rooms 1000 --members 10 --messages 5 --window 8 --duration 150"
            ;;
    esac
}

for round in $(seq "$rounds"); do
    for sc in $scenarios; do
        while read -r tag duration args; do
            [ -n "$tag" ] || continue
            # An idle run too large for one process: ours-redis runs it sharded, the others skip it.
            shards=1
            if [ "${args%% *}" = idle ]; then
                conns=$(sed -n 's/.*--connections \([0-9]*\).*/\1/p' <<<"$args")
                [ -n "$conns" ] && shards=$(shards_for "$conns")
            fi
            for name in $servers; do
                if [ "$shards" -gt 1 ]; then
                    if [ "$name" = ours-redis ]; then
                        # shellcheck disable=SC2086
                        run_idle_sharded "$tag" "$round" "$duration" "$shards" $args
                    else
                        echo "skip $tag on $name: $conns connections in one process need an open-file" \
                            "limit of $((conns + 1000)) (it is $fd_limit) and $name is one process; only" \
                            "ours-redis runs $tag, as $shards instances on one Redis"
                    fi
                    continue
                fi
                # shellcheck disable=SC2086
                run_one "$tag" "$name" "$round" "$duration" $args
            done
            [ "$tag" = idle-10k ] && run_ceiling "$round"
            # shellcheck disable=SC2086
            [ "$tag" = paced ] && run_floor "$round" "$duration" $args
            # shellcheck disable=SC2086
            [ "$tag" = fanout-eager ] && run_relay_cpu "$round" "$duration" $args
        done < <(scenario_runs "$sc")
    done
done

# ------------------------------------------------------------------ table
# median VALUE...: the middle value (the lower of the two middle ones for an even count).
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# shellcheck disable=SC2086
cols=$(echo $servers | tr ' ' ',')
{
    echo "machine: $machine"
    echo
    echo "command: scripts/bench.sh $([ "$mode" = quick ] && echo --quick) --rounds $rounds ($(date -u +%Y-%m-%d), $(git rev-parse --short HEAD 2>/dev/null)); ours with WORKER_THREADS=${OURS_WORKER_THREADS:-1}"
    echo
    "$loadgen" report "$results" --servers "$cols"
    echo
    echo "Ratios are ours-redis / peer (a latency or memory ratio below 1 is better). * = an incomplete run."
    if [ ${#ceiling_rates[@]} -gt 0 ]; then
        median=$(median "${ceiling_rates[@]}")
        echo
        echo "Ceiling for connections opened/s here: $median/s (median of ${#ceiling_rates[@]}), reached by" \
            "the bench's acceptor (bench/src/bin/acceptor.rs), which answers the upgrade and does nothing" \
            "else, under the same generator."
    fi
    if [ ${#floor_p99s[@]} -gt 0 ]; then
        median=$(median "${floor_p99s[@]}")
        echo
        echo "Floor for paced latency p99 here: $median ms (median of ${#floor_p99s[@]}), reached by" \
            "the bench's relay (bench/src/bin/relay.rs), which copies each text to its room and does" \
            "nothing else, under the same generator."
    fi
    if [ ${#relay_cpu[@]} -gt 0 ]; then
        median=$(median "${relay_cpu[@]}")
        echo
        echo "Relay in fanout-eager: $median deliveries per server CPU-s (median of ${#relay_cpu[@]}): the" \
            "bench's relay copies each text to its room and does nothing else, so no server can spend" \
            "less CPU per delivery here under the same generator."
    fi
} >"$results/table.md"
echo
cat "$results/table.md"
echo
python3 scripts/bench-chart.py "$results" "$results/chart.svg" || echo "bench: no chart (scripts/bench-chart.py failed)"
echo "results: $results"
echo "bench: $runs runs, $failed failed ($((SECONDS - t_start)) s)"
[ "$failed" -eq 0 ]
