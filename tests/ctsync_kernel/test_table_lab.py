"""ConntrackTable against real kernels: namespaces with NAT routers and real traffic.

Each test builds its own lab (``lab`` fixture); a router's table is opened with
``netns=`` so one process can hold router A and router B at once.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
import sys

import pytest

from lab.netlab import Lab, poll
from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.expectation import Expectation
from routerha.ctsync.kernel import SO_RCVBUFFORCE, ConntrackTable, CtEvent, Overrun

from .topology import (
    CLIENT4,
    CLIENT6,
    MARK,
    NAT4,
    NAT6,
    SERVER4,
    SERVER6,
    Pair,
    conntrack_host,
    received,
    touch,
    wait_line,
    wait_received,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]

V4 = ipaddress.IPv4Address
TCP_ESTABLISHED = 3
STREAM_PORT = 5001


def udp_entry(sport: int, *, mark: int = 0, zone: int = 0) -> Entry:
    original = Tuple(V4("10.8.0.1"), V4("10.8.0.2"), 17, sport, 53)
    return Entry(
        original, original.reversed(), zone=zone, status=IPS_CONFIRMED, timeout=100, mark=mark
    )


async def collect_events(table: ConntrackTable, seen: list, errors: list) -> None:
    """Append the table's events to ``seen`` until it closes; an Overrun ends it in ``errors``."""
    try:
        async for event in table.events():
            seen.append(event)
    except Overrun as exc:
        errors.append(exc)


def conntrack_insert(lab: Lab, host: str, sport: int, dport: int = 9) -> None:
    lab.run(host, "conntrack", "-I", "-p", "udp", "-s", "10.7.0.1", "-d", "10.7.0.2",
            "--sport", str(sport), "--dport", str(dport), "-t", "100")  # fmt: skip


def find(entries: list[Entry], src: str, dport: int, proto: int = 6) -> Entry:
    found = [
        e
        for e in entries
        if str(e.original.src) == src and e.original.dport == dport and e.original.proto == proto
    ]
    assert len(found) == 1, f"{src} -> :{dport}/{proto} in {entries}"
    return found[0]


def start_streams(pair: Pair) -> list:
    for server in (SERVER4, SERVER6):
        process = pair.python("sv", "stream_server.py", server, str(STREAM_PORT))
        wait_line(process, "^listening")
    return [pair.python("cl", "stream_client.py", s, str(STREAM_PORT)) for s in (SERVER4, SERVER6)]


