"""Receive checks (RFC 3768 / RFC 5798 section 7.1): each failure names its DropReason.

Packets are built either by a peer's ``Sender`` (what a real peer sends) or by hand
from an ``Advertisement`` and ``ipv4.build``, changing one thing at a time. AH
datagrams with odd fields are signed here with hmac/hashlib, independently of
routerha's own ICV code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import struct

import pytest

from routerha.model.load import load_config
from routerha.vrrp import ipv4
from routerha.vrrp.drops import DropReason, PacketError
from routerha.vrrp.events import AdvertReceived
from routerha.vrrp.packet import Advertisement
from routerha.vrrp.receive import AhSequence, Received, Receiver
from routerha.vrrp.send import Sender

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
MCAST4 = V4("224.0.0.18")
MCAST6 = V6("ff02::12")
LOCAL = V4("10.1.1.1")
PEER = V4("10.1.1.2")
LOCAL6 = V6("fe80::1")
PEER6 = V6("fe80::2")

CONFIG = load_config(
    {
        "vrrp": {
            "groups": {
                "NONE": {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]},
                "PLAIN": {
                    "interface": "eth0",
                    "vrid": 2,
                    "address": ["10.1.1.6/24", "10.1.1.16/24"],
                    "advertise_interval": 2,
                    "authentication": {"type": "plaintext-password", "password": "secret"},
                },
                "AH": {
                    "interface": "eth0",
                    "vrid": 3,
                    "address": ["10.1.1.7/24"],
                    "authentication": {"type": "ah", "password": "monkey"},
                },
                "V3": {
                    "interface": "eth0",
                    "vrid": 4,
                    "version": 3,
                    "address": ["10.1.1.8/24"],
                    "advertise_interval": 0.5,
                },
                "V6": {
                    "interface": "eth0",
                    "vrid": 5,
                    "address": ["fe80::5/64", "2001:db8::5/64"],
                    "advertise_interval": 0.25,
                },
                "UNICAST_AH": {
                    "interface": "eth1",
                    "vrid": 8,
                    "address": ["10.2.2.8/24"],
                    "peer_address": ["10.1.1.2"],
                    "authentication": {"type": "ah", "password": "monkey"},
                },
                "PLAIN_ROLL": {
                    "interface": "eth1",
                    "vrid": 6,
                    "address": ["10.2.2.6/24"],
                    "authentication": {
                        "type": "plaintext-password",
                        "password": "oldpass",
                        "accept": ["newpass"],
                    },
                },
                "AH_ROLL": {
                    "interface": "eth1",
                    "vrid": 7,
                    "address": ["10.2.2.7/24"],
                    "authentication": {"type": "ah", "password": "oldpass", "accept": ["newpass"]},
                },
            }
        }
    }
)
IPV4_GROUPS = ("NONE", "PLAIN", "AH", "V3", "UNICAST_AH", "PLAIN_ROLL", "AH_ROLL")


def groups(*names):
    return [CONFIG.groups[n] for n in names]


def receiver(*names, **options):
    return Receiver(groups(*(names or IPV4_GROUPS)), local_addresses=(LOCAL, LOCAL6), **options)


def receiver6(**options):
    return Receiver(groups("V6"), local_addresses=(LOCAL6,), **options)


def sender(name, src=PEER, **options):
    return Sender(CONFIG.groups[name], src, **options)


def sent(name, priority=100, src=PEER, **options):
    """What a peer configured like us sends for group ``name`` (first advert)."""
    return sender(name, src, **options).ipv4_datagram(priority, MCAST4)


def v2_message(vrid=1, priority=100, addresses=("10.1.1.5",), seconds=1, auth_type=0, auth=b""):
    return Advertisement(
        version=2,
        vrid=vrid,
        priority=priority,
        addresses=tuple(V4(a) for a in addresses),
        max_advert_interval=seconds * 100,
        auth_type=auth_type,
        auth_data=auth.ljust(8, b"\0"),
    ).encode()


def v3_message(vrid=4, priority=100, addresses=("10.1.1.8",), centiseconds=50, src=PEER):
    dst = MCAST6 if src.version == 6 else MCAST4
    return Advertisement(
        version=3,
        vrid=vrid,
        priority=priority,
        addresses=tuple(ipaddress.ip_address(a) for a in addresses),
        max_advert_interval=centiseconds,
    ).encode(src, dst)


def datagram(message, src=PEER, ttl=255, ah_password=None, sequence=1, dst=MCAST4, ident=7):
    return ipv4.build(
        src,
        dst,
        message,
        identification=ident,
        ah_password=ah_password,
        ah_sequence=sequence,
        ttl=ttl,
        unicast=not dst.is_multicast,
    )


def resign_ah(data, password, *, spi=None, sequence=None):
    """Rewrite an AH datagram's SPI / sequence and sign it again (RFC 2402, keepalived style)."""
    data = bytearray(data)
    if spi is not None:
        data[24:28] = spi
    if sequence is not None:
        data[28:32] = struct.pack("!I", sequence)
    data[32:44] = bytes(12)
    hashed = bytearray(data)
    hashed[1] = 0  # TOS
    hashed[6:8] = b"\0\0"  # flags, fragment offset
    hashed[10:12] = b"\0\0"  # header checksum
    key = password.encode().ljust(8, b"\0")
    data[32:44] = hmac.new(key, bytes(hashed), hashlib.md5).digest()[:12]
    return bytes(data)


