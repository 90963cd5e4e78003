"""The socket filter that drops our own conntrack events in the kernel (``own_events_filter``).

Netlink runs a socket's filter on unicast messages as on multicast ones, and
between two userspace sockets (NETLINK_USERSOCK) the header is the sender's, so
a pair of sockets shows what the filter drops without conntrack or root.
"""

from __future__ import annotations

import socket
import struct

import pytest

from routerha.ctsync.kernel import OWN_FILTER_MAX, attach_filter, own_events_filter

NETLINK_USERSOCK = 2
HEADER = struct.Struct("=IHHII")


@pytest.fixture
def pair():
    """A receiving and a sending NETLINK_USERSOCK socket; the receiver's port id."""
    try:
        receiver = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_USERSOCK)
    except OSError as exc:
        pytest.skip(f"no netlink user sockets: {exc}")
    sender = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_USERSOCK)
    receiver.bind((0, 0))
    sender.bind((0, 0))
    receiver.settimeout(0.5)
    yield receiver, sender, receiver.getsockname()[0]
    receiver.close()
    sender.close()


def arrived(receiver: socket.socket, sender: socket.socket, to: int, pids: list[int]) -> list[int]:
    """Send one message stamped with each port id; the port ids of those received."""
    for seq, pid in enumerate(pids):
        sender.sendto(HEADER.pack(16, 0x100, 0, seq, pid), (to, 0))
    sender.sendto(HEADER.pack(16, 0x100, 0, len(pids), 1), (to, 0))  # the end mark
    out = []
    while True:
        pid = HEADER.unpack(receiver.recv(64))[4]
        if pid == 1:
            return out
        out.append(pid)


def test_messages_from_our_port_ids_are_dropped_and_others_pass(pair):
    receiver, sender, to = pair
    # Port ids with four distinct octets: a byte-order mistake shows.
    own = [0x01020304, 0x7FFFFFFF, 4242, 0x80001234]
    attach_filter(receiver, own_events_filter(own))
    sent = [4242, 0x04030201, 0x01020304, 0, 77, 0x80001234, 0x7FFFFFFF, 0x34120080]
    assert arrived(receiver, sender, to, sent) == [0x04030201, 0, 77, 0x34120080]


def test_a_new_filter_replaces_the_old_one(pair):
    receiver, sender, to = pair
    attach_filter(receiver, own_events_filter([10]))
    attach_filter(receiver, own_events_filter([10, 11]))
    assert arrived(receiver, sender, to, [10, 11, 12]) == [12]
    attach_filter(receiver, own_events_filter([]))
    assert arrived(receiver, sender, to, [10, 11, 12]) == [10, 11, 12]


def test_only_the_most_recent_port_ids_are_filtered(pair):
    receiver, sender, to = pair
    own = list(range(1000, 1000 + OWN_FILTER_MAX + 5))
    attach_filter(receiver, own_events_filter(own))
    assert arrived(receiver, sender, to, own) == own[:5]
