"""The routerhad service: sockets, netlink and timers around the sans-IO machines.

Everything runs on one asyncio loop. Packets and link events become machine
events stamped with ``loop.time()`` (monotonic); the actions that come back are
carried out at once, in order. Timers are ``loop.call_at`` handles, one per
armed machine timer.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from routerha.errors import RouterhaError
from routerha.ip import IPAddress
from routerha.model.vrrp import AuthType, Config, VrrpGroup
from routerha.vrrp.constants import MCAST_V4, MCAST_V6
from routerha.vrrp.events import (
    Action,
    AddAddresses,
    CancelTimer,
    Event,
    FaultCleared,
    FaultRaised,
    PriorityChanged,
    RemoveAddresses,
    ScheduleTimer,
    SendAdvert,
    SendGratuitous,
    Shutdown,
    Startup,
    State,
    Timer,
    TimerExpired,
    Transition,
)
from routerha.vrrp.machine import VrrpMachine
from routerha.vrrp.receive import AhSequence, Receiver
from routerha.vrrp.send import Sender
from routerha.vrrp.syncgroup import SyncGroupCoordinator

from . import sockets
from .announce import Announcer
from .netlink import Link, Netlink

log = logging.getLogger("routerhad")


@dataclass
class GroupRuntime:
    """One group's machine and what the I/O layer keeps for it."""

    group: VrrpGroup
    link: Link
    machine: VrrpMachine
    sender: Sender
    sync_group: str | None
    handles: dict[Timer, asyncio.TimerHandle] = field(default_factory=dict)
    counters: collections.Counter = field(default_factory=collections.Counter)
    drops: collections.Counter = field(default_factory=collections.Counter)
    last_transition: float = field(default_factory=time.time)

    @property
    def destinations(self) -> list[IPAddress]:
        if self.group.peer_address:
            return list(self.group.peer_address)
        return [MCAST_V6 if self.group.ipv6 else MCAST_V4]


class ServiceError(RouterhaError):
    """The host cannot run the configuration (a missing interface, no address)."""


