# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ``routerha.cluster.priority_plan`` filter: the module's computation in a template."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.priority_plan import (
    plan_for_inventory,
)


def priority_plan(
    members,
    groups,
    strategy="symmetric",
    preference=None,
    base=200,
    step=50,
    preempt=True,
    preempt_delay=0,
):
    """Plan priorities; the same result as the routerha.cluster.priority_plan module.

    The model checks every argument and names what is wrong (ConfigError).
    """
    try:
        return plan_for_inventory(
            members,
            groups,
            strategy=strategy,
            preference=list(preference or ()),
            base=base,
            step=step,
            preempt=bool(preempt),
            preempt_delay=preempt_delay,
        )
    except ConfigError as exc:
        raise AnsibleFilterError(f"priority_plan: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"priority_plan": priority_plan}
