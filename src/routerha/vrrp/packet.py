"""VRRP advertisements on the wire: RFC 3768 section 5 (v2) and RFC 5798 section 5 (v3).

VRRPv2 (IPv4 only)::

    0: version 2 | type 1   1: VRID   2: priority   3: count IPv4 addresses
    4: auth type            5: advertisement interval (seconds)
    6: checksum (16 bits, over the VRRP message)
    8: IPv4 addresses (4 octets each), then 8 octets of authentication data

VRRPv3 (IPv4 or IPv6)::

    0: version 3 | type 1   1: VRID   2: priority   3: count addresses
    4: 4 reserved bits | max advertisement interval (12 bits, centiseconds)
    6: checksum (16 bits, with the IP pseudo-header)
    8: addresses (4 or 16 octets each)

The address family is not in the message; the socket it arrived on says it, so
``decode`` is told. The checksum is computed on encode and checked separately
(``checksum_ok``) because it needs the IP addresses of the packet around it.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from routerha.ip import IPAddress
from routerha.vrrp.checksum import internet_checksum, pseudo_header
from routerha.vrrp.constants import TYPE_ADVERTISEMENT
from routerha.vrrp.drops import DropReason, PacketError

HEADER_LEN = 8
V2_AUTH_LEN = 8
V2_AUTH_NONE = 0
V2_AUTH_SIMPLE = 1
V2_AUTH_AH = 2
V3_MAX_INTERVAL_CS = 0x0FFF
_HEADER = struct.Struct("!BBBBBBH")
_V3_HEADER = struct.Struct("!BBBBHH")


@dataclass(frozen=True)
class Advertisement:
    """One VRRP ADVERTISEMENT, version-neutral.

    ``max_advert_interval`` is in centiseconds for both versions (VRRPv2's whole
    seconds times 100), so the state machine needs no version switch for it.
    ``auth_type`` and ``auth_data`` exist in VRRPv2 only (0 and b"" in VRRPv3).
    """

    version: int
    vrid: int
    priority: int
    addresses: tuple[IPAddress, ...]
    max_advert_interval: int
    auth_type: int = V2_AUTH_NONE
    auth_data: bytes = b""
    type: int = TYPE_ADVERTISEMENT

    def __post_init__(self) -> None:
        if self.version not in (2, 3):
            raise ValueError(f"VRRP version must be 2 or 3, not {self.version}")
        for name, value in (("vrid", self.vrid), ("priority", self.priority)):
            if not 0 <= value <= 255:
                raise ValueError(f"{name} {value} does not fit in one octet")
        if not 0 <= self.type <= 15:
            raise ValueError(f"type {self.type} does not fit in four bits")
        if len(self.addresses) > 255:
            raise ValueError("at most 255 addresses fit in one advertisement")
        if len({a.version for a in self.addresses}) > 1:
            raise ValueError("one advertisement carries one address family")
        if self.version == 2:
            if self.addresses and self.addresses[0].version != 4:
                raise ValueError("VRRPv2 carries IPv4 addresses only")
            if self.max_advert_interval % 100 or not 0 <= self.max_advert_interval <= 25500:
                raise ValueError("VRRPv2 advertises whole seconds from 0 to 255")
            if not 0 <= self.auth_type <= 255 or len(self.auth_data) != V2_AUTH_LEN:
                raise ValueError("VRRPv2 needs an auth type octet and 8 octets of auth data")
        else:
            if not 0 <= self.max_advert_interval <= V3_MAX_INTERVAL_CS:
                raise ValueError("VRRPv3 advertises 0 to 4095 centiseconds")
            if self.auth_type or self.auth_data:
                raise ValueError("VRRPv3 has no authentication fields")

    @property
    def ipv6(self) -> bool:
        return bool(self.addresses) and self.addresses[0].version == 6

    def encode(
        self,
        src: IPAddress | None = None,
        dst: IPAddress | None = None,
        *,
        pseudo_header_checksum: bool = True,
    ) -> bytes:
        """The message with its checksum filled in.

        VRRPv3 sums the IP pseudo-header, so it needs ``src`` and ``dst``; with
        ``pseudo_header_checksum=False`` a VRRPv3/IPv4 message is summed alone, as
        VRRPv2 is (keepalived's ``v3_checksum_as_v2``, some vendors' v3).
        """
        message = self._encode_with_checksum(0)
        return self._encode_with_checksum(
            _checksum_of(message, self.version, src, dst, pseudo_header_checksum)
        )

    def _encode_with_checksum(self, checksum: int) -> bytes:
        first = (self.version << 4) | self.type
        if self.version == 2:
            header = _HEADER.pack(
                first,
                self.vrid,
                self.priority,
                len(self.addresses),
                self.auth_type,
                self.max_advert_interval // 100,
                checksum,
            )
            trailer = self.auth_data
        else:
            header = _V3_HEADER.pack(
                first,
                self.vrid,
                self.priority,
                len(self.addresses),
                self.max_advert_interval,
                checksum,
            )
            trailer = b""
        return header + b"".join(a.packed for a in self.addresses) + trailer


def _checksum_of(
    message: bytes,
    version: int,
    src: IPAddress | None,
    dst: IPAddress | None,
    with_pseudo_header: bool,
) -> int:
    if version == 2:
        return internet_checksum(message)
    if src is None or dst is None:
        if not with_pseudo_header:
            return internet_checksum(message)
        raise ValueError("a VRRPv3 checksum covers the pseudo-header: give src and dst")
    if not with_pseudo_header and src.version == 6:
        raise ValueError("IPv6 checksums always include the pseudo-header")
    prefix = pseudo_header(src, dst, len(message)) if with_pseudo_header else b""
    return internet_checksum(prefix + message)


def checksum_ok(
    message: bytes,
    src: IPAddress | None = None,
    dst: IPAddress | None = None,
    *,
    pseudo_header_checksum: bool = True,
) -> bool:
    """Whether a received message's checksum is right (version read from octet 0)."""
    if not message:
        return False
    version = message[0] >> 4
    if version not in (2, 3):
        return False
    if version == 3 and src is not None and src.version == 6:
        pseudo_header_checksum = True
    return _checksum_of(message, version, src, dst, pseudo_header_checksum) == 0


