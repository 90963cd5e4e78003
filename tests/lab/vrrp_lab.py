"""VRRP on top of the lab: the interop cases, a two-router topology, and a scripted
VRRP speaker built from routerha's sans-IO codec (``ScriptedRouter``).

The same five cases run in both directions (keepalived to routerha in
test_keepalived_wire.py, routerha to keepalived in test_keepalived_accepts_routerha.py):
VRRPv2 without authentication, with a simple password and with AH; VRRPv3 over IPv4
and over IPv6.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any

from lab.netlab import (
    IPPROTO_AH,
    IPPROTO_VRRP,
    VRRP_GROUP_V4,
    VRRP_GROUP_V6,
    Capture,
    Datagram,
    Lab,
    Periodic,
    keepalived_instance,
    vrrp_send_socket,
)
from routerha.model.load import load_config
from routerha.model.vrrp import AuthType, VrrpGroup
from routerha.vrrp.drops import PacketError
from routerha.vrrp.receive import AhSequence, Received, Receiver
from routerha.vrrp.send import Sender

VRID = 51
PASSWORD = "YOGHURT"
INSTANCE = "VI_1"
GROUP = "LAN"
R1_V4, R2_V4 = "10.9.0.1/24", "10.9.0.2/24"
R1_V6, R2_V6 = "fd00:9::1/64", "fd00:9::2/64"
VIP_V4, VIP_V6 = "10.9.0.100/24", "fd00:9::100/64"


@dataclass(frozen=True)
class Case:
    id: str
    version: int
    ipv6: bool = False
    interval: float = 1.0
    auth: str | None = None  # keepalived's auth_type: PASS or AH
    #: Unicast between r1 and r2 (keepalived unicast_peer, routerha peer_address).
    unicast: bool = False
    #: keepalived's unicast_ttl (None: its default, 255).
    unicast_ttl: int | None = None

    @property
    def vip(self) -> str:
        return VIP_V6 if self.ipv6 else VIP_V4

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.ipv6 else socket.AF_INET

    @property
    def proto(self) -> int:
        return IPPROTO_AH if self.auth == "AH" else IPPROTO_VRRP

    @property
    def interval_cs(self) -> int:
        return round(self.interval * 100)

    def master_down(self, priority: int) -> float:
        """RFC 5798 Master_Down_Interval of a backup with ``priority``, in seconds."""
        return 3 * self.interval + (256 - priority) * self.interval / 256


CASES = [
    Case("v2-none", 2),
    Case("v2-pass", 2, auth="PASS"),
    Case("v2-ah", 2, auth="AH"),
    Case("v3-ipv4", 3, interval=0.1),
    Case("v3-ipv6", 3, ipv6=True, interval=0.1),
]
CASE_IDS = [c.id for c in CASES]
#: IPv4 unicast (keepalived's unicast_peer): AH hashes TTL 0 then.
UNICAST_CASES = [
    Case("v2-ah-unicast", 2, auth="AH", unicast=True),
    Case("v3-ipv4-unicast", 3, interval=0.1, unicast=True),
]
BY_ID = {c.id: c for c in CASES + UNICAST_CASES}


def two_routers(lab: Lab) -> None:
    """r1 and r2 on one segment, each with an IPv4 and an IPv6 address on eth0."""
    lab.add_host("r1", R1_V4, R1_V6)
    lab.add_host("r2", R2_V4, R2_V6)


def keepalived_config(case: Case, *, priority: int, state: str = "MASTER") -> str:
    """keepalived on r1 for ``case`` (unicast: to r2)."""
    extra = ""
    if case.unicast:
        r1, r2 = (ipaddress.ip_interface(a).ip for a in (R1_V4, R2_V4))
        extra = f"    unicast_src_ip {r1}\n    unicast_peer {{\n        {r2}\n    }}\n"
        if case.unicast_ttl is not None:
            extra += f"    unicast_ttl {case.unicast_ttl}\n"
    return keepalived_instance(
        INSTANCE,
        vrid=VRID,
        priority=priority,
        addresses=[case.vip],
        version=case.version,
        advert_int=case.interval,
        auth_type=case.auth,
        auth_pass=PASSWORD if case.auth else None,
        state=state,
        extra=extra,
    )


def routerha_group(
    case: Case,
    *,
    password: str = PASSWORD,
    auth: str | None = "same",
    **settings: Any,
) -> VrrpGroup:
    """routerha's group on r2 matching ``case`` (``auth``: "same", None, "PASS" or "AH")."""
    auth_type = case.auth if auth == "same" else auth
    data: dict[str, Any] = {
        "interface": "eth0",
        "vrid": VRID,
        "address": [case.vip],
        "version": case.version,
        "priority": 100,
        "advertise_interval": case.interval,
    }
    if case.unicast:
        data["peer_address"] = [str(ipaddress.ip_interface(R1_V4).ip)]
    if auth_type is not None:
        kind = {"PASS": "plaintext-password", "AH": "ah"}[auth_type]
        data["authentication"] = {"type": kind, "password": password}
    data.update(settings)
    return load_config({"vrrp": {"groups": {GROUP: data}}}).groups[GROUP]


