"""scapy's VRRP, VRRPv3 and AH layers agree with routerha, both ways.

routerha -> scapy: scapy parses what routerha sends into the same fields, and
scapy's own checksum (the layer rebuilt with ``chksum=None``) equals routerha's.
scapy -> routerha: packets built by scapy decode to the same fields and pass
``packet.checksum_ok`` and the Receiver.

For AH, scapy's SecurityAssociation follows RFC 4302 and zeroes the TTL in the
ICV input; keepalived (and so routerha) keeps TTL 255 for multicast and zeroes it
only for unicast peers, so scapy's AH interoperates with routerha's unicast mode.
"""

from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import AH, IPSecIntegrityError, SecurityAssociation
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.utils import checksum as scapy_checksum

from routerha.model.load import load_config
from routerha.vrrp import ipv4, packet
from routerha.vrrp.receive import AhSequence, Receiver
from routerha.vrrp.send import Sender

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4 = V4("10.0.1.2")
MCAST4 = V4("224.0.0.18")
UNICAST4 = V4("10.0.1.3")
SRC6 = V6("fe80::2")
MCAST6 = V6("ff02::12")

CONFIG = load_config(
    {
        "vrrp": {
            "groups": {
                "none": {"interface": "eth0", "vrid": 11, "address": ["10.0.1.11/24"]},
                "simple": {
                    "interface": "eth0",
                    "vrid": 12,
                    "address": ["10.0.1.12/24", "10.0.1.112/24"],
                    "advertise_interval": 5,
                    "authentication": {"type": "plaintext-password", "password": "secret"},
                },
                "ah": {
                    "interface": "eth0",
                    "vrid": 13,
                    "address": ["10.0.1.13/24"],
                    "peer_address": ["10.0.1.2"],
                    "authentication": {"type": "ah", "password": "monkey"},
                },
                "v3": {
                    "interface": "eth0",
                    "vrid": 14,
                    "version": 3,
                    "address": ["10.0.1.14/24", "10.0.1.114/24"],
                    "advertise_interval": 0.75,
                },
                "v6": {
                    "interface": "eth0",
                    "vrid": 15,
                    "address": ["fe80::15/64", "2001:db8::15/64", "2001:db8:1::15/64"],
                    "advertise_interval": 2.5,
                },
            }
        }
    }
)


def sender(name, **options):
    src = SRC6 if name == "v6" else SRC4
    return Sender(CONFIG.groups[name], src, **options)


def routerha_datagram(name, priority=120, **options):
    return sender(name, **options).ipv4_datagram(priority, MCAST4)


def routerha_ipv6_packet(priority=120):
    """Hop limit 255, next header 112, fe80::2 -> ff02::12, the message from Sender."""
    message = sender("v6").message(priority, MCAST6)
    header = bytes([0x60, 0, 0, 0]) + len(message).to_bytes(2, "big") + bytes([112, 255])
    return header + SRC6.packed + MCAST6.packed + message


def scapy_fields(layer):
    """A scapy VRRP / VRRPv3 layer as routerha's field names and units."""
    fields = {
        "version": layer.version,
        "type": layer.type,
        "vrid": layer.vrid,
        "priority": layer.priority,
        "addresses": tuple(ipaddress.ip_address(a) for a in layer.addrlist),
    }
    if layer.version == 2:
        fields["max_advert_interval"] = layer.adv * 100
        fields["auth_type"] = layer.authtype
        fields["auth_data"] = layer.auth1.to_bytes(4, "big") + layer.auth2.to_bytes(4, "big")
    else:
        fields["max_advert_interval"] = layer.adv
        fields["auth_type"] = 0
        fields["auth_data"] = b""
    assert layer.ipcount == len(fields["addresses"])
    return fields


def routerha_fields(advert):
    return {
        "version": advert.version,
        "type": advert.type,
        "vrid": advert.vrid,
        "priority": advert.priority,
        "addresses": advert.addresses,
        "max_advert_interval": advert.max_advert_interval,
        "auth_type": advert.auth_type,
        "auth_data": advert.auth_data,
    }


def expected_fields(name, priority=120):
    return routerha_fields(sender(name).advert(priority))


def scapy_recomputed(pkt, layer_class):
    """Clear the layer's checksum and let scapy rebuild it (with the IP layer under it)."""
    copy = pkt.copy()
    copy[layer_class].chksum = None
    return type(copy)(bytes(copy))[layer_class].chksum


def ah_sa(password="monkey", spi=SRC4):
    return SecurityAssociation(
        AH, spi=int(spi), auth_algo="HMAC-MD5-96", auth_key=ipv4.ah_key(password)
    )


def receiver(*names):
    return Receiver([CONFIG.groups[n] for n in names])


# routerha -> scapy -------------------------------------------------------------


