"""The kernel side of conntrack sync: read, watch and write the connection table.

``ConntrackTable`` is one router's view of its kernel's conntrack table through
ctnetlink (pyroute2, with the message classes of ``nfct.py``):

- ``open()`` subscribes to conntrack and expectation events *before* anything is
  dumped, so nothing that happens during a dump is missed (the caller buffers
  events while it applies the dump, then replays them);
- ``dump()`` / ``dump_expectations()`` read the table as ``Entry`` /
  ``Expectation`` (what the sync link carries);
- ``events()`` yields changes, except those caused by this table's own writes
  (the kernel stamps an event with the netlink port id of the socket that caused
  it; conntrackd filters its own commits the same way), so a backup that commits
  its peer's entries does not send them back. A socket filter drops them in the
  kernel (``own_events_filter``): read and dropped here, the 100,000 events of a
  takeover's commit overran the event socket, and each overrun cost a full dump
  while the commit ran (5 s instead of 0.5 s). ``events_paused()`` goes further
  for a commit followed by a dump: without listeners the kernel builds no events;
- ``commit()`` / ``commit_expectations()`` write entries the way a takeover
  needs them (see ``create_attrs``): the reply tuple is the inverse of the
  original and NAT is set up with ``CTA_NAT_SRC`` / ``CTA_NAT_DST``, because the
  kernel ignores NAT status bits and a copied NAT'd reply tuple translates
  nothing; TCP window tracking is relaxed (``BE_LIBERAL``) because a restored
  entry knows nothing of the windows in flight.

An event socket that overruns (ENOBUFS: the kernel dropped events) is useless to
pyroute2 afterwards; ``events()`` then replaces it and raises ``Overrun`` so the
caller dumps again and reconciles.

Costs: pyroute2's codec is pure Python (about 0.35 ms to encode a create
message, 0.2 ms to decode an entry). So messages are read by ``reader.Reader``
(pyroute2's schema, walked directly: about 25 us an entry with the conversion)
and written from ``templates.Templates`` (pyroute2's layout per message shape,
values packed in place: about 20 us). A backup goes further: ``prepare`` encodes
each of the peer's entries as it arrives, so a takeover only stamps sequence
numbers (100,000 entries in about 0.4 s, tests/ctsync_kernel/test_perf_lab.py).
Encoding and decoding still run in a worker thread, never in the event loop,
which keeps routerhad's timers on time during a bulk dump or commit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import dataclasses
import errno
import functools
import ipaddress
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Union

from pyroute2.netlink import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    nlmsg_base,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nfnetlink import (
    NFNLGRP_CONNTRACK_DESTROY,
    NFNLGRP_CONNTRACK_EXP_DESTROY,
    NFNLGRP_CONNTRACK_EXP_NEW,
    NFNLGRP_CONNTRACK_EXP_UPDATE,
    NFNLGRP_CONNTRACK_NEW,
    NFNLGRP_CONNTRACK_UPDATE,
)
from pyroute2.netlink.nfnetlink.nfctsocket import (
    IP_CT_TCP_FLAG_BE_LIBERAL,
    IP_CT_TCP_FLAG_CLOSE_INIT,
    IP_CT_TCP_FLAG_SACK_PERM,
    IP_CT_TCP_FLAG_WINDOW_SCALE,
)

from routerha import nlmsg
from routerha.ctsync.entry import (
    IPPROTO_DCCP,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPS_CONFIRMED,
    IPS_DYING,
    IPS_EXPECTED,
    IPS_NAT_MASK,
    IPS_SETTABLE,
    IPS_TEMPLATE,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.entry import decode as decode_entry
from routerha.ctsync.expectation import Expectation, ExpectationNat
from routerha.ctsync.nfct import (
    CT_DELETE,
    CT_GET,
    CT_NEW,
    EXP_DELETE,
    EXP_GET,
    EXP_NEW,
    CtSocket,
    ct_msg,
    exp_msg,
)
from routerha.ctsync.reader import Message, Reader
from routerha.ctsync.templates import Templates, restamp, restamp_all
from routerha.errors import RouterhaError
from routerha.ip import IPAddress

log = logging.getLogger("routerhad.ctsync")

IPPROTO_GRE = 47
IPPROTO_UDPLITE = 136
#: Protocols whose tuples carry ports (the GRE key is exported as ports too).
PORT_PROTOCOLS = frozenset(
    {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP, IPPROTO_GRE}
)
#: ICMP types the kernel tracks, and the type of the answer (``invmap`` in the kernel).
_ICMP_INVERSE = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}
_ICMPV6_INVERSE = {128: 129, 129: 128, 139: 140, 140: 139}

#: TCP flags a create sets per direction, the mask sent with them.
TCP_FLAGS_CONTROLLED = (
    IP_CT_TCP_FLAG_WINDOW_SCALE
    | IP_CT_TCP_FLAG_SACK_PERM
    | IP_CT_TCP_FLAG_CLOSE_INIT
    | IP_CT_TCP_FLAG_BE_LIBERAL
)
#: Status bits a create may carry: EXPECTED can only be set by the kernel (with a
#: master: EBUSY otherwise), NAT bits come from CTA_NAT_*, CONFIRMED is required.
CREATE_STATUS_MASK = IPS_SETTABLE & ~(IPS_EXPECTED | IPS_NAT_MASK)

_CT_GROUPS = (NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY)
_EXP_GROUPS = (
    NFNLGRP_CONNTRACK_EXP_NEW,
    NFNLGRP_CONNTRACK_EXP_UPDATE,
    NFNLGRP_CONNTRACK_EXP_DESTROY,
)
_EVENT_GROUPS = _CT_GROUPS + _EXP_GROUPS
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
NETLINK_NETFILTER = 12
EVENTS_SYSCTL = "net/netfilter/nf_conntrack_events"

#: Requests in flight at once, and per send(). The kernel answers them into the
#: request socket's buffer while it handles the send (only errors, and the last
#: one), so a chunk's answers (with an echo of the request on error, about 1 KiB
#: each in socket accounting) must fit in it.
PIPELINE_WINDOW = 1024
PIPELINE_CHUNK = 128
REQUEST_BUFFER = 8 << 20
#: How far the event buffer may grow, overrun after overrun (see ``ConntrackTable``).
EVENT_BUFFER_GROWTH = 16
#: Give up on acknowledgements, or on a dump, that makes no progress for this long.
ACK_TIMEOUT = 10.0
DUMP_TIMEOUT = 30.0
#: Event datagrams read per wake-up of the loop, and the largest one (an event is
#: one netlink message, well under 1 KiB; a dump's datagrams never come here).
READ_BATCH = 256
EVENT_DATAGRAM = 1 << 16
#: Our own sequence numbers for pipelined requests stay above pyroute2's (<= 0xFFFF).
_SEQ_FIRST = 0x01000000
_SEQ_LAST = 0xFFFFFF00


class Overrun(RouterhaError):
    """Conntrack events were lost (the event socket overran); dump again and reconcile.

    Raised by ``events()`` after it has already replaced and resubscribed the socket,
    so the next ``events()`` call works and misses nothing that happens from now on.
    """


@dataclass(frozen=True)
class CtEvent:
    #: "new", "update" or "destroy" (expectations: "new" and "destroy").
    kind: str
    entry: Entry | Expectation


class Prepared(NamedTuple):
    """An entry of the peer's with its create message encoded ahead of a takeover.

    ``prepare`` makes it when the entry arrives, so that a takeover only stamps
    sequence numbers on ready bytes: the commit of a large table then costs the
    kernel's time, not the encoder's. A tuple: a backup holds one per entry.
    """

    key: bytes
    #: The sync state it was made from (the caller compares it with the current one).
    state: bytes
    message: bytes
    #: IPS_EXPECTED: committed after the masters.
    expected: bool

    def entry(self) -> Entry:
        return decode_entry(self.key, self.state)


def prepare(
    key: bytes, state: bytes, min_timeout: int, timeout: Callable[[Entry], int] | None = None
) -> Prepared:
    """The create message of the entry behind a sync key and state (SyncError if malformed).

    ``timeout``: the timeout the entry gets, from the entry (instead of its own
    raised to ``min_timeout``), so that a peer's cannot exceed the kernel's own.
    """
    entry = decode_entry(key, state)
    if timeout is not None:
        entry, min_timeout = dataclasses.replace(entry, timeout=timeout(entry)), 0
    message = _encode(
        ct_msg,
        _family(entry.original.src),
        CT_NEW,
        NLM_F_CREATE | NLM_F_EXCL,
        0,
        create_attrs(entry, min_timeout),
    )
    return Prepared(key, state, message, bool(entry.status & IPS_EXPECTED))


@dataclass
class CommitResult:
    created: int = 0
    #: Existed already (EEXIST): the live entry was kept, the peer's state left out.
    kept: int = 0
    #: What the kernel refused, with the errno it gave.
    failed: list[tuple[Any, int]] = field(default_factory=list)


# Conversions: messages <-> Entry / Expectation ---------------------------------------


def inverse(t: Tuple) -> Tuple:
    """The tuple of the answer to ``t`` without NAT, as the kernel computes it.

    For ICMP the id stays and the type becomes the answer's (echo request 8 ->
    echo reply 0); other protocols swap addresses and ports.
    """
    if t.proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        table = _ICMP_INVERSE if t.proto == IPPROTO_ICMP else _ICMPV6_INVERSE
        kind, code = t.dport >> 8, t.dport & 0xFF
        return Tuple(t.dst, t.src, t.proto, t.sport, (table.get(kind, kind) << 8) | code)
    return Tuple(t.dst, t.src, t.proto, t.dport, t.sport)


def _values(nla: Any, names: Collection[str] | None = None) -> dict[str, Any]:
    """Name -> value of an NLA chain, decoding only ``names`` (pyroute2 decodes lazily).

    ``nla`` is a pyroute2 message or NLA, or what ``READER`` made of one (a dict).
    """
    if isinstance(nla, dict) and not isinstance(nla, nlmsg_base):  # pyroute2's are dicts too
        return nla  # already decoded: nothing to spare by leaving names out
    out = {}
    for slot in nla["attrs"]:
        name = slot.cell[0]
        if names is None or name in names:
            out[name] = slot.get_value()
    return out


@functools.lru_cache(maxsize=16384)
def _address(value: str) -> IPAddress:
    """The address object of an address string, cached (for its users: immutable).

    Parsing takes about 1.7 us, four times an entry, a sixth of reading one; and
    connections share few addresses (clients, servers, the NAT address), so a dump
    or a burst of events mostly finds them here. Bounded: a few MB at most.
    """
    return ipaddress.ip_address(value)


def tuple_from_nla(nla: Any) -> tuple[Tuple, int | None]:
    """A ``cta_tuple`` as a Tuple, and its directional zone (``CTA_TUPLE_ZONE``) if any."""
    attrs = _values(nla)
    ip = _values(attrs["CTA_TUPLE_IP"])
    proto = _values(attrs["CTA_TUPLE_PROTO"])
    if "CTA_IP_V4_SRC" in ip:
        src, dst = _address(ip["CTA_IP_V4_SRC"]), _address(ip["CTA_IP_V4_DST"])
    else:
        src, dst = _address(ip["CTA_IP_V6_SRC"]), _address(ip["CTA_IP_V6_DST"])
    number = proto["CTA_PROTO_NUM"]
    if number == IPPROTO_ICMP:
        sport = proto.get("CTA_PROTO_ICMP_ID", 0)
        dport = (proto.get("CTA_PROTO_ICMP_TYPE", 0) << 8) | proto.get("CTA_PROTO_ICMP_CODE", 0)
    elif number == IPPROTO_ICMPV6:
        sport = proto.get("CTA_PROTO_ICMPV6_ID", 0)
        dport = (proto.get("CTA_PROTO_ICMPV6_TYPE", 0) << 8) | proto.get("CTA_PROTO_ICMPV6_CODE", 0)
    else:
        sport = proto.get("CTA_PROTO_SRC_PORT", 0)
        dport = proto.get("CTA_PROTO_DST_PORT", 0)
    return Tuple(src, dst, number, sport, dport), attrs.get("CTA_TUPLE_ZONE")


def tuple_attrs(t: Tuple) -> dict[str, Any]:
    """A Tuple as ``cta_tuple`` attributes (ICMP: id, type, code; port protocols: ports)."""
    v = "CTA_IP_V4" if t.src.version == 4 else "CTA_IP_V6"
    proto: list[tuple[str, int]] = [("CTA_PROTO_NUM", t.proto)]
    if t.proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        p = "CTA_PROTO_ICMP" if t.proto == IPPROTO_ICMP else "CTA_PROTO_ICMPV6"
        proto += [(p + "_ID", t.sport), (p + "_TYPE", t.dport >> 8), (p + "_CODE", t.dport & 0xFF)]
    elif t.proto in PORT_PROTOCOLS:
        proto += [("CTA_PROTO_SRC_PORT", t.sport), ("CTA_PROTO_DST_PORT", t.dport)]
    return {
        "attrs": [
            ("CTA_TUPLE_IP", {"attrs": [(v + "_SRC", str(t.src)), (v + "_DST", str(t.dst))]}),
            ("CTA_TUPLE_PROTO", {"attrs": proto}),
        ]
    }


_ENTRY_ATTRS = frozenset(
    {
        "CTA_TUPLE_ORIG",
        "CTA_TUPLE_REPLY",
        "CTA_STATUS",
        "CTA_TIMEOUT",
        "CTA_MARK",
        "CTA_ZONE",
        "CTA_PROTOINFO",
        "CTA_HELP",
    }
)


def entry_from_msg(msg: Any) -> Entry | None:
    """A conntrack message (dump, event or get) as an Entry.

    None for what an Entry cannot represent: an entry whose zone applies to one
    direction only (``CTA_TUPLE_ZONE``), or a message without both tuples.
    ``tcp`` is None when the message carries no TCP protoinfo (some UPDATE events).
    """
    attrs = _values(msg, _ENTRY_ATTRS)
    if "CTA_TUPLE_ORIG" not in attrs or "CTA_TUPLE_REPLY" not in attrs:
        return None
    original, zone_original = tuple_from_nla(attrs["CTA_TUPLE_ORIG"])
    reply, zone_reply = tuple_from_nla(attrs["CTA_TUPLE_REPLY"])
    if zone_original is not None or zone_reply is not None:
        return None
    tcp = None
    protoinfo = attrs.get("CTA_PROTOINFO")
    if protoinfo is not None:
        info = _values(protoinfo).get("CTA_PROTOINFO_TCP")
        if info is not None:
            values = _values(info)
            tcp = TcpInfo(
                state=values.get("CTA_PROTOINFO_TCP_STATE", 0),
                flags_original=values.get("CTA_PROTOINFO_TCP_FLAGS_ORIGINAL", (0, 0))[0],
                flags_reply=values.get("CTA_PROTOINFO_TCP_FLAGS_REPLY", (0, 0))[0],
                wscale_original=values.get("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL", 0),
                wscale_reply=values.get("CTA_PROTOINFO_TCP_WSCALE_REPLY", 0),
            )
    helper = None
    if "CTA_HELP" in attrs:
        helper = _values(attrs["CTA_HELP"]).get("CTA_HELP_NAME") or None
    return Entry(
        original=original,
        reply=reply,
        zone=attrs.get("CTA_ZONE", 0),
        status=attrs.get("CTA_STATUS", 0),
        timeout=attrs.get("CTA_TIMEOUT", 0),
        mark=attrs.get("CTA_MARK", 0),
        tcp=tcp,
        helper=helper,
    )


def nat_bindings(entry: Entry) -> tuple[tuple[IPAddress, int | None] | None, ...]:
    """(SNAT, DNAT) targets behind ``entry``'s reply tuple, each (address, port) or None.

    The reply tuple is the inverse of the original with the translations applied:
    SNAT shows as a reply destination (and port) other than the original source,
    DNAT as a reply source (and port) other than the original destination. The port
    is pinned (None for protocols without ports) so the binding is reproduced exactly.
    For ICMP the "port" is the echo id, pinned in each binding; an id that changed
    while the addresses did not (a clash) counts as SNAT.
    """
    plain = inverse(entry.original)
    reply = entry.reply
    proto = entry.original.proto
    if proto in PORT_PROTOCOLS:
        snat = dnat = None
        if reply.dst != plain.dst or reply.dport != plain.dport:
            snat = (reply.dst, reply.dport)
        if reply.src != plain.src or reply.sport != plain.sport:
            dnat = (reply.src, reply.sport)
        return snat, dnat
    if proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        id_changed = reply.sport != plain.sport
        source = reply.dst != plain.dst
        destination = reply.src != plain.src
        snat = (reply.dst, reply.sport) if source or (id_changed and not destination) else None
        dnat = (reply.src, reply.sport) if destination else None
        return snat, dnat
    snat = (reply.dst, None) if reply.dst != plain.dst else None
    dnat = (reply.src, None) if reply.src != plain.src else None
    return snat, dnat


def _nat_range(address: IPAddress, port: int | None) -> dict[str, Any]:
    v = "CTA_NAT_V4" if address.version == 4 else "CTA_NAT_V6"
    attrs: list[tuple[str, Any]] = [(v + "_MINIP", str(address)), (v + "_MAXIP", str(address))]
    if port is not None:
        attrs.append(
            (
                "CTA_NAT_PROTO",
                {"attrs": [("CTA_PROTONAT_PORT_MIN", port), ("CTA_PROTONAT_PORT_MAX", port)]},
            )
        )
    return {"attrs": attrs}


def tcp_flags(flags: int, wscale_known: bool) -> int:
    """The TCP flags a restored direction gets: be liberal, keep SACK/close/window-scale.

    A restored entry has no window data; with BE_LIBERAL the kernel does not drop
    in-flight segments as out of window. WINDOW_SCALE (with the scale) lets it
    track windows correctly again from the next packets.
    """
    out = (flags & TCP_FLAGS_CONTROLLED) | IP_CT_TCP_FLAG_BE_LIBERAL
    if wscale_known:
        out |= IP_CT_TCP_FLAG_WINDOW_SCALE
    return out


def create_attrs(entry: Entry, min_timeout: int = 0) -> list[tuple[str, Any]]:
    """The attributes of an IPCTNL_MSG_CT_NEW that recreates ``entry`` elsewhere.

    Reply tuple = inverse of the original, NAT as CTA_NAT_SRC / CTA_NAT_DST, status
    limited to what a create may set plus CONFIRMED (the kernel confirms new entries
    and refuses a status that would clear it), TCP state and wscale with BE_LIBERAL
    and WINDOW_SCALE set *with* the flag mask (the kernel applies flags & mask).
    """
    attrs: list[tuple[str, Any]] = [
        ("CTA_TUPLE_ORIG", tuple_attrs(entry.original)),
        ("CTA_TUPLE_REPLY", tuple_attrs(inverse(entry.original))),
        ("CTA_TIMEOUT", max(entry.timeout, min_timeout)),
        ("CTA_STATUS", (entry.status & CREATE_STATUS_MASK) | IPS_CONFIRMED),
    ]
    snat, dnat = nat_bindings(entry)
    if snat is not None:
        attrs.append(("CTA_NAT_SRC", _nat_range(*snat)))
    if dnat is not None:
        attrs.append(("CTA_NAT_DST", _nat_range(*dnat)))
    if entry.mark:
        attrs.append(("CTA_MARK", entry.mark))
    if entry.zone:
        attrs.append(("CTA_ZONE", entry.zone))
    if entry.original.proto == IPPROTO_TCP:
        info: list[tuple[str, Any]] = []
        tcp = entry.tcp
        if tcp is not None:
            flags = tcp.flags_original, tcp.flags_reply
            wscale = tcp.wscale_original, tcp.wscale_reply
            info += [
                ("CTA_PROTOINFO_TCP_STATE", tcp.state),
                ("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL", tcp.wscale_original),
                ("CTA_PROTOINFO_TCP_WSCALE_REPLY", tcp.wscale_reply),
            ]
        else:
            flags, wscale = (0, 0), (0, 0)
        for direction, name in enumerate(("ORIGINAL", "REPLY")):
            known = bool(wscale[direction] or flags[direction] & IP_CT_TCP_FLAG_WINDOW_SCALE)
            value = tcp_flags(flags[direction], known)
            info.append(
                (f"CTA_PROTOINFO_TCP_FLAGS_{name}", {"value": (value, TCP_FLAGS_CONTROLLED)})
            )
        attrs.append(("CTA_PROTOINFO", {"attrs": [("CTA_PROTOINFO_TCP", {"attrs": info})]}))
    if entry.helper:
        attrs.append(("CTA_HELP", {"attrs": [("CTA_HELP_NAME", entry.helper)]}))
    return attrs


def key_attrs(entry: Entry) -> list[tuple[str, Any]]:
    """What finds an entry in the kernel: original tuple and zone."""
    attrs: list[tuple[str, Any]] = [("CTA_TUPLE_ORIG", tuple_attrs(entry.original))]
    if entry.zone:
        attrs.append(("CTA_ZONE", entry.zone))
    return attrs


_EXP_ATTRS = frozenset(
    {
        "CTA_EXPECT_MASTER",
        "CTA_EXPECT_TUPLE",
        "CTA_EXPECT_MASK",
        "CTA_EXPECT_TIMEOUT",
        "CTA_EXPECT_HELP_NAME",
        "CTA_EXPECT_ZONE",
        "CTA_EXPECT_FLAGS",
        "CTA_EXPECT_CLASS",
        "CTA_EXPECT_NAT",
        "CTA_EXPECT_FN",
    }
)


def expectation_from_msg(msg: Any) -> Expectation | None:
    """An expectation message (dump or event) as an Expectation; None if incomplete."""
    attrs = _values(msg, _EXP_ATTRS)
    if not {"CTA_EXPECT_MASTER", "CTA_EXPECT_TUPLE", "CTA_EXPECT_MASK"} <= attrs.keys():
        return None
    master, _zone = tuple_from_nla(attrs["CTA_EXPECT_MASTER"])
    expected, _zone = tuple_from_nla(attrs["CTA_EXPECT_TUPLE"])
    mask, _zone = tuple_from_nla(attrs["CTA_EXPECT_MASK"])
    nat = None
    if "CTA_EXPECT_NAT" in attrs:
        values = _values(attrs["CTA_EXPECT_NAT"])
        if "CTA_EXPECT_NAT_TUPLE" in values:
            nat_tuple, _zone = tuple_from_nla(values["CTA_EXPECT_NAT_TUPLE"])
            nat = ExpectationNat(values.get("CTA_EXPECT_NAT_DIR", 0), nat_tuple)
    return Expectation(
        master=master,
        expected=expected,
        mask=mask,
        zone=attrs.get("CTA_EXPECT_ZONE", 0),
        timeout=attrs.get("CTA_EXPECT_TIMEOUT", 0),
        helper=attrs.get("CTA_EXPECT_HELP_NAME") or None,
        flags=attrs.get("CTA_EXPECT_FLAGS", 0),
        expect_class=attrs.get("CTA_EXPECT_CLASS", 0),
        nat=nat,
        fn=attrs.get("CTA_EXPECT_FN") or None,
    )


def expectation_key_attrs(item: Expectation) -> list[tuple[str, Any]]:
    """What finds an expectation in the kernel: expected tuple and zone."""
    attrs: list[tuple[str, Any]] = [("CTA_EXPECT_TUPLE", tuple_attrs(item.expected))]
    if item.zone:
        attrs.append(("CTA_EXPECT_ZONE", item.zone))
    return attrs


def expectation_attrs(item: Expectation) -> list[tuple[str, Any]]:
    """The attributes of an IPCTNL_MSG_EXP_NEW that recreates ``item``.

    The master must exist (same zone) with a helper, or the kernel answers
    ENOENT / EOPNOTSUPP. The kernel ignores the timeout on create (it takes the
    helper policy's); ``commit_expectations`` sets it with a second, updating message.
    """
    attrs: list[tuple[str, Any]] = [
        ("CTA_EXPECT_MASTER", tuple_attrs(item.master)),
        ("CTA_EXPECT_TUPLE", tuple_attrs(item.expected)),
        ("CTA_EXPECT_MASK", tuple_attrs(item.mask)),
    ]
    if item.timeout:
        attrs.append(("CTA_EXPECT_TIMEOUT", item.timeout))
    if item.zone:
        attrs.append(("CTA_EXPECT_ZONE", item.zone))
    if item.helper:
        attrs.append(("CTA_EXPECT_HELP_NAME", item.helper))
        if item.expect_class:
            attrs.append(("CTA_EXPECT_CLASS", item.expect_class))
    if item.flags:
        attrs.append(("CTA_EXPECT_FLAGS", item.flags))
    if item.nat is not None:
        nat = [
            ("CTA_EXPECT_NAT_DIR", item.nat.dir),
            ("CTA_EXPECT_NAT_TUPLE", tuple_attrs(item.nat.tuple)),
        ]
        attrs.append(("CTA_EXPECT_NAT", {"attrs": nat}))
    if item.fn:
        attrs.append(("CTA_EXPECT_FN", item.fn))
    return attrs


#: Conntrack and expectation messages read with pyroute2's schema (reader.py).
READER = Reader(
    {
        CT_NEW: ct_msg, CT_DELETE: ct_msg, CT_GET: ct_msg,
        EXP_NEW: exp_msg, EXP_DELETE: exp_msg, EXP_GET: exp_msg,
    }
)  # fmt: skip

#: Encoders per message class: pyroute2's layout, reused per message shape.
TEMPLATES = {ct_msg: Templates(ct_msg), exp_msg: Templates(exp_msg)}


def _encode(
    kind: type[nlmsg_base], family: int, mtype: int, flags: int, seq: int, attrs: list
) -> bytes:
    return TEMPLATES[kind].encode(family, mtype, flags, seq, attrs)


def _family(address: IPAddress) -> int:
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


# Namespaces --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
    elif _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _in_netns(netns: str | None, function: Callable[[], Any]) -> Any:
    """Run ``function`` in network namespace ``netns`` (a name in /run/netns or a path).

    The namespace is per thread, so a short-lived thread enters it; sockets it
    makes stay there, and /proc/sys/net files it opens are that namespace's.
    """
    if netns is None:
        return function()
    path = netns if "/" in netns else f"/run/netns/{netns}"
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            target = os.open(path, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            result["value"] = function()
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="ctsync-netns")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# Sockets -----------------------------------------------------------------------------


class _RequestSocket(CtSocket):
    """The socket for dumps and writes; also the origin our own events carry.

    pyroute2 parses whatever arrives in the event loop and waits for each
    request's answers on a queue per sequence number. Dumps and pipelined writes
    here use sequence numbers of their own instead (above pyroute2's), and this
    socket hands their datagrams, unparsed, to ``handlers`` (by the sequence
    number of the first message): parsing 100,000 dumped entries in the event
    loop would block it for seconds, so it happens in a worker thread. Answers
    nobody waits for are dropped instead of piling up in pyroute2's default
    queue. When the socket fails (pyroute2 gives up on it after an error such as
    ENOBUFS), every waiter is woken.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handlers: dict[int, Callable[[bytes], None]] = {}
        self.on_failure: set[Callable[[], None]] = set()

    def enqueue(self, data: bytes, addr: Any) -> None:
        if self._error_event.is_set():
            for queue in list(self.msg_queue.queues.values()):
                queue.put_nowait(data)
            for callback in list(self.on_failure):
                callback()
            return
        if len(data) < 16:
            return
        seq = nlmsg.HEADER.unpack_from(data)[3]
        handler = self.handlers.get(seq)
        if handler is not None:
            handler(data)
        elif seq in self.msg_queue.queues:
            self.msg_queue.put_nowait(seq, data)

    @property
    def failed(self) -> bool:
        return self._error_event.is_set()


class _EventSocket:
    """The socket subscribed to events: a plain netlink socket, read in batches.

    Every time it is readable, up to ``READ_BATCH`` datagrams are read at once (an
    event is one datagram: a burst of 100,000 new flows is 100,000 of them, and a
    loop turn per datagram was half of the cost of an event). At most ``limit``
    bytes wait unread in userspace, and more means an overrun as surely as a full
    kernel buffer (ENOBUFS) does: the consumer lags, events are dropped and it must
    resynchronise with a dump. Events our own writes caused (the originating port
    id is in the netlink header) are dropped by the kernel (``own_events_filter``);
    those of port ids the filter does not hold (it keeps the most recent) are
    dropped here on arrival, unparsed, and so are expectation events when none are
    wanted.
    """

    def __init__(
        self, sock: socket.socket, limit: int, own: Collection[int], expectations: bool
    ) -> None:
        sock.setblocking(False)
        self.socket = sock
        self.limit = limit
        self.own = own
        self.expectations = expectations
        self.backlog: collections.deque[bytes] = collections.deque()
        self.queued = 0
        self.failure: str | None = None
        self.wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def bind(self, groups: int) -> None:
        self.socket.bind((0, groups))
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.socket.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self.socket
        for _count in range(READ_BATCH):
            try:
                data = sock.recv(EVENT_DATAGRAM)
            except BlockingIOError:
                break
            except OSError as exc:  # ENOBUFS: the kernel dropped events
                self.fail(f"socket error: {exc}")
                break
            self.enqueue(data)
            if self.failure is not None:
                break
        if self.backlog or self.failure is not None:
            self.wakeup.set()

    def enqueue(self, data: bytes) -> None:
        if self.failure is not None:
            return
        if len(data) >= nlmsg.HEADER.size and self._unwanted(data):
            return
        if self.queued + len(data) > self.limit:
            self.fail(f"more than {self.limit} bytes of events waiting")
            return
        self.backlog.append(data)
        self.queued += len(data)

    def _unwanted(self, data: bytes) -> bool:
        _length, mtype, _flags, _seq, portid = nlmsg.HEADER.unpack_from(data)
        return portid in self.own or (mtype >> 8 == _SUBSYS_EXP and not self.expectations)

    def fail(self, reason: str) -> None:
        """Count as an overrun: the reader replaces the socket, the consumer dumps again.
        Nothing more is read from this one (it would only be dropped)."""
        if self.failure is None:
            self.failure = reason
            self.backlog.clear()
            self.queued = 0
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.socket.fileno())
        self.wakeup.set()

    def shutdown(self) -> None:
        """Wake a waiting reader for good (the table is closing)."""
        self.failure = "closed"
        self.backlog.clear()
        self.queued = 0
        self.wakeup.set()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.socket.fileno())
        self._loop = None
        self.socket.close()

    async def datagrams(self, most: int = 512) -> list[bytes]:
        """Up to ``most`` waiting datagrams (at least one); _SocketFailed after an overrun."""
        while not self.backlog:
            if self.failure is not None:
                raise _SocketFailed(self.failure)
            self.wakeup.clear()
            await self.wakeup.wait()
        if self.failure is not None:
            raise _SocketFailed(self.failure)
        out = [self.backlog.popleft() for _count in range(min(most, len(self.backlog)))]
        self.queued -= sum(map(len, out))
        return out