async def in_thread(function, *args):
    """Run a blocking lab call without blocking the event loop (events keep being read)."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


# 1. dump --------------------------------------------------------------------------------


def test_dump_shows_real_nat_connections_with_state_mark_and_zone(lab):
    pair = Pair(lab, zone=5, backup=False)
    clients = start_streams(pair)
    for client in clients:
        wait_received(client, 200_000, timeout=10)
    lab.run("cl", "ping", "-c1", "-W2", SERVER4)

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        try:
            return await table.dump()
        finally:
            table.close()

    entries = asyncio.run(scenario())
    listing = pair.conntrack("ra", "-L")
    for client, server, nat in ((CLIENT4, SERVER4, NAT4), (CLIENT6, SERVER6, NAT6)):
        entry = find(entries, client, STREAM_PORT)
        assert (str(entry.reply.src), str(entry.reply.dst)) == (server, nat)
        assert entry.reply.sport == STREAM_PORT
        assert entry.nat
        assert entry.status & (IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT) == (
            IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT
        )
        assert entry.tcp is not None
        assert entry.tcp.state == TCP_ESTABLISHED
        assert entry.mark == MARK
        assert entry.zone == 5
        assert entry.timeout > 60
        if entry.family == 4:  # conntrack -L lists IPv4 only; same NAT port there
            assert re.search(
                rf"sport={entry.original.sport} dport={STREAM_PORT} "
                rf"src={server} dst={nat} sport={STREAM_PORT} dport={entry.reply.dport} ",
                listing,
            ), listing
    ping = [e for e in entries if e.original.proto == 1]
    assert len(ping) == 1
    (echo,) = ping
    assert echo.original.dport == 8 << 8  # type 8 (echo request), code 0
    assert echo.reply.dport == 0  # echo reply
    assert echo.reply.sport == echo.original.sport  # the id
    assert str(echo.reply.dst) == NAT4
    assert (echo.zone, echo.mark) == (5, MARK)


# 2. events ------------------------------------------------------------------------------


def test_events_come_in_order_and_not_for_our_own_writes(lab):
    pair = Pair(lab, backup=False)
    for key in ("time_wait", "close"):  # so that the connection is destroyed soon
        lab.sysctl("ra", f"net.netfilter.nf_conntrack_tcp_timeout_{key}", "1")
    server = pair.python("sv", "echo_server.py", SERVER4, "7")
    wait_line(server, "^listening")
    client = (
        "import socket\n"
        f"c = socket.create_connection(({SERVER4!r}, 7), timeout=5)\n"
        "c.sendall(b'hello'); assert c.recv(10) == b'hello'\n"
        "print(c.getsockname()[1]); c.close()\n"
    )
    ours = udp_entry(4000, mark=3)

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        seen: list[CtEvent] = []

        async def collect():
            async for event in table.events():
                seen.append(event)

        task = asyncio.create_task(collect())
        try:
            done = await in_thread(lab.run, "cl", sys.executable, "-c", client)
            port = int(done.stdout)

            def mine(event):
                return event.entry.original.sport == port and event.entry.original.dport == 7

            # The entry expires a second after the close; the conntrack garbage
            # collector may take a minute to reap it (its pace depends on the whole
            # host's table), but a dump evicts expired entries at once.
            async def destroyed():
                for _ in range(50):
                    await asyncio.sleep(0.2)
                    await table.dump()
                    if any(mine(e) and e.kind == "destroy" for e in seen):
                        return
                raise AssertionError(f"no destroy event: {seen}")

            await destroyed()
            connection = [e for e in seen if mine(e)]

            # Our own writes: a commit, a commit of an entry that exists and a delete. Then a foreign
            # write (conntrack -I, then -D); events are ordered, so once the foreign
            # ones are here, ours would have been too.
            assert (await table.commit([ours])).created == 1
            assert (await table.commit([ours])).kept == 1
            await table.delete(ours)
            await in_thread(conntrack_insert, lab, "ra", 4001)
            await in_thread(lab.run, "ra", "conntrack", "-D", "-p", "udp", "--sport", "4001")
            await until(
                lambda: any(e.kind == "destroy" and e.entry.original.sport == 4001 for e in seen), 5
            )
            return connection, seen
        finally:
            task.cancel()
            table.close()

    connection, seen = asyncio.run(scenario())
    kinds = [e.kind for e in connection]
    assert kinds[0] == "new" and kinds[-1] == "destroy", kinds
    assert set(kinds[1:-1]) == {"update"}, kinds
    states = [e.entry.tcp.state for e in connection[:-1]]
    assert TCP_ESTABLISHED in states
    assert states == sorted(states), states  # SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, ...
    assert str(connection[0].entry.reply.dst) == NAT4
    assert [e for e in seen if e.entry.key == ours.key] == []
    foreign = [e.kind for e in seen if e.entry.original.sport == 4001]
    assert foreign == ["new", "destroy"]


def test_an_update_without_protoinfo_is_completed_from_the_kernel(lab):
    pair = Pair(lab, backup=False)
    # A mark set on a data packet of an established connection: the kernel reports
    # the mark change alone, without the TCP protoinfo.
    lab.run(
        "ra", "nft", "insert rule inet ha c_fwd meta l4proto tcp meta length gt 150 ct mark set 43"
    )
    server = pair.python("sv", "echo_server.py", SERVER4, "7")
    wait_line(server, "^listening")
    client = (
        "import socket, time\n"
        f"c = socket.create_connection(({SERVER4!r}, 7), timeout=5)\n"
        "time.sleep(0.3); c.sendall(b'x' * 200); c.recv(300)\n"
        "print(c.getsockname()[1]); time.sleep(0.3)\n"
    )

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        seen: list[CtEvent] = []

        async def collect():
            async for event in table.events():
                seen.append(event)

        task = asyncio.create_task(collect())
        try:
            port = int((await in_thread(lab.run, "cl", sys.executable, "-c", client)).stdout)
            await until(lambda: any(e.entry.mark == 43 for e in seen), 5)
            return port, seen, table.partial_events
        finally:
            task.cancel()
            table.close()

    port, seen, partial = asyncio.run(scenario())
    marked = [e for e in seen if e.entry.original.sport == port and e.entry.mark == 43]
    assert marked[0].kind == "update"
    assert marked[0].entry.tcp is not None
    # Read after the event: by then the server may have closed already.
    assert marked[0].entry.tcp.state >= TCP_ESTABLISHED
    assert partial >= 1


async def until(predicate, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.05)


# 3. commit on the backup, then take over a live transfer ---------------------------------


def test_commit_on_backup_carries_live_nat_tcp_through_a_takeover(lab):
    pair = Pair(lab, zone=5)
    clients = start_streams(pair)
    for client in clients:
        wait_received(client, 1_000_000, timeout=10)

    async def scenario():
        a = ConntrackTable(netns=lab.ns("ra"))
        b = ConntrackTable(netns=lab.ns("rb"))
        await a.open()
        await b.open()
        try:
            entries = await a.dump()
            result = await b.commit(entries)
            return entries, result, await b.dump()
        finally:
            a.close()
            b.close()

    entries, result, on_b = asyncio.run(scenario())
    assert result.failed == []
    assert result.created == len(entries)
    streams = [find(entries, client, STREAM_PORT) for client in (CLIENT4, CLIENT6)]
    for entry in streams:
        copy = find(on_b, str(entry.original.src), STREAM_PORT)
        assert copy.reply == entry.reply  # the same NAT binding, made by CTA_NAT_SRC
        assert copy.status & IPS_SRC_NAT
        assert (copy.zone, copy.mark, copy.tcp.state) == (5, MARK, TCP_ESTABLISHED)
        assert copy.timeout >= 60
    v4 = streams[0]
    listing = pair.conntrack("rb", "-L", "--src-nat", "--zone", "5")
    line = re.search(
        rf"^tcp +6 (\d+) ESTABLISHED src={CLIENT4} dst={SERVER4} sport={v4.original.sport} "
        rf"dport={STREAM_PORT} src={SERVER4} dst={NAT4} sport={STREAM_PORT} dport={v4.reply.dport} "
        rf"\[ASSURED\] mark={MARK} zone=5",
        listing,
        re.MULTILINE,
    )
    assert line, listing
    assert int(line.group(1)) >= 60

    before = [received(client) for client in clients]
    pair.switch()
    for client, count in zip(clients, before):
        wait_received(client, count + 4_000_000, timeout=10)
    for process in lab.processes:
        assert "ERROR" not in process.log() and "connection ended" not in process.log(), (
            process.log()
        )
    assert pair.invalid_drops("rb") == 0
    # Traffic now runs through rb's committed entry: it was refreshed, to 5 days, or to
    # 300 s while data is unacknowledged at the moment of the listing (tcp_timeout_unacknowledged).
    refreshed = re.search(
        rf"^tcp +6 (\d+) ESTABLISHED src={CLIENT4} ", pair.conntrack("rb", "-L"), re.MULTILINE
    )
    assert refreshed and int(refreshed.group(1)) > 120


# 4. EEXIST ------------------------------------------------------------------------------


def test_committing_an_existing_entry_keeps_the_live_one(lab):
    """A peer's state never replaces an entry the kernel holds (a live session's)."""
    conntrack_host(lab, "ra")
    old, new = udp_entry(5000, mark=1), udp_entry(5000, mark=2)
    other = udp_entry(5001)

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        try:
            first = await table.commit([old])
            second = await table.commit([new, other])
            return first, second, await table.dump()
        finally:
            table.close()

    first, second, dumped = asyncio.run(scenario())
    assert (first.created, first.kept, first.failed) == (1, 0, [])
    assert (second.created, second.kept, second.failed) == (1, 1, [])
    marks = {e.original.sport: e.mark for e in dumped}
    assert marks == {5000: 1, 5001: 0}


def test_commit_reports_what_the_kernel_refuses(lab):
    conntrack_host(lab, "ra")
    bad_state = Entry(
        Tuple(V4("10.8.0.1"), V4("10.8.0.2"), 6, 1, 2),
        Tuple(V4("10.8.0.2"), V4("10.8.0.1"), 6, 2, 1),
        status=IPS_CONFIRMED, timeout=10, tcp=TcpInfo(state=200),
    )  # fmt: skip
    unknown_helper = Entry(
        Tuple(V4("10.8.0.1"), V4("10.8.0.2"), 6, 3, 4),
        Tuple(V4("10.8.0.2"), V4("10.8.0.1"), 6, 4, 3),
        status=IPS_CONFIRMED, timeout=10, tcp=TcpInfo(state=3), helper="nosuchhelper",
    )  # fmt: skip
    good = udp_entry(6000)

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        try:
            return await table.commit([bad_state, good, unknown_helper])
        finally:
            table.close()

    result = asyncio.run(scenario())
    assert result.created == 1
    failed = dict((e.original.sport, code) for e, code in result.failed)
    assert failed == {1: errno.ERANGE, 3: errno.EOPNOTSUPP}  # state > TCP_CONNTRACK_MAX


# 5. overrun -----------------------------------------------------------------------------


def test_overrun_of_the_kernel_buffer_resubscribes_and_a_dump_sees_everything(lab):
    conntrack_host(lab, "ra")
    burst = "for i in $(seq 2000 2299); do conntrack -I -p udp -s 10.6.0.1 -d 10.6.0.2 --sport $i --dport 9 -t 100 2>/dev/null; done"

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"), event_buffer=4096)
        await table.open()
        events = table.events()
        try:
            # The loop is blocked while the burst runs: nobody reads, the kernel drops.
            lab.run("ra", "sh", "-c", burst)
            with pytest.raises(Overrun) as overrun:
                async for _ in events:
                    pass
            # Resubscribed: a new change is seen by a new iteration.
            await in_thread(conntrack_insert, lab, "ra", 3000)
            event = await asyncio.wait_for(table.events().__anext__(), 5)
            return str(overrun.value), event, await table.dump(), table.overruns, table.event_buffer
        finally:
            table.close()

    reason, event, dumped, overruns, buffer = asyncio.run(scenario())
    assert "No buffer space" in reason or "105" in reason, reason
    assert overruns == 1
    assert buffer == 8192  # grown for the next burst
    assert (event.kind, event.entry.original.sport) == ("new", 3000)
    assert {e.original.sport for e in dumped} == {*range(2000, 2300), 3000}


def test_a_large_commit_of_ours_does_not_reach_the_event_socket(lab):
    """The kernel drops the events of our own writes (a socket filter on the port id):
    a commit of thousands of entries leaves even a tiny event buffer empty, where
    reading and dropping them in userspace overran it (then a takeover's commit
    competed with full dumps to resynchronise). Others' changes still arrive."""
    conntrack_host(lab, "ra")
    entries = [udp_entry(sport) for sport in range(10000, 15000)]

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"), event_buffer=4096)
        await table.open()
        seen: list[CtEvent] = []
        errors: list[Overrun] = []
        task = asyncio.create_task(collect_events(table, seen, errors))
        try:
            result = await table.commit(entries)
            await table.delete(entries[0])
            await in_thread(conntrack_insert, lab, "ra", 4001)
            await until(lambda: seen or errors, 5)
            await asyncio.sleep(0.2)  # anything else that would come
            return result, seen, errors, table.overruns, len(await table.dump())
        finally:
            task.cancel()
            table.close()

    result, seen, errors, overruns, dumped = asyncio.run(scenario())
    assert (result.created, result.failed) == (len(entries), [])
    assert (errors, overruns) == ([], 0)
    assert [(e.kind, e.entry.original.sport) for e in seen] == [("new", 4001)]
    assert dumped == len(entries)


