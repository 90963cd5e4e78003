"""Links and addresses through rtnetlink: the only way routerhad touches them.

Raw netlink sockets and routerha's own message framing (``routerha.nlmsg``),
not a netlink library: a router running only VRRP groups keeps the daemon's
memory and start-up time to what it uses (a library's import alone would be
more than the rest of routerhad).

Two kinds of request:

- ``AddressSocket``: virtual addresses, added and removed at once in the loop's
  thread. rtnetlink carries a request out inside the sendmsg() that makes it, so
  a blocking socket installs an address in about 0.1 ms, where an asyncio round
  trip would cost about 1 ms of outage on a takeover.
- ``Netlink``: everything else (links, the link-local address, macvlans,
  protodown), awaited on a non-blocking socket, one request at a time.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

from routerha import nlmsg
from routerha.ip import IPAddress, IPInterface

log = logging.getLogger("routerhad")

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTMGRP_LINK = 0x1

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_LINK = 5
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_PROTO_DOWN = 39
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_MACVLAN_MODE = 1
MACVLAN_MODE_BRIDGE = 4

IFA_ADDRESS = 1
IFA_LOCAL = 2

#: struct ifinfomsg: family, (pad), type, index, flags, change.
IFINFOMSG = struct.Struct("=BxHiII")
#: struct ifaddrmsg: family, prefix length, flags, scope, index.
IFADDRMSG = struct.Struct("=BBBBI")

#: Operational states in which a link carries traffic (RFC 2863 UP; UNKNOWN for
#: veth-like drivers that do not report one).
_UP_STATES = {0, 6}
IFF_UP = 0x1
#: An address used at once, without Duplicate Address Detection.
IFA_F_NODAD = 0x02
_SEQUENCE = struct.Struct("=I")
_SEQUENCE_OFFSET = 8
#: Large enough for any one datagram of a dump (the kernel sends at most 32 KiB).
_RECV_SIZE = 1 << 16
#: Seconds a link or address request may take to be answered in full.
REQUEST_TIMEOUT = 10.0
#: The most queued link notifications dropped after an overrun (the socket holds
#: fewer: they are what its buffer had room for).
STALE_NOTIFICATIONS = 4096


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: bytes
    up: bool


def parse_link(payload: bytes) -> Link | None:
    """The Link an RTM_NEWLINK message describes (None if it is cut short)."""
    if len(payload) < IFINFOMSG.size:
        return None
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(payload)
    found = nlmsg.attrs(payload, IFINFOMSG.size)
    name = found.get(IFLA_IFNAME)
    if name is None:
        return None
    # No operational state reported counts as down (the kernel always reports one).
    state = found.get(IFLA_OPERSTATE, b"")[:1]
    return Link(
        index=index,
        name=nlmsg.cstring(name),
        mac=found.get(IFLA_ADDRESS, b"\0" * 6),
        up=bool(flags & IFF_UP) and bool(state) and state[0] in _UP_STATES,
    )


def parse_address(payload: bytes) -> tuple[int, IPInterface] | None:
    """(interface index, address with prefix) of an RTM_NEWADDR message."""
    if len(payload) < IFADDRMSG.size:
        return None
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(payload)
    found = nlmsg.attrs(payload, IFADDRMSG.size)
    # IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on a
    # point-to-point link); IPv6 sends IFA_ADDRESS only.
    raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
    size = 4 if family == socket.AF_INET else 16
    if raw is None or len(raw) != size:
        return None
    address = ipaddress.ip_address(raw)
    return index, ipaddress.ip_interface(f"{address}/{prefixlen}")


def address_body(index: int, iface: IPInterface, *, nodad: bool = False) -> bytes:
    """The ifaddrmsg and attributes naming ``iface`` on ``index``."""
    family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    body = IFADDRMSG.pack(family, iface.network.prefixlen, IFA_F_NODAD if nodad else 0, 0, index)
    packed = iface.ip.packed
    return body + nlmsg.attr(IFA_LOCAL, packed) + nlmsg.attr(IFA_ADDRESS, packed)


def address_request(kind: int, index: int, iface: IPInterface, *, nodad: bool = False) -> bytes:
    """RTM_NEWADDR / RTM_DELADDR for ``iface`` on ``index`` (sequence number 0)."""
    create = nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL if kind == RTM_NEWADDR else 0
    flags = nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK | create
    return nlmsg.message(kind, flags, 0, address_body(index, iface, nodad=nodad))


def link_body(index: int = 0, flags: int = 0, change: int = 0, attrs: bytes = b"") -> bytes:
    """The ifinfomsg and attributes of a link request."""
    return IFINFOMSG.pack(0, 0, index, flags, change) + attrs


class AddressSocket:
    """Virtual addresses added and removed at once, in the loop's thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(1.0)
        self.sequence = 0
        #: Encoded requests by (kind, ifindex, address): a group's addresses never change.
        self._requests: dict[tuple[int, int, IPInterface], bytes] = {}

    def add(self, index: int, iface: IPInterface) -> None:
        self._change(RTM_NEWADDR, index, iface, ignore=errno.EEXIST)

    def remove(self, index: int, iface: IPInterface) -> None:
        self._change(RTM_DELADDR, index, iface, ignore=errno.EADDRNOTAVAIL)

    def prepare(self, index: int, iface: IPInterface) -> None:
        """Encode the requests for ``iface`` ahead of the takeover that needs them."""
        for kind in (RTM_NEWADDR, RTM_DELADDR):
            self._request(kind, index, iface)

    def _request(self, kind: int, index: int, iface: IPInterface) -> bytes:
        key = (kind, index, iface)
        request = self._requests.get(key)
        if request is None:
            if len(self._requests) > 4096:  # links come and go: keep it bounded
                self._requests.clear()
            # Usable at once: an IPv6 virtual address must not wait for DAD (the other
            # router has just given it up).
            nodad = iface.version == 6
            request = self._requests[key] = address_request(kind, index, iface, nodad=nodad)
        return request

    def _change(self, kind: int, index: int, iface: IPInterface, ignore: int) -> None:
        self.sequence = self.sequence % 0xFFFFFFFF + 1
        data = bytearray(self._request(kind, index, iface))
        _SEQUENCE.pack_into(data, _SEQUENCE_OFFSET, self.sequence)
        self.sock.send(data)
        while True:
            answer = self.sock.recv(_RECV_SIZE)
            for mtype, _flags, sequence, payload in nlmsg.messages(answer):
                if mtype == nlmsg.NLMSG_ERROR and sequence == self.sequence:
                    code = nlmsg.error_code(payload)
                    if code and code != ignore:
                        raise OSError(code, f"{os.strerror(code)}: {iface.ip} on ifindex {index}")
                    return

    def close(self) -> None:
        self.sock.close()


