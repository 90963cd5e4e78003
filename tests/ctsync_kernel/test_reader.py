"""The fast reader decodes conntrack messages exactly as pyroute2 does."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync.entry import IPS_CONFIRMED, TcpInfo
from routerha.ctsync.kernel import (
    READER,
    entry_from_msg,
    expectation_attrs,
    expectation_from_msg,
    tuple_attrs,
)
from routerha.ctsync.nfct import CT_DELETE, CT_NEW, EXP_NEW, ct_msg, exp_msg
from routerha.ctsync.reader import Undecoded
from tests.ctsync.test_entry import entries
from tests.ctsync_kernel.test_convert import expectations


def encoded(kind, attrs, family, mtype, flags=0, pid=0, seq=1) -> bytes:
    msg = kind()
    msg["nfgen_family"] = family
    msg["attrs"] = attrs
    msg["header"].update({"type": mtype, "flags": flags, "pid": pid, "sequence_number": seq})
    msg.encode()
    return bytes(msg.data)


def pyroute2_tree(nla) -> dict:
    """What pyroute2 decodes, as nested dicts (the reader's form)."""
    out = {}
    for slot in nla["attrs"]:
        name, cell = slot.cell
        cell.decode() if not cell.decoded else None
        out[name] = pyroute2_tree(cell) if cell.nla_map and not cell.fields else slot.get_value()
    return out


def without_undecoded(tree: dict) -> dict:
    return {
        k: without_undecoded(v) if isinstance(v, dict) else v
        for k, v in tree.items()
        if not isinstance(v, Undecoded)
    }


def as_kernel_sends_it(entry) -> list:
    """An entry as ctnetlink dumps it: both tuples, status, timeout, counters, id..."""
    attrs = [
        ("CTA_TUPLE_ORIG", tuple_attrs(entry.original)),
        ("CTA_TUPLE_REPLY", tuple_attrs(entry.reply)),
        ("CTA_STATUS", entry.status | IPS_CONFIRMED),
        ("CTA_TIMEOUT", entry.timeout),
        ("CTA_MARK", entry.mark),
        (
            "CTA_COUNTERS_ORIG",
            {"attrs": [("CTA_COUNTERS_PACKETS", 3), ("CTA_COUNTERS_BYTES", 180)]},
        ),
        ("CTA_ZONE", entry.zone),
        ("CTA_ID", 12345),
        ("CTA_USE", 1),
    ]
    if entry.tcp is not None:
        t = entry.tcp
        info = [
            ("CTA_PROTOINFO_TCP_STATE", t.state),
            ("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL", t.wscale_original),
            ("CTA_PROTOINFO_TCP_WSCALE_REPLY", t.wscale_reply),
            ("CTA_PROTOINFO_TCP_FLAGS_ORIGINAL", {"value": (t.flags_original, 0)}),
            ("CTA_PROTOINFO_TCP_FLAGS_REPLY", {"value": (t.flags_reply, 0)}),
        ]
        attrs.append(("CTA_PROTOINFO", {"attrs": [("CTA_PROTOINFO_TCP", {"attrs": info})]}))
    if entry.helper:
        attrs.append(("CTA_HELP", {"attrs": [("CTA_HELP_NAME", entry.helper)]}))
    return attrs


@settings(max_examples=400, deadline=None)
@given(entries(), st.sampled_from([CT_NEW, CT_DELETE]), st.integers(0, 2**31))
def test_conntrack_messages_read_as_pyroute2_reads_them(entry, mtype, pid):
    family = socket.AF_INET if entry.family == 4 else socket.AF_INET6
    data = encoded(ct_msg, as_kernel_sends_it(entry), family, mtype, flags=0x600, pid=pid)
    reference = ct_msg(data)
    reference.decode()
    (msg,) = READER.messages(data)
    assert (msg.type, msg.flags, msg.pid, msg.error) == (mtype, 0x600, pid, None)
    assert without_undecoded(msg.attrs) == without_undecoded(pyroute2_tree(reference))
    assert entry_from_msg(msg.attrs) == entry_from_msg(reference)
    if entry.tcp is not None:
        assert entry_from_msg(msg.attrs).tcp == TcpInfo(*(getattr(entry.tcp, f) for f in (
            "state", "flags_original", "flags_reply", "wscale_original", "wscale_reply")))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(expectations())
def test_expectation_messages_read_as_pyroute2_reads_them(item):
    family = socket.AF_INET if item.master.src.version == 4 else socket.AF_INET6
    data = encoded(exp_msg, expectation_attrs(item), family, EXP_NEW)
    reference = exp_msg(data)
    reference.decode()
    (msg,) = READER.messages(data)
    assert without_undecoded(msg.attrs) == without_undecoded(pyroute2_tree(reference))
    assert expectation_from_msg(msg.attrs) == expectation_from_msg(reference)


def test_several_messages_an_error_and_done_in_one_datagram():
    from ipaddress import IPv4Address

    from routerha.ctsync.entry import Entry, Tuple

    o = Tuple(IPv4Address("10.0.0.1"), IPv4Address("10.0.0.2"), 17, 1000, 53)
    one = encoded(ct_msg, as_kernel_sends_it(Entry(o, o.reversed(), timeout=30)), 2, CT_NEW)
    error = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + bytes(10)
    error += (-17).to_bytes(4, "little", signed=True) + bytes(16)
    done = (20).to_bytes(4, "little") + (3).to_bytes(2, "little") + bytes(14)
    messages = list(READER.messages(one + one + error + done))
    assert [m.type for m in messages] == [CT_NEW, CT_NEW, 2, 3]
    assert messages[2].error == 17 and messages[0].attrs == messages[1].attrs


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises(data):
    list(READER.messages(data))
