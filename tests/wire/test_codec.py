"""VRRP messages byte for byte: hand-computed vectors, and what the encoder refuses.

Every expected message below is written out in hex with its checksum; the checksum
is checked again with a small RFC 1071 sum written here (not routerha's), so a wrong
vector cannot hide behind a wrong implementation. The VRRPv2 AH vector is a real
keepalived packet (the JtR ``net_ah`` test vector, see /work/research/ah-notes.md).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct

import pytest

from routerha.errors import ConfigError
from routerha.model.load import load_config
from routerha.vrrp import ipv4, packet, receive
from routerha.vrrp.packet import Advertisement
from routerha.vrrp.send import Sender

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
MCAST4 = V4("224.0.0.18")
MCAST6 = V6("ff02::12")


def rfc1071(data):
    """The Internet checksum, written out independently of routerha.vrrp.checksum."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def zero_checksum(message):
    return message[:6] + b"\0\0" + message[8:]


def checksum_field(message):
    return struct.unpack_from("!H", message, 6)[0]


def ipv4_pseudo_header(src, dst, length):
    return src.packed + dst.packed + bytes([0, 112]) + length.to_bytes(2, "big")


def ipv6_pseudo_header(src, dst, length):
    return src.packed + dst.packed + length.to_bytes(4, "big") + bytes([0, 0, 0, 112])


def v2(vrid=1, priority=100, addresses=("10.1.1.5",), seconds=1, auth_type=0, auth_data=b""):
    return Advertisement(
        version=2,
        vrid=vrid,
        priority=priority,
        addresses=tuple(V4(a) for a in addresses),
        max_advert_interval=seconds * 100,
        auth_type=auth_type,
        auth_data=auth_data.ljust(8, b"\0"),
    )


def v3(vrid=10, priority=100, addresses=("10.0.0.1",), centiseconds=100):
    return Advertisement(
        version=3,
        vrid=vrid,
        priority=priority,
        addresses=tuple(ipaddress.ip_address(a) for a in addresses),
        max_advert_interval=centiseconds,
    )


def group_config(**lan):
    base = {"interface": "eth0", "vrid": 1, "address": ["10.1.1.5/24"]}
    return {"vrrp": {"groups": {"LAN": {**base, **lan}}}}


# The vectors ---------------------------------------------------------------------

V2_NONE = bytes.fromhex(
    "21 01 64 01"  # v2 advert, VRID 1, priority 100, 1 address
    "00 01 6f f6"  # auth none, 1 s, checksum
    "0a 01 01 05"  # 10.1.1.5
    "00 00 00 00 00 00 00 00"  # auth data
)
V2_SIMPLE = bytes.fromhex(
    "21 02 c8 02"  # v2 advert, VRID 2, priority 200, 2 addresses
    "01 03 56 57"  # auth simple, 3 s, checksum
    "c0 a8 01 01 c0 a8 01 02"  # 192.168.1.1, 192.168.1.2
    "73 65 63 72 65 74 00 00"  # "secret", zero padded
)
V3_V4_SRC, V3_V4_DST = V4("10.0.0.2"), MCAST4
V3_V4 = bytes.fromhex(
    "31 0a 64 01"  # v3 advert, VRID 10, priority 100, 1 address
    "00 64 75 fe"  # 100 cs, checksum with the pseudo-header
    "0a 00 00 01"  # 10.0.0.1
)
V3_V4_NO_PSEUDO = bytes.fromhex("31 0a 64 01 00 64 60 8f 0a 00 00 01")
V3_V6_SRC, V3_V6_DST = V6("fe80::1"), MCAST6
V3_V6 = bytes.fromhex(
    "31 0a c8 02"  # v3 advert, VRID 10, priority 200, 2 addresses
    "00 fa db 6f"  # 250 cs, checksum with the IPv6 pseudo-header
    "fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 10"  # fe80::10
    "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10"  # 2001:db8::10
)

# keepalived VRRPv2 + AH: 192.168.124.1 -> 224.0.0.18, IP id 0x15, AH seq 0x15, "monkey".
KEEPALIVED_AH_VRRP = bytes.fromhex("2133650102016c3e0a00018c0000000000000000")
KEEPALIVED_AH_ICV = bytes.fromhex("ad719a912d50a53935d9ad41")
KEEPALIVED_AH_DATAGRAM = bytes.fromhex(
    "45 c0 00 40 00 15 00 00 ff 33 9d f9 c0 a8 7c 01 e0 00 00 12"  # IPv4, TOS 0xc0, TTL 255, AH
    "70 04 00 00 c0 a8 7c 01 00 00 00 15"  # AH: next 112, len 4, SPI = source, seq 0x15
    "ad 71 9a 91 2d 50 a5 39 35 d9 ad 41"  # ICV
    "21 33 65 01 02 01 6c 3e 0a 00 01 8c 00 00 00 00 00 00 00 00"  # the VRRP message
)
# The HMAC input as the JtR vector gives it: TOS and header checksum zeroed, ICV zeroed.
KEEPALIVED_AH_HMAC_INPUT = bytes.fromhex(
    "4500004000150000ff330000c0a87c01e0000012"
    "70040000c0a87c0100000015000000000000000000000000"
    "2133650102016c3e0a00018c0000000000000000"
)
KEEPALIVED_AH_ADVERT = v2(
    vrid=51, priority=101, addresses=("10.0.1.140",), seconds=1, auth_type=2, auth_data=b""
)


