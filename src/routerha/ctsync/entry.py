"""A conntrack entry as routerha syncs it, and its compact encoding on the sync link.

What a router needs to carry a session on after a takeover: both tuples (the
reply tuple holds the NAT binding), the status bits, the zone and mark that
rulesets match on, the TCP state and window scaling, the helper, and how long
the entry still has to live. Counters and timestamps stay behind.

Encoding (network byte order), a key and a state:

- key: family (4|6), protocol, zone (16 bits), the original tuple (source,
  destination, source port, destination port; for ICMP the id and type/code);
- state: the reply tuple, status (32), timeout (32, seconds), mark (32), TCP
  (present flag, state, flags original/reply, window scale original/reply),
  the helper name (length-prefixed).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from routerha.ctsync.protocol import SyncError
from routerha.ip import IPAddress

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_DCCP = 33
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
PROTOCOL_NAMES = {
    "tcp": IPPROTO_TCP,
    "udp": IPPROTO_UDP,
    "icmp": IPPROTO_ICMP,
    "icmp6": IPPROTO_ICMPV6,
    "sctp": IPPROTO_SCTP,
    "dccp": IPPROTO_DCCP,
}

# Status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
IPS_EXPECTED = 1 << 0
IPS_SEEN_REPLY = 1 << 1
IPS_ASSURED = 1 << 2
IPS_CONFIRMED = 1 << 3
IPS_SRC_NAT = 1 << 4
IPS_DST_NAT = 1 << 5
IPS_NAT_MASK = IPS_SRC_NAT | IPS_DST_NAT
IPS_SRC_NAT_DONE = 1 << 7
IPS_DST_NAT_DONE = 1 << 8
IPS_DYING = 1 << 9
IPS_FIXED_TIMEOUT = 1 << 10
IPS_TEMPLATE = 1 << 11
IPS_HELPER = 1 << 13
IPS_OFFLOAD = 1 << 14
IPS_HW_OFFLOAD = 1 << 15
#: What a new entry may be given: the kernel refuses or ignores the rest on creation.
IPS_SETTABLE = IPS_EXPECTED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_NAT_MASK | IPS_FIXED_TIMEOUT

_KEY = struct.Struct("!BBH")
_PORTS = struct.Struct("!HH")
_STATE = struct.Struct("!III")
_TCP = struct.Struct("!BBBBBB")


@dataclass(frozen=True)
class Tuple:
    src: IPAddress
    dst: IPAddress
    proto: int
    #: Ports; for ICMP the echo id and (type << 8 | code).
    sport: int = 0
    dport: int = 0

    def reversed(self) -> Tuple:
        return Tuple(self.dst, self.src, self.proto, self.dport, self.sport)

    def pack(self) -> bytes:
        return self.src.packed + self.dst.packed + _PORTS.pack(self.sport, self.dport)

    @classmethod
    def unpack(cls, data: bytes, offset: int, size: int, proto: int) -> Tuple:
        """The tuple ``pack`` wrote at ``offset``; ``size`` is 4 (IPv4) or 16 (IPv6)."""
        address = ipaddress.IPv4Address if size == 4 else ipaddress.IPv6Address
        src = address(data[offset : offset + size])
        dst = address(data[offset + size : offset + 2 * size])
        sport, dport = _PORTS.unpack_from(data, offset + 2 * size)
        return cls(src, dst, proto, sport, dport)


@dataclass(frozen=True)
class TcpInfo:
    state: int
    flags_original: int = 0
    flags_reply: int = 0
    wscale_original: int = 0
    wscale_reply: int = 0


@dataclass(frozen=True)
class Entry:
    original: Tuple
    reply: Tuple
    zone: int = 0
    status: int = 0
    #: Seconds the entry has left to live.
    timeout: int = 0
    mark: int = 0
    tcp: TcpInfo | None = None
    helper: str | None = None

    @property
    def family(self) -> int:
        return self.original.src.version

    @property
    def key(self) -> bytes:
        """The entry's identity in both caches and on the wire: zone and original tuple."""
        return _KEY.pack(self.family, self.original.proto, self.zone) + self.original.pack()

    @property
    def nat(self) -> bool:
        """Whether the reply tuple is not the original turned round (a NAT binding).

        ICMP replies carry another type (echo reply for echo request) and the same
        id in both directions, so only the addresses and the id count there.
        """
        o, r = self.original, self.reply
        if (r.src, r.dst) != (o.dst, o.src):
            return True
        if o.proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            return r.sport != o.sport
        return (r.sport, r.dport) != (o.dport, o.sport)

    def state(self) -> bytes:
        tcp = self.tcp
        tcp_part = (
            _TCP.pack(
                1,
                tcp.state,
                tcp.flags_original,
                tcp.flags_reply,
                tcp.wscale_original,
                tcp.wscale_reply,
            )
            if tcp is not None
            else _TCP.pack(0, 0, 0, 0, 0, 0)
        )
        helper = (self.helper or "").encode()
        return (
            self.reply.pack()
            + _STATE.pack(self.status, self.timeout, self.mark)
            + tcp_part
            + bytes([len(helper)])
            + helper
        )


def differs_beyond_timeout(key: bytes, old: bytes, new: bytes) -> bool:
    """Whether two states of the entry ``key`` differ in more than the remaining timeout.

    Every re-read of the table finds every timeout lower; that alone is no news
    for the peer (the kernel sends no event for it either, and a takeover gives
    each entry at least a minute anyway). A key that is no entry key (an
    expectation's) is compared whole.
    """
    if old == new:
        return False
    if len(old) != len(new) or len(key) < _KEY.size or key[0] not in (4, 6):
        return True
    at = 2 * (4 if key[0] == 4 else 16) + _PORTS.size + 4  # after the reply tuple and status
    return old[:at] != new[:at] or old[at + 4 :] != new[at + 4 :]


def decode(key: bytes, state: bytes) -> Entry:
    """The entry behind a key and a state; SyncError if they are malformed."""
    if len(key) < _KEY.size:
        raise SyncError("entry key too short")
    family, proto, zone = _KEY.unpack_from(key)
    if family not in (4, 6):
        raise SyncError(f"entry family {family}")
    size = 4 if family == 4 else 16
    if len(key) != _KEY.size + 2 * size + _PORTS.size:
        raise SyncError("entry key length does not match its family")
    original = Tuple.unpack(key, _KEY.size, size, proto)
    fixed = 2 * size + _PORTS.size + _STATE.size + _TCP.size + 1
    if len(state) < fixed or len(state) != fixed + state[fixed - 1]:
        raise SyncError("entry state length does not match")
    reply = Tuple.unpack(state, 0, size, proto)
    offset = 2 * size + _PORTS.size
    status, timeout, mark = _STATE.unpack_from(state, offset)
    offset += _STATE.size
    present, tcp_state, flags_o, flags_r, wscale_o, wscale_r = _TCP.unpack_from(state, offset)
    tcp = TcpInfo(tcp_state, flags_o, flags_r, wscale_o, wscale_r) if present else None
    try:
        helper = state[fixed:].decode("ascii") or None
    except UnicodeDecodeError:
        raise SyncError("helper name is not ASCII") from None
    return Entry(original, reply, zone, status, timeout, mark, tcp, helper)