def test_events_paused_for_a_commit_hears_nothing_then_everything_again(lab):
    """A takeover leaves the event groups for its commit (the kernel then builds no
    events), and dumps afterwards: what happens meanwhile is not reported, what
    happens after is, and the paused socket is not mistaken for an overrun."""
    conntrack_host(lab, "ra")
    entries = [udp_entry(sport) for sport in range(10000, 12000)]

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"), event_buffer=4096)
        await table.open()
        seen: list[CtEvent] = []
        errors: list[Overrun] = []
        task = asyncio.create_task(collect_events(table, seen, errors))
        try:
            with table.events_paused():
                result = await table.commit(entries)
                await in_thread(conntrack_insert, lab, "ra", 4001)
                await asyncio.sleep(0.2)
            during = list(seen)
            await in_thread(conntrack_insert, lab, "ra", 4002)
            await until(lambda: seen or errors, 5)
            dumped = {e.original.sport for e in await table.dump()}
            return result, during, seen, errors, dumped
        finally:
            task.cancel()
            table.close()

    result, during, seen, errors, dumped = asyncio.run(scenario())
    assert (result.created, result.failed) == (len(entries), [])
    assert (during, errors) == ([], [])
    assert [(e.kind, e.entry.original.sport) for e in seen] == [("new", 4002)]
    assert {4001, 4002} <= dumped