class _SocketFailed(Exception):
    pass


#: Classic BPF (struct sock_filter: code, jt, jf, k) for ``own_events_filter``.
_BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32 bits at k, read big-endian
_BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_BPF_RET_K = 0x06  # BPF_RET | BPF_K
_SOCK_FILTER = struct.Struct("=HBBI")
#: Offset of nlmsg_pid in struct nlmsghdr.
_NLMSG_PID_OFFSET = 12
#: Port ids a filter drops at most (a jump offset is 8 bits); the most recent ones.
OWN_FILTER_MAX = 64


def own_events_filter(portids: Iterable[int]) -> bytes:
    """A socket filter program (struct sock_filter[]) dropping messages from ``portids``.

    The kernel stamps an event with the port id of the netlink socket whose request
    caused it, and runs a socket's filter before queueing a multicast message for it.
    A commit of 100,000 entries causes 100,000 events: read by the event loop they
    kept it busy and overran the buffer (ENOBUFS, then a full dump to resynchronise,
    one after another, during the commit); filtered they never arrive.
    """
    own = list(dict.fromkeys(portids))[-OWN_FILTER_MAX:]
    # BPF loads words in network byte order; nlmsg_pid is in host order.
    values = [int.from_bytes(p.to_bytes(4, sys.byteorder), "big") for p in own]
    drop = len(values) + 2
    program = [(_BPF_LD_W_ABS, 0, 0, _NLMSG_PID_OFFSET)]
    for index, value in enumerate(values, 1):
        program.append((_BPF_JEQ_K, drop - index - 1, 0, value))
    program += [(_BPF_RET_K, 0, 0, 0xFFFFFFFF), (_BPF_RET_K, 0, 0, 0)]
    return b"".join(_SOCK_FILTER.pack(*insn) for insn in program)


