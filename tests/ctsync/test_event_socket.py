"""The conntrack event socket's reading (``kernel._EventSocket``), without a kernel
table: datagrams are written into the other end of a socket pair.

Events are read in batches, bounded per wake-up of the loop and in bytes waiting;
events our own writes caused, and expectation events nobody wants, are dropped
unread; more than the limit waiting is an overrun, as is a socket error."""

from __future__ import annotations

import asyncio
import socket

import pytest

from routerha import nlmsg
from routerha.ctsync import kernel

CT_NEW = 0x0100  # NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW
EXP_NEW = 0x0200  # NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_NEW
OURS = 4242


def event(kind: int = CT_NEW, portid: int = 0, size: int = 64) -> bytes:
    body = b"\0" * (size - nlmsg.HEADER.size)
    return nlmsg.HEADER.pack(size, kind, 0, 0, portid) + body


@pytest.fixture
def pair():
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    yield reader, writer
    reader.close()
    writer.close()


def events_socket(reader: socket.socket, limit: int = 1 << 20, expectations: bool = False):
    return kernel._EventSocket(reader, limit=limit, own={OURS: None}, expectations=expectations)


def test_a_wakeup_reads_a_batch_not_one_datagram(pair) -> None:
    reader, writer = pair
    sock = events_socket(reader)
    for _n in range(kernel.READ_BATCH + 10):
        writer.send(event())
    sock._readable()
    assert len(sock.backlog) == kernel.READ_BATCH  # the rest at the next wake-up
    sock._readable()
    assert len(sock.backlog) == kernel.READ_BATCH + 10
    assert sock.wakeup.is_set()


def test_our_own_events_and_unwanted_expectations_are_dropped_unread(pair) -> None:
    reader, writer = pair
    sock = events_socket(reader)
    writer.send(event(portid=OURS))
    writer.send(event(kind=EXP_NEW))
    writer.send(event(portid=7))
    sock._readable()
    assert [nlmsg.HEADER.unpack_from(d)[4] for d in sock.backlog] == [7]


def test_wanted_expectation_events_are_kept(pair) -> None:
    reader, writer = pair
    sock = events_socket(reader, expectations=True)
    writer.send(event(kind=EXP_NEW))
    sock._readable()
    assert len(sock.backlog) == 1


def test_more_than_the_limit_waiting_is_an_overrun_that_forgets_the_backlog(pair) -> None:
    reader, writer = pair
    sock = events_socket(reader, limit=10 * 64)
    for _n in range(11):
        writer.send(event())
    sock._readable()
    assert sock.failure is not None and "more than 640 bytes" in sock.failure
    assert not sock.backlog and sock.queued == 0
    with pytest.raises(kernel._SocketFailed):
        asyncio.run(sock.datagrams())


def test_a_socket_error_is_an_overrun(pair) -> None:
    reader, _writer = pair
    sock = events_socket(reader)

    class Failing:
        def recv(self, size: int) -> bytes:
            raise OSError(105, "No buffer space available")

    sock.socket = Failing()  # type: ignore[assignment]
    sock._readable()
    assert sock.failure == "socket error: [Errno 105] No buffer space available"


def test_datagrams_hands_over_at_most_what_is_asked_and_counts_down(pair) -> None:
    reader, writer = pair
    sock = events_socket(reader)
    for _n in range(5):
        writer.send(event(size=100))
    sock._readable()
    first = asyncio.run(sock.datagrams(most=3))
    assert len(first) == 3 and sock.queued == 200
    assert len(asyncio.run(sock.datagrams())) == 2 and sock.queued == 0
