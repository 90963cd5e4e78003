"""Which of the peer's records may enter the external cache: checked on receipt.

Everything the peer sends ends up in a kernel table on a takeover, so a record
is let in only if it is an entry (or expectation) this router could have synced
itself: it decodes; its protocol is one conntrack syncs; its addresses are
unicast and not loopback; its key agrees with its state (a reply tuple that
differs from the original turned round says NAT, so the NAT status bit must say
so too); the TCP state and helper name are ones the kernel knows; it passes the
same filter as local entries (``accept_protocol``, ``ignore_address``, never the
sync link's own traffic); and an expectation belongs to a helper in
``expect_sync``. Anything else is refused with a reason, which the sync
protocol counts (``SyncProtocol.dropped``) before anything changes.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from typing import Callable, Union

from routerha.ctsync import entry as ct
from routerha.ctsync import expectation as cx
from routerha.ctsync.protocol import Op, SyncError
from routerha.ip import IPAddress

#: Protocols conntrack keeps entries of, as the sync carries them (GRE: 47, UDP-Lite: 136).
KNOWN_PROTOCOLS = frozenset({*ct.PROTOCOL_NAMES.values(), 47, 136})
_PORTED = frozenset({ct.IPPROTO_TCP, ct.IPPROTO_UDP, ct.IPPROTO_SCTP, ct.IPPROTO_DCCP, 136})
_ICMP = frozenset({ct.IPPROTO_ICMP, ct.IPPROTO_ICMPV6})
#: enum tcp_conntrack: NONE .. SYN_SENT2 (TCP_CONNTRACK_MAX is 10).
TCP_STATE_MAX = 9
#: The kernel's largest TCP window scale (RFC 7323).
TCP_WSCALE_MAX = 14
#: NF_CT_HELPER_NAME_LEN (16) with its terminating zero.
HELPER_NAME_MAX = 15
_IPV6_NOT_UNICAST = frozenset({bytes(16), bytes(15) + b"\x01"})
_ENTRY_KEY = struct.Struct("!BBH")
_EXPECTATION_KEY = struct.Struct("!BBBH")

Item = Union[ct.Entry, cx.Expectation]


class Admission:
    """``admit(op, key, state)`` for ``SyncProtocol``: None, or why the record is refused.

    ``accepts``: the filter local entries pass (``SyncFilter.accepts``);
    ``expect_helpers``: the helpers of ``expect_sync``.
    """

    def __init__(self, accepts: Callable[[Item], bool], expect_helpers: Collection[str]) -> None:
        self.accepts = accepts
        self.expect_helpers = frozenset(expect_helpers)

    def __call__(self, op: Op, key: bytes, state: bytes) -> str | None:
        if op is Op.DESTROY:
            # Forgetting a key we may not hold changes nothing; only its shape is checked.
            return None if _key_shape(key) else "bad_key"
        if cx.is_expectation_key(key):
            return self._expectation(key, state)
        try:
            entry = ct.decode(key, state)
        except SyncError:
            return "bad_entry"
        return entry_problem(entry) or (None if self.accepts(entry) else "filtered")

    def _expectation(self, key: bytes, state: bytes) -> str | None:
        try:
            item = cx.decode(key, state)
        except SyncError:
            return "bad_expectation"
        if item.helper is None or item.helper not in self.expect_helpers:
            return "expectation_helper"
        if item.master.proto not in KNOWN_PROTOCOLS or item.expected.proto not in KNOWN_PROTOCOLS:
            return "protocol"
        if not all(_unicast(a) for a in (item.master.src, item.master.dst, item.expected.dst)):
            return "address"
        return None if self.accepts(item) else "filtered"


def entry_problem(entry: ct.Entry) -> str | None:
    """Why an entry cannot be a real one, or None."""
    o, r = entry.original, entry.reply
    if o.proto not in KNOWN_PROTOCOLS:
        return "protocol"
    if not all(_unicast(a) for a in (o.src, o.dst, r.src, r.dst)):
        return "address"
    if o.proto in _PORTED and 0 in (o.sport, o.dport, r.sport, r.dport):
        return "port"
    if o.proto in _ICMP:
        translated_dst = r.src != o.dst
        translated_src = r.dst != o.src or r.sport != o.sport
    else:
        translated_dst = (r.src, r.sport) != (o.dst, o.dport)
        translated_src = (r.dst, r.dport) != (o.src, o.sport)
    if (translated_dst and not entry.status & ct.IPS_DST_NAT) or (
        translated_src and not entry.status & ct.IPS_SRC_NAT
    ):
        return "tuple_mismatch"  # the key and the state disagree: no NAT says so
    tcp = entry.tcp
    if tcp is not None and (
        o.proto != ct.IPPROTO_TCP
        or tcp.state > TCP_STATE_MAX
        or max(tcp.wscale_original, tcp.wscale_reply) > TCP_WSCALE_MAX
    ):
        return "tcp_state"
    if entry.helper is not None and (
        len(entry.helper) > HELPER_NAME_MAX or not entry.helper.isprintable()
    ):
        return "helper"
    return None


def _unicast(address: IPAddress) -> bool:
    """Not unspecified, loopback, multicast or broadcast (read from the octets: this runs
    for every address of every record a flood brings, and ipaddress' properties are slow)."""
    octets = address.packed
    if len(octets) == 4:
        # 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved and broadcast.
        return octets[0] != 0 and octets[0] != 127 and octets[0] < 224
    return octets[0] != 0xFF and octets not in _IPV6_NOT_UNICAST


def _key_shape(key: bytes) -> bool:
    """Whether ``key`` is shaped as an entry's or an expectation's key."""
    if cx.is_expectation_key(key):
        if len(key) < _EXPECTATION_KEY.size:
            return False
        family = key[1]
        return family in (4, 6) and len(key) == _EXPECTATION_KEY.size + _tuple_size(family)
    if len(key) < _ENTRY_KEY.size:
        return False
    family = key[0]
    return family in (4, 6) and len(key) == _ENTRY_KEY.size + _tuple_size(family)


def _tuple_size(family: int) -> int:
    return 2 * (4 if family == 4 else 16) + 4