class Netlink:
    """Link and address requests on a non-blocking rtnetlink socket."""

    def __init__(self) -> None:
        self.sock = _open()
        self.sequence = 0
        self._lock = asyncio.Lock()

    async def _request(
        self, kind: int, flags: int, body: bytes, *, ignore: tuple[int, ...] = ()
    ) -> list[tuple[int, bytes]]:
        """Send one request; (type, payload) of every answer up to its end.

        A dump ends with NLMSG_DONE, anything else with the acknowledgement (an
        NLMSG_ERROR of 0) that NLM_F_ACK asks for. An error in ``ignore`` ends it
        quietly; any other raises OSError naming the request. A request that gets
        no end within REQUEST_TIMEOUT, or is cancelled, leaves a fresh socket
        behind (the kernel may still be in the middle of its dump on the old one).
        """
        async with self._lock:
            self.sequence = self.sequence % 0xFFFFFFFF + 1
            flags |= nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK
            request = nlmsg.message(kind, flags, self.sequence, body)
            try:
                return await asyncio.wait_for(
                    self._exchange(request, self.sequence, kind, ignore), REQUEST_TIMEOUT
                )
            except asyncio.TimeoutError:
                self._reopen()
                raise OSError(errno.ETIMEDOUT, f"netlink request {kind}: no answer") from None
            except asyncio.CancelledError:
                self._reopen()
                raise

    async def _exchange(
        self, request: bytes, wanted: int, kind: int, ignore: tuple[int, ...]
    ) -> list[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, request)
        found: list[tuple[int, bytes]] = []
        while True:
            data = await loop.sock_recv(self.sock, _RECV_SIZE)
            for mtype, _flags, sequence, payload in nlmsg.messages(data):
                if sequence != wanted:
                    continue  # the late answer to an earlier request
                if mtype in (nlmsg.NLMSG_DONE, nlmsg.NLMSG_ERROR):
                    # A dump's end may carry no code at all: that is success.
                    done_bare = mtype == nlmsg.NLMSG_DONE and len(payload) < nlmsg.ERRNO.size
                    code = 0 if done_bare else nlmsg.error_code(payload)
                    if code and code not in ignore:
                        raise OSError(code, f"netlink request {kind}: {os.strerror(code)}")
                    return found
                found.append((mtype, payload))

    def _reopen(self) -> None:
        self.sock.close()
        self.sock = _open()

    async def link(self, name: str) -> Link | None:
        body = link_body(attrs=nlmsg.attr(IFLA_IFNAME, name.encode() + b"\0"))
        answers = await self._request(RTM_GETLINK, 0, body, ignore=(errno.ENODEV,))
        for mtype, payload in answers:
            if mtype == RTM_NEWLINK:
                return parse_link(payload)
        return None

    async def links(self) -> list[Link]:
        answers = await self._request(RTM_GETLINK, nlmsg.NLM_F_DUMP, link_body())
        return [
            link
            for link in (parse_link(p) for mtype, p in answers if mtype == RTM_NEWLINK)
            if link is not None
        ]

    async def addresses(self, index: int, family: int) -> list[IPInterface]:
        body = IFADDRMSG.pack(family, 0, 0, 0, 0)
        answers = await self._request(RTM_GETADDR, nlmsg.NLM_F_DUMP, body)
        out = []
        for mtype, payload in answers:
            parsed = parse_address(payload) if mtype == RTM_NEWADDR else None
            if parsed is not None and parsed[0] == index:
                out.append(parsed[1])
        return out

    async def primary_address(
        self, index: int, ipv6: bool, exclude: set[IPAddress]
    ) -> IPAddress | None:
        """RFC 5798 section 6.1's primary address: for IPv6 the link-local address."""
        for iface in await self.addresses(index, socket.AF_INET6 if ipv6 else socket.AF_INET):
            if iface.ip in exclude:
                continue
            if not ipv6 or iface.ip.is_link_local:
                return iface.ip
        return None

    async def add_address(self, index: int, iface: IPInterface, nodad: bool = False) -> None:
        body = address_body(index, iface, nodad=nodad)
        flags = nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
        await self._request(RTM_NEWADDR, flags, body, ignore=(errno.EEXIST,))

    async def add_macvlan(self, name: str, parent: int, mac: str) -> None:
        info = nlmsg.nested(
            IFLA_LINKINFO,
            nlmsg.attr(IFLA_INFO_KIND, b"macvlan\0"),
            nlmsg.nested(
                IFLA_INFO_DATA,
                nlmsg.attr(IFLA_MACVLAN_MODE, struct.pack("=I", MACVLAN_MODE_BRIDGE)),
            ),
        )
        attrs = (
            nlmsg.attr(IFLA_IFNAME, name.encode() + b"\0")
            + nlmsg.attr(IFLA_LINK, struct.pack("=I", parent))
            + nlmsg.attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
            + info
        )
        flags = nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
        await self._request(RTM_NEWLINK, flags, link_body(attrs=attrs))

    async def delete_link(self, index: int) -> None:
        await self._request(RTM_DELLINK, 0, link_body(index), ignore=(errno.ENODEV,))

    async def set_protodown(self, index: int, down: bool) -> None:
        attrs = nlmsg.attr(IFLA_PROTO_DOWN, bytes([int(down)]))
        await self._request(RTM_NEWLINK, 0, link_body(index, attrs=attrs))

    async def link_local(self, index: int) -> ipaddress.IPv6Interface | None:
        for iface in await self.addresses(index, socket.AF_INET6):
            if isinstance(iface, ipaddress.IPv6Interface) and iface.ip.is_link_local:
                return iface
        return None

    async def set_up(self, index: int) -> None:
        await self._request(RTM_NEWLINK, 0, link_body(index, IFF_UP, IFF_UP))

    async def watch_links(self, changed: Callable[[Link], None]) -> None:
        """Calls ``changed`` for every link notification, until cancelled.

        Only the kernel sends to rtnetlink's groups. When notifications come faster
        than they are read the kernel drops some and says so (ENOBUFS): every link
        is read again, so none is left with a stale state.
        """
        loop = asyncio.get_running_loop()
        monitor = _open(groups=RTMGRP_LINK)
        try:
            while True:
                try:
                    data = await loop.sock_recv(monitor, _RECV_SIZE)
                except OSError as error:
                    await self._resync_links(monitor, error, changed)
                    continue
                for link in _new_links(data):
                    changed(link)
        finally:
            monitor.close()

    async def _resync_links(
        self, monitor: socket.socket, error: OSError, changed: Callable[[Link], None]
    ) -> None:
        """After notifications were lost (ENOBUFS) or the socket failed: read every
        link again. What is still queued predates the loss and is dropped first, so
        that an old state does not overwrite the fresh one."""
        log.warning("link notifications: %s: reading every link again", error)
        if error.errno != errno.ENOBUFS:
            await asyncio.sleep(1.0)  # not a busy loop on a socket that keeps failing
        for _stale in range(STALE_NOTIFICATIONS):
            try:
                monitor.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
        try:
            links = await self.links()
        except OSError as failure:
            log.warning("cannot read the links: %s", failure)
            return
        for link in links:
            changed(link)

    def close(self) -> None:
        self.sock.close()


def _new_links(data: bytes) -> Iterator[Link]:
    for mtype, _flags, _sequence, payload in nlmsg.messages(data):
        if mtype == RTM_NEWLINK:
            link = parse_link(payload)
            if link is not None:
                yield link


def _open(groups: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, groups))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