def wrap_in_ah(data, password, sequence=1):
    """An IPv4 datagram without AH, rewrapped in an AH header (protocol 51)."""
    header, message = bytearray(data[:20]), data[20:]
    ah = bytes([112, 4, 0, 0]) + header[12:16] + struct.pack("!I", sequence) + bytes(12)
    header[2:4] = struct.pack("!H", 20 + len(ah) + len(message))
    header[9] = 51
    header[10:12] = b"\0\0"
    signed = bytearray(resign_ah(bytes(header) + ah + message, password))
    signed[10:12] = struct.pack("!H", rfc1071(bytes(signed[:20])))
    return bytes(signed)


def rfc1071(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def drop_reason(rx, data, **options):
    with pytest.raises(PacketError) as caught:
        rx.receive_ipv4(data, **options)
    return caught.value.reason


def drop_reason6(rx, payload, src=PEER6, dst=MCAST6, hop_limit=255):
    with pytest.raises(PacketError) as caught:
        rx.receive_ipv6(payload, src, dst, hop_limit)
    return caught.value.reason


def peer_group(name, password):
    """Group ``name`` as a peer has it that sends with ``password``."""
    group = CONFIG.groups[name]
    assert group.authentication is not None
    auth = dataclasses.replace(group.authentication, password=password, accept=())
    return dataclasses.replace(group, authentication=auth)


def corrupt_checksum(message):
    return message[:6] + bytes([message[6] ^ 0xFF, message[7]]) + message[8:]


# Envelope: TTL, version, type, length ------------------------------------------


def test_ttl_254_is_dropped_as_ttl():
    assert drop_reason(receiver(), datagram(v2_message(), ttl=254)) is DropReason.TTL


def test_ipv6_hop_limit_254_is_dropped_as_ttl():
    message = v3_message(5, addresses=("fe80::5", "2001:db8::5"), centiseconds=25, src=PEER6)
    assert drop_reason6(receiver6(), message, hop_limit=254) is DropReason.TTL


@pytest.mark.parametrize("version", [0, 1, 4, 15])
def test_unknown_version_is_dropped_as_version(version):
    message = bytearray(v2_message())
    message[0] = (version << 4) | 1
    assert drop_reason(receiver(), datagram(bytes(message))) is DropReason.VERSION


def test_v2_message_over_ipv6_is_dropped_as_version():
    message = v2_message(5)
    assert drop_reason6(receiver6(), message) is DropReason.VERSION


@pytest.mark.parametrize("kind", [0, 3, 15])
def test_type_other_than_advertisement_is_dropped_as_type(kind):
    message = bytearray(v2_message())
    message[0] = 0x20 | kind
    assert drop_reason(receiver(), datagram(bytes(message))) is DropReason.TYPE


def test_type_2_is_dropped_as_type():
    message = Advertisement(
        version=2,
        vrid=1,
        priority=100,
        addresses=(V4("10.1.1.5"),),
        max_advert_interval=100,
        auth_data=bytes(8),
        type=2,
    ).encode()
    assert drop_reason(receiver(), datagram(message)) is DropReason.TYPE


@pytest.mark.parametrize("count", [0, 2, 255])
def test_address_count_mismatch_is_dropped_as_length(count):
    message = bytearray(v2_message())
    message[3] = count
    assert drop_reason(receiver(), datagram(bytes(message))) is DropReason.LENGTH


def test_trailing_octet_is_dropped_as_length():
    assert drop_reason(receiver(), datagram(v2_message() + b"\0")) is DropReason.LENGTH


def test_ipv4_total_length_mismatch_is_dropped_as_length():
    data = bytearray(sent("NONE"))
    data[2:4] = struct.pack("!H", len(data) + 4)
    assert drop_reason(receiver(), bytes(data)) is DropReason.LENGTH


def test_ipv6_address_count_mismatch_is_dropped_as_length():
    message = bytearray(v3_message(5, addresses=("fe80::5", "2001:db8::5"), src=PEER6))
    message[3] = 1
    assert drop_reason6(receiver6(), bytes(message)) is DropReason.LENGTH


# Checksum -----------------------------------------------------------------------


def test_bad_v2_checksum_is_dropped_as_checksum():
    assert drop_reason(receiver(), datagram(corrupt_checksum(v2_message()))) is (
        DropReason.CHECKSUM
    )


def test_bad_v3_ipv4_checksum_is_dropped_as_checksum():
    message = corrupt_checksum(v3_message())
    assert drop_reason(receiver(), datagram(message)) is DropReason.CHECKSUM


def test_bad_v3_ipv6_checksum_is_dropped_as_checksum():
    message = v3_message(5, addresses=("fe80::5", "2001:db8::5"), centiseconds=25, src=PEER6)
    assert drop_reason6(receiver6(), corrupt_checksum(message)) is DropReason.CHECKSUM


def test_v3_ipv4_checksum_for_another_destination_is_dropped_as_checksum():
    message = Advertisement(
        version=3, vrid=4, priority=100, addresses=(V4("10.1.1.8"),), max_advert_interval=50
    ).encode(PEER, V4("10.1.1.1"))
    assert drop_reason(receiver(), datagram(message)) is DropReason.CHECKSUM


def test_v3_receiver_without_pseudo_header_accepts_only_v2_style_checksum():
    rx = receiver(pseudo_header_checksum=False)
    plain = sent("V3", pseudo_header_checksum=False)
    assert rx.receive_ipv4(plain).group == "V3"
    assert drop_reason(rx, sent("V3")) is DropReason.CHECKSUM


def test_v3_receiver_with_pseudo_header_drops_v2_style_checksum():
    assert drop_reason(receiver(), sent("V3", pseudo_header_checksum=False)) is (
        DropReason.CHECKSUM
    )


def test_ipv6_always_sums_pseudo_header_even_if_receiver_says_not():
    message = sender("V6", PEER6).message(100, MCAST6)
    received = receiver6(pseudo_header_checksum=False).receive_ipv6(message, PEER6, MCAST6, 255)
    assert received.group == "V6"


# VRID and group version --------------------------------------------------------


def test_unconfigured_vrid_is_dropped_as_vrid():
    assert drop_reason(receiver(), datagram(v2_message(vrid=99))) is DropReason.VRID


def test_unconfigured_vrid_over_ipv6_is_dropped_as_vrid():
    message = v3_message(99, addresses=("fe80::5",), src=PEER6)
    assert drop_reason6(receiver6(), message) is DropReason.VRID


def test_v3_packet_for_v2_group_is_dropped_as_version():
    message = v3_message(vrid=1, addresses=("10.1.1.5",), centiseconds=100)
    assert drop_reason(receiver(), datagram(message)) is DropReason.VERSION


def test_v2_packet_for_v3_group_is_dropped_as_version():
    message = v2_message(vrid=4, addresses=("10.1.1.8",))
    assert drop_reason(receiver(), datagram(message)) is DropReason.VERSION


# Authentication type -----------------------------------------------------------


def test_no_auth_packet_for_plaintext_group_is_dropped_as_auth_type():
    message = v2_message(2, addresses=("10.1.1.6", "10.1.1.16"), seconds=2)
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_TYPE


def test_plaintext_packet_for_no_auth_group_is_dropped_as_auth_type():
    message = v2_message(auth_type=1, auth=b"secret")
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_TYPE


def test_plaintext_packet_for_ah_group_is_dropped_as_auth_type():
    message = v2_message(3, addresses=("10.1.1.7",), auth_type=1, auth=b"monkey")
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_TYPE


def test_ah_packet_for_plaintext_group_is_dropped_as_auth_type():
    message = v2_message(2, addresses=("10.1.1.6", "10.1.1.16"), seconds=2, auth_type=2)
    data = datagram(message, ah_password="secret")
    assert drop_reason(receiver(), data) is DropReason.AUTH_TYPE


def test_ah_auth_type_without_ah_header_for_ah_group_is_dropped_as_auth_type():
    message = v2_message(3, addresses=("10.1.1.7",), auth_type=2)
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_TYPE


def test_ah_header_on_no_auth_v2_group_is_dropped_as_auth_type():
    data = wrap_in_ah(sent("NONE"), "monkey")
    assert ipv4.parse(data).ah is not None
    assert drop_reason(receiver(), data) is DropReason.AUTH_TYPE


def test_ah_header_on_no_auth_v2_group_with_ah_auth_type_is_dropped_as_auth_type():
    message = v2_message(auth_type=2)
    assert drop_reason(receiver(), datagram(message, ah_password="monkey")) is (
        DropReason.AUTH_TYPE
    )


def test_ah_header_on_v3_group_is_dropped_as_auth_type():
    # VRRPv3 has no authentication: protocol 51 around it is not a VRRPv3 packet
    # (RFC 5798 5.1.1.4), and keepalived drops it ("Received AH header but auth type not AH").
    data = wrap_in_ah(sent("V3"), "monkey")
    assert ipv4.parse(data).ah is not None
    assert drop_reason(receiver(), data) is DropReason.AUTH_TYPE


# Authentication data -----------------------------------------------------------


def test_wrong_password_is_dropped_as_auth_data():
    message = v2_message(
        2, addresses=("10.1.1.6", "10.1.1.16"), seconds=2, auth_type=1, auth=b"wrong"
    )
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_DATA


def test_password_padded_with_nonzero_octets_is_dropped_as_auth_data():
    message = v2_message(
        2, addresses=("10.1.1.6", "10.1.1.16"), seconds=2, auth_type=1, auth=b"secret\0x"
    )
    assert drop_reason(receiver(), datagram(message)) is DropReason.AUTH_DATA


def test_right_password_is_accepted():
    message = v2_message(
        2, addresses=("10.1.1.6", "10.1.1.16"), seconds=2, auth_type=1, auth=b"secret"
    )
    assert receiver().receive_ipv4(datagram(message)).group == "PLAIN"


def test_wrong_ah_key_is_dropped_as_auth_data():
    message = v2_message(3, addresses=("10.1.1.7",), auth_type=2)
    assert drop_reason(receiver(), datagram(message, ah_password="donkey")) is (
        DropReason.AUTH_DATA
    )


def test_tampered_ah_datagram_is_dropped_as_auth_data():
    # The ICV of a priority-100 advert, on a priority-200 message (checksum right).
    tampered = v2_message(3, priority=200, addresses=("10.1.1.7",), auth_type=2)
    data = sent("AH", priority=100)[:44] + tampered
    assert drop_reason(receiver(), data) is DropReason.AUTH_DATA


def test_ah_spi_not_the_source_is_dropped_as_auth_data():
    data = resign_ah(sent("AH"), "monkey", spi=V4("10.1.1.99").packed)
    assert ipv4.parse(data).icv_ok(ipv4.ah_key("monkey"))
    assert drop_reason(receiver(), data) is DropReason.AUTH_DATA


def test_resigned_ah_datagram_with_source_spi_is_accepted():
    # The control for the SPI test: the same re-signing, SPI left alone, passes.
    data = resign_ah(sent("AH"), "monkey", sequence=9)
    assert receiver().receive_ipv4(data).group == "AH"


def test_ah_reserved_field_tampered_after_signing_is_dropped_as_auth_data():
    # RFC 2402 section 2.3 / RFC 4302 section 2.3: the reserved field "is included in
    # the [ICV] calculation"; keepalived hashes the AH header as received.
    data = bytearray(resign_ah(sent("AH"), "monkey", sequence=5))
    data[22:24] = b"\xff\xff"
    assert drop_reason(receiver(), bytes(data)) is DropReason.AUTH_DATA


def test_ah_reserved_field_as_sent_is_covered_by_the_icv():
    # Signed over a non-zero reserved field (as a sender may, RFC 4302 says ignore it
    # otherwise): the ICV over the bytes as received verifies.
    data = bytearray(sent("AH"))
    data[22:24] = b"\x12\x34"
    signed = resign_ah(bytes(data), "monkey", sequence=5)
    assert receiver().receive_ipv4(signed).group == "AH"


# Replay ------------------------------------------------------------------------


def test_replayed_ah_sequence_is_dropped_as_auth_replay():
    rx = receiver()
    data = resign_ah(sent("AH"), "monkey", sequence=5)
    assert rx.receive_ipv4(data).group == "AH"
    assert drop_reason(rx, data) is DropReason.AUTH_REPLAY


def test_lower_ah_sequence_is_dropped_as_auth_replay():
    rx = receiver()
    assert rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=5)).group == "AH"
    assert drop_reason(rx, resign_ah(sent("AH"), "monkey", sequence=4)) is DropReason.AUTH_REPLAY
    assert rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=6)).group == "AH"


