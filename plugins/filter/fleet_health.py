# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``routerha.cluster.fleet_health``, ``fleet_table``, ``unsettled`` and
``drill_report`` filters
(plugins.plugin_utils.cluster_status.py)."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.plugin_utils.cluster_status import (
    drill_choice,
    drill_lines,
    statuses_of,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.cluster_status import (
    drill_report as report,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.cluster_status import (
    fleet_health as judge,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.cluster_status import (
    fleet_table as tabulate,
)
from ansible_collections.routerha.cluster.plugins.plugin_utils.cluster_status import (
    unsettled as moving,
)


def fleet_health(statuses, clusters=None, planned=None):
    """``statuses``: host -> status, or the registered results of a loop over the hosts."""
    if isinstance(statuses, list):
        statuses = statuses_of(statuses)
    if not isinstance(statuses, dict):
        raise AnsibleFilterError("fleet_health: expects host -> routerhactl status --json")
    try:
        return judge(statuses, clusters or {}, planned)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"fleet_health: a status is not routerhactl's: {exc!r}") from exc


def fleet_table(health):
    if not isinstance(health, dict) or "groups" not in health:
        raise AnsibleFilterError("fleet_table: expects the result of fleet_health")
    return tabulate(health)


def unsettled(status):
    """One router's groups that are still moving (its status as text or parsed)."""
    if isinstance(status, str):
        try:
            status = json.loads(status)
        except ValueError:
            return ["(no status)"]
    return moving(status)


def drill_report(before, takeover, restored, hostvars, hosts):
    """The failover drill's result, one entry per group, with a ``line`` each."""
    registered = {}
    for host in hosts:
        variables = hostvars[host]
        registered[host] = {
            name: variables.get(name)
            for name in ("drill_stopped", "drill_started", "drill_ct_before", "drill_ct_after")
        }
    entries = report(before, takeover, restored, registered)
    for entry, line in zip(entries, drill_lines(entries)):
        entry["line"] = line
    return entries


class FilterModule:
    def filters(self):
        return {
            "fleet_health": fleet_health,
            "fleet_table": fleet_table,
            "unsettled": unsettled,
            "drill_report": drill_report,
            "drill_choice": drill_choice,
        }
