"""A hostile host on the conntrack sync link, for the lab tests and benchmarks: what
it sends, what it hears, what it costs.

Every sync datagram a test or benchmark sends as if it came from a router's peer is
made by ``forge_datagram``, the one place that produces them. Two attackers:

- an *outsider* (no key): ``forged_hello_and_data`` builds one forged HELLO and DATA
  with the project's own encoders, plain (as an unauthenticated link takes them) or
  with a trailer of random octets in place of a MAC (``with_fake_trailer``);
  ``spoofed_udp`` sends them from any source address (a unicast ``peer`` spoofed)
  through a raw socket, ``send_as_peer`` from a host on the segment;
- a *keyed peer* (``KeyedPeer``, hostile, with the key): completes the handshake
  with a router like a real peer and then sends whatever it likes, sealed. It must
  hear the router's answer: a member of the multicast group, or the peer's address.

``ATTACK_SYNC`` holds the ``conntrack_sync`` settings of the routers the attacks on
the protocol behind the authentication are tried on (the peer's own datagrams: an
unauthenticated link, so that plain forgeries reach the defences a keyed peer
would reach). ``established_tcp`` and ``made_up_entry`` are the entries such
attacks inject.

``SyncSniffer`` hears the sync group as any host on the segment can (the master's
bulk syncs are multicast: the keys, sessions and sequence numbers of the whole
table); ``AdvertWatch`` records the adverts a VRRP master sends, as a client on its
segment hears them, to find the largest gap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any

from lab.netlab import IPPROTO_VRRP, Capture, Lab
from routerha.ctsync import entry as ct
from routerha.ctsync.auth import CHALLENGE, HANDSHAKE_SIZE, TRAILER_SIZE, Keys, SyncAuth
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
from routerha.vrrp.checksum import internet_checksum

SYNC_PORT = 3780
MCAST_GROUP = "225.0.0.50"
TCP_ESTABLISHED = 3
#: The ``conntrack_sync`` settings of the routers the attacks on the protocol are tried
#: on, merged into the topology's: the link unauthenticated, so that the forgeries play
#: a peer that passes authentication (the peer itself, or a key holder). On a keyed
#: link the same datagrams are dropped unread (tests/ctsync_lab/test_sync_auth_lab.py).
ATTACK_SYNC: dict[str, Any] = {"authentication": {"type": "none"}}
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


def established_tcp(
    src: str, sport: int, dst: str, dport: int, *, timeout: int = 3600, zone: int = 0
) -> ct.Entry:
    """An assured, ESTABLISHED TCP entry ``src:sport -> dst:dport`` (no NAT)."""
    original = ct.Tuple(
        ipaddress.ip_address(src), ipaddress.ip_address(dst), ct.IPPROTO_TCP, sport, dport
    )
    return ct.Entry(
        original=original,
        reply=original.reversed(),
        zone=zone,
        status=ct.IPS_SEEN_REPLY | ct.IPS_ASSURED | ct.IPS_CONFIRMED,
        timeout=timeout,
        tcp=ct.TcpInfo(state=TCP_ESTABLISHED, wscale_original=7, wscale_reply=7),
    )


def entries_body(entries: Iterable[ct.Entry], op: Op = Op.UPDATE) -> bytes:
    """The body of a DATA message carrying ``entries`` (their states, or deletions)."""
    out = b""
    for entry in entries:
        key, state = entry.key, entry.state() if op is Op.UPDATE else b""
        out += RECORD.pack(op, len(key), len(state)) + key + state
    return out


def forged_hello_and_data(entries: Iterable[ct.Entry], session: int | None = None) -> list[bytes]:
    """A HELLO of a new session and one DATA carrying ``entries``: what a router whose
    link is unauthenticated takes as its peer restarting and sending them."""
    session = int.from_bytes(os.urandom(4), "big") if session is None else session
    return [
        forge_datagram(Kind.HELLO, session, session),
        forge_datagram(Kind.DATA, session, session, entries_body(entries)),
    ]


def with_fake_trailer(datagram: bytes, key_id: int = 1) -> bytes:
    """``datagram`` with an authentication trailer whose session, counter and MAC are
    guesses (random octets): an outsider's best try at a sealed datagram."""
    fake = bytearray(os.urandom(TRAILER_SIZE))
    fake[8] = key_id
    return datagram + bytes(fake)


def spoofed_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An IPv4 UDP packet from any source, for a raw socket (``IP_HDRINCL``)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    length = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    udp = udp[:6] + struct.pack("!H", internet_checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 1, socket.IPPROTO_UDP, 0, s, d
    )
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return ip + udp


def send_spoofed(
    raw: socket.socket, src: str, dst: str, payloads: Iterable[bytes], port: int = 3780
) -> None:
    """Send each payload from ``src:port`` to ``dst:port`` through ``raw`` (an
    ``AF_INET, SOCK_RAW, IPPROTO_RAW`` socket, which implies ``IP_HDRINCL``)."""
    for payload in payloads:
        raw.sendto(spoofed_udp(src, dst, port, port, payload), (dst, 0))


class KeyedPeer:
    """A hostile holder of the key: it completes the handshake and seals what it sends.

    ``sock`` is a UDP socket bound to the sync port that hears the router's answers;
    ``destination`` is where the router listens (its unicast address, or the group).
    """

    def __init__(
        self, sock: socket.socket, destination: tuple[str, int], key_id: int, key: bytes
    ) -> None:
        self.sock = sock
        self.destination = destination
        self.auth = SyncAuth(Keys(send_id=key_id, keys={key_id: key}))

    def handshake(self, timeout: float = 3.0) -> None:
        """REQUEST until a CHALLENGE that answers it arrives (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        for datagram in self.auth.start(time.monotonic()):
            self.sock.sendto(datagram, self.destination)
        while self.auth.status()["send_state"] != "established":
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no challenge from {self.destination}")
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.1))
            now = time.monotonic()
            if ready:
                datagram, _ = self.sock.recvfrom(65535)
                # Only the challenge counts; requests the router makes go unanswered
                # (answering them would make its sending session ours).
                if len(datagram) == HANDSHAKE_SIZE and datagram[3] == CHALLENGE:
                    self.auth.receive(datagram, now)
            for again in self.auth.tick(now):
                self.sock.sendto(again, self.destination)

    def send(self, datagrams: Iterable[bytes]) -> list[bytes]:
        """Seal and send each datagram; returns what went on the wire."""
        out = []
        for datagram in datagrams:
            for sealed in self.auth.seal(datagram, time.monotonic()):
                self.sock.sendto(sealed, self.destination)
                out.append(sealed)
        return out