def test_ah_sequence_zero_on_fresh_receiver_is_dropped_as_auth_replay():
    data = resign_ah(sent("AH"), "monkey", sequence=0)
    assert drop_reason(receiver(), data) is DropReason.AUTH_REPLAY


# Interval and address list -----------------------------------------------------


def test_v2_interval_mismatch_is_dropped_as_interval():
    assert drop_reason(receiver(), datagram(v2_message(seconds=2))) is DropReason.INTERVAL


@pytest.mark.parametrize("seconds", [1, 3])
def test_v2_interval_shorter_or_longer_than_configured_is_dropped(seconds):
    # PLAIN advertises every 2 s: a peer at 1 s is as misconfigured as one at 3 s
    # (RFC 3768 section 7.1 says "the same", not "at most").
    def plain(seconds):
        message = v2_message(
            vrid=2,
            addresses=("10.1.1.6", "10.1.1.16"),
            seconds=seconds,
            auth_type=1,
            auth=b"secret",
        )
        return datagram(message)

    assert receiver().receive_ipv4(plain(2)).group == "PLAIN"  # the same interval passes
    assert drop_reason(receiver(), plain(seconds)) is DropReason.INTERVAL


def test_v3_interval_is_learned_not_checked():
    received = receiver().receive_ipv4(datagram(v3_message(centiseconds=300)))
    assert received.event.max_advert_interval == 300