@pytest.mark.parametrize("name", ["none", "simple"])
def test_scapy_decodes_routerha_v2_fields(name):
    pkt = IP(routerha_datagram(name))
    assert pkt.ttl == 255
    assert pkt.proto == 112
    assert pkt.haslayer(VRRP)
    assert scapy_fields(pkt[VRRP]) == expected_fields(name)


def test_scapy_decodes_routerha_v2_simple_password():
    layer = IP(routerha_datagram("simple"))[VRRP]
    assert layer.authtype == 1
    assert layer.auth1.to_bytes(4, "big") + layer.auth2.to_bytes(4, "big") == b"secret\0\0"


def test_scapy_decodes_routerha_v2_ah_header_and_message():
    sequence = AhSequence()
    sequence.value = 99
    pkt = IP(routerha_datagram("ah", sequence=sequence))
    assert pkt.proto == 51
    ah = pkt[AH]
    assert ah.nh == 112
    assert ah.payloadlen == 4
    assert ah.reserved == 0
    assert ah.spi == int(SRC4)
    assert ah.seq == 100
    assert len(ah.icv) == 12
    assert scapy_fields(VRRP(bytes(ah.payload))) == expected_fields("ah")


def test_scapy_decodes_routerha_v3_ipv4_fields():
    pkt = IP(routerha_datagram("v3"))
    assert pkt.haslayer(VRRPv3)
    assert scapy_fields(pkt[VRRPv3]) == expected_fields("v3")


def test_scapy_decodes_routerha_v3_ipv4_no_pseudo_header_fields():
    pkt = IP(routerha_datagram("v3", pseudo_header_checksum=False))
    assert scapy_fields(pkt[VRRPv3]) == expected_fields("v3")


def test_scapy_decodes_routerha_v3_ipv6_fields():
    pkt = IPv6(routerha_ipv6_packet())
    assert pkt.hlim == 255
    assert pkt.nh == 112
    assert pkt.haslayer(VRRPv3)
    assert scapy_fields(pkt[VRRPv3]) == expected_fields("v6")


@pytest.mark.parametrize("name", ["none", "simple"])
def test_scapy_v2_checksum_equals_routerha(name):
    pkt = IP(routerha_datagram(name))
    assert scapy_recomputed(pkt, VRRP) == pkt[VRRP].chksum


def test_scapy_v2_ah_message_checksum_equals_routerha():
    layer = VRRP(bytes(IP(routerha_datagram("ah"))[AH].payload))
    rebuilt = layer.copy()
    rebuilt.chksum = None
    assert VRRP(bytes(rebuilt)).chksum == layer.chksum


def test_scapy_v3_ipv4_pseudo_header_checksum_equals_routerha():
    pkt = IP(routerha_datagram("v3"))
    assert scapy_recomputed(pkt, VRRPv3) == pkt[VRRPv3].chksum


def test_scapy_plain_checksum_equals_routerha_v3_ipv4_without_pseudo_header():
    # scapy's VRRPv3 always sums the pseudo-header; the plain sum is scapy.utils.checksum.
    pkt = IP(routerha_datagram("v3", pseudo_header_checksum=False))
    message = bytes(pkt[VRRPv3])
    assert scapy_checksum(message[:6] + b"\0\0" + message[8:]) == pkt[VRRPv3].chksum
    assert scapy_recomputed(pkt, VRRPv3) != pkt[VRRPv3].chksum


def test_scapy_v3_ipv6_checksum_equals_routerha():
    pkt = IPv6(routerha_ipv6_packet())
    assert scapy_recomputed(pkt, VRRPv3) == pkt[VRRPv3].chksum


@pytest.mark.parametrize("name", ["none", "simple", "ah", "v3"])
def test_scapy_ipv4_header_checksum_and_length_equal_routerha(name):
    data = routerha_datagram(name)
    pkt = IP(data)
    rebuilt = pkt.copy()
    rebuilt.chksum = None
    rebuilt.len = None
    again = IP(bytes(rebuilt))
    assert again.chksum == pkt.chksum
    assert again.len == len(data)
    assert bytes(again) == data


def test_scapy_verifies_routerha_unicast_ah_icv():
    data = sender("ah").ipv4_datagram(120, UNICAST4, unicast=True)
    ah_sa().decrypt(IP(data), verify=True)  # raises IPSecIntegrityError on mismatch


def test_scapy_rejects_routerha_unicast_ah_icv_with_other_key():
    data = sender("ah").ipv4_datagram(120, UNICAST4, unicast=True)
    with pytest.raises(IPSecIntegrityError):
        ah_sa("donkey").decrypt(IP(data), verify=True)


def test_scapy_rfc4302_icv_differs_from_keepalived_style_multicast_icv():
    # Multicast AH hashes TTL 255 (keepalived), RFC 4302 hashes TTL 0.
    with pytest.raises(IPSecIntegrityError):
        ah_sa().decrypt(IP(routerha_datagram("ah")), verify=True)


# scapy -> routerha -------------------------------------------------------------


