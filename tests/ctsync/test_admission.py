"""What a peer may put into the external cache: every refused record has a reason."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from routerha.ctsync import expectation as cx
from routerha.ctsync.admission import Admission, entry_problem
from routerha.ctsync.entry import (
    IPS_ASSURED,
    IPS_DST_NAT,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    Entry,
    TcpInfo,
    Tuple,
)
from routerha.ctsync.protocol import Op
from routerha.ctsync.timeouts import KernelTimeouts
from routerha.daemon.conntrack import SyncFilter
from routerha.model.conntrack_sync import ConntrackSync

V4 = ipaddress.IPv4Address
CLIENT, SERVER, VIP = V4("10.1.1.25"), V4("198.51.100.25"), V4("198.51.100.12")


def snat(sport=40455, nat_port=40455, status=IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT, **kw):
    original = Tuple(CLIENT, SERVER, 6, sport, 5001)
    reply = Tuple(SERVER, VIP, 6, 5001, nat_port)
    return Entry(original, reply, status=status, timeout=431999, tcp=TcpInfo(3), **kw)


def admission(**config):
    settings = ConntrackSync(interface="eth2", sync_group="CG", **config)
    return Admission(SyncFilter(settings, own=[V4("192.168.9.1")]).accepts, settings.expect_sync)


def verdict(entry, **config):
    return admission(**config)(Op.UPDATE, entry.key, entry.state())


def test_a_real_snat_entry_is_admitted():
    assert verdict(snat()) is None


def test_a_translated_reply_without_its_nat_bit_is_refused():
    assert verdict(snat(status=IPS_SEEN_REPLY)) == "tuple_mismatch"
    inbound = Entry(Tuple(SERVER, VIP, 6, 4000, 443), Tuple(CLIENT, SERVER, 6, 443, 4000), status=0)
    assert entry_problem(inbound) == "tuple_mismatch"  # a forged DNAT to an inside host
    assert entry_problem(dataclasses.replace(inbound, status=IPS_DST_NAT)) is None


def test_addresses_ports_protocols_and_tcp_states_must_be_real():
    entry = snat()
    loopback = dataclasses.replace(entry, reply=Tuple(V4("127.0.0.1"), VIP, 6, 5001, 40455))
    assert entry_problem(dataclasses.replace(loopback, status=entry.status | IPS_DST_NAT)) == (
        "address"
    )
    zero = Tuple(CLIENT, SERVER, 6, 0, 5001)
    assert entry_problem(dataclasses.replace(entry, original=zero)) == "port"
    odd = Entry(Tuple(CLIENT, SERVER, 99, 1, 2), Tuple(SERVER, CLIENT, 99, 2, 1))
    assert entry_problem(odd) == "protocol"
    assert entry_problem(dataclasses.replace(entry, tcp=TcpInfo(42))) == "tcp_state"
    assert entry_problem(dataclasses.replace(entry, helper="x" * 20)) == "helper"


def test_the_same_filter_as_local_entries_applies():
    assert verdict(snat(), accept_protocol=("udp",)) == "filtered"
    ignored = (ipaddress.ip_network("10.1.1.0/24"),)
    assert verdict(snat(), ignore_address=ignored) == "filtered"


def test_undecodable_records_are_refused_and_destroys_need_a_key_shape():
    admit = admission()
    assert admit(Op.UPDATE, snat().key, b"short") == "bad_entry"
    assert admit(Op.UPDATE, b"\x07junk", b"") == "bad_entry"
    assert admit(Op.DESTROY, snat().key, b"") is None
    assert admit(Op.DESTROY, b"\x04" * 9, b"") == "bad_key"


def ftp_expectation(helper="ftp"):
    master = Tuple(CLIENT, SERVER, 6, 40000, 21)
    expected = Tuple(CLIENT, SERVER, 6, 0, 50000)
    mask = Tuple(V4("255.255.255.255"), V4("255.255.255.255"), 6, 0, 0xFFFF)
    return cx.Expectation(master, expected, mask, timeout=300, helper=helper)


def test_expectations_only_for_helpers_of_expect_sync():
    item = ftp_expectation()
    assert admission()(Op.UPDATE, item.key, item.state()) == "expectation_helper"
    assert admission(expect_sync=("ftp",))(Op.UPDATE, item.key, item.state()) is None
    sip = ftp_expectation("sip")
    assert admission(expect_sync=("ftp",))(Op.UPDATE, sip.key, sip.state()) == (
        "expectation_helper"
    )


def test_committed_timeouts_are_capped_at_the_kernels_for_the_state(tmp_path: Path):
    for name, value in {
        "tcp_timeout_established": "7200",
        "tcp_timeout_syn_sent": "120",
        "udp_timeout": "30",
        "udp_timeout_stream": "120",
    }.items():
        (tmp_path / f"nf_conntrack_{name}").write_text(value + "\n")
    timeouts = KernelTimeouts.read(tmp_path)
    established = snat()  # asks for 431999 s
    assert timeouts.commit_timeout(established, 60) == 7200
    syn = dataclasses.replace(established, tcp=TcpInfo(1), timeout=5)
    assert timeouts.commit_timeout(syn, 60) == 60  # raised to the floor, under the cap
    udp = Entry(Tuple(CLIENT, SERVER, 17, 5000, 53), Tuple(SERVER, CLIENT, 17, 53, 5000))
    assert timeouts.commit_timeout(dataclasses.replace(udp, timeout=10**6), 60) == 30
    replied = dataclasses.replace(udp, status=IPS_SEEN_REPLY, timeout=10**6)
    assert timeouts.commit_timeout(replied, 60) == 120
    assert KernelTimeouts.read(tmp_path / "none").commit_timeout(established, 60) == 431999


def test_the_external_cache_refuses_new_keys_beyond_its_bound_and_counts_them():
    from routerha.ctsync.cache import ExternalCache

    cache = ExternalCache(limit=2)
    assert cache.store(b"a", b"1") and cache.store(b"b", b"1")
    assert not cache.store(b"c", b"1") and cache.refused == 1
    assert cache.store(b"a", b"2") and cache == {b"a": b"2", b"b": b"1"}
