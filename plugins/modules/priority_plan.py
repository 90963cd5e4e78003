#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: priority_plan
short_description: Compute VRRP priorities for symmetric routing or load sharing
version_added: 0.1.0
description:
  - Computes, from a cluster's members and its VRRP groups, which member is the preferred master
    of each group and the priorities that make it so, per host and per group.
  - With O(strategy=symmetric) one member is the preferred master of every group of a sync group on
    every segment, LAN and WAN alike, so forward and return traffic take the same router.
  - With O(strategy=load_share) the groups on a segment take turns, so two groups with swapped
    priorities (120/70 and 70/120) let the hosts of the segment be split between two gateways.
    The groups of one sync group stay together and take one turn.
  - The planned master of a group gets O(base), the next member O(base) minus O(step), and so on,
    so no two members of a group share a priority and no election falls back to the highest address.
    A member whose own address on the segment is a virtual address of the group is its address owner
    and gets 255 (RFC 5798 section 5.2.4).
  - VRIDs not given are assigned, the lowest free one per segment and address family.
  - The same input always gives the same plan; the module changes nothing and can run anywhere,
    usually once on the controller. The same computation is available as the
    P(routerha.cluster.priority_plan#filter) filter.
requirements:
  - Python 3.9 or later where it runs (usually the controller); nothing on the routers
author:
  - routerha developers (@routerha)
extends_documentation_fragment:
  - routerha.cluster.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  members:
    description:
      - The routers of the cluster with their own addresses on each segment.
      - A list of dicts with C(name) and C(addresses) (segment name to a list of addresses with prefix), or a dict keyed by
        member name whose values are the addresses mappings.
    type: raw
    required: true
  groups:
    description:
      - The VRRP groups of the cluster.
      - A list of dicts, each with C(name), C(segment) (the link, named the same for every member),
        C(address) (list of virtual addresses with prefix), and optionally C(vrid) and C(sync_group);
        or a dict keyed by group name, as the data model keys C(vrrp.groups).
    type: raw
    required: true
  strategy:
    description:
      - How masters are chosen.
    type: str
    choices: [symmetric, load_share]
    default: symmetric
  preference:
    description:
      - Members in order of preference as master. Members not listed follow in name order.
      - With O(strategy=symmetric) the first member is master of everything it does not explicitly lose
        to an address owner.
    type: list
    elements: str
    default: []
  base:
    description:
      - Priority of a group's planned master. Must leave room for every member above 0.
    type: int
    default: 200
  step:
    description:
      - Distance between the priorities of consecutive members of a group.
      - Leave more than any tracking weight, so a master that loses a tracked interface falls
        below the next member but no further.
    type: int
    default: 50
  preempt:
    description:
      - Whether a higher-priority member takes mastership back when it returns.
    type: bool
    default: true
  preempt_delay:
    description:
      - Seconds a returning member waits before it preempts (VyOS C(preempt-delay)), 0 to 1000.
      - The same value is planned for every group, so the groups of a sync group never disagree.
    type: int
    default: 0
seealso:
  - module: routerha.cluster.pair_check
  - plugin: routerha.cluster.priority_plan
    plugin_type: filter
notes:
  - The plan is the input for the routerha.cluster roles and for native renderers; feed O(members) and
    O(groups) from the cluster's group_vars and host_vars.
"""

EXAMPLES = r"""
- name: Plan load sharing on the LAN (two groups with swapped priorities)
  routerha.cluster.priority_plan:
    strategy: load_share
    preference: [RT-1, RT-2]
    base: 120
    step: 50
    members:
      - name: RT-1
        addresses: {lan: [10.1.1.1/24]}
      - name: RT-2
        addresses: {lan: [10.1.1.2/24]}
    groups:
      - {name: G1, segment: lan, vrid: 1, address: [10.1.1.5/24]}
      - {name: G2, segment: lan, vrid: 2, address: [10.1.1.6/24]}
  delegate_to: localhost
  run_once: true
  register: plan

- name: Symmetric routing through one router, LAN and WAN in one sync group
  routerha.cluster.priority_plan:
    members: "{{ dict(groups['site1'] | zip(groups['site1'] | map('extract', hostvars, 'routerha_addresses'))) }}"
    groups:
      LAN: {segment: lan, address: [10.1.1.5/24], sync_group: CG-1}
      WAN: {segment: wan, address: [198.51.100.12/24], sync_group: CG-1}
    preference: "{{ groups['site1'] }}"
  delegate_to: localhost
  run_once: true
  register: plan

- name: Use a host's share of the plan
  ansible.builtin.debug:
    msg: "{{ plan.hosts[inventory_hostname] }}"
"""

RETURN = r"""
hosts:
  description: Per member, per group, what goes in that member's configuration.
  returned: success
  type: dict
  sample:
    RT-1:
      G1: {vrid: 1, priority: 120, preempt: true, preempt_delay: 0}
      G2: {vrid: 2, priority: 70, preempt: true, preempt_delay: 0}
    RT-2:
      G1: {vrid: 1, priority: 70, preempt: true, preempt_delay: 0}
      G2: {vrid: 2, priority: 120, preempt: true, preempt_delay: 0}
masters:
  description: The planned master of each group (the address owner where there is one).
  returned: success
  type: dict
  sample: {G1: RT-1, G2: RT-2}
vrids:
  description: The VRID of each group, given or assigned.
  returned: success
  type: dict
  sample: {G1: 1, G2: 2}
owners:
  description: Groups whose virtual address is a member's own address, with that member.
  returned: success
  type: dict
  sample: {}
notes:
  description: Things the plan had to decide against the preference (an address owner that is not the preferred master).
  returned: success
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.routerha.cluster.plugins.module_utils.model.errors import ConfigError
from ansible_collections.routerha.cluster.plugins.module_utils.priority_plan import (
    plan_for_inventory,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "members": {"type": "raw", "required": True},
            "groups": {"type": "raw", "required": True},
            "strategy": {
                "type": "str",
                "choices": ["symmetric", "load_share"],
                "default": "symmetric",
            },
            "preference": {"type": "list", "elements": "str", "default": []},
            "base": {"type": "int", "default": 200},
            "step": {"type": "int", "default": 50},
            "preempt": {"type": "bool", "default": True},
            "preempt_delay": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    try:
        result = plan_for_inventory(**module.params)
    except ConfigError as exc:
        module.fail_json(
            msg=f"cannot plan: {exc}", problems=[{"path": p, "problem": w} for p, w in exc.problems]
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
