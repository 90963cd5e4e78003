"""The conntrack sync service follows the sync group's role, in whatever order the
role changes reach it: a master for a moment must not leave a backup without its
external cache, or committing its peer's entries as a master does.

Found by tests/ctsync_lab/test_faults_lab.py (both routers restarted at once: the
lower priority router was master for a moment, and its external cache ended empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket

from routerha.ctsync.kernel import CommitResult
from routerha.ctsync.protocol import SyncProtocol
from routerha.daemon.conntrack import ConntrackSyncService
from routerha.model.conntrack_sync import ConntrackSync
from tests.ctsync.fuzzing import Peer


class Table:
    """The kernel table's interface, with nothing in it; commits are recorded."""

    def __init__(self) -> None:
        self.committed: list = []

    async def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def dump(self) -> list:
        return []

    async def dump_expectations(self) -> list:
        return []

    async def events(self):
        await asyncio.Event().wait()
        yield  # an async generator that never yields

    def events_paused(self):
        return contextlib.nullcontext()

    async def commit(self, entries, *, min_timeout: int) -> CommitResult:
        entries = list(entries)
        self.committed += entries
        return CommitResult(created=len(entries))

    async def commit_expectations(self, items) -> CommitResult:
        return CommitResult()


class Link:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.local = ipaddress.IPv4Address("192.168.9.2")
        self.sent: list[bytes] = []

    def send(self, datagram: bytes) -> None:
        self.sent.append(datagram)

    def close(self) -> None:
        self.sock.close()


async def backup_with_the_peers_table() -> tuple[ConntrackSyncService, Table, list]:
    """A started service (BACKUP) whose external cache holds a bulk sync of entries."""
    table = Table()
    config = ConntrackSync(interface="eth2", sync_group="CG")
    service = ConntrackSyncService(config, table, Link(), lambda: None)
    service.protocol = SyncProtocol(first_sequence=1)
    await service.start()
    peer = SyncProtocol(first_sequence=1000)
    items = Peer(random.Random(3), keys=20).items[:20]
    bulk = peer.bulk([(i.key, i.state()) for i in items], 0.0)
    for action in bulk:
        service._carry_out(service.protocol.receive(action.datagram, 0.0))
    assert len(service.external) == len(items)
    return service, table, items


def test_after_master_that_runs_once_backup_again_keeps_the_external_cache():
    async def scenario() -> None:
        service, _table, items = await backup_with_the_peers_table()
        service.master = True  # became master...
        service.become_backup()  # ...and backup again before after_master ran
        await service.after_master()
        assert len(service.external) == len(items)
        await service.stop()

    asyncio.run(scenario())


def test_a_backup_commits_nothing_the_peer_sends():
    async def scenario() -> None:
        service, table, items = await backup_with_the_peers_table()
        await service.become_master()
        await service.after_master()
        service.become_backup()
        committed = len(table.committed)
        peer = SyncProtocol(first_sequence=5000)
        for action in peer.bulk([(i.key, i.state()) for i in items], 1.0):
            service._carry_out(service.protocol.receive(action.datagram, 1.0))
        await asyncio.sleep(0.01)
        assert len(table.committed) == committed
        assert len(service.external) == len(items)
        await service.stop()

    asyncio.run(scenario())
