"""What the daemon keeps per running group besides its state machine."""

from __future__ import annotations

import collections
import functools
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from routerha.ip import IPAddress
from routerha.model.vrrp import VrrpGroup
from routerha.vrrp.constants import MCAST_V4, MCAST_V6
from routerha.vrrp.machine import VrrpMachine
from routerha.vrrp.send import Sender

from .checks import CheckRunner
from .netlink import Link
from .scripts import ScriptQueue


@dataclass
class GroupRuntime:
    group: VrrpGroup
    #: The group's interface.
    link: Link
    #: Where its addresses live and adverts leave: the macvlan with the virtual MAC
    #: under rfc3768_compatibility, else the interface itself.
    tx_link: Link
    machine: VrrpMachine
    sender: Sender
    send_socket: socket.socket
    sync_group: str | None
    scripts: ScriptQueue = field(default_factory=ScriptQueue)
    check: CheckRunner | None = None
    counters: collections.Counter = field(default_factory=collections.Counter)
    drops: collections.Counter = field(default_factory=collections.Counter)
    last_transition: float = field(default_factory=time.time)
    #: The macvlan this runtime created (removed when the group stops).
    own_vmac: bool = False
    #: The group's name, address family and whether it speaks unicast, as read for
    #: every advert (a reload that changes them makes a new runtime).
    name: str = field(init=False)
    ipv6: bool = field(init=False)
    unicast: bool = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.group.name
        self.ipv6 = self.group.ipv6
        self.unicast = bool(self.group.peer_address)

    @functools.cached_property
    def destinations(self) -> tuple[tuple[IPAddress, str], ...]:
        """(address, its text for sendto) of every destination of the adverts:
        the unicast peers, or the VRRP multicast group. Only a reload that makes a
        new runtime changes them."""
        if self.group.peer_address:
            return tuple((a, str(a)) for a in self.group.peer_address)
        multicast = MCAST_V6 if self.group.ipv6 else MCAST_V4
        return ((multicast, str(multicast)),)

    def status(self) -> dict[str, Any]:
        group, machine = self.group, self.machine
        master = machine.master_address
        return {
            "name": group.name,
            "interface": group.interface,
            "vrid": group.vrid,
            "version": group.version,
            "state": machine.state.value,
            "priority": group.priority,
            "effective_priority": machine.priority,
            "master_address": str(master) if master is not None else None,
            "master_priority": machine.master_priority,
            "preempt": group.preempt,
            "preempt_delay": group.preempt_delay,
            "last_transition": self.last_transition,
            "sync_group": self.sync_group,
            "rfc3768_compatibility": group.rfc3768_compatibility,
            "address_owner": group.address_owner,
            "addresses": [str(a) for a in group.address],
            #: Addresses installed on another interface than the group's.
            "address_interface": {str(p.address): p.interface for p in group.address_interface},
            "source_address": str(self.sender.source),
            "faults": sorted(machine.faults),
            "counters": {
                "adverts_sent": self.counters["adverts_sent"],
                "adverts_received": self.counters["adverts_received"],
                "transitions": self.counters["transitions"],
                "address_mismatch": self.counters["address_mismatch"],
                "send_errors": self.counters["send_errors"],
                "drops": dict(self.drops),
            },
        }
