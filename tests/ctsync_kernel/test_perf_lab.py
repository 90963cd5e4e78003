"""How fast a table of 100,000 entries is written and read (a measurement, not a threshold).

Run with ``-s`` to see the numbers::

    python -m pytest tests/ctsync_kernel/test_perf_lab.py -s -p no:cacheprovider
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import os
import time

import pytest

from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.kernel import ConntrackTable, prepare
from routerha.daemon.main import steady_loop

from .topology import conntrack_host

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(900)]

COUNT = int(os.environ.get("RH_CT_PERF_COUNT", "100000"))
V4 = ipaddress.IPv4Address
NAT = V4("10.0.2.1")


def snat_entry(i: int) -> Entry:
    """A distinct established TCP connection behind SNAT (pinned NAT ports never clash)."""
    client = V4(f"10.{20 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}")
    server = V4(f"10.100.{(i // 250) % 250}.{i % 250}")
    sport, nat_port = 1024 + i % 60000, 1024 + i % 60000
    return Entry(
        original=Tuple(client, server, 6, sport, 443),
        reply=Tuple(server, NAT, 6, 443, nat_port),
        status=IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT,
        timeout=3600,
        mark=7,
        tcp=TcpInfo(3, 0x23, 0x23, 7, 7),
    )


class LoopLag:
    """The longest the event loop was kept from running a 10 ms timer."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - before - 0.01)

    def stop(self) -> float:
        self._task.cancel()
        return self.worst


def test_commit_and_dump_100k(lab):
    conntrack_host(lab, "rp")
    entries = [snat_entry(i) for i in range(COUNT)]
    replace = entries[:10000]

    async def scenario():
        steady_loop(realtime=False)  # routerhad's garbage collector settings
        table = ConntrackTable(netns=lab.ns("rp"))
        await table.open()
        try:
            lag = LoopLag()
            start = time.perf_counter()
            committed = await table.commit(entries)
            commit_time = time.perf_counter() - start
            commit_lag = lag.stop()

            lag = LoopLag()
            start = time.perf_counter()
            dumped = await table.dump()
            dump_time = time.perf_counter() - start
            dump_lag = lag.stop()

            start = time.perf_counter()
            replaced = await table.commit(replace)
            replace_time = time.perf_counter() - start

            start = time.perf_counter()
            await table.flush()
            flush_time = time.perf_counter() - start
            after_flush = await table.dump()

            # As a backup does it: create messages made as entries arrive, sent at takeover.
            start = time.perf_counter()
            ready = [prepare(e.key, e.state(), 60) for e in entries]
            prepare_time = time.perf_counter() - start
            lag = LoopLag()
            start = time.perf_counter()
            prepared = await table.commit(ready)
            prepared_time = time.perf_counter() - start
            prepared_lag = lag.stop()
            await table.flush()
            return (committed, commit_time, commit_lag, dumped, dump_time, dump_lag,
                    replaced, replace_time, flush_time, after_flush,
                    prepared, prepare_time, prepared_time, prepared_lag)  # fmt: skip
        finally:
            table.close()

    threshold = gc.get_threshold()
    try:
        (committed, commit_time, commit_lag, dumped, dump_time, dump_lag,
         replaced, replace_time, flush_time, after_flush,
         prepared, prepare_time, prepared_time, prepared_lag) = asyncio.run(scenario())  # fmt: skip
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    print(
        f"\ncommit  {COUNT} entries: {commit_time:6.1f} s = {COUNT / commit_time:7.0f}/s"
        f" (worst event-loop lag {commit_lag * 1000:.0f} ms)"
        f"\ndump    {len(dumped)} entries: {dump_time:6.1f} s = {len(dumped) / dump_time:7.0f}/s"
        f" (worst event-loop lag {dump_lag * 1000:.0f} ms)"
        f"\ncommit  {len(replace)} existing entries (kept): {replace_time:6.1f} s"
        f" = {len(replace) / replace_time:7.0f}/s"
        f"\nflush   {COUNT} entries: {flush_time:6.2f} s"
        f"\nprepare {COUNT} create messages (ahead of a takeover): {prepare_time:6.2f} s"
        f"\ncommit  {COUNT} prepared entries: {prepared_time:6.2f} s"
        f" = {COUNT / prepared_time:7.0f}/s (worst event-loop lag {prepared_lag * 1000:.0f} ms)"
    )
    assert (committed.created, committed.failed) == (COUNT, [])
    assert len(dumped) == COUNT
    by_key = {e.key: e for e in dumped}
    for sample in entries[:: max(1, COUNT // 1000)]:
        got = by_key[sample.key]
        assert (got.reply, got.mark, got.tcp.state) == (sample.reply, 7, 3)
    assert (replaced.kept, replaced.failed) == (len(replace), [])
    assert after_flush == []
    assert (prepared.created, prepared.failed) == (COUNT, [])