def test_address_list_mismatch_below_255_is_dropped_as_address_list():
    message = v2_message(priority=254, addresses=("10.1.1.99",))
    assert drop_reason(receiver(), datagram(message)) is DropReason.ADDRESS_LIST


def test_missing_address_below_255_is_dropped_as_address_list():
    message = v2_message(2, addresses=("10.1.1.6",), seconds=2, auth_type=1, auth=b"secret")
    assert drop_reason(receiver(), datagram(message)) is DropReason.ADDRESS_LIST


def test_address_list_mismatch_from_owner_255_is_accepted_and_flagged():
    message = v2_message(priority=255, addresses=("10.1.1.99",))
    received = receiver().receive_ipv4(datagram(message))
    assert received.address_mismatch is True
    assert received.event == AdvertReceived(PEER, 255, 100)


def test_address_list_in_another_order_is_no_mismatch():
    message = v2_message(
        2, addresses=("10.1.1.16", "10.1.1.6"), seconds=2, auth_type=1, auth=b"secret"
    )
    received = receiver().receive_ipv4(datagram(message))
    assert received.address_mismatch is False


def test_ipv6_address_list_mismatch_below_255_is_dropped_as_address_list():
    message = v3_message(5, addresses=("fe80::5",), centiseconds=25, src=PEER6)
    assert drop_reason6(receiver6(), message) is DropReason.ADDRESS_LIST


