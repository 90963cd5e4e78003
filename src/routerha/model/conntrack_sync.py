"""Connection-table sync between the routers, after VyOS 1.4 ``service conntrack-sync``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Union

from .ip import IPAddress

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_MCAST_GROUP = ipaddress.IPv4Address("225.0.0.50")
DEFAULT_PORT = 3780
PROTOCOLS = ("tcp", "udp", "icmp", "icmp6", "sctp", "dccp")
EXPECT_HELPERS = ("ftp", "sip", "h323", "nfs", "sqlnet")


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
