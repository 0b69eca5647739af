#!/usr/bin/env python3
"""permessage-deflate with small server windows, for engine/deflate_window_test.go, on
python3-websockets (asyncio API, 10.x+). Each connection offers
"permessage-deflate; server_max_window_bits=N; client_max_window_bits": websockets then inflates the
server's messages with zlib limited to a 2^N-byte window, and zlib fails ("invalid distance too far
back") on any back-reference beyond it, which fails the connection and this script.

Usage: deflate_window_client.py ws://127.0.0.1:PORT ROOM_MESSAGES

1. For every N in ECHO_BITS: connects to /echo, records the server's Sec-WebSocket-Extensions answer
   and the window websockets agreed to, then echoes text and binary messages of every size in SIZES
   (repeating at distances up to 20,000 bytes, beyond every small window), checking each echo.
2. Connects one client per N in ROOM_BITS to /room (the server adds each to a room), then each
   receives ROOM_MESSAGES messages, which the Go test publishes once it sees these connections in the
   room, and records their type, length and SHA-256 for the Go test to compare.

Prints one JSON object on success; exits non-zero with one line on failure.
"""

import asyncio
import random

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from deflate_common import TIMEOUT, messages, round_trips, run
SIZES = [0, 16, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10]
ECHO_BITS = [8, 9, 10, 11, 12, 13, 14]
ROOM_BITS = [9, 12, 14]
WORDS = '{"type":"chat" "text":"hello" "room":"lobby" "user":"alice" joined left héllo wörld € 𝄞 ✓ }'.split()


def text_of(size):
    """size bytes of valid UTF-8: words in random order (matches at every distance)."""
    rnd = random.Random(size)
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(WORDS).encode() + b" "
    text = bytes(out[:size]).decode("utf-8", errors="ignore")  # drops a character cut at the end
    return text + "x" * (size - len(text.encode()))


def far_of(size):
    """size bytes of 20,000-byte random blocks, each twice in a row."""
    rnd = random.Random(size + 1)
    out = bytearray()
    while len(out) < size:
        block = rnd.randbytes(20000)
        out += block + block
    return bytes(out[:size])


def connect(url, bits):
    factory = ClientPerMessageDeflateFactory(server_max_window_bits=bits, client_max_window_bits=True)
    return websockets.connect(
        url,
        extensions=[factory],
        max_size=None,
        ping_interval=None,
        close_timeout=TIMEOUT,
        open_timeout=TIMEOUT,
    )


def negotiated(ws):
    """The server's answer and the server window websockets agreed to (0: no deflate)."""
    answer = ws.response_headers.get("Sec-WebSocket-Extensions", "")
    bits = [e.remote_max_window_bits for e in ws.extensions if type(e).__name__ == "PerMessageDeflate"]
    return {"answer": answer, "window_bits": bits[0] if bits else 0}


async def echo(base, bits):
    async with connect(base + "/echo", bits) as ws:
        result = negotiated(ws)
        result["round_trips"] = await round_trips(ws, f"{bits} bits", SIZES, text_of, far_of)
        return result


async def member(ws, count):
    result = negotiated(ws)
    result["messages"] = await messages(ws, count)
    return result


async def room(base, count):
    conns = [await connect(base + "/room", bits) for bits in ROOM_BITS]
    try:
        results = await asyncio.gather(*(member(ws, count) for ws in conns))
    finally:
        for ws in conns:
            await ws.close()
    return {str(bits): r for bits, r in zip(ROOM_BITS, results)}


async def main(base, count):
    out = {"websockets_version": websockets.__version__, "echo": {}}
    for bits in ECHO_BITS:
        out["echo"][str(bits)] = await echo(base, bits)
    out["room"] = await room(base, count)
    return out


if __name__ == "__main__":
    run("deflate_window_client.py", main)