def test_a_consumer_that_does_not_read_overruns_the_backlog(lab):
    conntrack_host(lab, "ra")
    burst = "for i in $(seq 2000 2299); do conntrack -I -p udp -s 10.6.0.1 -d 10.6.0.2 --sport $i --dport 9 -t 100 2>/dev/null; done"

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"), event_buffer=4096, event_buffer_max=6000)
        await table.open()
        # The userspace backlog is bounded by event_buffer (4096 bytes), and so is the
        # kernel's buffer. On a loaded machine the loop can fall behind the burst and
        # the kernel overflows first (a different overrun); a roomy kernel buffer on
        # this first socket leaves the backlog as the only bound that can be reached.
        table._events.socket.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20)
        try:
            # The loop runs (the burst runs in a thread): every event is read from the
            # kernel at once, but nobody consumes them, and they pile up.
            await in_thread(lab.run, "ra", "sh", "-c", burst)
            with pytest.raises(Overrun) as overrun:
                async for _ in table.events():
                    pass
            await in_thread(conntrack_insert, lab, "ra", 3000)
            event = await asyncio.wait_for(table.events().__anext__(), 5)
            return str(overrun.value), event, await table.dump(), table.event_buffer
        finally:
            table.close()

    reason, event, dumped, buffer = asyncio.run(scenario())
    assert "bytes of events waiting" in reason, reason
    assert buffer == 6000  # grown, up to the bound
    assert (event.kind, event.entry.original.sport) == ("new", 3000)
    assert {e.original.sport for e in dumped} == {*range(2000, 2300), 3000}