# Groups with peers (RFC 9568 section 5): only peers; unicast with any TTL -------


def unicast_ah_message(priority=100):
    return v2_message(8, priority=priority, addresses=("10.2.2.8",), auth_type=2)


def test_unicast_from_configured_peer_with_ttl_64_is_accepted():
    data = datagram(unicast_ah_message(), ttl=64, dst=LOCAL, ah_password="monkey")
    received = receiver().receive_ipv4(data)
    assert received.event == AdvertReceived(PEER, 100, 100)


def test_unicast_from_unknown_peer_is_dropped_as_unknown_peer():
    data = datagram(unicast_ah_message(), src=V4("10.1.1.3"), dst=LOCAL, ah_password="monkey")
    assert drop_reason(receiver(), data) is DropReason.UNKNOWN_PEER


def test_unicast_ah_signed_with_multicast_rules_is_dropped_as_auth_data():
    # Unicast ICVs hash TTL 0 (keepalived); one hashing TTL 255 does not verify.
    message = unicast_ah_message()
    data = ipv4.build(PEER, LOCAL, message, identification=7, ah_password="monkey", ah_sequence=1)
    assert drop_reason(receiver(), data) is DropReason.AUTH_DATA


def test_multicast_from_non_peer_for_group_with_peers_is_dropped_as_unknown_peer():
    data = datagram(unicast_ah_message(), src=V4("10.1.1.3"), ah_password="monkey")
    assert drop_reason(receiver(), data) is DropReason.UNKNOWN_PEER


