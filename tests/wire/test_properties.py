"""Properties of the codec, and fuzzing of everything that reads bytes off the wire.

(a) ``decode(encode(x)) == x`` for any valid Advertisement, and what ``encode``
    produced passes ``checksum_ok`` (both checksum modes for VRRPv3 over IPv4).
(b) Arbitrary bytes, and bit/byte mutations, insertions and truncations of valid
    packets, fed to ``packet.decode``, ``ipv4.parse`` and ``Receiver.receive_ipv4`` /
    ``receive_ipv6``: each returns its result or raises PacketError (a RouterhaError
    naming a DropReason), never anything else.

The fuzz tests run ROUTERHA_FUZZ_EXAMPLES examples each (2000 by default), e.g.
``ROUTERHA_FUZZ_EXAMPLES=100000 pytest tests/wire/test_properties.py -k fuzz``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from routerha.errors import RouterhaError
from routerha.model.load import load_config
from routerha.vrrp import checksum, ipv4, packet
from routerha.vrrp.drops import DropReason, PacketError
from routerha.vrrp.packet import Advertisement
from routerha.vrrp.receive import AhSequence, Received, Receiver
from routerha.vrrp.send import Sender

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
MCAST4 = V4("224.0.0.18")
MCAST6 = V6("ff02::12")
LOCAL4, PEER4 = V4("10.1.1.1"), V4("10.1.1.2")
LOCAL6, PEER6 = V6("fe80::1"), V6("fe80::2")

FUZZ = settings(
    max_examples=int(os.environ.get("ROUTERHA_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROPERTY = settings(max_examples=500, deadline=None)

CONFIG = load_config(
    {
        "vrrp": {
            "groups": {
                "NONE": {
                    "interface": "eth0",
                    "vrid": 1,
                    "address": ["10.1.1.5/24"],
                    "peer_address": ["10.1.1.2"],
                },
                "PLAIN": {
                    "interface": "eth0",
                    "vrid": 2,
                    "address": ["10.1.1.6/24", "10.1.1.16/24"],
                    "peer_address": ["10.1.1.2"],
                    "authentication": {
                        "type": "plaintext-password",
                        "password": "secret",
                        "accept": ["next"],
                    },
                },
                "AH": {
                    "interface": "eth0",
                    "vrid": 3,
                    "address": ["10.1.1.7/24"],
                    "peer_address": ["10.1.1.2"],
                    "authentication": {"type": "ah", "password": "monkey"},
                },
                "V3": {
                    "interface": "eth0",
                    "vrid": 4,
                    "version": 3,
                    "address": ["10.1.1.8/24"],
                    "peer_address": ["10.1.1.2"],
                    "advertise_interval": 0.5,
                },
                "V6": {
                    "interface": "eth0",
                    "vrid": 1,
                    "address": ["fe80::5/64", "2001:db8::5/64"],
                },
                "V6B": {"interface": "eth0", "vrid": 9, "address": ["fe80::9/64"]},
            }
        }
    }
)
IPV4_GROUPS = ("NONE", "PLAIN", "AH", "V3")
IPV6_GROUPS = ("V6", "V6B")


# Strategies ----------------------------------------------------------------------

octets = st.integers(0, 255)
ipv4_addresses = st.builds(V4, st.integers(0, 2**32 - 1))
ipv6_addresses = st.builds(V6, st.integers(0, 2**128 - 1))
auth_octets = st.binary(min_size=8, max_size=8)


def v2_adverts(
    vrid=octets,
    address=ipv4_addresses,
    seconds=octets,
    auth_type=octets,
    auth_data=auth_octets,
):
    return st.builds(
        Advertisement,
        version=st.just(2),
        vrid=vrid,
        priority=octets,
        addresses=st.lists(address, max_size=255).map(tuple),
        max_advert_interval=seconds.map(lambda s: s * 100),
        auth_type=auth_type,
        auth_data=auth_data,
    )


def v3_adverts(address, vrid=octets):
    return st.builds(
        Advertisement,
        version=st.just(3),
        vrid=vrid,
        priority=octets,
        addresses=st.lists(address, max_size=255).map(tuple),
        max_advert_interval=st.integers(0, 0x0FFF),
    )


# For fuzzing, valid adverts that lean towards what the groups below are configured
# with, so that fuzzed packets get past the VRID, version and auth checks.
vrids = st.sampled_from([1, 2, 3, 4, 9]) | octets
fuzz_v2_adverts = v2_adverts(
    vrid=vrids,
    address=st.sampled_from([V4("10.1.1.5"), V4("10.1.1.6"), V4("10.1.1.7")]) | ipv4_addresses,
    seconds=st.just(1) | octets,
    auth_type=st.sampled_from([0, 1, 2]) | octets,
    auth_data=st.sampled_from([bytes(8), b"secret\0\0", b"next\0\0\0\0"]) | auth_octets,
)
fuzz_v3_ipv4_adverts = v3_adverts(st.just(V4("10.1.1.8")) | ipv4_addresses, vrids)
fuzz_v3_ipv6_adverts = v3_adverts(
    st.sampled_from([V6("fe80::5"), V6("fe80::9")]) | ipv6_addresses, vrids
)


@st.composite
def encoded_messages(draw, kinds=("v2", "v3-ipv4", "v3-ipv6")):
    """(message, ipv6, src, dst): any valid advertisement, encoded as some sender would."""
    kind = draw(st.sampled_from(kinds))
    if kind == "v3-ipv6":
        src = draw(st.sampled_from([PEER6, PEER6, LOCAL6]) | ipv6_addresses)
        dst = draw(st.just(MCAST6) | ipv6_addresses)
        advert = draw(fuzz_v3_ipv6_adverts)
        return advert.encode(src, dst), True, src, dst
    src = draw(st.sampled_from([PEER4, PEER4, LOCAL4]) | ipv4_addresses)
    dst = draw(st.just(MCAST4) | ipv4_addresses)
    advert = draw(fuzz_v2_adverts if kind == "v2" else fuzz_v3_ipv4_adverts)
    pseudo = draw(st.booleans())
    return advert.encode(src, dst, pseudo_header_checksum=pseudo), False, src, dst


@st.composite
def configured_sends(draw):
    """What a peer (or we) would send for one of our IPv4 groups, with how it was sent.
    Unmutated it passes every receive check; the fuzz tests then break it."""
    name = draw(st.sampled_from(IPV4_GROUPS))
    group = CONFIG.groups[name]
    if name == "PLAIN" and draw(st.booleans()):
        auth = dataclasses.replace(group.authentication, password="next", accept=())
        group = dataclasses.replace(group, authentication=auth)
    sequence = AhSequence()
    sequence.value = draw(st.integers(0, AhSequence.LIMIT))
    send = {
        "name": name,
        "src": draw(st.sampled_from([PEER4, PEER4, PEER4, LOCAL4])),
        "dst": draw(st.sampled_from([MCAST4, LOCAL4])),
        "pseudo": draw(st.booleans()),
        "priority": draw(octets),
    }
    sender = Sender(group, send["src"], sequence=sequence, pseudo_header_checksum=send["pseudo"])
    unicast = send["dst"] != MCAST4
    send["data"] = sender.ipv4_datagram(send["priority"], send["dst"], unicast=unicast)
    return send


def configured_datagrams():
    return configured_sends().map(lambda send: send["data"])


@st.composite
def wrapped_datagrams(draw):
    """Any valid advertisement in an IPv4 datagram, with or without an AH."""
    message, _, src, dst = draw(encoded_messages(kinds=("v2", "v3-ipv4")))
    password = draw(st.none() | st.sampled_from(["monkey", "secret", "x"]))
    return ipv4.build(
        src,
        dst,
        message,
        identification=draw(st.integers(0, 0xFFFF)),
        ah_password=password,
        ah_sequence=draw(st.integers(0, 2**32 - 1)),
        ttl=draw(st.sampled_from([255, 254, 1])),
    )


#: Same-length changes weigh most: they get past the length checks to the deeper ones.
MUTATIONS = ("flip",) * 4 + ("set",) * 4 + ("insert", "delete", "truncate", "extend")


@st.composite
def mutated(draw, base):
    """``base`` with a few bit flips, byte changes, insertions, deletions or truncations."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(MUTATIONS))
        if op == "extend" or not data:
            data += draw(st.binary(min_size=1, max_size=40))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[at] = draw(octets)
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


