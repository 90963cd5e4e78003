"""Conversions between ctnetlink messages and Entry / Expectation, without a kernel.

Messages "from the kernel" are built the way ctnetlink dumps them, encoded with
the extended pyroute2 classes and decoded again from the bytes, so the class
fixes (nested CTA_HELP, CTA_TUPLE_ZONE, expectations) are exercised too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_DST_NAT,
    IPS_EXPECTED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.expectation import (
    Expectation,
    ExpectationNat,
    decode,
    is_expectation_key,
)
from routerha.ctsync.kernel import (
    CREATE_STATUS_MASK,
    TCP_FLAGS_CONTROLLED,
    create_attrs,
    entry_from_msg,
    expectation_attrs,
    expectation_from_msg,
    inverse,
    nat_bindings,
    tuple_attrs,
    tuple_from_nla,
)
from routerha.ctsync.nfct import CT_NEW, EXP_NEW, ct_msg, exp_msg
from routerha.ctsync.protocol import SyncError

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
LIBERAL = 0x08
WINDOW_SCALE = 0x01
SACK_PERM = 0x02


def wire(kind, attrs, family=socket.AF_INET, mtype=CT_NEW):
    """Encode a message and decode it again from its bytes, as if received."""
    msg = kind()
    msg["nfgen_family"] = family
    msg["attrs"] = attrs
    msg["header"]["type"] = mtype
    msg["header"]["flags"] = 0
    msg.encode()
    received = kind(bytes(msg.data))
    received.decode()
    return received


def values(nla):
    return {slot.cell[0]: slot.get_value() for slot in nla["attrs"]}


def dumped(original, reply, **extra):
    """A conntrack message as ctnetlink dumps it (the reply tuple NAT'd by the kernel)."""
    attrs = [
        ("CTA_TUPLE_ORIG", tuple_attrs(original)),
        ("CTA_TUPLE_REPLY", tuple_attrs(reply)),
        ("CTA_STATUS", extra.pop("status", IPS_CONFIRMED)),
        ("CTA_TIMEOUT", extra.pop("timeout", 100)),
        ("CTA_ID", 12345),
        ("CTA_USE", 1),
    ]
    attrs += list(extra.items())
    family = socket.AF_INET if original.src.version == 4 else socket.AF_INET6
    return wire(ct_msg, attrs, family)


def created(entry, min_timeout=60):
    """The create message for ``entry``, as the kernel receives it: name -> value."""
    family = socket.AF_INET if entry.family == 4 else socket.AF_INET6
    msg = wire(ct_msg, create_attrs(entry, min_timeout), family)
    out = values(msg)
    out["CTA_TUPLE_ORIG"] = tuple_of(out["CTA_TUPLE_ORIG"])
    out["CTA_TUPLE_REPLY"] = tuple_of(out["CTA_TUPLE_REPLY"])
    return out


def tuple_of(nla):
    found, zone = tuple_from_nla(nla)
    assert zone is None
    return found


def nat_of(nla):
    out = values(nla)
    if "CTA_NAT_PROTO" in out:
        proto = values(out.pop("CTA_NAT_PROTO"))
        out["ports"] = (proto["CTA_PROTONAT_PORT_MIN"], proto["CTA_PROTONAT_PORT_MAX"])
    return out


# One test per protocol: kernel message -> Entry -> create message ---------------------


def test_tcp_snat_with_protoinfo_mark_zone_and_helper():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 40000, 21)
    reply = Tuple(V4("10.0.2.2"), V4("10.0.2.1"), 6, 21, 61000)
    protoinfo = {
        "attrs": [
            (
                "CTA_PROTOINFO_TCP",
                {
                    "attrs": [
                        ("CTA_PROTOINFO_TCP_STATE", 3),
                        ("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL", 7),
                        ("CTA_PROTOINFO_TCP_WSCALE_REPLY", 9),
                        ("CTA_PROTOINFO_TCP_FLAGS_ORIGINAL", {"value": (0x23, 0)}),
                        ("CTA_PROTOINFO_TCP_FLAGS_REPLY", {"value": (0x33, 0)}),
                    ]
                },
            )
        ]
    }
    status = IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT | 0x180 | 0x2000
    msg = dumped(
        original, reply, status=status, timeout=431999,
        CTA_MARK=42, CTA_ZONE=5, CTA_PROTOINFO=protoinfo,
        CTA_HELP={"attrs": [("CTA_HELP_NAME", "ftp")]},
    )  # fmt: skip
    entry = entry_from_msg(msg)
    assert entry == Entry(
        original, reply, zone=5, status=status, timeout=431999, mark=42,
        tcp=TcpInfo(3, 0x23, 0x33, 7, 9), helper="ftp",
    )  # fmt: skip

    out = created(entry)
    assert out["CTA_TUPLE_ORIG"] == original
    assert out["CTA_TUPLE_REPLY"] == original.reversed()  # not the NAT'd reply
    assert out["CTA_STATUS"] == IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED
    assert out["CTA_TIMEOUT"] == 431999
    assert out["CTA_MARK"] == 42
    assert out["CTA_ZONE"] == 5
    assert nat_of(out["CTA_NAT_SRC"]) == {
        "CTA_NAT_V4_MINIP": "10.0.2.1", "CTA_NAT_V4_MAXIP": "10.0.2.1", "ports": (61000, 61000),
    }  # fmt: skip
    assert "CTA_NAT_DST" not in out
    assert values(out["CTA_HELP"]) == {"CTA_HELP_NAME": "ftp"}
    tcp = values(values(out["CTA_PROTOINFO"])["CTA_PROTOINFO_TCP"])
    assert tcp["CTA_PROTOINFO_TCP_STATE"] == 3
    assert tcp["CTA_PROTOINFO_TCP_WSCALE_ORIGINAL"] == 7
    assert tcp["CTA_PROTOINFO_TCP_WSCALE_REPLY"] == 9
    # Kept: WINDOW_SCALE | SACK_PERM (0x23 & controlled), added: BE_LIBERAL; with the mask.
    expected_original = (0x23 & TCP_FLAGS_CONTROLLED) | LIBERAL | WINDOW_SCALE
    assert tcp["CTA_PROTOINFO_TCP_FLAGS_ORIGINAL"] == (expected_original, TCP_FLAGS_CONTROLLED)
    expected_reply = (0x33 & TCP_FLAGS_CONTROLLED) | LIBERAL | WINDOW_SCALE
    assert tcp["CTA_PROTOINFO_TCP_FLAGS_REPLY"] == (expected_reply, TCP_FLAGS_CONTROLLED)


