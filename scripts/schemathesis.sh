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
port=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/schemathesis.XXXXXX")
. scripts/lib/server.sh
. scripts/lib/report.sh
. scripts/lib/python.sh

setup_python() {
    python_venv schemathesis "$here/requirements.txt" || return 1
    st=$(dirname "$python")/st
    "$st" --version
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

if port=$(free_port) && server_start "$port" RATE_LIMIT_PER_SECOND=0; then
    echo "ok   server: healthy on 127.0.0.1:$port"
    run_schemathesis || true
    if server_stop; then
        echo "ok   server: exited 0 after SIGTERM"
    else
        failed=$((failed + 1))
    fi
else
    fail schemathesis "skipped: the server did not start"
fi

echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