# Helpers -------------------------------------------------------------------------


def v6_group_message(priority):
    return Sender(CONFIG.groups["V6"], PEER6).message(priority, MCAST6)


def receiver4():
    return Receiver(
        [CONFIG.groups[n] for n in IPV4_GROUPS],
        local_addresses=(LOCAL4,),
    )


def receiver6():
    return Receiver([CONFIG.groups[n] for n in IPV6_GROUPS], local_addresses=(LOCAL6,))


def result_or_packet_error(call, *args, **kwargs):
    """Call; a PacketError with a DropReason is an answer too. Anything else escapes."""
    try:
        return call(*args, **kwargs)
    except RouterhaError as error:
        assert isinstance(error, PacketError), repr(error)
        assert isinstance(error.reason, DropReason)
        return error


def check_decode(data):
    for ipv6 in (False, True):
        result = result_or_packet_error(packet.decode, data, ipv6=ipv6)
        assert isinstance(result, (Advertisement, PacketError))


def check_ipv4(data):
    parsed = result_or_packet_error(ipv4.parse, data)
    assert isinstance(parsed, (ipv4.Ipv4Datagram, PacketError))
    if isinstance(parsed, ipv4.Ipv4Datagram):
        check_decode(parsed.payload)
        for key in (b"monkey\0\0", b"secret\0\0"):
            assert parsed.icv_ok(key) in (True, False)
            assert parsed.icv_ok(key, unicast=True) in (True, False)
    received = result_or_packet_error(receiver4().receive_ipv4, data)
    assert isinstance(received, (Received, PacketError))
    event(f"receive_ipv4: {outcome(received)}")


