"""rfc3768_compatibility: the virtual MAC on a macvlan over the group's interface.

RFC 3768 / RFC 5798 section 7.3: the master answers for the virtual addresses
with 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID), so a takeover needs no ARP
cache update in the hosts. Linux gives an interface one MAC, so each such group
gets a macvlan with the virtual MAC: several VRIDs on one interface are several
macvlans (the one-MAC-per-interface limit of the early userspace vrrpd is gone).

The design is FRR's, whose vrrpd must interoperate with it:

- mode bridge; adverts are received on the interface below and sent through the
  macvlan, so they leave with the virtual MAC;
- the macvlan is protodown (no carrier) except while MASTER: a backup's macvlan
  shares the master's MAC, and any frame it sent (an MLD report, a DAD probe)
  would teach the switches the wrong port;
- no IPv6 address of its own (addr_gen_mode none: every router would derive the
  same link-local from the shared MAC); an IPv6 group's macvlan carries the
  interface's own link-local, which stays the advert source;
- ARP: only the macvlan answers for the virtual addresses and only the interface
  for its own, whatever the subnets (with VyOS's macvlan in RFC 3768 mode, ARP replies were lost where lower and upper
  interface shared routing).
  The interface's previous values come back when its last macvlan goes.
"""

from __future__ import annotations

import ipaddress
import logging

from routerha.model.vrrp import VrrpGroup
from routerha.vrrp.constants import virtual_mac

from .netlink import Link, Netlink

log = logging.getLogger("routerhad")

IFNAMSIZ = 15

#: On the macvlan: answer ARP only for its own addresses, accept packets from the
#: router's own addresses, loose reverse-path filtering (the effective value is the
#: larger of this and ``all``, so 2 works whatever ``all`` says).
VMAC_IPV4 = {"arp_ignore": "1", "accept_local": "1", "rp_filter": "2", "promote_secondaries": "1"}
#: On the interface below: never answer ARP for the macvlan's addresses, and do
#: not announce them from its own MAC.
BASE_IPV4 = {"arp_ignore": "1", "arp_filter": "1", "arp_announce": "2"}


def vmac_name(interface: str, vrid: int, ipv6: bool) -> str:
    """VyOS 1.4's name (eth0v10v4, eth0v10v6) where it fits in IFNAMSIZ."""
    name = f"{interface}v{vrid}v{6 if ipv6 else 4}"
    if len(name) <= IFNAMSIZ:
        return name
    return f"vrrp{6 if ipv6 else 4}.{vrid}"


class VmacManager:
    """Creates and removes macvlans, and keeps the base interfaces' ARP settings."""

    def __init__(self, netlink: Netlink) -> None:
        self.netlink = netlink
        #: base interface -> (its original ARP values, how many macvlans use them)
        self._saved: dict[str, tuple[dict[str, str], int]] = {}

    async def ensure(
        self, group: VrrpGroup, base: Link, link_local: ipaddress.IPv6Interface | None
    ) -> Link:
        """The group's macvlan, created (or recreated with the right MAC), protodown."""
        if group.ipv6 and link_local is None:
            raise OSError(f"{base.name} has no IPv6 link-local address to send from")
        name = vmac_name(base.name, group.vrid, group.ipv6)
        mac = virtual_mac(group.vrid, group.ipv6)
        existing = await self.netlink.link(name)
        if existing is not None:
            # A leftover of a crashed run: start clean.
            await self.netlink.delete_link(existing.index)
        await self.netlink.add_macvlan(name, base.index, mac)
        self._use_base(base.name)
        try:
            return await self._set_up(name, group, link_local)
        except Exception:
            # Nothing half-made stays behind: no macvlan, the base's ARP settings back.
            created = await self.netlink.link(name)
            if created is not None:
                await self.netlink.delete_link(created.index)
            self._release_base(base.name)
            raise

    async def _set_up(
        self, name: str, group: VrrpGroup, link_local: ipaddress.IPv6Interface | None
    ) -> Link:
        _write("ipv6", name, {"addr_gen_mode": "1", "accept_dad": "0"})
        if not group.ipv6:
            _write("ipv6", name, {"disable_ipv6": "1"})
        # IPv4 ARP settings on every macvlan: an IPv6 group's macvlan must not answer
        # ARP for the IPv4 addresses of the router either.
        _write("ipv4", name, VMAC_IPV4)
        link = await self.netlink.link(name)
        if link is None:
            raise OSError(f"macvlan {name} vanished after it was created")
        await self.netlink.set_protodown(link.index, True)
        await self.netlink.set_up(link.index)
        if link_local is not None:
            await self.netlink.add_address(link.index, link_local, nodad=True)
        return link

    async def remove(self, base: Link, vmac: Link) -> None:
        await self.netlink.delete_link(vmac.index)
        self._release_base(base.name)

    def _use_base(self, base: str) -> None:
        original, users = self._saved.get(base, (None, 0))
        if original is None:
            original = _read("ipv4", base, BASE_IPV4)
            _write("ipv4", base, BASE_IPV4)
        self._saved[base] = (original, users + 1)

    def _release_base(self, base: str) -> None:
        if base not in self._saved:
            return
        original, users = self._saved[base]
        if users > 1:
            self._saved[base] = (original, users - 1)
            return
        del self._saved[base]
        _write("ipv4", base, original)


def _path(family: str, interface: str, key: str) -> str:
    return f"/proc/sys/net/{family}/conf/{interface}/{key}"


def _read(family: str, interface: str, keys: dict[str, str]) -> dict[str, str]:
    values = {}
    for key in keys:
        try:
            with open(_path(family, interface, key), encoding="ascii") as handle:
                values[key] = handle.read().strip()
        except OSError:
            continue
    return values


def _write(family: str, interface: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        try:
            with open(_path(family, interface, key), "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as error:
            log.warning("cannot set %s to %s: %s", _path(family, interface, key), value, error)
