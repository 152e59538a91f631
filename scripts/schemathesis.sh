#!/usr/bin/env bash
# Fuzzes a real server with schemathesis, from the OpenAPI document it serves:
#
#   scripts/schemathesis.sh [SERVER_BINARY]
#
#   schemathesis  `st run http://127.0.0.1:PORT/openapi.json --checks all`: every operation
#                 gets examples, boundary/coverage cases and random (valid and invalid) inputs,
#                 and every response is checked: no 5xx, a documented status, the documented
#                 content type, headers and schema, invalid input refused, valid input accepted,
#                 Allow on 405s. Any finding fails the step (st exits non-zero).
#   server        the server exits 0 on SIGTERM
#
# SERVER_BINARY defaults to ${CARGO_TARGET_DIR:-target}/debug/chat-server (relative to the
# repo root); this script builds nothing. The server runs from the temp dir (so no .env is
# picked up) with HOST=127.0.0.1, a free PORT and RATE_LIMIT_PER_SECOND=0.
#
# Python: PYTHON names the interpreter of a virtualenv to use; without it, one is created
# under $HOME/.cache/chat-schemathesis-venv. tests/schemathesis/requirements.txt (schemathesis
# and every dependency, pinned) is installed into it when it changed.
#
# Knobs: MAX_EXAMPLES (default 50) per operation, ST_SEED for a reproducible run, ST_TIMEOUT
# (default 600) bounds the whole `st run` in seconds, ST_ARGS adds options (split on spaces),
# e.g. ST_ARGS='--exclude-checks positive_data_acceptance' to look past one kind of finding. Reports (JUnit XML and a VCR cassette of
# every request) are written to REPORT_DIR when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
here=$repo/tests/schemathesis

server_bin=${1:-${CARGO_TARGET_DIR:-target}/debug/chat-server}
max_examples=${MAX_EXAMPLES:-50}
st_timeout=${ST_TIMEOUT:-600}
passed=0
failed=0
server_pid=
port=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/schemathesis.XXXXXX")

# Stops the server (if it runs) with SIGTERM; returns non-zero unless it exited 0 within 10 s.
stop_server() {
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid status=0
    server_pid=
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL server: still running 10 s after SIGTERM; killed"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    fi
    wait "$pid" || status=$?
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

# fail NAME WHY [LOG...]: counts a failure and shows the logs.
fail() {
    local name=$1 why=$2 log
    shift 2
    echo "FAIL $name: $why"
    for log in "$@"; do
        [ -s "$log" ] && sed 's/^/    /' "$log"
    done
    failed=$((failed + 1))
}

setup_python() {
    if [ -n "${PYTHON:-}" ]; then
        python=$PYTHON
        if ! "$python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
            echo "PYTHON=$PYTHON is not the interpreter of a virtualenv: this script installs into it"
            return 1
        fi
    else
        local venv=$HOME/.cache/chat-schemathesis-venv
        if ! "$venv/bin/python" -c '' 2>/dev/null; then
            rm -rf "$venv"
            python3 -m venv "$venv" || return 1
        fi
        python=$venv/bin/python
    fi
    venv_dir=$("$python" -c 'import sys; print(sys.prefix)') || return 1
    st=$(dirname "$python")/st
    local stamp=$venv_dir/schemathesis-requirements.txt
    if ! cmp -s "$here/requirements.txt" "$stamp"; then
        "$python" -m pip install -q --disable-pip-version-check --no-cache-dir \
            -r "$here/requirements.txt" || return 1
        cp "$here/requirements.txt" "$stamp"
    fi
    "$st" --version
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

healthy() {
    "$python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()' "http://127.0.0.1:$port/health" 2>/dev/null
}

start_server() {
    if [ ! -x "$server_bin" ]; then
        fail server "no executable at $server_bin (run cargo build first)"
        return 1
    fi
    port=$("$python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
    if port_in_use "$port"; then
        fail server "port $port was free a moment ago and is taken now; run again"
        return 1
    fi
    # Run from the temp dir so that no developer's .env is picked up. No rate limit: the
    # fuzzer sends far more than 20 requests a second, and HTTP is not rate limited anyway.
    (cd "$tmp" && HOST=127.0.0.1 PORT=$port RATE_LIMIT_PER_SECOND=0 NO_COLOR=1 exec "$server_bin") \
        >"$tmp/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 50); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            local status=0
            wait "$server_pid" || status=$?
            server_pid=
            fail server "exited $status before it was healthy; its log:" "$tmp/server.log"
            return 1
        fi
        healthy && return 0
        sleep 0.2
    done
    fail server "GET /health did not answer within 10 s; its log:" "$tmp/server.log"
    return 1
}

run_schemathesis() {
    local out=$tmp/schemathesis.out rc=0 started=$SECONDS
    local args=(
        run "http://127.0.0.1:$port/openapi.json"
        --checks all
        --max-examples "$max_examples"
        --request-timeout 5
        --generation-database none
        --no-color
        # GET /ws/{user_id} is the WebSocket handshake: to plain HTTP it can only answer 426
        # (or 400 for a bad id), and its 101 needs an upgrade schemathesis does not perform.
        # Its checks would test the HTTP client, not the server; tests/api (ws_*) covers it.
        --exclude-operation-id connect_websocket
    )
    [ -n "${ST_SEED:-}" ] && args+=(--seed "$ST_SEED")
    # shellcheck disable=SC2206 # split on purpose
    [ -n "${ST_ARGS:-}" ] && args+=($ST_ARGS)
    [ -n "${REPORT_DIR:-}" ] && args+=(--report junit,vcr --report-dir "$REPORT_DIR")
    # From the temp dir: hypothesis keeps its working files in ./.hypothesis.
    (cd "$tmp" && timeout -k 10 "$st_timeout" "$st" "${args[@]}") >"$out" 2>&1 || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail schemathesis "st run did not finish within $st_timeout s; its output:" "$out"
        return 1
    fi
    if [ "$rc" -ne 0 ]; then
        fail schemathesis "st run exited $rc (findings above the summary); its output:" "$out"
        return 1
    fi
    echo "ok   schemathesis: no findings in $((SECONDS - started)) s; summary:"
    sed -n '/SUMMARY/,$p' "$out" | sed 's/^/    /'
    passed=$((passed + 1))
}

case $server_bin in /*) ;; *) server_bin=$repo/$server_bin ;; esac

if ! setup_python >"$tmp/setup.log" 2>&1; then
    fail setup "the Python virtualenv could not be prepared:" "$tmp/setup.log"
    echo "schemathesis: $passed passed, $failed failed"
    exit 1
fi
echo "ok   setup: $(tail -n 1 "$tmp/setup.log")"

if start_server; then
    echo "ok   server: healthy on 127.0.0.1:$port"
    run_schemathesis || true
    stop_server || failed=$((failed + 1))
else
    fail schemathesis "skipped: the server did not start"
fi

echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