def scapy_v2(name, priority=90, dst=MCAST4, **fields):
    group = CONFIG.groups[name]
    return IP(src=str(SRC4), dst=str(dst), ttl=255, tos=0xC0) / VRRP(
        vrid=group.vrid,
        priority=priority,
        addrlist=[str(a.ip) for a in group.address],
        adv=group.advertise_interval_cs // 100,
        **fields,
    )


def scapy_v3_ipv4(priority=90):
    group = CONFIG.groups["v3"]
    return IP(src=str(SRC4), dst=str(MCAST4), ttl=255) / VRRPv3(
        vrid=group.vrid,
        priority=priority,
        addrlist=[str(a.ip) for a in group.address],
        adv=group.advertise_interval_cs,
    )


def scapy_v3_ipv6(priority=90):
    group = CONFIG.groups["v6"]
    return IPv6(src=str(SRC6), dst=str(MCAST6), hlim=255) / VRRPv3(
        vrid=group.vrid,
        priority=priority,
        addrlist=[str(a.ip) for a in group.address],
        adv=group.advertise_interval_cs,
    )


SECRET = {
    "authtype": 1,
    "auth1": int.from_bytes(b"secr", "big"),
    "auth2": int.from_bytes(b"et\0\0", "big"),
}


@pytest.mark.parametrize(
    ("name", "fields"), [("none", {}), ("simple", SECRET)], ids=["none", "simple"]
)
def test_routerha_decodes_scapy_v2_fields_and_checksum(name, fields):
    pkt = IP(bytes(scapy_v2(name, **fields)))
    datagram = ipv4.parse(bytes(pkt))
    assert datagram.payload == bytes(pkt[VRRP])
    assert routerha_fields(packet.decode(datagram.payload)) == scapy_fields(pkt[VRRP])
    assert packet.checksum_ok(datagram.payload)
    received = receiver(name).receive_ipv4(bytes(pkt))
    assert (received.group, received.event.priority) == (name, 90)


def test_routerha_decodes_scapy_v2_ah_and_accepts_its_unicast_icv():
    plain = IP(bytes(scapy_v2("ah", authtype=2, dst=UNICAST4)))
    pkt = IP(bytes(ah_sa().encrypt(plain, seq_num=7)))
    datagram = ipv4.parse(bytes(pkt))
    assert datagram.ah is not None
    assert datagram.ah.spi == SRC4.packed
    assert datagram.ah.sequence == 7
    assert routerha_fields(packet.decode(datagram.payload)) == scapy_fields(plain[VRRP])
    assert packet.checksum_ok(datagram.payload)
    assert datagram.icv_ok(ipv4.ah_key("monkey"), unicast=True)
    assert not datagram.icv_ok(ipv4.ah_key("monkey"))
    received = receiver("ah").receive_ipv4(bytes(pkt))  # unicast: to us, from a peer
    assert (received.group, received.event.priority) == ("ah", 90)


def test_routerha_decodes_scapy_v3_ipv4_fields_and_checksum():
    pkt = IP(bytes(scapy_v3_ipv4()))
    datagram = ipv4.parse(bytes(pkt))
    assert routerha_fields(packet.decode(datagram.payload)) == scapy_fields(pkt[VRRPv3])
    assert packet.checksum_ok(datagram.payload, SRC4, MCAST4)
    assert not packet.checksum_ok(datagram.payload, SRC4, MCAST4, pseudo_header_checksum=False)
    received = receiver("v3").receive_ipv4(bytes(pkt))
    assert received.event.max_advert_interval == 75


def test_routerha_decodes_scapy_v3_ipv6_fields_and_checksum():
    pkt = IPv6(bytes(scapy_v3_ipv6()))
    payload = bytes(pkt)[40:]
    assert routerha_fields(packet.decode(payload, ipv6=True)) == scapy_fields(pkt[VRRPv3])
    assert packet.checksum_ok(payload, SRC6, MCAST6)
    received = receiver("v6").receive_ipv6(payload, SRC6, MCAST6, pkt.hlim)
    assert (received.group, received.event.max_advert_interval) == ("v6", 250)


def test_routerha_encodes_what_scapy_built_byte_for_byte():
    # Same fields, same bytes: scapy's build and routerha's encode agree entirely.
    v2_pkt = IP(bytes(scapy_v2("simple", **SECRET)))
    assert packet.decode(bytes(v2_pkt[VRRP])).encode() == bytes(v2_pkt[VRRP])
    v3_pkt = IP(bytes(scapy_v3_ipv4()))
    advert = packet.decode(bytes(v3_pkt[VRRPv3]))
    assert advert.encode(SRC4, MCAST4) == bytes(v3_pkt[VRRPv3])
    v6_pkt = IPv6(bytes(scapy_v3_ipv6()))
    advert = packet.decode(bytes(v6_pkt)[40:], ipv6=True)
    assert advert.encode(SRC6, MCAST6) == bytes(v6_pkt)[40:]
