#!/usr/bin/env bash
# Drives the demo page (GET /) in headless Chromium: tests/e2e/demo.test.mjs, two browser
# contexts as two users in one room (and a second room for unread counts and read receipts);
# the page's connection is dropped while the other user posts over HTTP, and it must resume
# with every missed message shown once, and retry a lost text without storing it twice. The
# screenshot lands in artifacts/e2e/demo.png.
#
#   scripts/e2e.sh [SERVER_BINARY]
#
# SERVER_BINARY defaults to ${CARGO_TARGET_DIR:-target}/debug/chat-server (relative to the
# repo root); this script builds nothing. It installs what is missing: Debian's chromium
# (never a browser download) and tests/e2e/node_modules (npm ci). The server runs on a free
# port of 127.0.0.1 with the rate limit off, from a temp dir (no developer .env), and is
# stopped with SIGTERM at the end: it must exit 0. The last lines are node's test summary.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

server_bin=${1:-${CARGO_TARGET_DIR:-target}/debug/chat-server}
case $server_bin in /*) ;; *) server_bin=$repo/$server_bin ;; esac
chromium=/usr/bin/chromium
artifacts=$repo/artifacts/e2e
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
. scripts/lib/server.sh

fail() {
    echo "FAIL $*"
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# 1. Chromium from Debian, once.
if [ ! -x "$chromium" ]; then
    echo "installing Debian's chromium (apt-get)..."
    as_root apt-get update -qq >"$tmp/apt.log" 2>&1 &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium >>"$tmp/apt.log" 2>&1 ||
        { sed 's/^/    /' "$tmp/apt.log"; fail "apt-get install chromium"; }
fi
[ -x "$chromium" ] || fail "no $chromium"
echo "browser: $("$chromium" --version 2>/dev/null)"

# 2. playwright-core, as pinned by tests/e2e/package-lock.json.
cd "$repo/tests/e2e" || exit 1
want=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
have=$(node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null)
if [ "$want" != "$have" ]; then
    npm ci --no-audit --no-fund --loglevel=error || fail "npm ci in tests/e2e"
fi

# 3. The server on a free port.
port=$(free_port) || fail "no free port"
url=http://127.0.0.1:$port
server_start "$port" RATE_LIMIT_PER_SECOND=0 || exit 1
echo "server: $url (pid $server_pid)"

# 4. The browser test; node's summary is the last thing printed (server_stop is silent when
# the server exits 0).
mkdir -p "$artifacts"
CHAT_URL=$url CHROMIUM=$chromium E2E_ARTIFACTS=$artifacts \
    node --test --test-reporter=spec --test-timeout=180000 demo.test.mjs
