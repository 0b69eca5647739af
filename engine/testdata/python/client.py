#!/usr/bin/env python3
"""End-to-end client for the engine tests, written against python3-websockets (asyncio API, 10.x+).

Usage: client.py ws://127.0.0.1:PORT

The server must serve /echo (echoes every message with its opcode) and /close/:code (sends the text
"before close", then closes with :code and reason "bye"). Each scenario checks what it can itself;
the script runs them all, then exits non-zero with one line per failed scenario, or prints one JSON
object with every scenario's observations on stdout, for the Go test to assert.
"""

import asyncio
import hashlib
import json
import random
import sys

import websockets

TIMEOUT = 20  # upper bound for any single step, seconds
SIZES = [0, 1024, 1 << 20, 16 << 20]


class Mismatch(Exception):
    pass


def text_of(size):
    """size bytes of valid UTF-8 mixing 1- to 4-byte characters: the same bytes as the Go tests'
    textPayload, so the Go side can check the digest."""
    pattern = "wsd e2e: héllo wörld € 𝄞 ✓ ".encode()
    cut = (pattern * (size // len(pattern) + 1))[:size]
    text = cut.decode("utf-8", errors="ignore")  # drops a character cut at the end
    return text + "x" * (size - len(text.encode()))


def binary_of(size):
    return random.Random(size).randbytes(size)


def connect(url):
    return websockets.connect(
        url, max_size=None, ping_interval=None, close_timeout=TIMEOUT, open_timeout=TIMEOUT
    )


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def round_trip(ws, payload):
    await ws.send(payload)
    got = await recv(ws)
    if type(got) is not type(payload):
        raise Mismatch(f"sent {type(payload).__name__}, got {type(got).__name__} back")
    if got != payload:
        raise Mismatch(f"echo of {len(payload)} units differs ({len(got)} units back)")
    data = payload.encode() if isinstance(payload, str) else payload
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def round_trips(base):
    out = {}
    async with connect(base + "/echo") as ws:
        for size in SIZES:
            out[f"text-{size}"] = await round_trip(ws, text_of(size))
            out[f"binary-{size}"] = await round_trip(ws, binary_of(size))
    return out


async def fragmented(base):
    async with connect(base + "/echo") as ws:
        text_parts = ["frag", "", "mented ", "€", "𝄞" * 1000]
        await ws.send(text_parts)
        text = await recv(ws)
        if text != "".join(text_parts):
            raise Mismatch(f"fragmented text echoed as {text[:40]!r}...")
        bin_parts = [b"\x00", binary_of(70000), b"", binary_of(3)]
        await ws.send(bin_parts)
        data = await recv(ws)
        if data != b"".join(bin_parts):
            raise Mismatch(f"fragmented binary echoed as {len(data)} bytes")
        return {"text": text[:16], "text_chars": len(text), "binary_bytes": len(data)}


async def ping(base):
    async with connect(base + "/echo") as ws:
        waiter = await ws.ping(b"py-ping")
        await asyncio.wait_for(waiter, TIMEOUT)
        # The connection still works after the ping.
        await round_trip(ws, "after ping")
        return {"payload": "py-ping", "pong": True}


async def client_close(base):
    ws = await connect(base + "/echo")
    await ws.close(4002, "py-close")
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    return {"close_code": ws.close_code, "close_reason": ws.close_reason}


async def server_close(base):
    ws = await connect(base + "/close/4003")
    first = await recv(ws)
    if first != "before close":
        raise Mismatch(f"first message {first!r}, want 'before close' (sent before the close)")
    try:
        msg = await recv(ws)
        raise Mismatch(f"got a message {msg!r}, want the server's close")
    except websockets.exceptions.ConnectionClosed:
        pass
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    return {"close_code": ws.close_code, "close_reason": ws.close_reason}


async def main(base):
    results = {"websockets_version": websockets.__version__}
    failures = []
    for name, scenario in [
        ("round_trips", round_trips),
        ("fragmented", fragmented),
        ("ping", ping),
        ("client_close", client_close),
        ("server_close", server_close),
    ]:
        try:
            results[name] = await scenario(base)
        except Mismatch as e:
            failures.append(f"{name}: {e}")
        except Exception as e:  # noqa: BLE001 - report any failure with the scenario's name
            failures.append(f"{name}: {type(e).__name__}: {e}")
    if failures:
        raise SystemExit("\n".join(failures))
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: client.py ws://host:port")
    asyncio.run(main(sys.argv[1].rstrip("/")))
