"""Wireshark's dissectors read what routerha sends.

Each case becomes a one-frame pcap (Ethernet + IPv4 or IPv6 + VRRP, written here
with struct), read back with ``tshark -T json``. Checksums are validated by tshark:
``ip.check_checksum:TRUE`` for the IPv4 header, and the VRRP dissector always checks
its own, with ``vrrp.v3_checksum_as_in_v2`` (the only VRRP preference tshark 4.0 has)
set for the VRRPv3/IPv4 case summed without the pseudo-header. JSON renders a
checksum status as its number: 0 Bad, 1 Good, 2 Unverified (tshark -V prints the names).
"""

from __future__ import annotations

import ipaddress
import json
import os
import struct
import subprocess

import pytest

from routerha.model.load import load_config
from routerha.vrrp.receive import AhSequence
from routerha.vrrp.send import Sender

TSHARK = "/usr/bin/tshark"

pytestmark = pytest.mark.skipif(
    not os.access(TSHARK, os.X_OK), reason=f"{TSHARK} is not installed (apt install tshark)"
)

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4 = V4("192.168.124.1")
MCAST4 = V4("224.0.0.18")
SRC6 = V6("fe80::1")
MCAST6 = V6("ff02::12")
CHECKSUM_BAD, CHECKSUM_GOOD = "0", "1"
#: epan/proto.h severities: PI_CHAT 0x200000, PI_NOTE 0x400000, PI_WARN 0x600000, PI_ERROR 0x800000.
PI_WARN = 0x00600000

CONFIG = load_config(
    {
        "vrrp": {
            "groups": {
                "none": {"interface": "eth0", "vrid": 51, "address": ["10.0.1.140/24"]},
                "simple": {
                    "interface": "eth0",
                    "vrid": 52,
                    "address": ["10.0.1.141/24", "10.0.1.142/24"],
                    "advertise_interval": 3,
                    "authentication": {"type": "plaintext-password", "password": "secret"},
                },
                "ah": {
                    "interface": "eth0",
                    "vrid": 53,
                    "address": ["10.0.1.143/24"],
                    "authentication": {"type": "ah", "password": "monkey"},
                },
                "v3": {
                    "interface": "eth0",
                    "vrid": 54,
                    "version": 3,
                    "address": ["10.0.1.144/24", "10.0.1.145/24", "10.0.1.146/24"],
                    "advertise_interval": 0.35,
                },
                "v6": {
                    "interface": "eth0",
                    "vrid": 55,
                    "address": ["fe80::55/64", "2001:db8::55/64"],
                    "advertise_interval": 40.95,
                },
            }
        }
    }
)


def pcap(frames):
    """The classic pcap format: global header, then one record per frame (linktype 1)."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame
    return out


def ethernet(payload, vrid, ipv6=False):
    """Multicast destination MAC, the virtual MAC as source (RFC 5798 section 7.3)."""
    if ipv6:
        return (
            bytes.fromhex("333300000012") + bytes([0, 0, 0x5E, 0, 2, vrid]) + b"\x86\xdd" + payload
        )
    return bytes.fromhex("01005e000012") + bytes([0, 0, 0x5E, 0, 1, vrid]) + b"\x08\x00" + payload


def ipv6_packet(message, src=SRC6, dst=MCAST6):
    """IPv6 header by hand: version 6, payload length, next header 112, hop limit 255."""
    return struct.pack("!IHBB", 6 << 28, len(message), 112, 255) + src.packed + dst.packed + message


def frame_for(case, priority=101):
    """(frame, message, datagram) for one case."""
    if case == "v6":
        message = Sender(CONFIG.groups["v6"], SRC6).message(priority, MCAST6)
        return ethernet(ipv6_packet(message), 55, ipv6=True), message, None
    name = "v3" if case == "v3-no-pseudo" else case
    sequence = AhSequence()
    sequence.value = 0x14
    sender = Sender(
        CONFIG.groups[name],
        SRC4,
        sequence=sequence,
        pseudo_header_checksum=case != "v3-no-pseudo",
    )
    datagram = sender.ipv4_datagram(priority, MCAST4)
    message = datagram[44:] if case == "ah" else datagram[20:]
    return ethernet(datagram, CONFIG.groups[name].vrid), message, datagram


def prefs_for(case):
    as_v2 = "TRUE" if case == "v3-no-pseudo" else "FALSE"
    return ["-o", "ip.check_checksum:TRUE", "-o", f"vrrp.v3_checksum_as_in_v2:{as_v2}"]


def tshark(path, *args):
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def dissect(tmp_path, frame, prefs):
    """The layers of the one frame, and tshark's expert summary for the file."""
    path = tmp_path / "vrrp.pcap"
    path.write_bytes(pcap([frame]))
    packets = json.loads(tshark(path, "-T", "json", "--no-duplicate-keys", *prefs))
    assert len(packets) == 1
    expert = tshark(path, "-q", "-z", "expert", *prefs)
    return packets[0]["_source"]["layers"], expert