def attach_filter(sock: socket.socket, program: bytes) -> None:
    """SO_ATTACH_FILTER (replaces the socket's filter at once; the kernel copies the program)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("@HP", len(program) // _SOCK_FILTER.size, ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


_SUBSYS_EXP = EXP_NEW >> 8


def _close(sock: CtSocket | _EventSocket | None) -> None:
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


#: A request for ``_pipeline``: message class, family, type, flags, attributes.
Request = tuple[type, int, int, int, list]
#: What ``_pipeline`` takes: a function making a Request, or a prepared message.
Requested = Union[Callable[[], Request], bytes]


def _parse_dump(datagrams: list[bytes], convert: Callable[[Any], Any]) -> tuple[list, bool, int]:
    """Parse dump datagrams and convert each message (in a worker thread).

    Returns the converted items (None left out), whether the dump is complete
    (NLMSG_DONE), and the errno if the kernel answered with an error.
    """
    items = []
    for data in datagrams:
        for msg in READER.messages(data):
            if msg.error is not None:
                return items, True, msg.error
            if msg.type == NLMSG_DONE:
                return items, True, 0
            if msg.attrs is not None:
                item = convert(msg.attrs)
                if item is not None:
                    items.append(item)
    return items, False, 0


# The table ---------------------------------------------------------------------------


class ConntrackTable:
    """One router's conntrack table (the current network namespace, or ``netns``).

    ``zone_filter``: zones to sync (a collection of zone ids); None means all.
    ``dump``, ``dump_expectations``, ``events`` and a filtered ``flush`` leave
    other zones alone.
    ``event_buffer``: bytes of kernel socket buffer for events (SO_RCVBUFFORCE),
    and the most that may wait unread in userspace before that counts as an overrun.
    After an overrun the new socket gets twice as much, up to ``event_buffer_max``
    (by default ``EVENT_BUFFER_GROWTH`` times ``event_buffer``; conntrackd's
    NetlinkBufferSizeMaxGrowth): a burst that overran once does not overrun the
    repair too, nor the next burst like it.
    ``expect_helpers``: helpers whose expectations ``events()`` reports too (VyOS
    ``expect-sync``), as CtEvents whose ``entry`` is an Expectation. By default none:
    every CtEvent then carries an Entry. ``dump_expectations`` is not filtered by it.
    ``netns``: work in this named network namespace instead of the current one.
    """

    def __init__(
        self,
        *,
        zone_filter: Collection[int] | None = None,
        event_buffer: int = 8 << 20,
        event_buffer_max: int | None = None,
        expect_helpers: Collection[str] = (),
        netns: str | None = None,
    ) -> None:
        self.zone_filter = frozenset(zone_filter) if zone_filter is not None else None
        self.event_buffer = event_buffer
        self.event_buffer_max = max(
            event_buffer,
            event_buffer * EVENT_BUFFER_GROWTH if event_buffer_max is None else event_buffer_max,
        )
        self.expect_helpers = frozenset(expect_helpers)
        self.netns = netns
        self._events: _EventSocket | None = None
        self._requests: _RequestSocket | None = None
        #: Port ids of our request sockets, past and present: their events are ours
        #: (a dict for the order: the kernel's filter holds the most recent ones).
        self._own: dict[int, None] = {}
        self._seq = _SEQ_FIRST
        self._closed = False
        #: Overruns so far, and UPDATE events completed by reading the entry.
        self.overruns = 0
        self.partial_events = 0

    # Lifecycle

    async def open(self) -> None:
        """Subscribe to events first (nothing is missed while dumping), then open for requests."""
        self._closed = False
        self._enable_events()
        self._events = await self._open_events()
        self._requests = await self._open_requests()

    def close(self) -> None:
        """Close the sockets; an ``events()`` iteration waiting ends (no Overrun)."""
        self._closed = True
        events, self._events = self._events, None
        if events is not None:
            events.shutdown()
        _close(events)
        _close(self._requests)
        self._requests = None

    @contextlib.contextmanager
    def events_paused(self) -> Iterator[None]:
        """Leave the event groups meanwhile (NETLINK_DROP_MEMBERSHIP), then join again.

        For a bulk write whose events nobody needs: unless another program listens
        to conntrack events, the kernel then builds none (about a fifth of the time
        of a commit, whose events ``own_events_filter`` would only drop). Changes
        others make meanwhile are not reported either: the caller dumps the table
        afterwards (a takeover does). If joining again fails, ``events()`` raises
        Overrun, as if events had been lost.
        """
        sock = self._events
        left: list[int] = []
        if sock is not None:
            try:
                for group in _EVENT_GROUPS:
                    sock.socket.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, group)
                    left.append(group)
            except OSError as exc:
                log.warning("cannot pause conntrack events: %s", exc)
        try:
            yield
        finally:
            if left and sock is self._events:  # not replaced (joined at bind) nor closed
                try:
                    for group in left:
                        sock.socket.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
                except OSError as exc:
                    sock.fail(f"cannot subscribe to conntrack events again: {exc}")

    def _enable_events(self) -> None:
        """nf_conntrack_events=1: events for every entry, not only those made while listened to.

        With the default 2 an entry created while no listener existed has no event
        extension and never reports its update or destruction.
        """
        path = Path("/proc/sys") / EVENTS_SYSCTL

        def write() -> None:
            if path.read_text().strip() != "1":
                path.write_text("1\n")

        try:
            _in_netns(self.netns, write)
        except OSError as exc:
            log.warning(
                "cannot set net.netfilter.nf_conntrack_events=1 (%s): entries made "
                "before we listened may never report their destruction",
                exc,
            )

    def _new_socket(self, kind: type[CtSocket], **kwargs: Any) -> Any:
        if self.netns is not None:

            def make() -> int:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_NETFILTER)
                return sock.detach()

            kwargs["fileno"] = _in_netns(self.netns, make)
        return kind(**kwargs)

    def _force_buffer(self, sock: CtSocket | _EventSocket, size: int) -> None:
        raw = sock.socket
        try:
            raw.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except PermissionError:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            log.warning("conntrack socket buffer limited by net.core.rmem_max (no CAP_NET_ADMIN)")

    async def _open_events(self) -> _EventSocket:
        def make() -> int:
            raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            return raw.detach()

        fileno = _in_netns(self.netns, make)
        raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER, fileno)
        sock = _EventSocket(
            raw,
            limit=self.event_buffer,
            own=self._own,
            expectations=bool(self.expect_helpers),
        )
        try:
            self._force_buffer(sock, self.event_buffer)
            self._filter_own_events(sock)
            groups = 0
            for group in _EVENT_GROUPS:
                groups |= 1 << (group - 1)
            await sock.bind(groups=groups)
        except BaseException:
            _close(sock)
            raise
        return sock

    async def _open_requests(self) -> _RequestSocket:
        sock = self._new_socket(_RequestSocket, rcvbuf=REQUEST_BUFFER)
        try:
            self._force_buffer(sock, REQUEST_BUFFER)
            await sock.bind()
            self._own[sock.socket.getsockname()[0]] = None
        except BaseException:
            _close(sock)
            raise
        if self._events is not None:
            # Before the first write from the new port id.
            self._filter_own_events(self._events)
        return sock

    def _filter_own_events(self, sock: _EventSocket) -> None:
        """Have the kernel drop the events our writes cause (``own_events_filter``).

        Without it they are still dropped, in userspace (``_EventSocket``), but a
        large commit then overruns the event socket.
        """
        try:
            attach_filter(sock.socket, own_events_filter(self._own))
        except OSError as exc:
            log.warning("cannot filter our own conntrack events in the kernel: %s", exc)

    async def _request_socket(self) -> _RequestSocket:
        sock = self._requests
        if sock is None:
            raise RuntimeError("ConntrackTable is not open")
        if sock.failed:
            log.warning("conntrack request socket failed; opening a new one")
            _close(sock)
            self._requests = sock = await self._open_requests()
        return sock

    @property
    def portid(self) -> int:
        """The netlink port id our writes come from (the origin of their events)."""
        if self._requests is None:
            raise RuntimeError("ConntrackTable is not open")
        return self._requests.socket.getsockname()[0]

    def _wanted(self, zone: int) -> bool:
        return self.zone_filter is None or zone in self.zone_filter

    def _next_seqs(self, count: int) -> range:
        if self._seq + count > _SEQ_LAST:
            self._seq = _SEQ_FIRST
        first = self._seq
        self._seq += count
        return range(first, first + count)

    # Reading

    async def _dump(self, kind: type, mtype: int, convert: Callable[[Any], Any]) -> list:
        """Dump (both families) and convert each message in a worker thread."""
        loop = asyncio.get_running_loop()
        sock = await self._request_socket()
        (seq,) = self._next_seqs(1)
        arrived: collections.deque[bytes] = collections.deque()
        wakeup = asyncio.Event()

        def handler(data: bytes) -> None:
            arrived.append(data)
            wakeup.set()

        def failure() -> None:
            wakeup.set()

        sock.handlers[seq] = handler
        sock.on_failure.add(failure)
        out: list = []
        try:
            sock.send(_encode(kind, socket.AF_UNSPEC, mtype, NLM_F_REQUEST | NLM_F_DUMP, seq, []))
            while True:
                while not arrived:
                    if sock.failed:
                        raise OSError(
                            errno.ENOBUFS, "conntrack request socket failed during a dump"
                        )
                    wakeup.clear()
                    try:
                        await asyncio.wait_for(wakeup.wait(), DUMP_TIMEOUT)
                    except asyncio.TimeoutError:
                        raise OSError(errno.ETIMEDOUT, "conntrack dump stalled") from None
                batch = list(arrived)
                arrived.clear()
                items, done, code = await loop.run_in_executor(None, _parse_dump, batch, convert)
                out += items
                if code:
                    raise NetlinkError(code, f"conntrack dump: {os.strerror(code)}")
                if done:
                    return out
        finally:
            sock.handlers.pop(seq, None)
            sock.on_failure.discard(failure)

    def _dumped_entry(self, msg: Any) -> Entry | None:
        entry = entry_from_msg(msg)
        if entry is None or not self._wanted(entry.zone):
            return None
        if entry.status & (IPS_TEMPLATE | IPS_DYING) or not entry.status & IPS_CONFIRMED:
            return None
        return entry

    def _dumped_expectation(self, msg: Any) -> Expectation | None:
        item = expectation_from_msg(msg)
        if item is None or not self._wanted(item.zone):
            return None
        return item

    async def dump(self) -> list[Entry]:
        """Every entry of both families (confirmed, alive, not a template) in the zones wanted."""
        return await self._dump(ct_msg, CT_GET, self._dumped_entry)

    async def dump_expectations(self) -> list[Expectation]:
        """Every expectation of both families in the zones wanted."""
        return await self._dump(exp_msg, EXP_GET, self._dumped_expectation)

    async def get(self, entry: Entry) -> Entry | None:
        """The kernel's current version of ``entry`` (by zone and original tuple), or None."""
        sock = await self._request_socket()
        msg = ct_msg()
        msg["nfgen_family"] = _family(entry.original.src)
        msg["attrs"] = key_attrs(entry)
        try:
            # The kernel flags its answer NLM_F_MULTI but ends it with no NLMSG_DONE:
            # ask for the acknowledgement, and stop at it.
            response = await sock.nlm_request(
                msg,
                CT_GET,
                msg_flags=NLM_F_REQUEST | NLM_F_ACK,
                terminate=lambda m: m["header"]["type"] == NLMSG_ERROR,
            )
            replies = [r async for r in response if r["header"]["type"] == CT_NEW]
        except NetlinkError as exc:
            if exc.code == errno.ENOENT:
                return None
            raise
        return entry_from_msg(replies[0]) if replies else None

    # Events

    async def events(self) -> AsyncIterator[CtEvent]:
        """Changes of the table (and of expectations) not caused by this table's writes.

        Raises Overrun (after replacing the event socket) when events were lost;
        ends when the table is closed. One consumer at a time.
        """
        loop = asyncio.get_running_loop()
        if self._events is None:
            raise RuntimeError("ConntrackTable is not open")
        while True:
            sock = self._events
            if sock is None:  # closed
                return
            try:
                datagrams = await sock.datagrams()
            except _SocketFailed as exc:
                if self._events is not sock:  # closed meanwhile
                    return
                await self._replace_event_socket(sock)
                raise Overrun(f"conntrack events lost: {exc}") from None
            events = await loop.run_in_executor(None, self._parse_events, datagrams)
            for event in events:
                complete = await self._complete(event)
                if complete is not None:
                    yield complete

    async def _complete(self, event: CtEvent) -> CtEvent | None:
        """The event with a whole entry: an UPDATE may lack the TCP protoinfo.

        The kernel puts protoinfo in an UPDATE only when the TCP state changed (not
        for a mark or status change); then the entry is read, so what is synced is
        complete. None if it is gone meanwhile (its DESTROY follows).
        """
        entry = event.entry
        if (
            not isinstance(entry, Entry)
            or event.kind == "destroy"
            or entry.tcp is not None
            or entry.original.proto != IPPROTO_TCP
        ):
            return event
        self.partial_events += 1
        try:
            current = await asyncio.wait_for(self.get(entry), ACK_TIMEOUT)
        except (NetlinkError, OSError, asyncio.TimeoutError) as exc:
            log.warning(
                "cannot read a changed conntrack entry (%r); its next event carries it", exc
            )
            return None
        return CtEvent(event.kind, current) if current is not None else None

    def _parse_events(self, datagrams: list[bytes]) -> list[CtEvent]:
        """Datagrams from the event socket as CtEvents (in a worker thread)."""
        out = []
        for data in datagrams:
            for msg in READER.messages(data):
                event = self._event_of(msg)
                if event is not None:
                    out.append(event)
        return out

    def _event_of(self, msg: Message) -> CtEvent | None:
        if msg.error is not None or msg.attrs is None or msg.pid in self._own:
            return None
        if msg.type in (CT_NEW, CT_DELETE):
            entry = entry_from_msg(msg.attrs)
            if entry is None or not self._wanted(entry.zone):
                return None
            return CtEvent(_event_kind(msg.type == CT_DELETE, msg.flags), entry)
        if msg.type in (EXP_NEW, EXP_DELETE):
            item = expectation_from_msg(msg.attrs)
            if (
                item is None
                or not self._wanted(item.zone)
                or item.helper not in self.expect_helpers
            ):
                return None
            return CtEvent(_event_kind(msg.type == EXP_DELETE, msg.flags), item)
        return None

    async def _replace_event_socket(self, old: _EventSocket) -> None:
        self.overruns += 1
        grown = min(self.event_buffer * 2, self.event_buffer_max)
        log.warning(
            "conntrack event socket overran (%s); resubscribing with %d MiB",
            old.failure,
            grown >> 20,
        )
        self.event_buffer = grown
        _close(old)
        self._events = None
        new = await self._open_events()
        if self._closed:
            _close(new)
        else:
            self._events = new

    # Writing

    async def _pipeline(self, requests: Sequence[Requested]) -> list[int]:
        """Send requests, many per send(); the errno of each (0: done).

        A request is a function making (message class, family, type, flags,
        attributes): the attributes are built and encoded in a worker thread
        (even from a template it takes tens of microseconds a message), so the
        event loop stays responsive. Or it is a message encoded already
        (``Prepared``), which only gets its flags and sequence number. The kernel
        handles the messages of one send() in order, so a request may rely on an
        earlier one (delete, then create).
        """
        if not requests:
            return []
        loop = asyncio.get_running_loop()
        flight = _Flight(await self._request_socket(), len(requests))

        def encode(chunk: Sequence[Requested], seqs: range) -> bytes:
            parts: list[bytes] = []
            for make, seq in zip(chunk, seqs):
                extra = NLM_F_REQUEST | (NLM_F_ACK if seq == seqs[-1] else 0)
                if isinstance(make, bytes):
                    parts.append(restamp(make, extra, seq))
                    continue
                kind, family, mtype, flags, attrs = make()
                parts.append(_encode(kind, family, mtype, flags | extra, seq, attrs))
            return b"".join(parts)

        def stamp(chunk: Sequence[Requested], seqs: range) -> bytes | None:
            """Prepared messages only: stamped in one buffer (microseconds, no thread)."""
            messages = [make for make in chunk if isinstance(make, bytes)]
            if len(messages) < len(chunk):
                return None
            return restamp_all(messages, NLM_F_REQUEST, seqs, NLM_F_ACK)

        try:
            for first in range(0, len(requests), PIPELINE_CHUNK):
                seqs = self._next_seqs(min(PIPELINE_CHUNK, len(requests) - first))
                chunk = requests[first : first + len(seqs)]
                data = stamp(chunk, seqs)
                if data is None:
                    data = await loop.run_in_executor(None, encode, chunk, seqs)
                if not await flight.wait_until(PIPELINE_WINDOW - len(seqs)):
                    break
                flight.send(data, first, seqs)
            else:
                await flight.wait_until(0)
        finally:
            flight.close()
        return flight.results

    async def commit(
        self, entries: Iterable[Entry | Prepared], *, min_timeout: int = 60
    ) -> CommitResult:
        """Create each entry in the kernel (see ``create_attrs``); never touch one that exists.

        Masters go before related entries (IPS_EXPECTED). An entry that exists
        (EEXIST) is the kernel's own state of that connection: it is kept and
        counted (``kept``); a peer's state never replaces it (tuples, NAT binding,
        mark, timeout stay). A kept TCP entry only has its window tracking made
        liberal, as a created one is: it may date from an earlier time as master, its
        windows long passed, and would find the connection's packets INVALID. A
        ``Prepared`` entry is sent as it was encoded (its timeout was settled then).
        """
        ordered = sorted(entries, key=_is_expected)
        result = CommitResult()

        def create(item: Entry | Prepared) -> Requested:
            if isinstance(item, Prepared):
                return item.message
            return lambda: (
                ct_msg,
                _family(item.original.src),
                CT_NEW,
                NLM_F_CREATE | NLM_F_EXCL,
                create_attrs(item, min_timeout),
            )

        codes = await self._pipeline([create(e) for e in ordered])
        if not any(codes):  # the usual case, and 100,000 of them on a takeover
            result.created = len(codes)
            return result
        kept_tcp = []
        for item, code in zip(ordered, codes):
            if code == 0:
                result.created += 1
            elif code == errno.EEXIST:
                result.kept += 1
                entry = _entry_of(item)
                if entry.original.proto == IPPROTO_TCP:
                    kept_tcp.append(entry)
            else:
                result.failed.append((_entry_of(item), code))
        for entry, code in zip(kept_tcp, await self._pipeline([_liberal(e) for e in kept_tcp])):
            if code not in (0, errno.ENOENT):  # ENOENT: it ended meanwhile
                result.failed.append((entry, code))
        return result

    async def delete(self, entry: Entry) -> None:
        """Delete ``entry`` (zone and original tuple) if it exists."""
        (code,) = await self._pipeline([_delete_request(entry)])
        if code not in (0, errno.ENOENT):
            raise NetlinkError(code, f"deleting a conntrack entry: {os.strerror(code)}")

    async def flush(self) -> None:
        """Delete every entry and expectation (only those of ``zone_filter``'s zones if set)."""
        if self.zone_filter is None:
            requests = [
                lambda: (ct_msg, socket.AF_UNSPEC, CT_DELETE, 0, []),
                lambda: (exp_msg, socket.AF_UNSPEC, EXP_DELETE, 0, []),
            ]
        else:
            # Expectations go with their masters.
            requests = [_delete_request(entry) for entry in await self.dump()]
        for code in await self._pipeline(requests):
            if code not in (0, errno.ENOENT):
                raise NetlinkError(code, f"flushing conntrack: {os.strerror(code)}")

    async def commit_expectations(self, items: Iterable[Expectation]) -> CommitResult:
        """Create each expectation (its master must be in the kernel, with its helper).

        The kernel takes the helper's default timeout on create, so an update
        follows that sets the expectation's own. One that exists (EEXIST) is kept,
        as ``commit`` keeps live entries.
        """
        items = list(items)
        result = CommitResult()

        def create(item: Expectation) -> Callable[[], Request]:
            family = _family(item.expected.src)
            flags = NLM_F_CREATE | NLM_F_EXCL
            return lambda: (exp_msg, family, EXP_NEW, flags, expectation_attrs(item))

        def set_timeout(item: Expectation) -> Callable[[], Request]:
            family = _family(item.expected.src)
            return lambda: (exp_msg, family, EXP_NEW, 0, expectation_attrs(item))

        created = []
        for item, code in zip(items, await self._pipeline([create(i) for i in items])):
            if code == 0:
                result.created += 1
                created.append(item)
            elif code == errno.EEXIST:
                result.kept += 1
            else:
                result.failed.append((item, code))
        # Only the expectations just made get their own timeout (a live one keeps its).
        timed = [item for item in created if item.timeout]
        for item, code in zip(timed, await self._pipeline([set_timeout(i) for i in timed])):
            if code not in (0, errno.ENOENT):  # ENOENT: it was used up meanwhile
                result.failed.append((item, code))
        return result


