#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: python3-websockets for the
# Python client tests, chromium (and a font) for the chat page's browser tests, nats-server (with
# JetStream) for the cluster tests of the chat page, the JavaScript client and rooms/natsbroker, strace
# to inject accept(2) errors into a child process (engine). Go modules come from the module proxy on
# demand.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

need=()
if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
  need+=(python3-websockets)
fi
if [ ! -x /usr/bin/chromium ]; then
  need+=(chromium)
fi
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  need+=(nats-server)
fi
if ! command -v strace >/dev/null; then
  need+=(strace)
fi
if [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  need+=(fonts-dejavu-core)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
