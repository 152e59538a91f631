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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/client-examples.XXXXXX")
. scripts/lib/server.sh

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

if port_in_use "$port"; then
    echo "FAIL server: port $port is already in use; the client examples hard-code" \
        "ws://localhost:$port, so free it first (ss -ltnp | grep :$port)"
    failed=2
elif server_start "$port"; then
    echo "ok   server: healthy on 127.0.0.1:$port"
    run_example python json "$python" seed_client.py
    run_example javascript inspect node --require ./ws-global.js seed_client.js
    if server_stop; then
        echo "ok   server: exited 0 after SIGTERM"
    else
        failed=$((failed + 1))
    fi
else
    failed=2
fi

echo "client examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
