"""A cluster as the inventory declares it, turned into each member's configuration.

The roles' variables describe a cluster once: its segments (links) and the
interface each is on, its VRRP groups and sync groups in the data model's own
keys (``vrrp.groups``, ``vrrp.sync_groups``; a group names its ``segment``
instead of an interface, an address on another segment is ``{"address": A,
"segment": S}``, and priority and preemption are left to the plan), the
priority strategy and the conntrack sync link. Each member adds only what
differs: its addresses per segment, its place in the preference order, an
interface named differently on it, or group settings of its own (a health-check
target, say).

``cluster_configs`` plans the priorities (plan.py) and writes each member's
routerhad configuration, which is then loaded through the model so that the
inventory is checked by exactly the rules the daemon applies. Problems name the
inventory variable (``groups.LAN.address[0]``, ``members.r1.addresses.lan``);
the collection puts its ``routerha_`` prefix in front.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .load import load_config
from .plan import STRATEGIES, plan

#: Group keys the inventory leaves to the plan or to the segment.
PLANNED_KEYS = ("priority", "preempt", "preempt_delay")

#: Per-member keys (host_vars), with the shapes they must have.
MEMBER_KEYS = ("addresses", "interfaces", "preference", "group_settings")


def _mapping(value: Any, where: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append((where, f"must be a mapping, not {type(value).__name__}"))
        return {}
    return dict(value)


def _segment_of(spec: Mapping[str, Any]) -> str | None:
    segment = spec.get("segment", spec.get("interface"))
    return segment if isinstance(segment, str) and segment else None


def _interface(
    segment: str, segments: Mapping[str, Any], member: Mapping[str, Any], default: Any = None
) -> str:
    """The member's interface on ``segment``: its own name for it, the cluster's,
    the one the group names, or the segment's name itself."""
    return str(member["interfaces"].get(segment) or segments.get(segment) or default or segment)


