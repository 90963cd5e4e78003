"""Links and addresses through netlink (pyroute2): the only way routerhad touches them."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from typing import Callable

from pyroute2 import AsyncIPRoute
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_ERROR
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from routerha.ip import IPAddress, IPInterface

#: Operational states in which a link carries traffic (RFC 2863; UNKNOWN for veth-like
#: drivers that do not report one).
_UP_STATES = {"UP", "UNKNOWN"}
_IFF_UP = 0x1
#: An address used at once, without Duplicate Address Detection.
IFA_F_NODAD = 0x02
_NLMSG_HEADER = struct.Struct("=IHHII")
_NLMSG_ERROR = struct.Struct("=i")
_SEQUENCE = struct.Struct("=I")
_SEQUENCE_OFFSET = 8


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: bytes
    up: bool


def _link_of(msg: object) -> Link:
    mac = msg.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00"  # type: ignore[attr-defined]
    state = msg.get_attr("IFLA_OPERSTATE")  # type: ignore[attr-defined]
    return Link(
        index=msg["index"],  # type: ignore[index]
        name=msg.get_attr("IFLA_IFNAME"),  # type: ignore[attr-defined]
        mac=bytes.fromhex(mac.replace(":", "")),
        up=bool(msg["flags"] & _IFF_UP) and state in _UP_STATES,  # type: ignore[index]
    )


class AddressSocket:
    """Virtual addresses added and removed at once, in the loop's thread.

    rtnetlink carries out a request inside the sendmsg() that makes it, so a
    plain blocking netlink socket installs an address in about 0.1 ms, where
    the asyncio round trip of pyroute2's socket takes about 1 ms: on a takeover
    that millisecond is outage. The messages are pyroute2's (``ifaddrmsg``).
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        self.sock.bind((0, 0))
        self.sock.settimeout(1.0)
        self.sequence = 0
        #: Encoded requests by (kind, ifindex, address): a group's addresses never
        #: change, and pyroute2 takes tens of microseconds to encode one.
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
            msg = ifaddrmsg()
            msg["family"] = socket.AF_INET if iface.version == 4 else socket.AF_INET6
            msg["prefixlen"] = iface.network.prefixlen
            msg["index"] = index
            # Usable at once: an IPv6 virtual address must not wait for DAD (the other
            # router has just given it up).
            msg["flags"] = IFA_F_NODAD if iface.version == 6 else 0
            address = str(iface.ip)
            msg["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
            msg["header"]["type"] = kind
            create = NLM_F_CREATE | NLM_F_EXCL if kind == RTM_NEWADDR else 0
            msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | create
            msg.encode()
            if len(self._requests) > 4096:  # links come and go: keep it bounded
                self._requests.clear()
            request = self._requests[key] = bytes(msg.data)
        return request

    def _change(self, kind: int, index: int, iface: IPInterface, ignore: int) -> None:
        self.sequence = self.sequence % 0xFFFFFFFF + 1
        data = bytearray(self._request(kind, index, iface))
        _SEQUENCE.pack_into(data, _SEQUENCE_OFFSET, self.sequence)
        self.sock.send(data)
        while True:
            answer = self.sock.recv(65536)
            _length, mtype, _flags, sequence, _pid = _NLMSG_HEADER.unpack_from(answer)
            if mtype == NLMSG_ERROR and sequence == self.sequence:
                code = -_NLMSG_ERROR.unpack_from(answer, _NLMSG_HEADER.size)[0]
                if code and code != ignore:
                    raise OSError(code, f"{os.strerror(code)}: {iface.ip} on ifindex {index}")
                return

    def close(self) -> None:
        self.sock.close()


class Netlink:
    """Address and link operations on pyroute2's asyncio netlink socket."""

    def __init__(self) -> None:
        self.ipr = AsyncIPRoute()

    async def link(self, name: str) -> Link | None:
        found = await self.ipr.link_lookup(ifname=name)
        if not found:
            return None
        return _link_of((await self.ipr.link("get", index=found[0]))[0])

    async def addresses(self, index: int, family: int) -> list[IPInterface]:
        out = []
        async for msg in await self.ipr.addr("dump", index=index, family=family):
            address = msg.get_attr("IFA_ADDRESS")
            out.append(ipaddress.ip_interface(f"{address}/{msg['prefixlen']}"))
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
        extra = {"flags": IFA_F_NODAD} if nodad else {}
        try:
            await self.ipr.addr(
                "add",
                index=index,
                address=str(iface.ip),
                prefixlen=iface.network.prefixlen,
                **extra,
            )
        except NetlinkError as error:
            if error.code != errno.EEXIST:
                raise

    async def remove_address(self, index: int, iface: IPInterface) -> None:
        try:
            await self.ipr.addr(
                "del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen
            )
        except NetlinkError as error:
            if error.code not in (errno.EADDRNOTAVAIL, errno.ENODEV):
                raise

    async def add_macvlan(self, name: str, parent: int, mac: str) -> None:
        await self.ipr.link(
            "add", ifname=name, kind="macvlan", link=parent, macvlan_mode="bridge", address=mac
        )

    async def delete_link(self, index: int) -> None:
        try:
            await self.ipr.link("del", index=index)
        except NetlinkError as error:
            if error.code != errno.ENODEV:
                raise

    async def set_protodown(self, index: int, down: bool) -> None:
        await self.ipr.link("set", index=index, proto_down=int(down))

    async def link_local(self, index: int) -> ipaddress.IPv6Interface | None:
        for iface in await self.addresses(index, socket.AF_INET6):
            if iface.ip.is_link_local:
                return iface  # type: ignore[return-value]
        return None

    async def set_up(self, index: int) -> None:
        await self.ipr.link("set", index=index, state="up")

    async def watch_links(self, changed: Callable[[Link], None]) -> None:
        """Calls ``changed`` for every link notification, until cancelled."""
        monitor = AsyncIPRoute()
        await monitor.bind(groups=RTMGRP_LINK)
        try:
            while True:
                async for msg in monitor.get():
                    if msg.get("event") == "RTM_NEWLINK":
                        changed(_link_of(msg))
        finally:
            monitor.close()

    def close(self) -> None:
        self.ipr.close()
