"""The control socket: one JSON request per line, one JSON answer per line.

Requests: ``{"command": "status"}``, ``{"command": "reload"}``. The socket is created mode 0600: status
shows the topology, which is nobody else's business.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable
from typing import Any, Callable

log = logging.getLogger("routerhad")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def serve(path: str, handler: Handler) -> asyncio.AbstractServer:
    if os.path.exists(path):
        os.unlink(path)  # a stale socket of a previous run
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                answer = await handler(request)
            except ValueError as error:
                answer = {"error": f"bad request: {error}"}
            except Exception as error:  # the client always gets an answer
                log.exception("control request failed")
                answer = {"error": f"internal error: {error}"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    old = os.umask(0o177)
    try:
        return await asyncio.start_unix_server(client, path=path)
    finally:
        os.umask(old)


def request(path: str, command: str, timeout: float = 5.0, **arguments: Any) -> dict[str, Any]:
    """Send one request (used by routerhactl); raises OSError if nobody answers."""

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
