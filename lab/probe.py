"""A client's view of a failover: ICMP echo to the virtual address every millisecond.

The outage is the largest gap between consecutive replies: what an application
on the client would have seen. Two threads, one sending and one receiving, on a
raw ICMP socket opened inside the client's namespace.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from routerha.vrrp.checksum import internet_checksum

ECHO_REQUEST = 8
ECHO_REPLY = 0


def echo_request(ident: int, sequence: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, sequence)
    payload = b"routerha-probe"
    return (
        struct.pack("!BBHHH", ECHO_REQUEST, 0, internet_checksum(header + payload), ident, sequence)
        + payload
    )


@dataclass
class Probe:
    """Echo requests to ``target`` every ``interval`` seconds on ``sock`` (a raw
    AF_INET/IPPROTO_ICMP socket, already in the client's namespace)."""

    sock: socket.socket
    target: str
    interval: float = 0.001
    replies: list[float] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        self.ident = os.getpid() & 0xFFFF
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]

    def __enter__(self) -> Probe:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)

    def _send(self) -> None:
        next_at = time.monotonic()
        sequence = 0
        while not self._stop.is_set():
            sequence = (sequence + 1) & 0xFFFF
            try:
                self.sock.sendto(echo_request(self.ident, sequence), (self.target, 0))
                self.sent += 1
            except OSError:
                pass  # no route or no neighbour during the failover: keep probing
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def _receive(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            data = self.sock.recv(2048)
            now = time.monotonic()
            header = (data[0] & 0x0F) * 4
            kind, _code, _sum, ident, _seq = struct.unpack_from("!BBHHH", data, header)
            if kind == ECHO_REPLY and ident == self.ident:
                self.replies.append(now)

    def largest_gap(self, after: float = 0.0, until: float | None = None) -> float:
        """Seconds: the longest time without a reply, among replies after ``after``
        (a monotonic time) and the last reply before it; with ``until``, silence from
        the last reply up to then counts too (replies that never came back)."""
        times = sorted(self.replies)
        start = max((i for i, t in enumerate(times) if t <= after), default=0)
        window = times[start:] + ([until] if until is not None else [])
        return max((b - a for a, b in zip(window, window[1:])), default=float("inf"))