def test_udp_dnat():
    original = Tuple(V4("192.0.2.7"), V4("198.51.100.1"), 17, 5353, 53)
    reply = Tuple(V4("10.0.0.53"), V4("192.0.2.7"), 17, 5300, 5353)
    msg = dumped(original, reply, status=IPS_CONFIRMED | IPS_DST_NAT, timeout=30)
    entry = entry_from_msg(msg)
    assert entry == Entry(original, reply, status=IPS_CONFIRMED | IPS_DST_NAT, timeout=30)
    out = created(entry, min_timeout=60)
    assert out["CTA_TIMEOUT"] == 60  # max(timeout, min_timeout)
    assert out["CTA_TUPLE_REPLY"] == original.reversed()
    assert "CTA_NAT_SRC" not in out
    assert nat_of(out["CTA_NAT_DST"]) == {
        "CTA_NAT_V4_MINIP": "10.0.0.53", "CTA_NAT_V4_MAXIP": "10.0.0.53", "ports": (5300, 5300),
    }  # fmt: skip
    assert "CTA_PROTOINFO" not in out
    assert "CTA_MARK" not in out
    assert "CTA_ZONE" not in out


def test_icmp_echo_id_and_type_code():
    # sport = id, dport = type << 8 | code; the reply is an echo reply (type 0).
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 1, 0x1234, 8 << 8)
    reply = Tuple(V4("10.0.2.2"), V4("10.0.2.1"), 1, 0x1234, 0)
    msg = dumped(original, reply, status=IPS_CONFIRMED | IPS_SRC_NAT)
    proto = values(values(values(msg)["CTA_TUPLE_ORIG"])["CTA_TUPLE_PROTO"])
    assert proto == {
        "CTA_PROTO_NUM": 1, "CTA_PROTO_ICMP_ID": 0x1234,
        "CTA_PROTO_ICMP_TYPE": 8, "CTA_PROTO_ICMP_CODE": 0,
    }  # fmt: skip
    entry = entry_from_msg(msg)
    assert entry.original == original
    assert entry.reply == reply
    assert inverse(original) == Tuple(V4("10.0.2.2"), V4("10.0.1.2"), 1, 0x1234, 0)
    out = created(entry)
    assert out["CTA_TUPLE_REPLY"] == inverse(original)
    assert nat_of(out["CTA_NAT_SRC"]) == {
        "CTA_NAT_V4_MINIP": "10.0.2.1", "CTA_NAT_V4_MAXIP": "10.0.2.1", "ports": (0x1234, 0x1234),
    }  # fmt: skip


