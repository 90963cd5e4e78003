"""Numbers the VRRP RFCs fix."""

from __future__ import annotations

import ipaddress

IPPROTO_VRRP = 112
IPPROTO_AH = 51

#: RFC 5798 section 5.1.1.3 / 5.1.2.3: sent with TTL / hop limit 255, received only so.
VRRP_TTL = 255

MCAST_V4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_V6 = ipaddress.IPv6Address("ff02::12")

#: The only message type either version defines.
TYPE_ADVERTISEMENT = 1

#: Virtual MAC prefixes, RFC 5798 section 7.3; the last octet is the VRID.
VMAC_PREFIX_V4 = bytes.fromhex("00005e0001")
VMAC_PREFIX_V6 = bytes.fromhex("00005e0002")


def virtual_mac(vrid: int, ipv6: bool = False) -> str:
    """00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6)."""
    raw = (VMAC_PREFIX_V6 if ipv6 else VMAC_PREFIX_V4) + bytes([vrid])
    return ":".join(f"{b:02x}" for b in raw)
