#!/usr/bin/env python3
"""What a Redis Cluster failover costs the chat, measured: two instances of the server on one
cluster, ROOMS rooms with a sender on one instance and a reader on the other, each sender
posting every INTERVAL ms; FAULT is applied to the master of the first room's slot after WARMUP
seconds; the run goes on for AFTER seconds more. Printed: the longest time without an
acknowledged message in that room (the outage as a client sees it), the time from the fault to
the first acknowledgement after it, sends refused (error frames) or unanswered, and, checked
against each room's history read at the end: acknowledged messages missing from it, and
messages delivered to the readers twice, out of order or not at all.

    bash scripts/redis-cluster.sh start 7100 /tmp/chat-redis-cluster
    STORE=redis REDIS_CLUSTER_NODES=127.0.0.1:7100 PORT=8001 target/release/chat-server &
    STORE=redis REDIS_CLUSTER_NODES=127.0.0.1:7100 PORT=8002 target/release/chat-server &
    python3 scripts/cluster-failover.py --fault graceful   # or --fault kill

Needs `websockets` (tests/clients/requirements.txt) and redis-cli.
"""
import argparse
import asyncio
import json
import subprocess
import time
import urllib.request
import uuid


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True)
    return out.stdout.strip()


def owner_and_replica(seed, key):
    """(master port, a replica port, master pid file port) of `key`'s slot."""
    slot = int(cli(seed, "cluster", "keyslot", key))
    master = replica = None
    nodes = [line.split() for line in cli(seed, "cluster", "nodes").splitlines()]
    for n in nodes:
        if "master" in n[2] and "fail" not in n[2]:
            for r in n[8:]:
                lo, _, hi = r.partition("-")
                if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                    master = n
    for n in nodes:
        if n[3] == master[0] and "fail" not in n[2]:
            replica = n
    port = lambda n: int(n[1].split("@")[0].rsplit(":", 1)[1])  # noqa: E731
    return port(master), port(replica)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", default="127.0.0.1:8001")
    ap.add_argument("--b", default="127.0.0.1:8002")
    ap.add_argument("--seed-port", type=int, default=7100)
    ap.add_argument("--cluster-dir", default="/tmp/chat-redis-cluster")
    ap.add_argument("--fault", choices=["graceful", "kill"], default="graceful")
    ap.add_argument("--rooms", type=int, default=4)
    ap.add_argument("--interval", type=float, default=20.0, help="ms between sends per room")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--after", type=float, default=12.0)
    o = ap.parse_args()
    tag = uuid.uuid4().hex[:6]
    rooms = [f"fo-{tag}-{i}" for i in range(o.rooms)]
    acks = {r: [] for r in rooms}  # (time, content)
    refused = {r: 0 for r in rooms}
    got = {r: [] for r in rooms}
    stop = asyncio.Event()

    async def sender(room):
        ws = await websockets.connect(f"ws://{o.a}/ws/s-{room}")
        await ws.send(json.dumps({"type": "join", "chat_id": room}))
        n = 0

        async def read():
            async for raw in ws:
                m = json.loads(raw)
                if m.get("type") == "text":
                    acks[room].append((time.monotonic(), m["content"]))
                elif m.get("type") == "error":
                    refused[room] += 1

        reader = asyncio.create_task(read())
        while not stop.is_set():
            await ws.send(json.dumps({"type": "text", "chat_id": room, "content": str(n)}))
            n += 1
            await asyncio.sleep(o.interval / 1000)
        await asyncio.sleep(3)
        reader.cancel()
        await ws.close()
        return n

    async def reader(room):
        ws = await websockets.connect(f"ws://{o.b}/ws/r-{room}")
        await ws.send(json.dumps({"type": "join", "chat_id": room}))
        try:
            async for raw in ws:
                m = json.loads(raw)
                if m.get("type") == "text":
                    got[room].append(m["content"])
        except asyncio.CancelledError:
            await ws.close()

    readers = [asyncio.create_task(reader(r)) for r in rooms]
    await asyncio.sleep(0.5)
    senders = [asyncio.create_task(sender(r)) for r in rooms]
    await asyncio.sleep(o.warmup)
    master, replica = owner_and_replica(o.seed_port, "{" + rooms[0] + "}")
    fault_at = time.monotonic()
    if o.fault == "graceful":
        cli(replica, "cluster", "failover")
    else:
        with open(f"{o.cluster_dir}/redis-{master}.pid") as f:
            subprocess.run(["kill", "-9", f.read().strip()])
    await asyncio.sleep(o.after)
    stop.set()
    sent = await asyncio.gather(*senders)
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    room = rooms[0]
    times = [t for t, _ in acks[room]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    after = [t for t in times if t > fault_at]
    print(f"fault: {o.fault} of master :{master} (replica :{replica}), {o.rooms} rooms, "
          f"a send every {o.interval:.0f} ms per room")
    print(f"room on that master: longest time without an acknowledgement "
          f"{max(gaps) * 1000:.0f} ms; first acknowledgement {((after[0] - fault_at) * 1000) if after else float('nan'):.0f} ms after the fault")
    for r, n in zip(rooms, sent):
        page = json.load(urllib.request.urlopen(f"http://{o.a}/chat/{r}/messages?limit=1000"))
        stored = [m["content"] for m in page if m["type"] == "text"]
        acked = [c for _, c in acks[r]]
        lost = [c for c in acked if c not in set(stored)]
        dup = len(got[r]) - len(set(got[r]))
        order = got[r] == [c for c in stored if c in set(got[r])]
        missing = len(set(stored) - set(got[r]))
        print(f"{r}: sent {n}, acknowledged {len(acked)}, refused {refused[r]}, "
              f"unanswered {n - len(acked) - refused[r]}, stored {len(stored)}, "
              f"acknowledged but not stored {len(lost)}, reader: duplicates {dup}, "
              f"in stored order {order}, stored but not delivered {missing}")


if __name__ == "__main__":
    import websockets  # noqa: F401  (checked here: the one dependency)

    asyncio.run(main())
