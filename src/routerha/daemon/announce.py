"""Gratuitous ARP (IPv4) and unsolicited Neighbor Advertisements (IPv6).

After a takeover the switches must learn the new port of the virtual MAC, and
hosts the new MAC of the virtual address (seed 001: "gratuitous ARP nach Übernahme").
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


class Announcer:
    """Sends the announcements of one interface."""

    def __init__(self, interface: str, ifindex: int) -> None:
        self.interface = interface
        self.ifindex = ifindex
        self._packet: socket.socket | None = None
        self._icmp6: socket.socket | None = None

    def announce(self, mac: bytes, addresses: list[IPAddress]) -> None:
        for address in addresses:
            if address.version == 4:
                self._packet_socket().send(arp_frame(mac, address))
            else:
                self._icmp6_socket().sendto(
                    na_message(mac, address), (ALL_NODES, 0, 0, self.ifindex)
                )

    def _packet_socket(self) -> socket.socket:
        if self._packet is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            sock.bind((self.interface, ETH_P_ARP))
            sock.setblocking(False)
            self._packet = sock
        return self._packet

    def _icmp6_socket(self) -> socket.socket:
        if self._icmp6 is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
            sock.setblocking(False)
            self._icmp6 = sock
        return self._icmp6

    def close(self) -> None:
        for sock in (self._packet, self._icmp6):
            if sock is not None:
                sock.close()
        self._packet = self._icmp6 = None