def test_close_ends_a_waiting_event_iteration(lab):
    conntrack_host(lab, "ra")

    async def scenario():
        table = ConntrackTable(netns=lab.ns("ra"))
        await table.open()
        seen = []

        async def collect():
            async for event in table.events():
                seen.append(event)

        task = asyncio.create_task(collect())
        await in_thread(conntrack_insert, lab, "ra", 100)
        await until(lambda: seen, 5)
        table.close()
        await asyncio.wait_for(task, 2)  # ended, without Overrun
        return seen

    assert [e.entry.original.sport for e in asyncio.run(scenario())] == [100]


# 6. expectations: passive FTP through SNAT ---------------------------------------------


def test_ftp_expectation_moves_to_the_backup_with_its_master(lab):
    pair = Pair(lab)
    server = pair.python("sv", "ftp_server.py", SERVER4)
    wait_line(server, "^listening")
    go = lab.dir / "go"

    async def scenario():
        a = ConntrackTable(netns=lab.ns("ra"), expect_helpers={"ftp"})
        plain = ConntrackTable(netns=lab.ns("ra"))  # reports no expectations
        b = ConntrackTable(netns=lab.ns("rb"))
        for table in (a, plain, b):
            await table.open()
        seen: list[CtEvent] = []
        seen_plain: list[CtEvent] = []

        async def collect(table, into):
            async for event in table.events():
                into.append(event)

        tasks = [
            asyncio.create_task(collect(a, seen)),
            asyncio.create_task(collect(plain, seen_plain)),
        ]
        try:
            client = pair.python("cl", "ftp_client.py", SERVER4, str(go))
            port = int((await in_thread(wait_line, client, r"^PASV (\d+)$")).group(1))
            await until(lambda: any(isinstance(e.entry, Expectation) for e in seen), 5)
            expectations = await a.dump_expectations()
            masters = [e for e in await a.dump() if e.helper]
            committed = await b.commit(masters)
            committed_expectations = await b.commit_expectations(expectations)
            on_b = await b.dump_expectations()
            assert seen_plain  # it saw the control connection ...
            assert all(isinstance(e.entry, Entry) for e in seen_plain)  # ... and only entries
            return (
                client,
                port,
                seen,
                expectations,
                masters,
                committed,
                committed_expectations,
                on_b,
            )
        finally:
            for task in tasks:
                task.cancel()
            for table in (a, plain, b):
                table.close()

    (client, port, seen, expectations, masters, committed,
     committed_expectations, on_b) = asyncio.run(scenario())  # fmt: skip
    assert len(masters) == 1
    (master,) = masters
    assert (master.helper, master.original.dport, str(master.reply.dst)) == ("ftp", 21, NAT4)
    assert len(expectations) == 1
    (item,) = expectations
    assert isinstance(item, Expectation)
    assert item.master == master.original
    assert (str(item.expected.src), str(item.expected.dst)) == (CLIENT4, SERVER4)
    assert (item.expected.dport, item.helper) == (port, "ftp")
    assert item.mask.dport == 0xFFFF
    assert item.nat is not None and item.fn == "nat-follow-master"
    announced = [e for e in seen if isinstance(e.entry, Expectation)]
    assert [(e.kind, e.entry.expected) for e in announced] == [("new", item.expected)]
    assert (committed.created, committed.failed) == (1, [])
    assert (committed_expectations.created, committed_expectations.failed) == (1, [])
    assert len(on_b) == 1
    copy = on_b[0]
    assert (copy.master, copy.expected, copy.mask, copy.nat, copy.helper) == (
        item.master, item.expected, item.mask, item.nat, item.helper,
    )  # fmt: skip
    assert abs(copy.timeout - item.timeout) <= 2  # set by the update after the create
    listing = pair.conntrack("rb", "-L", "expect")
    assert re.search(rf"proto=6 src={CLIENT4} dst={SERVER4} sport=0 dport={port} .*ftp", listing), (
        listing
    )

    # The data connection now goes through rb, admitted as RELATED through the
    # synced expectation and NATed like its master.
    pair.switch()
    touch(go)
    wait_line(client, r"^GOT 104000$", timeout=10)
    assert "226" in client.log()
    related = poll(
        lambda: re.search(rf"dport={port} .*\bdst={NAT4}\b", pair.conntrack("rb", "-L")), 3
    )
    assert related
