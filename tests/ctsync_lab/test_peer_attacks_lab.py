"""A hostile host on the sync link, attacking as the routers' sync peer would.

Each test sends real datagrams from the "junk" host on the sync segment, made
by ``lab.sync_forge.forge_datagram`` (the one maker of forged datagrams), to
routers running with ``ATTACK_SYNC``. Each attack must change nothing a router
relies on, and be counted:

- a forged deletion of every session after a sniffed RESYNC: the backup holds
  it, asks the master, which still has them all; the backup's cache keeps them
  and the sessions survive the next failover;
- sniffed entries sent back with another NAT port: the master writes none of
  them; its live entries and the sessions stay as they are;
- a RESYNC flood and a NACK flood: no VRRP transition, the master's adverts keep
  their pace (the largest gap stays below the master-down interval), and the
  answers are merged and budgeted;
- a junk flood (oversized records, made-up entries): the master's kernel table
  keeps its size, the daemons' memory stays bounded, every refusal is counted.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from lab.sync_forge import (
    ATTACK_SYNC,
    FORGED_SESSION,
    AdvertWatch,
    SyncSniffer,
    data_body,
    fill_table,
    forge_datagram,
    made_up_entry,
    range_body,
    send_as_peer,
    table_size,
)
from routerha.ctsync.entry import decode
from routerha.ctsync.protocol import RECORD, Kind, Op

from .test_failover_lab import fail_over
from .topology import CLIENT, ECHO_PORT, GROUPS, SERVER, HaPair, Sessions

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(180)]

R1_SYNC, R2_SYNC = "192.168.9.1", "192.168.9.2"
R1_LAN = "10.1.1.1"
#: 3 x 0.1 s adverts + the backup's skew time (priority 100): (256 - 100) / 256 x 0.1 s.
MASTER_DOWN = 3 * 0.1 + (256 - 100) / 256 * 0.1
#: A busy master's table, as in the attacks this guards against.
TABLE = 20_000


def attacked_pair(lab: Any, table: int = 0) -> HaPair:
    """The topology with the junk host; r1 holding ``table`` made-up entries; started."""
    pair = HaPair(lab, junk=True, ctsync=ATTACK_SYNC)
    if table:
        assert fill_table(lab, "r1", (made_up_entry(i) for i in range(table))) == table
    pair.start()
    if table:
        pair.wait(
            lambda: (s := pair.stats("r2")) and s["external_cache"] >= table and s["bulk_complete"],
            lambda: f"r2 never had r1's table: {pair.stats('r2')}",
            timeout=60,
        )
    return pair


def transitions(pair: HaPair) -> dict[str, int]:
    return {
        f"{host} {name}": pair[host].counters(name)["transitions"]
        for host in ("r1", "r2")
        for name in GROUPS
    }


def rss_kib(pair: HaPair, host: str) -> int:
    status = Path(f"/proc/{pair[host].process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


TUPLE_FIELDS = ("src", "dst", "sport", "dport")


def kernel_nat_ports(pair: HaPair, host: str) -> dict[int, int]:
    """Client port -> NAT port of the sessions' entries in ``host``'s kernel."""
    out = {}
    listing = pair.lab.run(host, "conntrack", "-L", "-p", "tcp", "--dport", str(ECHO_PORT)).stdout
    for line in listing.splitlines():
        # src dst sport dport of the original, then of the reply tuple.
        values = [f.split("=", 1)[1] for f in line.split() if f.split("=")[0] in TUPLE_FIELDS]
        if len(values) == 8 and values[0] == CLIENT:
            out[int(values[2])] = int(values[7])
    return out


def quiet_for(pair: HaPair, seconds: float, before: dict[str, int]) -> None:
    """No VRRP transition of either router during ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = transitions(pair)
        assert now == before, f"VRRP transitions {before} -> {now}\n{pair.report()}"
        time.sleep(0.2)


