"""routerha's codec and receive checks against real keepalived 2.2.7 advertisements.

For each case keepalived is master on r1 (priority 200, VRID 51, VIP 10.9.0.100/24
or fd00:9::100/64) and r2 captures its adverts with a raw socket; no routerha daemon
runs. The captures are made once per module, every case in its own lab, all side by
side (the VRRPv2 ones wait ~3.2 s for keepalived's Master_Down_Interval); then every
test feeds them to ``routerha.vrrp.receive.Receiver``: configured as keepalived is,
it accepts them; configured wrongly, it drops them for the right reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import struct
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.netlab import VRRP_GROUP_V4, VRRP_GROUP_V6, Capture, Datagram, Lab, keepalived
from routerha.vrrp.drops import DropReason, PacketError
from routerha.vrrp.receive import Receiver
from tests.conftest import require_netns
from tests.lab.vrrp_lab import (
    BY_ID,
    CASES,
    GROUP,
    R1_V4,
    R2_V4,
    UNICAST_CASES,
    Case,
    keepalived_config,
    other_version,
    receive,
    routerha_group,
    two_routers,
)

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.timeout(90)]

ADVERTS = 3
AUTH_CASES = [BY_ID["v2-pass"], BY_ID["v2-ah"], BY_ID["v2-ah-unicast"]]
#: keepalived sends unicast adverts with its ``unicast_ttl`` and accepts any TTL from
#: unicast peers (keepalived/vrrp/vrrp.c: "TTL/HL is 255 (but not if unicast)").
TTL_CASE = Case("v2-ah-unicast-ttl64", 2, auth="AH", unicast=True, unicast_ttl=64)
WIRE_CASES = [*CASES, *UNICAST_CASES]
WIRE_IDS = [c.id for c in WIRE_CASES]


@dataclasses.dataclass
class Captured:
    r1: ipaddress.IPv4Address | ipaddress.IPv6Address
    adverts: list[Datagram]
    report: str  # keepalived's state history and log


def capture_keepalived_adverts(lab: Lab, case: Case) -> Captured:
    """Start keepalived as master on r1 and capture ADVERTS of its adverts on r2."""
    two_routers(lab)
    r1 = lab.link_local("r1") if case.ipv6 else ipaddress.ip_interface(R1_V4).ip
    groups = () if case.unicast else None
    with Capture(lab, "r2", case.proto, family=case.family, groups=groups) as cap:
        ka = keepalived(lab, "r1", keepalived_config(case, priority=200))
        # keepalived starts as backup and takes over after Master_Down_Interval.
        timeout = case.master_down(200) + ADVERTS * case.interval + 3
        adverts = cap.collect(ADVERTS, timeout, match=lambda d: d.src == r1)
    ka.stop()  # here, so the labs' keepalived stop side by side too
    return Captured(r1, adverts, ka.report())


@pytest.fixture(scope="module")
def captures():
    """Case id -> Captured (or the exception its capture raised)."""
    require_netns()
    cases = [*WIRE_CASES, TTL_CASE]
    with contextlib.ExitStack() as stack:
        labs = [stack.enter_context(Lab()) for _ in cases]

        def run(lab_case):
            try:
                return capture_keepalived_adverts(*lab_case)
            except Exception as exc:  # reported by the tests of that case
                return exc

        with ThreadPoolExecutor(len(cases)) as pool:
            results = list(pool.map(run, zip(labs, cases)))
    return {case.id: result for case, result in zip(cases, results)}


def adverts_of(captures, case: Case) -> Captured:
    captured = captures[case.id]
    if isinstance(captured, Exception):
        raise captured
    assert len(captured.adverts) == ADVERTS, (
        f"captured {len(captured.adverts)} of {ADVERTS} adverts\n{captured.report}"
    )
    return captured


def drop_reason(receiver: Receiver, datagram: Datagram) -> DropReason:
    with pytest.raises(PacketError) as caught:
        receive(receiver, datagram)
    return caught.value.reason


@pytest.mark.parametrize("case", WIRE_CASES, ids=WIRE_IDS)
def test_receiver_accepts_keepalived_adverts(captures, case):
    captured = adverts_of(captures, case)
    destination = ipaddress.ip_address(VRRP_GROUP_V6 if case.ipv6 else VRRP_GROUP_V4)
    if case.unicast:
        destination = ipaddress.ip_interface(R2_V4).ip
    for datagram in captured.adverts:
        assert datagram.hop_limit == 255
        assert datagram.dst == destination

    receiver = Receiver([routerha_group(case)])
    # One receiver for all of them: with AH its sequence counter must accept each.
    for received in (receive(receiver, d) for d in captured.adverts):
        assert received.group == GROUP
        assert received.event.source == captured.r1
        assert received.event.priority == 200
        assert received.event.max_advert_interval == case.interval_cs
        assert received.advert.version == case.version
        assert received.advert.vrid == 51
        assert received.advert.addresses == (ipaddress.ip_interface(case.vip).ip,)
        assert not received.address_mismatch
        if case.version == 2:
            assert received.advert.auth_type == {None: 0, "PASS": 1, "AH": 2}[case.auth]


@pytest.mark.parametrize("case", WIRE_CASES, ids=WIRE_IDS)
def test_receiver_drops_wrong_version_vrid_and_checksum(captures, case):
    first = adverts_of(captures, case).adverts[0]

    assert drop_reason(Receiver([other_version(case)]), first) is DropReason.VERSION
    assert drop_reason(Receiver([routerha_group(case, vrid=52)]), first) is DropReason.VRID

    # One bit of the priority flipped: the checksum (with the pseudo-header in v3)
    # catches it before the AH ICV is looked at.
    offset = 0 if case.ipv6 else 20 + (24 if case.auth == "AH" else 0)
    data = bytearray(first.data)
    data[offset + 2] ^= 0x01
    tampered = dataclasses.replace(first, data=bytes(data))
    assert drop_reason(Receiver([routerha_group(case)]), tampered) is DropReason.CHECKSUM

    if case.version == 2:
        slower = routerha_group(case, advertise_interval=2)
        assert drop_reason(Receiver([slower]), first) is DropReason.INTERVAL


@pytest.mark.parametrize("case", AUTH_CASES, ids=[c.id for c in AUTH_CASES])
def test_receiver_checks_keepalived_authentication(captures, case):
    first = adverts_of(captures, case).adverts[0]

    wrong = Receiver([routerha_group(case, password="WRONGPW")])
    assert drop_reason(wrong, first) is DropReason.AUTH_DATA
    other = "PASS" if case.auth == "AH" else "AH"
    for auth in (None, other):
        receiver = Receiver([routerha_group(case, auth=auth)])
        assert drop_reason(receiver, first) is DropReason.AUTH_TYPE, f"routerha auth {auth}"


def test_receiver_refuses_auth_from_keepalived_without_it(captures):
    first = adverts_of(captures, BY_ID["v2-none"]).adverts[0]
    for auth in ("PASS", "AH"):
        receiver = Receiver([routerha_group(BY_ID["v2-none"], auth=auth)])
        assert drop_reason(receiver, first) is DropReason.AUTH_TYPE, f"routerha auth {auth}"


def test_keepalived_ah_sequence_numbers(captures):
    case = BY_ID["v2-ah"]
    adverts = adverts_of(captures, case).adverts

    sequences = [struct.unpack_from("!I", d.data, 20 + 8)[0] for d in adverts]
    assert all(a < b for a, b in zip(sequences, sequences[1:])), sequences

    receiver = Receiver([routerha_group(case)])
    for datagram in adverts:
        receive(receiver, datagram)
    # Replays, of the newest advert or an older one, are refused.
    assert drop_reason(receiver, adverts[-1]) is DropReason.AUTH_REPLAY
    assert drop_reason(receiver, adverts[0]) is DropReason.AUTH_REPLAY
    # A receiver that has seen only the newest refuses the older ones.
    fresh = Receiver([routerha_group(case)])
    receive(fresh, adverts[-1])
    assert drop_reason(fresh, adverts[-2]) is DropReason.AUTH_REPLAY


def test_receiver_accepts_unicast_adverts_with_keepalived_unicast_ttl(captures):
    # routerha f2ec7b9 dropped these (DropReason.TTL); keepalived accepts any TTL from
    # unicast peers and hashes TTL 0 into the AH ICV because it may vary.
    captured = adverts_of(captures, TTL_CASE)
    assert all(d.hop_limit == 64 for d in captured.adverts)
    received = receive(Receiver([routerha_group(TTL_CASE)]), captured.adverts[0])
    assert received.event.priority == 200


@pytest.mark.parametrize("case", UNICAST_CASES, ids=[c.id for c in UNICAST_CASES])
def test_receiver_drops_unicast_from_unknown_peer(captures, case):
    first = adverts_of(captures, case).adverts[0]
    stranger = Receiver([routerha_group(case, peer_address=["10.9.0.3"])])
    assert drop_reason(stranger, first) is DropReason.UNKNOWN_PEER
    # A multicast group does not take unicast adverts either.
    multicast = Receiver([routerha_group(case, peer_address=[])])
    assert drop_reason(multicast, first) is DropReason.UNKNOWN_PEER
