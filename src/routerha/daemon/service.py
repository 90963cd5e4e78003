"""The routerhad service: sockets, netlink and timers around the sans-IO machines.

Everything runs on one asyncio loop. Packets, link events and check results
become machine events stamped with ``loop.time()`` (monotonic); the actions that
come back are carried out at once, in order, except netlink changes and
announcements, which a worker carries out one after another (an address is
installed before it is announced). The machines' timers share one loop timer
(``timers.Timers``).

``apply`` starts a configuration and, on reload, replaces it: a group whose
settings and sync group did not change keeps its machine, timers and state.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import errno
import logging
import socket
import sys
import time
from collections.abc import Awaitable, Hashable
from typing import TYPE_CHECKING, Any, Callable

from routerha.errors import RouterhaError
from routerha.ip import IPAddress, IPInterface
from routerha.model.vrrp import Config, VrrpGroup
from routerha.vrrp.ahsequence import AhSequence
from routerha.vrrp.events import (
    Action,
    AddAddresses,
    CancelTimer,
    Event,
    FaultCleared,
    FaultRaised,
    PreemptionHeld,
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
from routerha.vrrp.receive import Receiver
from routerha.vrrp.send import Sender
from routerha.vrrp.syncgroup import SyncGroupCoordinator

from . import sockets, tracking
from .ahstate import DEFAULT_STATE_DIR, AhStateKeeper, state_key, uses_ah
from .announce import Announcer
from .checks import CheckRunner
from .netlink import AddressSocket, Link, Netlink
from .ports import Port
from .runtime import GroupRuntime
from .scripts import ScriptQueue
from .timers import Timers
from .vmac import VmacManager

if TYPE_CHECKING:
    from .conntrack import ConntrackSyncService

log = logging.getLogger("routerhad")

#: Timers wake this much early (see timers.py).
TIMER_SLACK = 0.0015


#: The TimerExpired event of each timer (events are immutable: made once).
_EXPIRED = {timer: TimerExpired(timer) for timer in Timer}


class ServiceError(RouterhaError):
    """The host cannot run the configuration (a missing interface, no address)."""


class Service:
    def __init__(self, state_dir: str = DEFAULT_STATE_DIR) -> None:
        self.state_dir = state_dir
        #: The AH sequence numbers kept across restarts; opened with the first AH group.
        self.ah_state: AhStateKeeper | None = None
        self.loop = asyncio.get_running_loop()
        self.netlink = Netlink()
        self.addresses = AddressSocket()
        self.vmacs = VmacManager(self.netlink)
        self.config = Config()
        self.groups: dict[str, GroupRuntime] = {}
        self.ports: dict[tuple[str, int], Port] = {}
        self.announcers: dict[str, Announcer] = {}
        self.links: dict[str, Link] = {}
        #: AH sequence numbers outlive a reload of their group.
        self.sequences: dict[str, AhSequence] = {}
        self.sync_checks: dict[str, CheckRunner] = {}
        self.sync_scripts: dict[str, ScriptQueue] = {}
        self.ordered: asyncio.Queue[Awaitable[None]] = asyncio.Queue()
        #: Jobs queued or running on the worker; while any are, adverts queue too,
        #: so that the first advert of a new master leaves after its macvlan is up.
        self.pending = 0
        self.worker: asyncio.Task | None = None
        self.monitor: asyncio.Task | None = None
        #: The machines' armed timers, keyed (group name, Timer).
        self.timers = Timers(self.loop, self._expired, TIMER_SLACK)
        self.ctsync: ConntrackSyncService | None = None
        #: Whether the conntrack sync group's members are (going) MASTER here.
        self._ct_master = False
        #: Groups being stopped: their last actions still need carrying out.
        self._stopping: dict[str, GroupRuntime] = {}

    # Configuration ------------------------------------------------------------------

    async def apply(self, config: Config) -> dict[str, list[str]]:
        """Start ``config``, or move to it from the running one without touching the
        groups that did not change. Returns which groups were kept, started, stopped."""
        if self.worker is None:
            self.worker = self.loop.create_task(self._work())
            self.monitor = self.loop.create_task(self.netlink.watch_links(self._on_link))
        old = self.config
        wanted = {n: g for n, g in config.groups.items() if not g.disable}
        kept = [
            name
            for name, runtime in self.groups.items()
            if wanted.get(name) == runtime.group
            and _sync_name(old, name) == _sync_name(config, name)
        ]
        # A group whose only change is its authentication keeps running: the state
        # machine never sees keys, so a staged password change (accept the new key,
        # send with it, forget the old) happens without a single transition.
        rekeyed = [
            name
            for name, runtime in self.groups.items()
            if name not in kept
            and name in wanted
            and _sync_name(old, name) == _sync_name(config, name)
            and _only_keys_differ(runtime.group, wanted[name])
        ]
        stopped = [name for name in self.groups if name not in kept and name not in rekeyed]
        # Everything the new groups need from the host is looked up before anything
        # changes: a reload that cannot work leaves the running groups alone.
        sources = {
            name: await self._preflight(group)
            for name, group in wanted.items()
            if name not in kept and name not in rekeyed
        }
        if self.ah_state is None and any(uses_ah(g) for g in wanted.values()):
            keeper = AhStateKeeper(self.state_dir)
            await keeper.open()
            self.ah_state = keeper
        for name in stopped:
            await self._stop_group(self.groups.pop(name))
        started: dict[str, GroupRuntime] = {}
        try:
            for name, source in sources.items():
                started[name] = await self._runtime(wanted[name], source, config)
        except Exception:
            for runtime in started.values():
                await self._release(runtime)
            raise
        self.groups.update(started)
        for name in rekeyed:
            self._rekey(self.groups[name], wanted[name])
        if self.ah_state is not None:
            # A restored group sends above its reservation: on disk before it sends.
            self.ah_state.forget({state_key(r.group) for r in self.groups.values()})
            await self.ah_state.flush()
        if self._only_sync_keys_changed(old, config):
            assert self.ctsync is not None and config.conntrack_sync is not None
            self.ctsync.rekey(config.conntrack_sync)  # the sync session carries on
        elif old.conntrack_sync != config.conntrack_sync:
            await self._restart_ctsync(config)
        self.config = config
        self._rebuild_ports()
        self._rebuild_sync_groups(config)
        now = self.loop.time()
        for runtime in started.values():
            self._feed(runtime, Startup(), now)
            self._start_check(runtime)
            self._track(runtime, now)
        summary = {
            "kept": sorted(kept),
            "rekeyed": sorted(rekeyed),
            "started": sorted(started),
            "stopped": sorted(stopped),
        }
        log.info("configuration applied: %s", summary)
        return summary

    def _rekey(self, runtime: GroupRuntime, group: VrrpGroup) -> None:
        """Swap the group's keys under the running machine (the receivers are rebuilt
        with the new group by _rebuild_ports; the AH sequence carries on)."""
        runtime.group = group
        runtime.machine.group = group
        runtime.sender = Sender(group, runtime.sender.source, sequence=self._sequence(group))

    def _only_sync_keys_changed(self, old: Config, new: Config) -> bool:
        """Whether the sync link stays as it is but for its keys (authenticated before
        and after): a staged key change, applied without restarting the sync."""
        before, after = old.conntrack_sync, new.conntrack_sync
        return (
            self.ctsync is not None
            and self.ctsync.auth is not None
            and before is not None
            and after is not None
            and before != after
            and before.without_keys() == after.without_keys()
            and after.authentication is not None
            and after.authentication.enabled
        )

    async def _restart_ctsync(self, config: Config) -> None:
        if self.ctsync is not None:
            await self.ctsync.stop()
            self.ctsync = None
        sync = config.conntrack_sync
        if sync is None:
            return
        # In a worker thread: the import takes about 0.2 s, which would stall the
        # groups' 10 ms timers on a reload that turns the sync on.
        table_class, service_class, link_class = await self.loop.run_in_executor(
            None, import_conntrack_sync
        )
        await self._lookup(sync.interface, required=True)
        link = self.links[sync.interface]
        local = sync.listen_address or await self.netlink.primary_address(link.index, False, set())
        if local is None or local.version != 4:
            raise ServiceError(f"conntrack_sync: {sync.interface} has no IPv4 address to sync from")
        table = table_class(
            event_buffer=sync.event_listen_queue_size << 20, expect_helpers=sync.expect_sync
        )
        self.ctsync = service_class(
            sync, table, link_class(sync, link.index, local), self._retrack_all
        )
        await self.ctsync.start()

    def _retrack_all(self) -> None:
        now = self.loop.time()
        for runtime in self.groups.values():
            self._track(runtime, now)

    async def _preflight(self, group: VrrpGroup) -> IPAddress:
        """The interfaces exist and the group has an address to send from; no changes."""
        for name in (group.interface, *(t.name for t in group.track.interface)):
            await self._lookup(name, required=name == group.interface)
        for name in group.other_interfaces:
            # Addresses go there on becoming master: the interface must exist now.
            await self._lookup(name, required=True)
        source = group.hello_source_address or await self._source(
            group, self.links[group.interface]
        )
        if source is None:
            family = "link-local IPv6" if group.ipv6 else "IPv4"
            raise ServiceError(
                f"group {group.name}: {group.interface} has no {family} address to send from"
            )
        return source

    async def _runtime(self, group: VrrpGroup, source: IPAddress, config: Config) -> GroupRuntime:
        link = self.links[group.interface]
        tx_link, own_vmac = link, False
        if group.rfc3768_compatibility:
            link_local = await self.netlink.link_local(link.index) if group.ipv6 else None
            tx_link = await self.vmacs.ensure(group, link, link_local)
            own_vmac = True
        family = 6 if group.ipv6 else 4
        send_socket = self._port(group.interface, link.index, family).send
        try:
            if tx_link is not link:
                send_socket = (
                    sockets.open_ipv6(tx_link.name, tx_link.index)
                    if group.ipv6
                    else sockets.open_ipv4_sender(tx_link.name, tx_link.index)
                )
        except OSError:
            await self.vmacs.remove(link, tx_link)
            raise
        assert send_socket is not None
        for index, iface in self._placements(group, tx_link):
            self.addresses.prepare(index, iface)
        return GroupRuntime(
            group=group,
            link=link,
            tx_link=tx_link,
            machine=VrrpMachine(group, source),
            sender=Sender(group, source, sequence=self._sequence(group)),
            send_socket=send_socket,
            sync_group=_sync_name(config, group.name),
            own_vmac=own_vmac,
        )

    def _placements(self, group: VrrpGroup, tx_link: Link) -> list[tuple[int, IPInterface]]:
        """(interface index, address) of every address the group installs: on
        ``tx_link`` (the group's interface or its macvlan) unless it is placed on
        another interface (``address_interface``)."""
        out = []
        for iface in group.address + group.excluded_address:
            other = group.interface_of(iface)
            out.append((tx_link.index if other is None else self.links[other].index, iface))
        return out

    def _announcements(self, runtime: GroupRuntime) -> list[tuple[Announcer, bytes, list[Any]]]:
        """Who announces which advertised addresses with which MAC: the group's
        interface with the group's (virtual) MAC, and each other interface that
        carries some of them with its own MAC, as keepalived does for ``dev``."""
        group = runtime.group
        by_interface: dict[str | None, list[Any]] = {}
        for iface in group.address:
            by_interface.setdefault(group.interface_of(iface), []).append(iface.ip)
        out = []
        for other, addresses in by_interface.items():
            if other is None:
                out.append((self.announcers[group.interface], runtime.tx_link.mac, addresses))
            elif other in self.announcers:
                out.append((self.announcers[other], self.links[other].mac, addresses))
        return out

    def _sequence(self, group: VrrpGroup) -> AhSequence:
        """The group's AH sequence, shared by its sender and its port's receiver."""
        if self.ah_state is not None and uses_ah(group):
            self.sequences[group.name] = self.ah_state.sequence(group)
        return self.sequences.setdefault(group.name, AhSequence())

    async def _source(self, group: VrrpGroup, link: Link) -> IPAddress | None:
        # IPv6: the interface's link-local address (a macvlan carries it too).
        exclude = {a.ip for a in group.address}
        return await self.netlink.primary_address(link.index, group.ipv6, exclude)

    async def _lookup(self, name: str, required: bool) -> None:
        link = await self.netlink.link(name)
        if link is None:
            if required:
                raise ServiceError(f"interface {name} does not exist")
            link = Link(index=0, name=name, mac=b"\0" * 6, up=False)
        self.links[name] = link

    def _port(self, interface: str, ifindex: int, family: int) -> Port:
        key = (interface, family)
        if key not in self.ports:
            self.ports[key] = Port(interface, ifindex, family)
        port = self.ports[key]
        port.open([])
        return port

    def _rebuild_ports(self) -> None:
        by_port: dict[tuple[str, int], list[VrrpGroup]] = collections.defaultdict(list)
        for runtime in self.groups.values():
            by_port[(runtime.group.interface, 6 if runtime.group.ipv6 else 4)].append(runtime.group)
        for key in [k for k in self.ports if k not in by_port]:
            self._close_port(self.ports.pop(key))
        for key, groups in by_port.items():
            port = self.ports[key]
            port.open(groups)
            local = tuple(self.groups[g.name].sender.source for g in groups)
            port.receiver = Receiver(groups, local_addresses=local, sequences=self.sequences)
            if port.interface not in self.announcers:
                self.announcers[port.interface] = Announcer(port.interface, port.ifindex)
            for sock in port.receive.values():
                self._watch(sock, port)
        # Addresses on other interfaces are announced there (with that interface's MAC).
        for runtime in self.groups.values():
            for name in runtime.group.other_interfaces:
                if name not in self.announcers:
                    self.announcers[name] = Announcer(name, self.links[name].index)

    def _watch(self, sock: socket.socket, port: Port) -> None:
        self.loop.remove_reader(sock.fileno())
        self.loop.add_reader(sock.fileno(), self._on_readable, sock, port)

    def _close_port(self, port: Port) -> None:
        for sock in port.sockets():
            self.loop.remove_reader(sock.fileno())
            sock.close()

    def _rebuild_sync_groups(self, config: Config) -> None:
        for runtime in self.groups.values():
            runtime.machine.sync = None
        for runner in self.sync_checks.values():
            runner.stop()
        self.sync_checks.clear()
        for sync in config.sync_groups.values():
            members = [self.groups[m].machine for m in sync.member if m in self.groups]
            if not members:
                continue
            SyncGroupCoordinator(sync.name, members)
            self.sync_scripts.setdefault(sync.name, ScriptQueue())
            if sync.health_check is not None:
                runner = CheckRunner(
                    f"sync group {sync.name}",
                    sync.health_check,
                    lambda failed, name=sync.name: self._retrack(name),
                )
                self.sync_checks[sync.name] = runner
                runner.start()

    # Input --------------------------------------------------------------------------

    def _on_readable(self, sock: socket.socket, port: Port) -> None:
        # Drain what is queued: under load one wake-up serves many packets.
        receiver = port.receiver
        for _attempt in range(64):
            try:
                if port.family == 4:
                    data, stamp = sockets.recv_ipv4(sock)
                    result = receiver.receive_ipv4(data)
                else:
                    data, src, dst, hops, stamp = sockets.recv_ipv6(sock)
                    result = receiver.receive_ipv6(data, src, dst, hops)
            except BlockingIOError:
                return
            except RouterhaError as drop:
                self._count_drop(receiver, drop)
                continue
            except OSError as error:
                log.warning("%s: receive error: %s", port.interface, error)
                return
            runtime = self.groups.get(result.group)
            if runtime is None:
                continue
            runtime.counters["adverts_received"] += 1
            if self.ah_state is not None:
                self.ah_state.note(runtime.sender.sequence)
            if result.address_mismatch:
                runtime.counters["address_mismatch"] += 1
            self._feed(runtime, result.event, self._arrival(stamp))

    def _arrival(self, stamp: float | None) -> float:
        """When the advert reached the host, on the loop's clock: the Master_Down_Timer
        runs from there, not from when Python got round to reading it."""
        now = self.loop.time()
        if stamp is None:
            return now
        return min(now, now - (time.time() - stamp))

    def _count_drop(self, receiver: Receiver, drop: RouterhaError) -> None:
        reason = getattr(drop, "reason", None)
        name = reason.value if reason is not None else "malformed"
        # A drop names no group for certain (its VRID may be garbage): it is counted
        # on every group of the port, so `status` shows it wherever one looks.
        for check in receiver.by_vrid.values():
            runtime = self.groups.get(check.group.name)
            if runtime is not None:
                runtime.drops[name] += 1
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

    def _start_check(self, runtime: GroupRuntime) -> None:
        check = runtime.group.health_check
        if check is not None:
            runtime.check = CheckRunner(
                f"group {runtime.group.name}",
                check,
                lambda failed, name=runtime.group.name: self._retrack(name),
            )
            runtime.check.start()

    def _retrack(self, name: str) -> None:
        now = self.loop.time()
        for runtime in self.groups.values():
            if name in (runtime.group.name, runtime.sync_group):
                self._track(runtime, now)

    def _track(self, runtime: GroupRuntime, now: float) -> None:
        """Feed the machine the faults and priority that links and checks imply."""
        sync_check = self.sync_checks.get(runtime.sync_group or "")
        health = tracking.evaluate(
            runtime.group,
            self.links,
            check_failed=runtime.check is not None and runtime.check.failed,
            sync_check_failed=runtime.sync_group if sync_check and sync_check.failed else None,
            sync_check=sync_check.check if sync_check else None,
        )
        ctsync = self.ctsync
        held = (
            ctsync is not None and ctsync.holding and runtime.sync_group == ctsync.config.sync_group
        )
        machine = runtime.machine
        if held != machine.preemption_held:
            # No preempting before the peer's sessions are here.
            self._feed(runtime, PreemptionHeld(held), now)
        for reason in sorted(
            r for r in machine.faults if tracking.owned(r) and r not in health.faults
        ):
            self._feed(runtime, FaultCleared(reason), now)
        for reason in sorted(health.faults - machine.faults):
            self._feed(runtime, FaultRaised(reason), now)
        self._feed(runtime, PriorityChanged(health.priority), now)

    # Output -------------------------------------------------------------------------

    def _feed(self, runtime: GroupRuntime, event: Event, now: float) -> None:
        self.execute(runtime.machine.handle(event, now), runtime)

    def execute(self, actions: list[Action], fed: GroupRuntime | None = None) -> None:
        """Carry out ``actions``; ``fed`` is the group whose machine returned them (a
        sync group's actions may concern its other members)."""
        for action in actions:
            if fed is not None and action.group == fed.name:
                runtime: GroupRuntime | None = fed
            else:
                runtime = self.groups.get(action.group) or self._stopping.get(action.group)
            if runtime is None:
                continue
            try:
                self._do(runtime, action)
            except OSError as error:
                log.error("group %s: %s failed: %s", action.group, type(action).__name__, error)

    def _do(self, runtime: GroupRuntime, action: Action) -> None:
        group = runtime.group
        if isinstance(action, SendAdvert):
            if self.pending:
                self._in_order(self._send_later(runtime, action.priority))
            else:
                self._send(runtime, action.priority)
        elif isinstance(action, ScheduleTimer):
            self.timers.schedule((group.name, action.timer), action.at)
        elif isinstance(action, CancelTimer):
            self.timers.cancel((group.name, action.timer))
        elif isinstance(action, (AddAddresses, RemoveAddresses)):
            change = (
                self.addresses.add if isinstance(action, AddAddresses) else self.addresses.remove
            )
            for index, iface in self._placements(group, runtime.tx_link):
                self._now_or_in_order(change, index, iface)
        elif isinstance(action, SendGratuitous):
            if self.pending or group.garp.interval:
                self._in_order(self._announce(runtime, action.count))
            else:
                for _repeat in range(action.count):
                    self._announce_once(runtime)
        elif isinstance(action, Transition):
            self._transition(runtime, action)

    def _transition(self, runtime: GroupRuntime, action: Transition) -> None:
        if runtime.own_vmac and State.MASTER in (action.old, action.new):
            # Carrier on the macvlan only while master (see vmac.py).
            down = action.new is not State.MASTER
            self._in_order(self.netlink.set_protodown(runtime.tx_link.index, down))
        self._ctsync_transition(runtime, action)
        runtime.counters["transitions"] += 1
        runtime.last_transition = time.time()
        group = runtime.group
        state = "STOP" if action.new is State.INIT else action.new.value
        jobs = []
        script = getattr(group.transition_script, state.lower(), None)
        if script:
            jobs.append((runtime.scripts, script, "INSTANCE", group.name))
        sync = self.config.sync_groups.get(runtime.sync_group or "")
        if sync is not None and action.new is not State.INIT:
            script = getattr(sync.transition_script, state.lower(), None)
            members = [self.groups[m] for m in sync.member if m in self.groups]
            # Once per sync group transition: when the last member arrives there.
            if script and all(m.machine.state is action.new for m in members):
                jobs.append((self.sync_scripts[sync.name], script, "GROUP", sync.name))
        if action.new is State.MASTER:
            # On a takeover the log line and the scripts wait until the rest of this
            # batch of actions (the advert, the addresses, the gratuitous ARPs) is out.
            self.loop.call_soon(self._report_transition, group.name, action, state, jobs)
        else:
            self._report_transition(group.name, action, state, jobs)

    def _report_transition(
        self, name: str, action: Transition, state: str, jobs: list[tuple[Any, str, str, str]]
    ) -> None:
        log.info("group %s: %s -> %s (%s)", name, action.old.value, action.new.value, action.reason)
        for runner, script, kind, target in jobs:
            runner.submit(script, kind, target, state)

    def _ctsync_transition(self, runtime: GroupRuntime, action: Transition) -> None:
        """Sessions follow the sync group: commit them before the addresses come up."""
        ctsync = self.ctsync
        if ctsync is None or runtime.sync_group != ctsync.config.sync_group:
            return
        if action.new is State.MASTER and not self._ct_master:
            self._ct_master = True
            # Queued ahead of this transition's AddAddresses, which wait for it.
            self._in_order(ctsync.become_master())
            # After every member's addresses (queued in this same batch of actions).
            self.loop.call_soon(self._in_order, ctsync.after_master())
        elif action.old is State.MASTER and action.new is not State.MASTER and self._ct_master:
            self._ct_master = False
            # Behind become_master, if that is still queued: it must not run after
            # this and leave a backup committing its peer's entries as a master does.
            self._in_order(_as_job(ctsync.become_backup))

    def _send(self, runtime: GroupRuntime, priority: int) -> None:
        unicast = runtime.unicast
        for dst, dst_text in runtime.destinations:
            try:
                if runtime.ipv6:
                    message = runtime.sender.message(priority, dst)
                    sockets.send_ipv6(
                        runtime.send_socket,
                        message,
                        runtime.sender.source,
                        dst_text,
                        runtime.tx_link.index,
                    )
                else:
                    datagram = runtime.sender.ipv4_datagram(priority, dst, unicast=unicast)
                    runtime.send_socket.sendto(datagram, (dst_text, 0))
            except OSError as error:
                if error.errno not in (
                    errno.ENETDOWN,
                    errno.ENXIO,
                    errno.EADDRNOTAVAIL,
                    errno.ENETUNREACH,
                ):
                    raise
                runtime.counters["send_errors"] += 1
                continue
            runtime.counters["adverts_sent"] += 1
        if self.ah_state is not None:
            self.ah_state.note(runtime.sender.sequence)

    async def _announce(self, runtime: GroupRuntime, count: int) -> None:
        group = runtime.group
        for n in range(count):
            if n and group.garp.interval:
                await asyncio.sleep(group.garp.interval)
                if runtime.machine.state is not State.MASTER:
                    return
            self._announce_once(runtime)

    def _announce_once(self, runtime: GroupRuntime) -> None:
        """One round of announcements; an interface that refuses (down, gone) does not
        keep the others from theirs."""
        for announcer, mac, addresses in self._announcements(runtime):
            try:
                announcer.announce(mac, addresses)
            except OSError as error:
                log.warning(
                    "group %s: announcing on %s failed: %s",
                    runtime.group.name,
                    announcer.interface,
                    error,
                )

    def _now_or_in_order(self, change: Callable[..., None], *args: Any) -> None:
        """At once, unless earlier jobs (a macvlan coming up, a conntrack commit) are
        still queued: then behind them."""
        if self.pending:
            self._in_order(_as_job(change, *args))
        else:
            change(*args)

    def _in_order(self, job: Awaitable[None]) -> None:
        self.pending += 1
        self.ordered.put_nowait(job)

    async def _send_later(self, runtime: GroupRuntime, priority: int) -> None:
        self._send(runtime, priority)

    async def _work(self) -> None:
        """Carries out netlink changes and announcements one after another."""
        while True:
            job = await self.ordered.get()
            try:
                await job
            except Exception as error:  # one failed change must not stop the others
                log.error("netlink: %s", error)
            finally:
                self.pending -= 1
                self.ordered.task_done()

    def _expired(self, key: Hashable, deadline: float) -> None:
        name, timer = key  # type: ignore[misc]
        runtime = self.groups.get(name) or self._stopping.get(name)
        if runtime is None:
            return
        # The loop may run a timer up to its clock resolution early: the machine is
        # told the time is the deadline then, never a moment before it (and the loop
        # is never put to sleep to wait for it).
        self._feed(runtime, _EXPIRED[timer], max(deadline, self.loop.time()))

    # Stopping -----------------------------------------------------------------------

    async def _stop_group(self, runtime: GroupRuntime) -> None:
        """Shutdown (priority 0 if master, addresses removed), then release its resources."""
        name = runtime.group.name
        self._stopping[name] = runtime
        try:
            if runtime.check is not None:
                runtime.check.stop()
            self._feed(runtime, Shutdown(), self.loop.time())
            for timer in Timer:
                self.timers.cancel((name, timer))
            await self._drain()
            await runtime.scripts.drain()
            await self._release(runtime)
        finally:
            self._stopping.pop(name, None)

    async def _release(self, runtime: GroupRuntime) -> None:
        if runtime.send_socket is not None and runtime.tx_link is not runtime.link:
            runtime.send_socket.close()
        if runtime.own_vmac:
            await self.vmacs.remove(runtime.link, runtime.tx_link)

    async def _drain(self) -> None:
        """Wait until the worker has carried out everything queued so far."""
        await self.ordered.join()

    async def stop(self) -> None:
        """Priority-0 adverts from every master, addresses removed, sockets closed."""
        for name in list(self.groups):
            await self._stop_group(self.groups.pop(name))
        if self.ctsync is not None:
            await self.ctsync.stop()
        if self.ah_state is not None:
            await self.ah_state.close()
        for runner in self.sync_checks.values():
            runner.stop()
        for queue in self.sync_scripts.values():
            await queue.drain()
        self.timers.close()
        for task in (self.worker, self.monitor):
            if task is not None:
                task.cancel()
        for port in self.ports.values():
            self._close_port(port)
        self.ports.clear()
        for announcer in self.announcers.values():
            announcer.close()
        self.addresses.close()
        self.netlink.close()

    # Status -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"groups": [runtime.status() for runtime in self.groups.values()]}


def import_conntrack_sync() -> tuple[Any, Any, Any]:
    """The conntrack sync's classes, imported on first use: they and their netlink
    library (pyroute2) stay out of the memory of a router that runs VRRP only.

    pyroute2 imports ssl, which the daemon's process keeps out (``__main__.py``):
    it is let in here, for this router only needs it."""
    if "ssl" in sys.modules and sys.modules["ssl"] is None:
        del sys.modules["ssl"]
    from routerha.ctsync.kernel import ConntrackTable  # noqa: PLC0415

    from .conntrack import ConntrackSyncService, SyncLink  # noqa: PLC0415

    return ConntrackTable, ConntrackSyncService, SyncLink


async def _as_job(change: Callable[..., None], *args: Any) -> None:
    change(*args)


def _only_keys_differ(old: VrrpGroup, new: VrrpGroup) -> bool:
    return old != new and dataclasses.replace(old, authentication=new.authentication) == new


def _sync_name(config: Config, group: str) -> str | None:
    sync = config.sync_group_of(group)
    return sync.name if sync is not None else None
