#!/usr/bin/env python3
"""permessage-deflate client for engine/deflate_clients_test.go, on python3-websockets (asyncio API,
10.x+). Its client offers permessage-deflate by default ("permessage-deflate; client_max_window_bits")
and compresses every message it sends.

Usage: deflate_client.py ws://127.0.0.1:PORT ROOM_MESSAGES

1. On each of ECHO_PATHS: records the server's Sec-WebSocket-Extensions answer and the extension
   websockets agreed to, then echoes text and binary messages of every size in SIZES, checking each
   echo itself.
2. Connects to /room (the server adds it to a room), then receives ROOM_MESSAGES messages, which the
   Go test publishes once it sees this connection in the room, and records their type, length and
   SHA-256 for the Go test to compare.

Prints one JSON object on success; exits non-zero with one line per failure otherwise.
"""

import random

import websockets

from deflate_common import TIMEOUT, messages, round_trips, run
SIZES = [0, 16, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20]
ECHO_PATHS = ["/echo", "/echo-ct"]


def text_of(size):
    """size bytes of valid UTF-8 (repetitive, so it compresses well)."""
    pattern = "wsd deflate: héllo wörld € 𝄞 ✓ ".encode()
    cut = (pattern * (size // len(pattern) + 1))[:size]
    text = cut.decode("utf-8", errors="ignore")  # drops a character cut at the end
    return text + "x" * (size - len(text.encode()))


def binary_of(size):
    return random.Random(size).randbytes(size)


def connect(url):
    return websockets.connect(
        url, max_size=None, ping_interval=None, close_timeout=TIMEOUT, open_timeout=TIMEOUT
    )


def negotiated(ws):
    """The server's answer and what websockets agreed to."""
    answer = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    return {"answer": answer, "extensions": [type(e).__name__ for e in ws.extensions]}


async def echo_path(base, path):
    async with connect(base + path) as ws:
        result = negotiated(ws)
        result["round_trips"] = await round_trips(ws, path, SIZES, text_of, binary_of)
        return result


async def room(base, count):
    async with connect(base + "/room") as ws:
        result = negotiated(ws)
        result["messages"] = await messages(ws, count)
        return result


async def main(base, count):
    out = {"websockets_version": websockets.__version__, "echo": {}}
    for path in ECHO_PATHS:
        out["echo"][path] = await echo_path(base, path)
    out["room"] = await room(base, count)
    return out


if __name__ == "__main__":
    run("deflate_client.py", main)
