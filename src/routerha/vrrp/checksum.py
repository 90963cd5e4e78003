"""The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 sums over."""

from __future__ import annotations

import struct

from routerha.ip import IPAddress
from routerha.vrrp.constants import IPPROTO_VRRP


def internet_checksum(data: bytes) -> int:
    """One's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    """RFC 5798 section 5.2.8: the IPv4 (RFC 768 style) or IPv6 (RFC 8200 section 8.1)
    pseudo-header for a VRRP message of ``length`` octets."""
    if src.version != dst.version:
        raise ValueError("source and destination are of different families")
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)
