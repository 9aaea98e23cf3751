"""Join the Collective as witnesses over WebSockets, for the deployment tests.

Usage: websocket_witnesses.py URL [--count N] [--origin ORIGIN]
                              [--node HTTP_URL ...] [--expect-total N]
       websocket_witnesses.py URL --origin ORIGIN --expect-status CODE

URL is the server's or the balancer's base URL, http://HOST:PORT. The first
form opens N WebSockets on /socket/websocket?vsn=2.0.0 (default 1), joins
collective:lobby on each with the Phoenix V2 frame the phoenix client sends,
and waits for the join's ok reply and the welcome. While they are all open, it
prints "node HTTP_URL witnesses W" for each --node, W being that node's own
witness count from /metrics/state, and with --expect-total it waits up to 10 s
until the global count (concurrent_connections) of the first --node reaches N.
The second form makes only the upgrade request and checks the HTTP status.

Exits 0 when everything expected arrived, 1 with a message otherwise. It uses
the standard library only: the deployment tests run without npm packages.
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
import urllib.request

# RFC 6455, section 1.3: the server's accept key is the SHA-1 of the client's
# key followed by this GUID.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT_S = 5.0


class WitnessError(Exception):
    pass


def open_upgrade(base_url, origin):
    """Send the upgrade request; return (socket, status, headers, extra bytes)."""
    parsed = urllib.parse.urlsplit(base_url)
    connection = socket.create_connection((parsed.hostname, parsed.port or 80), timeout=TIMEOUT_S)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /socket/websocket?vsn=2.0.0 HTTP/1.1",
        "Host: %s" % parsed.netloc,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key,
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append("Origin: %s" % origin)
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            raise WitnessError("the connection closed before the upgrade response ended: %r" % received)
        received += chunk
    head, extra = received.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()

    if status == 101:
        expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise WitnessError("wrong Sec-WebSocket-Accept: %r" % headers.get("sec-websocket-accept"))
    return connection, status, headers, extra


class Witness:
    """One WebSocket that joined collective:lobby."""

    def __init__(self, base_url, origin):
        self.socket, status, _, self.buffer = open_upgrade(base_url, origin)
        if status != 101:
            raise WitnessError("the upgrade got HTTP %d instead of 101" % status)

    def send_text(self, text):
        payload = text.encode()
        # Client frames are masked (RFC 6455, section 5.3).
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.socket.sendall(header + mask + masked)

    def read_exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise WitnessError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_frame(self):
        """Return (opcode, payload) of the next frame; server frames are not masked."""
        first, second = self.read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read_exactly(8))
        return first & 0x0F, self.read_exactly(length)

    def join(self):
        """Join collective:lobby and wait for the ok reply and the welcome."""
        self.send_text(json.dumps(["1", "1", "collective:lobby", "phx_join", {}]))
        replied = welcomed = False
        deadline = time.monotonic() + TIMEOUT_S
        while not (replied and welcomed):
            if time.monotonic() > deadline:
                raise WitnessError("no join reply and welcome within %.0f s" % TIMEOUT_S)
            opcode, payload = self.read_frame()
            if opcode == 0x8:
                raise WitnessError("the server closed the socket: %r" % payload)
            if opcode != 0x1:
                continue
            _, ref, topic, event, body = json.loads(payload)
            if event == "phx_reply" and ref == "1":
                if body.get("status") != "ok":
                    raise WitnessError("the join was answered with %r" % body)
                replied = True
            elif event == "welcome" and topic == "collective:lobby":
                welcomed = True

    def close(self):
        self.socket.close()


def get_state(node_url):
    with urllib.request.urlopen(node_url + "/metrics/state", timeout=TIMEOUT_S) as response:
        return json.load(response)


def run_witnesses(arguments):
    witnesses = []
    try:
        for _ in range(arguments.count):
            witness = Witness(arguments.url, arguments.origin)
            witnesses.append(witness)
            witness.join()
        print("joined %d" % len(witnesses))

        for node in arguments.node:
            print("node %s witnesses %d" % (node, get_state(node)["node"]["witnesses"]))

        if arguments.expect_total is not None:
            # Each node reports its count to the shared store once per tick,
            # so the sum appears on the others a tick later.
            deadline = time.monotonic() + 10
            total = None
            while time.monotonic() < deadline:
                total = get_state(arguments.node[0])["concurrent_connections"]
                if total == arguments.expect_total:
                    break
                time.sleep(0.1)
            print("total %s" % total)
            if total != arguments.expect_total:
                raise WitnessError("the global count stayed %s instead of %d" % (total, arguments.expect_total))
    finally:
        for witness in witnesses:
            witness.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--origin")
    parser.add_argument("--node", action="append", default=[])
    parser.add_argument("--expect-total", type=int)
    parser.add_argument("--expect-status", type=int)
    arguments = parser.parse_args()
    if arguments.expect_total is not None and not arguments.node:
        parser.error("--expect-total needs a --node to read the global count from")

    try:
        if arguments.expect_status is not None:
            connection, status, _, _ = open_upgrade(arguments.url, arguments.origin)
            connection.close()
            print("status %d" % status)
            if status != arguments.expect_status:
                raise WitnessError("the upgrade got HTTP %d instead of %d" % (status, arguments.expect_status))
        else:
            run_witnesses(arguments)
    except (WitnessError, OSError, ValueError) as error:
        print("websocket_witnesses.py: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