# The vectors are right (checked with this module's own sum) ---------------------


@pytest.mark.parametrize(
    ("message", "prefix"),
    [
        (V2_NONE, b""),
        (V2_SIMPLE, b""),
        (KEEPALIVED_AH_VRRP, b""),
        (V3_V4, ipv4_pseudo_header(V3_V4_SRC, V3_V4_DST, len(V3_V4))),
        (V3_V4_NO_PSEUDO, b""),
        (V3_V6, ipv6_pseudo_header(V3_V6_SRC, V3_V6_DST, len(V3_V6))),
    ],
    ids=["v2-none", "v2-simple", "v2-ah", "v3-ipv4", "v3-ipv4-no-pseudo", "v3-ipv6"],
)
def test_vector_checksums_verified_by_independent_rfc1071(message, prefix):
    assert checksum_field(message) == rfc1071(prefix + zero_checksum(message))
    assert rfc1071(prefix + message) == 0


def test_keepalived_ah_vector_icv_is_hmac_md5_96_of_the_documented_input():
    icv = hmac.new(b"monkey", KEEPALIVED_AH_HMAC_INPUT, hashlib.md5).digest()[:12]
    assert icv == KEEPALIVED_AH_ICV
    padded = hmac.new(b"monkey\0\0", KEEPALIVED_AH_HMAC_INPUT, hashlib.md5).digest()[:12]
    assert padded == KEEPALIVED_AH_ICV
    assert KEEPALIVED_AH_DATAGRAM[32:44] == KEEPALIVED_AH_ICV
    assert KEEPALIVED_AH_DATAGRAM[44:] == KEEPALIVED_AH_VRRP
    assert rfc1071(KEEPALIVED_AH_DATAGRAM[:20]) == 0


# Encoding is byte-exact ------------------------------------------------------------


def test_encode_v2_no_auth_is_byte_exact():
    assert v2().encode() == V2_NONE


def test_encode_v2_simple_password_is_zero_padded_and_byte_exact():
    advert = v2(
        vrid=2,
        priority=200,
        addresses=("192.168.1.1", "192.168.1.2"),
        seconds=3,
        auth_type=1,
        auth_data=receive.password_octets("secret"),
    )
    assert receive.password_octets("secret") == b"secret\0\0"
    assert advert.encode() == V2_SIMPLE


def test_encode_v2_ah_message_matches_keepalived():
    assert KEEPALIVED_AH_ADVERT.encode() == KEEPALIVED_AH_VRRP


def test_encode_v2_ah_datagram_matches_keepalived_byte_for_byte():
    datagram = ipv4.build(
        V4("192.168.124.1"),
        MCAST4,
        KEEPALIVED_AH_ADVERT.encode(),
        identification=0x15,
        ah_password="monkey",
        ah_sequence=0x15,
    )
    assert datagram[32:44] == KEEPALIVED_AH_ICV
    assert datagram[44:] == KEEPALIVED_AH_VRRP
    assert datagram == KEEPALIVED_AH_DATAGRAM


def test_sender_21st_ah_advert_matches_keepalived_capture():
    # keepalived starts IP id and AH sequence at 1 and advances both per advert.
    config = load_config(
        group_config(
            vrid=51,
            address=["10.0.1.140/24"],
            authentication={"type": "ah", "password": "monkey"},
        )
    )
    sender = Sender(config.groups["LAN"], V4("192.168.124.1"))
    for _ in range(0x14):
        sender.ipv4_datagram(101, MCAST4)
    assert sender.ipv4_datagram(101, MCAST4) == KEEPALIVED_AH_DATAGRAM


def test_sender_ipv4_identification_counts_from_1_and_skips_0_on_wrap():
    sender = Sender(load_config(group_config()).groups["LAN"], V4("10.1.1.2"))
    ids = [
        struct.unpack_from("!H", sender.ipv4_datagram(100, MCAST4), 4)[0] for _ in range(0xFFFF + 2)
    ]
    assert ids[:3] == [1, 2, 3]
    assert ids[0xFFFE:] == [0xFFFF, 1, 2]
    assert 0 not in ids


