"""Why a received VRRP packet was dropped: one name per check, counted by the daemon."""

from __future__ import annotations

import enum

from routerha.errors import RouterhaError


class DropReason(str, enum.Enum):
    """The receive checks of RFC 3768 / RFC 5798 section 7.1, plus the IP envelope."""

    IP_HEADER = "ip_header"  # not a well-formed IPv4 header or AH header around VRRP
    TTL = "ttl"  # TTL / hop limit is not 255: the packet crossed a router
    VERSION = "version"  # unknown VRRP version, or not the group's version
    TYPE = "type"  # not an ADVERTISEMENT
    LENGTH = "length"  # length does not match the address count
    CHECKSUM = "checksum"
    VRID = "vrid"  # no group with this VRID on the interface
    AUTH_TYPE = "auth_type"  # not the group's authentication type
    AUTH_DATA = "auth_data"  # wrong password or HMAC
    AUTH_REPLAY = "auth_replay"  # AH sequence number went backwards
    INTERVAL = "interval"  # VRRPv2: not the group's advertisement interval
    ADDRESS_LIST = "address_list"  # other virtual addresses, and not from their owner
    OWN_PACKET = "own_packet"  # our own advertisement, looped back
    UNKNOWN_PEER = "unknown_peer"  # unicast from an address not in peer_address


class PacketError(RouterhaError):
    """A packet failed a receive check. ``reason`` says which one."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")
