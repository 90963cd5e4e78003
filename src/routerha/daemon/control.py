"""The control socket, routerhad's side: one JSON request per line, one JSON answer
per line (the client side, and where the socket lives: routerha.ctl.client).

Requests: ``{"command": "status"}``, ``{"command": "reload"}``. The socket is mode
0600 (status shows the topology, which is nobody else's business): it is bound
under a temporary name, chmod-ed, then renamed into place, so it never exists at
its path with a wider mode, and the process's umask is never changed (scripts
started meanwhile would inherit it).

A client cannot hold the daemon: a request must arrive within ``READ_DEADLINE``
seconds and its answer be taken within ``WRITE_DEADLINE``; at most
``MAX_CONNECTIONS`` are open at once: a further one closes the oldest connection
that has sent nothing yet (or, when every one is busy with a request, is closed
itself), and each is counted.
Idle or hostile clients therefore cost a bounded number of file descriptors, far
below the limit (raised to the hard limit at start), and ``status`` keeps answering.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import socket
import stat
from collections.abc import Awaitable
from typing import Any, Callable

from routerha.errors import RouterhaError

log = logging.getLogger("routerhad")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

#: Seconds a client has to send its request line.
READ_DEADLINE = 5.0
#: Seconds a client has to take the answer.
WRITE_DEADLINE = 5.0
#: Connections served at once; more are closed at once.
MAX_CONNECTIONS = 32
#: Octets of one request line.
MAX_REQUEST = 64 * 1024


class ControlError(RouterhaError):
    """The control socket cannot be created."""


class ControlServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.active = 0
        #: Connections still waiting for their request line, oldest first.
        self.reading: dict[asyncio.Task, None] = {}
        self._evicted: set[asyncio.Task] = set()
        #: refused (over the cap, all busy), evicted (idle, to make room), timeouts,
        #: bad (malformed or oversized requests).
        self.counters: collections.Counter[str] = collections.Counter()

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self.active >= MAX_CONNECTIONS and not self._evict_idle():
            self.counters["refused"] += 1
            log.warning("control: %d requests in progress, a connection refused", self.active)
            writer.transport.abort()
            return
        self.active += 1
        self.reading[task] = None
        try:
            await self._serve(reader, writer, task)
        except (TimeoutError, asyncio.TimeoutError):
            self.counters["timeouts"] += 1
            log.warning("control: a client sent no request or took no answer in time")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            if task not in self._evicted:
                raise
        finally:
            self.active -= 1
            self.reading.pop(task, None)
            self._evicted.discard(task)
            writer.transport.abort()

    def _evict_idle(self) -> bool:
        """Make room by closing the oldest connection that has sent nothing yet: idle
        clients cannot keep a real request (``routerhactl status``) out."""
        if not self.reading:
            return False
        oldest = next(iter(self.reading))
        del self.reading[oldest]
        self._evicted.add(oldest)
        oldest.cancel()
        self.counters["evicted"] += 1
        log.warning("control: %d connections open, the oldest idle one closed", self.active)
        return True

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task
    ) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), READ_DEADLINE)
        except ValueError:  # longer than the reader's limit
            self.counters["bad"] += 1
            line = b""
        self.reading.pop(task, None)
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            answer = await self.handler(request)
        except ValueError as error:
            self.counters["bad"] += 1
            answer = {"error": f"bad request: {error}"}
        except Exception as error:  # the client always gets an answer
            log.exception("control request failed")
            answer = {"error": f"internal error: {error}"}
        # drain() then waits until the whole answer is with the kernel, so closing
        # (abort, below) loses none of it.
        writer.transport.set_write_buffer_limits(high=0)
        writer.write(json.dumps(answer).encode() + b"\n")
        await asyncio.wait_for(writer.drain(), WRITE_DEADLINE)


def bind(path: str) -> socket.socket:
    """A listening socket at ``path``, mode 0600, without touching the umask."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(path).st_mode
        if not (stat.S_ISSOCK(mode) or stat.S_ISLNK(mode)):
            raise ControlError(f"control socket {path} exists and is not a socket")
        os.unlink(path)  # a stale socket of a previous run (or a link: only it goes)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(temporary)
        os.chmod(temporary, 0o600)
        os.rename(temporary, path)
        sock.listen(128)
    except OSError:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sock.setblocking(False)
    return sock


async def serve(path: str, server: ControlServer) -> asyncio.AbstractServer:
    return await asyncio.start_unix_server(server.client, sock=bind(path), limit=MAX_REQUEST)
