# Shared by the scripts that drive a real chat-server: source it, after setting `tmp` (a
# temporary directory the caller removes) and `server_bin`.
#
#   port=$(free_port)
#   server_start "$port" [VAR=value ...]   # HOST=127.0.0.1 PORT=$port; waits for /health
#   ...
#   server_stop                            # SIGTERM; fails unless it exits 0 within 10 s
#
# Both print a `FAIL server: ...` line (with the server's log) and return 1 on failure.
# Sourcing it also installs the exit trap: the server is stopped (a bad exit fails the
# script) and $tmp removed, whatever happens.
# The server runs from $tmp, so no developer's .env is picked up; its log is $tmp/server.log.

server_pid=

# A TCP port free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Whether something listens on 127.0.0.1:PORT (or [::1]:PORT).
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || (exec 3<>"/dev/tcp/::1/$1") 2>/dev/null
}

# Whether GET /health on 127.0.0.1:PORT answers 200 (plain bash: no curl needed).
server_healthy() {
    local reply
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    read -r -t 1 reply <&3
    exec 3>&-
    [[ $reply == "HTTP/1."?" 200"* ]]
}

server_log() {
    sed 's/^/    /' "$tmp/server.log"
}

# server_start PORT [VAR=value ...]: starts $server_bin and waits up to 10 s for /health.
server_start() {
    local port=$1 status
    shift
    case $server_bin in /*) ;; *) server_bin=$PWD/$server_bin ;; esac
    if [ ! -x "$server_bin" ]; then
        echo "FAIL server: no executable at $server_bin (run cargo build first)"
        return 1
    fi
    if port_in_use "$port"; then
        echo "FAIL server: port $port is already in use"
        return 1
    fi
    (cd "$tmp" && exec env HOST=127.0.0.1 PORT="$port" NO_COLOR=1 "$@" "$server_bin") >"$tmp/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 50); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            status=0
            wait "$server_pid" || status=$?
            server_pid=
            echo "FAIL server: exited $status before it was healthy; its log:"
            server_log
            return 1
        fi
        server_healthy "$port" && return 0
        sleep 0.2
    done
    echo "FAIL server: GET /health did not answer within 10 s; its log:"
    server_log
    return 1
}

# Stops the server (if it runs) with SIGTERM; fails unless it exited 0 within 10 s.
server_stop() {
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
    status=0
    wait "$pid" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL server: exited $status after SIGTERM; its log:"
        server_log
        return 1
    fi
}

server_cleanup() {
    local rc=$?
    server_stop || rc=1
    rm -rf "$tmp"
    exit "$rc"
}
trap server_cleanup EXIT
trap 'exit 130' INT TERM
