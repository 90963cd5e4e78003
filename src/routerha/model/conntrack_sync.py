"""Connection-table sync between the routers, after VyOS 1.4 ``service conntrack-sync``."""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from dataclasses import dataclass, field
from typing import Union

from .ip import IPAddress

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_MCAST_GROUP = ipaddress.IPv4Address("225.0.0.50")
DEFAULT_PORT = 3780
PROTOCOLS = ("tcp", "udp", "icmp", "icmp6", "sctp", "dccp")
EXPECT_HELPERS = ("ftp", "sip", "h323", "nfs", "sqlnet")
#: Octets a sync key has at least (an HMAC-SHA256 key of 128 bits or more).
MIN_KEY_OCTETS = 16


class SyncAuthType(str, enum.Enum):
    HMAC_SHA256 = "hmac-sha256"
    #: The explicit opt-out: the sync link runs unauthenticated.
    NONE = "none"


@dataclass(frozen=True)
class SyncKey:
    """A key the sync link accepts, under the id every datagram names."""

    key_id: int
    key: str = field(repr=False)


@dataclass(frozen=True)
class SyncAuthentication:
    """The sync link's keys (``routerha.ctsync.auth``): datagrams are sent with
    ``key_id``/``key`` and accepted with it or any of ``accept``.

    ``accept`` is how a key changes without losing a datagram: every member first
    accepts the new key, then sends with it, then forgets the old one (as the VRRP
    group's password). Keys never appear in a repr.
    """

    type: SyncAuthType
    key_id: int | None = None
    key: str | None = field(default=None, repr=False)
    accept: tuple[SyncKey, ...] = field(default=(), repr=False)

    @property
    def enabled(self) -> bool:
        return self.type is SyncAuthType.HMAC_SHA256

    @property
    def receive_keys(self) -> tuple[SyncKey, ...]:
        """Every key accepted, the sending one first."""
        if self.key_id is None or self.key is None:
            return self.accept
        sending = SyncKey(self.key_id, self.key)
        return (sending, *(k for k in self.accept if k != sending))


@dataclass(frozen=True)
class ConntrackSync:
    #: The dedicated sync link.
    interface: str
    #: The VRRP sync group whose mastership decides which router owns the sessions.
    sync_group: str
    #: Unicast peer; without one, multicast to ``mcast_group``.
    peer: IPAddress | None = None
    mcast_group: ipaddress.IPv4Address = DEFAULT_MCAST_GROUP
    port: int = DEFAULT_PORT
    #: Local address to send from and listen on (default: the interface's primary).
    listen_address: IPAddress | None = None
    #: Protocols synced; empty means all of them.
    accept_protocol: tuple[str, ...] = ()
    #: Connections from or to these are not synced (management, the sync link itself).
    ignore_address: tuple[IPNetwork, ...] = ()
    #: Conntrack helpers whose expectations are synced.
    expect_sync: tuple[str, ...] = ()
    #: Commit the peer's states straight into the kernel instead of caching them.
    disable_external_cache: bool = False
    #: Ask the peer for its whole table when starting.
    startup_resync: bool = True
    #: MB of socket buffer for conntrack events (VyOS event-listen-queue-size).
    event_listen_queue_size: int = 8
    #: MB of socket buffer for the sync link (VyOS sync-queue-size).
    sync_queue_size: int = 1
    #: The sync link's keys; None when the configuration gives none (routerhad then
    #: refuses to run: it needs keys or the explicit ``type: none``).
    authentication: SyncAuthentication | None = None

    def without_keys(self) -> ConntrackSync:
        """This link with its keys left out: what a reload compares to tell a key
        change (applied under the running sync) from a change of the link."""
        return dataclasses.replace(self, authentication=None)
