"""Conntrack entries on the sync link: encode, decode, and refuse malformed ones."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
    decode,
)
from routerha.ctsync.protocol import SyncError

V4 = ipaddress.IPv4Address


def snat_tcp():
    """A client behind SNAT: 10.1.1.25:40455 -> 10.2.1.25:80, translated to 198.51.100.12."""
    original = Tuple(V4("10.1.1.25"), V4("10.2.1.25"), 6, 40455, 80)
    reply = Tuple(V4("10.2.1.25"), V4("198.51.100.12"), 6, 80, 40455)
    return Entry(
        original, reply, zone=0, status=IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT,
        timeout=431999, mark=7, tcp=TcpInfo(3, 0x23, 0x23, 7, 7), helper=None,
    )  # fmt: skip


def test_snat_entry_round_trips_and_knows_it_is_nat():
    entry = snat_tcp()
    assert entry.nat
    assert decode(entry.key, entry.state()) == entry


def test_key_is_zone_and_original_tuple_only():
    a = snat_tcp()
    b = Entry(a.original, a.reply, zone=0, status=0, timeout=5)
    c = Entry(a.original, a.reply, zone=1)
    assert a.key == b.key != c.key


addresses4 = st.builds(V4, st.integers(0, 2**32 - 1))
addresses6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
ports = st.integers(0, 65535)


@st.composite
def entries(draw):
    addresses = draw(st.sampled_from([addresses4, addresses6]))
    proto = draw(st.sampled_from([1, 6, 17, 58, 132, 33]))
    original = Tuple(draw(addresses), draw(addresses), proto, draw(ports), draw(ports))
    reply = Tuple(draw(addresses), draw(addresses), proto, draw(ports), draw(ports))
    tcp = draw(st.none() | st.builds(TcpInfo, *[st.integers(0, 255)] * 5))
    helper = draw(st.none() | st.sampled_from(["ftp", "sip", "h323", "tftp"]))
    return Entry(
        original, reply, draw(st.integers(0, 65535)), draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), tcp, helper,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(entries())
def test_any_entry_round_trips(entry):
    assert decode(entry.key, entry.state()) == entry


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=120))
def test_garbage_raises_only_sync_error(key, state):
    with contextlib.suppress(SyncError):
        decode(key, state)


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_state_is_refused(cut):
    entry = snat_tcp()
    with pytest.raises(SyncError):
        decode(entry.key, entry.state()[:-cut])


def test_icmp_echo_without_nat_is_not_nat():
    original = Tuple(V4("10.1.1.25"), V4("10.2.1.25"), 1, 77, 8 << 8)
    reply = Tuple(V4("10.2.1.25"), V4("10.1.1.25"), 1, 77, 0)
    assert not Entry(original, reply).nat
    assert Entry(original, Tuple(V4("10.2.1.25"), V4("198.51.100.12"), 1, 77, 0)).nat


def test_a_lower_timeout_alone_is_no_change():
    from dataclasses import replace

    from routerha.ctsync.entry import differs_beyond_timeout

    for family_address in ("10.0.0.1", "2001:db8::1"):
        address = ipaddress.ip_address(family_address)
        original = Tuple(address, address, 6, 1000, 80)
        entry = Entry(original, original.reversed(), status=8, timeout=300, mark=1)
        aged = replace(entry, timeout=120)
        assert not differs_beyond_timeout(entry.key, entry.state(), aged.state())
        for changed in (replace(aged, mark=2), replace(aged, status=12),
                        replace(aged, tcp=TcpInfo(3)), replace(aged, helper="ftp")):  # fmt: skip
            assert differs_beyond_timeout(entry.key, entry.state(), changed.state())