def decode(data: bytes, *, ipv6: bool = False) -> Advertisement:
    """Parse a VRRP message received on an IPv4 (``ipv6=False``) or IPv6 socket.

    Raises PacketError naming the failed check; never anything else.
    """
    if len(data) < HEADER_LEN:
        raise PacketError(DropReason.LENGTH, f"{len(data)} octets is shorter than a header")
    first, vrid, priority, count, octet4, octet5, _checksum = _HEADER.unpack_from(data)
    version, kind = first >> 4, first & 0x0F
    if version not in (2, 3):
        raise PacketError(DropReason.VERSION, f"version {version} is not 2 or 3")
    if version == 2 and ipv6:
        raise PacketError(DropReason.VERSION, "VRRPv2 over IPv6")
    if kind != TYPE_ADVERTISEMENT:
        raise PacketError(DropReason.TYPE, f"type {kind} is not ADVERTISEMENT (1)")
    size = 16 if ipv6 else 4
    expected = HEADER_LEN + count * size + (V2_AUTH_LEN if version == 2 else 0)
    if len(data) != expected:
        raise PacketError(
            DropReason.LENGTH,
            f"{len(data)} octets, but {count} addresses make {expected}",
        )
    parse = ipaddress.IPv6Address if ipv6 else ipaddress.IPv4Address
    addresses = tuple(
        parse(data[HEADER_LEN + i * size : HEADER_LEN + (i + 1) * size]) for i in range(count)
    )
    if version == 2:
        return Advertisement(
            version=2,
            vrid=vrid,
            priority=priority,
            addresses=addresses,
            max_advert_interval=octet5 * 100,
            auth_type=octet4,
            auth_data=bytes(data[-V2_AUTH_LEN:]),
            type=kind,
        )
    return Advertisement(
        version=3,
        vrid=vrid,
        priority=priority,
        addresses=addresses,
        max_advert_interval=((octet4 << 8) | octet5) & V3_MAX_INTERVAL_CS,
        type=kind,
    )