def _is_expected(item: Entry | Prepared) -> bool:
    if isinstance(item, Prepared):
        return item.expected
    return bool(item.status & IPS_EXPECTED)


def _entry_of(item: Entry | Prepared) -> Entry:
    return item.entry() if isinstance(item, Prepared) else item


def _liberal(entry: Entry) -> Callable[[], Request]:
    """An update of an existing TCP entry that sets BE_LIBERAL in both directions, and
    nothing else."""
    liberal = {"value": (IP_CT_TCP_FLAG_BE_LIBERAL, IP_CT_TCP_FLAG_BE_LIBERAL)}
    info = [
        ("CTA_PROTOINFO_TCP_FLAGS_ORIGINAL", liberal),
        ("CTA_PROTOINFO_TCP_FLAGS_REPLY", liberal),
    ]
    attrs = [
        *key_attrs(entry),
        ("CTA_PROTOINFO", {"attrs": [("CTA_PROTOINFO_TCP", {"attrs": info})]}),
    ]
    return lambda: (ct_msg, _family(entry.original.src), CT_NEW, 0, attrs)


def _delete_request(entry: Entry) -> Callable[[], Request]:
    return lambda: (ct_msg, _family(entry.original.src), CT_DELETE, 0, key_attrs(entry))


class _Flight:
    """The requests of one ``_pipeline`` call that were sent and not yet answered.

    Only the last request of each send() asks for an acknowledgement: the kernel
    answers the others only if they fail, in order, so once the last one is
    answered the silent ones before it succeeded. That spares parsing an
    acknowledgement per entry in the event loop; the answers are read from their
    headers (struct nlmsgerr), not through pyroute2's parser, and a send()'s
    requests are settled together: a takeover sends 100,000 of them.
    """

    def __init__(self, sock: _RequestSocket, count: int) -> None:
        self.sock = sock
        #: ETIMEDOUT until answered (ENOBUFS if the socket failed first).
        self.results = [errno.ETIMEDOUT] * count
        #: The last sequence number of each unanswered send() -> all its sequence
        #: numbers, and the index in ``results`` of the first.
        self.chunks: dict[int, tuple[range, int]] = {}
        #: Requests sent and not answered.
        self.pending = 0
        #: Sequence number -> errno, of the failures of sends not answered yet.
        self.errors: dict[int, int] = {}
        self.failed = False
        self.changed = asyncio.Event()
        sock.on_failure.add(self.failure)

    def send(self, data: bytes, first: int, seqs: range) -> None:
        self.sock.handlers.update(dict.fromkeys(seqs, self.answered))
        self.chunks[seqs[-1]] = (seqs, first)
        self.pending += len(seqs)
        self.sock.send(data)

    def answered(self, data: bytes) -> None:
        offset = 0
        while offset + nlmsg.HEADER.size <= len(data):
            length, mtype, _flags, seq, _portid = nlmsg.HEADER.unpack_from(data, offset)
            if mtype == NLMSG_ERROR and offset + nlmsg.HEADER.size + 4 <= len(data):
                (error,) = nlmsg.ERRNO.unpack_from(data, offset + nlmsg.HEADER.size)
                if error:
                    self.errors[seq] = -error
            chunk = self.chunks.pop(seq, None)
            if chunk is not None:  # the last of a send(): all of it is answered
                self._settle(*chunk)
            if length < nlmsg.HEADER.size:
                break
            offset += (length + 3) & ~3
        self.changed.set()

    def _settle(self, seqs: range, first: int) -> None:
        handlers = self.sock.handlers
        for seq in seqs:
            handlers.pop(seq, None)
        errors = self.errors
        if errors:
            self.results[first : first + len(seqs)] = [errors.pop(seq, 0) for seq in seqs]
        else:
            self.results[first : first + len(seqs)] = [0] * len(seqs)
        self.pending -= len(seqs)

    def failure(self) -> None:
        self.failed = True
        self.changed.set()

    async def wait_until(self, pending: int) -> bool:
        """Wait until at most ``pending`` are unanswered; False on failure or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACK_TIMEOUT
        while self.pending > pending and not self.failed:
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return not self.failed

    def close(self) -> None:
        handlers = self.sock.handlers
        for seqs, first in self.chunks.values():
            for index, seq in enumerate(seqs, first):
                handlers.pop(seq, None)
                if seq in self.errors:  # failed before the send() was cut short
                    self.results[index] = self.errors[seq]
        self.sock.on_failure.discard(self.failure)
        if self.failed:
            log.warning("conntrack request socket failed during a write")
            self.results = [errno.ENOBUFS if c == errno.ETIMEDOUT else c for c in self.results]


def _event_kind(destroy: bool, flags: int) -> str:
    if destroy:
        return "destroy"
    return "new" if flags & NLM_F_CREATE else "update"