def test_multicast_from_configured_peer_is_accepted():
    received = receiver().receive_ipv4(datagram(unicast_ah_message(), ah_password="monkey"))
    assert received.group == "UNICAST_AH"


def test_multicast_from_configured_peer_still_needs_ttl_255():
    data = datagram(unicast_ah_message(), ttl=64, ah_password="monkey")
    assert drop_reason(receiver(), data) is DropReason.TTL


# Own packets and good packets ---------------------------------------------------


def test_own_source_address_is_dropped_as_own_packet():
    assert drop_reason(receiver(), sent("NONE", src=LOCAL)) is DropReason.OWN_PACKET


def test_own_ipv6_source_address_is_dropped_as_own_packet():
    message = sender("V6", LOCAL6).message(100, MCAST6)
    assert drop_reason6(receiver6(), message, src=LOCAL6) is DropReason.OWN_PACKET


@pytest.mark.parametrize(
    ("name", "priority", "centiseconds"),
    [
        ("NONE", 100, 100),
        ("PLAIN", 200, 200),
        ("AH", 1, 100),
        ("V3", 254, 50),
        ("PLAIN_ROLL", 0, 100),
        ("AH_ROLL", 255, 100),
    ],
)
def test_good_ipv4_packet_returns_received_with_advert_received(name, priority, centiseconds):
    received = receiver().receive_ipv4(sent(name, priority=priority))
    assert isinstance(received, Received)
    assert received.group == name
    assert received.event == AdvertReceived(PEER, priority, centiseconds)
    assert received.advert.vrid == CONFIG.groups[name].vrid
    assert received.address_mismatch is False


