#!/usr/bin/env bash
# Generates clients from the committed OpenAPI document (openapi/openapi.json) and checks them:
#
#   scripts/generated-clients.sh [SERVER_BINARY]
#
#   python-generate      openapi-python-client writes a Python client into a temp dir
#   typescript-generate  openapi-typescript writes TypeScript types into the temp dir
#   typescript-check     tsc --noEmit --strict type-checks tests/clients/generated/check.ts
#                        against those types
#   python-install       pip installs the generated Python package into the venv
#   python-drive         tests/clients/generated/drive.py drives a real server through it
#   server               the server exits 0 on SIGTERM
#
# A generator that exits non-zero, or prints a warning (both print one for each schema or
# endpoint they skip), fails its step. SERVER_BINARY defaults to
# ${CARGO_TARGET_DIR:-target}/debug/chat-server (relative to the repo root); this script
# builds nothing.
#
# Python: PYTHON names the interpreter of a virtualenv to use; without it, one is created
# under $HOME/.cache/chat-generated-clients-venv. tests/clients/generated/requirements.txt is
# installed into it when it changed; the generated client is installed into it on every run.
# Node: tests/clients/generated/node_modules is installed with `npm ci` when it is missing or
# differs from package-lock.json; the tools run with npx from that folder.
#
# The server runs from the temp dir (so no .env is picked up) with HOST=127.0.0.1 and a free
# PORT. SPEC (default openapi/openapi.json) is for testing this script with a broken copy.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
here=$repo/tests/clients/generated

server_bin=${1:-${CARGO_TARGET_DIR:-target}/debug/chat-server}
spec=${SPEC:-$repo/openapi/openapi.json}
port=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/generated-clients.XXXXXX")
. scripts/lib/server.sh
. scripts/lib/report.sh
. scripts/lib/python.sh

# Lines of a generator's output that are warnings (or anything that looks like one).
warnings_in() {
    grep -Eai 'warn|⚠|error|unable|skipp|not supported|unsupported|not in path|cannot' "$1" || true
}

# --- setup ---------------------------------------------------------------------------------

setup_python() {
    python_venv generated-clients "$here/requirements.txt" || return 1
    venv_bin=$(dirname "$python")
}

setup_node() {
    if ! (cd "$here" && npm ls --silent >/dev/null 2>&1); then
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    fi
}

# npx from tests/clients/generated, never installing anything, npm itself quiet (its own
# notices about the user's npm config are not the tools' warnings) and writing no log files.
npx_here() {
    (cd "$here" && npm_config_loglevel=error npm_config_logs_max=0 npx --no -- "$@")
}

# --- steps ---------------------------------------------------------------------------------

python_generate() {
    local log=$tmp/python-generate.log rc=0 found
    # The generator runs ruff (from the venv) over what it wrote: it warns when ruff is not on PATH.
    (cd "$tmp" && PATH=$venv_bin:$PATH "$venv_bin/openapi-python-client" generate \
        --path "$spec" --meta setup --output-path "$tmp/python-client" --fail-on-warning) \
        >"$log" 2>&1 || rc=$?
    found=$(warnings_in "$log")
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        fail python-generate "openapi-python-client exited $rc${found:+ and warned}; its output:" "$log"
        return 1
    fi
    pass python-generate "$(find "$tmp/python-client" -name '*.py' | wc -l) Python files"
}

typescript_generate() {
    local log=$tmp/typescript-generate.log rc=0 found
    mkdir -p "$tmp/ts"
    npx_here openapi-typescript "$spec" --output "$tmp/ts/openapi.ts" >"$log" 2>&1 || rc=$?
    found=$(warnings_in "$log")
    if [ "$rc" -ne 0 ] || [ -n "$found" ] || [ ! -s "$tmp/ts/openapi.ts" ]; then
        fail typescript-generate "openapi-typescript exited $rc${found:+ and warned}; its output:" "$log"
        return 1
    fi
    pass typescript-generate "$(wc -l <"$tmp/ts/openapi.ts") lines of types"
}

typescript_check() {
    local log=$tmp/typescript-check.log
    cp "$here/check.ts" "$tmp/ts/check.ts"
    if ! npx_here tsc --noEmit --strict --target es2022 --module esnext --moduleResolution bundler \
        "$tmp/ts/check.ts" >"$log" 2>&1; then
        fail typescript-check "tsc --noEmit --strict rejects check.ts against the generated types:" "$log"
        return 1
    fi
    pass typescript-check "check.ts type-checks against the generated types"
}

python_install() {
    local log=$tmp/python-install.log
    # --no-build-isolation: setuptools comes from requirements.txt, nothing is downloaded;
    # --no-deps: the client's dependencies are pinned there too (pip check verifies them).
    if ! "$python" -m pip install --disable-pip-version-check --no-cache-dir --no-build-isolation \
        --no-deps --force-reinstall "$tmp/python-client" >"$log" 2>&1 ||
        ! "$python" -m pip check >>"$log" 2>&1; then
        fail python-install "pip could not install the generated package:" "$log"
        return 1
    fi
    pass python-install "$("$python" -m pip show chat-api-client 2>/dev/null | sed -n 's/^Version: /chat-api-client /p')"
}

python_drive() {
    local out=$tmp/python-drive.out rc=0
    (cd "$tmp" && PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 timeout -k 2 60 \
        "$python" "$here/drive.py" "http://127.0.0.1:$port") >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail python-drive "drive.py exited $rc; its output:" "$out"
        return 1
    fi
    pass python-drive "$(tail -n 1 "$out")"
}

# --- run -----------------------------------------------------------------------------------

case $server_bin in /*) ;; *) server_bin=$repo/$server_bin ;; esac
case $spec in /*) ;; *) spec=$repo/$spec ;; esac

if ! setup_python >"$tmp/setup.log" 2>&1; then
    fail setup "the Python virtualenv could not be prepared:" "$tmp/setup.log"
    echo "generated clients: $passed passed, $failed failed"
    exit 1
fi
if ! setup_node >"$tmp/setup.log" 2>&1; then
    fail setup "npm ci in tests/clients/generated failed:" "$tmp/setup.log"
    echo "generated clients: $passed passed, $failed failed"
    exit 1
fi

if python_generate; then
    if python_install; then
        if port=$(free_port) && server_start "$port"; then
            echo "ok   server: healthy on 127.0.0.1:$port"
            python_drive || true
            if server_stop; then
                pass server "exited 0 after SIGTERM"
            else
                failed=$((failed + 1))
            fi
        else
            failed=$((failed + 1))
        fi
    else
        fail python-drive "skipped: the generated client is not installed"
    fi
else
    fail python-install "skipped: no generated client"
    fail python-drive "skipped: no generated client"
fi

if typescript_generate; then
    typescript_check || true
else
    fail typescript-check "skipped: no generated types"
fi

echo "generated clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
