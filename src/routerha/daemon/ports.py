"""A port: the sockets and receive checks of one interface and address family.

All groups on ``eth0``/IPv4 share one port: its receive sockets (protocol 112, and
51 when a group uses AH) are demultiplexed by VRID in one ``Receiver``. A reload
replaces the receiver and keeps the sockets.
"""

from __future__ import annotations

import socket

from routerha.model.vrrp import AuthType, VrrpGroup
from routerha.vrrp.constants import IPPROTO_AH, IPPROTO_VRRP
from routerha.vrrp.receive import Receiver

from . import sockets


def uses_ah(groups: list[VrrpGroup]) -> bool:
    return any(g.authentication and g.authentication.type is AuthType.AH for g in groups)


class Port:
    def __init__(self, interface: str, ifindex: int, family: int) -> None:
        self.interface = interface
        self.ifindex = ifindex
        self.family = family
        self.receiver = Receiver([])
        #: protocol -> receive socket (IPv4); IPv6 uses one socket for both ways.
        self.receive: dict[int, socket.socket] = {}
        self.send: socket.socket | None = None

    def open(self, groups: list[VrrpGroup]) -> list[socket.socket]:
        """Open what ``groups`` need and is not open yet; returns the new receive sockets."""
        new = []
        if self.family == 6:
            if IPPROTO_VRRP not in self.receive:
                sock = sockets.open_ipv6(self.interface, self.ifindex)
                self.receive[IPPROTO_VRRP] = self.send = sock
                new.append(sock)
            return new
        wanted = (IPPROTO_VRRP, IPPROTO_AH) if uses_ah(groups) else (IPPROTO_VRRP,)
        for protocol in wanted:
            if protocol not in self.receive:
                sock = sockets.open_ipv4_receiver(self.interface, self.ifindex, protocol)
                self.receive[protocol] = sock
                new.append(sock)
        if self.send is None:
            self.send = sockets.open_ipv4_sender(self.interface, self.ifindex)
        return new

    def sockets(self) -> list[socket.socket]:
        found = list(self.receive.values())
        if self.send is not None and self.send not in found:
            found.append(self.send)
        return found