def test_sniffed_entries_sent_back_with_another_nat_port_change_nothing_on_the_master(lab):
    """Before: r1 committed them at once, replacing the live entries (``committed 26
    entries (26 replaced)``) and every session died without any failover."""
    pair = attacked_pair(lab)
    sessions = Sessions(pair, 40)
    sessions.wait_synced("r2")
    sniffer = SyncSniffer(lab)
    try:
        before_ports = kernel_nat_ports(pair, "r1")
        assert len(before_ports) == 40, f"{before_ports}\n{pair.report()}"
        # A forged RESYNC: r1 multicasts its table, and the attacker hears it.
        send_as_peer(lab, [forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)])
        heard = pair.wait(
            lambda: len(mine := _sessions_of(sniffer.entries(R1_SYNC))) >= 40 and mine,
            "the junk host heard no bulk sync from r1",
            timeout=10,
        )
        moved = []
        for key, state in heard.items():
            entry = decode(key, state)
            reply = dataclasses.replace(entry.reply, dport=(entry.reply.dport + 1000) % 65536)
            moved.append((Op.UPDATE, key, dataclasses.replace(entry, reply=reply).state()))
        stats = pair.stats("r1")
        latest = sniffer.latest(R2_SYNC) or (FORGED_SESSION, 0)
        for session, sequence in ((FORGED_SESSION, 1), (latest[0], latest[1] + 1)):
            datagrams = [
                forge_datagram(Kind.DATA, session, sequence + n, data_body(moved[n : n + 20]))
                for n in range(0, len(moved), 20)
            ]
            send_as_peer(lab, datagrams, to=R1_SYNC)
        pair.wait(
            lambda: pair.stats("r1")["ignored_as_master"] >= stats["ignored_as_master"] + 40,
            lambda: f"r1 never counted the entries it ignored: {pair.stats('r1')}",
        )
        since = sessions.snapshot()
        time.sleep(2.0)
        assert kernel_nat_ports(pair, "r1") == before_ports, pair.report()
        after = pair.stats("r1")
        assert (after["commits"], after["committed"]) == (stats["commits"], stats["committed"])
        problems = sessions.problems(since, min_echoed=64 * 10)
        assert not problems, f"{problems[:10]}\n{pair.report()}"
    finally:
        sniffer.close()


def test_a_forged_deletion_after_a_sniffed_resync_leaves_the_backups_cache_whole(lab):
    """Before: after one forged RESYNC and one forged DATA deleting what it carried, r2's
    external cache went from 40 entries to 0, and 0 of 40 sessions survived the next
    failover."""
    pair = attacked_pair(lab)
    sessions = Sessions(pair, 40)
    sessions.wait_synced("r2")
    sniffer = SyncSniffer(lab)
    try:
        send_as_peer(lab, [forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)])
        heard = pair.wait(
            lambda: len(mine := _sessions_of(sniffer.entries(R1_SYNC))) >= 40 and mine,
            "the junk host heard no bulk sync from r1",
            timeout=10,
        )
        before = pair.stats("r2")["protocol"]
        deletions = data_body((Op.DESTROY, key, b"") for key in heard)
        session, last = sniffer.latest(R1_SYNC) or (FORGED_SESSION, 0)
        # In a session of its own, and in r1's with r1's next sequence number.
        for forged_session, sequence in ((FORGED_SESSION, 1), (session, last + 1)):
            send_as_peer(lab, [forge_datagram(Kind.DATA, forged_session, sequence, deletions)])
        pair.wait(
            lambda: (
                pair.stats("r2")["protocol"]["destroys_contradicted"]
                >= before["destroys_contradicted"] + 40
            ),
            lambda: f"r1 did not contradict the deletions: {pair.stats('r2')} {pair.stats('r1')}",
        )
        time.sleep(2.0)  # past the hold
        assert len(sessions.synced("r2")) == 40, f"{pair.stats('r2')}\n{pair.report()}"
    finally:
        sniffer.close()
    fail_over(pair, sessions)  # every session survives it


def _sessions_of(entries: dict[bytes, bytes]) -> dict[bytes, bytes]:
    out = {}
    for key, state in entries.items():
        try:
            entry = decode(key, state)
        except Exception:
            continue
        o = entry.original
        if (str(o.src), str(o.dst), o.dport) == (CLIENT, SERVER, ECHO_PORT):
            out[key] = state
    return out