def _members(raw: Any, problems: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    members: dict[str, dict[str, Any]] = {}
    if not isinstance(raw, Mapping) or not raw:
        problems.append(("members", "the cluster has no members"))
        return members
    for host, given in raw.items():
        where = f"members.{host}"
        spec = _mapping(given, where, problems)
        preference = spec.get("preference", 100)
        if isinstance(preference, bool) or not isinstance(preference, int):
            problems.append((f"{where}.preference", f"must be a whole number, not {preference!r}"))
            preference = 100
        members[str(host)] = {
            "addresses": _mapping(spec.get("addresses"), f"{where}.addresses", problems),
            "interfaces": _mapping(spec.get("interfaces"), f"{where}.interfaces", problems),
            "preference": preference,
            "group_settings": _mapping(
                spec.get("group_settings"), f"{where}.group_settings", problems
            ),
        }
    return members


def _plan_input(
    groups: Mapping[str, Any], sync_groups: Mapping[str, Any], problems: list[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """groups -> what plan() reads: segment, address, vrid, sync group."""
    sync_of: dict[str, str] = {}
    for sync_name, spec in sync_groups.items():
        for member in spec.get("member", ()) if isinstance(spec, Mapping) else ():
            sync_of.setdefault(str(member), str(sync_name))
    out: dict[str, dict[str, Any]] = {}
    for name, spec in groups.items():
        where = f"groups.{name}"
        if not isinstance(spec, Mapping):
            problems.append((where, "must be a mapping of the group's settings"))
            continue
        for key in PLANNED_KEYS:
            if key in spec:
                problems.append(
                    (f"{where}.{key}", "comes from the priority plan; set the strategy instead")
                )
        segment = _segment_of(spec)
        if segment is None:
            problems.append((f"{where}.segment", "is required: the segment (link) of the group"))
            continue
        planned = {"segment": segment, "address": _address_texts(spec.get("address"))}
        if spec.get("vrid") is not None:
            planned["vrid"] = spec["vrid"]
        if name in sync_of:
            planned["sync_group"] = sync_of[name]
        out[str(name)] = planned
    return out


def _address_texts(entries: Any) -> Any:
    """The addresses of an ``address`` list as text, whatever interface or segment an
    entry names (the plan needs the addresses only)."""
    if not isinstance(entries, (list, tuple)):
        return entries
    return [e.get("address") if isinstance(e, Mapping) else e for e in entries]


def _placed(entries: Any, segments: Mapping[str, Any], member: Mapping[str, Any]) -> Any:
    """``{"address": A, "segment": S}`` entries -> ``{"address": A, "interface": Y}``
    with the member's interface Y on segment S; other entries as they are."""
    if not isinstance(entries, (list, tuple)):
        return entries
    out = []
    for entry in entries:
        if isinstance(entry, Mapping) and "segment" in entry:
            placed = {k: v for k, v in entry.items() if k != "segment"}
            placed["interface"] = _interface(str(entry["segment"]), segments, member)
            out.append(placed)
        else:
            out.append(entry)
    return out


def _conntrack_sync(
    spec: Mapping[str, Any],
    host: str,
    members: Mapping[str, Mapping[str, Any]],
    segments: Mapping[str, Any],
    problems: list[tuple[str, str]],
) -> dict[str, Any]:
    """The member's ``conntrack_sync``: ``segment`` becomes its interface there and
    ``peer: auto`` the other member's address on that segment (pairs only)."""
    out = {k: copy.deepcopy(v) for k, v in spec.items() if k != "segment"}
    segment = spec.get("segment")
    if segment is not None:
        out["interface"] = _interface(str(segment), segments, members[host])
    if spec.get("peer") == "auto":
        others = [m for m in members if m != host]
        if segment is None or len(others) != 1:
            problems.append(
                (
                    "conntrack_sync.peer",
                    "auto needs a segment and exactly two members (the other one is the peer)",
                )
            )
            out.pop("peer")
        else:
            addresses = members[others[0]]["addresses"].get(segment) or []
            same = [a for a in addresses if _family(a) == 4] or list(addresses)
            if not same:
                problems.append(
                    (
                        f"members.{others[0]}.addresses.{segment}",
                        "has no address: conntrack_sync.peer auto needs one",
                    )
                )
                out.pop("peer")
            else:
                out["peer"] = str(ipaddress.ip_interface(same[0]).ip)
    return out


def _family(address: Any) -> int:
    try:
        return ipaddress.ip_interface(str(address)).version
    except ValueError:
        return 0


def cluster_configs(settings: Mapping[str, Any], members: Mapping[str, Any]) -> dict[str, Any]:
    """Plan the cluster and write every member's routerhad configuration.

    ``settings``: ``segments`` (segment -> interface), ``groups``, ``sync_groups``,
    ``conntrack_sync`` (or None), ``strategy``, ``priority_base``,
    ``priority_step``, ``preempt``, ``preempt_delay``.
    ``members``: host -> ``addresses`` (segment -> list), ``interfaces``
    (segment -> interface, where it differs), ``preference`` (lower first;
    ties by name), ``group_settings`` (group -> keys of its own).

    Returns ``summary`` (a line per group, then the plan's notes), ``plan`` (as
    the priority_plan module gives it), ``configs`` (host ->
    the routerhad configuration) and ``interface_addresses`` (host -> interface
    -> its own addresses, for pair_check's address-owner check). Raises
    ConfigError naming every problem, the member's configurations included.
    """
    problems: list[tuple[str, str]] = []
    segments = _mapping(settings.get("segments"), "segments", problems)
    groups = _mapping(settings.get("groups"), "groups", problems)
    sync_groups = _mapping(settings.get("sync_groups"), "sync_groups", problems)
    conntrack = settings.get("conntrack_sync")
    conntrack = _mapping(conntrack, "conntrack_sync", problems) if conntrack else {}
    nodes = _members(members, problems)
    strategy = settings.get("strategy", "symmetric")
    if strategy not in STRATEGIES:
        problems.append(("strategy", f"{strategy!r} is not one of {', '.join(STRATEGIES)}"))
    if not groups:
        problems.append(("groups", "the cluster declares no VRRP group"))
    for host, node in nodes.items():
        for group in node["group_settings"]:
            if group not in groups:
                problems.append(
                    (f"members.{host}.group_settings.{group}", "is not a group of the cluster")
                )
    planned_groups = _plan_input(groups, sync_groups, problems)
    if problems:
        raise ConfigError(problems)

    preference = sorted(nodes, key=lambda h: (nodes[h]["preference"], h))
    try:
        result = plan(
            {h: n["addresses"] for h, n in nodes.items()},
            planned_groups,
            strategy=strategy,
            preference=preference,
            base=settings.get("priority_base", 200),
            step=settings.get("priority_step", 50),
            preempt=settings.get("preempt", True),
            preempt_delay=settings.get("preempt_delay", 0),
        )
    except ConfigError as error:
        raise ConfigError([(_member_path(path), why) for path, why in error.problems]) from error

    configs: dict[str, dict[str, Any]] = {}
    interface_addresses: dict[str, dict[str, list[str]]] = {}
    for host, node in nodes.items():
        config = _member_config(host, node, groups, sync_groups, segments, result.for_host(host))
        if conntrack:
            config["conntrack_sync"] = _conntrack_sync(conntrack, host, nodes, segments, problems)
        try:
            load_config(config)
        except ConfigError as error:
            problems += [(f"{host}: {path}", why) for path, why in error.problems]
        configs[host] = config
        interface_addresses[host] = {
            _interface(segment, segments, node): list(addresses)
            for segment, addresses in node["addresses"].items()
            if addresses
        }
    if problems:
        raise ConfigError(problems)
    summary = [
        f"{name}: VRID {g.vrid} on {g.segment}, master {g.master} ("
        + ", ".join(f"{h} {p}" for h, p in sorted(g.priorities.items(), key=lambda i: -i[1]))
        + ")"
        for name, g in sorted(result.groups.items())
    ]
    return {
        "summary": summary + list(result.notes),
        "plan": result.as_dict(preference),
        "configs": configs,
        "interface_addresses": interface_addresses,
        "preference": preference,
    }


#: plan()'s arguments under the names of the cluster's settings.
_PLAN_SETTINGS = {"base": "priority_base", "step": "priority_step"}


def _member_path(path: str) -> str:
    """plan()'s ``members.HOST.SEGMENT`` is the member's ``addresses`` here, and its
    ``base``/``step`` are the settings ``priority_base``/``priority_step``."""
    parts = path.split(".", 2)
    if parts[0] == "members" and len(parts) == 3:
        return f"members.{parts[1]}.addresses.{parts[2]}"
    return _PLAN_SETTINGS.get(path, path)


def _member_config(
    host: str,
    node: Mapping[str, Any],
    groups: Mapping[str, Any],
    sync_groups: Mapping[str, Any],
    segments: Mapping[str, Any],
    planned: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """One member's routerhad configuration (plain data, the file's shape)."""
    out_groups: dict[str, Any] = {}
    for name, spec in groups.items():
        group = {k: copy.deepcopy(v) for k, v in spec.items() if k != "segment"}
        group.update(copy.deepcopy(dict(node["group_settings"].get(name) or {})))
        group["interface"] = _interface(
            _segment_of(spec) or "", segments, node, spec.get("interface")
        )
        group.update(planned.get(name, {}))
        if "address" in group:
            group["address"] = _placed(group["address"], segments, node)
        if "excluded_address" in group:
            group["excluded_address"] = _placed(group["excluded_address"], segments, node)
        out_groups[name] = group
    config: dict[str, Any] = {"vrrp": {"groups": out_groups}}
    if sync_groups:
        config["vrrp"]["sync_groups"] = copy.deepcopy(dict(sync_groups))
    return config