def as_list(value):
    return value if isinstance(value, list) else [value]


def expert_severities(node):
    """Every _ws.expert.severity anywhere in a dissection tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "_ws.expert.severity":
                yield from (int(v) for v in as_list(value))
            else:
                yield from expert_severities(value)
    elif isinstance(node, list):
        for item in node:
            yield from expert_severities(item)


def assert_no_warnings_or_errors(layers, expert):
    assert [s for s in expert_severities(layers) if s >= PI_WARN] == []
    assert "Warns (" not in expert, expert
    assert "Errors (" not in expert, expert
    assert "_ws.malformed" not in layers


CASES = ["none", "simple", "ah", "v3", "v3-no-pseudo", "v6"]


@pytest.mark.parametrize("case", CASES)
def test_tshark_decodes_vrrp_fields_as_encoded(tmp_path, case):
    frame, message, _ = frame_for(case)
    group = CONFIG.groups["v3" if case == "v3-no-pseudo" else case]
    layers, _ = dissect(tmp_path, frame, prefs_for(case))
    vrrp = layers["vrrp"]
    assert vrrp["vrrp.typever_tree"] == {"vrrp.version": str(group.version), "vrrp.type": "1"}
    assert vrrp["vrrp.virt_rtr_id"] == str(group.vrid)
    assert vrrp["vrrp.prio"] == "101"
    assert vrrp["vrrp.addr_count"] == str(len(group.address))
    field = "vrrp.ipv6_addr" if group.ipv6 else "vrrp.ip_addr"
    assert as_list(vrrp[field]) == [str(a.ip) for a in group.address]
    assert int(vrrp["vrrp.checksum"], 16) == int.from_bytes(message[6:8], "big")
    if group.version == 2:
        assert vrrp["vrrp.adver_int"] == str(group.advertise_interval_cs // 100)
        assert vrrp["vrrp.auth_type"] == str(message[4])
    else:
        assert vrrp["vrrp.short_adver_int"] == str(group.advertise_interval_cs)
        assert vrrp["vrrp.reserved_mbz"] == "0"
        assert "vrrp.auth_type" not in vrrp


def test_tshark_shows_v2_auth_types_none_simple_ah(tmp_path):
    seen = {}
    for case in ("none", "simple", "ah"):
        layers, _ = dissect(tmp_path, frame_for(case)[0], prefs_for(case))
        seen[case] = layers["vrrp"]["vrrp.auth_type"]
    assert seen == {"none": "0", "simple": "1", "ah": "2"}


def test_tshark_shows_simple_password_string(tmp_path):
    layers, _ = dissect(tmp_path, frame_for("simple")[0], prefs_for("simple"))
    assert layers["vrrp"]["vrrp.auth_string"] == "secret"


@pytest.mark.parametrize("case", CASES)
def test_tshark_checksum_status_is_good(tmp_path, case):
    frame, _, _ = frame_for(case)
    layers, _ = dissect(tmp_path, frame, prefs_for(case))
    assert layers["vrrp"]["vrrp.checksum.status"] == CHECKSUM_GOOD
    if case == "v6":
        assert layers["ipv6"]["ipv6.hlim"] == "255"
        assert layers["ipv6"]["ipv6.nxt"] == "112"
    else:
        assert layers["ip"]["ip.checksum.status"] == CHECKSUM_GOOD
        assert layers["ip"]["ip.ttl"] == "255"
        assert layers["ip"]["ip.proto"] == ("51" if case == "ah" else "112")


@pytest.mark.parametrize("case", CASES)
def test_tshark_reports_no_expert_warnings_or_errors(tmp_path, case):
    frame, _, _ = frame_for(case)
    layers, expert = dissect(tmp_path, frame, prefs_for(case))
    assert_no_warnings_or_errors(layers, expert)


def test_tshark_ah_header_shows_spi_sequence_and_icv(tmp_path):
    frame, _, datagram = frame_for("ah")
    layers, _ = dissect(tmp_path, frame, prefs_for("ah"))
    ah = layers["ah"]
    assert ah["ah.next_header"] == "112"
    assert ah["ah.length"] == "4"
    assert int(ah["ah.spi"], 16) == int(SRC4)
    assert ah["ah.sequence"] == str(0x15)
    assert bytes.fromhex(ah["ah.icv"].replace(":", "")) == datagram[32:44]
    assert layers["frame"]["frame.protocols"] == "eth:ethertype:ip:ah:vrrp"


def test_tshark_decodes_keepalived_ah_vector_identically(tmp_path):
    # The real keepalived capture (ah-notes.md 1.6) and routerha's rendition of it.
    config = load_config(
        {
            "vrrp": {
                "groups": {
                    "k": {
                        "interface": "eth0",
                        "vrid": 51,
                        "address": ["10.0.1.140/24"],
                        "authentication": {"type": "ah", "password": "monkey"},
                    }
                }
            }
        }
    )
    sender = Sender(config.groups["k"], SRC4)
    for _ in range(0x14):
        sender.ipv4_datagram(101, MCAST4)
    datagram = sender.ipv4_datagram(101, MCAST4)
    layers, expert = dissect(tmp_path, ethernet(datagram, 51), prefs_for("ah"))
    assert layers["ip"]["ip.id"] == "0x0015"
    assert layers["ah"]["ah.sequence"] == str(0x15)
    assert layers["ah"]["ah.icv"] == "ad:71:9a:91:2d:50:a5:39:35:d9:ad:41"
    assert layers["vrrp"]["vrrp.checksum"] == "0x6c3e"
    assert layers["vrrp"]["vrrp.checksum.status"] == CHECKSUM_GOOD
    assert layers["vrrp"]["vrrp.ip_addr"] == "10.0.1.140"
    assert_no_warnings_or_errors(layers, expert)


def test_tshark_reads_v3_ipv6_addresses_source_and_destination(tmp_path):
    layers, _ = dissect(tmp_path, frame_for("v6")[0], prefs_for("v6"))
    assert layers["ipv6"]["ipv6.src"] == "fe80::1"
    assert layers["ipv6"]["ipv6.dst"] == "ff02::12"
    assert layers["vrrp"]["vrrp.ipv6_addr"] == ["fe80::55", "2001:db8::55"]


# Controls: the harness does see a bad checksum ------------------------------------


def test_control_tshark_flags_a_corrupted_checksum(tmp_path):
    frame, _, _ = frame_for("none")
    corrupted = bytearray(frame)
    corrupted[14 + 20 + 6] ^= 0xFF
    layers, expert = dissect(tmp_path, bytes(corrupted), prefs_for("none"))
    assert layers["vrrp"]["vrrp.checksum.status"] == CHECKSUM_BAD
    assert "Warns (" in expert
    assert any(s >= PI_WARN for s in expert_severities(layers))


def test_control_no_pseudo_header_checksum_is_bad_under_default_prefs(tmp_path):
    # The v3-no-pseudo case passes only because of the preference: its sum really
    # is the VRRPv2-style one, and the pseudo-header one really is different.
    layers, _ = dissect(tmp_path, frame_for("v3-no-pseudo")[0], prefs_for("v3"))
    assert layers["vrrp"]["vrrp.checksum.status"] == CHECKSUM_BAD
    layers, _ = dissect(tmp_path, frame_for("v3")[0], prefs_for("v3-no-pseudo"))
    assert layers["vrrp"]["vrrp.checksum.status"] == CHECKSUM_BAD
