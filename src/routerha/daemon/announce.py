"""Gratuitous ARP (IPv4) and unsolicited Neighbor Advertisements (IPv6).

After a takeover the switches must learn the new port of the virtual MAC, and
hosts the new MAC of the virtual address (gratuitous ARP after a takeover).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from routerha.ip import IPAddress

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
ALL_NODES = "ff02::1"
#: ICMPv6 Neighbor Advertisement with the Router and Override flags (RFC 4861 4.4).
_NA_FLAGS = 0xA0000000


def arp_frame(mac: bytes, address: ipaddress.IPv4Address) -> bytes:
    """A broadcast gratuitous ARP request for ``address`` at ``mac`` (RFC 5227 section 3)."""
    ethernet = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = (
        struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + mac
        + address.packed
        + BROADCAST
        + address.packed
    )
    return ethernet + arp


def na_message(mac: bytes, address: ipaddress.IPv6Address) -> bytes:
    """An unsolicited NA for ``address`` with the target link-layer address option.

    The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
    """
    return struct.pack("!BBHI", 136, 0, 0, _NA_FLAGS) + address.packed + bytes([2, 1]) + mac


#: ICMP6_FILTER (RFC 3542 section 3.2), not exported by Python's socket module.
ICMP6_FILTER = 1
#: The filter that blocks every ICMPv6 type: this socket only sends.
_BLOCK_ALL = b"\xff" * 32


class Announcer:
    """Sends the announcements of one interface.

    Both sockets are opened at start, not at the first takeover: the first packet
    must not wait for socket set-up. The packet socket has protocol 0, so it
    registers no receive hook (registering one waits for an RCU grace period,
    about 10 ms, and would queue every ARP frame of the link for nobody).
    """

    def __init__(self, interface: str, ifindex: int) -> None:
        self.interface = interface
        self.ifindex = ifindex
        self._packet = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._packet.bind((interface, 0))
            self._packet.setblocking(False)
            self._icmp6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        except OSError:
            self._packet.close()
            raise
        try:
            self._icmp6.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, _BLOCK_ALL)
            self._icmp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            self._icmp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            self._icmp6.setblocking(False)
        except OSError:
            self.close()
            raise

    def announce(self, mac: bytes, addresses: list[IPAddress]) -> None:
        for address in addresses:
            if address.version == 4:
                self._packet.sendto(arp_frame(mac, address), (self.interface, ETH_P_ARP))
            else:
                self._icmp6.sendto(na_message(mac, address), (ALL_NODES, 0, 0, self.ifindex))

    def close(self) -> None:
        self._packet.close()
        self._icmp6.close()
