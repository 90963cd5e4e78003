"""What a group's health is, from link states and check results (pure, no I/O).

VyOS and keepalived semantics: the group's own link down means FAULT (unless
``exclude_vrrp_interface``); a tracked interface or health check without a
weight means FAULT when down or failing; with a weight it adds the weight to the
priority instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routerha.model.vrrp import VrrpGroup

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
) -> Health:
    faults: set[str] = set()
    priority = group.priority
    own = links.get(group.interface)
    if (own is None or not own.up) and not group.track.exclude_vrrp_interface:
        faults.add(f"{LINK} {group.interface}")
    for tracked in group.track.interface:
        link = links.get(tracked.name)
        if link is not None and link.up:
            continue
        if tracked.weight is None:
            faults.add(f"{LINK} {tracked.name}")
        else:
            priority += tracked.weight
    check = group.health_check
    if check is not None and check_failed:
        if check.weight is None:
            faults.add(HEALTH_CHECK)
        else:
            priority += check.weight
    if sync_check_failed:
        faults.add(f"{HEALTH_CHECK} of sync group {sync_check_failed}")
    return Health(frozenset(faults), priority)


def owned(reason: str) -> bool:
    """Whether a fault reason is one that ``evaluate`` raises."""
    return reason.startswith((LINK + " ", HEALTH_CHECK))
