# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.drill_batches`` and ``drill_stats`` filters
(plugins.plugin_utils.drill_plan.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.plugin_utils.drill_plan import (
    SelectionError,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.drill_plan import (
    drill_batches as plan,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.drill_plan import (
    drill_stats as stats,
)


def drill_batches(hosts, hostvars, clusters=None, routers=None, groups=None, batch=1):
    """``hosts``: the play's routers; their ``routerha_cluster`` and
    ``routerha_groups`` are read from ``hostvars``."""
    hosts = [str(h) for h in hosts]
    try:
        cluster_of = {h: str(hostvars[h]["routerha_cluster"]) for h in hosts}
        groups_of = {h: [str(g) for g in hostvars[h].get("routerha_groups") or {}] for h in hosts}
    except KeyError as exc:
        raise AnsibleFilterError(f"drill_batches: a router has no {exc}") from exc
    try:
        return plan(hosts, cluster_of, groups_of, clusters, routers, groups, batch)
    except SelectionError as exc:
        raise AnsibleFilterError(f"failover drill: {exc}; nothing was changed") from None


def drill_stats(report):
    if not isinstance(report, list):
        raise AnsibleFilterError("drill_stats: expects the entries of drill_report")
    return stats(report)


class FilterModule:
    def filters(self):
        return {"drill_batches": drill_batches, "drill_stats": drill_stats}
