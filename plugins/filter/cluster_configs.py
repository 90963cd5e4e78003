# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.cluster_configs`` filter: a cluster's inventory turned into
every member's routerhad configuration (src/routerha/model/cluster.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.routerha.cluster.plugins.module_utils.model.cluster import (
    MEMBER_KEYS,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.cluster import (
    cluster_configs as build,
)
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError


def _variable(path):
    """``groups.LAN.vrid`` -> ``routerha_groups.LAN.vrid``;
    ``members.r1.addresses.lan`` -> ``r1: routerha_addresses.lan``."""
    host, sep, rest = path.partition(": ")
    if sep:
        return f"{host}: {rest}"
    parts = path.split(".")
    if parts[0] == "members" and len(parts) >= 3:
        return f"{parts[1]}: routerha_{'.'.join(parts[2:])}"
    return f"routerha_{path}"


#: The cluster's scalar settings. Before ansible-core 2.19 a templated value such as
#: ``"{{ routerha_priority_base | default(200) }}"`` reaches a filter as the string
#: "200"; the data model wants the number, so they are typed here, at the boundary.
_WHOLE_NUMBERS = ("priority_base", "priority_step", "preempt_delay")
_FLAGS = ("preempt",)


def _whole_number(value, variable):
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnsibleFilterError(
            f"cluster_configs: {variable}: must be a whole number, not {value!r}"
        )
    return value


def _typed(settings, nodes):
    """``settings`` and the members' preferences with numbers and flags typed."""
    typed = dict(settings)
    for key in _WHOLE_NUMBERS:
        if typed.get(key) is not None:
            typed[key] = _whole_number(typed[key], f"routerha_{key}")
    for key in _FLAGS:
        if typed.get(key) is not None:
            try:
                typed[key] = boolean(typed[key], strict=True)
            except TypeError:
                raise AnsibleFilterError(
                    f"cluster_configs: routerha_{key}: must be true or false, not {typed[key]!r}"
                ) from None
    for host, node in nodes.items():
        if "preference" in node:
            node["preference"] = _whole_number(node["preference"], f"{host}: routerha_preference")
    return typed


def cluster_configs(settings, hostvars, members):
    """Plan the cluster and write each member's configuration.

    ``settings``: the cluster's variables without their prefix (segments, groups,
    sync_groups, conntrack_sync, strategy, priority_base, priority_step, preempt,
    preempt_delay). ``members``: the cluster's host names; each one's
    ``routerha_addresses``, ``routerha_interfaces``, ``routerha_preference`` and
    ``routerha_group_settings`` are read from ``hostvars``.
    """
    if not isinstance(members, (list, tuple)) or not members:
        raise AnsibleFilterError("cluster_configs: members must be the cluster's host names")
    nodes = {}
    for host in members:
        try:
            variables = hostvars[host]
        except KeyError:
            raise AnsibleFilterError(f"cluster_configs: {host} is not in the inventory") from None
        nodes[host] = {key: variables.get(f"routerha_{key}") for key in MEMBER_KEYS}
        if nodes[host]["preference"] is None:
            del nodes[host]["preference"]
    settings = _typed(settings, nodes)
    try:
        result = build(settings, nodes)
    except ConfigError as exc:
        problems = "; ".join(f"{_variable(path)}: {why}" for path, why in exc.problems)
        raise AnsibleFilterError(f"cluster_configs: {problems}") from exc
    # What routerha.cluster.pair_check reads, member by member.
    result["pair_check_members"] = [
        {
            "name": host,
            "config": result["configs"][host],
            "interface_addresses": result["interface_addresses"][host],
        }
        for host in members
    ]
    return result


class FilterModule:
    def filters(self):
        return {"cluster_configs": cluster_configs}