def check_ipv6(payload, src=PEER6, dst=MCAST6, hop_limit=255):
    received = result_or_packet_error(receiver6().receive_ipv6, payload, src, dst, hop_limit)
    assert isinstance(received, (Received, PacketError))
    event(f"receive_ipv6: {outcome(received)}")


def refixed(message, src, dst, fix):
    """The message with its checksum recomputed (pseudo-header for VRRPv3), if ``fix``."""
    if not fix or len(message) < 8:
        return message
    zeroed = message[:6] + b"\0\0" + message[8:]
    prefix = b""
    if message[0] >> 4 == 3:
        prefix = checksum.pseudo_header(src, dst, len(message))
    return (
        message[:6] + checksum.internet_checksum(prefix + zeroed).to_bytes(2, "big") + message[8:]
    )


def outcome(result):
    """For --hypothesis-show-statistics: how far into the checks the input got."""
    return result.reason.value if isinstance(result, PacketError) else "received"


# (a) encode and decode are inverses ------------------------------------------------


@PROPERTY
@given(advert=v2_adverts(), src=ipv4_addresses, dst=ipv4_addresses)
def test_v2_decode_inverts_encode_and_checksum_ok(advert, src, dst):
    message = advert.encode()
    assert advert.encode(src, dst) == message
    assert len(message) == 8 + 4 * len(advert.addresses) + 8
    assert packet.decode(message) == advert
    assert packet.checksum_ok(message)
    assert packet.checksum_ok(message, src, dst)


@PROPERTY
@given(advert=v3_adverts(ipv4_addresses), src=ipv4_addresses, dst=ipv4_addresses)
def test_v3_ipv4_decode_inverts_encode_and_checksum_ok_in_both_modes(advert, src, dst):
    for pseudo in (True, False):
        message = advert.encode(src, dst, pseudo_header_checksum=pseudo)
        assert len(message) == 8 + 4 * len(advert.addresses)
        assert packet.decode(message) == advert
        assert packet.checksum_ok(message, src, dst, pseudo_header_checksum=pseudo)
    assert advert.encode(pseudo_header_checksum=False) == advert.encode(
        src, dst, pseudo_header_checksum=False
    )