def test_icmpv6_echo_over_ipv6():
    original = Tuple(V6("fd00:1::2"), V6("fd00:2::2"), 58, 77, 128 << 8)
    reply = Tuple(V6("fd00:2::2"), V6("fd00:2::1"), 58, 77, 129 << 8)
    msg = dumped(original, reply, status=IPS_CONFIRMED | IPS_SRC_NAT)
    assert msg["nfgen_family"] == socket.AF_INET6
    entry = entry_from_msg(msg)
    assert (entry.original, entry.reply) == (original, reply)
    assert inverse(original) == Tuple(V6("fd00:2::2"), V6("fd00:1::2"), 58, 77, 129 << 8)
    out = created(entry)
    assert out["CTA_TUPLE_REPLY"] == inverse(original)
    assert nat_of(out["CTA_NAT_SRC"]) == {
        "CTA_NAT_V6_MINIP": "fd00:2::1", "CTA_NAT_V6_MAXIP": "fd00:2::1", "ports": (77, 77),
    }  # fmt: skip


def test_sctp_without_nat():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 132, 2905, 2905)
    msg = dumped(original, original.reversed(), status=IPS_CONFIRMED | IPS_SEEN_REPLY)
    entry = entry_from_msg(msg)
    assert entry == Entry(
        original, original.reversed(), status=IPS_CONFIRMED | IPS_SEEN_REPLY, timeout=100
    )
    assert nat_bindings(entry) == (None, None)
    out = created(entry)
    assert out["CTA_TUPLE_REPLY"] == original.reversed()
    assert "CTA_NAT_SRC" not in out
    assert "CTA_NAT_DST" not in out
    assert "CTA_PROTOINFO" not in out  # an Entry carries TCP protoinfo only


def test_dccp_over_ipv6_snat_and_dnat():
    original = Tuple(V6("2001:db8::2"), V6("2001:db8:1::80"), 33, 5000, 6000)
    reply = Tuple(V6("fd00::80"), V6("2001:db8:2::1"), 33, 6001, 40000)
    msg = dumped(original, reply, status=IPS_CONFIRMED | IPS_SRC_NAT | IPS_DST_NAT)
    entry = entry_from_msg(msg)
    assert (entry.original, entry.reply) == (original, reply)
    out = created(entry)
    assert out["CTA_TUPLE_REPLY"] == original.reversed()
    assert nat_of(out["CTA_NAT_SRC"])["ports"] == (40000, 40000)
    assert nat_of(out["CTA_NAT_SRC"])["CTA_NAT_V6_MINIP"] == "2001:db8:2::1"
    assert nat_of(out["CTA_NAT_DST"])["ports"] == (6001, 6001)
    assert nat_of(out["CTA_NAT_DST"])["CTA_NAT_V6_MAXIP"] == "fd00::80"