def test_keepalived_ah_datagram_parses_and_its_icv_verifies():
    datagram = ipv4.parse(KEEPALIVED_AH_DATAGRAM)
    assert datagram.ah is not None
    assert datagram.ah.spi == V4("192.168.124.1").packed
    assert datagram.ah.sequence == 0x15
    assert datagram.ah.icv == KEEPALIVED_AH_ICV
    assert datagram.payload == KEEPALIVED_AH_VRRP
    assert datagram.icv_ok(ipv4.ah_key("monkey"))
    assert not datagram.icv_ok(ipv4.ah_key("monkeys"))
    assert packet.decode(datagram.payload) == KEEPALIVED_AH_ADVERT


def test_encode_v3_ipv4_with_pseudo_header_is_byte_exact():
    assert v3().encode(V3_V4_SRC, V3_V4_DST) == V3_V4


def test_encode_v3_ipv4_without_pseudo_header_is_byte_exact():
    advert = v3()
    assert advert.encode(V3_V4_SRC, V3_V4_DST, pseudo_header_checksum=False) == V3_V4_NO_PSEUDO
    assert advert.encode(pseudo_header_checksum=False) == V3_V4_NO_PSEUDO


def test_encode_v3_ipv6_with_two_addresses_is_byte_exact():
    advert = v3(priority=200, addresses=("fe80::10", "2001:db8::10"), centiseconds=250)
    assert advert.encode(V3_V6_SRC, V3_V6_DST) == V3_V6


def test_encode_v3_largest_interval_fills_twelve_bits():
    message = v3(centiseconds=0x0FFF).encode(V3_V4_SRC, V3_V4_DST)
    assert message[4:6] == b"\x0f\xff"


def test_encode_255_addresses_roundtrips():
    addresses = tuple(str(V4("10.0.0.0") + i) for i in range(255))
    advert = v2(addresses=addresses)
    message = advert.encode()
    assert len(message) == 8 + 255 * 4 + 8
    assert message[3] == 255
    assert packet.decode(message) == advert


# Decoding gives the Advertisement back --------------------------------------------


@pytest.mark.parametrize(
    ("message", "ipv6", "expected"),
    [
        (V2_NONE, False, v2()),
        (
            V2_SIMPLE,
            False,
            v2(
                vrid=2,
                priority=200,
                addresses=("192.168.1.1", "192.168.1.2"),
                seconds=3,
                auth_type=1,
                auth_data=b"secret",
            ),
        ),
        (KEEPALIVED_AH_VRRP, False, KEEPALIVED_AH_ADVERT),
        (V3_V4, False, v3()),
        (V3_V4_NO_PSEUDO, False, v3()),
        (V3_V6, True, v3(priority=200, addresses=("fe80::10", "2001:db8::10"), centiseconds=250)),
    ],
    ids=["v2-none", "v2-simple", "v2-ah", "v3-ipv4", "v3-ipv4-no-pseudo", "v3-ipv6"],
)
def test_decode_of_each_vector_gives_equal_advertisement(message, ipv6, expected):
    assert packet.decode(message, ipv6=ipv6) == expected


def test_checksum_ok_accepts_each_vector_in_its_mode():
    assert packet.checksum_ok(V2_NONE)
    assert packet.checksum_ok(V2_SIMPLE)
    assert packet.checksum_ok(KEEPALIVED_AH_VRRP)
    assert packet.checksum_ok(V3_V4, V3_V4_SRC, V3_V4_DST)
    assert not packet.checksum_ok(V3_V4, V3_V4_SRC, V3_V4_DST, pseudo_header_checksum=False)
    assert packet.checksum_ok(V3_V4_NO_PSEUDO, V3_V4_SRC, V3_V4_DST, pseudo_header_checksum=False)
    assert not packet.checksum_ok(V3_V4_NO_PSEUDO, V3_V4_SRC, V3_V4_DST)
    assert packet.checksum_ok(V3_V6, V3_V6_SRC, V3_V6_DST)
    # IPv6 always sums the pseudo-header, whatever the caller asks.
    assert packet.checksum_ok(V3_V6, V3_V6_SRC, V3_V6_DST, pseudo_header_checksum=False)


def test_v3_checksum_covers_the_destination_address():
    assert not packet.checksum_ok(V3_V4, V3_V4_SRC, V4("10.0.0.3"))
    assert not packet.checksum_ok(V3_V6, V3_V6_SRC, V6("ff02::13"))


# Invalid advertisements are refused ------------------------------------------------


def build_and_encode(**fields):
    """Construct and encode, so a refusal at either step counts."""
    return Advertisement(**fields).encode(V4("10.0.0.2"), MCAST4)


