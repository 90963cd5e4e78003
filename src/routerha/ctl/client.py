"""The client side of routerhad's control socket: where the socket lives and one
request over it. routerhactl imports only this (and the standard library), so that
a status read, which the playbooks make many times per router, starts in a few
milliseconds instead of importing the daemon and pyroute2."""

from __future__ import annotations

import json
import socket
from typing import Any

RUN_DIR = "/run/routerha"
DEFAULT_CONTROL = f"{RUN_DIR}/routerhad.sock"


def request(path: str, command: str, timeout: float = 5.0, **arguments: Any) -> dict[str, Any]:
    """Send one request and return routerhad's answer; raises OSError if nobody answers."""

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps({"command": command, **arguments}).encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    if not chunks:
        raise OSError("routerhad closed the connection without answering")
    return json.loads(b"".join(chunks))