def other_version(case: Case) -> VrrpGroup:
    """The case's group speaking the other VRRP version (built directly for IPv6,
    which the loader rightly refuses as VRRPv2)."""
    if case.ipv6:
        return dataclasses.replace(routerha_group(case), version=2)
    if case.version == 2:
        return routerha_group(case, auth=None, version=3)
    return routerha_group(case, version=2, advertise_interval=1)


def receive(receiver: Receiver, datagram: Datagram) -> Received:
    """Feed a captured datagram to ``receiver`` as the daemon would."""
    if datagram.src.version == 6:
        return receiver.receive_ipv6(datagram.data, datagram.src, datagram.dst, datagram.hop_limit)
    return receiver.receive_ipv4(datagram.data)


class ScriptedRouter:
    """A VRRP speaker in a lab host made of routerha's codec, driven by the test.

    It sends with ``routerha.vrrp.send.Sender`` (IPv4: whole datagrams on an
    IP_HDRINCL socket; IPv6: the message on a protocol-112 socket from the
    link-local address) and, before every send, feeds what it heard to a
    ``Receiver`` sharing the AH sequence counter, as routerhad does: so its AH
    sequence numbers continue above the peer's, which keepalived requires.
    ``heard`` keeps every result (Received or PacketError).
    """

    def __init__(self, lab: Lab, host: str, group: VrrpGroup, *, ifname: str = "eth0") -> None:
        self.group = group
        family = socket.AF_INET6 if group.ipv6 else socket.AF_INET
        if group.ipv6:
            self.source: ipaddress.IPv4Address | ipaddress.IPv6Address = lab.link_local(
                host, ifname
            )
            self.destination: Any = ipaddress.IPv6Address(VRRP_GROUP_V6)
        else:
            iface = lab.interface(host, ifname)
            self.source = next(a.ip for a in iface.addresses if a.version == 4)
            self.destination = ipaddress.IPv4Address(VRRP_GROUP_V4)
        self.unicast = bool(group.peer_address)
        if self.unicast:  # one peer is enough for the lab
            self.destination = group.peer_address[0]
        self.ifindex = lab.ifindex(host, ifname)
        sequences: dict[str, AhSequence] = {}
        self.receiver = Receiver([group], local_addresses=(self.source,), sequences=sequences)
        self.sender = Sender(group, self.source, sequence=sequences[group.name])
        auth = group.authentication
        proto = IPPROTO_AH if auth is not None and auth.type is AuthType.AH else IPPROTO_VRRP
        groups = () if self.unicast else None
        self.capture = Capture(lab, host, proto, family=family, ifname=ifname, groups=groups)
        self.sock = vrrp_send_socket(lab, host, family, ifname)
        self.heard: list[Received | PacketError] = []
        self.sent = 0
        self.priority = group.priority
        self._periodic: Periodic | None = None

    def listen(self) -> None:
        """Process whatever arrived since the last call (never blocks)."""
        while (datagram := self.capture.receive(0)) is not None:
            try:
                self.heard.append(receive(self.receiver, datagram))
            except PacketError as exc:
                self.heard.append(exc)

    def hear(self, timeout: float) -> Received:
        """Wait for the next advertisement the Receiver accepts; return it."""
        deadline = time.monotonic() + timeout
        while (datagram := self.capture.receive(deadline - time.monotonic())) is not None:
            try:
                received = receive(self.receiver, datagram)
            except PacketError as exc:
                self.heard.append(exc)
                continue
            self.heard.append(received)
            return received
        raise AssertionError(f"heard no acceptable advert in {timeout} s: {self.heard}")

    def send(self, priority: int | None = None) -> None:
        """One advertisement with ``priority`` (default: ``self.priority``)."""
        self.listen()
        priority = self.priority if priority is None else priority
        if self.group.ipv6:
            message = self.sender.message(priority, self.destination)
            self.sock.sendto(message, (str(self.destination), 0, 0, self.ifindex))
        else:
            datagram = self.sender.ipv4_datagram(priority, self.destination, unicast=self.unicast)
            self.sock.sendto(datagram, (str(self.destination), 0))
        self.sent += 1

    def start(self, priority: int) -> None:
        """Advertise ``priority`` every advertisement interval until ``stop``."""
        self.priority = priority
        self._periodic = Periodic(self.group.advertise_interval, self.send)

    def stop(self, *, resign: bool = False) -> None:
        """Stop advertising; with ``resign`` send one priority-0 advertisement."""
        if self._periodic is not None:
            periodic, self._periodic = self._periodic, None
            periodic.stop()
        if resign:
            self.send(0)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.capture.close()
            self.sock.close()

    def __enter__(self) -> ScriptedRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