class Service:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.netlink = Netlink()
        self.groups: dict[str, GroupRuntime] = {}
        self.receivers: dict[tuple[str, int], Receiver] = {}
        self.send_sockets: dict[tuple[str, int], socket.socket] = {}
        self.recv_sockets: list[socket.socket] = []
        self.announcers: dict[str, Announcer] = {}
        self.monitor: asyncio.Task | None = None
        #: Netlink changes and announcements run in order, after one another.
        self.ordered: asyncio.Queue = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.links: dict[str, Link] = {}

    # Setting up ---------------------------------------------------------------------

    async def start(self) -> None:
        active = [g for g in self.config.groups.values() if not g.disable]
        sequences: dict[str, AhSequence] = {}
        for group in active:
            for name in (group.interface, *(t.name for t in group.track.interface)):
                await self._link(name, required=name == group.interface)
            self.groups[group.name] = await self._runtime(group, sequences)
        for sync in self.config.sync_groups.values():
            members = [self.groups[m].machine for m in sync.member if m in self.groups]
            SyncGroupCoordinator(sync.name, members)
        by_link: dict[tuple[str, int], list[VrrpGroup]] = collections.defaultdict(list)
        for group in active:
            by_link[(group.interface, 6 if group.ipv6 else 4)].append(group)
        for (interface, family), groups in by_link.items():
            self._open(interface, family, groups, sequences)
        self.worker = self.loop.create_task(self._work())
        self.monitor = self.loop.create_task(self.netlink.watch_links(self._on_link))
        now = self.loop.time()
        for runtime in self.groups.values():
            self._feed(runtime, Startup(), now)
            self._track(runtime, now)

    async def _runtime(self, group: VrrpGroup, sequences: dict[str, AhSequence]) -> GroupRuntime:
        link = self.links[group.interface]
        source = group.hello_source_address or await self.netlink.primary_address(
            link.index, group.ipv6, {a.ip for a in group.address}
        )
        if source is None:
            family = "link-local IPv6" if group.ipv6 else "IPv4"
            raise ServiceError(
                f"group {group.name}: {group.interface} has no {family} address to send from"
            )
        sequence = sequences.setdefault(group.name, AhSequence())
        return GroupRuntime(
            group=group,
            link=link,
            machine=VrrpMachine(group, source),
            sender=Sender(group, source, sequence=sequence),
            sync_group=(s.name if (s := self.config.sync_group_of(group.name)) else None),
        )

    async def _link(self, name: str, required: bool) -> None:
        if name in self.links:
            return
        link = await self.netlink.link(name)
        if link is None:
            if required:
                raise ServiceError(f"interface {name} does not exist")
            link = Link(index=0, name=name, mac=b"\0" * 6, up=False)
        self.links[name] = link

    def _open(self, interface: str, family: int, groups: list[VrrpGroup], sequences: dict) -> None:
        link = self.links[interface]
        local = tuple(self.groups[g.name].sender.source for g in groups)
        receiver = Receiver(groups, local_addresses=local, sequences=sequences)
        self.receivers[(interface, family)] = receiver
        self.announcers.setdefault(interface, Announcer(interface, link.index))
        if family == 4:
            uses_ah = any(g.authentication and g.authentication.type is AuthType.AH for g in groups)
            for protocol in sockets.vrrp_protocols(uses_ah):
                sock = sockets.open_ipv4_receiver(interface, link.index, protocol)
                self._watch(sock, receiver, family)
            self.send_sockets[(interface, 4)] = sockets.open_ipv4_sender(interface, link.index)
        else:
            sock = sockets.open_ipv6(interface, link.index)
            self._watch(sock, receiver, family)
            self.send_sockets[(interface, 6)] = sock

    def _watch(self, sock: socket.socket, receiver: Receiver, family: int) -> None:
        self.recv_sockets.append(sock)
        self.loop.add_reader(sock.fileno(), self._on_readable, sock, receiver, family)

    # Input --------------------------------------------------------------------------

    def _on_readable(self, sock: socket.socket, receiver: Receiver, family: int) -> None:
        # Drain what is queued: under load one wake-up serves many packets.
        for _ in range(64):
            try:
                if family == 4:
                    data = sock.recv(65535)
                    result = receiver.receive_ipv4(data)
                else:
                    data, src, dst, hops = sockets.recv_ipv6(sock)
                    result = receiver.receive_ipv6(data, src, dst, hops)
            except BlockingIOError:
                return
            except RouterhaError as drop:
                self._count_drop(receiver, drop)
                continue
            except OSError as error:
                log.warning("receive error: %s", error)
                return
            runtime = self.groups[result.group]
            runtime.counters["adverts_received"] += 1
            if result.address_mismatch:
                runtime.counters["address_mismatch"] += 1
            self._feed(runtime, result.event, self.loop.time())

    def _count_drop(self, receiver: Receiver, drop: RouterhaError) -> None:
        reason = getattr(drop, "reason", None)
        name = reason.value if reason is not None else "malformed"
        # Drops that name no group (unknown VRID, garbage) are counted on every group
        # of the socket, so `status` shows them somewhere.
        for check in receiver.by_vrid.values():
            self.groups[check.group.name].drops[name] += 1
        log.debug("dropped: %s", drop)

    def _on_link(self, link: Link) -> None:
        known = self.links.get(link.name)
        if known is None or (known.up == link.up and known.index == link.index):
            return
        self.links[link.name] = link
        log.info("link %s is %s", link.name, "up" if link.up else "down")
        now = self.loop.time()
        for runtime in self.groups.values():
            self._track(runtime, now)

    def _track(self, runtime: GroupRuntime, now: float) -> None:
        """Link tracking: the group's own link, and the tracked interfaces."""
        group = runtime.group
        faults: set[str] = set()
        priority = group.priority
        own = self.links[group.interface]
        if not own.up and not group.track.exclude_vrrp_interface:
            faults.add(f"link {group.interface}")
        for tracked in group.track.interface:
            if self.links[tracked.name].up:
                continue
            if tracked.weight is None:
                faults.add(f"link {tracked.name}")
            else:
                priority += tracked.weight
        machine = runtime.machine
        for reason in sorted(
            r for r in machine.faults if r.startswith("link ") and r not in faults
        ):
            self._feed(runtime, FaultCleared(reason), now)
        for reason in sorted(faults - machine.faults):
            self._feed(runtime, FaultRaised(reason), now)
        self._feed(runtime, PriorityChanged(priority), now)

    # Output -------------------------------------------------------------------------

    def _feed(self, runtime: GroupRuntime, event: Event, now: float) -> None:
        self.execute(runtime.machine.handle(event, now))

    def execute(self, actions: list[Action]) -> None:
        for action in actions:
            runtime = self.groups[action.group]
            try:
                self._do(runtime, action)
            except OSError as error:
                log.error("group %s: %s failed: %s", action.group, type(action).__name__, error)

    def _do(self, runtime: GroupRuntime, action: Action) -> None:
        group = runtime.group
        if isinstance(action, SendAdvert):
            self._send(runtime, action.priority)
        elif isinstance(action, ScheduleTimer):
            self._cancel(runtime, action.timer)
            runtime.handles[action.timer] = self.loop.call_at(
                action.at, self._fire, runtime, action.timer
            )
        elif isinstance(action, CancelTimer):
            self._cancel(runtime, action.timer)
        elif isinstance(action, AddAddresses):
            for iface in group.address + group.excluded_address:
                self.ordered.put_nowait(self.netlink.add_address(runtime.link.index, iface))
        elif isinstance(action, RemoveAddresses):
            for iface in group.address + group.excluded_address:
                self.ordered.put_nowait(self.netlink.remove_address(runtime.link.index, iface))
        elif isinstance(action, SendGratuitous):
            self.ordered.put_nowait(self._announce(runtime, action.count))
        elif isinstance(action, Transition):
            runtime.counters["transitions"] += 1
            runtime.last_transition = time.time()
            log.info(
                "group %s: %s -> %s (%s)",
                group.name,
                action.old.value,
                action.new.value,
                action.reason,
            )

    def _send(self, runtime: GroupRuntime, priority: int) -> None:
        group = runtime.group
        sock = self.send_sockets[(group.interface, 6 if group.ipv6 else 4)]
        for dst in runtime.destinations:
            unicast = bool(group.peer_address)
            try:
                if group.ipv6:
                    message = runtime.sender.message(priority, dst)
                    sock.sendto(message, (str(dst), 0, 0, runtime.link.index))
                else:
                    datagram = runtime.sender.ipv4_datagram(priority, dst, unicast=unicast)
                    sock.sendto(datagram, (str(dst), 0))
            except OSError as error:
                if error.errno not in (errno.ENETDOWN, errno.ENXIO, errno.EADDRNOTAVAIL):
                    raise
                runtime.counters["send_errors"] += 1
                continue
            runtime.counters["adverts_sent"] += 1

    async def _work(self) -> None:
        """Carries out netlink changes and announcements one after another, in order:
        an address is installed before it is announced."""
        while True:
            job = await self.ordered.get()
            try:
                await job
            except (OSError, RouterhaError) as error:
                log.error("%s", error)
            except Exception as error:  # a netlink error must not stop the loop
                log.error("netlink: %s", error)

    async def _announce(self, runtime: GroupRuntime, count: int) -> None:
        group = runtime.group
        addresses = [i.ip for i in group.address]
        announcer = self.announcers[group.interface]
        spacing = group.garp.interval
        for n in range(count):
            if n == 0 or not spacing:
                announcer.announce(runtime.link.mac, addresses)
            else:
                self.loop.call_later(n * spacing, self._announce_later, runtime, addresses)

    def _announce_later(self, runtime: GroupRuntime, addresses: list[IPAddress]) -> None:
        if runtime.machine.state is State.MASTER:
            try:
                self.announcers[runtime.group.interface].announce(runtime.link.mac, addresses)
            except OSError as error:
                log.warning("group %s: announcement failed: %s", runtime.group.name, error)

    def _fire(self, runtime: GroupRuntime, timer: Timer) -> None:
        runtime.handles.pop(timer, None)
        self._feed(runtime, TimerExpired(timer), self.loop.time())

    def _cancel(self, runtime: GroupRuntime, timer: Timer) -> None:
        handle = runtime.handles.pop(timer, None)
        if handle is not None:
            handle.cancel()

    # Stopping -----------------------------------------------------------------------

    async def stop(self) -> None:
        """Priority-0 adverts from every master, addresses removed, sockets closed."""
        now = self.loop.time()
        for runtime in self.groups.values():
            self._feed(runtime, Shutdown(), now)
            for timer in list(runtime.handles):
                self._cancel(runtime, timer)
        while not self.ordered.empty():
            await self.ordered.get_nowait()
        for task in (self.worker, self.monitor):
            if task is not None:
                task.cancel()
        for sock in self.recv_sockets:
            self.loop.remove_reader(sock.fileno())
            sock.close()
        for sock in self.send_sockets.values():
            sock.close()
        for announcer in self.announcers.values():
            announcer.close()
        self.netlink.close()

    # Status -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        groups = []
        for runtime in self.groups.values():
            group, machine = runtime.group, runtime.machine
            master = machine.master_address
            groups.append(
                {
                    "name": group.name,
                    "interface": group.interface,
                    "vrid": group.vrid,
                    "version": group.version,
                    "state": machine.state.value,
                    "priority": group.priority,
                    "effective_priority": machine.priority,
                    "master_address": str(master) if master is not None else None,
                    "last_transition": runtime.last_transition,
                    "sync_group": runtime.sync_group,
                    "rfc3768_compatibility": group.rfc3768_compatibility,
                    "address_owner": group.address_owner,
                    "addresses": [str(a) for a in group.address],
                    "faults": sorted(machine.faults),
                    "counters": {
                        "adverts_sent": runtime.counters["adverts_sent"],
                        "adverts_received": runtime.counters["adverts_received"],
                        "transitions": runtime.counters["transitions"],
                        "address_mismatch": runtime.counters["address_mismatch"],
                        "send_errors": runtime.counters["send_errors"],
                        "drops": dict(runtime.drops),
                    },
                }
            )
        return {"groups": groups}
