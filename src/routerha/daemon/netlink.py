"""Links and addresses through netlink (pyroute2): the only way routerhad touches them."""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_LINK

from routerha.ip import IPAddress, IPInterface

#: Operational states in which a link carries traffic (RFC 2863; UNKNOWN for veth-like
#: drivers that do not report one).
_UP_STATES = {"UP", "UNKNOWN"}
_IFF_UP = 0x1
#: An address used at once, without Duplicate Address Detection.
IFA_F_NODAD = 0x02


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
