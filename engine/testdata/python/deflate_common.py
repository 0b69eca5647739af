"""What deflate_client.py and deflate_window_client.py share: the step timeout, the echo check, the
record of room messages and the entry point. The scripts run as files, so their directory is on
sys.path and they import this module by name."""

import asyncio
import hashlib
import json
import sys

TIMEOUT = 20  # upper bound for any single step, seconds


class Mismatch(Exception):
    pass


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def round_trips(ws, label, sizes, text_of, binary_of):
    """Echoes a text and a binary message of every size, checking each echo; returns what went."""
    trips = {}
    for size in sizes:
        for kind, payload in (("text", text_of(size)), ("binary", binary_of(size))):
            await ws.send(payload)
            got = await recv(ws)
            if type(got) is not type(payload) or got != payload:
                raise Mismatch(f"{label}: echo of {kind} {size} differs")
            trips[f"{kind}-{size}"] = size
    return trips


async def messages(ws, count):
    """Receives count messages and records their type, length and SHA-256."""
    out = []
    for _ in range(count):
        msg = await recv(ws)
        data = msg.encode() if isinstance(msg, str) else msg
        kind = "text" if isinstance(msg, str) else "binary"
        out.append({"type": kind, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return out


def run(name, main):
    """Runs main(url, room_messages) from the command line and prints its result as JSON, or one
    line for the Go test's failure message and exit status 1."""
    try:
        result = asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    except Exception as e:
        print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))
