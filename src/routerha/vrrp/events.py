"""What the VRRP state machine is told (events) and what it asks for (actions).

The machine owns no socket and no timer. The I/O layer feeds it events stamped with
a monotonic clock reading and carries out the actions it returns, in order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

from routerha.ip import IPAddress


class State(str, enum.Enum):
    """RFC 5798 section 6.4's states, plus FAULT (link down or a tracked object failed)."""

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


class Timer(str, enum.Enum):
    ADVER = "Adver_Timer"  # RFC 5798 section 6.2: next advertisement, while Master
    MASTER_DOWN = "Master_Down_Timer"  # RFC 5798 section 6.2: master presumed dead, while Backup
    GARP_DELAY = "garp_master_delay"  # second gratuitous burst after becoming Master
    GARP_REFRESH = "garp_master_refresh"  # periodic gratuitous bursts while Master


# Events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Startup:
    """RFC 5798 section 6.4.1: the virtual router is enabled."""


@dataclass(frozen=True)
class Shutdown:
    """The virtual router is disabled or the daemon stops."""


@dataclass(frozen=True)
class AdvertReceived:
    """A validated ADVERTISEMENT for this group (``routerha.vrrp.receive`` checked it)."""

    source: IPAddress
    priority: int
    #: Centiseconds, as in ``Advertisement.max_advert_interval``.
    max_advert_interval: int


@dataclass(frozen=True)
class TimerExpired:
    timer: Timer


@dataclass(frozen=True)
class PriorityChanged:
    """The effective priority moved (a tracked interface or health check weight)."""

    priority: int


@dataclass(frozen=True)
class PreemptionHeld:
    """While held, a backup does not preempt a lower-priority master (as with
    preemption off); a router waiting for its peer's connection table uses it."""

    held: bool


@dataclass(frozen=True)
class FaultRaised:
    """Something the group depends on failed; ``reason`` names it (``link``, a check)."""

    reason: str


@dataclass(frozen=True)
class FaultCleared:
    reason: str


#: The interface carrying the group went down or came up: a fault named "link".
LINK_FAULT = "link"


def interface_down() -> FaultRaised:
    return FaultRaised(LINK_FAULT)


def interface_up() -> FaultCleared:
    return FaultCleared(LINK_FAULT)


Event = Union[
    Startup,
    Shutdown,
    AdvertReceived,
    TimerExpired,
    PriorityChanged,
    PreemptionHeld,
    FaultRaised,
    FaultCleared,
]


# Actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class SendAdvert:
    """Send an ADVERTISEMENT with this priority (0 announces that the master stops)."""

    group: str
    priority: int


@dataclass(frozen=True)
class AddAddresses:
    """Install the virtual addresses (and the virtual MAC interface, if any)."""

    group: str


@dataclass(frozen=True)
class RemoveAddresses:
    group: str


@dataclass(frozen=True)
class SendGratuitous:
    """Announce the virtual addresses: gratuitous ARP (IPv4) or unsolicited NA (IPv6)."""

    group: str
    count: int


@dataclass(frozen=True)
class ScheduleTimer:
    """Arm ``timer`` to expire at monotonic time ``at``, replacing an earlier deadline."""

    group: str
    timer: Timer
    at: float


@dataclass(frozen=True)
class CancelTimer:
    group: str
    timer: Timer


@dataclass(frozen=True)
class Transition:
    """The group changed state. ``reason`` is for people (logs, status)."""

    group: str
    old: State
    new: State
    reason: str


Action = Union[
    SendAdvert,
    AddAddresses,
    RemoveAddresses,
    SendGratuitous,
    ScheduleTimer,
    CancelTimer,
    Transition,
]