# Details ------------------------------------------------------------------------------


def test_nat_bindings_port_only_change_is_snat_with_same_address():
    # A null SNAT binding that had to move the source port (a clash).
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 1000, 80)
    reply = Tuple(V4("10.0.2.2"), V4("10.0.1.2"), 6, 80, 1001)
    assert nat_bindings(Entry(original, reply)) == ((V4("10.0.1.2"), 1001), None)


def test_generic_protocol_nat_has_no_ports():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 50)  # ESP
    reply = Tuple(V4("10.0.2.2"), V4("10.0.2.1"), 50)
    assert nat_bindings(Entry(original, reply)) == ((V4("10.0.2.1"), None), None)
    out = created(Entry(original, reply))
    assert nat_of(out["CTA_NAT_SRC"]) == {
        "CTA_NAT_V4_MINIP": "10.0.2.1",
        "CTA_NAT_V4_MAXIP": "10.0.2.1",
    }
    proto = values(
        values(create_attrs_msg(Entry(original, reply))["CTA_TUPLE_ORIG"])["CTA_TUPLE_PROTO"]
    )
    assert proto == {"CTA_PROTO_NUM": 50}


def create_attrs_msg(entry):
    return values(wire(ct_msg, create_attrs(entry)))


def test_expected_and_nat_status_bits_are_not_sent():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 1000, 2000)
    entry = Entry(
        original, original.reversed(), status=IPS_EXPECTED | IPS_SRC_NAT | IPS_ASSURED | 0x180
    )
    out = created(entry)
    assert out["CTA_STATUS"] == IPS_CONFIRMED | IPS_ASSURED
    assert CREATE_STATUS_MASK & (IPS_EXPECTED | IPS_SRC_NAT | IPS_DST_NAT | IPS_CONFIRMED) == 0


def test_tcp_without_protoinfo_is_still_liberal():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 1000, 2000)
    out = created(Entry(original, original.reversed(), tcp=None))
    tcp = values(values(out["CTA_PROTOINFO"])["CTA_PROTOINFO_TCP"])
    assert "CTA_PROTOINFO_TCP_STATE" not in tcp
    assert tcp["CTA_PROTOINFO_TCP_FLAGS_ORIGINAL"] == (LIBERAL, TCP_FLAGS_CONTROLLED)


def test_window_scale_flag_follows_a_known_scale():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 1000, 2000)
    entry = Entry(original, original.reversed(), tcp=TcpInfo(3, SACK_PERM, 0, 7, 0))
    tcp = values(values(created(entry)["CTA_PROTOINFO"])["CTA_PROTOINFO_TCP"])
    assert tcp["CTA_PROTOINFO_TCP_FLAGS_ORIGINAL"][0] == SACK_PERM | LIBERAL | WINDOW_SCALE
    assert tcp["CTA_PROTOINFO_TCP_FLAGS_REPLY"][0] == LIBERAL  # scale 0 and no flag: unknown


def test_directional_zone_is_decoded_but_not_an_entry():
    original = Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 17, 1000, 53)
    zoned = tuple_attrs(original)
    zoned["attrs"].append(("CTA_TUPLE_ZONE", 7))
    msg = wire(
        ct_msg, [("CTA_TUPLE_ORIG", zoned), ("CTA_TUPLE_REPLY", tuple_attrs(original.reversed()))]
    )
    assert values(values(msg)["CTA_TUPLE_ORIG"])["CTA_TUPLE_ZONE"] == 7
    assert entry_from_msg(msg) is None


def test_pyroute2_parent_class_is_untouched():
    from pyroute2.netlink.nfnetlink.nfctsocket import nfct_msg

    # The fix lives in the subclass; the parent's (string) CTA_HELP is left alone.
    assert dict(nfct_msg.nla_map)["CTA_HELP"] == "asciiz"
    assert dict(ct_msg.nla_map)["CTA_HELP"] == "cta_help"
    nfct_msg()  # compiling the parent first must not leak into the subclass
    ct_msg()
    msg = wire(ct_msg, [("CTA_HELP", {"attrs": [("CTA_HELP_NAME", "sip")]})])
    assert values(values(msg)["CTA_HELP"]) == {"CTA_HELP_NAME": "sip"}


