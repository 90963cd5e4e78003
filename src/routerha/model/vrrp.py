"""VRRP groups and sync groups, after VyOS 1.4 ``high-availability vrrp``.

Plain frozen dataclasses: two groups with the same settings compare equal, which is
how a reload tells an unchanged group (keep its state) from a changed one.
Values here are already validated and defaulted; ``routerha.model.load`` builds them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .conntrack_sync import ConntrackSync
from .ip import IPAddress, IPInterface

#: The address owner's priority (RFC 5798 section 5.2.4).
OWNER_PRIORITY = 255
#: Priority 0 tells the backups that the master is stopping (RFC 5798 section 5.2.4).
STOP_PRIORITY = 0
#: RFC 3768 section 5.3.6: the simple text password is 8 octets on the wire.
PASSWORD_OCTETS = 8


class AuthType(str, enum.Enum):
    """VRRPv2 authentication, named as in VyOS (``authentication type``)."""

    PLAINTEXT = "plaintext-password"  # RFC 2338 type 1, simple text password
    AH = "ah"  # RFC 2338 type 2, IP Authentication Header, HMAC-MD5-96

    @property
    def wire_code(self) -> int:
        return 1 if self is AuthType.PLAINTEXT else 2


@dataclass(frozen=True)
class Authentication:
    """Group authentication. ``accept`` holds extra passwords accepted on receive.

    ``accept`` is how a password changes without a flap: every member first accepts
    the new password, then sends with it, then forgets the old one.
    """

    type: AuthType
    password: str = field(repr=False)
    accept: tuple[str, ...] = field(default=(), repr=False)

    @property
    def receive_passwords(self) -> tuple[str, ...]:
        """Every password a received advertisement may carry, the sending one first."""
        return (self.password, *(p for p in self.accept if p != self.password))


#: keepalived's range of a tracking weight (track_interface, track_script, vrrp_script).
MAX_WEIGHT = 253


@dataclass(frozen=True)
class TrackedInterface:
    """An interface whose link state moves the group, with keepalived's weights.

    Without a weight (keepalived's weight 0) a down link puts the group into FAULT.
    A positive weight is added to the priority while the link is up, a negative one
    while it is down; either way the link's state no longer means FAULT.
    """

    name: str
    weight: int | None = None


@dataclass(frozen=True)
class AddressInterface:
    """An address of a group installed on another interface than the group's:
    VyOS ``address A interface Y``, keepalived ``virtual_ipaddress { A dev Y }``.

    It is advertised like the group's other addresses (an ``address``; an
    ``excluded_address`` is not) and comes and goes with the group's MASTER state,
    announced on ``interface`` with that interface's own MAC address.
    """

    address: IPInterface
    interface: str


@dataclass(frozen=True)
class Track:
    interface: tuple[TrackedInterface, ...] = ()
    #: VyOS ``exclude-vrrp-interface``: do not go FAULT when the group's own link drops.
    exclude_vrrp_interface: bool = False


@dataclass(frozen=True)
class HealthCheck:
    """A script (or ping) run every ``interval`` seconds; ``failure_count`` failures in a
    row make it failed, one success healthy again.

    Without a weight (keepalived's weight 0) failed means FAULT. With one, as in
    keepalived: a positive weight is added to the priority while the check is
    healthy, a negative one while it is failed.
    """

    script: str | None = None
    ping: IPAddress | None = None
    interval: int = 60
    failure_count: int = 3
    weight: int | None = None


@dataclass(frozen=True)
class TransitionScripts:
    """Programs run on entering a state, as keepalived runs notify scripts:
    ``PROGRAM INSTANCE NAME STATE`` (a sync group: ``PROGRAM GROUP NAME STATE``)."""

    master: str | None = None
    backup: str | None = None
    fault: str | None = None
    stop: str | None = None


@dataclass(frozen=True)
class Garp:
    """Gratuitous ARP / unsolicited NA behaviour, VyOS ``garp`` (keepalived garp_*)."""

    #: Seconds between the messages of one burst.
    interval: float = 0.0
    #: Seconds after becoming master before the second burst.
    master_delay: int = 5
    #: Messages per burst on becoming master.
    master_repeat: int = 5
    #: Seconds between refresh bursts while master; 0 disables refreshing.
    master_refresh: int = 0
    #: Messages per refresh burst.
    master_refresh_repeat: int = 1


@dataclass(frozen=True)
class VrrpGroup:
    """One virtual router: VyOS ``high-availability vrrp group NAME``."""

    name: str
    interface: str
    vrid: int
    address: tuple[IPInterface, ...]
    version: int = 2
    priority: int = 100
    #: Seconds; whole seconds in VRRPv2, centisecond steps in VRRPv3.
    advertise_interval: float = 1.0
    preempt: bool = True
    preempt_delay: int = 0
    authentication: Authentication | None = None
    rfc3768_compatibility: bool = False
    peer_address: tuple[IPAddress, ...] = ()
    hello_source_address: IPAddress | None = None
    track: Track = field(default_factory=Track)
    health_check: HealthCheck | None = None
    transition_script: TransitionScripts = field(default_factory=TransitionScripts)
    garp: Garp = field(default_factory=Garp)
    #: Addresses installed with the group but not advertised (another family, say).
    excluded_address: tuple[IPInterface, ...] = ()
    #: The addresses (of ``address`` or ``excluded_address``) that live on another
    #: interface than ``interface``, in the order written; every other address is
    #: installed on the group's interface (its macvlan under rfc3768_compatibility).
    address_interface: tuple[AddressInterface, ...] = ()
    description: str | None = None
    disable: bool = False

    @property
    def ipv6(self) -> bool:
        return self.address[0].version == 6

    @property
    def advertise_interval_cs(self) -> int:
        """The advertisement interval in centiseconds, VRRPv3's wire unit."""
        return round(self.advertise_interval * 100)

    @property
    def address_owner(self) -> bool:
        return self.priority == OWNER_PRIORITY

    @property
    def advertised_addresses(self) -> tuple[IPAddress, ...]:
        return tuple(iface.ip for iface in self.address)

    def interface_of(self, address: IPInterface) -> str | None:
        """The other interface ``address`` is installed on; None: the group's own."""
        for placed in self.address_interface:
            if placed.address == address:
                return placed.interface
        return None

    @property
    def other_interfaces(self) -> tuple[str, ...]:
        """The interfaces besides the group's that carry some of its addresses."""
        return tuple(dict.fromkeys(placed.interface for placed in self.address_interface))


@dataclass(frozen=True)
class SyncGroup:
    """Groups that are MASTER, BACKUP or FAULT together: VyOS ``vrrp sync-group``."""

    name: str
    member: tuple[str, ...]
    health_check: HealthCheck | None = None
    transition_script: TransitionScripts = field(default_factory=TransitionScripts)


@dataclass(frozen=True)
class Config:
    """A whole routerhad configuration."""

    groups: dict[str, VrrpGroup] = field(default_factory=dict)
    sync_groups: dict[str, SyncGroup] = field(default_factory=dict)
    conntrack_sync: ConntrackSync | None = None

    def sync_group_of(self, group: str) -> SyncGroup | None:
        for sync_group in self.sync_groups.values():
            if group in sync_group.member:
                return sync_group
        return None
