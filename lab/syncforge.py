"""A hostile host on the conntrack sync link: what it sends, what it hears, what it costs.

Every datagram a lab test or benchmark sends as if it came from a router's sync
peer is made by ``forge_datagram``, the one place that produces them; anything
that must wrap the sync protocol's datagrams (authentication of the sync link)
goes there. ``ATTACK_SYNC`` holds the ``conntrack_sync`` settings the attacked
routers run with, for the same reason.

``SyncSniffer`` hears the sync group as any host on the segment can (the
master's bulk syncs are multicast: the keys, sessions and sequence numbers of
the whole table); ``AdvertWatch`` records the adverts a VRRP master sends, as a
client on its segment hears them, to find the largest gap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any

from lab.netlab import IPPROTO_VRRP, Capture, Lab
from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.kernel import ConntrackTable
from routerha.ctsync.protocol import (
    HEADER,
    MAGIC,
    RANGE,
    RECORD,
    VERSION,
    Kind,
    Op,
    SyncError,
    parse,
    records,
)

SYNC_PORT = 3780
MCAST_GROUP = "225.0.0.50"
#: The ``conntrack_sync`` settings of the routers the attacks are tried on (merged
#: into the topology's); the place for the sync link's authentication settings.
ATTACK_SYNC: dict[str, Any] = {}
#: The session an attacker that did not sniff one claims.
FORGED_SESSION = 0x5EC0_0001


def forge_datagram(kind: Kind, session: int, sequence: int, body: bytes = b"") -> bytes:
    """A sync datagram as a router's sync peer would send it (the only maker of them)."""
    return HEADER.pack(MAGIC, VERSION, kind, session, sequence, len(body)) + body


def data_body(items: Iterable[tuple[Op, bytes, bytes]]) -> bytes:
    """The body of a DATA message carrying ``(op, key, state)`` records."""
    return b"".join(RECORD.pack(op, len(key), len(state)) + key + state for op, key, state in items)


def range_body(first: int, last: int) -> bytes:
    """The body of an ACK or NACK."""
    return RANGE.pack(first, last)


def made_up_entry(i: int, nat: str = "198.51.100.12") -> Entry:
    """A distinct, plausible established TCP connection behind SNAT to ``nat``: what
    fills a table, or what a forger makes up (it passes every check a real one does)."""
    v4 = ipaddress.IPv4Address
    client = v4(f"10.{20 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}")
    server = v4(f"10.100.{(i // 250) % 250}.{i % 250 + 1}")
    port = 1024 + i % 60000
    return Entry(
        original=Tuple(client, server, 6, port, 443),
        reply=Tuple(server, v4(nat), 6, 443, port),
        status=IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT,
        timeout=3600,
        tcp=TcpInfo(3, 0x23, 0x23, 7, 7),
    )


def fill_table(lab: Lab, host: str, entries: Iterable[Entry]) -> int:
    """Write entries into ``host``'s kernel table (a busy router's); how many were made."""

    async def commit() -> int:
        table = ConntrackTable(netns=lab.ns(host))
        await table.open()
        try:
            return (await table.commit(list(entries))).created
        finally:
            table.close()

    return asyncio.run(commit())


def table_size(lab: Lab, host: str) -> int:
    """Entries in ``host``'s kernel table (``conntrack -C``)."""
    return int(lab.run(host, "conntrack", "-C").stdout.split()[0])


def send_as_peer(
    lab: Lab,
    datagrams: Iterable[bytes],
    *,
    host: str = "junk",
    to: str = MCAST_GROUP,
    port: int = SYNC_PORT,
    pause: float = 0.0,
) -> int:
    """Send datagrams from ``host`` to the sync group (or a router); how many went."""
    sock = lab.socket(host, socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        mreqn = struct.pack("=4s4si", bytes(4), bytes(4), lab.ifindex(host, "eth0"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        for datagram in datagrams:
            while True:
                try:
                    sock.sendto(datagram, (to, port))
                    break
                except BlockingIOError:  # the host's queue is full: as fast as it drains
                    time.sleep(0.0005)
            sent += 1
            if pause:
                time.sleep(pause)
    finally:
        sock.close()
    return sent


class SyncSniffer:
    """Every sync datagram on the segment's multicast group, heard from ``host``."""

    def __init__(self, lab: Lab, host: str = "junk", ifname: str = "eth0") -> None:
        self.sock = lab.socket(host, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
            self.sock.bind(("", SYNC_PORT))
            mreq = struct.pack(
                "=4s4si", socket.inet_aton(MCAST_GROUP), bytes(4), lab.ifindex(host, ifname)
            )
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        #: (source address, kind, session, sequence, body) of each datagram heard.
        self.heard: list[tuple[str, Kind, int, int, bytes]] = []

    def drain(self) -> list[tuple[str, Kind, int, int, bytes]]:
        """Read what arrived since the last call; all heard so far."""
        while True:
            try:
                datagram, (source, _port) = self.sock.recvfrom(65535)
            except BlockingIOError:
                return self.heard
            try:
                kind, session, sequence, body = parse(datagram)
            except SyncError:
                continue
            self.heard.append((source, kind, session, sequence, body))

    def entries(self, source: str) -> dict[bytes, bytes]:
        """The latest state of every entry ``source`` was heard sending."""
        out: dict[bytes, bytes] = {}
        for sender, kind, _session, _sequence, body in self.drain():
            if sender != source or kind is not Kind.DATA:
                continue
            for op, key, state in records(body):
                if op is Op.UPDATE:
                    out[key] = state
                elif op is Op.DESTROY:
                    out.pop(key, None)
        return out

    def latest(self, source: str) -> tuple[int, int] | None:
        """(session, highest DATA sequence number) last heard from ``source``."""
        found = None
        for sender, kind, session, sequence, _body in self.drain():
            if sender != source or kind is not Kind.DATA:
                continue
            if found is None or found[0] != session or sequence > found[1]:
                found = (session, sequence)
        return found

    def count(self, source: str, kind: Kind, since: int = 0) -> int:
        """How many datagrams of ``kind`` ``source`` sent (after the first ``since`` heard)."""
        return sum(1 for h in self.drain()[since:] if h[0] == source and h[1] is kind)

    def close(self) -> None:
        self.sock.close()


class AdvertWatch:
    """The adverts of the VRRP master ``source``, heard on ``host``'s ``ifname`` (a thread)."""

    def __init__(self, lab: Lab, host: str, source: str, ifname: str = "eth0") -> None:
        self.capture = Capture(lab, host, IPPROTO_VRRP, ifname=ifname)
        self.source = source
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            datagram = self.capture.receive(0.05)
            if datagram is not None and str(datagram.src) == self.source:
                self.times.append(datagram.time)

    def mark(self) -> int:
        """A point in the recording (``largest_gap(since=...)``)."""
        return len(self.times)

    def largest_gap(self, since: int = 0, until: float | None = None) -> float:
        """The longest silence between adverts after ``since``, now (or ``until``) included."""
        times = self.times[max(0, since - 1) :]
        end = time.monotonic() if until is None else until
        if not times:
            return float("inf")
        gaps = [b - a for a, b in zip(times, times[1:])] + [end - times[-1]]
        return max(gaps)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.capture.close()