# Expectations -------------------------------------------------------------------------


def ftp_expectation(**changes):
    item = Expectation(
        master=Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 40000, 21),
        expected=Tuple(V4("10.0.1.2"), V4("10.0.2.2"), 6, 0, 60815),
        mask=Tuple(V4("255.255.255.255"), V4("255.255.255.255"), 6, 0, 0xFFFF),
        zone=0,
        timeout=297,
        helper="ftp",
        flags=0,
        expect_class=0,
        nat=ExpectationNat(0, Tuple(V4("0.0.0.0"), V4("0.0.0.0"), 6, 60815, 0)),
        fn="nat-follow-master",
    )
    return Expectation(**{**item.__dict__, **changes})


def test_expectation_message_round_trip():
    item = ftp_expectation(zone=3, flags=1, expect_class=0)
    msg = wire(exp_msg, [*expectation_attrs(item), ("CTA_EXPECT_ID", 99)], mtype=EXP_NEW)
    assert expectation_from_msg(msg) == item


def test_expectation_without_nat_and_helper():
    item = ftp_expectation(nat=None, fn=None, helper=None, timeout=0)
    msg = wire(exp_msg, expectation_attrs(item), mtype=EXP_NEW)
    names = {slot.cell[0] for slot in msg["attrs"]}
    assert names == {"CTA_EXPECT_MASTER", "CTA_EXPECT_TUPLE", "CTA_EXPECT_MASK"}
    assert expectation_from_msg(msg) == item


def test_expectation_key_and_state_round_trip():
    item = ftp_expectation()
    assert is_expectation_key(item.key)
    assert decode(item.key, item.state()) == item
    other = ftp_expectation(master=Tuple(V4("10.0.1.3"), V4("10.0.2.2"), 6, 1, 21))
    assert other.key == item.key  # identity: zone and expected tuple
    assert ftp_expectation(zone=1).key != item.key


def test_expectation_key_never_equals_an_entry_key():
    item = ftp_expectation()
    entry = Entry(item.expected, item.expected.reversed())
    assert entry.key != item.key
    assert not is_expectation_key(entry.key)


addresses4 = st.builds(V4, st.integers(0, 2**32 - 1))
addresses6 = st.builds(V6, st.integers(0, 2**128 - 1))
ports = st.integers(0, 65535)
names = st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)


@st.composite
def expectations(draw):
    addresses = draw(st.sampled_from([addresses4, addresses6]))
    proto = draw(st.sampled_from([6, 17, 132, 33]))
    master_proto = draw(st.sampled_from([6, 17]))

    def tup(p):
        return Tuple(draw(addresses), draw(addresses), p, draw(ports), draw(ports))

    nat = draw(
        st.none() | st.builds(ExpectationNat, st.integers(0, 255), st.just(tup(master_proto)))
    )
    return Expectation(
        tup(master_proto), tup(proto), tup(proto), draw(st.integers(0, 65535)),
        draw(st.integers(0, 2**32 - 1)), draw(names), draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)), nat, draw(names),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(expectations())
def test_any_expectation_round_trips(item):
    assert decode(item.key, item.state()) == item


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=160))
def test_expectation_garbage_raises_only_sync_error(key, state):
    with contextlib.suppress(SyncError):
        decode(bytes([ord("E")]) + key, state)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (b"E", "too short"),
        (b"E\x05\x06\x00\x00" + bytes(12), "family"),
        (b"X\x04\x06\x00\x00" + bytes(12), "not an expectation"),
        (b"E\x04\x06\x00\x00" + bytes(11), "length"),
    ],
)
def test_malformed_expectation_keys(key, why):
    with pytest.raises(SyncError, match=why):
        decode(key, ftp_expectation().state())
