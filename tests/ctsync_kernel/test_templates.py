"""Template encoding gives exactly pyroute2's bytes, for every shape routerhad writes."""

from __future__ import annotations

import ipaddress
import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from routerha.ctsync.entry import IPS_CONFIRMED, Entry, TcpInfo, Tuple
from routerha.ctsync.kernel import (
    create_attrs,
    expectation_attrs,
    expectation_key_attrs,
    key_attrs,
)
from routerha.ctsync.nfct import CT_DELETE, CT_NEW, EXP_DELETE, EXP_NEW, ct_msg, exp_msg
from routerha.ctsync.templates import (
    MAX_TEMPLATES_PER_SHAPE,
    Templates,
    _encode_pyroute2,
    restamp,
    restamp_all,
)
from tests.ctsync.test_entry import entries

from .test_convert import expectations

CT = Templates(ct_msg)
EXP = Templates(exp_msg)


def family(entry_or_tuple) -> int:
    return socket.AF_INET if entry_or_tuple.src.version == 4 else socket.AF_INET6


def pyroute2(kind, fam, mtype, flags, seq, attrs) -> bytes:
    return bytes(_encode_pyroute2(kind, fam, mtype, flags, seq, attrs).data)


def both(templates, kind, fam, mtype, flags, seq, attrs):
    return templates.encode(fam, mtype, flags, seq, attrs), pyroute2(
        kind, fam, mtype, flags, seq, attrs
    )


@settings(max_examples=400, deadline=None)
@given(entries(), st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF))
def test_create_and_delete_messages_match_pyroute2(entry, seq, flags):
    fam = family(entry.original)
    got, want = both(CT, ct_msg, fam, CT_NEW, flags, seq, create_attrs(entry, 60))
    assert got == want
    got, want = both(CT, ct_msg, fam, CT_DELETE, flags, seq, key_attrs(entry))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(expectations(), st.integers(0, 2**32 - 1))
def test_expectation_messages_match_pyroute2(item, seq):
    fam = family(item.master)
    got, want = both(EXP, exp_msg, fam, EXP_NEW, 0x405, seq, expectation_attrs(item))
    assert got == want
    got, want = both(EXP, exp_msg, fam, EXP_DELETE, 0x5, seq, expectation_key_attrs(item))
    assert got == want


def test_messages_of_one_shape_come_from_the_template():
    templates = Templates(ct_msg)
    for i in range(50):
        o = Tuple(
            ipaddress.IPv4Address(f"10.0.0.{i + 1}"),
            ipaddress.IPv4Address("192.0.2.1"),
            17,
            1000 + i,
            53,
        )
        entry = Entry(o, o.reversed(), status=IPS_CONFIRMED, timeout=30)
        templates.encode(socket.AF_INET, CT_NEW, 0x405, i, create_attrs(entry, 60))
    assert (templates.misses, templates.hits) == (1, 49)


def test_what_a_template_cannot_hold_is_left_to_pyroute2():
    templates = Templates(ct_msg)
    odd = [("CTA_MARK", 7, 0x8000), ("CTA_NO_SUCH_ATTRIBUTE", 1)]
    for _ in range(3):
        got = templates.encode(socket.AF_INET, CT_NEW, 0x405, 9, odd)
        assert got == pyroute2(ct_msg, socket.AF_INET, CT_NEW, 0x405, 9, odd)
    unknown = [("CTA_MARK", 7), ("CTA_NO_SUCH_ATTRIBUTE", 1)]
    for _ in range(3):
        assert templates.encode(socket.AF_INET, CT_NEW, 0, 1, unknown) == pyroute2(
            ct_msg, socket.AF_INET, CT_NEW, 0, 1, unknown
        )
    assert templates.hits == 0


def test_restamp_adds_flags_and_sets_the_sequence_number():
    first = pyroute2(ct_msg, socket.AF_INET, CT_NEW, 0x600, 0, [("CTA_MARK", 7)])
    want = pyroute2(ct_msg, socket.AF_INET, CT_NEW, 0x605, 77, [("CTA_MARK", 7)])
    assert restamp(first, 0x5, 77) == want


def test_restamp_all_is_restamp_of_each_and_the_last_flags_on_the_last():
    attrs = [[("CTA_MARK", 7)], [("CTA_MARK", 8), ("CTA_ZONE", 3)], [("CTA_TIMEOUT", 60)]]
    messages = [pyroute2(ct_msg, socket.AF_INET, CT_NEW, 0x600, 0, a) for a in attrs]
    seqs = range(0x1000000, 0x1000003)
    want = [restamp(m, 0x1, s) for m, s in zip(messages, seqs)]
    want[-1] = restamp(want[-1], 0x4, seqs[-1])
    assert restamp_all(messages, 0x1, seqs, 0x4) == b"".join(want)
    assert restamp_all(messages[:1], 0x1, seqs, 0x4) == restamp(messages[0], 0x5, seqs[0])
    assert restamp_all([], 0x1, seqs, 0x4) == b""


def test_a_new_helper_name_in_every_entry_does_not_grow_the_templates_without_bound():
    # Helper names are part of a shape, and they come from the peer: one that sends
    # a new name with every entry must not make every entry keep a template.
    templates = Templates(ct_msg)
    client, server = ipaddress.IPv4Address("10.1.1.25"), ipaddress.IPv4Address("198.51.100.25")
    for n in range(3 * MAX_TEMPLATES_PER_SHAPE):
        entry = Entry(
            Tuple(client, server, 6, 1024 + n, 80),
            Tuple(server, client, 6, 80, 1024 + n),
            status=IPS_CONFIRMED,
            timeout=100,
            tcp=TcpInfo(3),
            helper=f"helper{n}",
        )
        got, want = both(templates, ct_msg, socket.AF_INET, CT_NEW, 0, n, create_attrs(entry, 60))
        assert got == want
    held = sum(len(c.templates) for c in templates._compiled.values() if c is not None)
    assert 0 < held <= MAX_TEMPLATES_PER_SHAPE