@PROPERTY
@given(advert=v3_adverts(ipv6_addresses), src=ipv6_addresses, dst=ipv6_addresses)
def test_v3_ipv6_decode_inverts_encode_and_checksum_ok(advert, src, dst):
    message = advert.encode(src, dst)
    assert len(message) == 8 + 16 * len(advert.addresses)
    assert packet.decode(message, ipv6=True) == advert
    assert packet.checksum_ok(message, src, dst)
    assert packet.checksum_ok(message, src, dst, pseudo_header_checksum=False)


@PROPERTY
@given(encoded=encoded_messages(), flip=st.integers(0, 15))
def test_checksum_ok_rejects_any_single_bit_flip_of_the_checksum_field(encoded, flip):
    message, ipv6, src, dst = encoded
    pseudo = ipv6 or packet.checksum_ok(message, src, dst)
    corrupted = bytearray(message)
    corrupted[6 + flip // 8] ^= 1 << (flip % 8)
    assert not packet.checksum_ok(bytes(corrupted), src, dst, pseudo_header_checksum=pseudo)


@PROPERTY
@given(advert=v3_adverts(ipv4_addresses), src=ipv4_addresses, dst=ipv4_addresses)
def test_v3_ipv4_reserved_bits_are_ignored_on_decode(advert, src, dst):
    message = bytearray(advert.encode(src, dst))
    message[4] |= 0xF0
    assert packet.decode(bytes(message)) == advert


# (b) fuzzing: only PacketError, never a crash --------------------------------------


@FUZZ
@given(data=st.binary(max_size=1200))
def test_fuzz_arbitrary_bytes_raise_only_packet_error(data):
    check_decode(data)
    check_ipv4(data)
    check_ipv6(data)


@FUZZ
@given(data=mutated(configured_datagrams() | wrapped_datagrams()))
def test_fuzz_mutated_ipv4_datagrams_raise_only_packet_error(data):
    check_ipv4(data)
    check_decode(data[20:])
    check_decode(data[44:])


@FUZZ
@given(
    encoded=encoded_messages(),
    data=st.data(),
    hop_limit=st.sampled_from([255, 255, 255, 254, 0]),
    fix=st.booleans(),
)
def test_fuzz_mutated_vrrp_messages_raise_only_packet_error(encoded, data, hop_limit, fix):
    # With ``fix`` the mutated message gets a right checksum again, and over IPv4 it
    # also travels inside a correctly signed AH: the deeper checks see it.
    message, ipv6, src, dst = encoded
    message = data.draw(mutated(st.just(message)))
    check_decode(message)
    if ipv6:
        check_ipv6(refixed(message, src, dst, fix), src, dst, hop_limit)
        check_ipv6(refixed(message, PEER6, MCAST6, fix), PEER6, MCAST6, hop_limit)
    else:
        fixed = refixed(message, src, dst, fix)
        check_ipv4(ipv4.build(src, dst, fixed, identification=1, ttl=hop_limit))
        fixed = refixed(message, PEER4, MCAST4, fix)
        check_ipv4(ipv4.build(PEER4, MCAST4, fixed, identification=1, ah_password="monkey"))


@FUZZ
@given(data=mutated(st.builds(v6_group_message, octets)))
def test_fuzz_mutated_ipv6_group_messages_raise_only_packet_error(data):
    check_decode(data)
    check_ipv6(data)


@PROPERTY
@given(send=configured_sends())
def test_unmutated_configured_sends_are_received_or_dropped_for_their_reason(send):
    # The fuzz base really reaches the deep checks: a peer's packet is accepted,
    # multicast or unicast (to us, from a configured peer_address).
    rx = receiver4()
    if send["src"] == LOCAL4:
        assert reason(rx, send["data"]) is DropReason.OWN_PACKET
    elif send["name"] == "V3" and not send["pseudo"]:
        assert reason(rx, send["data"]) is DropReason.CHECKSUM
    else:
        received = rx.receive_ipv4(send["data"])
        assert received.group == send["name"]
        assert received.event.source == PEER4
        assert received.event.priority == send["priority"]


def reason(rx, data):
    error = result_or_packet_error(rx.receive_ipv4, data)
    assert isinstance(error, PacketError)
    return error.reason
