"""Priority planning: who is master of which group, and the priorities that say so.

The logic behind the collection's ``priority_plan`` module (and its filter); it
lives with the data model so that the module, the roles and the daemon's tools
compute the same thing.

Strategies:

- ``symmetric``: one member is the preferred master of every group of a sync group,
  on every segment (LAN and WAN alike), so forward and return traffic take the
  same router (a stateful firewall drops return traffic that arrives on the other one).
- ``load_share``: the groups on a segment take turns: the first (by VRID) is
  mastered by the first preferred member, the second by the next, and so on, as in the
  classic two-group setup (RT-1 master of 10.1.1.5 with 120/70, RT-2 master of
  10.1.1.6 with 70/120, the LAN's hosts split between the two gateways). Groups of one sync group stay together: the sync group is
  the unit that takes a turn.

In both, the master of a group gets ``base``, the next member ``base - step``, and
so on: no two members of a group share a priority, so no election ever falls back
to the highest address. A member whose own interface address is a virtual
address of the group is its address owner and gets 255 (RFC 5798 section 5.2.4).
VRIDs not given are assigned, the lowest free one per segment and address family.
The same input always gives the same plan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .vrrp import OWNER_PRIORITY

STRATEGIES = ("symmetric", "load_share")


@dataclass(frozen=True)
class PlannedGroup:
    name: str
    segment: str
    vrid: int
    addresses: tuple[str, ...]
    sync_group: str | None
    master: str
    priorities: dict[str, int] = field(default_factory=dict)
    owner: str | None = None


@dataclass(frozen=True)
class Plan:
    groups: dict[str, PlannedGroup]
    preempt: bool
    preempt_delay: int
    notes: tuple[str, ...] = ()

    def for_host(self, host: str) -> dict[str, dict[str, Any]]:
        """What ``host`` puts in its config, group by group."""
        return {
            name: {
                "vrid": g.vrid,
                "priority": g.priorities[host],
                "preempt": self.preempt,
                "preempt_delay": self.preempt_delay,
            }
            for name, g in self.groups.items()
            if host in g.priorities
        }

    def as_dict(self, hosts: Sequence[str]) -> dict[str, Any]:
        return {
            "hosts": {h: self.for_host(h) for h in hosts},
            "masters": {n: g.master for n, g in self.groups.items()},
            "vrids": {n: g.vrid for n, g in self.groups.items()},
            "owners": {n: g.owner for n, g in self.groups.items() if g.owner},
            "notes": list(self.notes),
        }


def plan(
    members: Mapping[str, Mapping[str, Sequence[str]]],
    groups: Mapping[str, Mapping[str, Any]],
    *,
    strategy: str = "symmetric",
    preference: Sequence[str] = (),
    base: int = 200,
    step: int = 50,
    preempt: bool = True,
    preempt_delay: int = 0,
) -> Plan:
    """Plan priorities.

    ``members``: host -> segment -> that host's addresses there (``10.1.1.1/24``).
    ``groups``: name -> {"segment", "address" (list), optional "vrid", "sync_group"}.
    ``preference``: hosts in order of preference (default: sorted names).
    Raises ConfigError naming what cannot be planned.
    """
    problems = _shape_problems(members, groups)
    for name, value in (("base", base), ("step", step), ("preempt_delay", preempt_delay)):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((name, f"must be a whole number, not {value!r}"))
    if not isinstance(preempt, bool):
        problems.append(("preempt", f"must be true or false, not {preempt!r}"))
    if problems:
        # The planning below trusts the shape; what is malformed is named first.
        raise ConfigError(problems)
    if strategy not in STRATEGIES:
        problems.append(("strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}"))
    hosts = list(preference) or sorted(members)
    unknown = [h for h in hosts if h not in members]
    if unknown:
        problems.append(("preference", f"{', '.join(unknown)} not among the members"))
    hosts += sorted(h for h in members if h not in hosts)
    lowest = base - (len(hosts) - 1) * step
    if step < 1 or not lowest >= 1 or base >= OWNER_PRIORITY:
        problems.append(
            (
                "base",
                f"base {base} and step {step} for {len(hosts)} members leave 1..254 (lowest {lowest})",
            )
        )
    if not 0 <= preempt_delay <= 1000:
        problems.append(("preempt_delay", f"{preempt_delay} is outside 0..1000 seconds"))
    vrids = _vrids(groups, problems)
    if problems:
        raise ConfigError(problems)

    units = _units(groups, vrids)
    masters = _masters(units, hosts, strategy, groups)
    notes: list[str] = []
    planned = {}
    for name in sorted(groups, key=lambda n: (groups[n]["segment"], vrids[n], n)):
        spec = groups[name]
        master = masters[name]
        order = [master] + [h for h in _rotation(hosts, hosts.index(master)) if h != master]
        priorities = {h: base - i * step for i, h in enumerate(order)}
        owner = _owner(members, spec)
        if owner is not None:
            priorities[owner] = OWNER_PRIORITY
            if owner != master:
                notes.append(
                    f"group {name}: {owner} owns {', '.join(spec['address'])} and is master "
                    f"with priority 255, not the planned {master}"
                )
                master = owner
        planned[name] = PlannedGroup(
            name=name,
            segment=spec["segment"],
            vrid=vrids[name],
            addresses=tuple(spec["address"]),
            sync_group=spec.get("sync_group"),
            master=master,
            priorities=priorities,
            owner=owner,
        )
    return Plan(planned, preempt, preempt_delay, tuple(notes))


def _shape_problems(members: Any, groups: Any) -> list[tuple[str, str]]:
    """Every way the input is not what plan() reads, each with its key path."""
    problems: list[tuple[str, str]] = []
    if not isinstance(members, Mapping) or not members:
        return [("members", "must be a non-empty mapping of host to segment addresses")]
    if not isinstance(groups, Mapping) or not groups:
        return [("groups", "must be a non-empty mapping of group name to its settings")]
    for host, segments in members.items():
        if not isinstance(segments, Mapping):
            problems.append((f"members.{host}", "must map each segment to a list of addresses"))
            continue
        for segment, addresses in segments.items():
            problems += _address_problems(f"members.{host}.{segment}", addresses, allow_empty=True)
    for name, spec in groups.items():
        where = f"groups.{name}"
        if not isinstance(spec, Mapping):
            problems.append((where, "must be a mapping with segment and address"))
            continue
        unknown = sorted(set(spec) - {"segment", "address", "vrid", "sync_group"})
        if unknown:
            problems.append((where, f"unknown key(s): {', '.join(map(str, unknown))}"))
        if not isinstance(spec.get("segment"), str) or not spec.get("segment"):
            problems.append((f"{where}.segment", "is required: the segment (link) of the group"))
        address_problems = _address_problems(f"{where}.address", spec.get("address"))
        problems += address_problems
        families = (
            set()
            if address_problems
            else {ipaddress.ip_interface(a).version for a in spec["address"]}
        )
        if len(families) > 1:
            problems.append((f"{where}.address", "mixes IPv4 and IPv6; use one group per family"))
        vrid = spec.get("vrid")
        if vrid is not None and (
            isinstance(vrid, bool) or not isinstance(vrid, int) or not 1 <= vrid <= 255
        ):
            problems.append((f"{where}.vrid", f"must be a whole number 1..255, not {vrid!r}"))
        sync_group = spec.get("sync_group")
        if sync_group is not None and not isinstance(sync_group, str):
            problems.append((f"{where}.sync_group", "must be a sync group name"))
    return problems


def _address_problems(
    where: str, addresses: Any, allow_empty: bool = False
) -> list[tuple[str, str]]:
    if not isinstance(addresses, (list, tuple)) or (not addresses and not allow_empty):
        return [(where, "must be a list of addresses (10.1.1.5/24 or 2001:db8::1/64)")]
    problems = []
    for i, address in enumerate(addresses):
        try:
            if not isinstance(address, str):
                raise ValueError(address)
            ipaddress.ip_interface(address)
        except ValueError:
            problems.append((f"{where}[{i}]", f"{address!r} is not an IP address"))
    return problems


def _family(spec: Mapping[str, Any]) -> int:
    return ipaddress.ip_interface(spec["address"][0]).version


def _vrids(
    groups: Mapping[str, Mapping[str, Any]], problems: list[tuple[str, str]]
) -> dict[str, int]:
    """Given VRIDs checked for reuse; the others assigned, lowest free first."""
    taken: dict[tuple[str, int, int], str] = {}
    out: dict[str, int] = {}
    for name in sorted(groups):
        spec = groups[name]
        vrid = spec.get("vrid")
        if vrid is None:
            continue
        slot = (spec["segment"], _family(spec), vrid)
        if slot in taken:
            problems.append(
                (f"groups.{name}.vrid", f"VRID {vrid} is also {taken[slot]}'s on {spec['segment']}")
            )
        taken[slot] = name
        out[name] = vrid
    for name in sorted(groups):
        if name in out:
            continue
        spec = groups[name]
        segment, family = spec["segment"], _family(spec)
        vrid = next((v for v in range(1, 256) if (segment, family, v) not in taken), None)
        if vrid is None:
            problems.append((f"groups.{name}.vrid", f"no VRID left on {segment}"))
            continue
        taken[(segment, family, vrid)] = name
        out[name] = vrid
    return out


def _units(groups: Mapping[str, Mapping[str, Any]], vrids: Mapping[str, int]) -> list[list[str]]:
    """The groups that change master together: a sync group, or a group alone.
    In order of their lowest (segment, VRID)."""
    by_unit: dict[str, list[str]] = {}
    for name, spec in groups.items():
        by_unit.setdefault(spec.get("sync_group") or f"group:{name}", []).append(name)
    return sorted(
        by_unit.values(), key=lambda names: min((groups[n]["segment"], vrids[n], n) for n in names)
    )


def _masters(
    units: list[list[str]], hosts: list[str], strategy: str, groups: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """The planned master of each group."""
    masters: dict[str, str] = {}
    # symmetric: everyone's turn is the first. load_share: on each segment the units
    # present take turns; a sync group spanning segments takes the next turn free on all.
    turn: dict[str, int] = {}
    for unit in units:
        segments = {groups[name]["segment"] for name in unit}
        index = max(turn.get(segment, 0) for segment in segments) if strategy == "load_share" else 0
        for name in unit:
            masters[name] = hosts[index % len(hosts)]
        for segment in segments:
            turn[segment] = index + 1
    return masters


def _rotation(hosts: list[str], start: int) -> list[str]:
    return hosts[start:] + hosts[:start]


def _owner(
    members: Mapping[str, Mapping[str, Sequence[str]]], spec: Mapping[str, Any]
) -> str | None:
    """The member with a virtual address of the group as its own address there."""
    virtual = {ipaddress.ip_interface(a).ip for a in spec["address"]}
    for host in sorted(members):
        for address in members[host].get(spec["segment"], ()):
            if ipaddress.ip_interface(address).ip in virtual:
                return host
    return None
