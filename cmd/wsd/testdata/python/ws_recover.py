#!/usr/bin/env python3
"""A /ws client in python3-websockets (Debian's 10.4) that joins a room, receives one publication,
drops its connection for 5 seconds while the test publishes 1,000 more over HTTP, then rejoins from
the position of the last message it received and checks that it gets every missed publication, in
order, none repeated, before the acknowledgement that says recovered. Prints a JSON report.

Usage: ws_recover.py <ws base url> <http base url> <api key>
"""
import asyncio
import json
import sys
import time
import urllib.request

import websockets


def publish(http, key, room, data):
    req = urllib.request.Request(f"{http}/rooms/{room}/publish", data=json.dumps(data).encode(),
                                 headers={"X-API-Key": key}, method="POST")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


async def join(ws, room, since=None):
    req = {"type": "join", "room": room, "id": "j"}
    if since is not None:
        req["since"] = since
    await ws.send(json.dumps(req))
    got = []
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "ack":
            return got, msg["data"]
        assert msg["type"] == "message", msg
        got.append(msg)


async def main(ws_base, http, key):
    room = "py-recover"
    async with websockets.connect(f"{ws_base}/ws?user=py") as ws:
        _, ack = await join(ws, room)
        epoch = ack["epoch"]
        answer = await asyncio.to_thread(publish, http, key, room, {"n": -1})
        first = json.loads(await ws.recv())
        assert first["offset"] == answer["offset"], (first, answer)
        last = first["offset"]
    # Away for 5 seconds: 1,000 publications are made meanwhile.
    away = time.monotonic()
    for n in range(1000):
        await asyncio.to_thread(publish, http, key, room, {"n": n})
    await asyncio.sleep(max(0, 5 - (time.monotonic() - away)))
    async with websockets.connect(f"{ws_base}/ws?user=py") as ws:
        start = time.monotonic()
        got, ack = await join(ws, room, {"offset": last, "epoch": epoch})
        took = time.monotonic() - start
    offsets = [m["offset"] for m in got]
    data = [m["data"]["n"] for m in got]
    print(json.dumps({
        "websockets_version": websockets.__version__,
        "recovered": ack.get("recovered"), "missed": ack.get("missed"), "offset": ack.get("offset"),
        "in_order": offsets == list(range(last + 1, last + 1 + len(got))),
        "data_in_order": data == list(range(1000)),
        "received": len(got), "away_seconds": round(time.monotonic() - away - took, 1),
        "recovery_ms": round(took * 1000, 1),
    }))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