def test_good_ipv6_packet_returns_received_with_advert_received():
    message = sender("V6", PEER6).message(150, MCAST6)
    received = receiver6().receive_ipv6(message, PEER6, MCAST6, 255)
    assert received == Received(
        "V6",
        AdvertReceived(PEER6, 150, 25),
        received.advert,
        address_mismatch=False,
    )
    assert received.advert.addresses == (V6("fe80::5"), V6("2001:db8::5"))


# Password change without a flap -------------------------------------------------


@pytest.mark.parametrize("name", ["PLAIN_ROLL", "AH_ROLL"])
def test_accept_password_and_sending_password_are_both_accepted(name):
    rx = receiver()
    sequence = AhSequence()
    for password in ("newpass", "oldpass", "newpass"):
        data = Sender(peer_group(name, password), PEER, sequence=sequence).ipv4_datagram(
            100, MCAST4
        )
        assert rx.receive_ipv4(data).group == name


@pytest.mark.parametrize("name", ["PLAIN_ROLL", "AH_ROLL"])
def test_password_neither_sent_nor_accepted_is_dropped_as_auth_data(name):
    data = Sender(peer_group(name, "other"), PEER).ipv4_datagram(100, MCAST4)
    assert drop_reason(receiver(), data) is DropReason.AUTH_DATA


# The AH sequence shared by sending and receiving --------------------------------


def test_after_receiving_sequence_n_the_next_sent_sequence_is_n_plus_1():
    sequences = {}
    rx = Receiver(groups("AH"), local_addresses=(LOCAL,), sequences=sequences)
    ours = Sender(CONFIG.groups["AH"], LOCAL, sequence=sequences["AH"])
    rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=41))
    ah = ipv4.parse(ours.ipv4_datagram(100, MCAST4)).ah
    assert ah is not None
    assert ah.sequence == 42


def test_after_sending_sequence_n_a_peer_must_send_above_n():
    sequences = {"AH": AhSequence()}
    ours = Sender(CONFIG.groups["AH"], LOCAL, sequence=sequences["AH"])
    for _ in range(10):
        ours.ipv4_datagram(100, MCAST4)
    rx = Receiver(groups("AH"), local_addresses=(LOCAL,), sequences=sequences)
    assert drop_reason(rx, resign_ah(sent("AH"), "monkey", sequence=10)) is DropReason.AUTH_REPLAY
    assert rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=11)).group == "AH"


# Hostile adverts ----------------------------------------------------------------


def test_hostile_priority_255_with_bad_password_is_dropped_as_auth_data():
    rx = receiver()
    hostile = v2_message(
        2, priority=255, addresses=("10.9.9.9",), seconds=2, auth_type=1, auth=b"guess"
    )
    assert drop_reason(rx, datagram(hostile, src=V4("10.1.1.66"))) is DropReason.AUTH_DATA
    assert rx.receive_ipv4(sent("PLAIN")).event == AdvertReceived(PEER, 100, 200)


def test_hostile_priority_255_with_bad_ah_key_changes_nothing():
    rx = receiver()
    check = rx.by_vrid[3]
    assert rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=5)).group == "AH"
    hostile = v2_message(3, priority=255, addresses=("10.9.9.9",), auth_type=2)
    data = datagram(hostile, src=V4("10.1.1.66"), ah_password="guess", sequence=0xFFFFFFFF)
    assert drop_reason(rx, data) is DropReason.AUTH_DATA
    assert check.sequence.value == 5
    assert rx.receive_ipv4(resign_ah(sent("AH"), "monkey", sequence=6)).group == "AH"
