"""Conntrack state sync in routerhad: the kernel table, the sync link, the two caches.

The internal cache holds this router's own entries (from a dump and then the
kernel's events); every change goes to the peer through the sync protocol. The
external cache holds the peer's entries as they arrive; it is committed into the
kernel when this router becomes MASTER of the configured sync group, before the
virtual addresses attract traffic. keepalived leaves this to conntrackd and a
notify script, and the addresses come up while the commit is still running.

The peer is not trusted with the kernel table: its records are checked on
receipt (``Admission``), the external cache holds at most ``nf_conntrack_max``
entries, a master writes none of them into its kernel (only
``disable_external_cache``, for active-active pairs, commits as they arrive),
a commit never replaces a live entry, and no committed timeout exceeds the
kernel's own for that state (``KernelTimeouts``).

Order on becoming MASTER: commit the external cache (the VRRP service waits for
it before installing addresses), then re-dump the kernel into the internal cache
and send it all to the peer. On becoming BACKUP: ask the peer for its table.

Every datagram on the sync link passes the authentication layer
(``routerha.ctsync.auth``) both ways, unless the configuration says ``type: none``:
what it drops never reaches the protocol, and is counted by reason and logged at
most once per reason every 10 s (``DropLog``).

A router that starts does not preempt (OpenBSD's pfsync demotes CARP for the same
reason) until the peer's bulk sync is complete or ``STARTUP_HOLD`` seconds have
passed, so that it does not take over sessions it has never seen. It still
becomes master when there is no master at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import itertools
import logging
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable

from routerha.ctsync import entry as ct
from routerha.ctsync import expectation as cx
from routerha.ctsync.admission import Admission
from routerha.ctsync.auth import Keys, SyncAuth
from routerha.ctsync.cache import ExternalCache
from routerha.ctsync.entry import PROTOCOL_NAMES
from routerha.ctsync.kernel import Overrun, Prepared, prepare
from routerha.ctsync.protocol import (
    Action,
    Apply,
    BulkReceived,
    Confirm,
    Op,
    PeerRestarted,
    ResyncRequested,
    Send,
    SyncError,
    SyncProtocol,
)
from routerha.ctsync.timeouts import MAX_EXPECTATION_TIMEOUT, KernelTimeouts
from routerha.errors import RouterhaError
from routerha.ip import IPAddress
from routerha.model.conntrack_sync import ConntrackSync, SyncAuthentication

from .droplog import DropLog

log = logging.getLogger("routerhad")

#: Seconds a starting router waits for the peer's bulk sync before it may preempt.
STARTUP_HOLD = 10.0
#: Entries committed on takeover live at least this long, so the first packets find them.
MIN_COMMIT_TIMEOUT = 60
#: The peer's changed entries get their create messages encoded (``prepare``) in
#: batches this far apart: an entry that changes several times in a row (SYN,
#: then ESTABLISHED) is encoded once, and a takeover finds them ready.
PREPARE_DELAY = 0.25
PREPARE_BATCH = 5000
#: Entries compared between two turns of the event loop when reconciling with a dump.
RECONCILE_SLICE = 5000
#: The sync protocol's largest datagram (the authentication trailer comes on top).
PAYLOAD_SIZE = 1400
#: The kernel's table size, the bound of the external cache (the peer cannot have more).
CONNTRACK_MAX = Path("/proc/sys/net/netfilter/nf_conntrack_max")
#: The bound when the kernel's cannot be read.
DEFAULT_EXTERNAL_MAX = 262_144


#: Never synced: VRRP itself, IGMP, AH (VRRP authentication) and ESP.
NEVER_SYNCED = frozenset({112, 2, 51, 50})
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
#: Seconds of received datagrams handled in one turn of the event loop (the VRRP
#: timers run in between; the rest waits in the socket buffer).
RECEIVE_BUDGET = 0.005


class SyncFilter:
    """Which connections are synced: ``accept_protocol`` and ``ignore_address``; and
    never the routers' own control traffic (VRRP, IGMP, to or from the sync link),
    multicast or broadcast, or loopback."""

    def __init__(self, config: ConntrackSync, own: Iterable[IPAddress] = ()) -> None:
        self.protocols = {PROTOCOL_NAMES[p] for p in config.accept_protocol} or None
        self.ignore = list(config.ignore_address)
        self.own = set(own)

    def accepts(self, entry: ct.Entry | cx.Expectation) -> bool:
        # An expectation is synced when the connection that announced it is.
        original = entry.master if isinstance(entry, cx.Expectation) else entry.original
        if original.proto in NEVER_SYNCED or original.dst.is_multicast:
            return False
        if original.dst == _BROADCAST:
            return False
        if self.protocols is not None and original.proto not in self.protocols:
            return False
        for address in (original.src, original.dst):
            if address.is_loopback or address in self.own:
                return False
            if any(
                address in network for network in self.ignore if network.version == address.version
            ):
                return False
        return True


def sync_keys(auth: SyncAuthentication | None) -> Keys | None:
    """The keys of the authentication layer; None for an unauthenticated link."""
    if auth is None or not auth.enabled or auth.key_id is None:
        return None
    return Keys(send_id=auth.key_id, keys={k.key_id: k.key.encode() for k in auth.receive_keys})


class SyncLink:
    """The UDP socket on the sync link: multicast to the group, or unicast to the peer."""

    def __init__(self, config: ConntrackSync, ifindex: int, local: ipaddress.IPv4Address) -> None:
        self.destination = (str(config.peer or config.mcast_group), config.port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, 25, config.interface.encode())  # SO_BINDTODEVICE
            size = config.sync_queue_size << 20
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
            if config.peer is None:
                sock.bind(("", config.port))
                mreq = struct.pack("=4s4si", config.mcast_group.packed, local.packed, ifindex)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local.packed)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            else:
                sock.bind((str(local), config.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.local = local

    def send(self, datagram: bytes) -> None:
        with contextlib.suppress(BlockingIOError):
            self.sock.sendto(datagram, self.destination)

    def close(self) -> None:
        self.sock.close()


class ConntrackSyncService:
    def __init__(
        self,
        config: ConntrackSync,
        table: Any,
        link: SyncLink,
        on_hold_changed: Callable[[], None],
    ) -> None:
        self.config = config
        self.table = table
        self.link = link
        self.loop = asyncio.get_running_loop()
        # The sync link's own traffic: to or from its address (multicast is never synced).
        self.filter = SyncFilter(config, own=(link.local, *((config.peer,) if config.peer else ())))
        self.protocol = SyncProtocol(
            payload_size=PAYLOAD_SIZE, admit=Admission(self.filter.accepts, config.expect_sync)
        )
        #: Every datagram passes it both ways (None: the configuration says type none).
        keys = sync_keys(config.authentication)
        self.auth = SyncAuth(keys, max_inner=PAYLOAD_SIZE) if keys is not None else None
        self.drop_log = DropLog(log, time.monotonic)
        #: The kernel's timeouts (read at start) cap those of committed entries.
        self.timeouts = KernelTimeouts({})
        self.internal: dict[bytes, bytes] = {}
        self.external = ExternalCache(DEFAULT_EXTERNAL_MAX)
        #: Create messages of external entries, made ahead of a takeover (by key).
        self.prepared: dict[bytes, Prepared] = {}
        self._unprepared: set[bytes] = set()
        self._preparing: asyncio.Task | None = None
        self.on_hold_changed = on_hold_changed
        self.hold_until = 0.0
        self.bulk_complete = False
        self.master = False
        self.tasks: list[asyncio.Task] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flush_scheduled = False
        self.counters: dict[str, int] = {
            "events": 0, "overruns": 0, "foreign": 0, "committed": 0, "commit_failed": 0,
            "commits": 0, "last_commit_seconds": 0, "kept_live": 0, "ignored_as_master": 0, "reasserted": 0,
        }  # fmt: skip

    # Life --------------------------------------------------------------------------

    async def start(self) -> None:
        self.timeouts = KernelTimeouts.read()
        self.external.limit = _read_int(CONNTRACK_MAX) or DEFAULT_EXTERNAL_MAX
        await self.table.open()  # subscribed before the dump: nothing falls in between
        self.internal = await self._table_now()
        self.loop.add_reader(self.link.sock.fileno(), self._on_datagram)
        self.tasks.append(self.loop.create_task(self._events()))
        if self.config.startup_resync:
            self.hold_until = self.loop.time() + STARTUP_HOLD
            self.loop.call_at(self.hold_until, self.on_hold_changed)
        if self.auth is not None:
            self._send_raw(self.auth.start(self.loop.time()))
        self._carry_out(self.protocol.start(self.loop.time(), resync=self.config.startup_resync))
        log.info("conntrack sync on %s: %d own entries", self.config.interface, len(self.internal))

    async def stop(self) -> None:
        for task in (*self.tasks, self._preparing):
            if task is not None:
                task.cancel()
        self.loop.remove_reader(self.link.sock.fileno())
        if self._timer is not None:
            self._timer.cancel()
        self.link.close()
        self.table.close()

    @property
    def holding(self) -> bool:
        """Whether the sync group must not take over yet (no bulk sync from the peer)."""
        return not self.bulk_complete and self.loop.time() < self.hold_until

    # Kernel side --------------------------------------------------------------------

    async def _dump(self) -> list[ct.Entry | cx.Expectation]:
        items: list[ct.Entry | cx.Expectation] = list(await self.table.dump())
        if self.config.expect_sync:
            helpers = set(self.config.expect_sync)
            items += [x for x in await self.table.dump_expectations() if x.helper in helpers]
        return items

    async def _table_now(self) -> dict[bytes, bytes]:
        """A fresh dump as an internal cache: key -> state of what is synced.

        Filtering and encoding 100,000 entries takes over a second of Python, so
        it runs in a worker thread, not in the loop that keeps the VRRP timers.
        """
        items = await self._dump()
        return await self.loop.run_in_executor(None, self._keyed, items)

    def _keyed(self, items: Iterable[ct.Entry | cx.Expectation]) -> dict[bytes, bytes]:
        return {e.key: e.state() for e in items if self.filter.accepts(e)}

    async def _events(self) -> None:
        while True:
            try:
                async for event in self.table.events():
                    self.counters["events"] += 1
                    self._local(event.kind, event.entry)
            except Overrun:
                # Events were lost: the table is the truth. Reconcile with a fresh dump
                # (100,000 entries take pyroute2 about 25 s to read).
                self.counters["overruns"] += 1
                log.warning("conntrack events overran the socket buffer: resynchronising")
                try:
                    await self._reconcile(await self._table_now())
                except (OSError, RouterhaError) as error:
                    log.error("conntrack resync failed, retrying in 1 s: %s", error)
                    await asyncio.sleep(1.0)

    def _local(self, kind: str, entry: ct.Entry | cx.Expectation) -> None:
        if not self.filter.accepts(entry):
            return
        key = entry.key
        if kind == "destroy":
            if self.internal.pop(key, None) is not None:
                self.protocol.destroy(key)
        else:
            state = entry.state()
            if self.internal.get(key) != state:
                self.internal[key] = state
                self.protocol.update(key, state)
        self._schedule_flush()

    async def _reconcile(self, fresh: dict[bytes, bytes]) -> None:
        """Send what differs between the internal cache and a fresh dump (not entries
        whose timeout alone went down); a large table in slices, so the loop keeps
        its timers meanwhile."""
        for key in self.internal.keys() - fresh.keys():
            self.protocol.destroy(key)
        for done, (key, state) in enumerate(fresh.items(), 1):
            old = self.internal.get(key)
            # (An expectation's key is no entry key: compared whole.)
            if old is None or ct.differs_beyond_timeout(key, old, state):
                self.protocol.update(key, state)
            if done % RECONCILE_SLICE == 0:
                await asyncio.sleep(0)
        self.internal = fresh
        self._schedule_flush()

    # Sync link ----------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        # One flush per loop iteration: a burst of events leaves in few datagrams.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._carry_out(self.protocol.flush(self.loop.time()))

    def _on_datagram(self) -> None:
        budget = time.monotonic() + RECEIVE_BUDGET
        for _attempt in range(256):
            if time.monotonic() > budget:
                break  # a flood waits; the loop's timers (VRRP's) run first
            try:
                datagram, (source, _port) = self.link.sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError as error:
                log.warning("sync link: %s", error)
                break
            if self.config.peer is not None and source != str(self.config.peer):
                # With a unicast peer configured, nobody else speaks for it.
                self.counters["foreign"] += 1
                continue
            if self.auth is not None:
                got = self.auth.receive(datagram, self.loop.time())
                self._send_raw(got.send)
                if got.inner is None:
                    if got.dropped is not None:  # counted by the layer (stats: drops)
                        self.drop_log.dropped(got.dropped, source)
                    continue
                datagram = got.inner
            try:
                self._carry_out(self.protocol.receive(datagram, self.loop.time()))
            except SyncError as error:  # counted by the protocol (stats: malformed)
                self.drop_log.dropped("malformed", source)
                log.debug("sync link: dropped: %s", error)

    def _carry_out(self, actions: list[Action]) -> None:
        # Without an external cache (active-active) the peer's entries go into the kernel
        # right away; otherwise they wait, prepared, for a takeover. A master does not
        # write them: its kernel sees the traffic and holds the live state.
        commit_now = self.config.disable_external_cache
        to_commit: list[bytes] = []
        for action in actions:
            if isinstance(action, Send):
                if self.auth is None:
                    self.link.send(action.datagram)
                else:
                    self._send_raw(self.auth.seal(action.datagram, self.loop.time()))
            elif isinstance(action, Apply):
                if action.op is Op.UPDATE:
                    if self.master and not commit_now:
                        # Its kernel holds the live state; were it to become backup, the
                        # new master's bulk sync brings the peer's table anyway.
                        self.counters["ignored_as_master"] += 1
                        continue
                    if not self.external.store(action.key, action.state):
                        continue  # beyond the bound (counted: external_full)
                    if commit_now:
                        to_commit.append(action.key)
                    elif not cx.is_expectation_key(action.key):
                        self._unprepared.add(action.key)
                else:
                    self.external.pop(action.key, None)
                    self.prepared.pop(action.key, None)
                    self._unprepared.discard(action.key)
            elif isinstance(action, Confirm):
                # The peer doubts it should delete these: those we hold, it keeps.
                for key in action.keys:
                    state = self.internal.get(key)
                    if state is not None:
                        self.protocol.update(key, state)
                        self.counters["reasserted"] += 1
                self._schedule_flush()
            elif isinstance(action, ResyncRequested):
                self._carry_out(self.protocol.bulk(self._internal_now(), self.loop.time()))
            elif isinstance(action, PeerRestarted):
                log.info("conntrack sync: the peer (re)started")
                if self.config.startup_resync and not self.bulk_complete:
                    # Our first request may have reached it before it listened.
                    self._carry_out(self.protocol.request_resync(self.loop.time()))
            elif isinstance(action, BulkReceived):
                log.info(
                    "conntrack sync: bulk sync from the peer complete (%d entries)",
                    len(self.external),
                )
                if not self.bulk_complete:
                    self.bulk_complete = True
                    self.on_hold_changed()
        if to_commit:
            entries = [self._entry(k) for k in to_commit if k in self.external]
            task = self.loop.create_task(self._commit([e for e in entries if e]))
            self.tasks.append(task)
            task.add_done_callback(self.tasks.remove)
        elif self._unprepared and self._preparing is None:
            self._preparing = self.loop.create_task(self._prepare())
        self._rearm()

    async def _prepare(self) -> None:
        """Encode the create messages of the external entries that changed, in a worker
        thread; a takeover then sends them as they are (see ``become_master``)."""
        try:
            while self._unprepared:
                # A backlog (a bulk sync) goes on at once; a trickle waits to coalesce.
                await asyncio.sleep(PREPARE_DELAY if len(self._unprepared) < PREPARE_BATCH else 0)
                keys = list(itertools.islice(self._unprepared, PREPARE_BATCH))
                self._unprepared.difference_update(keys)
                batch = [(k, self.external[k]) for k in keys if k in self.external]
                made = await self.loop.run_in_executor(None, self._prepare_batch, batch)
                for item in made:
                    # Only if no newer state arrived meanwhile (that one is unprepared again).
                    if self.external.get(item.key) is item.state:
                        self.prepared[item.key] = item
        finally:
            self._preparing = None

    def _send_raw(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self.link.send(datagram)

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        deadline = self.protocol.deadline()
        if self.auth is not None:
            deadline = min(deadline, self.auth.deadline())
        self._timer = self.loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.auth is not None:
            self._send_raw(self.auth.tick(self.loop.time()))
        self._carry_out(self.protocol.tick(self.loop.time()))

    def rekey(self, config: ConntrackSync) -> None:
        """New keys for the same link (a reload): the sessions and caches carry on.
        The caller checks that only the keys changed, both sides authenticated."""
        keys = sync_keys(config.authentication)
        assert keys is not None and self.auth is not None
        self.auth.set_keys(keys)
        self.config = config
        log.info(
            "conntrack sync: sending with key id %d, accepting key ids %s",
            keys.send_id, ", ".join(str(k) for k in sorted(keys.keys)),
        )  # fmt: skip

    # Role ---------------------------------------------------------------------------

    async def become_master(self) -> None:
        """Commit the peer's entries into the kernel (before the addresses come up)."""
        self.master = True
        items: list[ct.Entry | cx.Expectation | Prepared] = []
        unprepared: list[tuple[bytes, bytes]] = []
        for key, state in list(self.external.items()):
            ready = self.prepared.get(key)
            if ready is not None and ready.state is state:
                items.append(ready)
            elif cx.is_expectation_key(key):
                item = self._entry(key)
                if item is not None:
                    items.append(item)
            else:
                unprepared.append((key, state))
        if unprepared:
            # Arrived too recently to be prepared: encode them now, off the loop.
            started = time.monotonic()
            items += await self.loop.run_in_executor(None, self._prepare_batch, unprepared)
            log.info(
                "conntrack sync: %d of %d entries were not prepared yet (%.3f s to prepare)",
                len(unprepared), len(self.external), time.monotonic() - started,
            )  # fmt: skip
        # Nothing needs the kernel's events of this commit (ours are dropped anyway),
        # and without listeners it does not build them: a fifth of the commit's time.
        # Changes others make meanwhile are not missed: after_master dumps the table
        # next (the events are back by then) and sends the peer all of it.
        with self.table.events_paused():
            await self._commit(items)

    async def after_master(self) -> None:
        """Once master: the committed entries are ours now; the peer gets them all.

        The dump runs in a task of its own: the VRRP service awaits this in order
        with its adverts, and a large table takes seconds to read."""
        if not self.master:
            # A backup again before this ran (a master for a moment): the external
            # cache, maybe refilled by the peer's bulk sync already, is still needed.
            return
        self.external.clear()
        self.prepared.clear()
        self._unprepared.clear()
        task = self.loop.create_task(self._send_table())
        self.tasks.append(task)
        task.add_done_callback(self.tasks.remove)

    async def _send_table(self) -> None:
        try:
            self.internal = await self._table_now()
        except (OSError, RouterhaError) as error:
            log.error("conntrack sync: cannot read the table after the takeover: %s", error)
            return
        self._carry_out(self.protocol.bulk(self._internal_now(), self.loop.time()))

    def _internal_now(self) -> Iterator[tuple[bytes, bytes]]:
        """The internal cache for a bulk sync, read as the protocol sends it: each
        entry as it is then (gone if it went meanwhile)."""
        for key in list(self.internal):
            state = self.internal.get(key)  # the cache of now (a dump may replace it)
            if state is not None:
                yield key, state

    def become_backup(self) -> None:
        self.master = False
        self._carry_out(self.protocol.request_resync(self.loop.time()))

    async def _commit(self, items: list[ct.Entry | cx.Expectation | Prepared]) -> None:
        """Entries, then the expectations, whose masters must exist first. Timeouts are
        at most the kernel's (prepared entries had theirs settled when prepared);
        an entry or expectation that exists in the kernel is kept as it is."""
        entries = [self._timed(i) for i in items if not isinstance(i, cx.Expectation)]
        expectations = [
            dataclasses.replace(i, timeout=min(i.timeout, MAX_EXPECTATION_TIMEOUT))
            for i in items
            if isinstance(i, cx.Expectation)
        ]
        if not items:
            return
        started = time.monotonic()
        result = await self.table.commit(entries, min_timeout=0)
        if expectations:
            expected = await self.table.commit_expectations(expectations)
            result.created += expected.created
            result.kept += expected.kept
            result.failed += expected.failed
        self.counters["commits"] += 1
        self.counters["committed"] += result.created
        self.counters["kept_live"] += result.kept
        self.counters["commit_failed"] += len(result.failed)
        self.counters["last_commit_seconds"] = round(time.monotonic() - started, 3)
        log.info(
            "conntrack sync: committed %d entries (%d live kept, %d failed) in %.3f s",
            result.created, result.kept, len(result.failed), time.monotonic() - started,
        )  # fmt: skip

    def _timed(self, item: ct.Entry | Prepared) -> ct.Entry | Prepared:
        if isinstance(item, Prepared):
            return item
        return dataclasses.replace(item, timeout=self._commit_timeout(item))

    def _commit_timeout(self, entry: ct.Entry) -> int:
        return self.timeouts.commit_timeout(entry, MIN_COMMIT_TIMEOUT)

    def _prepare_batch(self, batch: list[tuple[bytes, bytes]]) -> list[Prepared]:
        """``prepare`` each (key, state), leaving out malformed ones (in a worker thread)."""
        out = []
        for key, state in batch:
            try:
                out.append(prepare(key, state, MIN_COMMIT_TIMEOUT, self._commit_timeout))
            except SyncError:
                continue
        return out

    def _entry(self, key: bytes) -> ct.Entry | cx.Expectation | None:
        try:
            state = self.external[key]
            if cx.is_expectation_key(key):
                return cx.decode(key, state)
            return ct.decode(key, state)
        except (SyncError, KeyError):
            return None

    # Status -------------------------------------------------------------------------

    def cache(self, which: str) -> list[dict[str, Any]]:
        source = self.internal if which == "internal" else self.external
        out = []
        for key, state in source.items():
            try:
                if cx.is_expectation_key(key):
                    out.append(describe_expectation(cx.decode(key, state)))
                else:
                    out.append(describe(ct.decode(key, state)))
            except SyncError:
                continue
        return out

    def stats(self) -> dict[str, Any]:
        return {
            "interface": self.config.interface,
            "sync_group": self.config.sync_group,
            "internal_cache": len(self.internal),
            "external_cache": len(self.external),
            "prepared": len(self.prepared),
            "bulk_complete": self.bulk_complete,
            "holding": self.holding,
            "external_max": self.external.limit,
            **self.counters,
            "malformed": self.protocol.stats["malformed"],
            "dropped": {**self.protocol.dropped, "external_full": self.external.refused},
            "protocol": dict(self.protocol.stats),
            "authentication": (
                {"type": "hmac-sha256", **self.auth.status()}
                if self.auth is not None
                else {"type": "none"}
            ),
        }


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def describe_expectation(x: cx.Expectation) -> dict[str, Any]:
    e = x.expected
    return {
        "protocol": next((n for n, p in PROTOCOL_NAMES.items() if p == e.proto), str(e.proto)),
        "expectation": True, "helper": x.helper, "src": str(e.src), "dst": str(e.dst),
        "sport": e.sport, "dport": e.dport, "master_src": str(x.master.src),
        "master_dst": str(x.master.dst), "timeout": x.timeout, "zone": x.zone,
    }  # fmt: skip


def describe(e: ct.Entry) -> dict[str, Any]:
    """One cache entry for ``routerhactl conntrack ... --json``."""
    o, r = e.original, e.reply
    return {
        "protocol": next((n for n, p in PROTOCOL_NAMES.items() if p == o.proto), str(o.proto)),
        "src": str(o.src), "dst": str(o.dst), "sport": o.sport, "dport": o.dport,
        "reply_src": str(r.src), "reply_dst": str(r.dst), "reply_sport": r.sport, "reply_dport": r.dport,
        "zone": e.zone, "mark": e.mark, "timeout": e.timeout, "status": e.status,
        "tcp_state": e.tcp.state if e.tcp else None, "helper": e.helper, "nat": e.nat,
    }  # fmt: skip
