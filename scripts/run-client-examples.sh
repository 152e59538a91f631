#!/usr/bin/env bash
# Runs the Python and JavaScript client examples of the original API document
# (tests/clients/seed_client.{py,js}, copied verbatim) against a real server.
#
#   scripts/run-client-examples.sh [SERVER_BINARY]
#
# SERVER_BINARY defaults to ${CARGO_TARGET_DIR:-target}/debug/chat-server (relative to
# the repo root); this script builds nothing. PYTHON names the interpreter that has
# tests/clients/requirements.txt installed (default python3); tests/clients/node_modules
# must hold the "ws" package (npm ci in tests/clients).
#
# The examples hard-code ws://localhost:8000, so the server runs on port 8000 and the
# script fails if that port is taken. Each example loops forever: it is stopped by
# `timeout 10` (exit 124 is expected) and passes when its stdout holds the echo of the
# text message it sent. The server is then stopped with SIGTERM and must exit 0.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

server_bin=${1:-${CARGO_TARGET_DIR:-target}/debug/chat-server}
python=${PYTHON:-python3}
port=8000
passed=0
failed=0
server_pid=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/client-examples.XXXXXX")

# Stops the server (if it runs) with SIGTERM; returns non-zero unless it exited 0 within 10 s.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid status
    server_pid=
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL server: still running 10 s after SIGTERM; killed"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid"
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL server: exited $status after SIGTERM; its log:"
        sed 's/^/    /' "$tmp/server.log"
        return 1
    fi
    echo "ok   server: exited 0 after SIGTERM"
}

cleanup() {
    local rc=$?
    stop_server || rc=1
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || (exec 3<>"/dev/tcp/::1/$port") 2>/dev/null
}

healthy() {
    "$python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()' "http://127.0.0.1:$port/health" 2>/dev/null
}

# run_example NAME FORMAT COMMAND...: runs COMMAND in tests/clients for 10 s, checks its stdout.
run_example() {
    local name=$1 format=$2 rc
    shift 2
    (cd "$repo/tests/clients" && PYTHONUNBUFFERED=1 timeout -k 2 10 "$@") >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    if [ "$rc" -eq 124 ] && node scripts/check-received.js "$format" "$tmp/$name.out" >"$tmp/$name.check"; then
        echo "ok   $name: $(cat "$tmp/$name.check")"
        passed=$((passed + 1))
        return
    fi
    echo "FAIL $name: exit $rc (124, stopped by timeout, is expected)"
    [ -s "$tmp/$name.check" ] && sed 's/^/    /' "$tmp/$name.check"
    echo "  stdout:" && sed 's/^/    /' "$tmp/$name.out"
    echo "  stderr:" && sed 's/^/    /' "$tmp/$name.err"
    failed=$((failed + 1))
}

start_server() {
    if [ ! -x "$server_bin" ]; then
        echo "FAIL server: no executable at $server_bin (run cargo build first)"
        return 1
    fi
    if port_in_use; then
        echo "FAIL server: port $port is already in use; the client examples hard-code" \
            "ws://localhost:$port, so free it first (ss -ltnp | grep :$port)"
        return 1
    fi
    # Run from the temp dir so that no developer's .env is picked up.
    (cd "$tmp" && HOST=127.0.0.1 PORT=$port NO_COLOR=1 exec "$server_bin") >"$tmp/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 50); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            wait "$server_pid"
            echo "FAIL server: exited $? before it was healthy; its log:"
            server_pid=
            sed 's/^/    /' "$tmp/server.log"
            return 1
        fi
        healthy && return 0
        sleep 0.2
    done
    echo "FAIL server: GET /health did not answer within 10 s; its log:"
    sed 's/^/    /' "$tmp/server.log"
    return 1
}

case $server_bin in /*) ;; *) server_bin=$repo/$server_bin ;; esac
if start_server; then
    echo "ok   server: healthy on 127.0.0.1:$port"
    run_example python json "$python" seed_client.py
    run_example javascript inspect node --require ./ws-global.js seed_client.js
    stop_server || failed=$((failed + 1))
else
    failed=2
fi

echo "client examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
