#!/usr/bin/python
# Copyright: routerha developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pair_check
short_description: Check that the routers of a VRRP setup agree with each other
version_added: 0.1.0
description:
  - Reads the VRRP configuration of every router of a cluster (a I(member)) into the routerha data model and
    compares every group across its members. A configuration each router accepts on its own can still fail as a
    whole - two passwords, two advertisement intervals or two equal priorities elect two masters or make the
    election depend on the routers' addresses - and nothing on either router says so.
  - A member is given as the routerha data model (O(members[].config), as in the routerhad configuration file) or as
    its native configuration (O(members[].native)) - VyOS 1.4+ C(set high-availability vrrp ...) lines, VyOS
    1.1-1.3 and EdgeOS C(set interfaces ethernet ethX vrrp vrrp-group N ...) lines, the curly-brace C(config.boot),
    or a keepalived.conf. Members may run different platforms.
  - Groups are matched across members as VRRP sees them, by interface, address family and VRID; a group left over is
    matched by its virtual addresses, so a VRID or an interface name that differs is reported as such. Group names are
    local to each member (VyOS 1.1 C(eth0-10), keepalived C(VI_1)) and need not agree.
  - Each finding has a code, a severity, the group, the key path in the data model, the members concerned, what is
    wrong and what to do. Errors break the election or the traffic and fail the task; warnings are risky or unfinished
    but work, and fail it only with O(fail_on_warnings=true).
  - Also reported, as findings of the member concerned, is what a router itself would refuse - a password over 8
    octets, authentication with VRRPv3, IPv4 and IPv6 in one group, a VRID used twice on one link.
  - A configuration that cannot be read fails the task naming the member and the line.
  - Passwords never appear in the result. Where two must be told apart a fingerprint is shown, an HMAC-SHA256 keyed
    afresh on every run, so fingerprints compare within one result only. Every password found in the members'
    configurations is masked in the module's arguments as returned (C(invocation), shown with C(-vvv)).
  - The module changes nothing and can run anywhere, usually once on the controller.
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
      - The routers whose configurations are compared, each with exactly one of O(members[].config) and
        O(members[].native).
      - Findings name the members in this order, and each group as the first member that has it names it.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The member's name in findings and messages, usually its inventory hostname. Unique.
        type: str
        required: true
      config:
        description:
          - The member's configuration as the routerha data model, a dict as in the routerhad configuration file (see
            the collection's C(docs/configuration.md)), or its JSON text.
          - Mutually exclusive with O(members[].native).
        type: raw
      native:
        description:
          - The member's native configuration as text - VyOS or EdgeOS C(set) lines (C(show configuration commands)),
            a C(config.boot), or a keepalived.conf. The routerhad configuration file's JSON text is read too.
          - Only the VRRP part (and VyOS's interface addresses) is read; the rest may stay in.
          - Mutually exclusive with O(members[].config).
        type: str
      kind:
        description:
          - What O(members[].native) or O(members[].config) is. V(auto) tells them apart by the first meaningful
            line; the result's RV(members) says what was detected.
          - V(routerha) is the data model; V(vyos-set) set lines of any VyOS or EdgeOS version; V(config-boot) the
            curly-brace C(config.boot); V(keepalived) a keepalived.conf.
          - With O(members[].config) only V(auto) and V(routerha) are valid.
        type: str
        choices: [auto, routerha, vyos-set, config-boot, keepalived]
        default: auto
      config_id:
        description:
          - The router id that keepalived's conditional lines (C(@ID ...), C(@^ID ...)) in O(members[].native)
            are evaluated for, as C(keepalived -i ID) does.
          - Defaults to O(members[].name) up to its first dot, as keepalived defaults to the first part of the host
            name.
        type: str
      interface_addresses:
        description:
          - The member's own addresses per interface, interface name to a list of addresses with prefix.
          - They show who owns a virtual address, which must go with priority 255 and only with it. VyOS
            configurations give them (these add to them, and replace them for an interface named here);
            keepalived.conf and the data model do not, and without them ownership is not checked.
        type: dict
  fail_on_warnings:
    description:
      - Fail the task on warnings too, not only on errors.
    type: bool
    default: false
  ignore:
    description:
      - Finding codes to leave out of the result (and of the decision to fail), for instance V(group-single) for
        groups meant to run on one router only. The result's RV(ignored_count) says how many were left out.
      - The codes are listed in the collection's C(docs/modules/pair_check.md), each with its severity and what to do.
    type: list
    elements: str
    default: []
    choices:
      - address-mismatch
      - advertise-interval-mismatch
      - auth-type-mismatch
      - auth-with-v3
      - group-disabled
      - group-missing
      - group-single
      - mixed-families
      - owner-address-not-virtual
      - owner-duplicate
      - owner-priority
      - password-mismatch
      - password-rollover
      - password-too-long
      - preempt-delay-without-preempt
      - priority-equal
      - rfc3768-mismatch
      - semantic-problem
      - sync-auth-missing
      - sync-group-mismatch
      - sync-key-mismatch
      - sync-key-rollover
      - sync-key-too-short
      - sync-master-conflict
      - sync-preempt-delay-differs
      - sync-preempt-differs
      - sync-priority-differs
      - sync-unauthenticated
      - version-mismatch
      - vrid-mismatch
      - vrid-reused
seealso:
  - module: routerha.cluster.priority_plan
notes:
  - Ansible masks a masked password wherever it occurs in the result; a password that is also a common word or a
    number (C(eth0), C(1)) masks those occurrences too.
  - For a member that cannot be read the passwords are not known; its whole O(members[].config) or
    O(members[].native) text and every value after a password keyword are masked instead.
  - The checks compare configurations, not running routers; feed O(members[].native) from the routers
    (C(vyos.vyos.vyos_command) with C(show configuration commands), C(ansible.builtin.slurp) of keepalived.conf)
    or from the files the routers are configured from.
"""

EXAMPLES = r"""
- name: Check two VyOS 1.3 routers, their config.boot files read on the controller
  routerha.cluster.pair_check:
    members:
      - name: R1
        native: "{{ lookup('ansible.builtin.file', 'configs/r1.config.boot') }}"
      - name: R2
        native: "{{ lookup('ansible.builtin.file', 'configs/r2.config.boot') }}"
  delegate_to: localhost
  run_once: true

- name: Fetch each router's set commands
  vyos.vyos.vyos_command:
    commands: show configuration commands
  register: shown

- name: Check the two routers against each other
  routerha.cluster.pair_check:
    members:
      - name: rt1
        native: "{{ hostvars['rt1'].shown.stdout[0] }}"
      - name: rt2
        native: "{{ hostvars['rt2'].shown.stdout[0] }}"
  delegate_to: localhost
  run_once: true

- name: A routerhad member (the data model) against a keepalived one
  routerha.cluster.pair_check:
    members:
      - name: rt-a
        config: "{{ routerha_config }}"
        interface_addresses:
          eth0: [10.0.0.2/24]
      - name: rt-b
        native: "{{ lookup('ansible.builtin.file', 'rt-b/keepalived.conf') }}"
        kind: keepalived
  delegate_to: localhost
  run_once: true

- name: During a password rollover, report it but do not fail; leave single-router groups out
  routerha.cluster.pair_check:
    members: "{{ pair_members }}"
    ignore: [group-single]
  register: pair
  delegate_to: localhost
  run_once: true

- name: Stricter in CI, warnings fail too
  routerha.cluster.pair_check:
    members: "{{ pair_members }}"
    fail_on_warnings: true
  delegate_to: localhost
  run_once: true

- name: Show what to do about each finding
  ansible.builtin.debug:
    msg: "{{ pair.findings | map(attribute='fix') }}"
"""

RETURN = r"""
findings:
  description:
    - What is wrong or risky, sorted by group, code and key path; empty when the members agree.
    - Findings whose code is in O(ignore) are left out.
  returned: when every member could be read
  type: list
  elements: dict
  contains:
    severity:
      description: C(error) (fails the task) or C(warning).
      type: str
      sample: error
    code:
      description: What kind of finding this is; one of the choices of O(ignore).
      type: str
      sample: priority-equal
    group:
      description:
        - The group as the first member that has it names it; null for a finding about one member's sync group.
      type: str
      sample: eth0-1
    path:
      description: The key path in the data model the finding is about.
      type: str
      sample: vrrp.groups.eth0-1.priority
    members:
      description: The members concerned.
      type: list
      elements: str
      sample: [R1, R2]
    message:
      description: What is wrong, with the values of each member (a password only as a fingerprint).
      type: str
      sample: >-
        eth0-1: R1 and R2 have the same priority 200: the election falls back to the highest primary IP address,
        not the configuration
    fix:
      description: What to do about it.
      type: str
      sample: give each member a different priority, the intended master the highest
  sample:
    - severity: error
      code: priority-equal
      group: eth0-1
      path: vrrp.groups.eth0-1.priority
      members: [R1, R2]
      message: >-
        eth0-1: R1 and R2 have the same priority 200: the election falls back to the highest primary IP address,
        not the configuration
      fix: give each member a different priority, the intended master the highest
error_count:
  description: The number of errors among RV(findings).
  returned: when every member could be read
  type: int
  sample: 1
warning_count:
  description: The number of warnings among RV(findings).
  returned: when every member could be read
  type: int
  sample: 0
ignored_count:
  description: The number of findings left out by O(ignore).
  returned: when every member could be read
  type: int
  sample: 0
groups:
  description:
    - Every group, keyed as the findings name it, with the group of each member it was matched with.
  returned: when every member could be read
  type: dict
  sample:
    eth0-1:
      members:
        R1: {name: eth0-1, interface: eth0, vrid: 1, priority: 200, disabled: false}
        R2: {name: eth0-1, interface: eth0, vrid: 1, priority: 200, disabled: false}
      missing: []
      address: [10.10.0.101]
      preferred_master: null
      status: error
    eth2-2:
      members:
        R1: {name: eth2-2, interface: eth2, vrid: 2, priority: 200, disabled: false}
        R2: {name: eth2-2, interface: eth2, vrid: 2, priority: 100, disabled: false}
      missing: []
      address: [192.168.100.1]
      preferred_master: R1
      status: ok
  contains:
    members:
      description: Per member that has the group, its name there, interface, VRID, priority and whether it is disabled.
      type: dict
    missing:
      description: The members without the group.
      type: list
      elements: str
    address:
      description: The virtual addresses of the group, on any member.
      type: list
      elements: str
    preferred_master:
      description:
        - The member with the highest priority (disabled groups left out), the one the election makes master;
          null where several share it and their addresses decide.
      type: str
    status:
      description: The most severe of the group's findings, C(error) or C(warning); C(ok) without any.
      type: str
members:
  description: Per member, how its configuration was read.
  returned: when every member could be read
  type: dict
  sample:
    R1: {kind: config-boot, groups: [eth0-1, eth2-2], notes: []}
  contains:
    kind:
      description: The kind read, as detected with O(members[].kind=auto).
      type: str
    groups:
      description: The member's group names.
      type: list
      elements: str
    notes:
      description: Parts of a keepalived.conf the data model has no place for, and so were not compared, each with its line.
      type: list
      elements: str
problems:
  description: Why members could not be read, each with the member and the line where one is known.
  returned: when a member could not be read
  type: list
  elements: dict
  sample:
    - member: R2
      line: 35
      problem: "vrrp.groups.eth0-1.priority: 300 is outside 1..255 (line: 'priority 300')"
msg:
  description:
    - A first line with the counts, then one line per finding - severity, group, key path, members and message.
    - When a member could not be read, a first line with how many, then one line per problem, each naming the
      member and the line.
  returned: always
  type: str
  sample: |-
    1 error, 0 warnings in 2 groups on R1, R2
    error eth0-1 vrrp.groups.eth0-1.priority [R1, R2]: eth0-1: R1 and R2 have the same priority 200: ...
"""

from ansible_collections.routerha.cluster.plugins.module_utils.masking import MaskingModule
from ansible_collections.routerha.cluster.plugins.module_utils.pair_check import (
    CODES,
    check,
    conservative_secrets_of_options,
    load_members,
)


def main():
    module = MaskingModule(
        argument_spec={
            "members": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "config": {"type": "raw"},
                    "native": {"type": "str"},
                    "kind": {
                        "type": "str",
                        "choices": ["auto", "routerha", "vyos-set", "config-boot", "keepalived"],
                        "default": "auto",
                    },
                    "config_id": {"type": "str"},
                    "interface_addresses": {"type": "dict"},
                },
            },
            "fail_on_warnings": {"type": "bool", "default": False},
            "ignore": {"type": "list", "elements": "str", "choices": sorted(CODES), "default": []},
        },
        supports_check_mode=True,
        conservative=lambda params: conservative_secrets_of_options(params.get("members")),
    )
    loaded = load_members(module.params["members"])
    module.mask(loaded.secrets)
    if loaded.problems:
        module.fail_json(msg=loaded.message(), problems=loaded.problems)
    failed, result = check(
        loaded.members,
        ignore=module.params["ignore"],
        fail_on_warnings=module.params["fail_on_warnings"],
    )
    if failed:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
