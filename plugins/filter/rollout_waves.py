# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.rollout_waves`` and ``rollout_summary`` filters
(plugins.plugin_utils.rollout_waves.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.plugin_utils.rollout_waves import (
    rollout_summary as summarize,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.rollout_waves import (
    rollout_waves as order,
)


def rollout_waves(members, masters, together=False):
    if not isinstance(members, list) or not isinstance(masters, dict):
        raise AnsibleFilterError("rollout_waves: expects a list of members and group -> master")
    return order([str(m) for m in members], masters, bool(together))


def rollout_summary(hostvars, hosts):
    """The rollout's outcome per cluster, from the facts it left on ``hosts``."""
    routers = {}
    for host in hosts:
        facts = hostvars[host]
        plan = facts.get("cluster_plan_data") or {}
        routers[host] = {
            "cluster": facts.get("routerha_cluster"),
            "wave": facts.get("routerha_wave"),
            "done": facts.get("routerha_rollout_done"),
            "error": facts.get("routerha_rollout_error"),
            # Only the plan's masters: the rest of the plan holds the members' secrets.
            "masters": dict((plan.get("plan") or {}).get("masters") or {}),
        }
    return summarize(routers)


class FilterModule:
    def filters(self):
        return {"rollout_waves": rollout_waves, "rollout_summary": rollout_summary}
