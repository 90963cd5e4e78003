"""The unchanged advert: a datagram identical to the last one accepted for its VRID
skips the checks (``Receiver._accepted``). These tests attack that shortcut: any
datagram it must not wave through differs from the accepted one in some octet, or
is an AH datagram, which never takes it."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from routerha.vrrp import ipv4
from routerha.vrrp.drops import DropReason
from tests.wire.test_receive import (
    LOCAL6,
    MCAST4,
    MCAST6,
    PEER,
    PEER6,
    datagram,
    drop_reason,
    drop_reason6,
    receiver,
    receiver6,
    rfc1071,
    sender,
    sent,
    v3_message,
)


def with_ip_id(data: bytes, identification: int) -> bytes:
    """The same datagram with another IPv4 identification (and a header checksum to match)."""
    return datagram(data[20:], src=ipaddress.IPv4Address(data[12:16]), ident=identification)


def test_a_repeated_advert_is_answered_from_the_last_accepted_one() -> None:
    rx = receiver()
    first = rx.receive_ipv4(sent("V3", 200))
    again = rx.receive_ipv4(with_ip_id(sent("V3", 200), 9))
    assert again == first
    assert rx.unchanged == 1


def test_a_sender_stream_is_answered_from_the_shortcut_after_the_first_datagram() -> None:
    rx, peer = receiver(), sender("NONE")
    results = [rx.receive_ipv4(peer.ipv4_datagram(150, MCAST4)) for _ in range(50)]
    assert {r.event.priority for r in results} == {150}
    assert rx.unchanged == 49


def test_the_accepted_advert_sent_unicast_is_checked_again_and_refused() -> None:
    """Same message, another destination: a unicast copy comes from no configured peer."""
    rx = receiver()
    rx.receive_ipv4(sent("NONE"))
    unicast = datagram(sent("NONE")[20:], dst=ipaddress.IPv4Address("10.1.1.1"))
    assert drop_reason(rx, unicast) is DropReason.UNKNOWN_PEER
    assert rx.unchanged == 0


def test_a_forwarded_copy_of_the_accepted_advert_is_dropped_for_its_ttl() -> None:
    """Same octets but the TTL: a copy that crossed a router is not on-link."""
    rx = receiver()
    rx.receive_ipv4(sent("NONE"))
    forwarded = datagram(sent("NONE")[20:], ttl=254)
    assert drop_reason(rx, forwarded) is DropReason.TTL
    assert rx.unchanged == 0


def test_an_accepted_advert_altered_after_its_checksum_is_dropped() -> None:
    rx = receiver()
    good = sent("V3", 200)
    rx.receive_ipv4(good)
    tampered = bytearray(good)
    tampered[22] = 201  # the priority, checksum left as it was
    assert drop_reason(rx, bytes(tampered)) is DropReason.CHECKSUM


def test_an_accepted_advert_from_a_spoofed_local_source_is_dropped() -> None:
    rx = receiver()
    rx.receive_ipv4(sent("NONE"))
    spoofed = sent("NONE", src=ipaddress.IPv4Address("10.1.1.1"))  # this router's address
    assert drop_reason(rx, spoofed) is DropReason.OWN_PACKET


def test_a_replayed_ah_advert_is_still_a_replay() -> None:
    """AH datagrams never take the shortcut: the identical second copy is a replay."""
    rx = receiver()
    signed = sent("AH")
    rx.receive_ipv4(signed)
    assert drop_reason(rx, signed) is DropReason.AUTH_REPLAY
    assert rx.unchanged == 0


def test_a_plaintext_advert_with_another_password_after_a_good_one_is_dropped() -> None:
    rx = receiver()
    rx.receive_ipv4(sent("PLAIN"))
    wrong = bytearray(sent("PLAIN"))
    wrong[-8:] = b"guessed\0"
    # The checksum is fixed up, so only the password check can catch it.
    wrong[26:28] = b"\0\0"
    wrong[26:28] = struct.pack("!H", rfc1071(bytes(wrong[20:])))
    assert drop_reason(rx, bytes(wrong)) is DropReason.AUTH_DATA


def test_a_new_receiver_forgets_what_the_old_one_accepted() -> None:
    """A reload builds a new Receiver: what the old configuration accepted is checked again."""
    old = receiver("NONE", "V3")
    old.receive_ipv4(sent("V3", 200))
    new = receiver("NONE")  # V3's group is gone
    assert drop_reason(new, sent("V3", 200)) is DropReason.VRID


def test_a_datagram_with_ip_options_is_checked_in_full() -> None:
    rx = receiver()
    rx.receive_ipv4(sent("NONE"))
    plain = sent("NONE")
    header = bytearray(plain[:20]) + b"\x01\x01\x01\x00"  # three NOPs and an end of list
    header[0] = 0x46
    header[2:4] = struct.pack("!H", len(plain) + 4)
    result = rx.receive_ipv4(bytes(header) + plain[20:])
    assert result.event.priority == 100
    assert rx.unchanged == 0


@pytest.mark.parametrize(
    ("source", "hop_limit", "reason"),
    [
        (PEER6, 64, DropReason.TTL),
        (LOCAL6, 255, DropReason.OWN_PACKET),
    ],
)
def test_ipv6_the_same_message_in_another_envelope_is_checked_in_full(
    source: ipaddress.IPv6Address, hop_limit: int, reason: DropReason
) -> None:
    rx = receiver6()
    message = v3_message(vrid=5, addresses=("fe80::5", "2001:db8::5"), centiseconds=25, src=PEER6)
    assert rx.receive_ipv6(message, PEER6, MCAST6, 255).event.priority == 100
    assert rx.receive_ipv6(message, PEER6, MCAST6, 255).event.priority == 100
    assert rx.unchanged == 1
    assert drop_reason6(rx, message, src=source, hop_limit=hop_limit) is reason


def test_the_identification_template_matches_a_datagram_built_whole() -> None:
    template = ipv4.build(PEER, MCAST4, v3_message(), identification=0)
    for identification in (1, 2, 0x00FF, 0x7FFF, 0xFFFE, 0xFFFF, *range(1000, 65535, 997)):
        whole = ipv4.build(PEER, MCAST4, v3_message(), identification=identification)
        assert ipv4.with_identification(template, identification) == whole
