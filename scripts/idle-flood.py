#!/usr/bin/env python3
"""Opens many idle TCP connections to a chat server and checks that it keeps serving and drops
them all within WS_TIMEOUT_SECONDS (issue 19). Python standard library only.

    scripts/idle-flood.py [SERVER_BINARY] [--count 10000] [--timeout 5] [--margin 1]
    scripts/idle-flood.py --addr 127.0.0.1:8000 --timeout 5      # a server already running

With a binary (default target/debug/chat-server; nothing is built) the server runs from a temp
folder (no .env applies) on a free port of 127.0.0.1 with WS_TIMEOUT_SECONDS=--timeout and its
open-file limit raised to the hard limit (the server leaves its limit as it finds it), is
stopped with SIGTERM at the end and must exit 0. Its RSS is reported; with --addr it is not.

Steps: the script raises its own open-file limit; opens --count connections that send nothing;
while they are all open, times GET /health (a new connection each) and opens a WebSocket that
sends a text message and gets its echo; then waits until the server has closed every idle
connection and checks each closed no sooner than the timeout and no later than timeout +
margin after it opened. One line per step, then the figures; exit 1 on any failure.
"""

import argparse, base64, http.client, json, os, resource, selectors, signal, socket
import statistics, subprocess, sys, tempfile, time

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    """Raises this process's soft open-file limit to its hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def request(host, port, method, path, body=None):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ws_echo(host, port, user, room):
    """Opens /ws/{user}, sends a text message to `room` and returns the server's echo (JSON)."""
    s = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/{user} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:40]!r}")
    payload = json.dumps({"type": "text", "chat_id": room, "content": "flood-probe"}).encode()
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") if len(payload) > 125 \
        else bytes([0x81, 0x80 | len(payload)])
    s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    buf = head.split(b"\r\n\r\n", 1)[1]
    while True:  # server frames are unmasked; skip pings until the text frame
        while len(buf) < 2 or len(buf) < 2 + frame_len(buf)[1] + frame_len(buf)[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("closed before the echo")
            buf += chunk
        n, skip = frame_len(buf)
        opcode, body, buf = buf[0] & 0x0F, buf[2 + skip:2 + skip + n], buf[2 + skip + n:]
        if opcode == 0x1:
            s.close()
            return json.loads(body)
        if opcode == 0x8:
            raise RuntimeError(f"closed: {body!r}")


def frame_len(buf):
    """(payload length, extra header bytes) of the unmasked frame at the start of `buf`."""
    n = buf[1] & 0x7F
    if n == 126:
        return (int.from_bytes(buf[2:4], "big") if len(buf) >= 4 else 1 << 30), 2
    if n == 127:
        return (int.from_bytes(buf[2:10], "big") if len(buf) >= 10 else 1 << 30), 8
    return n, 0


def start_server(binary, port, timeout, tmp):
    def limits():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), NO_COLOR="1",
               WS_TIMEOUT_SECONDS=str(timeout), RATE_LIMIT_PER_SECOND="0")
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen([os.path.abspath(binary)], cwd=tmp, env=env, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=limits)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if request("127.0.0.1", port, "GET", "/health")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"FAIL  server did not answer /health within 10 s (log: {tmp}/server.log)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "chat-server"))
    ap.add_argument("--addr", help="host:port of a server already running (its WS_TIMEOUT_SECONDS must be --timeout)")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=5.0, help="the server's WS_TIMEOUT_SECONDS")
    ap.add_argument("--margin", type=float, default=1.0, help="how late a close may come, in s")
    args = ap.parse_args()
    limit = raise_nofile()
    check(limit >= args.count + 100, f"open-file limit {limit} for {args.count} connections")
    tmp = tempfile.mkdtemp(prefix="idle-flood-")
    proc = None
    if args.addr:
        host, port = args.addr.rsplit(":", 1)
        port = int(port)
    else:
        host, port = "127.0.0.1", free_port()
        proc = start_server(args.binary, port, args.timeout, tmp)
        print(f"      server {args.binary} pid {proc.pid} on {port}, WS_TIMEOUT_SECONDS={args.timeout}")
    rss0 = rss_kib(proc.pid) if proc else None
    room = f"flood-{os.getpid()}"
    status, _ = request(host, port, "POST", "/chat", {"id": room, "name": room, "participants": ["flooder"]})
    check(status == 201, f"room {room} created ({status})")

    sel = selectors.DefaultSelector()
    opened_at, began = {}, time.monotonic()
    for _ in range(args.count):
        s = socket.create_connection((host, port), timeout=10)
        s.setblocking(False)
        opened_at[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)
    opening = time.monotonic() - began
    check(len(opened_at) == args.count, f"{len(opened_at)} idle connections opened in {opening:.2f} s")

    lat = []
    for _ in range(20):
        t = time.monotonic()
        ok = request(host, port, "GET", "/health")[0] == 200
        lat.append((time.monotonic() - t) * 1000)
        if not ok:
            break
    check(len(lat) == 20 and all(x < 1000 for x in lat),
          f"/health x{len(lat)} while they are open: median {statistics.median(lat):.2f} ms, max {max(lat):.2f} ms")
    try:
        echo = ws_echo(host, port, "flooder", room)
        check(echo.get("content") == "flood-probe" and echo.get("chat_id") == room,
              "a new WebSocket connects and gets its message echoed")
    except (OSError, RuntimeError) as e:
        check(False, f"a new WebSocket connects and gets its message echoed: {e}")
    early = [s for s, _ in sel.select(timeout=0)]
    checked_at = time.monotonic() - began
    check(not early, f"none closed yet when the checks ended ({checked_at:.2f} s after the first opened)")
    rss_open = rss_kib(proc.pid) if proc else None

    closed = {}
    deadline = max(opened_at.values()) + args.timeout + args.margin
    while len(closed) < len(opened_at) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
            if data:
                check(False, f"the server sent {data!r} on an idle connection")
            closed[s] = time.monotonic() - opened_at[s]
            sel.unregister(s)
            s.close()
    lifetimes = sorted(closed.values())
    check(len(closed) == len(opened_at), f"{len(closed)} of {len(opened_at)} closed by the server within {args.timeout} + {args.margin} s")
    if lifetimes:
        check(lifetimes[0] >= args.timeout - 0.05 and lifetimes[-1] <= args.timeout + args.margin,
              f"each closed after {lifetimes[0]:.3f} to {lifetimes[-1]:.3f} s (median {statistics.median(lifetimes):.3f}); "
              f"the last {time.monotonic() - max(opened_at.values()):.2f} s after the last opened")
    for s in list(opened_at):
        if s not in closed:
            s.close()
    check(request(host, port, "GET", "/health")[0] == 200, "/health after they closed")
    if proc:
        rss1 = rss_kib(proc.pid)
        print(f"      server RSS: {rss0 / 1024:.1f} MiB before, {rss_open / 1024:.1f} MiB with "
              f"{args.count} open, {rss1 / 1024:.1f} MiB after they closed")
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "none within 10 s"
        check(code == 0, f"server exits 0 on SIGTERM ({code})")
    print(f"{'FAIL' if failures else 'ok'}: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
