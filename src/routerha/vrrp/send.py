"""Building the advertisements a group sends, sans-IO.

One ``Sender`` per group keeps what must persist between packets: the IPv4
identification counter and the AH sequence number (shared with the receive side).
"""

from __future__ import annotations

import ipaddress

from routerha.ip import IPAddress
from routerha.model.vrrp import AuthType, VrrpGroup
from routerha.vrrp import ipv4, packet
from routerha.vrrp.ahsequence import AhSequence
from routerha.vrrp.receive import password_octets

_ZERO_AUTH = b"\0" * packet.V2_AUTH_LEN


class Sender:
    def __init__(
        self,
        group: VrrpGroup,
        source: IPAddress,
        *,
        sequence: AhSequence | None = None,
        pseudo_header_checksum: bool = True,
    ) -> None:
        self.group = group
        self.source = source
        self.sequence = sequence if sequence is not None else AhSequence()
        self.pseudo_header_checksum = pseudo_header_checksum
        self._identification = 0
        auth = group.authentication
        if auth is not None:
            ipv4.load_authentication()
        self._auth_type = auth.type.wire_code if auth else packet.V2_AUTH_NONE
        self._auth_data = _ZERO_AUTH
        if auth is not None and auth.type is AuthType.PLAINTEXT:
            self._auth_data = password_octets(auth.password)
        self._ah_password = auth.password if auth and auth.type is AuthType.AH else None
        #: Messages by (priority, destination): the same few are sent again and
        #: again, and a takeover's first advert should not wait for its encoding.
        self._messages: dict[tuple[int, int], bytes] = {}
        #: IPv4 datagrams without AH by (priority, destination), identification 0.
        self._datagrams: dict[tuple[int, int], bytes] = {}

    def advert(self, priority: int) -> packet.Advertisement:
        group = self.group
        v2 = group.version == 2
        return packet.Advertisement(
            version=group.version,
            vrid=group.vrid,
            priority=priority,
            addresses=group.advertised_addresses,
            max_advert_interval=group.advertise_interval_cs,
            auth_type=self._auth_type if v2 else 0,
            auth_data=self._auth_data if v2 else b"",
        )

    def message(self, priority: int, dst: IPAddress) -> bytes:
        """The VRRP message alone, checksum included (what an IPv6 raw socket sends)."""
        key = (priority, int(dst))  # an int hashes faster than an address object
        message = self._messages.get(key)
        if message is None:
            message = self._messages[key] = self.advert(priority).encode(
                self.source, dst, pseudo_header_checksum=self.pseudo_header_checksum
            )
        return message

    def ipv4_datagram(
        self, priority: int, dst: ipaddress.IPv4Address, *, unicast: bool = False
    ) -> bytes:
        """The whole IPv4 datagram, header (and AH) included, for an IP_HDRINCL socket."""
        if not isinstance(self.source, ipaddress.IPv4Address):
            raise TypeError("an IPv4 datagram needs an IPv4 source")
        # keepalived skips identification 0, which the kernel would replace.
        self._identification = self._identification % 0xFFFF + 1
        if self._ah_password is not None:
            # The ICV covers the header and the sequence number: built whole each time.
            return ipv4.build(
                self.source,
                dst,
                self.message(priority, dst),
                identification=self._identification,
                ah_password=self._ah_password,
                ah_sequence=self.sequence.next(),
                unicast=unicast,
            )
        key = (priority, int(dst))
        template = self._datagrams.get(key)
        if template is None:
            template = self._datagrams[key] = ipv4.build(
                self.source, dst, self.message(priority, dst), identification=0
            )
        return ipv4.with_identification(template, self._identification)