V2_OK = {
    "version": 2,
    "vrid": 1,
    "priority": 100,
    "addresses": (V4("10.0.0.1"),),
    "max_advert_interval": 100,
    "auth_type": 0,
    "auth_data": bytes(8),
}
V3_OK = {
    "version": 3,
    "vrid": 1,
    "priority": 100,
    "addresses": (V4("10.0.0.1"),),
    "max_advert_interval": 100,
}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({**V2_OK, "addresses": (V6("2001:db8::1"),)}, id="v2-ipv6-address"),
        pytest.param({**V3_OK, "auth_type": 1}, id="v3-auth-type"),
        pytest.param({**V3_OK, "auth_data": b"secret\0\0"}, id="v3-auth-data"),
        pytest.param({**V2_OK, "max_advert_interval": 25600}, id="v2-interval-256s"),
        pytest.param({**V2_OK, "max_advert_interval": 150}, id="v2-interval-not-whole-seconds"),
        pytest.param({**V2_OK, "max_advert_interval": -100}, id="v2-interval-negative"),
        pytest.param({**V3_OK, "max_advert_interval": 4096}, id="v3-interval-4096cs"),
        pytest.param({**V3_OK, "max_advert_interval": -1}, id="v3-interval-negative"),
        pytest.param(
            {**V2_OK, "addresses": tuple(V4("10.0.0.0") + i for i in range(256))},
            id="v2-256-addresses",
        ),
        pytest.param(
            {**V3_OK, "addresses": tuple(V4("10.0.0.0") + i for i in range(256))},
            id="v3-256-addresses",
        ),
        pytest.param(
            {**V3_OK, "addresses": (V4("10.0.0.1"), V6("2001:db8::1"))}, id="mixed-families"
        ),
        pytest.param({**V2_OK, "auth_data": b"short"}, id="v2-auth-data-not-8-octets"),
        pytest.param({**V2_OK, "auth_type": 256}, id="v2-auth-type-256"),
        pytest.param({**V2_OK, "vrid": 256}, id="vrid-256"),
        pytest.param({**V2_OK, "priority": -1}, id="priority-negative"),
        pytest.param({**V2_OK, "version": 4}, id="version-4"),
        pytest.param({**V2_OK, "type": 16}, id="type-16"),
    ],
)
def test_encoding_invalid_advertisement_raises_value_error(fields):
    with pytest.raises(ValueError):
        build_and_encode(**fields)


def test_encoding_v3_with_pseudo_header_but_no_addresses_raises_value_error():
    with pytest.raises(ValueError, match="pseudo-header"):
        Advertisement(**V3_OK).encode()


def test_encoding_v3_ipv6_without_pseudo_header_raises_value_error():
    advert = v3(addresses=("fe80::10",))
    with pytest.raises(ValueError, match="IPv6"):
        advert.encode(V3_V6_SRC, V3_V6_DST, pseudo_header_checksum=False)


def test_encoding_v3_with_mixed_family_src_and_dst_raises_value_error():
    with pytest.raises(ValueError, match="families"):
        Advertisement(**V3_OK).encode(V4("10.0.0.2"), MCAST6)


# Passwords longer than the 8 octets VRRPv2 carries ---------------------------------


@pytest.mark.parametrize("password", ["123456789", "ééééé"], ids=["9-ascii", "5-chars-10-octets"])
def test_password_over_8_octets_rejected_by_password_octets(password):
    with pytest.raises(ValueError, match="8 octets"):
        receive.password_octets(password)


def test_password_of_exactly_8_octets_is_kept_whole():
    assert receive.password_octets("12345678") == b"12345678"
    assert receive.password_octets("éééé") == "éééé".encode()


@pytest.mark.parametrize("kind", ["plaintext-password", "ah"])
@pytest.mark.parametrize("password", ["123456789", "ééééé"], ids=["9-ascii", "5-chars-10-octets"])
def test_password_over_8_octets_rejected_by_load_config_naming_key_path(kind, password):
    with pytest.raises(ConfigError) as caught:
        load_config(group_config(authentication={"type": kind, "password": password}))
    paths = dict(caught.value.problems)
    assert "vrrp.groups.LAN.authentication.password" in paths
    assert "8" in paths["vrrp.groups.LAN.authentication.password"]


def test_accept_password_over_8_octets_rejected_by_load_config_naming_key_path():
    auth = {"type": "ah", "password": "monkey", "accept": ["ok", "123456789"]}
    with pytest.raises(ConfigError) as caught:
        load_config(group_config(authentication=auth))
    assert [path for path, _ in caught.value.problems] == [
        "vrrp.groups.LAN.authentication.accept[1]"
    ]