def test_a_resync_flood_neither_stalls_the_masters_adverts_nor_multiplies_its_traffic(lab):
    """Before: one RESYNC made r1 send its whole table (1,600-1,700 datagrams for
    20,000 entries), and 250 of them in 54 ms kept it from advertising for 793 ms:
    r2 became MASTER too."""
    pair = attacked_pair(lab, TABLE)
    before = transitions(pair)
    watch = AdvertWatch(lab, "cl", R1_LAN)
    try:
        time.sleep(1.0)
        start = watch.mark()
        sent = pair.stats("r1")["protocol"]["sent"]
        resync = forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)
        send_as_peer(lab, [resync] * 250)
        quiet_for(pair, 4.0, before)
        gap = watch.largest_gap(since=start)
    finally:
        watch.stop()
    stats = pair.stats("r1")
    protocol = stats["protocol"]
    print(f"MEASURED resync flood: largest advert gap of r1 {gap * 1000:.0f} ms; {protocol}")
    assert gap < MASTER_DOWN, f"r1's adverts stopped for {gap:.3f} s\n{pair.report()}"
    assert protocol["resyncs_received"] >= 250 and protocol["resyncs_merged"] >= 240, protocol
    # At most two bulk syncs of the table in those 4 s (about 700 messages each).
    assert protocol["sent"] - sent <= 2 * (TABLE // 25), protocol


def test_a_nack_flood_neither_stalls_the_masters_adverts_nor_multiplies_its_traffic(lab):
    """Before: one NACK made r1 send about 5,000 datagrams; 30 of them, a 1.2 s gap in
    its adverts and 12 VRRP transitions."""
    pair = attacked_pair(lab, TABLE)
    sniffer = SyncSniffer(lab)
    try:
        send_as_peer(lab, [forge_datagram(Kind.RESYNC, FORGED_SESSION, 0)])
        session, last = pair.wait(
            lambda: sniffer.latest(R1_SYNC), "r1 sent nothing the junk host heard", timeout=10
        )
        time.sleep(3.0)  # that bulk sync is over
        before = transitions(pair)
        watch = AdvertWatch(lab, "cl", R1_LAN)
        try:
            time.sleep(1.0)
            start = watch.mark()
            heard = len(sniffer.drain())
            stats = pair.stats("r1")["protocol"]
            # Everything r1 sent in its session (up to 4,000 messages, under max_gap).
            first = session if (last - session) % 2**32 < 4000 else (last - 4000) % 2**32
            nack = forge_datagram(Kind.NACK, session, 0, range_body(first, last))
            send_as_peer(lab, [nack] * 30, pause=0.0015)
            quiet_for(pair, 3.0, before)
            gap = watch.largest_gap(since=start)
        finally:
            watch.stop()
        resent = sniffer.count(R1_SYNC, Kind.DATA, since=heard)
    finally:
        sniffer.close()
    protocol = pair.stats("r1")["protocol"]
    dropped = pair.stats("r1")["dropped"]
    print(f"MEASURED nack flood: largest advert gap of r1 {gap * 1000:.0f} ms; {resent} resent")
    assert gap < MASTER_DOWN, f"r1's adverts stopped for {gap:.3f} s\n{pair.report()}"
    assert protocol["nacks_received"] - stats["nacks_received"] == 30, protocol
    # A window (128) at once, then at most a window per 0.2 s (nack_retry).
    assert resent <= 128 * 2, f"r1 sent {resent} DATA messages for 30 NACKs"
    assert dropped.get("resend_budget", 0) + dropped.get("resend_too_soon", 0) > 0, dropped


def test_a_junk_flood_leaves_the_kernel_table_and_the_daemons_memory_bounded(lab):
    """Before: 600 junk records grew both daemons from 37 to 81 MB; 1,600 datagrams of
    40,000 made-up entries grew r1's kernel table from 7 entries to 38,338."""
    pair = attacked_pair(lab)
    time.sleep(1.0)
    before = transitions(pair)
    table = table_size(lab, "r1")
    rss = {host: rss_kib(pair, host) for host in ("r1", "r2")}
    # 600 records of 60,000 octets each (a key and a state as long as a record allows).
    huge = RECORD.pack(Op.UPDATE, 30_000, 30_000) + bytes(60_000)
    junk = [forge_datagram(Kind.DATA, FORGED_SESSION, n, huge) for n in range(600)]
    sent = send_as_peer(lab, junk, pause=0.0005)
    # 40,000 made-up entries that pass every check a real one does, 25 a datagram.
    made_up = [made_up_entry(i, nat="198.51.100.12") for i in range(40_000)]
    flood = [
        forge_datagram(
            Kind.DATA,
            FORGED_SESSION,
            600 + n // 25,
            data_body((Op.UPDATE, e.key, e.state()) for e in made_up[n : n + 25]),
        )
        for n in range(0, len(made_up), 25)
    ]
    sent += send_as_peer(lab, flood, pause=0.0005)
    assert sent == 2200
    pair.wait(
        lambda: pair.stats("r1")["malformed"] >= 1 and pair.stats("r1")["ignored_as_master"] > 0,
        lambda: f"r1 counted nothing: {pair.stats('r1')}",
    )
    quiet_for(pair, 3.0, before)
    stats = {host: pair.stats(host) for host in ("r1", "r2")}
    grown = {host: (rss_kib(pair, host) - rss[host]) // 1024 for host in ("r1", "r2")}
    print(f"MEASURED junk flood: memory growth {grown} MB; r1 table {table} -> "
          f"{table_size(lab, 'r1')}; {stats}")  # fmt: skip
    assert table_size(lab, "r1") <= table + 5, "the master wrote the peer's entries"
    assert stats["r1"]["committed"] == 0, stats["r1"]
    assert stats["r1"]["external_cache"] == 0, stats["r1"]  # a master keeps none
    for host in ("r1", "r2"):
        assert stats[host]["malformed"] >= 1, stats[host]
        assert stats[host]["external_cache"] <= stats[host]["external_max"], stats[host]
    # The oversized records cost nothing; the master keeps none of the made-up entries,
    # the backup its bounded external cache of them (under 1 KB each, prepared).
    assert grown["r1"] < 10, f"r1 grew by {grown['r1']} MB\n{pair.report()}"
    assert grown["r2"] < 48, f"r2 grew by {grown['r2']} MB\n{pair.report()}"
