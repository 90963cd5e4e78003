"""Sync datagrams as an attacker on the sync link makes them, for the lab tests.

Two attackers:

- an *outsider* (no key): ``forged_hello_and_data`` builds what one forged HELLO and
  DATA look like with the project's own encoders, plain (as an unauthenticated link
  takes them) or with a trailer of random octets in place of a MAC
  (``with_fake_trailer``); ``spoofed_udp`` sends them from any source address (a
  unicast ``peer`` spoofed) through a raw socket;
- a *keyed peer* (``KeyedPeer``, hostile, with the key): completes the handshake
  with a router like a real peer and then sends whatever it likes, sealed. It must
  hear the router's answer: a member of the multicast group, or the peer's address.

``established_tcp`` is the entry such attacks inject: an ESTABLISHED, assured TCP
connection from an outside host to an inside server.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Iterable

from routerha.ctsync import entry as ct
from routerha.ctsync.auth import CHALLENGE, HANDSHAKE_SIZE, TRAILER_SIZE, Keys, SyncAuth
from routerha.ctsync.protocol import HEADER, MAGIC, RECORD, VERSION, Kind, Op

TCP_ESTABLISHED = 3


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


def message(kind: Kind, session: int, sequence: int, body: bytes = b"") -> bytes:
    """One SyncProtocol datagram, plain."""
    return HEADER.pack(MAGIC, VERSION, kind, session, sequence, len(body)) + body


def data_body(entries: Iterable[ct.Entry], op: Op = Op.UPDATE) -> bytes:
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
        message(Kind.HELLO, session, session),
        message(Kind.DATA, session, session, data_body(entries)),
    ]


def with_fake_trailer(datagram: bytes, key_id: int = 1) -> bytes:
    """``datagram`` with an authentication trailer whose session, counter and MAC are
    guesses (random octets): an outsider's best try at a sealed datagram."""
    fake = bytearray(os.urandom(TRAILER_SIZE))
    fake[8] = key_id
    return datagram + bytes(fake)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def spoofed_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An IPv4 UDP packet from any source, for a raw socket (``IP_HDRINCL``)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    length = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", sport, dport, length, 0) + payload
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 1, socket.IPPROTO_UDP, 0, s, d
    )
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
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
