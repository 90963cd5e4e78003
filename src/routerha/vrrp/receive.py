"""Receive checks, RFC 3768 section 7.1 and RFC 5798 section 7.1, sans-IO.

``Receiver`` holds the groups of one interface and address family. It takes the
bytes a raw socket delivered (and, for IPv6, the addresses and hop limit from the
ancillary data) and returns the group name and an ``AdvertReceived`` event for the
state machine, or raises PacketError naming the check that failed. Nothing else
escapes: a malformed or hostile packet is a counted drop, never a crash.

Order of the checks (each a DropReason): IP envelope, TTL / hop limit 255, version
and type, length against the address count, VRID configured, version of the group,
checksum, authentication type, authentication data (password, or AH ICV, SPI and
sequence number above the floor of that source: ``routerha.vrrp.ahsequence``),
VRRPv2 advertisement interval, address list.

The unchanged advert: a backup spends its life receiving the same datagram from
its master, several times a second per group. The last datagram accepted for each
VRID is kept with what the checks made of it; one that is the same octet for octet
(and, for IPv6, from the same addresses with the same hop limit) gets that result
back without the checks, which are pure functions of those octets and of this
Receiver's groups. Only the IPv4 identification and header checksum may differ
(the kernel has verified the latter). AH datagrams never take this path: their
sequence number must rise, so an identical one is a replay.

The address list: RFC 3768 and RFC 5798 section 7.1 say a mismatch is logged and the
packet dropped unless the sender is the address owner (priority 255), whose packet
is accepted. Both outcomes are counted (``ADDRESS_LIST`` drop, ``address_mismatch``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from routerha.ip import IPAddress
from routerha.model.vrrp import OWNER_PRIORITY, PASSWORD_OCTETS, AuthType, VrrpGroup
from routerha.vrrp import ipv4, packet
from routerha.vrrp.ahsequence import AhSequence
from routerha.vrrp.constants import VRRP_TTL
from routerha.vrrp.drops import DropReason, PacketError
from routerha.vrrp.events import AdvertReceived


@dataclass
class _GroupCheck:
    group: VrrpGroup
    sequence: AhSequence
    keys: tuple[bytes, ...] = field(init=False)

    def __post_init__(self) -> None:
        auth = self.group.authentication
        passwords = auth.receive_passwords if auth else ()
        if passwords:
            ipv4.load_authentication()
        # Simple passwords and AH keys are both the password in 8 zero-padded octets.
        self.keys = tuple(ipv4.ah_key(p) for p in passwords)


@dataclass(frozen=True)
class Received:
    """A packet that passed the checks."""

    group: str
    event: AdvertReceived
    advert: packet.Advertisement
    #: The address list differs from ours, accepted because the sender owns it.
    address_mismatch: bool = False


@dataclass(frozen=True)
class _Accepted:
    """The last datagram accepted for a VRID, in the parts that decide the checks."""

    #: IPv4: octets 0-3 and 6-9 of the header (all but identification and checksum)
    #: and everything from the source address on. IPv6: the VRRP message.
    head: bytes
    middle: bytes
    tail: bytes
    #: IPv6: source, destination and hop limit from the ancillary data.
    envelope: tuple[object, ...]
    received: Received


#: Octets of an IPv4 header without options, and where the VRID then sits.
_IPV4_PLAIN = 0x45
_IPV4_VRID_AT = ipv4.IPV4_HEADER_LEN + 1


class Receiver:
    """The groups of one interface and address family, by VRID."""

    def __init__(
        self,
        groups: list[VrrpGroup],
        *,
        local_addresses: tuple[IPAddress, ...] = (),
        pseudo_header_checksum: bool = True,
        sequences: dict[str, AhSequence] | None = None,
    ) -> None:
        self.ipv6 = bool(groups) and groups[0].ipv6
        sequences = sequences if sequences is not None else {}
        self.by_vrid = {
            g.vrid: _GroupCheck(g, sequences.setdefault(g.name, AhSequence())) for g in groups
        }
        self.local_addresses = frozenset(local_addresses)
        self.pseudo_header_checksum = pseudo_header_checksum
        #: VRID -> the last datagram accepted for it (see the module's docstring).
        self._accepted: dict[int, _Accepted] = {}
        #: Datagrams answered from ``_accepted``.
        self.unchanged = 0

    def receive_ipv4(self, data: bytes) -> Received:
        """A datagram read from a raw IPv4 socket (protocol 112 or 51), header included."""
        if len(data) > _IPV4_VRID_AT and data[0] == _IPV4_PLAIN:
            seen = self._accepted.get(data[_IPV4_VRID_AT])
            if (
                seen is not None
                and data[12:] == seen.tail
                and data[:4] == seen.head
                and data[6:10] == seen.middle
            ):
                self.unchanged += 1
                return seen.received
        datagram = ipv4.parse(data)
        received = self._check(datagram.payload, datagram.src, datagram.dst, datagram.ttl, datagram)
        if datagram.ah is None and data[0] == _IPV4_PLAIN:
            self._accepted[received.advert.vrid] = _Accepted(
                data[:4], data[6:10], data[12:], (), received
            )
        return received

    def receive_ipv6(
        self,
        payload: bytes,
        src: ipaddress.IPv6Address,
        dst: ipaddress.IPv6Address,
        hop_limit: int,
    ) -> Received:
        """A VRRP message from a raw IPv6 socket; addresses and hop limit from cmsg."""
        envelope = (src, dst, hop_limit)
        if len(payload) > 1:
            seen = self._accepted.get(payload[1])
            if seen is not None and payload == seen.tail and envelope == seen.envelope:
                self.unchanged += 1
                return seen.received
        received = self._check(payload, src, dst, hop_limit, None)
        self._accepted[received.advert.vrid] = _Accepted(b"", b"", payload, envelope, received)
        return received

    def _check(
        self,
        payload: bytes,
        src: IPAddress,
        dst: IPAddress,
        ttl: int,
        datagram: ipv4.Ipv4Datagram | None,
    ) -> Received:
        if src in self.local_addresses:
            raise PacketError(DropReason.OWN_PACKET, f"sent by this router ({src})")
        # Unicast peers (RFC 9568 section 5) may sit behind a router: their TTL is not
        # checked, but they must be configured peers.
        unicast = not dst.is_multicast
        if not unicast and ttl != VRRP_TTL:
            raise PacketError(DropReason.TTL, f"TTL/hop limit {ttl} from {src}, must be 255")
        advert = packet.decode(payload, ipv6=src.version == 6)
        check = self.by_vrid.get(advert.vrid)
        if check is None:
            raise PacketError(
                DropReason.VRID, f"VRID {advert.vrid} from {src} is not configured here"
            )
        group = check.group
        if (unicast or group.peer_address) and src not in group.peer_address:
            # A group with unicast peers listens to them only, multicast or not.
            raise PacketError(
                DropReason.UNKNOWN_PEER, f"advert from {src}, not a peer of group {group.name}"
            )
        if advert.version != group.version:
            raise PacketError(
                DropReason.VERSION,
                f"VRRPv{advert.version} from {src}, group {group.name} speaks VRRPv{group.version}",
            )
        if not packet.checksum_ok(
            payload, src, dst, pseudo_header_checksum=self.pseudo_header_checksum
        ):
            raise PacketError(DropReason.CHECKSUM, f"bad checksum from {src}")
        if group.version == 3 and datagram is not None and datagram.ah is not None:
            raise PacketError(DropReason.AUTH_TYPE, f"AH from {src}: VRRPv3 has no authentication")
        if group.version == 2:
            self._check_auth(check, advert, datagram, unicast, src)
            if advert.max_advert_interval != group.advertise_interval_cs:
                raise PacketError(
                    DropReason.INTERVAL,
                    f"interval {advert.max_advert_interval // 100} s from {src}, "
                    f"group {group.name} uses {group.advertise_interval_cs // 100} s",
                )
        mismatch = set(advert.addresses) != set(group.advertised_addresses)
        if mismatch and advert.priority != OWNER_PRIORITY:
            raise PacketError(
                DropReason.ADDRESS_LIST,
                f"addresses {sorted(map(str, advert.addresses))} from {src} differ from "
                f"group {group.name}'s {sorted(map(str, group.advertised_addresses))}",
            )
        event = AdvertReceived(src, advert.priority, advert.max_advert_interval)
        return Received(group.name, event, advert, address_mismatch=mismatch)

    def _check_auth(
        self,
        check: _GroupCheck,
        advert: packet.Advertisement,
        datagram: ipv4.Ipv4Datagram | None,
        unicast: bool,
        src: IPAddress,
    ) -> None:
        """RFC 3768 section 7.1 / RFC 2338 section 5.3.6: auth type, then auth data."""
        auth = check.group.authentication
        wanted = auth.type.wire_code if auth else packet.V2_AUTH_NONE
        has_ah = datagram is not None and datagram.ah is not None
        if advert.auth_type != wanted or has_ah != (wanted == packet.V2_AUTH_AH):
            raise PacketError(
                DropReason.AUTH_TYPE,
                f"auth type {advert.auth_type}{' with AH' if has_ah else ''} from {src}, "
                f"group {check.group.name} expects {wanted}",
            )
        if auth is None:
            return
        if auth.type is AuthType.PLAINTEXT:
            if not any(ipv4.same_digest(advert.auth_data, k) for k in check.keys):
                raise PacketError(DropReason.AUTH_DATA, f"wrong password from {src}")
            return
        if datagram is None or datagram.ah is None:  # ruled out by the type check above
            raise PacketError(DropReason.AUTH_TYPE, f"no AH from {src}")
        if not any(datagram.icv_ok(k, unicast=unicast) for k in check.keys):
            raise PacketError(DropReason.AUTH_DATA, f"AH ICV does not match from {src}")
        if datagram.ah.spi != datagram.src.packed:
            raise PacketError(DropReason.AUTH_DATA, f"AH SPI is not the source address {src}")
        if not check.sequence.accept(str(src), datagram.ah.sequence):
            raise PacketError(
                DropReason.AUTH_REPLAY,
                f"AH sequence {datagram.ah.sequence} from {src} is not above "
                f"{check.sequence.floor(str(src))}",
            )


def password_octets(password: str) -> bytes:
    """The 8 auth-data octets of a VRRPv2 simple password (RFC 3768 section 5.3.6)."""
    raw = password.encode()
    if len(raw) > PASSWORD_OCTETS:
        raise ValueError(f"a VRRPv2 password is at most {PASSWORD_OCTETS} octets")
    return raw.ljust(PASSWORD_OCTETS, b"\0")
