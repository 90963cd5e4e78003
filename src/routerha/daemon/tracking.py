"""What a group's health is, from link states and check results (pure, no I/O).

VyOS and keepalived semantics: the group's own link down means FAULT (unless
``exclude_vrrp_interface``), and so does the link of an interface that holds some of
its addresses (``address_interface``, keepalived's ``dev``); a tracked interface or health check without a
weight means FAULT when down or failing. With a weight, keepalived's meaning: a
positive weight is added to the priority while the link is up or the check
healthy, a negative one while the link is down or the check failed. The machine
keeps the sum within 1..254 and leaves the address owner at 255.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routerha.model.vrrp import HealthCheck, VrrpGroup

from .netlink import Link

#: Fault reasons this module raises start with these words, so that the service
#: can tell them from the sync group's own fault.
LINK = "link"
HEALTH_CHECK = "health-check"


@dataclass(frozen=True)
class Health:
    faults: frozenset[str]
    priority: int


def evaluate(
    group: VrrpGroup,
    links: Mapping[str, Link | None],
    check_failed: bool = False,
    sync_check_failed: str | None = None,
    sync_check: HealthCheck | None = None,
) -> Health:
    """``sync_check_failed`` names the group's sync group when that group's health
    check has failed; ``sync_check`` is that check, whose weight (if any) moves
    every member's priority instead of putting it into FAULT."""
    faults: set[str] = set()
    priority = group.priority
    own = links.get(group.interface)
    if (own is None or not own.up) and not group.track.exclude_vrrp_interface:
        faults.add(f"{LINK} {group.interface}")
    for name in group.other_interfaces:
        # As keepalived tracks the interface of a "dev" address: the group cannot
        # hold an address whose link is down.
        link = links.get(name)
        if link is None or not link.up:
            faults.add(f"{LINK} {name}")
    for tracked in group.track.interface:
        link = links.get(tracked.name)
        up = link is not None and link.up
        if tracked.weight is None:
            if not up:
                faults.add(f"{LINK} {tracked.name}")
        else:
            priority += _weighted(tracked.weight, up)
    check = group.health_check
    if check is not None:
        if check.weight is None:
            if check_failed:
                faults.add(HEALTH_CHECK)
        else:
            priority += _weighted(check.weight, not check_failed)
    if sync_check is not None and sync_check.weight is not None:
        priority += _weighted(sync_check.weight, not sync_check_failed)
    elif sync_check_failed:
        faults.add(f"{HEALTH_CHECK} of sync group {sync_check_failed}")
    return Health(frozenset(faults), priority)


def _weighted(weight: int, good: bool) -> int:
    """keepalived: a positive weight counts while good, a negative one while bad."""
    return weight if (weight > 0) == good else 0


def owned(reason: str) -> bool:
    """Whether a fault reason is one that ``evaluate`` raises."""
    return reason.startswith((LINK + " ", HEALTH_CHECK))
