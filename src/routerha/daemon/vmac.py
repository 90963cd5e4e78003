"""rfc3768_compatibility: the virtual MAC on a macvlan over the group's interface.

RFC 3768 section 7.3 / RFC 5798 section 7.3: the master answers for the virtual
addresses with 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID), so a takeover
needs no ARP cache update in the hosts at all. Linux gives an interface one MAC,
so each such group gets a macvlan with the virtual MAC: several VRIDs on one
interface are several macvlans (the one-MAC-per-interface limit of the early
vrrpd, seed 004, does not apply). Mode bridge, as FRR requires, so that FRR and
routerhad on one host, or two groups of one router, see each other's frames.
"""

from __future__ import annotations

import logging
import os

from routerha.model.vrrp import VrrpGroup
from routerha.vrrp.constants import virtual_mac

from .netlink import Link, Netlink

log = logging.getLogger("routerhad")

IFNAMSIZ = 15

#: IPv4 settings on the macvlan that make ARP for the virtual address work when
#: the macvlan's and the interface's addresses are in different subnets (seed 002):
#: only the macvlan answers for its addresses, and packets from the interface's own
#: addresses arriving on it are accepted.
VMAC_IPV4 = {
    "arp_ignore": "1",
    "arp_announce": "2",
    "arp_filter": "0",
    "accept_local": "1",
    "rp_filter": "0",
}
#: ...and on the interface below: do not answer ARP for the macvlan's addresses.
BASE_IPV4 = {"arp_ignore": "1", "arp_announce": "2"}
#: IPv6 on the macvlan: a stable random link-local (the advert source), no DAD delay.
VMAC_IPV6 = {"accept_dad": "0", "dad_transmits": "0"}


def vmac_name(interface: str, vrid: int, ipv6: bool) -> str:
    """VyOS's name (eth0v10) where it fits; IPv6 adds a 6 (eth0v10v6)."""
    name = f"{interface}v{vrid}{'v6' if ipv6 else ''}"
    if len(name) <= IFNAMSIZ:
        return name
    return f"rh{abs(hash(interface)) % 10**6}v{vrid}{'6' if ipv6 else ''}"[:IFNAMSIZ]


def _sysctl(family: str, interface: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        path = f"/proc/sys/net/{family}/conf/{interface}/{key}"
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as error:
            log.warning("cannot set %s to %s: %s", path, value, error)


async def ensure(netlink: Netlink, group: VrrpGroup, base: Link) -> Link:
    """The group's macvlan, created (or recreated with the right MAC) and up."""
    name = vmac_name(base.name, group.vrid, group.ipv6)
    mac = virtual_mac(group.vrid, group.ipv6)
    existing = await netlink.link(name)
    if existing is not None and existing.mac != bytes.fromhex(mac.replace(":", "")):
        await netlink.delete_link(existing.index)
        existing = None
    if existing is None:
        await netlink.add_macvlan(name, base.index, mac)
    if group.ipv6:
        _sysctl("ipv6", name, VMAC_IPV6)
    else:
        _sysctl("ipv4", name, VMAC_IPV4)
        _sysctl("ipv4", base.name, BASE_IPV4)
    link = await netlink.link(name)
    if link is None:
        raise OSError(f"macvlan {name} vanished")
    await netlink.set_up(link.index)
    return link


async def remove(netlink: Netlink, link: Link) -> None:
    if os.path.exists(f"/sys/class/net/{link.name}"):
        await netlink.delete_link(link.index)
