"""The IPv4 datagram around a VRRP message, with IPsec AH (RFC 2402) for VRRPv2 type 2.

routerhad builds the IPv4 header itself (IP_HDRINCL), as keepalived does: the AH
ICV covers the header, so it must be known byte for byte before it is sent.

VRRPv2 authentication type 2 as keepalived implements it (and so as VyOS and
EdgeOS speak it), after RFC 2338 section 5.3.6.3 and RFC 2402:

- IPv4 header: TOS 0xC0, DF clear, an identification counter, TTL 255, protocol 51.
- AH: next header 112, payload length 4, SPI = the IPv4 source address,
  a sequence number, then the 96-bit ICV (HMAC-MD5 truncated to 12 octets).
- The VRRP message follows with auth type 2 and eight zero auth-data octets; its
  checksum covers the VRRP message only.
- The ICV is HMAC-MD5 keyed with the password (zero padded to 8 octets) over the
  IPv4 header with TOS, fragment offset and header checksum zeroed (and TTL zeroed
  for unicast), the AH header with the ICV zeroed, and the VRRP message.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from routerha.vrrp.checksum import internet_checksum
from routerha.vrrp.constants import IPPROTO_AH, IPPROTO_VRRP, VRRP_TTL
from routerha.vrrp.drops import DropReason, PacketError

IPV4_HEADER_LEN = 20
AH_LEN = 24
ICV_LEN = 12
#: AH length in 32-bit words minus 2 (RFC 2402 section 2.2).
AH_PAYLOAD_LEN = AH_LEN // 4 - 2
#: IPTOS_PREC_INTERNETCONTROL, as keepalived and FRR send VRRP.
VRRP_TOS = 0xC0
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_AH = struct.Struct("!BBH4sI12s")
_U16 = struct.Struct("!H")
_IDENT_AT = 4
_CHECKSUM_AT = 10


def ah_key(password: str) -> bytes:
    """The HMAC key: the password in 8 octets, zero padded (keepalived's auth_data)."""
    return password.encode()[:8].ljust(8, b"\0")


@dataclass(frozen=True)
class AuthHeader:
    """An IPsec Authentication Header as VRRP uses it."""

    spi: bytes
    sequence: int
    icv: bytes
    next_header: int = IPPROTO_VRRP
    payload_len: int = AH_PAYLOAD_LEN
    #: Sent as 0, but covered by the ICV as received (RFC 2402 section 3.3.3.1.2).
    reserved: int = 0


@dataclass(frozen=True)
class Ipv4Datagram:
    """A received IPv4 datagram carrying VRRP, opened but not yet authenticated."""

    src: ipaddress.IPv4Address
    dst: ipaddress.IPv4Address
    ttl: int
    protocol: int
    header: bytes
    ah: AuthHeader | None
    payload: bytes

    def icv_ok(self, key: bytes, *, unicast: bool = False) -> bool:
        """Whether the AH ICV matches ``key`` (constant-time comparison)."""
        if self.ah is None:
            return False
        expected = _icv(self.header, _pack_ah(self.ah, b"\0" * ICV_LEN), self.payload, key, unicast)
        return same_digest(expected, self.ah.icv)


def load_authentication() -> None:
    """Import what authentication needs now, when a group that uses it is set up,
    rather than on its first advert (loading OpenSSL takes a few milliseconds)."""
    import hashlib  # noqa: PLC0415, F401
    import hmac  # noqa: PLC0415, F401


def same_digest(a: bytes, b: bytes) -> bool:
    """Constant-time comparison. hmac is imported on first use: it loads OpenSSL,
    about 4 MB of the daemon's memory, which only authenticated groups need."""
    import hmac  # noqa: PLC0415

    return hmac.compare_digest(a, b)


def _pack_ah(ah: AuthHeader, icv: bytes) -> bytes:
    return _AH.pack(ah.next_header, ah.payload_len, ah.reserved, ah.spi, ah.sequence, icv)


def _icv(header: bytes, ah: bytes, payload: bytes, key: bytes, unicast: bool) -> bytes:
    """HMAC-MD5-96 over the datagram with the mutable IPv4 fields zeroed (RFC 2402 3.3.3.1.1)."""
    mutable = bytearray(header)
    mutable[1] = 0  # TOS
    mutable[6:8] = b"\0\0"  # flags and fragment offset
    mutable[10:12] = b"\0\0"  # header checksum
    if unicast:
        mutable[8] = 0  # keepalived hashes TTL 0 for unicast peers, whose TTL may vary
    import hashlib  # noqa: PLC0415 - on first use, as in same_digest
    import hmac  # noqa: PLC0415

    return hmac.new(key, bytes(mutable) + ah + payload, hashlib.md5).digest()[:ICV_LEN]


def build(
    src: ipaddress.IPv4Address,
    dst: ipaddress.IPv4Address,
    message: bytes,
    *,
    identification: int,
    ah_password: str | None = None,
    ah_sequence: int = 0,
    ttl: int = VRRP_TTL,
    unicast: bool = False,
) -> bytes:
    """An IPv4 datagram carrying ``message``, with an AH when ``ah_password`` is given."""
    total = IPV4_HEADER_LEN + len(message) + (AH_LEN if ah_password is not None else 0)
    protocol = IPPROTO_AH if ah_password is not None else IPPROTO_VRRP
    header = _ipv4_header(src, dst, total, identification & 0xFFFF, ttl, protocol)
    if ah_password is None:
        return header + message
    ah = AuthHeader(spi=src.packed, sequence=ah_sequence & 0xFFFFFFFF, icv=b"\0" * ICV_LEN)
    icv = _icv(header, _pack_ah(ah, ah.icv), message, ah_key(ah_password), unicast)
    return header + _pack_ah(ah, icv) + message


def with_identification(datagram: bytes, identification: int) -> bytes:
    """``datagram`` (built with identification 0) with ``identification`` instead,
    its header checksum updated incrementally (RFC 1624, eqn. 3): what a master
    sends many times a second costs a copy, not a new header."""
    out = bytearray(datagram)
    _U16.pack_into(out, _IDENT_AT, identification)
    total = (~_U16.unpack_from(datagram, _CHECKSUM_AT)[0] & 0xFFFF) + identification
    total = (total & 0xFFFF) + (total >> 16)
    _U16.pack_into(out, _CHECKSUM_AT, ~total & 0xFFFF)
    return bytes(out)


def _ipv4_header(
    src: ipaddress.IPv4Address,
    dst: ipaddress.IPv4Address,
    total: int,
    identification: int,
    ttl: int,
    protocol: int,
) -> bytes:
    fields = [0x45, VRRP_TOS, total, identification, 0, ttl, protocol, 0, src.packed, dst.packed]
    fields[7] = internet_checksum(_IPV4.pack(*fields))
    return _IPV4.pack(*fields)


def parse(data: bytes) -> Ipv4Datagram:
    """Open a datagram from a raw IPv4 socket (IP header included).

    Raises PacketError (IP_HEADER or LENGTH) when it is not IPv4 carrying VRRP,
    directly or behind an AH.
    """
    if len(data) < IPV4_HEADER_LEN:
        raise PacketError(
            DropReason.IP_HEADER, f"{len(data)} octets is shorter than an IPv4 header"
        )
    first, _tos, total, _ident, _frag, ttl, protocol, _sum, src, dst = _IPV4.unpack_from(data)
    ihl = (first & 0x0F) * 4
    if first >> 4 != 4 or ihl < IPV4_HEADER_LEN or len(data) < ihl:
        raise PacketError(DropReason.IP_HEADER, "not a well-formed IPv4 header")
    if total != len(data):
        raise PacketError(
            DropReason.LENGTH, f"IPv4 total length {total} but {len(data)} octets received"
        )
    header, rest = bytes(data[:ihl]), bytes(data[ihl:])
    ah = None
    if protocol == IPPROTO_AH:
        if len(rest) < AH_LEN:
            raise PacketError(DropReason.IP_HEADER, "AH header truncated")
        next_header, payload_len, reserved, spi, sequence, icv = _AH.unpack_from(rest)
        if next_header != IPPROTO_VRRP:
            raise PacketError(DropReason.IP_HEADER, f"AH carries protocol {next_header}, not VRRP")
        ah = AuthHeader(
            spi=spi, sequence=sequence, icv=icv, payload_len=payload_len, reserved=reserved
        )
        rest = rest[AH_LEN:]
    elif protocol != IPPROTO_VRRP:
        raise PacketError(DropReason.IP_HEADER, f"IP protocol {protocol} is neither VRRP nor AH")
    return Ipv4Datagram(
        src=ipaddress.IPv4Address(src),
        dst=ipaddress.IPv4Address(dst),
        ttl=ttl,
        protocol=protocol,
        header=header,
        ah=ah,
        payload=rest,
    )
